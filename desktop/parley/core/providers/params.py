"""Parameter values: validation with messages a person understands, and carrying them across.

Tri-state: a parameter absent from the values dict is unset and never sent. A value of None is
treated the same way (unset), so a form can clear a field without deleting the key first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from parley.core.protocol.limits import MAX_PATTERN_TEXT, LimitError, loads_json
from parley.core.providers.catalog import ParamGroup, ParamSpec, ParamType, ProviderSpec

_SHOWN_CHARS = 40


def _shown(value: Any) -> str:
    """How a value the user entered is echoed back in a message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range_error(p: ParamSpec, value: float) -> str | None:
    name = p.display_name
    low, high = p.min, p.max
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"between {_fmt(low)} and {_fmt(high)}"
        elif low is not None:
            bounds = f"at least {_fmt(low)}"
        else:
            assert high is not None
            bounds = f"at most {_fmt(high)}"
        return f"{name} must be {bounds} (you entered {_shown(value)})"
    return None


def _pattern_error(p: ParamSpec, text: str, what: str) -> str | None:
    if p.pattern is None:
        return None
    if len(text) > MAX_PATTERN_TEXT:  # bounds the time the pattern can take
        return f"{what} is too long ({len(text):,} characters; at most {MAX_PATTERN_TEXT})"
    if re.search(p.pattern, text):
        return None
    like = p.pattern_help or f"text matching {p.pattern}"
    return f"{what} must be {like} (you entered {_shown(text)})"


def _json_error(p: ParamSpec, value: Any) -> str | None:
    name = p.display_name
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return f"{name} must be plain JSON (text, numbers, true/false, lists and objects)"
    example = f", like {p.example}" if p.example else ""
    if p.json_shape == "object" and not isinstance(value, dict):
        return f"{name} must be a JSON object{example} (you entered {_shown(value)})"
    if p.json_shape == "array" and not isinstance(value, list):
        return f"{name} must be a JSON list{example} (you entered {_shown(value)})"
    if p.json_shape == "string_map":
        if not isinstance(value, dict):
            shown = _shown(value)
            return f"{name} must be a JSON object of text values{example} (you entered {shown})"
        bad = [k for k, v in value.items() if not isinstance(v, str)]
        if bad:
            return f"{name} takes only text values; {bad[0]!r} is {_shown(value[bad[0]])}"
    return None


def _string_list_error(p: ParamSpec, value: Any) -> str | None:
    name = p.display_name
    if isinstance(value, str):
        if not p.allow_single:
            return f"{name} must be a list of text {p.item_noun} (you entered {_shown(value)})"
        items: list[Any] = [value]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return f"{name} must be a list of text {p.item_noun} (you entered {_shown(value)})"
    if p.max_items is not None and len(items) > p.max_items:
        return f"{name} takes at most {p.max_items} {p.item_noun} (you entered {len(items)})"
    for item in items:
        if not isinstance(item, str):
            return f"each of the {name} {p.item_noun} must be text (you entered {_shown(item)})"
        if p.item_choices and item not in p.item_choices:
            return (
                f"{name} may contain only {', '.join(p.item_choices)} (you entered {_shown(item)})"
            )
        err = _pattern_error(p, item, f"each of the {name} {p.item_noun}")
        if err:
            return err
    return None


def validate_value(p: ParamSpec, value: Any) -> str | None:
    """The problem with `value` for parameter `p`, in words a person understands; None if fine."""
    if value is None:
        return None
    name = p.display_name
    match p.type:
        case ParamType.NUMBER:
            if not _is_number(value):
                return f"{name} must be a number (you entered {_shown(value)})"
            if not math.isfinite(value):
                return f"{name} must be a finite number (you entered {value})"
            return _range_error(p, value)
        case ParamType.INTEGER:
            if not _is_number(value):
                return f"{name} must be a whole number (you entered {_shown(value)})"
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                return f"{name} must be a whole number (you entered {_shown(value)})"
            return _range_error(p, value)
        case ParamType.BOOLEAN:
            if not isinstance(value, bool):
                return f"{name} must be true or false (you entered {_shown(value)})"
            return None
        case ParamType.STRING:
            if not isinstance(value, str):
                return f"{name} must be text (you entered {_shown(value)})"
            return _pattern_error(p, value, name)
        case ParamType.ENUM:
            choices = p.choices or []
            if not isinstance(value, str) or value not in choices:
                return f"{name} must be one of: {', '.join(choices)} (you entered {_shown(value)})"
            return None
        case ParamType.STRING_LIST:
            return _string_list_error(p, value)
        case ParamType.JSON:
            return _json_error(p, value)
    return None  # pragma: no cover - every ParamType is handled above


def normalize_value(p: ParamSpec, value: Any) -> Any:
    """The value as it goes on the wire: whole-number floats become ints for integer params."""
    if p.type is ParamType.INTEGER and isinstance(value, float):
        return int(value)
    if p.type is ParamType.STRING_LIST and isinstance(value, tuple):
        return list(value)
    return value


def resolve_name(spec: ProviderSpec, name: str) -> str | None:
    """The parameter a person most likely means by `name`: its name, label or wire path."""
    if spec.param(name) is not None:
        return name
    for p in spec.params:
        if name in (p.label, p.wire_path):
            return p.name
    return None


def validate_params(spec: ProviderSpec, values: Mapping[str, Any]) -> dict[str, str]:
    """Every problem in `values` (parameter name -> message), unknown names included."""
    errors: dict[str, str] = {}
    for name, value in values.items():
        p = spec.param(name)
        if p is None:
            meant = resolve_name(spec, name)
            if meant is not None:
                errors[name] = (
                    f"{name} is not a parameter name of {spec.name}; it is called {meant} here"
                )
            else:
                errors[name] = f"{name} is not a parameter of {spec.name}; put it in Advanced JSON"
            continue
        err = validate_value(p, value)
        if err:
            errors[name] = err
    return errors


def parse_cli_value(raw: str) -> Any:
    """A value typed on the command line: JSON where it parses (0.7, true, ["a"]), else the text.

    Raises LimitError for JSON nested too deep or a number with thousands of digits: taking
    those as text would only hide the mistake.
    """
    try:
        return loads_json(raw, "The value")
    except LimitError:
        raise
    except ValueError:
        return raw


def carry_over(
    old_spec: ProviderSpec, new_spec: ProviderSpec, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The values that still apply after switching from `old_spec` to `new_spec`.

    A value is kept when the new provider has a parameter of that name and type, and the value
    is valid there (e.g. reasoning_effort "xhigh" is dropped when moving from EigenAI to EUrouter).
    """
    kept: dict[str, Any] = {}
    for name, value in values.items():
        new = new_spec.param(name)
        old = old_spec.param(name)
        if new is None or value is None:
            continue
        if old is not None and old.type is not new.type:
            continue
        if validate_value(new, value) is None:
            kept[name] = value
    return kept


# Request-level settings (routing, privacy, stream options) do not depend on the model, so a
# model's supported_parameters list never mentions them.
_MODEL_INDEPENDENT_GROUPS = frozenset({ParamGroup.ROUTING, ParamGroup.PRIVACY})
_MODEL_INDEPENDENT_ROOTS = frozenset({"stream_options"})


def unsupported_params(spec: ProviderSpec, supported_parameters: list[str] | None) -> set[str]:
    """Names of `spec`'s parameters that a model's `supported_parameters` list leaves out.

    None (the provider gives no list) means nothing can be flagged. A parameter counts as
    supported when its name, its wire path or the top-level key of its wire path is listed.
    """
    if supported_parameters is None:
        return set()
    listed = set(supported_parameters)
    flagged: set[str] = set()
    for p in spec.params:
        root = p.wire_path.split(".", 1)[0]
        if p.group in _MODEL_INDEPENDENT_GROUPS or root in _MODEL_INDEPENDENT_ROOTS:
            continue
        if not listed & {p.name, p.wire_path, root}:
            flagged.add(p.name)
    return flagged

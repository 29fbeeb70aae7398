"""The experiment file: one TOML format for the window's Lab and `parley sweep`.

    name = "temperature x seed"
    prompt = "Write one sentence about a fox."     # or prompts = ["...", "..."]
    system = "You are terse."
    repeat = 2
    concurrency = 8                                # overall; per provider: [limits] euri = 2
    max_requests = 200
    max_cost = 0.50

    [[variants]]
    label = "cold"
    provider = "openai-compatible"
    base_url = "http://127.0.0.1:8000/v1"
    model = "m"
    params = { temperature = 0.2, stop = ["\n\n"] }

    [grid]
    temperature = [0.0, 0.5, 1.0]
    top_p = { from = 0.5, to = 1.0, step = 0.25 }

    [[checks]]
    type = "contains"
    value = "fox"

Everything is validated before anything is sent: every parameter (a variant's own and each grid
value) against the variant's provider file, with the parameter panel's messages; an unknown
key, a bad range, an unknown check type, a regex or JSON Schema that does not compile. Each
problem names the file, the line where it can be found, and the key.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.providers.catalog import Catalog, ProviderSpec
from parley.core.providers.params import validate_params

CHECK_TYPES = (
    "contains",
    "not-contains",
    "regex",
    "is-json",
    "json-schema",
    "max-latency-ms",
    "max-cost",
    "finish-reason",
)
# Grid keys that are not provider parameters.
MODEL_AXIS = "model"

# The file's keys, in the order a written file puts them: plain values first, then tables.
SCALAR_KEYS = (
    "name",
    "description",
    "prompt",
    "prompts",
    "system",
    "repeat",
    "concurrency",
    "max_requests",
    "max_cost",
)
TABLE_KEYS = ("limits", "variants", "grid", "checks")
_TOP_KEYS = frozenset(SCALAR_KEYS + TABLE_KEYS)
_VARIANT_KEYS = frozenset(
    {"label", "provider", "base_url", "model", "params", "advanced", "stream"}
)
_CHECK_KEYS = frozenset({"type", "value", "label", "ignore_case", "schema"})
_RANGE_KEYS = frozenset({"from", "to", "step"})
MAX_GRID_VALUES = 10_000


@dataclass(frozen=True)
class Problem:
    key: str  # dotted, e.g. "variants[2].params.temperature"
    message: str
    line: int | None = None

    def describe(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.key}: {self.message}"


class ExperimentError(ParleyError):
    """The file cannot be run as it is; `problems` says where and why. Nothing was sent."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [p.describe(source) for p in self.problems]
        head = (
            lines[0]
            if len(lines) == 1
            else f"{source} has {len(lines)} problems:\n  " + "\n  ".join(lines)
        )
        super().__init__(ErrorKind.CONFIG, head + "\nNothing was sent.")


@dataclass(frozen=True)
class Variant:
    """One column of a compare, one axis value of a sweep: a provider, model and parameters."""

    index: int  # 0-based, in file order
    label: str
    provider: str
    model: str
    base_url: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    advanced: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "provider": self.provider,
            "model": self.model,
            "base_url": self.base_url,
            "params": dict(self.params),
            "advanced": dict(self.advanced),
            "stream": self.stream,
        }


@dataclass(frozen=True)
class GridAxis:
    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class CheckSpec:
    type: str
    value: Any = None
    label: str | None = None
    ignore_case: bool = False

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.value is None or self.type in ("json-schema",):
            return self.type
        shown = self.value if isinstance(self.value, str) else json.dumps(self.value)
        return f"{self.type} {shown}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "label": self.label,
            "ignore_case": self.ignore_case,
        }


@dataclass(frozen=True)
class Experiment:
    name: str
    prompts: tuple[str, ...]
    variants: tuple[Variant, ...]
    grid: tuple[GridAxis, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    system: str | None = None
    repeat: int = 1
    concurrency: int = 4
    limits: Mapping[str, int] = field(default_factory=dict)
    max_requests: int | None = None
    max_cost: float | None = None
    description: str = ""
    source: str = "<experiment>"
    text: str = ""  # the file as read, stored with the experiment so a resume runs the same

    @property
    def grid_names(self) -> tuple[str, ...]:
        return tuple(axis.name for axis in self.grid)


# ---------------------------------------------------------------- where keys are in the file

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


class _Lines:
    """Where a key path is written: tomllib gives no positions, so the text is scanned for
    table headers ([grid], [[variants]], [variants.params]) and `key =` lines."""

    def __init__(self, text: str) -> None:
        self._at: dict[tuple[str | int, ...], int] = {}
        counts: dict[str, int] = {}
        current: tuple[str | int, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                parts = [p.strip().strip("\"'") for p in header.group(2).split(".")]
                if header.group(1) == "[[":
                    name = ".".join(parts)
                    counts[name] = counts.get(name, 0) + 1
                    current = (*parts, counts[name] - 1)
                else:
                    base: tuple[str | int, ...] = (parts[0],)
                    if parts[0] in counts:
                        base = (parts[0], counts[parts[0]] - 1)
                    current = (*base, *parts[1:])
                self._at.setdefault(current, number)
                continue
            key = _KEY.match(line)
            if key:
                self._at.setdefault((*current, key.group(1).strip('"')), number)

    def find(self, path: Sequence[str | int]) -> int | None:
        path = tuple(path)
        while path:
            if path in self._at:
                return self._at[path]
            path = path[:-1]
        return None


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(file)"


# ---------------------------------------------------------------- reading


class _Reader:
    def __init__(self, text: str) -> None:
        self.lines = _Lines(text)
        self.problems: list[Problem] = []

    def problem(self, path: Sequence[str | int], message: str) -> None:
        self.problems.append(Problem(_dotted(path), message, self.lines.find(path)))

    def unknown_keys(
        self, table: Mapping[str, Any], allowed: frozenset[str], path: Sequence[str | int]
    ) -> None:
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.problem((*path, key), f"is not a key here (known: {known})")

    def string(self, table: Mapping[str, Any], key: str, path: Sequence[str | int]) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem((*path, key), f"must be text (it is {_shown(value)})")
            return None
        return value

    def integer(
        self, table: Mapping[str, Any], key: str, path: Sequence[str | int], low: int = 1
    ) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.problem(
                (*path, key), f"must be a whole number of at least {low} (it is {_shown(value)})"
            )
            return None
        return value

    def number(self, table: Mapping[str, Any], key: str, path: Sequence[str | int]) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            self.problem((*path, key), f"must be a number of at least 0 (it is {_shown(value)})")
            return None
        return float(value)

    def table(self, data: Mapping[str, Any], key: str, path: Sequence[str | int]) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(
                (*path, key),
                f"must be a table, like {key} = {{ name = 1 }} (it is {_shown(value)})",
            )
            return {}
        return value


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def load_experiment(
    path: str | Path,
    catalog: Catalog,
    base_urls: Mapping[str, str] | None = None,
) -> Experiment:
    """Read and validate the experiment file at `path`. Raises ExperimentError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError(source, [Problem("(file)", "there is no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(source, [Problem("(file)", f"cannot be read: {exc}")]) from None
    return parse_experiment(text, catalog, source=source, base_urls=base_urls)


def parse_experiment(
    text: str,
    catalog: Catalog,
    *,
    source: str = "<experiment>",
    base_urls: Mapping[str, str] | None = None,
) -> Experiment:
    """Validate an experiment file's text against the providers in `catalog`.

    `base_urls` are the saved base URLs per provider (the window's settings), used when a
    variant gives none. Raises ExperimentError listing every problem found.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise ExperimentError(
            source, [Problem("(file)", f"is not valid TOML: {exc}", line)]
        ) from None
    r = _Reader(text)
    r.unknown_keys(data, _TOP_KEYS, ())

    name = r.string(data, "name", ()) or Path(source).stem
    description = r.string(data, "description", ()) or ""
    system = r.string(data, "system", ())
    prompts = _prompts(r, data)
    repeat = r.integer(data, "repeat", ()) or 1
    concurrency = r.integer(data, "concurrency", ()) or 4
    max_requests = r.integer(data, "max_requests", (), low=0)
    max_cost = r.number(data, "max_cost", ())
    limits = _limits(r, data, catalog)
    grid = _grid(r, data)
    variants = _variants(r, data, catalog, base_urls or {})
    checks = _checks(r, data)
    if not r.problems:
        _validate_grid(r, variants, grid, catalog)
    if r.problems:
        raise ExperimentError(source, r.problems)
    return Experiment(
        name=name,
        description=description,
        prompts=prompts,
        system=system,
        variants=variants,
        grid=grid,
        checks=checks,
        repeat=repeat,
        concurrency=concurrency,
        limits=limits,
        max_requests=max_requests,
        max_cost=max_cost,
        source=source,
        text=text,
    )


def _prompts(r: _Reader, data: Mapping[str, Any]) -> tuple[str, ...]:
    if "prompt" in data and "prompts" in data:
        r.problem(("prompts",), "give either prompt or prompts, not both")
        return ()
    if "prompts" in data:
        value = data["prompts"]
        if not isinstance(value, list) or not value:
            r.problem(("prompts",), "must be a list of at least one prompt")
            return ()
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                r.problem(("prompts", i), f"must be non-empty text (it is {_shown(item)})")
        return tuple(str(v) for v in value)
    prompt = r.string(data, "prompt", ())
    if prompt is None:
        if "prompt" not in data:
            r.problem(("prompt",), 'is missing: add prompt = "..." (or prompts = [...])')
        return ()
    if not prompt.strip():
        r.problem(("prompt",), "is empty")
    return (prompt,)


def _limits(r: _Reader, data: Mapping[str, Any], catalog: Catalog) -> dict[str, int]:
    limits: dict[str, int] = {}
    for provider, value in r.table(data, "limits", ()).items():
        if catalog.get(provider) is None:
            r.problem(("limits", provider), f"there is no provider {provider!r}")
            continue
        n = r.integer({provider: value}, provider, ("limits",))
        if n is not None:
            limits[provider] = n
    return limits


def _grid(r: _Reader, data: Mapping[str, Any]) -> tuple[GridAxis, ...]:
    axes: list[GridAxis] = []
    for name, value in r.table(data, "grid", ()).items():
        path = ("grid", name)
        values: list[Any]
        if isinstance(value, list):
            values = list(value)
        elif isinstance(value, dict):
            values = _range(r, value, path)
        else:
            r.problem(
                path, "must be a list of values or a range like { from = 0, to = 1, step = 0.5 }"
            )
            continue
        if not values and not r.problems:
            r.problem(path, "has no values")
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) != len(values):
            r.problem(path, "lists a value twice")
        if values:
            axes.append(GridAxis(name, tuple(values)))
    return tuple(axes)


def _range(r: _Reader, spec: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
    extra = set(spec) - _RANGE_KEYS
    missing = _RANGE_KEYS - set(spec)
    if extra or missing:
        r.problem(path, "a range has exactly the keys from, to and step")
        return []
    numbers = [spec[k] for k in ("from", "to", "step")]
    if not all(
        isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in numbers
    ):
        r.problem(path, "from, to and step must be numbers")
        return []
    start, stop, step = numbers
    if step <= 0:
        r.problem((*path, "step"), f"must be greater than 0 (it is {_shown(step)})")
        return []
    if stop < start:
        r.problem((*path, "to"), f"must not be less than from ({_shown(stop)} < {_shown(start)})")
        return []
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_GRID_VALUES:
        r.problem(path, f"gives {count:,} values; at most {MAX_GRID_VALUES:,} per axis")
        return []
    whole = all(isinstance(n, int) for n in numbers)
    return [start + i * step if whole else round(start + i * step, 10) for i in range(count)]


def _variants(
    r: _Reader, data: Mapping[str, Any], catalog: Catalog, base_urls: Mapping[str, str]
) -> tuple[Variant, ...]:
    raw = data.get("variants")
    if raw is None:
        r.problem(("variants",), "is missing: add at least one [[variants]] table")
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(v, dict) for v in raw):
        r.problem(("variants",), "must be [[variants]] tables, at least one")
        return ()
    variants: list[Variant] = []
    labels: set[str] = set()
    for i, table in enumerate(raw):
        path: tuple[str | int, ...] = ("variants", i)
        r.unknown_keys(table, _VARIANT_KEYS, path)
        provider = r.string(table, "provider", path)
        if provider is None:
            if "provider" not in table:
                r.problem((*path, "provider"), "is missing")
            continue
        spec = catalog.get(provider)
        if spec is None:
            known = ", ".join(sorted(catalog.providers))
            r.problem((*path, "provider"), f"there is no provider {provider!r} (known: {known})")
            continue
        model = r.string(table, "model", path)
        if model is None and "model" not in table and not spec.models.optional_when:
            fallback = spec.models.fallback[0] if spec.models.fallback else None
            if fallback is None:
                r.problem((*path, "model"), "is missing")
            model = fallback
        base_url = r.string(table, "base_url", path) or base_urls.get(spec.id) or None
        params = r.table(table, "params", path)
        for name, message in validate_params(spec, params).items():
            r.problem((*path, "params", name), message)
        advanced = r.table(table, "advanced", path)
        stream = table.get("stream", True)
        if not isinstance(stream, bool):
            r.problem((*path, "stream"), "must be true or false")
            stream = True
        label = r.string(table, "label", path) or f"{provider}/{model or ''}"
        if label in labels:
            label = f"{label} #{i + 1}"
        labels.add(label)
        variants.append(
            Variant(
                index=i,
                label=label,
                provider=spec.id,
                model=model or "",
                base_url=base_url,
                params=params,
                advanced=advanced,
                stream=stream,
            )
        )
    return tuple(variants)


def _validate_grid(
    r: _Reader, variants: Sequence[Variant], grid: Sequence[GridAxis], catalog: Catalog
) -> None:
    for axis in grid:
        if axis.name == MODEL_AXIS:
            for i, value in enumerate(axis.values):
                if not isinstance(value, str) or not value.strip():
                    r.problem(
                        ("grid", MODEL_AXIS, i),
                        f"a model must be non-empty text (it is {_shown(value)})",
                    )
            continue
        for variant in variants:
            spec: ProviderSpec | None = catalog.get(variant.provider)
            assert spec is not None  # checked in _variants
            for value in axis.values:
                errors = validate_params(spec, {axis.name: value})
                if errors:
                    who = f"for variant {variant.label!r}" if len(variants) > 1 else ""
                    message = errors[axis.name] + (f" ({who})" if who else "")
                    r.problem(("grid", axis.name), message)
                    break


def _checks(r: _Reader, data: Mapping[str, Any]) -> tuple[CheckSpec, ...]:
    raw = data.get("checks")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        r.problem(("checks",), "must be [[checks]] tables")
        return ()
    checks: list[CheckSpec] = []
    for i, table in enumerate(raw):
        path: tuple[str | int, ...] = ("checks", i)
        r.unknown_keys(table, _CHECK_KEYS, path)
        kind = r.string(table, "type", path)
        if kind is None:
            if "type" not in table:
                r.problem((*path, "type"), f"is missing (one of {', '.join(CHECK_TYPES)})")
            continue
        if kind not in CHECK_TYPES:
            r.problem(
                (*path, "type"), f"{kind!r} is not a check type (known: {', '.join(CHECK_TYPES)})"
            )
            continue
        value = table.get("schema", table.get("value"))
        check = _CHECK_VALUES[kind](r, value, (*path, "schema" if "schema" in table else "value"))
        if check is _BAD:
            continue
        ignore_case = table.get("ignore_case", False)
        if not isinstance(ignore_case, bool):
            r.problem((*path, "ignore_case"), "must be true or false")
            continue
        checks.append(CheckSpec(kind, check, r.string(table, "label", path), ignore_case))
    return tuple(checks)


_BAD = object()


def _text_value(r: _Reader, value: Any, path: tuple[str | int, ...]) -> Any:
    if not isinstance(value, str) or not value:
        r.problem(path, f"must be non-empty text (it is {_shown(value)})")
        return _BAD
    return value


def _regex_value(r: _Reader, value: Any, path: tuple[str | int, ...]) -> Any:
    if _text_value(r, value, path) is _BAD:
        return _BAD
    try:
        re.compile(value)
    except re.error as exc:
        r.problem(path, f"is not a valid regular expression: {exc}")
        return _BAD
    return value


def _no_value(r: _Reader, value: Any, path: tuple[str | int, ...]) -> Any:
    if value is not None:
        r.problem(path, "this check takes no value")
        return _BAD
    return None


def _limit_value(r: _Reader, value: Any, path: tuple[str | int, ...]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        r.problem(path, f"must be a number of at least 0 (it is {_shown(value)})")
        return _BAD
    return value


def _finish_value(r: _Reader, value: Any, path: tuple[str | int, ...]) -> Any:
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v for v in values)
    ):
        r.problem(path, 'must be a finish reason or a list of them, like "stop"')
        return _BAD
    return value


def _schema_value(r: _Reader, value: Any, path: tuple[str | int, ...]) -> Any:
    from parley.core.lab.checks import schema_problem

    schema = value
    if isinstance(value, str):
        try:
            schema = json.loads(value)
        except ValueError as exc:
            r.problem(path, f"is not valid JSON: {exc}")
            return _BAD
    if not isinstance(schema, dict):
        r.problem(path, "must be a JSON Schema object (a TOML table, or JSON text)")
        return _BAD
    problem = schema_problem(schema)
    if problem:
        r.problem(path, f"is not a valid JSON Schema: {problem}")
        return _BAD
    return schema


_CHECK_VALUES: dict[str, Callable[[_Reader, Any, tuple[str | int, ...]], Any]] = {
    "contains": _text_value,
    "not-contains": _text_value,
    "regex": _regex_value,
    "is-json": _no_value,
    "json-schema": _schema_value,
    "max-latency-ms": _limit_value,
    "max-cost": _limit_value,
    "finish-reason": _finish_value,
}


# ---------------------------------------------------------------- writing


def experiment_toml(
    *,
    name: str,
    prompt: str,
    variants: Sequence[Variant],
    system: str | None = None,
    limits: Mapping[str, int] | None = None,
    description: str = "",
) -> str:
    """A compare's pane layout as an experiment file (the format `parley sweep` runs): it
    loads back with `parse_experiment` to the same variants."""
    from parley.core.providers.provider_file import _toml_key, _toml_value

    lines = [
        "# A Parley experiment (saved from the Lab's Compare). Run it with `parley sweep FILE`",
        "# or open it in the Lab with `parley FILE`. Keys are never written here.",
        f"name = {_toml_value(name)}",
    ]
    if description:
        lines.append(f"description = {_toml_value(description)}")
    lines.append(f"prompt = {_toml_value(prompt)}")
    if system:
        lines.append(f"system = {_toml_value(system)}")
    lines.append(f"concurrency = {max(1, len(variants))}")
    if limits:
        lines += ["", "[limits]"]
        lines += [f"{_toml_key(k)} = {int(v)}" for k, v in limits.items()]
    for v in variants:
        lines += ["", "[[variants]]", f"label = {_toml_value(v.label)}"]
        lines.append(f"provider = {_toml_value(v.provider)}")
        if v.base_url:
            lines.append(f"base_url = {_toml_value(v.base_url)}")
        lines.append(f"model = {_toml_value(v.model)}")
        if v.params:
            lines.append(f"params = {_toml_value(dict(v.params))}")
        if v.advanced:
            lines.append(f"advanced = {_toml_value(dict(v.advanced))}")
        if not v.stream:
            lines.append("stream = false")
    return "\n".join(lines) + "\n"

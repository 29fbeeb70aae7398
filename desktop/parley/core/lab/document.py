"""The experiment file as the window's sweep editor edits it: the TOML text read into a plain
dict, the editor's cells read and written as short texts, and the dict written back as TOML.

The editor changes only the keys it shows; every other key of the file (description, limits,
a variant's `advanced` or `stream`, ...) is kept as it was read. What the editor writes is then
validated by `parse_experiment`, so the window shows the same messages as `parley sweep`, and a
`Problem`'s dotted key is placed on the part of the form it is about (`locate`).

    data = read_document(text)                 # ExperimentError for text that is not TOML
    data["grid"] = {"temperature": values_from_text("0, 0.5, 1")}
    text = document_text(data)                 # the file `parley sweep` runs
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parley.core.lab.experiment import SCALAR_KEYS, TABLE_KEYS, ExperimentError, Problem

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_BARE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_./:@+-]*$")


def read_document(text: str, source: str = "<experiment>") -> dict[str, Any]:
    """The file's text as a dict; ExperimentError (as `parse_experiment` says it) if not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise ExperimentError(
            source, [Problem("(file)", f"is not valid TOML: {exc}", line)]
        ) from None


# ---------------------------------------------------------------- writing TOML


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None
        )
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table_lines(table: Mapping[str, Any]) -> list[str]:
    return [f"{toml_key(str(k))} = {toml_value(v)}" for k, v in table.items() if v is not None]


def document_text(data: Mapping[str, Any]) -> str:
    """`data` as an experiment file: the top-level keys first, then [limits], [[variants]],
    [grid] and [[checks]] (tables inside a variant or a check are written inline)."""
    lines: list[str] = []
    top = [k for k in SCALAR_KEYS if k in data] + [
        k
        for k in data
        if k not in SCALAR_KEYS and k not in TABLE_KEYS and not isinstance(data[k], dict | list)
    ]
    for key in top:
        if data[key] is not None:
            lines.append(f"{toml_key(key)} = {toml_value(data[key])}")
    others = [k for k in data if k not in top and k not in TABLE_KEYS]
    for key in [*TABLE_KEYS, *others]:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, dict):
            lines += ["", f"[{toml_key(key)}]", *_table_lines(value)]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines += ["", f"[[{toml_key(key)}]]", *_table_lines(item)]
        elif key not in top:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


# ---------------------------------------------------------------- the editor's cells


def _toml_item(text: str) -> Any:
    return tomllib.loads(f"v = {text}")["v"]


def value_from_text(text: str) -> Any:
    """One value as typed: a TOML value (0.5, true, "quoted"), else the text itself."""
    text = text.strip()
    try:
        return _toml_item(text)
    except tomllib.TOMLDecodeError:
        return text


def values_from_text(text: str) -> list[Any]:
    """A list as typed, with or without brackets: `0, 0.5, 1` or `gpt-4o, "a, b"`."""
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    if not body.strip():
        return []
    try:
        value = _toml_item(f"[{body}]")
        if isinstance(value, list):
            return value
    except tomllib.TOMLDecodeError:
        pass
    return [value_from_text(part) for part in _split_commas(body) if part.strip()]


def _split_commas(text: str) -> list[str]:
    """`text` split at the commas outside quotes (the quotes are kept)."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def value_text(value: Any) -> str:
    """A value as the editor shows it: words bare, everything else as TOML."""
    if (
        isinstance(value, str)
        and _BARE_WORD.match(value)
        and value not in ("true", "false", "nan", "inf")
        and not re.match(r"^[+-]?\d", value)
    ):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    try:
        return toml_value(value)
    except TypeError:
        return str(value)


def values_text(values: Sequence[Any]) -> str:
    return ", ".join(value_text(v) for v in values)


class CellError(ValueError):
    """What a typed cell cannot be read as (shown on that cell)."""


def params_from_text(text: str) -> dict[str, Any]:
    """A variant's parameters as typed: `temperature = 0.2, stop = ["\\n"]` (an inline table's
    inside) or a JSON object. Raises CellError."""
    body = text.strip()
    if not body:
        return {}
    if body.startswith("{") and body.endswith("}"):
        try:
            value = json.loads(body)
        except ValueError:
            body = body[1:-1]
        else:
            if isinstance(value, dict):
                return value
            raise CellError("must be name = value pairs or a JSON object")
    try:
        value = tomllib.loads(f"p = {{ {body} }}")["p"]
    except tomllib.TOMLDecodeError as exc:
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise CellError(
            f"cannot be read ({reason}): write name = value pairs, like temperature = 0.2"
        ) from None
    assert isinstance(value, dict)
    return value


def params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in params.items())


NUMBER_CHECKS = ("max-latency-ms", "max-cost")


def check_from_cells(kind: str, value: str) -> dict[str, Any]:
    """A [[checks]] table's type and value from the editor's cells (the label and
    ignore_case are set by the caller)."""
    table: dict[str, Any] = {"type": kind}
    text = value.strip()
    if kind == "is-json":
        if text:
            table["value"] = text  # parse_experiment says this check takes no value
        return table
    if kind in NUMBER_CHECKS:
        number = value_from_text(text) if text else None
        table["value"] = number if number is not None else text
        return table
    if kind == "finish-reason":
        reasons = [v for v in (p.strip() for p in text.split(",")) if v]
        table["value"] = reasons[0] if len(reasons) == 1 else reasons
        return table
    if kind == "json-schema":
        try:
            schema = json.loads(text)
        except ValueError:
            table["value"] = text  # parse_experiment names what is wrong with it
        else:
            table["schema" if isinstance(schema, dict) else "value"] = (
                schema if isinstance(schema, dict) else text
            )
        return table
    table["value"] = value
    return table


def check_value_text(table: Mapping[str, Any]) -> str:
    value = table.get("schema", table.get("value"))
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    return value_text(value)


# ---------------------------------------------------------------- where a problem belongs


@dataclass(frozen=True)
class Place:
    """Where in the editor a problem is shown: a section, a row of it, a field."""

    section: str  # "general", "variants", "grid", "checks", "limits", "file"
    row: int | None = None  # 0-based row of variants, checks or prompts
    field: str | None = None  # the key inside the row (or the general field / grid axis name)


_PATH = re.compile(r"^(?P<head>[A-Za-z0-9_\-]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<rest>.+))?$")


def locate(key: str) -> Place:
    """The place of a `Problem.key` ("variants[2].params.temperature", "grid.top_p.step")."""
    found = _PATH.match(key)
    if not found:
        return Place("file")
    head, index, rest = found.group("head"), found.group("index"), found.group("rest")
    row = int(index) - 1 if index else None
    if head in ("variants", "checks"):
        field = rest.split(".", 1)[0] if rest else None
        return Place(head, row, field)
    if head == "grid":
        return Place("grid", row, rest.split(".", 1)[0] if rest else None)
    if head == "limits":
        return Place("limits", None, rest)
    if head in ("prompt", "prompts"):
        return Place("general", row, "prompts")
    return Place("general", None, head)

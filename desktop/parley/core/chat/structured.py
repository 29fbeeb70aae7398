"""Structured output: the `response_format` asked for, checked as it is written, and every reply
validated against it.

Pure functions shared by the chat and the Lab. A problem names its place with a JSON pointer
(RFC 6901, "/properties/age/type"); "" is the whole value. `response_format` is OpenAI's:
`{"type": "json_object"}` or `{"type": "json_schema", "json_schema": {"name", "schema",
"strict"}}`; anything else (text, a provider's grammar) asks for no JSON and is not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Mode = Literal["none", "json_object", "json_schema"]
MAX_SHOWN_ERRORS = 20
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for json_schema.name


@dataclass(frozen=True, slots=True)
class Problem:
    pointer: str  # JSON pointer into the value checked ("" = the whole value)
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


def pointer(path: Iterable[Any]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "".join("/" + p for p in parts)


def mode_of(response_format: Any) -> Mode:
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_object":
            return "json_object"
        if kind == "json_schema":
            return "json_schema"
    return "none"


def schema_of(response_format: Any) -> dict[str, Any] | None:
    """The JSON Schema a `json_schema` response format carries (None for other modes)."""
    if mode_of(response_format) != "json_schema":
        return None
    inner = response_format.get("json_schema")
    schema = inner.get("schema") if isinstance(inner, dict) else None
    return schema if isinstance(schema, dict) else None


def build(mode: Mode, *, schema: Any = None, name: str = "", strict: bool = False) -> Any:
    """The `response_format` value of the editor's fields (None for "none")."""
    if mode == "none":
        return None
    if mode == "json_object":
        return {"type": "json_object"}
    inner: dict[str, Any] = {"name": name or "answer"}
    if strict:
        inner["strict"] = True
    inner["schema"] = schema if schema is not None else {}
    return {"type": "json_schema", "json_schema": inner}


def schema_problems(schema: Any) -> list[Problem]:
    """Why `schema` is not a valid JSON Schema (meta-validated against its draft's
    meta-schema, 2020-12 unless `$schema` says otherwise); [] when it is."""
    if not isinstance(schema, dict | bool):
        return [Problem("", 'A JSON Schema must be an object, like {"type": "object"}.')]
    from jsonschema import validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    meta = cls(cls.META_SCHEMA)
    errors = sorted(meta.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path)))
    problems = [Problem(pointer(e.absolute_path), e.message) for e in errors]
    problems += _remote_refs(schema)
    return problems[:MAX_SHOWN_ERRORS]


def response_format_problems(response_format: Any) -> list[Problem]:
    """What is wrong with a whole `response_format` value (pointers into it)."""
    if response_format is None:
        return []
    if not isinstance(response_format, dict):
        return [Problem("", "response_format must be a JSON object.")]
    kind = response_format.get("type")
    if kind in ("text", "json_object"):
        return []
    if kind != "json_schema":
        return []  # a provider's own format (grammar, regex): passed on, not checked here
    inner = response_format.get("json_schema")
    if not isinstance(inner, dict):
        return [Problem("/json_schema", "json_schema must be an object with a name and a schema.")]
    problems: list[Problem] = []
    name = inner.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(
            Problem(
                "/json_schema/name",
                "The name must be 1–64 letters, digits, underscores or dashes.",
            )
        )
    strict = inner.get("strict")
    if strict is not None and not isinstance(strict, bool):
        problems.append(Problem("/json_schema/strict", "strict must be true or false."))
    if "schema" not in inner:
        problems.append(Problem("/json_schema/schema", "A schema is needed."))
    else:
        for p in schema_problems(inner["schema"]):
            problems.append(Problem("/json_schema/schema" + p.pointer, p.message))
    return problems


@dataclass(frozen=True, slots=True)
class Verdict:
    """A reply checked against the response format asked for."""

    mode: Mode
    passed: bool
    problems: tuple[Problem, ...] = ()
    total: int = 0  # how many problems there were (problems holds the first ones)

    def summary(self) -> str:
        what = "JSON schema" if self.mode == "json_schema" else "JSON"
        if self.passed:
            return f"Valid {what}" if self.mode == "json_object" else f"Matches the {what}"
        n = self.total or len(self.problems)
        return f"{what}: {n} problem{'s' if n != 1 else ''}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "passed": self.passed,
            "problems": [p.to_dict() for p in self.problems],
            "total": self.total,
        }


def _no_retrieval(uri: str) -> Any:
    # jsonschema would fetch a remote "$ref" over the network: a schema must never make
    # Parley open a connection, so only references inside the schema resolve.
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


@lru_cache(maxsize=32)
def validator_for_json(schema_json: str) -> Any:
    """A validator for a schema (JSON text) that resolves only references inside it."""
    from jsonschema import validators
    from referencing import Registry

    schema = json.loads(schema_json)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    return cls(schema, registry=Registry(retrieve=_no_retrieval))  # type: ignore[call-arg]


def _remote_refs(schema: Any, path: tuple[Any, ...] = (), depth: int = 0) -> list[Problem]:
    """Every "$ref" that points outside the schema (those are not followed)."""
    found: list[Problem] = []
    if depth > 64:
        return found
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            found.append(
                Problem(
                    pointer((*path, "$ref")),
                    f"{ref!r} is outside the schema; only references inside it (#/…) are "
                    "followed, nothing is fetched.",
                )
            )
        for key, value in schema.items():
            found += _remote_refs(value, (*path, key), depth + 1)
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found += _remote_refs(value, (*path, i), depth + 1)
    return found


def _strip_fence(text: str) -> str:
    """A reply wrapped in one ```json fence (some models do that even when asked for JSON)."""
    stripped = text.strip()
    match = re.fullmatch(r"```[A-Za-z0-9_-]*\n(.*)\n```", stripped, re.S)
    return match.group(1) if match else stripped


def validate_reply(text: str, response_format: Any) -> Verdict | None:
    """`text` checked against `response_format`; None when no JSON was asked for."""
    mode = mode_of(response_format)
    if mode == "none":
        return None
    body = _strip_fence(text)
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return Verdict(mode, False, (Problem("", f"Not valid JSON ({where}): {exc.msg}."),), 1)
    except ValueError as exc:  # nested too deep, a huge number
        return Verdict(mode, False, (Problem("", f"Not valid JSON: {exc}."),), 1)
    if mode == "json_object":
        if isinstance(value, dict):
            return Verdict(mode, True)
        return Verdict(mode, False, (Problem("", "The reply is JSON but not an object."),), 1)
    schema = schema_of(response_format)
    wrong = schema_problems(schema) if schema is not None else []
    if schema is None or wrong:
        why = f"The schema asked for is not valid ({wrong[0]})." if wrong else "There is no schema."
        return Verdict(mode, False, (Problem("", why),), 1)
    validator = validator_for_json(json.dumps(schema, sort_keys=True))
    from referencing.exceptions import Unresolvable

    try:
        errors = sorted(
            validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]
        )
    except Unresolvable as exc:  # a "$ref" to nothing in the schema
        message = f"The schema's reference {getattr(exc, 'ref', '')!r} leads nowhere."
        return Verdict(mode, False, (Problem("", message),), 1)
    except RecursionError:
        return Verdict(mode, False, (Problem("", "The schema refers to itself endlessly."),), 1)
    if not errors:
        return Verdict(mode, True)
    shown = tuple(Problem(pointer(e.absolute_path), e.message) for e in errors[:MAX_SHOWN_ERRORS])
    return Verdict(mode, False, shown, len(errors))


def response_format_of(body: Any) -> Any:
    """The response format a request body asked for (None if it asked for none)."""
    return body.get("response_format") if isinstance(body, dict) else None

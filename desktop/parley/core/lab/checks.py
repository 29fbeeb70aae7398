"""Checks on one run's answer: contains, not-contains, regex, is-json, json-schema,
max-latency-ms, max-cost and finish-reason.

A check passes (True), fails (False, with what was wrong), or cannot be judged (None: the cost
of a run whose model has no known price). A run passes when it finished and no check failed.
JSON-schema failures name the place with a JSON pointer ("/items/2/name").
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from parley.core.lab.experiment import CheckSpec

_MAX_FAILURES_SHOWN = 3


@dataclass(frozen=True)
class CheckResult:
    name: str
    type: str
    passed: bool | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "passed": self.passed, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        passed = data.get("passed")
        return cls(
            name=str(data.get("name") or ""),
            type=str(data.get("type") or ""),
            passed=passed if isinstance(passed, bool) else None,
            detail=str(data.get("detail") or ""),
        )


@dataclass(frozen=True)
class Answer:
    """What the checks look at."""

    text: str
    finish_reason: str | None
    total_ms: float | None
    cost: float | None


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a valid JSON Schema (for its declared draft), or None."""
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        where = _pointer(exc.absolute_path)
        return f"{exc.message} (at {where})" if where != "/" else exc.message
    return None


def _pointer(path: Sequence[Any]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


def _validator(schema_json: str) -> Any:
    # The chat's validator: it never fetches a remote "$ref" (jsonschema's default would).
    from parley.core.chat.structured import validator_for_json

    return validator_for_json(schema_json)


@lru_cache(maxsize=256)
def _regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


def _parse_json(text: str) -> tuple[bool, Any, str]:
    try:
        return True, json.loads(text), ""
    except ValueError as exc:
        return False, None, f"not JSON: {exc}"


def evaluate(check: CheckSpec, answer: Answer) -> CheckResult:
    passed, detail = _evaluate(check, answer)
    return CheckResult(check.name, check.type, passed, detail)


def _evaluate(check: CheckSpec, answer: Answer) -> tuple[bool | None, str]:
    text = answer.text
    match check.type:
        case "contains" | "not-contains":
            needle = str(check.value)
            hay = text.casefold() if check.ignore_case else text
            found = (needle.casefold() if check.ignore_case else needle) in hay
            if check.type == "contains":
                return found, "" if found else f"{needle!r} is not in the answer"
            return not found, f"{needle!r} is in the answer" if found else ""
        case "regex":
            ok = _regex(str(check.value), check.ignore_case).search(text) is not None
            return ok, "" if ok else f"no match for /{check.value}/"
        case "is-json":
            ok, _, why = _parse_json(text.strip())
            return ok, why
        case "json-schema":
            ok, value, why = _parse_json(text.strip())
            if not ok:
                return False, why
            validator = _validator(json.dumps(check.value, sort_keys=True))
            from referencing.exceptions import Unresolvable

            try:
                errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
            except Unresolvable as exc:
                return False, f"the schema's reference {getattr(exc, 'ref', '')!r} leads nowhere"
            except RecursionError:
                return False, "the schema refers to itself endlessly"
            if not errors:
                return True, ""
            shown = "; ".join(
                f"{_pointer(e.absolute_path)}: {e.message}" for e in errors[:_MAX_FAILURES_SHOWN]
            )
            more = len(errors) - _MAX_FAILURES_SHOWN
            return False, shown + (f" (and {more} more)" if more > 0 else "")
        case "max-latency-ms":
            if answer.total_ms is None:
                return None, "no time measured"
            ok = answer.total_ms <= float(check.value)
            return ok, "" if ok else f"took {answer.total_ms:.0f} ms"
        case "max-cost":
            if answer.cost is None:
                return None, "cost unknown (no price for this model)"
            ok = answer.cost <= float(check.value)
            return ok, "" if ok else f"cost {answer.cost:.6f}"
        case "finish-reason":
            wanted = [check.value] if isinstance(check.value, str) else list(check.value)
            ok = answer.finish_reason in wanted
            return ok, "" if ok else f"finish reason {answer.finish_reason!r}"
    return False, f"unknown check type {check.type!r}"  # pragma: no cover - validated on load


def evaluate_all(checks: Sequence[CheckSpec], answer: Answer) -> list[CheckResult]:
    return [evaluate(c, answer) for c in checks]


def overall(results: Sequence[CheckResult]) -> bool:
    return not any(r.passed is False for r in results)

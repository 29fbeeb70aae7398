"""Request checks a real provider would answer with 400; only rules the API pages document."""

from __future__ import annotations

import re
from typing import Any

_UUID = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
_ANY_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_MODEL_REQUIRED = {"euri", "eigenai", "adaptive-engine", "openai"}
_EFFORTS = {
    "eurouter": {"none", "minimal", "low", "medium", "high"},
    "eigenai": {"none", "minimal", "low", "medium", "high", "xhigh"},
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range(body: dict[str, Any], name: str, low: float, high: float) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not _number(value) or not low <= value <= high:
        return f"{name} must be a number between {low:g} and {high:g}, got {value!r}"
    return None


def problem(dialect: str, body: dict[str, Any]) -> str | None:
    """The 400 message for `body`, or None when the provider would accept it."""
    messages = body["messages"]
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            return f"messages[{i}] must be an object with a role"
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        return "model must be a string"
    if dialect in _MODEL_REQUIRED and not model:
        return "model is required"
    if dialect == "eurouter" and not (
        model or body.get("models") or body.get("rule_id") or body.get("rule_name")
    ):
        return "Either model, models, rule_id or rule_name is required"
    if dialect in ("euri", "eurouter", "eigenai", "openai"):
        found = _range(body, "temperature", 0, 2)
        if found:
            return found
    if dialect == "eurouter":
        return _eurouter(body)
    if dialect == "euri":
        stop = body.get("stop")
        if isinstance(stop, list) and len(stop) > 4:
            return "stop accepts at most 4 sequences"
    if dialect == "eigenai":
        return _eigenai(body)
    if dialect == "adaptive-engine":
        return _adaptive(body)
    return None


def _eurouter(body: dict[str, Any]) -> str | None:
    found = _range(body, "top_p", 0, 1) or _range(body, "top_logprobs", 0, 20)
    if found:
        return found
    rule_id = body.get("rule_id")
    if rule_id is not None and not (isinstance(rule_id, str) and _UUID.match(rule_id)):
        return "rule_id must be a UUID"
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            return 'reasoning must be an object like {"effort": "high"}'
        effort = reasoning.get("effort")
        if effort is not None and effort not in _EFFORTS["eurouter"]:
            return f"reasoning.effort must be one of {sorted(_EFFORTS['eurouter'])}"
    return None


def _eigenai(body: dict[str, Any]) -> str | None:
    top_k = body.get("top_k")
    if top_k is not None and (
        not isinstance(top_k, int) or isinstance(top_k, bool) or not 0 <= top_k <= 100
    ):
        return f"top_k must be an integer between 0 and 100, got {top_k!r}"
    found = _range(body, "min_p", 0, 1) or _range(body, "repetition_penalty", 0, 100)
    if found:
        return found
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _EFFORTS["eigenai"]:
        return f"reasoning_effort must be one of {sorted(_EFFORTS['eigenai'])}"
    return None


def _adaptive(body: dict[str, Any]) -> str | None:
    for name in ("user", "session_id"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and _ANY_UUID.match(value)):
            return (
                f"Failed to deserialize the JSON body into the target type: {name}: "
                f"UUID parsing failed for {value!r}"
            )
    for name in ("max_tokens", "n", "max_ttft_ms"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            return f"{name} must be a non-negative integer"
    for m in body["messages"]:
        content = m.get("content")
        if isinstance(content, list):
            for part in content:
                url = part.get("image_url", {}) if isinstance(part, dict) else {}
                url = url.get("url") if isinstance(url, dict) else url
                if isinstance(url, str) and not url.startswith("data:"):
                    return "Images must be base64 data URIs; http(s) URLs are not supported"
    return None

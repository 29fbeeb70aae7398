"""JSON from providers parsed so that no value of it can crash Parley later.

Replies are taken leniently (what can be kept is kept); files and arguments are read strictly,
with a sentence for the person who wrote them, by `parley.core.protocol.limits`. Both stop at the
same nesting depth.

`loads` raises ValueError for nesting deeper than `MAX_DEPTH` (the standard parser would raise
RecursionError, and every later walk over the data too). Numbers too large to be numbers
(`1e400` would be infinity) and the non-standard NaN / Infinity become null, so nothing
downstream overflows or writes invalid JSON. Lone surrogates (`"\\ud800"`, valid JSON but not
encodable as UTF-8, so unprintable and unstorable) become U+FFFD.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from parley.core.protocol.limits import MAX_DEPTH

REPLACEMENT = "\ufffd"


class JSONTooDeep(ValueError):
    pass


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _depth_ok(text: str, limit: int) -> bool:
    """Whether no bracket nests deeper than `limit` (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return True
    brackets = _BRACKET.findall(_STRING.sub("", text))
    steps = accumulate(1 if b in "[{" else -1 for b in brackets)
    return max(steps, default=0) <= limit


def _finite(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _constant(name: str) -> None:
    return None


def has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD."""
    if not has_surrogates(text):
        return text
    return "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def _clean(value: Any) -> Any:
    """`value` with lone surrogates replaced in every string (iteratively: no recursion)."""
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, dict | list):
        return value
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            if isinstance(item, str):
                node[key] = clean_text(item)
            elif isinstance(item, dict | list):
                stack.append(item)
            if isinstance(node, dict) and isinstance(key, str) and has_surrogates(key):
                node[clean_text(key)] = node.pop(key)
    return value


# One decoder for every call: `json.loads` with these hooks would build a new one (and its
# scanner) per call, doubling the cost of a stream's small chunks.
_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_constant)


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON from outside; ValueError (with a reason) for what cannot be kept."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not _depth_ok(text, max_depth):
        raise JSONTooDeep(f"the JSON is nested more than {max_depth} levels deep")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise JSONTooDeep("the JSON is nested too deeply") from None
    if "\\u" in text or "\\U" in text:
        # Surrogates only come from escapes: a raw one cannot be in a decoded str here.
        value = _clean(value)
    return value

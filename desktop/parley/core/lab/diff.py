"""Word diff of two answers, and the diff of the parameter sets that produced them.

    ops = word_diff(left, right)        # [Op("equal", "The ", "The "), Op("replace", ...), ...]
    changes = params_diff(a, b)         # [ParamChange("temperature", 0.2, 0.9), ...]

Uncapped: every word of both texts is compared (difflib with autojunk off, so frequent words
such as "the" are matched too, as a reader would). Long texts are first split at their common
lines, so the quadratic part of the matcher only ever sees the lines that differ: two 20 kB
answers diff in well under a second. A token is a word or a punctuation mark with the
whitespace after it, so joining the `left` side of every op gives back the left text exactly
(the same for `right`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

OpKind = Literal["equal", "delete", "insert", "replace"]

_TOKEN = re.compile(r"^\s+|\w+\s*|[^\w\s]\s*", re.UNICODE)
MISSING: Any = object()  # a parameter not set on that side


@dataclass(frozen=True)
class Op:
    kind: OpKind
    left: str  # the left text's part ("" for an insert)
    right: str  # the right text's part ("" for a delete)


@dataclass(frozen=True)
class DiffStats:
    equal_words: int
    deleted_words: int
    inserted_words: int

    @property
    def similarity(self) -> float:
        """Share of words in common (1.0 for identical texts, also two empty ones)."""
        total = 2 * self.equal_words + self.deleted_words + self.inserted_words
        return 1.0 if total == 0 else 2 * self.equal_words / total


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _words(text: str) -> int:
    return sum(1 for t in tokens(text) if t.strip())


def _merge(ops: Iterable[Op]) -> list[Op]:
    out: list[Op] = []
    for op in ops:
        if not op.left and not op.right:
            continue
        if out and out[-1].kind == op.kind:
            last = out[-1]
            out[-1] = Op(op.kind, last.left + op.left, last.right + op.right)
        else:
            out.append(op)
    return out


def _token_diff(a: Sequence[str], b: Sequence[str]) -> list[Op]:
    # Compared without their trailing whitespace ("c" at the end matches "c " in the middle);
    # the ops carry the tokens as written.
    matcher = difflib.SequenceMatcher(
        None, [t.rstrip() for t in a], [t.rstrip() for t in b], autojunk=False
    )
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        ops.append(Op(tag, "".join(a[i1:i2]), "".join(b[j1:j2])))
    return ops


def word_diff(left: str, right: str) -> list[Op]:
    """The word-level differences from `left` to `right`, as consecutive ops."""
    if left == right:
        return [Op("equal", left, right)] if left else []
    a_lines = left.splitlines(keepends=True)
    b_lines = right.splitlines(keepends=True)
    ops: list[Op] = []
    # Lines first (cheap: few distinct lines), then words inside each differing stretch.
    lines = difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in lines.get_opcodes():
        a_part = "".join(a_lines[i1:i2])
        b_part = "".join(b_lines[j1:j2])
        if tag == "equal":
            ops.append(Op("equal", a_part, b_part))
        elif tag == "delete":
            ops.append(Op("delete", a_part, ""))
        elif tag == "insert":
            ops.append(Op("insert", "", b_part))
        else:
            ops.extend(_token_diff(tokens(a_part), tokens(b_part)))
    return _merge(ops)


def stats(ops: Sequence[Op]) -> DiffStats:
    equal = deleted = inserted = 0
    for op in ops:
        if op.kind == "equal":
            equal += _words(op.left)
        else:
            deleted += _words(op.left)
            inserted += _words(op.right)
    return DiffStats(equal, deleted, inserted)


@dataclass(frozen=True)
class ParamChange:
    name: str
    left: Any  # MISSING when only the right side sets it
    right: Any

    @property
    def kind(self) -> Literal["added", "removed", "changed"]:
        if self.left is MISSING:
            return "added"
        if self.right is MISSING:
            return "removed"
        return "changed"

    def describe(self) -> str:
        def shown(v: Any) -> str:
            return "(not set)" if v is MISSING else json.dumps(v, ensure_ascii=False, default=str)

        return f"{self.name}: {shown(self.left)} → {shown(self.right)}"


def _same(a: Any, b: Any) -> bool:
    # 1 and 1.0 are the same setting; True and 1 are not.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def params_diff(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[ParamChange]:
    """What differs between two flat settings maps (provider, model, each parameter, and
    nested tables such as `advanced` compared as dotted names), sorted by name."""
    flat_left = _flatten(left)
    flat_right = _flatten(right)
    changes = []
    for name in sorted(set(flat_left) | set(flat_right)):
        a = flat_left.get(name, MISSING)
        b = flat_right.get(name, MISSING)
        if a is MISSING or b is MISSING or not _same(a, b):
            changes.append(ParamChange(name, a, b))
    return changes


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, name + "."))
        elif isinstance(value, Mapping):
            continue  # an empty table sets nothing
        else:
            out[name] = value
    return out

"""Bounds for what Parley reads from files and the command line: size and nesting depth.

Python's own parsers recurse: JSON or TOML nested a few thousand levels deep ends in a
RecursionError, and a value nested a few hundred deep passes the parser but breaks whatever
walks it next (validation, serialising, exporting). Every untrusted text is read through
`read_capped` and `loads_json` (or checked with `check_depth`), which turn all of that into a
`LimitError` with a sentence a person can act on.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

MAX_DEPTH = 64  # far beyond any real settings, provider file, export or JSON schema
MAX_FILE_BYTES = 4 * 1024 * 1024  # settings and provider files are a few KB


class LimitError(ValueError):
    """Input that is too big, too deep, or otherwise beyond what Parley reads."""


def read_capped(path: Path, max_bytes: int = MAX_FILE_BYTES, *, regular_only: bool = True) -> bytes:
    """The file's bytes; LimitError when it has more than `max_bytes` (never reads further:
    a huge file or a link to /dev/zero costs `max_bytes`, not forever) or, with
    `regular_only`, when it is a device or a pipe (opening a pipe waits for a writer).
    Raises OSError as `open` does; a folder gives IsADirectoryError on every platform."""
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    if regular_only and path.exists() and not is_regular_file(path):
        raise LimitError("it is not a regular file (a device or a pipe)")
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise LimitError(f"it is larger than {_size(max_bytes)}")
    return data


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def check_depth(value: Any, what: str, max_depth: int = MAX_DEPTH) -> None:
    if depth(value) > max_depth:
        raise LimitError(f"{what} is nested more than {max_depth} levels deep")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def loads_json(
    text: str | bytes,
    what: str = "The JSON",
    *,
    max_depth: int = MAX_DEPTH,
    allow_constants: bool = False,
) -> Any:
    """`json.loads`, bounded: LimitError for nesting deeper than `max_depth` or a number with
    more digits than Python converts; ValueError (JSONDecodeError, UnicodeDecodeError) for
    text that is not JSON. NaN and Infinity are refused unless `allow_constants`."""
    try:
        value = json.loads(text, parse_constant=None if allow_constants else _no_constant)
    except RecursionError:
        raise LimitError(f"{what} is nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # Python's 4,300-digit limit
            raise LimitError(f"{what} holds a number with thousands of digits") from None
        raise
    check_depth(value, what, max_depth)
    return value


def finite_numbers(value: Any) -> bool:
    """Whether every number in `value` is finite (1e400 parses as infinity)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return False
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return True


def is_regular_file(path: Path) -> bool:
    """Whether `path` (after links) is a plain file, not a device, pipe or folder."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


MAX_PATTERN_CHARS = 500
MAX_PATTERN_TEXT = 200  # the longest value a `pattern` is tried on
_MAX_VARIABLE_REPEATS = 3


def pattern_risk(pattern: str) -> str | None:
    """Why the regular expression `pattern` could take very long to reject a value (None
    when it cannot). Python's `re` backtracks, so these are refused when a provider file is
    loaded: a repetition of something that itself varies in length (`(a+)+`, `(\\w*)*`), a
    repeated choice whose branches can start alike (`(a|aa)+`), a back reference, or more
    than three open-ended repetitions (`\\d+\\d+\\d+\\d+x` is polynomial). With every value
    tried at most MAX_PATTERN_TEXT characters long, any pattern left ends quickly."""
    import re
    from re import _constants as sre  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    if len(pattern) > MAX_PATTERN_CHARS:
        return f"is longer than {MAX_PATTERN_CHARS} characters"
    try:
        tree = _parser.parse(pattern)
    except RecursionError:
        return "is nested too deeply"
    except re.error:
        return None  # compiling reports it with its own words
    repeats = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
    nested = (
        "repeats something that itself varies in length (like (a+)+), which can take "
        "forever on some values; write it without the nested repetition"
    )
    variable = 0
    # (items, inside a repetition that may match more than once): walked without recursion.
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        items, repeated = stack.pop()
        for op, av in items:
            if op in repeats:
                low, high, body = av
                if high is sre.MAXREPEAT or high > low:
                    if repeated:
                        return nested
                    variable += 1
                stack.append((body, repeated or high is sre.MAXREPEAT or high > 1))
            elif op is sre.SUBPATTERN:
                stack.append((av[-1], repeated))
            elif op is sre.BRANCH:
                branches = av[1]
                if repeated and not _distinct_starts(branches, sre.LITERAL):
                    return (
                        "repeats a choice whose branches can begin alike (like (a|aa)+), "
                        "which can take forever on some values"
                    )
                stack.extend((branch, repeated) for branch in branches)
            elif op in (sre.ASSERT, sre.ASSERT_NOT):
                stack.append((av[1], repeated))
            elif op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
                return "uses a back reference, which can take forever on some values"
    if variable > _MAX_VARIABLE_REPEATS:
        return f"has more than {_MAX_VARIABLE_REPEATS} open-ended repetitions"
    return None


def _distinct_starts(branches: Any, literal: Any) -> bool:
    firsts = []
    for branch in branches:
        items = list(branch)
        if not items or items[0][0] is not literal:
            return False
        firsts.append(items[0][1])
    return len(set(firsts)) == len(firsts)

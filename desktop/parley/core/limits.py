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

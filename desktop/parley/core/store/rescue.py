"""Rescue files: answers a closing Store could not write (the disk was full, another process
held the write lock for too long), kept as JSON until a later open writes them.

The file goes beside the database when it fits there, else into the temporary folder (a full
disk rarely holds that too). `Store.open` looks in both places for files naming its database,
writes what they hold (only into answers still "streaming" or "interrupted", so nothing newer
is overwritten) and deletes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parley.core.protocol.limits import LimitError, loads_json, read_capped

FORMAT = "parley.unsaved-answers"
_MAX_BYTES = 512 * 1024 * 1024


def _tag(database: Path) -> str:
    return hashlib.sha256(str(database.resolve()).encode()).hexdigest()[:12]


def _places(database: Path) -> list[Path]:
    return [database.parent, Path(tempfile.gettempdir())]


def write(
    database: Path,
    partials: Mapping[int, tuple[str, str]],
    finals: Mapping[int, Mapping[str, Any]],
) -> Path | None:
    """Write the unsaved answers; return the file, or None when no place could take it."""
    body = json.dumps(
        {
            "format": FORMAT,
            "database": str(database.resolve()),
            "partials": {str(k): list(v) for k, v in partials.items()},
            "finals": {str(k): dict(v) for k, v in finals.items()},
        },
        ensure_ascii=False,
        default=str,
    ).encode()
    name = f"parley-unsaved-{_tag(database)}-{os.getpid()}-{time.time_ns()}.json"
    for folder in _places(database):
        target = folder / name
        tmp = folder / f".{name}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            return target
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return None


def pending(database: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The rescue files naming `database`, oldest first, with what they hold."""
    found: list[tuple[Path, dict[str, Any]]] = []
    pattern = f"parley-unsaved-{_tag(database)}-*.json"
    for folder in _places(database):
        with contextlib.suppress(OSError):
            for path in sorted(folder.glob(pattern), key=lambda p: p.name):
                try:
                    data = loads_json(read_capped(path, _MAX_BYTES), "The rescue file")
                except (OSError, LimitError, ValueError):
                    continue
                if (
                    isinstance(data, dict)
                    and data.get("format") == FORMAT
                    and data.get("database") == str(database.resolve())
                ):
                    found.append((path, data))
    return found

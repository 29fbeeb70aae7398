"""StoreError: what went wrong with the history database, in words a person can act on."""

from __future__ import annotations

import sqlite3
from enum import StrEnum
from pathlib import Path


class StoreErrorKind(StrEnum):
    CORRUPT = "corrupt"  # not a database, or damaged
    LOCKED = "locked"  # another program holds the write lock for too long
    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"  # opened read-only, or the file/folder is not writable
    CANNOT_OPEN = "cannot_open"  # missing folder, no permission
    TOO_NEW = "too_new"  # written by a newer Parley
    NOT_FOUND = "not_found"  # no such conversation / message / undo token
    INVALID = "invalid"  # bad arguments or bad import data
    OTHER = "other"


class StoreError(Exception):
    def __init__(self, kind: StoreErrorKind, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.path = path

    @property
    def can_move_aside(self) -> bool:
        """Whether offering "move the bad file aside and start fresh" makes sense."""
        return self.kind in (StoreErrorKind.CORRUPT, StoreErrorKind.TOO_NEW)

    @property
    def can_open_read_only(self) -> bool:
        return self.kind in (
            StoreErrorKind.LOCKED,
            StoreErrorKind.DISK_FULL,
            StoreErrorKind.READ_ONLY,
            StoreErrorKind.TOO_NEW,
        )

    def __repr__(self) -> str:
        return f"StoreError(kind={self.kind.value!r}, message={self.message!r})"


def translate(exc: sqlite3.Error, path: Path | None) -> StoreError:
    """Turn a sqlite3 exception into a StoreError saying what it means and what to do."""
    text = str(exc).lower()
    where = f" ({path})" if path is not None else ""
    if "database or disk is full" in text or "disk is full" in text:
        return StoreError(
            StoreErrorKind.DISK_FULL,
            f"The disk holding your history{where} is full, so the last change was not saved. "
            "Free some space; everything saved before is intact.",
            path=path,
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            StoreErrorKind.LOCKED,
            f"The history database{where} is busy: another Parley window or program is writing "
            "to it. Close the other instance and try again, or open the history read-only.",
            path=path,
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            StoreErrorKind.CORRUPT,
            f"The history database{where} is damaged and cannot be read. Parley can move it "
            "aside (nothing is deleted) and start a fresh history.",
            path=path,
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(
            StoreErrorKind.READ_ONLY,
            f"The history database{where} cannot be written (read-only file, folder or mode). "
            "Changes are not saved.",
            path=path,
        )
    if "unable to open" in text:
        return StoreError(
            StoreErrorKind.CANNOT_OPEN,
            f"The history database{where} cannot be opened. Check that the folder exists and "
            "that you may write to it.",
            path=path,
        )
    if "disk i/o error" in text:
        return StoreError(
            StoreErrorKind.CANNOT_OPEN,
            f"Reading or writing the history database{where} failed (disk I/O error).",
            path=path,
        )
    return StoreError(
        StoreErrorKind.CORRUPT if type(exc) is sqlite3.DatabaseError else StoreErrorKind.OTHER,
        f"The history database{where} reported an error: {exc}",
        path=path,
    )

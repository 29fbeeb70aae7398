"""The history database: conversations as trees of messages, saved as they stream.

One `Store` wraps one SQLite connection (WAL mode, synchronous=NORMAL, foreign keys on). It is
safe to call from several threads: every use of the connection holds one lock. Several
processes may open the same file at once: WAL lets readers run beside the single writer, and a
writer waits up to `busy_timeout` seconds for another's write before giving up with a
StoreError(LOCKED).

Streaming answers: `begin_answer` creates the message with status "streaming";
`save_partial` only records the latest text in memory and a background thread commits it
(at most once per `flush_interval`, and never later than `flush_interval` after it arrived), so
a process killed mid-stream loses at most the last fraction of a second. On the next open,
`recover_interrupted` marks answers whose writing process is gone as "interrupted".
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from parley.core.app import paths
from parley.core.protocol.exchange import ExchangeRecord
from parley.core.protocol.request import ChatRequest, ContentPart

from . import rescue
from .errors import StoreError, StoreErrorKind, translate
from .models import (
    MESSAGE_STATUSES,
    Conversation,
    ConversationRecord,
    MessageRecord,
    MessageStatus,
    SearchHit,
    Siblings,
    StoredMessage,
    content_columns,
    from_json,
    fts_query,
    make_title,
    parse_content,
    parse_tool_calls,
    to_json,
    tool_calls_json,
)
from .schema import LATEST_VERSION, NotAParleyHistory, migrate, schema_state, schema_version

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
FINAL_STATUSES = frozenset({"complete", "stopped", "failed", "interrupted"})

_CONVERSATION_COLUMNS = (
    "id, title, title_set, system_prompt, provider, model, params, advanced, preset, pinned, "
    "session_id, draft, current_leaf_id, created_at, updated_at, deleted_at"
)
_MESSAGE_COLUMNS = (
    "id, conversation_id, parent_id, role, text, content, reasoning, refusal, tool_calls, "
    "tool_call_id, name, status, error, finish_reason, request_body, provider, model, "
    "model_used, meta, usage, metrics, cost, extra, created_at, updated_at"
)
_M_COLUMNS = ", ".join(f"m.{c.strip()}" for c in _MESSAGE_COLUMNS.split(","))


class _Unset(Enum):
    UNSET = 0


UNSET = _Unset.UNSET


def _writer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return False
        try:
            return bool(kernel32.WaitForSingleObject(handle, 0) == 0x102)  # WAIT_TIMEOUT
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _writer_alive(writer: str | None) -> bool:
    if not writer:
        return False
    host, _, pid = writer.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return int(pid) == os.getpid() or _process_alive(int(pid))


def move_aside_and_start_fresh(path: Path | str | None = None) -> Path:
    """Rename a bad database (and its -wal/-shm files) out of the way; return where it went.

    Nothing is deleted: the file keeps every byte under a name like
    `parley.sqlite3.broken-20250101-120000`. The next `Store.open(path)` starts a fresh history.
    """
    path = Path(path) if path is not None else paths.database_path()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 2
    while target.exists():
        target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
        n += 1
    try:
        path.rename(target)
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                companion.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(
            StoreErrorKind.CANNOT_OPEN,
            f"Could not move the database {path} aside: {exc.strerror or exc}.",
            path=path,
        ) from exc
    return target


def _retry_busy(step: Callable[[], object], timeout: float) -> None:
    """Run `step`, retrying for up to `timeout` seconds while the database is locked. For
    statements SQLite does not wait for by itself: switching a brand-new file to WAL needs the
    file to itself for a moment, and fails at once while another process is reading it."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


# Write failures that pass: an answer hit by one is kept and written later.
_TRANSIENT = frozenset({StoreErrorKind.LOCKED, StoreErrorKind.DISK_FULL})
_FINAL_COLUMNS = (
    "text", "reasoning", "refusal", "tool_calls", "status", "finish_reason", "usage",
    "metrics", "meta", "cost", "error", "model_used", "extra", "updated_at",
)  # fmt: skip


def _row_id(key: str) -> bool:
    return key.isascii() and key.isdigit() and len(key) <= 18


def _write_final(conn: sqlite3.Connection, msg_id: int, values: Mapping[str, Any]) -> None:
    row = conn.execute("SELECT conversation_id FROM messages WHERE id = ?", (msg_id,)).fetchone()
    if row is None:
        raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no message {msg_id}.")
    assignments = ", ".join(f"{c} = ?" for c in _FINAL_COLUMNS)
    conn.execute(
        f"UPDATE messages SET {assignments}, writer = NULL WHERE id = ?",
        (*(values.get(c) for c in _FINAL_COLUMNS), msg_id),
    )
    conn.execute(
        "UPDATE conversations SET updated_at = ?, session_id = coalesce(?, session_id) "
        "WHERE id = ?",
        (values.get("updated_at"), values.get("session_id"), row["conversation_id"]),
    )
    exchange = values.get("exchange")
    if isinstance(exchange, list) and all(isinstance(a, dict) for a in exchange):
        _insert_exchange(conn, msg_id, exchange)


def _not_parley(path: Path | None) -> StoreError:
    return StoreError(
        StoreErrorKind.CORRUPT,
        f"{path} is an SQLite file but not a Parley history. Parley can move it aside (nothing "
        "is deleted) and start a fresh history.",
        path=path,
    )


def _connect_writable(path: Path, busy_timeout: float) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            StoreErrorKind.CANNOT_OPEN,
            f"Cannot create the folder for the history database {path}: {exc.strerror or exc}.",
            path=path,
        ) from exc
    if _unwritable(path):
        raise StoreError(
            StoreErrorKind.READ_ONLY,
            f"The history database {path} is on a read-only disk or in a folder Parley may "
            "not write to. It can be opened read-only; new conversations would not be saved.",
            path=path,
        )
    try:
        return sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc


def _unwritable(path: Path) -> bool:
    """Whether the database (or, when it does not exist yet, its folder) cannot be written:
    a read-only mount, or no permission. SQLite also needs to create its -wal/-shm files
    beside the database, so the folder must be writable too."""
    folder_ok = os.access(path.parent, os.W_OK | os.X_OK)
    if folder_ok and hasattr(os, "statvfs"):  # not on Windows
        with suppress(OSError):
            folder_ok = not (os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    return not folder_ok or (path.exists() and not os.access(path, os.W_OK))


def _connect_read_only(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A read-only connection. On read-only media SQLite cannot create the -shm file a WAL
    database needs; nobody can write there either, so the file is then opened as immutable."""
    if not path.exists():
        raise StoreError(
            StoreErrorKind.NOT_FOUND,
            f"There is no history database at {path} to open read-only.",
            path=path,
        )
    base = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    uris = [base]
    if _unwritable(path):
        uris.append(base + "&immutable=1")
    error: sqlite3.Error | None = None
    for uri in uris:
        try:
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
        except sqlite3.Error as exc:
            error = exc
            continue
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            error = exc
            continue
        return conn
    assert error is not None
    raise translate(error, path) from error


class Store:
    """The history. Open with `Store.open()`; close with `close()` or use it as a context."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path | None,
        *,
        read_only: bool,
        flush_interval: float,
    ) -> None:
        self._conn = conn
        self.path = path
        self.read_only = read_only
        self.flush_interval = flush_interval
        self.schema_version = schema_version(conn)
        self.backups: list[Path] = []  # files written before migrating, this open
        self._writer = _writer_id()
        self._lock = threading.RLock()
        self._depth = 0
        self._pending: dict[int, tuple[str, str]] = {}
        # Final answers whose write failed (busy, disk full): kept until written.
        self._finals: dict[int, dict[str, Any]] = {}
        self.rescue_file: Path | None = None  # where close() put answers it could not write
        self._wake = threading.Condition(threading.Lock())
        self._last_flush = 0.0
        self._flusher: threading.Thread | None = None
        self._closed = False  # no more partials accepted
        self._conn_closed = False
        self._background_error: StoreError | None = None

    # -- opening and closing -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str | None = None,
        *,
        read_only: bool = False,
        busy_timeout: float = 5.0,
        flush_interval: float = 0.3,
        purge_after: float | None = 86_400.0,
    ) -> Store:
        """Open (creating and migrating as needed) the history at `path` (default: the data
        folder's parley.sqlite3; ":memory:" for a throwaway one).

        Raises StoreError: CORRUPT (offer `move_aside_and_start_fresh`), LOCKED (another
        instance holds the write lock; offer read-only), TOO_NEW (a newer Parley wrote it;
        read-only works), DISK_FULL, CANNOT_OPEN.

        Conversations deleted more than `purge_after` seconds ago (default a day: long past
        any undo) are removed for good; None keeps them.
        """
        memory = path == ":memory:"
        if memory:
            db_path = None
        elif path is not None:
            db_path = Path(path)
        else:
            try:
                db_path = paths.database_path()
            except paths.DataDirError as exc:
                raise StoreError(StoreErrorKind.CANNOT_OPEN, exc.message, path=exc.path) from None
        if db_path is not None and db_path.is_dir():
            raise StoreError(
                StoreErrorKind.CANNOT_OPEN,
                f"{db_path} is a folder, not a history database. Move it out of the way.",
                path=db_path,
            )
        if db_path is None:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        elif read_only:
            conn = _connect_read_only(db_path, busy_timeout)
        else:
            conn = _connect_writable(db_path, busy_timeout)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000):d}")
            conn.execute("PRAGMA foreign_keys = ON")
            version, empty = schema_state(conn)
            if version == 0 and not empty:
                raise _not_parley(db_path)
            if version > LATEST_VERSION and not read_only:
                raise StoreError(
                    StoreErrorKind.TOO_NEW,
                    f"The history database {db_path} was written by a newer Parley (schema "
                    f"{version}, this version knows up to {LATEST_VERSION}). Update Parley, or "
                    "open it read-only.",
                    path=db_path,
                )
            if read_only and version == 0:
                raise StoreError(
                    StoreErrorKind.NOT_FOUND,
                    f"The history database {db_path} is empty: there are no conversations yet.",
                    path=db_path,
                )
            backups: list[Path] = []
            if not read_only:
                if db_path is not None:
                    _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"), busy_timeout)
                conn.execute("PRAGMA synchronous = NORMAL")
                try:
                    backups = migrate(conn, db_path)
                except NotAParleyHistory:
                    raise _not_parley(db_path) from None
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, db_path) from exc
        store = cls(conn, db_path, read_only=read_only, flush_interval=flush_interval)
        store.backups = backups
        if not read_only:
            try:
                store._replay_rescues()
                store.recover_interrupted()
                if purge_after is not None:
                    store.purge_deleted(older_than=purge_after)
            except StoreError as exc:
                if exc.kind is not StoreErrorKind.LOCKED:  # busy: recover on a later open
                    store.close()
                    raise
        return store

    def close(self, *, wait: float = 15.0) -> None:
        """Commit whatever is pending and close. Safe to call twice.

        Answers that cannot be written (another process holds the write lock, the disk is
        full) are retried for up to `wait` seconds; what is still unwritten then goes to a
        rescue file (see `rescue_file`) that the next writable open adds to the history.
        """
        if self._closed:
            return
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._flusher is not None:
            self._flusher.join()
        try:
            if not self.read_only:
                self._flush_before_closing(wait)
        finally:
            with self._lock:
                self._conn_closed = True
                self._conn.close()

    def _flush_before_closing(self, wait: float) -> None:
        # A lock is usually released within seconds: worth the wait. A full disk is not.
        start = time.monotonic()
        while True:
            try:
                self.flush()
                return
            except StoreError as exc:
                limit = wait if exc.kind is StoreErrorKind.LOCKED else min(wait, 1.0)
                if exc.kind not in _TRANSIENT or time.monotonic() - start >= limit:
                    break
            time.sleep(0.25)
        if self._pending or self._finals:
            self.rescue_file = self._write_rescue()

    def _write_rescue(self) -> Path | None:
        with self._wake:
            partials, finals = dict(self._pending), dict(self._finals)
        if self.path is None:
            return None
        return rescue.write(self.path, partials, finals)

    def _replay_rescues(self) -> None:
        """Write the answers earlier processes left in rescue files (see `rescue`)."""
        if self.path is None:
            return
        for file, data in rescue.pending(self.path):
            partials = data.get("partials") or {}
            finals = data.get("finals") or {}
            if not isinstance(partials, dict) or not isinstance(finals, dict):
                continue
            try:
                self._replay(partials, finals)
            except StoreError as exc:
                if exc.kind in _TRANSIENT:
                    return  # still busy or full: the files wait for a later open
                continue  # a damaged file: left where it is, for a person to look at
            except (ValueError, TypeError, OverflowError):
                continue  # the same
            with suppress(OSError):
                file.unlink()

    def _replay(self, partials: dict[str, Any], finals: dict[str, Any]) -> None:
        scalar = (str, int, float, type(None))
        with self._write() as conn:
            for key, value in partials.items():
                if _row_id(key) and isinstance(value, list) and len(value) == 2:
                    conn.execute(
                        "UPDATE messages SET text = ?, reasoning = ? "
                        "WHERE id = ? AND status IN ('streaming', 'interrupted')",
                        (str(value[0]), str(value[1]), int(key)),
                    )
            for key, values in finals.items():
                if not _row_id(key) or not isinstance(values, dict):
                    continue
                if values.get("status") not in FINAL_STATUSES:
                    continue
                if not all(isinstance(v, scalar) for k, v in values.items() if k != "exchange"):
                    continue  # (the exchange is checked where it is written)
                row = conn.execute(
                    "SELECT status FROM messages WHERE id = ?", (int(key),)
                ).fetchone()
                if row is not None and row["status"] in ("streaming", "interrupted"):
                    _write_final(conn, int(key), values)

    @property
    def unsaved(self) -> StoreError | None:
        """Why some answer is not in the database yet (kept in memory and retried), or None
        when everything given to the store is written."""
        with self._wake:
            waiting = bool(self._pending or self._finals)
        return self._background_error if waiting else None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def check(self) -> list[str]:
        """SQLite's integrity check: an empty list when the file is sound."""
        with self._read() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        problems = [str(r[0]) for r in rows]
        return [] if problems == ["ok"] else problems

    def data_version(self) -> int | None:
        """SQLite's `data_version`: it changes when another process (`parley import`, a second
        window) commits to the history, never for this store's own writes. None when the
        store is busy right now (its writer holds it) or closed: ask again later. Cheap (no
        disk read), and it never waits, so the window can poll it."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._conn_closed:
                return None
            row = self._conn.execute("PRAGMA data_version").fetchone()
            return int(row[0]) if row else None
        except sqlite3.Error:
            return None
        finally:
            self._lock.release()

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._ensure_open()
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc

    @contextmanager
    def batch(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside is saved together or not at all."""
        if self.read_only:
            raise StoreError(
                StoreErrorKind.READ_ONLY,
                "The history is open read-only: this change was not saved.",
                path=self.path,
            )
        with self._lock:
            self._ensure_open()
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc
            self._depth = 1
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translate(exc, self.path) from exc
                raise
            finally:
                self._depth = 0

    _write = batch

    def _ensure_open(self) -> None:
        if self._conn_closed:
            raise StoreError(StoreErrorKind.INVALID, "The history database is closed.")

    # -- conversations -------------------------------------------------------------------

    def create_conversation(
        self,
        *,
        title: str = "",
        system_prompt: str = "",
        provider: str | None = None,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        advanced: Mapping[str, Any] | None = None,
        preset: str | None = None,
        session_id: str | None = None,
        pinned: bool = False,
    ) -> int:
        t = time.time()
        clean_title = make_title(title) if title.strip() else ""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO conversations (title, title_set, system_prompt, provider, model, "
                "params, advanced, preset, pinned, session_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    clean_title,
                    int(bool(clean_title)),
                    system_prompt,
                    provider,
                    model,
                    to_json(dict(params or {})),
                    to_json(dict(advanced or {})),
                    preset,
                    int(pinned),
                    session_id,
                    t,
                    t,
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def get_conversation(self, conv_id: int, *, include_deleted: bool = False) -> Conversation:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conv_id,)
            ).fetchone()
        if row is None or (row["deleted_at"] is not None and not include_deleted):
            raise StoreError(
                StoreErrorKind.NOT_FOUND, f"There is no conversation {conv_id} in the history."
            )
        return _conversation(row)

    def list_conversations(self, *, limit: int | None = 100, offset: int = 0) -> list[Conversation]:
        """Conversations, pinned first, then most recently active first."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
                "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            ).fetchall()
        return [_conversation(r) for r in rows]

    def count_conversations(self) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM conversations WHERE deleted_at IS NULL"
            ).fetchone()
        return int(row[0])

    def latest_conversation_id(self) -> int | None:
        """The most recently active conversation (pinned or not), for `--last`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM conversations WHERE deleted_at IS NULL "
                "ORDER BY updated_at DESC, id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])

    def update_conversation(
        self,
        conv_id: int,
        *,
        system_prompt: str | _Unset = UNSET,
        provider: str | _Unset | None = UNSET,
        model: str | _Unset | None = UNSET,
        params: Mapping[str, Any] | _Unset = UNSET,
        advanced: Mapping[str, Any] | _Unset = UNSET,
        preset: str | _Unset | None = UNSET,
        session_id: str | _Unset | None = UNSET,
    ) -> None:
        """Change a conversation's settings (only the arguments given). Recency is unchanged."""
        changes: dict[str, Any] = {}
        for column, value in (
            ("system_prompt", system_prompt),
            ("provider", provider),
            ("model", model),
            ("preset", preset),
            ("session_id", session_id),
        ):
            if value is not UNSET:
                changes[column] = value
        for column, mapping in (("params", params), ("advanced", advanced)):
            if not isinstance(mapping, _Unset):
                changes[column] = to_json(dict(mapping))
        if not changes:
            return
        assignments = ", ".join(f"{c} = ?" for c in changes)
        self._update_conversation_row(conv_id, assignments, tuple(changes.values()))

    def rename_conversation(self, conv_id: int, title: str) -> None:
        """Rename; an empty title goes back to the title made from the first prompt."""
        clean = make_title(title)
        with self._write() as conn:
            self._require_conversation(conn, conv_id)
            if clean:
                conn.execute(
                    "UPDATE conversations SET title = ?, title_set = 1 WHERE id = ?",
                    (clean, conv_id),
                )
            else:
                conn.execute(
                    "UPDATE conversations SET title = ?, title_set = 0 WHERE id = ?",
                    (self._auto_title(conn, conv_id), conv_id),
                )

    def set_pinned(self, conv_id: int, pinned: bool) -> None:
        self._update_conversation_row(conv_id, "pinned = ?", (int(pinned),))

    def save_draft(self, conv_id: int, text: str) -> None:
        """Keep the unsent text of a conversation's input box."""
        self._update_conversation_row(conv_id, "draft = ?", (text,))

    def delete_conversation(self, conv_id: int) -> str:
        """Hide a conversation; return a token for `undo_delete`. `purge_deleted` removes it."""
        token = secrets.token_urlsafe(12)
        self._update_conversation_row(
            conv_id, "deleted_at = ?, delete_token = ?", (time.time(), token)
        )
        return token

    def undo_delete(self, token: str) -> int:
        """Bring back the conversation deleted with `token`; return its id."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM conversations WHERE delete_token = ?", (token,)
            ).fetchone()
            if row is None:
                raise StoreError(
                    StoreErrorKind.NOT_FOUND,
                    "That conversation can no longer be restored (it was removed for good).",
                )
            conn.execute(
                "UPDATE conversations SET deleted_at = NULL, delete_token = NULL WHERE id = ?",
                (row["id"],),
            )
            return int(row["id"])

    def purge_deleted(self, older_than: float = 0.0) -> int:
        """Remove for good conversations deleted more than `older_than` seconds ago."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM conversations WHERE deleted_at IS NOT NULL"
            ).fetchone()
        if not row[0]:
            return 0  # nothing to do: no write lock taken
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                (time.time() - older_than,),
            )
            return cur.rowcount

    def _update_conversation_row(
        self, conv_id: int, assignments: str, values: tuple[Any, ...]
    ) -> None:
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE conversations SET {assignments} WHERE id = ? AND deleted_at IS NULL",
                (*values, conv_id),
            )
            if cur.rowcount == 0:
                raise StoreError(
                    StoreErrorKind.NOT_FOUND, f"There is no conversation {conv_id} in the history."
                )

    def _require_conversation(self, conn: sqlite3.Connection, conv_id: int) -> sqlite3.Row:
        row = conn.execute(
            "SELECT id, title, title_set FROM conversations WHERE id = ? AND deleted_at IS NULL",
            (conv_id,),
        ).fetchone()
        if row is None:
            raise StoreError(
                StoreErrorKind.NOT_FOUND, f"There is no conversation {conv_id} in the history."
            )
        return row  # type: ignore[no-any-return]

    def _auto_title(self, conn: sqlite3.Connection, conv_id: int) -> str:
        for row in conn.execute(
            "SELECT text FROM messages WHERE conversation_id = ? AND role = 'user' ORDER BY id",
            (conv_id,),
        ):
            title = make_title(row["text"])
            if title:
                return title
        return ""

    # -- messages ------------------------------------------------------------------------

    def add_message(
        self,
        conv_id: int,
        parent_id: int | None,
        role: str,
        content: str | Sequence[ContentPart],
        *,
        reasoning: str = "",
        tool_calls: Sequence[Any] | None = None,
        tool_call_id: str | None = None,
        name: str | None = None,
        status: MessageStatus = "complete",
        provider: str | None = None,
        model: str | None = None,
    ) -> int:
        """Add a message under `parent_id` (None: a first message) and show its branch.

        Edit & resend = a new user message under the edited message's parent (a sibling).
        The first user prompt names an untitled conversation.
        """
        if role not in ROLES:
            raise StoreError(StoreErrorKind.INVALID, f"Unknown message role {role!r}.")
        if status not in MESSAGE_STATUSES:
            raise StoreError(StoreErrorKind.INVALID, f"Unknown message status {status!r}.")
        text, content_json = content_columns(content)
        with self._write() as conn:
            conv = self._require_conversation(conn, conv_id)
            self._require_parent(conn, conv_id, parent_id)
            t = time.time()
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, parent_id, role, text, content, "
                "reasoning, tool_calls, tool_call_id, name, status, provider, model, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conv_id,
                    parent_id,
                    role,
                    text,
                    content_json,
                    reasoning,
                    tool_calls_json(tool_calls),
                    tool_call_id,
                    name,
                    status,
                    provider,
                    model,
                    t,
                    t,
                ),
            )
            msg_id = cur.lastrowid
            assert msg_id is not None
            title = conv["title"]
            if role == "user" and not conv["title_set"] and not title:
                title = make_title(text)
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ?, title = ? "
                "WHERE id = ?",
                (msg_id, t, title, conv_id),
            )
            return msg_id

    def begin_answer(
        self,
        conv_id: int,
        parent_id: int | None,
        request_body: str | Mapping[str, Any] | None,
        provider: str | None,
        model: str | None,
    ) -> int:
        """Create an answer with status "streaming" under `parent_id` and show it.

        `request_body` is the JSON body sent (its exact text, or a mapping), never the headers
        (which carry the key).
        Regenerate = another `begin_answer` under the same user message (a sibling).
        """
        with self._write() as conn:
            self._require_conversation(conn, conv_id)
            self._require_parent(conn, conv_id, parent_id)
            t = time.time()
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, parent_id, role, status, request_body, "
                "provider, model, writer, created_at, updated_at) "
                "VALUES (?, ?, 'assistant', 'streaming', ?, ?, ?, ?, ?, ?)",
                (
                    conv_id,
                    parent_id,
                    _body_text(request_body),
                    provider,
                    model,
                    self._writer,
                    t,
                    t,
                ),
            )
            msg_id = cur.lastrowid
            assert msg_id is not None
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                (msg_id, t, conv_id),
            )
            return msg_id

    def save_partial(self, msg_id: int, text: str, reasoning: str = "") -> None:
        """Record the answer so far (the whole text, not a delta). Cheap: call on every token.

        A background thread commits it within `flush_interval`. A commit that fails (disk
        full, another process holding the write lock) never stops the stream: the text stays
        pending and is retried, and `unsaved` says why it is not written yet.
        """
        if self.read_only:
            raise StoreError(
                StoreErrorKind.READ_ONLY,
                "The history is open read-only: this answer is not being saved.",
                path=self.path,
            )
        with self._wake:
            if self._closed:
                raise StoreError(StoreErrorKind.INVALID, "The history database is closed.")
            self._pending[msg_id] = (text, reasoning)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="parley-store-flush", daemon=True
                )
                self._flusher.start()
            self._wake.notify()

    def flush(self) -> None:
        """Commit every pending partial answer, and every final answer not yet written, now.
        Raises the StoreError if that fails; nothing is dropped then."""
        with self._wake:
            batch = self._pending
            self._pending = {}
            finals = dict(self._finals)
            self._last_flush = time.monotonic()
        if not batch and not finals:
            return
        try:
            with self._write() as conn:
                t = time.time()
                conn.executemany(
                    "UPDATE messages SET text = ?, reasoning = ?, updated_at = ? "
                    "WHERE id = ? AND status = 'streaming'",
                    [
                        (text, reasoning, t, msg_id)
                        for msg_id, (text, reasoning) in batch.items()
                        if msg_id not in finals
                    ],
                )
                for msg_id, values in finals.items():
                    _write_final(conn, msg_id, values)
        except StoreError as exc:
            with self._wake:
                for msg_id, value in batch.items():
                    self._pending.setdefault(msg_id, value)
            self._background_error = exc
            raise
        with self._wake:
            for msg_id in finals:
                self._finals.pop(msg_id, None)
        self._background_error = None  # whatever failed before is saved now

    def _flush_loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._finals and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                delay = self._last_flush + self.flush_interval - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
            with suppress(StoreError):  # kept; `unsaved` says why; tried again shortly
                self.flush()

    def finish_answer(
        self,
        msg_id: int,
        *,
        text: str,
        reasoning: str = "",
        refusal: str = "",
        tool_calls: Sequence[Any] | None = None,
        status: MessageStatus = "complete",
        finish_reason: str | None = None,
        usage: Any = None,
        metrics: Any = None,
        meta: Any = None,
        cost: float | None = None,
        error: Any = None,
        model_used: str | None = None,
        extra: Mapping[str, Any] | None = None,
        exchange: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Store the final answer (and `exchange`, its attempts' records, see
        `parley.core.protocol.exchange`). `usage`, `metrics`, `meta` take the engine's
        dataclasses or dicts; `error` a ParleyError (stored via to_dict()) or a dict. The model
        that answered defaults to meta.model; a session id in meta becomes the conversation's."""
        if status not in FINAL_STATUSES:
            raise StoreError(
                StoreErrorKind.INVALID, f"An answer cannot finish with status {status!r}."
            )
        meta_dict = from_json(to_json(meta))
        if model_used is None and isinstance(meta_dict, dict):
            model_used = meta_dict.get("model")
        session_id = meta_dict.get("session_id") if isinstance(meta_dict, dict) else None
        values: dict[str, Any] = {
            "text": text,
            "reasoning": reasoning,
            "refusal": refusal,
            "tool_calls": tool_calls_json(tool_calls),
            "status": status,
            "finish_reason": finish_reason,
            "usage": to_json(usage),
            "metrics": to_json(metrics),
            "meta": to_json(meta),
            "cost": cost,
            "error": to_json(error),
            "model_used": model_used,
            "extra": to_json(extra),
            "session_id": session_id,
            "updated_at": time.time(),
            "exchange": [dict(a) for a in exchange] if exchange else None,
        }
        with self._wake:
            self._pending.pop(msg_id, None)
        try:
            with self._write() as conn:
                _write_final(conn, msg_id, values)
        except StoreError as exc:
            if exc.kind not in _TRANSIENT:
                raise
            # Kept in memory and written as soon as the database takes it (see `unsaved`);
            # close() puts what is still unwritten into a rescue file.
            with self._wake:
                self._finals[msg_id] = values
                self._background_error = exc
                if self._flusher is None and not self._closed:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name="parley-store-flush", daemon=True
                    )
                    self._flusher.start()
                self._wake.notify()
            raise StoreError(
                exc.kind,
                f"{exc.message} This answer is kept and saved as soon as the history can be "
                "written again.",
                path=self.path,
            ) from exc

    def choose_candidate(
        self,
        msg_id: int,
        *,
        text: str,
        reasoning: str,
        finish_reason: str | None,
        extra: Mapping[str, Any],
    ) -> None:
        """Make one of an answer's candidates its text (see `parley.core.chat.candidates`):
        the conversation goes on from it, and search finds it."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE messages SET text = ?, reasoning = ?, finish_reason = ?, extra = ?, "
                "updated_at = ? WHERE id = ? AND role = 'assistant'",
                (text, reasoning, finish_reason, to_json(extra), time.time(), msg_id),
            )
            if cur.rowcount == 0:
                raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no answer {msg_id}.")

    def exchanges(self, msg_id: int) -> list[ExchangeRecord]:
        """What was sent and received for answer `msg_id`, attempt by attempt ([] for answers
        stored before exchanges were recorded)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT data FROM exchanges WHERE message_id = ? ORDER BY attempt, id", (msg_id,)
            ).fetchall()
        out: list[ExchangeRecord] = []
        for (data,) in rows:
            parsed = from_json(data)
            if isinstance(parsed, dict):
                out.append(ExchangeRecord.from_dict(parsed))
        return out

    def request_url(self, msg_id: int) -> str | None:
        """The URL answer `msg_id`'s request went to, where an exchange was recorded."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT url FROM exchanges WHERE message_id = ? ORDER BY attempt DESC LIMIT 1",
                (msg_id,),
            ).fetchone()
        return None if row is None else str(row[0])

    def latest_answer_id(self) -> int | None:
        """The newest answer in the history (any conversation not deleted)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.role = 'assistant' AND c.deleted_at IS NULL "
                "ORDER BY m.created_at DESC, m.id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])

    def recover_interrupted(self) -> list[int]:
        """Mark answers left "streaming" by a process that is gone as "interrupted" (their
        text is kept). Answers another running Parley is streaming are left alone."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, writer FROM messages WHERE status = 'streaming'"
            ).fetchall()
        dead = [
            int(r["id"])
            for r in rows
            if r["writer"] != self._writer and not _writer_alive(r["writer"])
        ]
        if dead:
            with self._write() as conn:
                conn.executemany(
                    "UPDATE messages SET status = 'interrupted', writer = NULL "
                    "WHERE id = ? AND status = 'streaming'",
                    [(i,) for i in dead],
                )
        return dead

    def _require_parent(
        self, conn: sqlite3.Connection, conv_id: int, parent_id: int | None
    ) -> None:
        if parent_id is None:
            return
        row = conn.execute(
            "SELECT conversation_id FROM messages WHERE id = ?", (parent_id,)
        ).fetchone()
        if row is None or row["conversation_id"] != conv_id:
            raise StoreError(
                StoreErrorKind.INVALID,
                f"Message {parent_id} is not part of conversation {conv_id}.",
            )

    # -- reading messages and branches ---------------------------------------------------

    def get_message(self, msg_id: int) -> StoredMessage:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (msg_id,)
            ).fetchone()
        if row is None:
            raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no message {msg_id}.")
        return _message(row)

    def messages(self, conv_id: int) -> list[StoredMessage]:
        """Every message of a conversation, all branches, oldest first (parents first)."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
                (conv_id,),
            ).fetchall()
        return [_message(r) for r in rows]

    def children(self, msg_id: int) -> list[StoredMessage]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE parent_id = ? ORDER BY id",
                (msg_id,),
            ).fetchall()
        return [_message(r) for r in rows]

    def roots(self, conv_id: int) -> list[StoredMessage]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages "
                "WHERE conversation_id = ? AND parent_id IS NULL ORDER BY id",
                (conv_id,),
            ).fetchall()
        return [_message(r) for r in rows]

    def path_to(self, leaf_id: int) -> list[StoredMessage]:
        """The messages from the root down to `leaf_id`: what is shown and sent as context."""
        with self._read() as conn:
            rows = conn.execute(
                "WITH RECURSIVE chain(id, depth) AS ("
                " SELECT id, 0 FROM messages WHERE id = ?"
                " UNION ALL"
                " SELECT m.parent_id, chain.depth + 1 FROM messages m JOIN chain ON m.id = chain.id"
                " WHERE m.parent_id IS NOT NULL"
                f") SELECT {_M_COLUMNS} FROM chain JOIN messages m ON m.id = chain.id "
                "ORDER BY chain.depth DESC",
                (leaf_id,),
            ).fetchall()
        if not rows:
            raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no message {leaf_id}.")
        return [_message(r) for r in rows]

    def current_path(self, conv_id: int) -> list[StoredMessage]:
        """The branch the conversation shows (its current leaf's path); [] when empty."""
        leaf = self.current_leaf(conv_id)
        return [] if leaf is None else self.path_to(leaf)

    def current_leaf(self, conv_id: int) -> int | None:
        conv = self.get_conversation(conv_id)
        if conv.current_leaf_id is not None:
            return conv.current_leaf_id
        with self._read() as conn:
            row = conn.execute(
                "SELECT max(id) FROM messages WHERE conversation_id = ?", (conv_id,)
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def sibling_ids(self, msg_id: int) -> list[int]:
        """Ids of the message and its siblings (same parent), oldest first."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT conversation_id, parent_id FROM messages WHERE id = ?", (msg_id,)
            ).fetchone()
            if row is None:
                raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no message {msg_id}.")
            rows = conn.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id",
                (row["conversation_id"], row["parent_id"]),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def siblings(self, msg_id: int) -> Siblings:
        """(position, total) among siblings: position 0-based, shown as `< position+1/total >`."""
        ids = self.sibling_ids(msg_id)
        return Siblings(ids.index(msg_id), len(ids))

    def leaf_under(self, msg_id: int) -> int:
        """The leaf to show below `msg_id`: the current leaf when it is below it, else the
        newest branch at each fork."""
        msg = self.get_message(msg_id)
        current = self.current_leaf(msg.conversation_id)
        if current is not None and any(m.id == msg_id for m in self.path_to(current)):
            return current
        leaf = msg_id
        with self._read() as conn:
            while True:
                row = conn.execute(
                    "SELECT max(id) FROM messages WHERE parent_id = ?", (leaf,)
                ).fetchone()
                if row[0] is None:
                    return leaf
                leaf = int(row[0])

    def select_sibling(self, msg_id: int, offset: int) -> int:
        """Show the sibling `offset` places from `msg_id` (clamped); return the new leaf."""
        ids = self.sibling_ids(msg_id)
        index = max(0, min(len(ids) - 1, ids.index(msg_id) + offset))
        leaf = self.leaf_under(ids[index])
        self.set_current_leaf(self.get_message(msg_id).conversation_id, leaf)
        return leaf

    def show_message(self, msg_id: int) -> int:
        """Make the branch holding `msg_id` the shown one (e.g. a search hit); return its leaf."""
        leaf = self.leaf_under(msg_id)
        self.set_current_leaf(self.get_message(msg_id).conversation_id, leaf)
        return leaf

    def set_current_leaf(self, conv_id: int, msg_id: int) -> None:
        with self._write() as conn:
            self._require_conversation(conn, conv_id)
            self._require_parent(conn, conv_id, msg_id)
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (msg_id, conv_id)
            )

    # -- search --------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Full-text search over titles and message text (every word, as a prefix).

        Title matches come first, then messages, best match first. In each snippet the
        matched words are wrapped in MATCH_START/MATCH_END. Any query is safe: "C++", a stray
        quote or AND/OR are searched as text.
        """
        match = fts_query(query)
        if match is None:
            return []
        if self.schema_version < 2:
            raise StoreError(
                StoreErrorKind.READ_ONLY,
                "Search needs the history to be upgraded; open it normally (not read-only).",
                path=self.path,
            )
        with self._read() as conn:
            titles = conn.execute(
                "SELECT c.id, c.title, c.updated_at, "
                "highlight(titles_fts, 0, char(2), char(3)) AS snippet "
                "FROM titles_fts JOIN conversations c ON c.id = titles_fts.rowid "
                "WHERE titles_fts MATCH ? AND c.deleted_at IS NULL "
                "ORDER BY titles_fts.rank LIMIT ?",
                (match, limit),
            ).fetchall()
            bodies = conn.execute(
                "SELECT m.conversation_id, m.id, c.title, c.updated_at, "
                "snippet(messages_fts, 0, char(2), char(3), '…', 16) AS snippet "
                "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
                "JOIN conversations c ON c.id = m.conversation_id "
                "WHERE messages_fts MATCH ? AND c.deleted_at IS NULL "
                "ORDER BY messages_fts.rank LIMIT ?",
                (match, limit),
            ).fetchall()
        hits = [
            SearchHit(int(r["id"]), None, r["title"], r["snippet"], float(r["updated_at"]))
            for r in titles
        ]
        hits += [
            SearchHit(
                int(r["conversation_id"]),
                int(r["id"]),
                r["title"],
                r["snippet"],
                float(r["updated_at"]),
            )
            for r in bodies
        ]
        return hits[:limit]

    # -- whole conversations in and out --------------------------------------------------

    def start_from_request(
        self, request: ChatRequest, *, title: str = ""
    ) -> tuple[int, int | None]:
        """A new conversation holding `request`'s settings and messages (for `ask --save`).

        Leading system/developer messages become the system prompt. Returns the conversation
        id and the last message's id (the parent for `begin_answer`).
        """
        messages = list(request.messages)
        system: list[str] = []
        while messages and messages[0].role in ("system", "developer"):
            system.append(messages.pop(0).text())
        with self.batch():
            conv_id = self.create_conversation(
                title=title,
                system_prompt="\n\n".join(system),
                provider=request.provider,
                model=request.model,
                params=request.params,
                advanced=request.advanced,
                session_id=request.session_id,
            )
            parent: int | None = None
            for m in messages:
                parent = self.add_message(
                    conv_id,
                    parent,
                    m.role,
                    m.content,
                    tool_calls=m.tool_calls,
                    tool_call_id=m.tool_call_id,
                    name=m.name,
                )
        return conv_id, parent

    def import_records(
        self,
        conversation: Mapping[str, Any] | ConversationRecord,
        messages: Sequence[Mapping[str, Any] | MessageRecord],
        *,
        current_leaf: Any = None,
    ) -> int:
        """Insert a whole conversation from plain records (see parley.core.store.export), with new
        ids; `parent_id` and `current_leaf` refer to the records' own `id`s. Atomic.

        Every record is validated first (ConversationRecord, MessageRecord): a field of the
        wrong type, a time that is not one or an image that is not base64 raises
        StoreError(INVALID) naming the message and the field, and nothing is stored.
        """
        conv = _validated(ConversationRecord, conversation, "The conversation")
        records = [
            _validated(MessageRecord, m, f"Message {i + 1}{_id_of(m)}")
            for i, m in enumerate(messages)
        ]
        by_old_id: dict[Any, MessageRecord] = {}
        for record in records:
            if record.id in by_old_id:
                raise StoreError(
                    StoreErrorKind.INVALID,
                    f"Two messages in the import have the same id {record.id!r}.",
                )
            by_old_id[record.id] = record
        order = _parents_first(records, by_old_id)
        t = time.time()
        with self.batch() as conn:
            cur = conn.execute(
                "INSERT INTO conversations (title, title_set, system_prompt, provider, model, "
                "params, advanced, preset, pinned, session_id, draft, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conv.title,
                    int(conv.title_set),
                    conv.system_prompt,
                    conv.provider,
                    conv.model,
                    to_json(conv.params),
                    to_json(conv.advanced),
                    conv.preset,
                    int(conv.pinned),
                    conv.session_id,
                    conv.draft,
                    conv.created_at if conv.created_at is not None else t,
                    t,
                ),
            )
            conv_id = cur.lastrowid
            assert conv_id is not None
            new_ids: dict[Any, int] = {}
            for record in order:
                new_ids[record.id] = self._insert_record(conn, conv_id, record, new_ids, t)
            if current_leaf is None:
                current_leaf = conv.current_leaf_id
            leaf = new_ids.get(current_leaf) if isinstance(current_leaf, int | str) else None
            conn.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (leaf, conv_id)
            )
        return conv_id

    def _insert_record(
        self,
        conn: sqlite3.Connection,
        conv_id: int,
        r: MessageRecord,
        new_ids: Mapping[Any, int],
        t: float,
    ) -> int:
        status = "interrupted" if r.status == "streaming" else r.status
        if isinstance(r.content, list):
            text, content_json = content_columns(r.content)
        else:
            text, content_json = r.text or r.content or "", None
        created = r.created_at if r.created_at is not None else t
        cur = conn.execute(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS.replace('id, ', '', 1)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conv_id,
                new_ids[r.parent_id] if r.parent_id is not None else None,
                r.role,
                text,
                content_json,
                r.reasoning,
                r.refusal,
                tool_calls_json(r.tool_calls),
                r.tool_call_id,
                r.name,
                status,
                _given(r.error),
                r.finish_reason,
                to_json(r.request_body),
                r.provider,
                r.model,
                r.model_used,
                to_json(r.meta),
                _given(r.usage),
                _given(r.metrics),
                r.cost,
                to_json(r.extra),
                created,
                r.updated_at if r.updated_at is not None else created,
            ),
        )
        assert cur.lastrowid is not None
        if r.exchange:
            attempts = [a.model_dump(mode="json", exclude_unset=True) for a in r.exchange]
            _insert_exchange(conn, cur.lastrowid, attempts)
        return cur.lastrowid


def _given(record: BaseModel | None) -> str | None:
    """A validated sub-record as JSON with exactly the fields the import gave."""
    if record is None:
        return None
    return to_json(record.model_dump(mode="json", exclude_unset=True))


def _id_of(record: Any) -> str:
    value = record.get("id") if isinstance(record, Mapping) else getattr(record, "id", None)
    if isinstance(value, int | str) and len(str(value)) <= 40:
        return f" (id {value!r})"
    return ""


_R = TypeVar("_R", bound=BaseModel)


def _validated(model: type[_R], record: Any, what: str) -> _R:
    if isinstance(record, model):
        return record
    if not isinstance(record, Mapping):
        raise StoreError(StoreErrorKind.INVALID, f"{what} in the import is not an object.")
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        # Locations and messages only: the values may be huge, or hold what should not be shown.
        problems = []
        for item in exc.errors(include_input=False, include_url=False)[:3]:
            where = ".".join(str(p) for p in item["loc"] if not _is_union_tag(p)) or "it"
            if item["type"] == "missing":
                problems.append(f"{where} is missing")
            else:
                problems.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise StoreError(
            StoreErrorKind.INVALID,
            f"{what} in the import is malformed: {'; '.join(problems)}{more}.",
        ) from None


def _is_union_tag(part: Any) -> bool:
    # pydantic names the union member it tried ("str", "constrained-int", "function-after[...]")
    return isinstance(part, str) and (
        part in ("str", "int", "float", "none", "list[...]", "constrained-int", "constrained-float")
        or part.startswith(("function-", "tagged-union", "list[", "dict["))
    )


def _parents_first(
    messages: Sequence[MessageRecord], by_id: Mapping[Any, MessageRecord]
) -> list[MessageRecord]:
    """The records in their given order, except that a child given before its parent waits
    for it (the new ids follow this order, so siblings keep theirs). Linear: a waiting child
    is released when its parent is placed. Rejects loops and parents not in the import."""
    waiting: dict[Any, list[MessageRecord]] = {}
    placed: set[Any] = set()
    order: list[MessageRecord] = []
    for record in messages:
        parent = record.parent_id
        if parent is not None and parent not in by_id:
            raise StoreError(
                StoreErrorKind.INVALID,
                f"Message {record.id!r} in the import names a parent {parent!r} that is not there.",
            )
        if parent is not None and parent not in placed:
            waiting.setdefault(parent, []).append(record)
            continue
        ready = [record]
        while ready:
            current = ready.pop()
            placed.add(current.id)
            order.append(current)
            ready.extend(reversed(waiting.pop(current.id, [])))
    if len(order) != len(messages):
        raise StoreError(StoreErrorKind.INVALID, "The messages in the import form a loop.")
    return order


def _conversation(row: sqlite3.Row) -> Conversation:
    (id_, title, title_set, system_prompt, provider, model, params, advanced, preset, pinned,
     session_id, draft, current_leaf_id, created_at, updated_at, deleted_at) = row  # fmt: skip
    return Conversation(
        id=id_,
        title=title,
        title_set=bool(title_set),
        system_prompt=system_prompt,
        provider=provider,
        model=model,
        params=from_json(params) or {},
        advanced=from_json(advanced) or {},
        preset=preset,
        pinned=bool(pinned),
        session_id=session_id,
        draft=draft,
        current_leaf_id=current_leaf_id,
        created_at=created_at,
        updated_at=updated_at,
        deleted_at=deleted_at,
    )


def _body_text(body: str | Mapping[str, Any] | None) -> str | None:
    if body is None or isinstance(body, str):
        return body
    return to_json(dict(body))


def _insert_exchange(
    conn: sqlite3.Connection, msg_id: int, records: Sequence[Mapping[str, Any]]
) -> None:
    conn.executemany(
        "INSERT INTO exchanges (message_id, attempt, url, data) VALUES (?, ?, ?, ?)",
        [
            (msg_id, int(r.get("attempt") or i + 1), str(r.get("url") or ""), to_json(r))
            for i, r in enumerate(records)
        ],
    )


def _message(row: sqlite3.Row) -> StoredMessage:
    (id_, conversation_id, parent_id, role, text, content, reasoning, refusal, tool_calls,
     tool_call_id, name, status, error, finish_reason, request_body, provider, model,
     model_used, meta, usage, metrics, cost, extra, created_at, updated_at) = row  # fmt: skip
    return StoredMessage(
        id=id_,
        conversation_id=conversation_id,
        parent_id=parent_id,
        role=role,
        text=text,
        content=text if content is None else parse_content(text, content),
        reasoning=reasoning,
        refusal=refusal,
        tool_calls=None if tool_calls is None else parse_tool_calls(tool_calls),
        tool_call_id=tool_call_id,
        name=name,
        status=status,
        error=from_json(error),
        finish_reason=finish_reason,
        request_body_text=request_body,
        provider=provider,
        model=model,
        model_used=model_used,
        meta=from_json(meta),
        usage=from_json(usage),
        metrics=from_json(metrics),
        cost=cost,
        extra=from_json(extra),
        created_at=created_at,
        updated_at=updated_at,
    )

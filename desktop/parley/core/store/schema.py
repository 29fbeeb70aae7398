"""The database schema as an ordered list of migrations, and the code that applies them.

`PRAGMA user_version` holds the schema version. Migration N takes a version N-1 database to
version N. Each step starts from a backup copy of the file (SQLite's online backup API), so a
failed or buggy migration never costs what was already saved. A migration's SQL is frozen once
released: change the schema by appending a migration, never by editing one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

V1_TABLES = """
CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY,
    title           TEXT NOT NULL DEFAULT '',
    title_set       INTEGER NOT NULL DEFAULT 0,  -- 1 once the user renamed it
    system_prompt   TEXT NOT NULL DEFAULT '',
    provider        TEXT,
    model           TEXT,
    params          TEXT NOT NULL DEFAULT '{}',  -- JSON
    advanced        TEXT NOT NULL DEFAULT '{}',  -- JSON
    preset          TEXT,
    pinned          INTEGER NOT NULL DEFAULT 0,
    session_id      TEXT,
    draft           TEXT NOT NULL DEFAULT '',
    current_leaf_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    deleted_at      REAL,
    delete_token    TEXT
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id       INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    role            TEXT NOT NULL
                    CHECK (role IN ('system', 'developer', 'user', 'assistant', 'tool')),
    text            TEXT NOT NULL DEFAULT '',  -- the text parts joined: shown, searched
    content         TEXT,  -- JSON list of content parts when not plain text
    reasoning       TEXT NOT NULL DEFAULT '',
    refusal         TEXT NOT NULL DEFAULT '',
    tool_calls      TEXT,  -- JSON list of {id, name, arguments}
    tool_call_id    TEXT,
    name            TEXT,
    status          TEXT NOT NULL DEFAULT 'complete'
                    CHECK (status IN ('complete', 'streaming', 'stopped', 'failed',
                                      'interrupted')),
    error           TEXT,  -- JSON, ParleyError.to_dict()
    finish_reason   TEXT,
    request_body    TEXT,  -- JSON: the body sent, never headers
    provider        TEXT,
    model           TEXT,  -- the model asked for
    model_used      TEXT,  -- the model that answered
    meta            TEXT,  -- JSON
    usage           TEXT,  -- JSON
    metrics         TEXT,  -- JSON
    cost            REAL,
    extra           TEXT,  -- JSON, e.g. logprobs
    writer          TEXT,  -- "host:pid" of the process streaming it
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);

CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE INDEX messages_by_parent ON messages(parent_id, id);
CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
CREATE INDEX conversations_by_recency
    ON conversations(pinned DESC, updated_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX conversations_by_delete_token
    ON conversations(delete_token) WHERE delete_token IS NOT NULL;
"""

V2_SEARCH = """
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE titles_fts USING fts5(
    title, content='conversations', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER titles_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO titles_fts(rowid, title) VALUES (new.id, new.title);
END;
CREATE TRIGGER titles_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO titles_fts(titles_fts, rowid, title) VALUES ('delete', old.id, old.title);
END;
CREATE TRIGGER titles_fts_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO titles_fts(titles_fts, rowid, title) VALUES ('delete', old.id, old.title);
    INSERT INTO titles_fts(rowid, title) VALUES (new.id, new.title);
END;

INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
INSERT INTO titles_fts(titles_fts) VALUES ('rebuild');
"""


V3_EXCHANGES = """
CREATE TABLE exchanges (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    url         TEXT NOT NULL,
    data        TEXT NOT NULL  -- JSON: headers (key redacted), status, raw lines with offsets
);

CREATE INDEX exchanges_by_message ON exchanges(message_id, attempt);
"""


V4_LAB = """
CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    source      TEXT,  -- the file it was read from, as given
    definition  TEXT NOT NULL,  -- the experiment file's text, as run (no keys: files hold none)
    plan_size   INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'cancelled', 'interrupted')),
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    run           INTEGER NOT NULL,  -- its place in the experiment's plan, from 1
    status        TEXT NOT NULL,  -- complete, stopped, failed
    data          TEXT NOT NULL,  -- JSON: the run's row (parameters, text, figures, checks)
    created_at    REAL NOT NULL,
    UNIQUE (experiment_id, run)
);

ALTER TABLE exchanges ADD COLUMN run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE;

CREATE INDEX exchanges_by_run ON exchanges(run_id, attempt) WHERE run_id IS NOT NULL;
CREATE INDEX experiments_by_recency ON experiments(updated_at DESC, id DESC);
"""


V5_COMPARE = """
CREATE TABLE comparisons (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    prompt_id       INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    blind           INTEGER NOT NULL DEFAULT 0,
    layout          TEXT NOT NULL,  -- JSON: the panes (variant, answer id) in pane order
    chosen_id       INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);

CREATE TABLE votes (
    id            INTEGER PRIMARY KEY,
    comparison_id INTEGER REFERENCES comparisons(id) ON DELETE SET NULL,  -- votes outlive it
    outcome       TEXT NOT NULL CHECK (outcome IN ('better', 'tie', 'all_bad')),
    winner        TEXT,  -- the better model ("provider/model"), for 'better'
    models        TEXT NOT NULL,  -- JSON list: every model in the comparison
    tags          TEXT NOT NULL DEFAULT '[]',  -- JSON list
    created_at    REAL NOT NULL
);

CREATE INDEX comparisons_by_prompt ON comparisons(prompt_id);
CREATE INDEX comparisons_by_conversation ON comparisons(conversation_id, id);
CREATE INDEX votes_by_time ON votes(created_at, id);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        # executescript() would COMMIT first; run statement by statement inside our transaction.
        for statement in _split_sql(sql):
            conn.execute(statement)

    return run


def _split_sql(sql: str) -> list[str]:
    statements: list[str] = []
    current = ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement: {current.strip()[:60]}")
    return statements


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "conversations and messages", _script(V1_TABLES)),
    Migration(2, "full-text search over titles and messages", _script(V2_SEARCH)),
    Migration(3, "what was sent and received for each answer", _script(V3_EXCHANGES)),
    Migration(4, "the Lab: experiments, their runs and each run's exchange", _script(V4_LAB)),
    Migration(5, "compare turns and blind votes", _script(V5_COMPARE)),
)

LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def is_empty(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return int(row[0]) == 0


def schema_state(conn: sqlite3.Connection) -> tuple[int, bool]:
    """(schema version, whether the file holds no tables at all), read in one statement so
    both come from the same snapshot even while another process is creating the schema."""
    row = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT count(*) FROM sqlite_master)"
    ).fetchone()
    return int(row[0]), int(row[1]) == 0


class NotAParleyHistory(Exception):
    """The file is an SQLite database with tables of its own and no Parley schema version."""


def backup_path_for(path: Path, version: int) -> Path:
    """Where the copy taken before migrating away from `version` goes (never overwritten)."""
    candidate = path.with_name(f"{path.name}.v{version}.backup")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.v{version}.backup-{n}")
        n += 1
    return candidate


def backup_to(source: Path, target: Path) -> None:
    """Copy the committed state of the database at `source` to `target`. Through a connection
    of its own: SQLite refuses to back up from a connection in the middle of writing, and
    the migrating one holds the write lock (readers still see the committed state)."""
    src = sqlite3.connect(str(source))
    dest = sqlite3.connect(str(target))
    try:
        src.backup(dest)
    finally:
        dest.close()
        src.close()


def migrate(
    conn: sqlite3.Connection, path: Path | None, *, target: int = LATEST_VERSION
) -> list[Path]:
    """Bring the database at `conn` up to `target`; return the backup files written.

    `conn` must be in autocommit mode (isolation_level=None). Every step reads the version
    and applies the migration under the write lock (BEGIN IMMEDIATE), so processes opening a
    brand-new history at the same moment never see a half-made schema and never apply a
    migration twice: the first creates the whole schema in one transaction, the others then
    find it done. A brand-new, empty database gets no backup: there is nothing to lose.
    Raises NotAParleyHistory for a database with foreign tables and no schema version.
    """
    backups: list[Path] = []
    if schema_state(conn)[0] >= target > 0:
        return backups  # up to date: no write lock needed (a version only ever grows)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current, empty = schema_state(conn)
            if current == 0 and not empty:
                raise NotAParleyHistory
            steps = [m for m in MIGRATIONS if current < m.version <= target]
            if not steps:
                conn.execute("COMMIT")
                return backups
            if current != 0:  # a fresh file gets every step in this one transaction
                steps = steps[:1]
                if path is not None:
                    backup = backup_path_for(path, current)
                    backup_to(path, backup)
                    backups.append(backup)
            for migration in steps:
                migration.apply(conn)
                conn.execute(f"PRAGMA user_version = {migration.version:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def now() -> float:
    return time.time()

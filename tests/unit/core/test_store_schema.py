"""Schema versions and migrations: every earlier version opens with its data kept and a backup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from parley.core.store import LATEST_VERSION, MIGRATIONS, Store
from parley.core.store.schema import migrate, schema_version


def test_versions_are_ordered_and_contiguous() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    assert LATEST_VERSION >= 2


def test_fresh_database_is_latest_without_backup(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with Store.open(path) as store:
        assert store.schema_version == LATEST_VERSION
        assert store.backups == []
    assert list(tmp_path.glob("*.backup*")) == []


def _old_database(path: Path, version: int) -> None:
    """A database as Parley at schema `version` left it, with a conversation in it."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    migrate(conn, None, target=version)
    assert schema_version(conn) == version
    # Columns as of version 1; later migrations must keep these working.
    conn.execute(
        "INSERT INTO conversations (id, title, system_prompt, created_at, updated_at) "
        "VALUES (7, 'Old chat about otters', 'Be kind.', 1.0, 2.0)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, parent_id, role, text, created_at, "
        "updated_at) VALUES (1, 7, NULL, 'user', 'Tell me about sea otters', 1.0, 1.0)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, parent_id, role, text, status, "
        "request_body, created_at, updated_at) VALUES (2, 7, 1, 'assistant', "
        "'They hold hands while sleeping.', 'complete', '{\"model\": \"m\"}', 2.0, 2.0)"
    )
    conn.execute("UPDATE conversations SET current_leaf_id = 2 WHERE id = 7")
    conn.close()


@pytest.mark.parametrize("version", range(1, LATEST_VERSION))
def test_migrates_from_every_earlier_version(tmp_path: Path, version: int) -> None:
    path = tmp_path / "parley.sqlite3"
    _old_database(path, version)
    before = path.read_bytes()

    with Store.open(path) as store:
        assert store.schema_version == LATEST_VERSION
        conv = store.get_conversation(7)
        assert (conv.title, conv.system_prompt) == ("Old chat about otters", "Be kind.")
        path_texts = [m.text for m in store.current_path(7)]
        assert path_texts == ["Tell me about sea otters", "They hold hands while sleeping."]
        assert store.get_message(2).request_body == {"model": "m"}
        # old rows are searchable after the FTS migration
        hits = store.search("otters")
        assert {(h.conversation_id, h.message_id) for h in hits} == {(7, None), (7, 1)}
        # and the store keeps working
        new = store.add_message(7, 2, "user", "more otters")
        assert store.search("more")[0].message_id == new
        backups = store.backups

    assert len(backups) == LATEST_VERSION - version
    first = backups[0]
    assert first.name == f"parley.sqlite3.v{version}.backup"
    copy = sqlite3.connect(str(first))
    assert schema_version(copy) == version
    assert copy.execute("SELECT text FROM messages ORDER BY id").fetchall() == [
        ("Tell me about sea otters",),
        ("They hold hands while sleeping.",),
    ]
    copy.close()
    assert before  # the original file existed with content before migrating


def test_a_second_migration_does_not_overwrite_an_earlier_backup(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    _old_database(path, 1)
    (tmp_path / "parley.sqlite3.v1.backup").write_bytes(b"an older backup")
    with Store.open(path) as store:
        assert store.backups[0].name == "parley.sqlite3.v1.backup-2"
    assert (tmp_path / "parley.sqlite3.v1.backup").read_bytes() == b"an older backup"


def test_failed_migration_leaves_the_file_at_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parley.core.store import schema

    path = tmp_path / "parley.sqlite3"
    _old_database(path, 1)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("simulated failure mid-migration")

    monkeypatch.setattr(
        schema,
        "MIGRATIONS",
        (schema.MIGRATIONS[0], schema.Migration(2, "broken", broken)),
    )
    conn = sqlite3.connect(str(path), isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn, path)
    assert schema_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
    conn.close()
    assert (tmp_path / "parley.sqlite3.v1.backup").exists()

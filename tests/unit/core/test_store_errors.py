"""A corrupt, locked, full or foreign database gives a clear StoreError and loses nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parley.core.store import (
    LATEST_VERSION,
    Store,
    StoreError,
    StoreErrorKind,
    move_aside_and_start_fresh,
)

ROOT = Path(__file__).resolve().parents[3]


def _worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.store_worker", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def _store_with_a_conversation(path: Path) -> int:
    with Store.open(path) as store:
        cid = store.create_conversation(title="precious")
        store.add_message(cid, None, "user", "do not lose me")
        return cid


def test_garbage_file_is_corrupt_and_can_be_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    garbage = b"this is not an SQLite database at all" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        Store.open(path)
    err = info.value
    assert err.kind is StoreErrorKind.CORRUPT
    assert "damaged" in err.message and "move it aside" in err.message
    assert err.can_move_aside and err.path == path

    moved = move_aside_and_start_fresh(path)
    assert moved != path and moved.parent == path.parent
    assert moved.read_bytes() == garbage
    assert not path.exists()
    with Store.open(path) as store:
        cid = store.create_conversation(title="fresh start")
        assert store.get_conversation(cid).title == "fresh start"
    assert moved.read_bytes() == garbage


def test_damaged_pages_are_reported_as_corrupt_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    with Store.open(path) as store:
        for _ in range(50):
            cid = store.create_conversation()
            store.add_message(cid, None, "user", "hello " * 200)
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data)):  # the header page survives, the rest is scrambled
        data[i] = (i * 7) % 256
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert info.value.kind is StoreErrorKind.CORRUPT
    moved = move_aside_and_start_fresh(path)
    assert moved.read_bytes() == bytes(data)
    with Store.open(path) as store:
        assert store.count_conversations() == 0


def test_move_aside_takes_the_wal_along_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    path.write_bytes(b"bad")
    (tmp_path / "parley.sqlite3-wal").write_bytes(b"wal bytes")
    first = move_aside_and_start_fresh(path)
    path.write_bytes(b"bad again")
    second = move_aside_and_start_fresh(path)
    assert first != second
    assert first.read_bytes() == b"bad" and second.read_bytes() == b"bad again"
    assert Path(str(first) + "-wal").read_bytes() == b"wal bytes"


def test_foreign_sqlite_file_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert info.value.kind is StoreErrorKind.CORRUPT
    assert "not a Parley history" in info.value.message
    assert path.read_bytes() == before


def test_newer_schema_refuses_to_write_but_opens_read_only(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    cid = _store_with_a_conversation(path)
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert info.value.kind is StoreErrorKind.TOO_NEW
    assert "newer Parley" in info.value.message and info.value.can_open_read_only
    with Store.open(path, read_only=True) as store:
        assert store.get_conversation(cid).title == "precious"


def test_read_only_reads_everything_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    cid = _store_with_a_conversation(path)
    before = path.read_bytes()
    with Store.open(path, read_only=True) as store:
        assert [c.id for c in store.list_conversations()] == [cid]
        assert store.search("lose")[0].conversation_id == cid
        with pytest.raises(StoreError) as info:
            store.rename_conversation(cid, "x")
        assert info.value.kind is StoreErrorKind.READ_ONLY
        with pytest.raises(StoreError):
            store.save_partial(1, "x")
    assert path.read_bytes() == before


def test_read_only_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        Store.open(tmp_path / "missing.sqlite3", read_only=True)
    assert info.value.kind is StoreErrorKind.NOT_FOUND
    assert not (tmp_path / "missing.sqlite3").exists()


def test_unopenable_location_is_explained(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as info:
        Store.open(blocker / "parley.sqlite3")
    assert info.value.kind is StoreErrorKind.CANNOT_OPEN
    assert str(blocker) in info.value.message


def test_write_lock_held_elsewhere_gives_locked_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    cid = _store_with_a_conversation(path)
    other = sqlite3.connect(str(path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another instance in the middle of a long write
    with Store.open(path, busy_timeout=0.2) as store:
        assert store.get_conversation(cid).title == "precious"  # reading still works (WAL)
        with pytest.raises(StoreError) as info:
            store.rename_conversation(cid, "renamed")
        assert info.value.kind is StoreErrorKind.LOCKED
        assert "another Parley" in info.value.message and info.value.can_open_read_only
        with Store.open(path, read_only=True) as viewer:  # the offered way out works too
            assert viewer.get_conversation(cid).title == "precious"
        other.execute("COMMIT")
        store.rename_conversation(cid, "renamed")
        assert store.get_conversation(cid).title == "renamed"
    other.close()


def test_full_disk_keeps_what_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    cid = _store_with_a_conversation(path)
    with Store.open(path, flush_interval=0.01) as store:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        # SQLite reports SQLITE_FULL ("database or disk is full") past max_page_count,
        # exactly as on a full disk.
        store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        big = "x" * 200_000
        with pytest.raises(StoreError) as info:
            store.add_message(cid, None, "user", big)
        assert info.value.kind is StoreErrorKind.DISK_FULL
        assert "full" in info.value.message and "intact" in info.value.message
        assert [m.text for m in store.messages(cid)] == ["do not lose me"]

        # A streamed answer that cannot be written: the background save fails, the error
        # surfaces on a later save_partial (or flush), and the text stays pending.
        answer = store.begin_answer(cid, None, {}, "p", "m")
        error: StoreError | None = None
        deadline = time.monotonic() + 10
        while error is None and time.monotonic() < deadline:
            try:
                store.save_partial(answer, big)
                store.flush()
            except StoreError as exc:
                error = exc
            time.sleep(0.01)
        assert error is not None and error.kind is StoreErrorKind.DISK_FULL
        assert store.get_message(answer).text == ""

        store._conn.execute("PRAGMA max_page_count = 1073741823")  # space again
        while store.get_message(answer).text != big and time.monotonic() < deadline:
            store.flush()
            time.sleep(0.01)
        assert store.get_message(answer).text == big
        store.save_partial(answer, big + "!")  # no stale error once saving works again
        store.flush()


def test_two_processes_write_the_same_history(tmp_path: Path) -> None:
    """A second instance works beside the first: WAL + busy_timeout, nothing lost."""
    path = tmp_path / "parley.sqlite3"
    workers = [
        _worker("write", str(path), "--count", "40", "--tag", tag) for tag in ("alpha", "beta")
    ]
    with Store.open(path, busy_timeout=10.0) as store:
        for i in range(40):
            cid = store.create_conversation()
            store.add_message(cid, None, "user", f"gamma {i}")
        outputs = [w.communicate(timeout=60)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0]
        assert all("DONE" in out for out in outputs)
        assert store.count_conversations() == 120
        titles = {c.title for c in store.list_conversations(limit=None)}
        for tag in ("alpha", "beta", "gamma"):
            assert {f"{tag} {i}" for i in range(40)} <= titles
        answers = [h for h in store.search("answer alpha", limit=100) if h.message_id]
        assert len(answers) == 40
        assert store.check() == []


def test_another_live_instance_keeps_its_streaming_answer(tmp_path: Path) -> None:
    """Opening a second instance must not mark the first one's live stream as interrupted."""
    path = tmp_path / "parley.sqlite3"
    proc = _worker("stream", str(path), "--interval", "0.05")
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "READY"
        msg_id = int(ready[2])
        proc.stdout.readline()
        with Store.open(path) as store:
            assert store.recover_interrupted() == []
            assert store.get_message(msg_id).status == "streaming"
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    with Store.open(path) as store:
        assert store.get_message(msg_id).status == "interrupted"


def test_eight_processes_opening_a_brand_new_history_together_all_succeed(
    tmp_path: Path,
) -> None:
    """The window and several `ask --save` started at once: each creates or finds the schema,
    none sees a half-made one ("not a Parley history") or applies a migration twice."""
    rounds = 20
    workers = [_worker("first-open", str(tmp_path), "--rounds", str(rounds)) for _ in range(8)]
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "READY"
        results: list[str] = []
        for _ in range(rounds):
            for w in workers:
                assert w.stdin is not None
                w.stdin.write("go\n")
                w.stdin.flush()
            results += [w.stdout.readline().strip() for w in workers if w.stdout is not None]
    finally:
        for w in workers:
            w.communicate(timeout=60)
    assert [r for r in results if not r.startswith("OK")] == []
    for i in range(rounds):
        with Store.open(tmp_path / f"history-{i}.sqlite3") as store:
            assert store.schema_version == LATEST_VERSION
            assert store.count_conversations() == 8
            assert store.check() == []


@pytest.mark.parametrize("inside", ["", "parley", "a/b"])
def test_a_data_folder_that_is_a_file_or_under_one_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: str
) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    monkeypatch.setenv("PARLEY_HOME", str(blocker / inside) if inside else str(blocker))
    with pytest.raises(StoreError) as info:
        Store.open()
    assert info.value.kind is StoreErrorKind.CANNOT_OPEN
    assert "PARLEY_HOME" in info.value.message and str(blocker) in info.value.message
    assert blocker.read_text() == "x"


def test_an_empty_file_opens_read_only_as_no_history_yet(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    path.write_bytes(b"")
    with pytest.raises(StoreError) as info:
        Store.open(path, read_only=True)
    assert info.value.kind is StoreErrorKind.NOT_FOUND
    with Store.open(path) as store:  # and a writer makes it a history
        assert store.schema_version == LATEST_VERSION


def _streamed_answer(store: Store, cid: int) -> int:
    answer = store.begin_answer(cid, None, {}, "p", "m")
    store.save_partial(answer, "half of it")
    store.flush()
    return answer


def test_a_write_lock_held_past_the_busy_timeout_keeps_the_answer_and_writes_it_later(
    tmp_path: Path,
) -> None:
    path = tmp_path / "parley.sqlite3"
    cid = _store_with_a_conversation(path)
    with Store.open(path, busy_timeout=0.2, flush_interval=0.05) as store:
        answer = _streamed_answer(store, cid)
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another program writing for a long time
        store.save_partial(answer, "all of it, almost")  # never raises: kept, retried
        with pytest.raises(StoreError) as info:
            store.finish_answer(answer, text="all of it", usage={"completion_tokens": 3})
        assert info.value.kind is StoreErrorKind.LOCKED
        assert "kept and saved as soon as" in info.value.message
        assert store.unsaved is not None and store.unsaved.kind is StoreErrorKind.LOCKED
        assert store.get_message(answer).status == "streaming"  # the state says so
        other.execute("COMMIT")
        deadline = time.monotonic() + 10
        while store.unsaved is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        saved = store.get_message(answer)
        assert (saved.status, saved.text, saved.usage) == (
            "complete",
            "all of it",
            {"completion_tokens": 3},
        )
        other.close()


def test_on_a_full_disk_the_answer_goes_to_a_rescue_file_and_in_on_the_next_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "parley.sqlite3"
    cid = _store_with_a_conversation(path)
    store = Store.open(path, flush_interval=0.05)
    answer = _streamed_answer(store, cid)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL, as on a full disk
    big = "every word of it " * 20_000
    store.save_partial(answer, big)  # the stream goes on
    attempt = {"attempt": 1, "url": "http://127.0.0.1/v1", "events": [[0.5, "data: {}"]]}
    with pytest.raises(StoreError) as info:
        store.finish_answer(answer, text=big, finish_reason="stop", exchange=[attempt])
    assert info.value.kind is StoreErrorKind.DISK_FULL
    store.close(wait=0.3)
    assert store.rescue_file is not None and store.rescue_file.exists()
    assert store.unsaved is not None and store.unsaved.kind is StoreErrorKind.DISK_FULL
    with Store.open(path, read_only=True) as viewer:
        assert viewer.get_message(answer).text == "half of it"  # what the disk holds

    with Store.open(path) as reopened:  # space again: the next writer adds it
        saved = reopened.get_message(answer)
        assert (saved.status, saved.text, saved.finish_reason) == ("complete", big, "stop")
        assert [a.url for a in reopened.exchanges(answer)] == ["http://127.0.0.1/v1"]
    assert not store.rescue_file.exists()


def test_a_rescue_file_never_overwrites_a_finished_answer_or_breaks_the_open(
    tmp_path: Path,
) -> None:
    from parley.core.store import rescue

    path = tmp_path / "parley.sqlite3"
    cid = _store_with_a_conversation(path)
    with Store.open(path) as store:
        done = store.begin_answer(cid, None, {}, "p", "m")
        store.finish_answer(done, text="the real answer")
    rescue.write(path, {}, {done: {"status": "complete", "text": "stale"}})
    rescue.write(path, {"1": ("x", "y")}, {99: {"status": "complete", "text": [1]}})  # type: ignore[dict-item]
    rescue.write(path, {}, {done: {"status": "complete", "exchange": [{"attempt": "x"}]}})
    (tmp_path / f"parley-unsaved-{rescue._tag(path)}-1-1.json").write_text("{not json")
    with Store.open(path) as store:
        assert store.get_message(done).text == "the real answer"

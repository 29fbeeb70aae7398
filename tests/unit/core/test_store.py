"""The history store: conversations, messages, branches, streaming saves, recovery."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.app import paths
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import Meta, Usage
from parley.core.protocol.request import ChatRequest, ImagePart, Message, TextPart, ToolCall
from parley.core.store import Store, StoreError, StoreErrorKind, make_title


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(flush_interval=0.05)
    yield s
    s.close()


def test_opens_at_the_data_folder_in_wal_mode_with_foreign_keys(store: Store) -> None:
    assert store.path == paths.database_path()
    assert store.path.exists()
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_conversation_keeps_every_setting(store: Store) -> None:
    cid = store.create_conversation(
        system_prompt="Be brief.",
        provider="euri",
        model="gpt-4.1-mini",
        params={"temperature": 0.2, "stop": ["\n\n"]},
        advanced={"x": {"y": 1}},
        preset="precise",
        session_id="sess-1",
    )
    conv = store.get_conversation(cid)
    assert (conv.system_prompt, conv.provider, conv.model) == ("Be brief.", "euri", "gpt-4.1-mini")
    assert conv.params == {"temperature": 0.2, "stop": ["\n\n"]}
    assert conv.advanced == {"x": {"y": 1}}
    assert (conv.preset, conv.session_id, conv.pinned, conv.title) == (
        "precise",
        "sess-1",
        False,
        "",
    )
    store.update_conversation(cid, model="other", params={}, session_id=None)
    conv = store.get_conversation(cid)
    assert (conv.model, conv.params, conv.session_id, conv.provider) == ("other", {}, None, "euri")


def test_title_comes_from_the_first_prompt_until_renamed(store: Store) -> None:
    cid = store.create_conversation()
    long_prompt = "  Explain   the difference between " + "very " * 20 + "long words\nsecond line"
    first = store.add_message(cid, None, "user", long_prompt)
    title = store.get_conversation(cid).title
    assert title.startswith("Explain the difference between very")
    assert len(title) <= 60 and title.endswith("…") and "\n" not in title
    store.add_message(cid, first, "user", "a later prompt")
    assert store.get_conversation(cid).title == title
    store.rename_conversation(cid, "  My name  ")
    assert store.get_conversation(cid).title == "My name"
    store.rename_conversation(cid, "")
    assert store.get_conversation(cid).title == title


def test_make_title_edges() -> None:
    assert make_title("\n\n  hi  there \n more") == "hi there"
    assert make_title("") == ""
    assert len(make_title("x" * 200)) == 60


def test_list_is_pinned_first_then_recent_and_paginated(store: Store) -> None:
    ids = [store.create_conversation(title=f"c{i}") for i in range(5)]
    store.add_message(ids[1], None, "user", "bump")  # most recent now
    store.set_pinned(ids[3], True)
    order = [c.id for c in store.list_conversations()]
    assert order == [ids[3], ids[1], ids[4], ids[2], ids[0]]
    assert [c.id for c in store.list_conversations(limit=2, offset=1)] == [ids[1], ids[4]]
    assert store.count_conversations() == 5
    assert store.latest_conversation_id() == ids[1]


def test_delete_undo_and_purge(store: Store) -> None:
    keep = store.create_conversation(title="keep")
    gone = store.create_conversation(title="gone")
    store.add_message(gone, None, "user", "findme please")
    token = store.delete_conversation(gone)
    assert [c.id for c in store.list_conversations()] == [keep]
    assert store.search("findme") == []
    with pytest.raises(StoreError) as info:
        store.get_conversation(gone)
    assert info.value.kind is StoreErrorKind.NOT_FOUND
    assert store.undo_delete(token) == gone
    assert {c.id for c in store.list_conversations()} == {keep, gone}
    assert [h.conversation_id for h in store.search("findme")] == [gone]

    token = store.delete_conversation(gone)
    assert store.purge_deleted(older_than=3600) == 0  # deleted just now: still undoable
    assert store.purge_deleted() == 1
    with pytest.raises(StoreError) as info:
        store.undo_delete(token)
    assert info.value.kind is StoreErrorKind.NOT_FOUND
    left = store._conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert left == 0


def test_opening_purges_only_long_deleted_conversations() -> None:
    with Store.open() as s:
        old, recent = s.create_conversation(), s.create_conversation()
        s.add_message(old, None, "user", "old")
        s.delete_conversation(old)
        recent_token = s.delete_conversation(recent)
        s._conn.execute(
            "UPDATE conversations SET deleted_at = deleted_at - 2 * 86400 WHERE id = ?", (old,)
        )
    with Store.open() as s:
        rows = s._conn.execute("SELECT id FROM conversations").fetchall()
        assert [r[0] for r in rows] == [recent]
        assert s.undo_delete(recent_token) == recent
    with Store.open(purge_after=None) as s:
        assert s.count_conversations() == 1


def test_draft_is_kept_per_conversation(store: Store) -> None:
    a, b = store.create_conversation(), store.create_conversation()
    store.save_draft(a, "half a thought")
    assert store.get_conversation(a).draft == "half a thought"
    assert store.get_conversation(b).draft == ""


def test_message_with_images_and_tool_calls_round_trips(store: Store) -> None:
    cid = store.create_conversation()
    parts = [
        TextPart(text="What is "),
        ImagePart(mime="image/jpeg", data="QUJD", name="cat.jpg"),
        TextPart(text="this?"),
    ]
    u = store.add_message(cid, None, "user", parts)
    a = store.add_message(
        cid, u, "assistant", "", tool_calls=[ToolCall(id="t1", name="look", arguments='{"a":1}')]
    )
    t = store.add_message(cid, a, "tool", "a cat", tool_call_id="t1", name="look")
    user, answer, tool = store.path_to(t)
    assert user.text == "What is this?"
    assert user.content == parts
    assert answer.tool_calls == [ToolCall(id="t1", name="look", arguments='{"a":1}')]
    assert (tool.tool_call_id, tool.name) == ("t1", "look")
    assert user.to_message() == Message(role="user", content=parts)


def test_answer_keeps_request_body_and_response_facts(store: Store) -> None:
    cid = store.create_conversation(provider="adaptive", model="auto")
    u = store.add_message(cid, None, "user", "hi")
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    a = store.begin_answer(cid, u, body, "adaptive", "auto")
    assert store.get_message(a).status == "streaming"
    store.finish_answer(
        a,
        text="hello",
        reasoning="greet back",
        status="complete",
        finish_reason="stop",
        usage=Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4),
        metrics={"ttft_ms": 120.0, "tokens_per_s": 33.3},
        meta=Meta(model="claude-x", session_id="s-9", headers={"x-request-id": "r1"}),
        cost=0.0012,
    )
    m = store.get_message(a)
    assert (m.text, m.reasoning, m.status, m.finish_reason) == (
        "hello",
        "greet back",
        "complete",
        "stop",
    )
    assert m.request_body == body
    assert (m.provider, m.model, m.model_used) == ("adaptive", "auto", "claude-x")
    assert m.usage is not None and m.usage["completion_tokens"] == 1
    assert m.metrics == {"ttft_ms": 120.0, "tokens_per_s": 33.3}
    assert m.meta is not None and m.meta["headers"] == {"x-request-id": "r1"}
    assert m.cost == pytest.approx(0.0012)
    assert store.get_conversation(cid).session_id == "s-9"


def test_failed_answer_keeps_error_and_partial_text(store: Store) -> None:
    cid = store.create_conversation()
    u = store.add_message(cid, None, "user", "hi")
    a = store.begin_answer(cid, u, {}, "p", "m")
    store.save_partial(a, "half an ans")
    err = ParleyError(ErrorKind.NETWORK, "The connection dropped.", provider="p", partial=True)
    store.finish_answer(a, text="half an ans", status="failed", error=err)
    m = store.get_message(a)
    assert m.status == "failed" and m.text == "half an ans"
    assert m.error == err.to_dict()


def test_finish_rejects_a_streaming_status(store: Store) -> None:
    cid = store.create_conversation()
    a = store.begin_answer(cid, None, {}, "p", "m")
    with pytest.raises(StoreError) as info:
        store.finish_answer(a, text="x", status="streaming")
    assert info.value.kind is StoreErrorKind.INVALID


def test_save_partial_is_committed_without_flush(store: Store, tmp_path: Path) -> None:
    cid = store.create_conversation()
    a = store.begin_answer(cid, None, {}, "p", "m")
    for i in range(200):
        store.save_partial(a, "tok " * i, "why " * i)
    other = sqlite3.connect(str(store.path))  # another connection sees only committed data
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline:
        text = other.execute("SELECT text FROM messages WHERE id = ?", (a,)).fetchone()[0]
        if text == "tok " * 199:
            break
        time.sleep(0.01)
    assert text == "tok " * 199
    other.close()


def test_partials_are_throttled(store: Store) -> None:
    cid = store.create_conversation()
    a = store.begin_answer(cid, None, {}, "p", "m")
    commits = 0

    def count(statement: str) -> None:
        nonlocal commits
        if statement.strip().upper() == "COMMIT":
            commits += 1

    store._conn.set_trace_callback(count)
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < 0.3:
        n += 1
        store.save_partial(a, "x" * n)
    store.flush()
    elapsed = time.monotonic() - start
    store._conn.set_trace_callback(None)
    assert n > 100
    # at most one commit per flush interval (0.05 s), plus the final flush
    assert commits <= elapsed / store.flush_interval + 2
    assert store.get_message(a).text == "x" * n


def test_finish_wins_over_a_late_partial(store: Store) -> None:
    cid = store.create_conversation()
    a = store.begin_answer(cid, None, {}, "p", "m")
    store.save_partial(a, "partial")
    store.finish_answer(a, text="final")
    store.flush()
    time.sleep(0.1)
    assert store.get_message(a).text == "final"


def test_close_flushes_pending_partials() -> None:
    s = Store.open(flush_interval=30)
    cid = s.create_conversation()
    a = s.begin_answer(cid, None, {}, "p", "m")
    s.save_partial(a, "first")  # the first one is committed at once
    s.save_partial(a, "first second")  # this one waits for the 30 s interval
    s.close()
    with Store.open() as again:
        # our own process is alive, so it stays "streaming" (it is, after all, ours)
        assert again.get_message(a).text == "first second"


def test_recover_marks_dead_writers_interrupted_and_keeps_text(store: Store) -> None:
    cid = store.create_conversation()
    a = store.begin_answer(cid, None, {}, "p", "m")
    store.save_partial(a, "half")
    store.flush()
    # Pretend a process that no longer exists was streaming it.
    store._conn.execute("UPDATE messages SET writer = 'elsewhere:1' WHERE id = ?", (a,))
    live = store.begin_answer(cid, None, {}, "p", "m")
    assert store.recover_interrupted() == [a]
    assert store.get_message(a).status == "interrupted"
    assert store.get_message(a).text == "half"
    assert store.get_message(live).status == "streaming"


def test_branches_regenerate_and_edit(store: Store) -> None:
    cid = store.create_conversation()
    u1 = store.add_message(cid, None, "user", "q1")
    a1 = store.add_message(cid, u1, "assistant", "a1")
    u2 = store.add_message(cid, a1, "user", "q2")
    a2 = store.add_message(cid, u2, "assistant", "a2")
    # regenerate a2: a sibling answer under u2
    a2b = store.begin_answer(cid, u2, {}, "p", "m")
    store.finish_answer(a2b, text="a2 again")
    assert store.siblings(a2b) == (1, 2)
    assert [m.text for m in store.current_path(cid)] == ["q1", "a1", "q2", "a2 again"]
    # edit & resend u2: a sibling user message under a1, with its own answer
    u2b = store.add_message(cid, a1, "user", "q2 edited")
    a3 = store.add_message(cid, u2b, "assistant", "a3")
    assert store.siblings(u2b) == (1, 2)
    assert [m.text for m in store.path_to(a3)] == ["q1", "a1", "q2 edited", "a3"]
    assert [c.id for c in store.children(a1)] == [u2, u2b]
    # `<` on the edited prompt shows the old branch, with the answer that was shown there
    leaf = store.select_sibling(u2b, -1)
    assert leaf == a2b
    assert store.get_conversation(cid).current_leaf_id == a2b
    assert store.siblings(a2) == (0, 2)
    # `<` again at the first sibling stays put
    assert store.select_sibling(u2, -1) == a2b
    # `>` back to the edited branch
    assert store.select_sibling(u2, +1) == a3
    # the original answer is still there
    store.set_current_leaf(cid, a2)
    assert [m.text for m in store.current_path(cid)] == ["q1", "a1", "q2", "a2"]


def test_editing_the_first_prompt_makes_a_sibling_root(store: Store) -> None:
    cid = store.create_conversation()
    r1 = store.add_message(cid, None, "user", "first")
    r2 = store.add_message(cid, None, "user", "first, edited")
    assert store.siblings(r2) == (1, 2)
    assert [m.id for m in store.roots(cid)] == [r1, r2]
    assert [m.id for m in store.current_path(cid)] == [r2]


def test_parent_must_belong_to_the_conversation(store: Store) -> None:
    a, b = store.create_conversation(), store.create_conversation()
    m = store.add_message(a, None, "user", "x")
    with pytest.raises(StoreError) as info:
        store.add_message(b, m, "user", "y")
    assert info.value.kind is StoreErrorKind.INVALID
    with pytest.raises(StoreError):
        store.set_current_leaf(b, m)


def test_long_conversation_path_is_in_order(store: Store) -> None:
    cid = store.create_conversation()
    parent = None
    with store.batch():
        for i in range(300):
            parent = store.add_message(cid, parent, "user" if i % 2 == 0 else "assistant", str(i))
    assert parent is not None
    assert [m.text for m in store.path_to(parent)] == [str(i) for i in range(300)]


def test_batch_is_all_or_nothing(store: Store) -> None:
    cid = store.create_conversation()
    with pytest.raises(RuntimeError), store.batch():
        store.add_message(cid, None, "user", "one")
        raise RuntimeError("boom")
    assert store.messages(cid) == []


def test_start_from_request_for_ask_save(store: Store) -> None:
    req = ChatRequest(
        provider="openrouter",
        model="x/y",
        messages=[
            Message(role="system", content="You are terse."),
            Message(role="user", content="Name a colour."),
        ],
        params={"temperature": 0.5},
        session_id="abc",
    )
    cid, last = store.start_from_request(req)
    conv = store.get_conversation(cid)
    assert (conv.system_prompt, conv.provider, conv.model) == (
        "You are terse.",
        "openrouter",
        "x/y",
    )
    assert conv.params == {"temperature": 0.5} and conv.session_id == "abc"
    assert conv.title == "Name a colour."
    assert last is not None and [m.text for m in store.path_to(last)] == ["Name a colour."]


def test_closed_store_refuses_work() -> None:
    s = Store.open()
    s.close()
    s.close()
    with pytest.raises(StoreError):
        s.list_conversations()


@given(
    st.lists(
        st.tuples(st.sampled_from(["send", "regenerate", "edit"]), st.integers(0)), max_size=30
    )
)
@settings(max_examples=40, deadline=None)
def test_branch_invariants_hold_for_any_sequence_of_actions(
    actions: list[tuple[str, int]],
) -> None:
    with Store.open(":memory:") as s:
        cid = s.create_conversation()
        made: list[int] = []
        for action, pick in actions:
            leaf = s.current_leaf(cid)
            if action == "send" or not made:
                u = s.add_message(cid, leaf, "user", f"q{len(made)}")
                new = s.add_message(cid, u, "assistant", f"a{len(made)}")
            else:
                target = s.get_message(made[pick % len(made)])
                if action == "regenerate" and target.role == "assistant":
                    new = s.add_message(cid, target.parent_id, "assistant", "again")
                else:
                    edited = (
                        target if target.role == "user" else s.get_message(target.parent_id or 0)
                    )
                    new = s.add_message(cid, edited.parent_id, "user", "edited")
            made.append(new)
            # the new message is shown, at the end of the shown branch
            shown = s.current_path(cid)
            assert shown[-1].id == new
            assert shown[0].parent_id is None
            for parent, child in pairwise(shown):
                assert child.parent_id == parent.id
            # the `< i/n >` control agrees with the tree
            for m in shown:
                siblings = s.roots(cid) if m.parent_id is None else s.children(m.parent_id)
                position, total = s.siblings(m.id)
                assert total == len(siblings) and siblings[position].id == m.id


def test_data_version_changes_for_another_connections_commit_only(store: Store) -> None:
    import threading

    before = store.data_version()
    assert before is not None
    store.create_conversation(title="mine")
    assert store.data_version() == before  # its own writes are not news
    other = Store.open()  # the same history file, as `parley import` opens it
    try:
        other.create_conversation(title="theirs")
    finally:
        other.close()
    after = store.data_version()
    assert after is not None and after != before
    # Never waits: while the store's lock is held (its writer busy), it says "ask later".
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store._lock:
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    try:
        assert store.data_version() is None
    finally:
        release.set()
        thread.join()

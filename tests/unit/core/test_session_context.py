"""The request preview's context: the messages a request would carry, each made when read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import parley.core.chat.session as session_module
from parley.core.chat.session import ContextMessages, context_message
from parley.core.protocol.request import Message
from parley.core.store import Store, StoredMessage


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "history.sqlite3", flush_interval=0.05)
    yield s
    s.close()


def _branch(store: Store) -> list[StoredMessage]:
    conv = store.create_conversation()
    parent = None
    for i in range(5):
        parent = store.add_message(conv, parent, "user", f"question {i}")
        answer = store.begin_answer(conv, parent, None, "euri", "m")
        store.finish_answer(answer, text="" if i == 2 else f"answer {i}", status="complete")
        parent = answer
    return store.current_path(conv)


def test_context_messages_are_the_sent_context_made_when_read(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _branch(store)
    system = Message(role="system", content="Be brief.")
    last = Message(role="user", content="…")
    expected = [system, *[m for s in path if (m := context_message(s)) is not None], last]
    assert len(expected) == 1 + 10 - 1 + 1  # the empty answer is not sent

    made: list[int] = []

    def counting(stored: StoredMessage) -> Message | None:
        made.append(stored.id)
        return context_message(stored)

    monkeypatch.setattr(session_module, "context_message", counting)
    lazy = ContextMessages(path, system=system, last=last)
    assert len(lazy) == len(expected)
    assert made == []  # nothing made yet
    assert lazy[0] == system and lazy[-1] == last
    assert lazy[1] == expected[1] and lazy[-2] == expected[-2]
    assert len(made) == 2
    assert lazy[2:5] == expected[2:5]
    assert list(lazy) == expected
    assert len(made) == len(expected) - 2  # each stored message made once
    with pytest.raises(IndexError):
        lazy[len(expected)]
    assert list(ContextMessages([])) == []

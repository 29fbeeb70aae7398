"""A turn's start off the caller's thread.

The question and the empty answer (with the exact body sent) are stored in a worker thread, in one
transaction: serialising a long conversation's body there keeps the window responsive. A send
cancelled meanwhile still ends with its answer stored as stopped, as one cancelled just after.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.core.chat.prepared import PreparedRequest
from parley.core.chat.session import ChatSession, RunConfig, Turn
from parley.core.protocol.errors import ParleyError
from parley.core.protocol.events import Event
from parley.core.protocol.exchange import Exchange
from parley.core.providers.catalog import Catalog, load_catalog
from parley.core.store import Store, StoreError, StoreErrorKind


class Recorder:
    def __init__(self) -> None:
        self.started: list[Turn] = []
        self.done: list[Turn] = []

    def on_turn_started(self, turn: Turn) -> None:
        self.started.append(turn)

    def on_event(self, turn: Turn, event: Event) -> None:
        pass

    def on_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        pass

    def on_turn_done(self, turn: Turn) -> None:
        self.done.append(turn)


class NoEngine:
    """These sends never get as far as the network."""

    def send(
        self, prepared: PreparedRequest, exchange: Exchange | None = None
    ) -> AsyncGenerator[Event, None]:
        raise AssertionError("the request was sent")


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "history.sqlite3", flush_interval=0.05)
    yield s
    s.close()


CONFIG = RunConfig(provider="euri", model="m", base_url="http://127.0.0.1:9/v1")


def test_a_send_cancelled_while_its_answer_is_stored_ends_stopped(
    store: Store, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, gate = threading.Event(), threading.Event()
    threads: list[int] = []
    begin_answer = store.begin_answer

    def slow_begin(*args: Any, **kwargs: Any) -> int:
        threads.append(threading.get_ident())
        entered.set()
        gate.wait(10)
        return begin_answer(*args, **kwargs)

    monkeypatch.setattr(store, "begin_answer", slow_begin)
    rec = Recorder()
    session = ChatSession(store, NoEngine(), lambda _pid: "key", catalog, rec)
    conv = session.new_conversation(CONFIG)

    async def scenario() -> None:
        task = asyncio.ensure_future(session.send(conv, "Hello", CONFIG))
        while not entered.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # it waits for the write a cancel cannot stop
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert threads and threads[0] != threading.get_ident()  # stored in a worker thread
    path = store.current_path(conv)
    assert [(m.role, m.text, m.status) for m in path] == [
        ("user", "Hello", "complete"),
        ("assistant", "", "stopped"),
    ]
    assert path[1].request_body is not None
    assert path[1].request_body["messages"] == [{"role": "user", "content": "Hello"}]
    assert [t.answer_id for t in rec.started] == [path[1].id]
    assert rec.done == rec.started
    assert rec.started[0].parent_id == path[0].id


def test_a_failed_answer_write_stores_no_question_either(
    store: Store, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_begin(*_args: Any, **_kwargs: Any) -> int:
        raise StoreError(StoreErrorKind.DISK_FULL, "The disk is full.")

    monkeypatch.setattr(store, "begin_answer", failing_begin)
    rec = Recorder()
    session = ChatSession(store, NoEngine(), lambda _pid: "key", catalog, rec)
    conv = session.new_conversation(CONFIG)
    with pytest.raises(StoreError, match="disk is full"):
        asyncio.run(session.send(conv, "Hello", CONFIG))
    assert store.current_path(conv) == []  # one transaction: the question went too
    assert store.get_conversation(conv).title == ""
    assert rec.started == [] and rec.done == []

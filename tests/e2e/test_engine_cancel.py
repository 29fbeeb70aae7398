"""Cancelling streams mid-flight releases their connections: 1,000 cancelled streams, no leak."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from parley.core.chat.result import ChatResult
from parley.core.protocol.events import TextDelta
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import load_catalog
from parley.net.engine import Engine, RetryPolicy
from tests.helpers.emulator import Behavior, Emulator

SPEC = load_catalog().get("nordlys")
TOTAL = 1000
BATCH = 125  # more than the pool holds: some tasks are cancelled while waiting for a connection
MAX_CONNECTIONS = 100
KEEPALIVE = 10


def make_request(emu: Emulator) -> ChatRequest:
    return ChatRequest(
        provider="nordlys",
        model="m1",
        messages=[Message(role="user", content="long one please")],
        base_url=emu.base_url("nordlys"),
    )


async def consume(engine: Engine, emu: Emulator, got_token: asyncio.Event) -> str:
    assert SPEC is not None
    async with contextlib.aclosing(
        engine.run(SPEC, make_request(emu), emu.key("nordlys"))
    ) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                got_token.set()
    return "finished"


@pytest.mark.slow
def test_thousand_cancelled_streams_leave_no_connection_behind() -> None:
    assert SPEC is not None
    with Emulator() as emu:
        # Each stream would take ~20 s; all are cancelled after their first token.
        emu.push(Behavior(text="word " * 400, chunk_chars=5, chunk_delay=0.05, repeat=TOTAL))

        async def scenario() -> None:
            engine = Engine(
                retry=RetryPolicy(max_attempts=1),
                max_connections=MAX_CONNECTIONS,
                max_keepalive_connections=KEEPALIVE,
            )
            cancelled = 0
            mid_stream = 0
            started = 0
            try:
                while started < TOTAL:
                    n = min(BATCH, TOTAL - started)
                    flags = [asyncio.Event() for _ in range(n)]
                    tasks = [asyncio.create_task(consume(engine, emu, f)) for f in flags]
                    started += n
                    # Wait until every stream that got a connection is mid-answer.
                    want = min(n, MAX_CONNECTIONS)
                    for _ in range(1000):
                        if sum(f.is_set() for f in flags) >= want:
                            break
                        await asyncio.sleep(0.01)
                    mid_stream += sum(f.is_set() for f in flags)
                    for t in tasks:
                        t.cancel()
                    results = await asyncio.gather(*tasks, return_exceptions=True)
                    cancelled += sum(isinstance(r, asyncio.CancelledError) for r in results)
                assert cancelled == TOTAL  # CancelledError propagated, not turned into an error
                assert mid_stream >= TOTAL * MAX_CONNECTIONS // BATCH

                # The pool still serves requests, and every stream has been released.
                emu.clear()
                result = ChatResult("nordlys", "m1")
                emu.push(Behavior(text="still here"), provider="nordlys")
                async with contextlib.aclosing(
                    engine.run(SPEC, make_request(emu), emu.key("nordlys"))
                ) as events:
                    async for event in events:
                        result.apply(event)
                assert result.status == "complete" and result.text == "still here"
                assert await asyncio.to_thread(
                    emu.wait_until, lambda: emu.active_streams == 0, 10.0
                ), emu.active_streams
                assert await asyncio.to_thread(
                    emu.wait_until, lambda: emu.connections_open <= KEEPALIVE, 10.0
                ), emu.connections_open
            finally:
                await engine.aclose()
            assert await asyncio.to_thread(emu.wait_idle, 10.0)

        asyncio.run(scenario())
        assert not emu.errors, emu.errors[:3]


def test_closing_the_event_stream_early_releases_the_stream() -> None:
    assert SPEC is not None
    with Emulator() as emu:
        emu.push(Behavior(text="word " * 400, chunk_chars=5, chunk_delay=0.05))

        async def scenario() -> str:
            engine = Engine(retry=RetryPolicy(max_attempts=1))
            text = ""
            try:
                async with contextlib.aclosing(
                    engine.run(SPEC, make_request(emu), emu.key("nordlys"))
                ) as events:
                    async for event in events:
                        if isinstance(event, TextDelta):
                            text += event.text
                            break  # the user pressed Stop
                streams_gone = await asyncio.to_thread(
                    emu.wait_until, lambda: emu.active_streams == 0, 5.0
                )
                assert streams_gone, emu.active_streams
            finally:
                await engine.aclose()
            return text

        assert asyncio.run(scenario()) == "word "
        assert emu.wait_idle(5.0)

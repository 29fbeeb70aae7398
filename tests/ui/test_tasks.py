"""The task registry: strong references, one slot per purpose, ordered shutdown."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from parley.ui.tasks import TaskRegistry


def test_new_task_in_a_slot_cancels_and_awaits_the_previous(arun: Any) -> None:
    log: list[str] = []

    async def stream(name: str) -> str:
        try:
            log.append(f"{name} start")
            await asyncio.sleep(10)
            return name
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)  # cleanup that takes a moment (saving a partial answer)
            log.append(f"{name} saved")
            raise

    async def scenario() -> None:
        reg = TaskRegistry()
        first = reg.start(("stream", 1), stream("a"))
        await asyncio.sleep(0)
        second = reg.start(("stream", 1), stream("b"))
        await asyncio.sleep(0.05)
        assert first.cancelled()
        assert log == ["a start", "a saved", "b start"]
        assert reg.get(("stream", 1)) is second
        other = reg.start(("stream", 2), stream("c"))
        await asyncio.sleep(0)
        assert not other.done() and len(reg) == 2
        await reg.shutdown()
        assert second.cancelled() and other.cancelled()
        assert sorted(log[-2:]) == ["b saved", "c saved"]
        assert len(reg) == 0

    arun(scenario())


def test_tasks_are_held_strongly_and_errors_reported(arun: Any) -> None:
    errors: list[tuple[object, BaseException]] = []

    async def fails() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    async def finishes() -> int:
        await asyncio.sleep(0.02)
        return 7

    async def scenario() -> None:
        reg = TaskRegistry(on_error=lambda slot, exc: errors.append((slot, exc)))
        reg.spawn(fails())
        done = reg.start("x", finishes())
        gc.collect()
        await asyncio.sleep(0.05)
        assert done.result() == 7
        assert len(errors) == 1 and isinstance(errors[0][1], ValueError)
        assert not reg.running("x")
        await reg.shutdown()

    arun(scenario())


def test_after_shutdown_nothing_new_starts(arun: Any) -> None:
    async def scenario() -> None:
        reg = TaskRegistry()
        await reg.shutdown()

        async def never() -> None:
            raise AssertionError("must not run")

        try:
            reg.start("x", never())
        except RuntimeError as exc:
            assert "shut down" in str(exc)
        else:
            raise AssertionError("start after shutdown must fail")

    arun(scenario())


def test_an_abandoned_async_generator_is_closed_by_the_qasync_loop(arun: Any) -> None:
    """qasync installs no async-generator hooks; `asyncgen_hooks` (used by the app and the
    qloop fixture) lets the loop run an abandoned stream's async cleanup."""
    closed: list[str] = []

    async def stream() -> Any:
        try:
            yield 1
            yield 2
        finally:
            await asyncio.sleep(0)  # async cleanup, like closing an HTTP response
            closed.append("closed")

    async def scenario() -> None:
        gen = stream()
        assert await gen.__anext__() == 1
        del gen
        gc.collect()
        for _ in range(20):
            if closed:
                break
            await asyncio.sleep(0.01)
        assert closed == ["closed"]

    arun(scenario())

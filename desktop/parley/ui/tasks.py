"""One registry for the window's background tasks.

asyncio keeps only weak references to tasks, so a task nobody holds can vanish mid-stream; the
registry holds every task strongly until it ends. Tasks that serve one purpose share a *slot*
(e.g. ``("stream", conversation_id)``): starting a new task in a slot cancels the previous one and
waits for it to finish cleaning up (a stopped stream saves its partial answer) before the new one
runs. ``shutdown()`` cancels everything and waits, for an orderly exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Coroutine, Hashable, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
ErrorHandler = Callable[[Hashable | None, BaseException], None]


class TaskRegistry:
    def __init__(self, on_error: ErrorHandler | None = None) -> None:
        self._slots: dict[Hashable, asyncio.Task[Any]] = {}
        self._loose: set[asyncio.Task[Any]] = set()
        self._on_error = on_error
        self._closed = False

    def start(self, slot: Hashable, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run `coro` in `slot`, cancelling (and first awaiting) whatever ran there before."""
        if self._closed:
            coro.close()
            raise RuntimeError("the task registry is shut down")
        previous = self._slots.get(slot)
        if previous is not None and not previous.done():
            previous.cancel()
            coro = self._after(previous, coro)
        task = asyncio.get_running_loop().create_task(coro, name=f"parley:{slot!r}")
        self._slots[slot] = task
        task.add_done_callback(lambda t: self._finished(slot, t))
        return task

    def spawn(self, coro: Coroutine[Any, Any, T], name: str = "parley:task") -> asyncio.Task[T]:
        """Run a task that shares no slot; it is still held, cancelled and awaited at shutdown."""
        if self._closed:
            coro.close()
            raise RuntimeError("the task registry is shut down")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._loose.add(task)
        task.add_done_callback(lambda t: self._finished(None, t))
        return task

    def get(self, slot: Hashable) -> asyncio.Task[Any] | None:
        task = self._slots.get(slot)
        return task if task is not None and not task.done() else None

    def running(self, slot: Hashable) -> bool:
        return self.get(slot) is not None

    def cancel(self, slot: Hashable) -> bool:
        task = self.get(slot)
        if task is None:
            return False
        task.cancel()
        return True

    def __len__(self) -> int:
        return sum(1 for t in self._slots.values() if not t.done()) + len(self._loose)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every task and wait for them (their `finally` blocks save what they hold)."""
        self._closed = True
        tasks = [t for t in (*self._slots.values(), *self._loose) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("task %s did not stop within %.1f s", task.get_name(), timeout)
        self._slots.clear()
        self._loose.clear()

    @staticmethod
    async def _after(previous: asyncio.Task[Any], coro: Coroutine[Any, Any, T]) -> T:
        try:
            await asyncio.wait([previous])
        except asyncio.CancelledError:
            coro.close()
            raise
        return await coro

    def _finished(self, slot: Hashable | None, task: asyncio.Task[Any]) -> None:
        if slot is None:
            self._loose.discard(task)
        elif self._slots.get(slot) is task:
            del self._slots[slot]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if self._on_error is not None:
            self._on_error(slot, exc)
        else:
            log.error("background task %s failed", task.get_name(), exc_info=exc)


@contextlib.contextmanager
def asyncgen_hooks(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Give `loop` the async-generator hooks asyncio's own loops install in `run_forever`.

    qasync's loop installs none, so an async generator dropped half-way (an HTTP response
    stream left by a cancelled request) would be finalised by the garbage collector with no
    loop to run its cleanup. With the hooks the loop closes such generators itself, and
    `loop.shutdown_asyncgens()` closes the rest at exit.
    """
    firstiter = getattr(loop, "_asyncgen_firstiter_hook", None)
    finalizer = getattr(loop, "_asyncgen_finalizer_hook", None)
    if firstiter is None or finalizer is None:
        yield
        return
    old = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
    try:
        yield
    finally:
        sys.set_asyncgen_hooks(*old)


class DialogTasks:
    """The checks a dialog starts (a key test, a server probe), held strongly until they end.

    `cancel()` when the dialog closes, so no check touches a deleted widget afterwards. A dialog
    used before the loop runs (tests that build it bare) may ask to drop the work instead of
    queueing it (`only_if_running`).
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    def spawn(
        self, coro: Coroutine[Any, Any, T], *, only_if_running: bool = False
    ) -> asyncio.Task[T] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop()
            if only_if_running and not loop.is_running():
                coro.close()
                return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def cancel_and_wait(self) -> None:
        tasks = list(self._tasks)
        self.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

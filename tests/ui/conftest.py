"""qasync fixtures for widget tests (DESIGN.md: pytest-qt's waitUntil alone drives no coroutine).

`qloop` is a fresh qasync `QEventLoop` per test. `arun(coro)` runs a test's async scenario inside
it with a time limit. At teardown a test fails if it left tasks running or the loop reported an
error (an exception nobody retrieved, a callback that raised).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from PySide6.QtWidgets import QApplication
from qasync import QEventLoop

from parley.core.app.secrets import KeyStore
from parley.core.app.settings import Settings
from parley.core.providers.catalog import load_catalog
from parley.core.store import Store
from parley.net.engine import Engine, RetryPolicy
from parley.ui.mainwindow import MainWindow, Services, open_main_window
from parley.ui.message_widgets import AssistantMessageWidget
from parley.ui.tasks import asyncgen_hooks
from tests.helpers.emulator import Emulator

T = TypeVar("T")

ARUN_TIMEOUT = 60.0


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[QEventLoop]:
    loop = QEventLoop(qapp)
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    asyncio.set_event_loop(loop)
    hooks = asyncgen_hooks(loop)  # qasync installs none (see parley.ui.tasks)
    hooks.__enter__()
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        hooks.__exit__(None, None, None)
        asyncio.set_event_loop(None)
        loop.close()
        names = [t.get_name() for t in pending]
        assert not names, f"the test left tasks running: {names}"
        messages = [str(c.get("message")) + ": " + repr(c.get("exception")) for c in errors]
        assert not messages, f"the event loop reported errors: {messages}"


@pytest.fixture
def arun(qloop: QEventLoop) -> Callable[..., Any]:
    def run(coro: Coroutine[Any, Any, T], timeout: float = ARUN_TIMEOUT) -> T:
        return qloop.run_until_complete(asyncio.wait_for(coro, timeout))

    return run


async def wait_for(
    predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll `predicate` while the loop keeps running; fail with `what` after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
def gc_on_the_gui_thread() -> Iterator[None]:
    """As in the app (parley.ui.gc_guard): no collection from worker threads during a test;
    whatever the test left behind is collected here, on the GUI thread."""
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()


# Driving the real main window (tests/ui/test_mainwindow.py, tests/e2e/test_window_e2e.py and
# others): EURI on the loopback emulator, its key for this session only.


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def services(emu: Emulator) -> Iterator[Services]:
    keys = KeyStore()
    keys.set("euri", emu.key("euri"), session_only=True)
    settings = Settings(
        first_run_done=True,
        last_provider="euri",
        last_model="gpt-4o-mini",
        base_urls={"euri": emu.base_url("euri")},
    )
    engine = Engine(retry=RetryPolicy(max_attempts=2, base_delay=0.05, max_delay=1.0))
    yield Services(load_catalog(), settings, Store.open(), engine=engine, keys=keys)
    keys.delete("euri")


async def opened(qapp: QApplication, services: Services) -> MainWindow:
    window = await open_main_window(qapp, services, first_run=False)
    await window.wait_started()
    return window


async def close(window: MainWindow) -> None:
    window.close()
    await window.wait_closed()
    await window.shutdown()


def answers(window: MainWindow) -> list[AssistantMessageWidget]:
    return [w for w in window.chat.messages() if isinstance(w, AssistantMessageWidget)]


async def chat(window: MainWindow, text: str) -> AssistantMessageWidget:
    count = len(answers(window))
    window.composer.set_draft(text)
    window.composer.request_send()
    await wait_for(
        lambda: len(answers(window)) > count and not window.is_streaming(),
        what=f"an answer to {text!r}",
    )
    await wait_for(lambda: answers(window)[-1].status != "streaming", what="the answer to end")
    return answers(window)[-1]

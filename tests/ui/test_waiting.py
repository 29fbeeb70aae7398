"""Before the first token the answer says that it waits and for how long; while the engine
waits to retry, the badge says why, counting down to which attempt (through the emulator)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from parley.net.engine import Engine, RetryPolicy
from parley.ui.mainwindow import Services
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import answers, close, opened, wait_for


async def _send(window: Any, text: str) -> Any:
    window.composer.set_draft(text)
    window.composer.request_send()
    await wait_for(lambda: len(answers(window)) == 1, what="the answer card")
    return answers(window)[0]


def test_a_slow_first_token_shows_the_seconds_waited(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.push(Behavior(text="At last.", first_byte_delay=3.5), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            card = await _send(window, "Slow?")
            line = card.waiting
            assert line is not None and line.isVisible()
            assert line.text().startswith("Waiting for the first token…")
            await wait_for(lambda: line.text().endswith(" 1 s"), what="one second")
            await wait_for(lambda: line.text().endswith(" 2 s"), what="two seconds")
            await wait_for(lambda: card.status == "complete", what="the answer")
            assert not line.isVisible() and not line.is_waiting()
            assert card.text() == "At last."
        finally:
            await close(window)

    arun(scenario())


def test_a_retry_says_why_and_which_attempt_comes(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    services.engine = Engine(retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=2.0))
    emu.push(Behavior(status=503, headers={"Retry-After": "2"}), provider="euri")
    emu.push(Behavior(text="Back again."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            card = await _send(window, "Up?")
            await wait_for(lambda: card.badge.isVisible(), what="the retry badge")
            assert card.badge.text() == "503 from the server, retrying in 2 s (attempt 2 of 3)"
            assert "503" in card.badge.toolTip() or "server" in card.badge.toolTip().lower()
            assert card.waiting is not None and card.waiting.isVisible()  # still waiting
            await wait_for(lambda: "retrying in 1 s" in card.badge.text(), what="the countdown")
            await wait_for(lambda: card.status == "complete", what="the answer")
            assert card.text() == "Back again." and not card.badge.isVisible()
            assert not card.waiting.isVisible()
            assert len(emu.chat_requests("euri")) == 2
        finally:
            await close(window)

    arun(scenario())

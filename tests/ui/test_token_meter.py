"""The token estimate beside the composer: the system prompt, the branch and the draft against
the model's context length, marked as an estimate, updated while typing."""

from __future__ import annotations

from typing import Any

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from parley.core.chat.tokens import estimate_text_tokens
from parley.ui.mainwindow import Services
from tests.helpers.emulator import Emulator
from tests.ui.conftest import chat, close, opened, wait_for


def test_the_estimate_follows_the_draft_the_branch_and_the_context_length(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.set_models("euri", {"data": [{"id": "gpt-4o-mini", "context_length": 1000}]})

    async def scenario() -> None:
        window = await opened(qapp, services)
        label = window.composer.token_label
        meter = window.tokens
        try:
            window.pickers.load_models(refresh=True)
            await wait_for(lambda: window._context_length() == 1000, what="the context length")
            QTest.keyClicks(window.composer.edit, "Hello there, how are you?")
            await wait_for(lambda: "of 1,000 tokens (estimate)" in label.text(), what="typed")
            first = meter.estimate
            assert first is not None and label.text().startswith("≈")
            assert first.tokens >= estimate_text_tokens("Hello there, how are you?")

            await chat(window, "Tell me a story")  # the branch now counts
            window.composer.set_draft("")
            await wait_for(
                lambda: meter.estimate is not None and meter.estimate.tokens > first.tokens,
                what="the branch counted",
            )
            assert label.property("parleyText") == "muted"

            window.composer.set_draft("word " * 1200)  # ~1,500 tokens: over the 1,000
            await wait_for(lambda: meter.estimate is not None and meter.estimate.over)
            assert label.property("parleyText") == "error_text"
        finally:
            await close(window)

    arun(scenario())

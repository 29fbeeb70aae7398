"""A key the provider echoes in its answer is never on screen: not while the answer streams
(a screenshot then would show it), not once it has ended."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from parley.ui.mainwindow import Services
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import answers, close, opened, wait_for


def test_an_echoed_key_is_redacted_while_it_streams_and_after(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    key = emu.key("euri")
    text = f"Your key is {key}, keep it safe. " + "More words follow. " * 5
    emu.default = Behavior(text=text, chunk_chars=9, pause_after=8, pause=1.5)

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.composer.set_draft("what is my key?")
            window.composer.request_send()
            await wait_for(
                lambda: bool(answers(window)) and "keep it" in answers(window)[0].text(),
                what="the key and the words after it to arrive",
            )
            (answer,) = answers(window)
            assert window.is_streaming()  # the pause: still streaming
            assert key in answer.text()  # what arrived holds the key...
            answer.flush()
            shown = answer.body.toPlainText()
            assert "Your key is" in shown and "keep it" in shown
            for piece in (key, key[:10], key[-10:]):  # ...what is shown does not, nor a piece
                assert piece not in shown
            await wait_for(lambda: not window.is_streaming(), what="the end of the answer")
            shown = answers(window)[0].body.toPlainText()
            assert "More words follow." in shown and key[:10] not in shown
        finally:
            await close(window)

    arun(scenario())

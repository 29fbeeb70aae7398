"""The read timeout is a setting: the window's requests use the one set in Settings, and an
answer that waits longer than it stops with a message that says where to change it."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from parley.ui.mainwindow import Services
from parley.ui.settings_dialog import SettingsDialog
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import answers, close, opened, wait_for


def test_the_read_timeout_set_in_settings_is_the_one_requests_wait(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            dialog = window.dialogs.open_settings()
            assert isinstance(dialog, SettingsDialog)
            assert dialog.timeout_spin.value() == 120
            dialog.timeout_spin.setValue(5)
            assert dialog.apply()
            dialog.close()
            assert services.settings.read_timeout == 5.0
            emu.default = Behavior(first_byte_delay=5.6)
            window.composer.set_draft("are you there?")
            window.composer.request_send()
            await wait_for(
                lambda: bool(answers(window)) and not window.is_streaming(),
                timeout=40,
                what="the answer to time out",
            )
            (answer,) = answers(window)
            assert services.engine.timeout.read == 5.0
            assert services.engine.retry.max_attempts == 2  # the rest of the engine as it was
            message = answer.error_message.text()
            assert "did not start answering within 5 s" in message
            assert "Settings, Read timeout" in message
        finally:
            await close(window)

    arun(scenario(), timeout=60)

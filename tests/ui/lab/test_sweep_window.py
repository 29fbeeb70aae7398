"""The sweep window from the main window (Ctrl+Shift+L): the Lab's engine sends each request
once, closing the window mid-sweep cancels it (finished runs kept), and the app's shutdown
closes the Lab's engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from parley.core.store import lab as lab_store
from parley.ui.lab.sweep_window import SweepWindow
from parley.ui.mainwindow import Services
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import close, opened, wait_for
from tests.ui.lab.test_sweep_page import fill


def test_the_window_opens_it_and_closing_it_cancels_the_sweep(
    qapp: QApplication, services: Services, emu: Emulator, arun: Callable[..., Any]
) -> None:
    emu.default = Behavior(text="slow " * 10, chunk_delay=0.02)

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            QTest.keyClick(window, Qt.Key.Key_L, ctrl_shift)
            sweeps = [d for d in window.dialogs.open_dialogs if isinstance(d, SweepWindow)]
            assert len(sweeps) == 1 and sweeps[0].isVisible()
            sweep_window = sweeps[0]
            assert window.open_sweep() is sweep_window  # one per app, raised again
            page = sweep_window.page
            assert page.engine is services.lab_engine
            assert page.engine.retry.max_attempts == 1  # the runner retries, lane by lane
            fill(page, emu, repeat=8)
            for row in range(page.editor.variants.rowCount()):
                page.editor.variants.item(row, 4).setText(emu.base_url("local"))
            task = page.start()
            assert task is not None
            await wait_for(lambda: page.results.table.model.total() >= 2, what="2 runs")
            sweep_window.close()
            assert not sweep_window.isVisible()
            await wait_for(lambda: page.state == "idle", what="the sweep to stop")
            (row,) = lab_store.list_experiments(services.store)
            assert row.status == "cancelled" and 2 <= row.runs < 32
        finally:
            await close(window)
        assert services.lab_engine._client is None  # closed at shutdown

    arun(scenario())

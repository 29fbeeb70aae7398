"""The Sweep page in the Lab window (View → A sweep in the Lab…, Ctrl+Shift+L): built when
first shown, with the Lab's own engine (each request sent once; the runner retries); a sweep
file given to the Lab (`parley FILE.toml`) opens there; the app's shutdown stops a sweep under
way (its finished runs kept) and closes that engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from parley.core.store import Store
from parley.core.store import lab as lab_store
from parley.ui.mainwindow import Services
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import close, opened, wait_for
from tests.ui.lab.test_sweep_page import fill

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "temperature-x-seed.toml"


def test_the_sweep_page_in_the_lab_and_the_apps_shutdown_stops_its_sweep(
    qapp: QApplication, services: Services, emu: Emulator, arun: Callable[..., Any]
) -> None:
    emu.default = Behavior(text="slow " * 10, chunk_delay=0.02)

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            tab = window.lab.sweep
            assert not tab.built  # nothing of it made at start-up
            ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            QTest.keyClick(window, Qt.Key.Key_L, ctrl_shift)
            await wait_for(lambda: window.lab.isVisible(), what="the Lab")
            assert window.lab.tabs.currentWidget() is tab and tab.built
            page = tab.page
            assert page.engine is services.lab_engine
            assert page.engine.retry.max_attempts == 1  # the runner retries, lane by lane
            assert page.engine is not services.engine

            # A sweep file given to the Lab (not a comparison: it has a grid) opens here.
            assert window.open_experiment_file(str(EXAMPLE))
            assert window.lab.tabs.currentWidget() is tab
            assert page.editor.name_edit.text() == "temperature x seed"
            assert window.lab.summary() == "temperature x seed: a sweep of 24 runs ready to check"

            fill(page, emu, repeat=8)
            for row in range(page.editor.variants.rowCount()):
                page.editor.variants.item(row, 4).setText(emu.base_url("local"))
            task = page.start()
            assert task is not None
            await wait_for(lambda: page.results.table.model.total() >= 2, what="2 runs")
            window.lab.close()  # the Lab hides; the sweep goes on
            await wait_for(lambda: page.results.table.model.total() >= 3, what="a third run")
        finally:
            await close(window)
        with Store.open() as store:  # the window closed its history at shutdown
            (row,) = lab_store.list_experiments(store)
        assert row.status == "cancelled" and 3 <= row.runs < 32
        assert services.lab_engine._client is None  # closed at shutdown

    arun(scenario())

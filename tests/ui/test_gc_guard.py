"""Garbage collection runs on the GUI thread only (parley.ui.gc_guard)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from parley.ui.gc_guard import MainThreadCollector, collect_due


class Cycle:
    def __init__(self, finalised_in: list[str]) -> None:
        self.me = self
        self.finalised_in = finalised_in

    def __del__(self) -> None:
        self.finalised_in.append(threading.current_thread().name)


def test_cyclic_garbage_made_in_a_worker_is_collected_on_the_gui_thread(
    qapp: QApplication, qtbot: QtBot
) -> None:
    finalised_in: list[str] = []
    gc.enable()  # as in a fresh process (the suite's fixture turns it off during UI tests)
    owner = QObject()
    collector = MainThreadCollector(owner, interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()

        def worker() -> None:
            # Enough cyclic garbage to cross the threshold: enabled, it would be collected here.
            for _ in range(2_000):
                Cycle(finalised_in)

        thread = threading.Thread(target=worker, name="worker")
        thread.start()
        thread.join()
        assert finalised_in == [], "collected off the GUI thread"
        qtbot.waitUntil(lambda: len(finalised_in) == 2_000, timeout=5000)
        assert set(finalised_in) == {threading.main_thread().name}
    finally:
        collector.stop()
    assert gc.isenabled()


def test_collect_due_picks_nothing_below_the_thresholds() -> None:
    gc.collect()
    assert collect_due() is None

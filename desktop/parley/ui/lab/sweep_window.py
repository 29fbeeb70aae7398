"""The sweep page in a window of its own (until the Lab's window holds it), opened from the main
window with Ctrl+Shift+L. Closing it while a sweep runs cancels the sweep (finished runs are
kept; Resume finishes the rest) and closes once the sweep has stopped."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from parley.ui.lab.sweep_page import SweepPage


class SweepWindow(QWidget):
    def __init__(self, page: SweepPage, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.page = page
        self.setWindowTitle("Parley Lab — Sweep")
        self.setAccessibleName("Sweep window")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        page.setParent(self)
        lay.addWidget(page)
        self.resize(1400, 860)
        self._closing = False
        page.finished.connect(self._sweep_ended)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.page.state == "running":
            event.ignore()
            self._closing = True
            self.hide()
            self.page.cancel()
            return
        event.accept()

    def _sweep_ended(self, _sweep: object) -> None:
        if self._closing:
            self._closing = False
            self.close()

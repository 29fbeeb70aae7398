"""The candidates of one request as tabs; the tab shown is the one the conversation goes on
from."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTabBar, QWidget

from parley.core.chat.candidates import CandidateSet
from parley.ui import theme


class CandidateTabs(QWidget):
    """`chosen(index)`: the user picked candidate `index` (its own index, not the tab's)."""

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Candidates")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.tabs = QTabBar(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        self.tabs.setAccessibleName("Candidate tabs")
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setAccessibleName("How the candidates were asked for")
        theme.tag(self.label, text="muted")
        lay.addWidget(self.tabs)
        lay.addWidget(self.label)
        lay.addStretch(1)
        self._indexes: list[int] = []
        self._setting = False
        self.tabs.currentChanged.connect(self._on_tab)

    def set_candidates(self, cands: CandidateSet) -> None:
        self._setting = True
        try:
            while self.tabs.count():
                self.tabs.removeTab(0)
            self._indexes = []
            for position, c in enumerate(cands.candidates):
                mark = " \u26a0" if c.status == "failed" else ""
                self.tabs.addTab(f"{position + 1}{mark}")
                tip = f"Candidate {position + 1} of {len(cands)}"
                if c.error:
                    tip += f": {c.error}"
                elif c.status != "complete":
                    tip += f" ({c.status})"
                self.tabs.setTabToolTip(position, tip)
                self._indexes.append(c.index)
            if cands.chosen in self._indexes:
                self.tabs.setCurrentIndex(self._indexes.index(cands.chosen))
        finally:
            self._setting = False
        self.label.setText(f"{cands.label()} · the conversation goes on from the one shown")
        self.label.setToolTip(
            "Each tab is one candidate answer to the same request. "
            + (
                "The provider has no n parameter, so each was asked for in a request of its own."
                if cands.fan_out > 1
                else "They came in one request (n)."
            )
        )

    def current(self) -> int | None:
        """The candidate shown (its index)."""
        tab = self.tabs.currentIndex()
        return self._indexes[tab] if 0 <= tab < len(self._indexes) else None

    def show_candidate(self, index: int) -> None:
        """Show candidate `index` (as a click on its tab does)."""
        if index in self._indexes:
            self.tabs.setCurrentIndex(self._indexes.index(index))

    def _on_tab(self, tab: int) -> None:
        if self._setting or not 0 <= tab < len(self._indexes):
            return
        self.chosen.emit(self._indexes[tab])

"""The Lab's Leaderboard page: the blind votes ranked (core.lab.leaderboard), overall or by
tag, with exports of the rankings and the votes as CSV or JSON."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab import leaderboard
from parley.core.lab.compare import stored_votes
from parley.core.lab.leaderboard import Leaderboard, Vote
from parley.core.store import StoreError

COLUMNS = ("#", "Model", "Rating", "95% interval", "", "Games", "Wins")
BAR_COLUMN = 4
SPAN_ROLE = Qt.ItemDataRole.UserRole + 1  # (low, rating, high) of a row


class IntervalBar(QStyledItemDelegate):
    """Each row's 95 % interval drawn as a line on one scale for the whole table, the rating
    a dot on it: which models' intervals overlap is seen at a glance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scale = (0.0, 1.0)

    def paint(self, painter: QPainter, option: Any, index: Any) -> None:
        super().paint(painter, option, index)
        span = index.data(SPAN_ROLE)
        lo, hi = self.scale
        if not span or hi <= lo:
            return
        low, rating, high = span
        rect = option.rect.adjusted(8, 0, -8, 0)

        def x(value: float) -> float:
            return float(rect.left() + (value - lo) / (hi - lo) * rect.width())

        y = rect.center().y()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = option.palette.color(QPalette.ColorRole.Highlight)
        painter.setPen(QPen(color, 2))
        painter.drawLine(QPointF(x(low), y), QPointF(x(high), y))
        painter.setBrush(color)
        painter.drawEllipse(QPointF(x(rating), y), 4, 4)
        painter.restore()


ALL_TAGS = "All votes"


class LeaderboardPage(QWidget):
    def __init__(self, store: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self.votes: list[Vote] = []
        self.board: Leaderboard = leaderboard.bradley_terry([])
        self._dialog: QFileDialog | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        head = QHBoxLayout()
        head.addWidget(QLabel("Tag:", self))
        self.tag_combo = QComboBox(self)
        self.tag_combo.setAccessibleName("Leaderboard tag")
        self.tag_combo.currentIndexChanged.connect(lambda _i: self._rank())
        head.addWidget(self.tag_combo)
        head.addStretch(1)
        self.export_ranks_button = QPushButton("Export rankings…", self)
        self.export_ranks_button.setAccessibleName("Export the rankings as CSV or JSON")
        self.export_ranks_button.clicked.connect(lambda: self.ask_path("rankings"))
        self.export_votes_button = QPushButton("Export votes…", self)
        self.export_votes_button.setAccessibleName("Export the votes as CSV or JSON")
        self.export_votes_button.clicked.connect(lambda: self.ask_path("votes"))
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        for b in (self.refresh_button, self.export_ranks_button, self.export_votes_button):
            head.addWidget(b)
        lay.addLayout(head)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setAccessibleName("Leaderboard")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.bars = IntervalBar(self.table)
        self.table.setItemDelegateForColumn(BAR_COLUMN, self.bars)
        lay.addWidget(self.table, 1)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setAccessibleName("Leaderboard note")
        lay.addWidget(self.note)

    def tag(self) -> str | None:
        data = self.tag_combo.currentData()
        return str(data) if data else None

    def refresh(self) -> None:
        try:
            self.votes = stored_votes(self._store())
        except StoreError as err:
            self.note.setText(f"The votes could not be read: {err.message}")
            return
        current = self.tag()
        tags = sorted({t for v in self.votes for t in v.tags})
        self.tag_combo.blockSignals(True)
        self.tag_combo.clear()
        self.tag_combo.addItem(ALL_TAGS, None)
        for t in tags:
            self.tag_combo.addItem(t, t)
        found = self.tag_combo.findData(current) if current else 0
        self.tag_combo.setCurrentIndex(max(0, found))
        self.tag_combo.blockSignals(False)
        self._rank()

    def _rank(self) -> None:
        self.board = leaderboard.bradley_terry(self.votes, tag=self.tag())
        ranks = self.board.ranks
        self.table.setRowCount(len(ranks))
        for row, r in enumerate(ranks):
            interval = f"{r.low:.0f} – {r.high:.0f}" if math.isfinite(r.low) else "?"
            cells = (
                str(r.rank),
                r.model,
                f"{r.rating:.0f}",
                interval,
                "",
                f"{r.games:g}",
                f"{r.wins:g}",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col != 1:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if col == BAR_COLUMN and math.isfinite(r.low):
                    item.setData(SPAN_ROLE, (r.low, r.rating, r.high))
                    item.setToolTip(f"95 % interval of {r.model}: {interval}")
                self.table.setItem(row, col, item)
        finite = [x for r in ranks for x in (r.low, r.high) if math.isfinite(x)]
        self.bars.scale = (min(finite), max(finite)) if finite else (0.0, 1.0)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(BAR_COLUMN, 260)
        if not ranks:
            self.note.setText(
                "No votes yet. In Compare, tick Blind, send a prompt, and say which answer is "
                "better: the models are ranked here."
            )
        else:
            self.note.setText(
                f"{self.board.votes} votes. Bradley–Terry strengths on the Elo scale (ties count "
                "half a win each way; one virtual tie per model steadies the first votes), with "
                "95 % confidence intervals. " + " ".join(self.board.notes)
            )

    # ------------------------------------------------------------------ exports

    def export(self, what: str, path: str | Path) -> bool:
        target = Path(path)
        fmt = "json" if target.suffix.lower() == ".json" else "csv"
        if what == "votes":
            chosen = [v for v in self.votes if self.tag() is None or self.tag() in v.tags]
            text = (
                leaderboard.votes_json(chosen) if fmt == "json" else leaderboard.votes_csv(chosen)
            )
        else:
            text = (
                leaderboard.ranks_json(self.board)
                if fmt == "json"
                else leaderboard.ranks_csv(self.board)
            )
        try:
            tmp = target.with_name(target.name + ".part")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:
            self.note.setText(f"{target.name} could not be written: {exc.strerror or exc}")
            return False
        self.note.setText(f"Wrote {target}.")
        return True

    def ask_path(self, what: str) -> QFileDialog:
        dialog = QFileDialog(self, f"Export the {what}")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["CSV (*.csv)", "JSON (*.json)"])
        dialog.setDefaultSuffix("csv")
        dialog.fileSelected.connect(lambda path: self.export(what, path))
        dialog.finished.connect(dialog.deleteLater)
        self._dialog = dialog
        dialog.open()
        return dialog

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

"""The results table: a filter bar over the table view of `ResultsTableModel`.

Double-click (or Enter on) a row to open its run (`run_activated`). The matrix narrows the table
to one cell's runs with `show_runs()`; "All runs" widens it again.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.results import RunRecord
from parley.ui.lab.results_model import STATUS_FILTERS, ResultsTableModel

FILTER_DELAY_MS = 150  # typing in the filter box: filtered once the typing pauses


class ResultsView(QTableView):
    """The table as configured for many rows: no row numbers (the Run column has them), fixed
    row heights, column widths set (never measured over 10,000 rows), sorting by the model."""

    activated_record = Signal(object)  # RunRecord

    def __init__(self, model: ResultsTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setAccessibleName("Results table")
        self.setSortingEnabled(True)
        self.horizontalHeader().setSortIndicatorShown(True)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.horizontalHeader().setStretchLastSection(True)
        self.apply_widths()
        model.modelReset.connect(self._columns_maybe_changed)
        self.doubleClicked.connect(self._activate)

    def results_model(self) -> ResultsTableModel:
        model = self.model()
        assert isinstance(model, ResultsTableModel)
        return model

    def apply_widths(self) -> None:
        header = self.horizontalHeader()
        fm = header.fontMetrics()
        for i, col in enumerate(self.results_model().columns):
            # Never narrower than its title (a grid key can be long), and never measured over
            # the rows.
            header.resizeSection(i, max(col.width, fm.horizontalAdvance(col.title) + 28))
        self._shown_columns = len(self.results_model().columns)

    def _columns_maybe_changed(self) -> None:
        if self.results_model().columnCount() != getattr(self, "_shown_columns", -1):
            self.apply_widths()

    def _activate(self, index: QModelIndex) -> None:
        if index.isValid():
            self.activated_record.emit(self.results_model().record(index.row()))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._activate(self.currentIndex())
            return
        super().keyPressEvent(event)


class ResultsTable(QWidget):
    run_activated = Signal(object)  # RunRecord

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ResultsTableModel(parent=self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter: words in the output, variant, model, grid…")
        self.filter_edit.setAccessibleName("Filter the results")
        self.filter_edit.setClearButtonEnabled(True)
        bar.addWidget(self.filter_edit, 1)
        self.status_combo = QComboBox(self)
        self.status_combo.setAccessibleName("Show runs")
        for name in STATUS_FILTERS:
            self.status_combo.addItem("all runs" if name == "all" else name, name)
        bar.addWidget(self.status_combo)
        self.distinct_box = QCheckBox("One row per distinct output", self)
        self.distinct_box.setToolTip(
            "Identical outputs of a cell shown once (the × column counts them)"
        )
        bar.addWidget(self.distinct_box)
        self.cell_button = QPushButton("All runs", self)
        self.cell_button.setToolTip("Show every run again (not only the matrix cell's)")
        self.cell_button.hide()
        bar.addWidget(self.cell_button)
        self.count_label = QLabel(self)
        self.count_label.setAccessibleName("Rows shown")
        bar.addWidget(self.count_label)
        lay.addLayout(bar)
        self.view = ResultsView(self.model, self)
        lay.addWidget(self.view, 1)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_text_filter)
        self.filter_edit.textChanged.connect(lambda _t: self._filter_timer.start())
        self.status_combo.currentIndexChanged.connect(
            lambda _i: self._refilter(status=self.status_combo.currentData())
        )
        self.distinct_box.toggled.connect(lambda on: self._refilter(distinct_only=on))
        self.cell_button.clicked.connect(lambda: self.show_runs(None))
        self.view.activated_record.connect(self.run_activated)
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            signal.connect(self._count)
        self._count()

    def set_columns(self, grid: Iterable[str], many_prompts: bool) -> None:
        self.model.set_columns(list(grid), many_prompts)

    def set_records(self, records: Iterable[RunRecord]) -> None:
        self.model.set_records(records)

    def add_record(self, record: RunRecord) -> None:
        self.model.add_record(record)

    def add_records(self, records: Iterable[RunRecord]) -> None:
        self.model.add_records(records)

    def apply_text_filter(self) -> None:
        self._filter_timer.stop()
        self._refilter(text=self.filter_edit.text())

    def show_runs(self, runs: Iterable[int] | None, what: str = "") -> None:
        """Only these runs (a matrix cell's), or every run again with None."""
        self.model.set_filter(runs=None if runs is None else list(runs))
        self.cell_button.setVisible(runs is not None)
        self.cell_button.setToolTip(
            f"Showing only {what}: show every run again" if what else "Show every run again"
        )
        self._count()

    def _refilter(self, **kw: object) -> None:
        self.model.set_filter(**kw)  # type: ignore[arg-type]
        self._count()

    def _count(self, *_args: object) -> None:
        shown, total = self.model.rowCount(), self.model.total()
        self.count_label.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,} runs")

"""The results as a matrix: any axis against any axis, each cell coloured by a metric (pass
rate, TTFT p50/p95, tok/s, cost, ...) from the worst cell (red) to the best (green). A cell's
tooltip has its p50/p95, its distinct outputs with their counts and its fingerprints; clicking
a cell opens its runs (`cell_activated(run ids, what)`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtCore import Signal as QtSignal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.results import Results, Spread
from parley.core.lab.views import METRICS, Matrix, MatrixCell, axes, matrix
from parley.ui import theme

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
CELL_ROLE = int(Qt.ItemDataRole.UserRole) + 1

# Worst, middle, best: mixed into the window's background so the text stays readable.
_SCALE = ("#d73a49", "#e3b341", "#2da44e")


def metric_text(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "%":
        return f"{value:.0%}"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "tok/s":
        return f"{value:,.1f} tok/s"
    if unit == "tokens":
        return f"{value:,.1f}"
    if unit == "":
        return f"{value:.6f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return f"{value:g} {unit}"


def _spread(name: str, s: Spread, unit: str) -> str:
    return f"{name}: p50 {metric_text(s.p50, unit)} · p95 {metric_text(s.p95, unit)}"


_SPREADS = {
    "TTFT": ("ttft_ms", "ms"),
    "tok/s": ("tokens_per_s", "tok/s"),
    "total": ("total_ms", "ms"),
}


def _other_percentile(metric: str, cell: MatrixCell) -> str:
    """For a p50 metric the cell's p95, and for a p95 its p50 (both per cell, always)."""
    head, _, q = metric.rpartition(" ")
    if head not in _SPREADS or q not in ("p50", "p95"):
        return ""
    attr, unit = _SPREADS[head]
    spread: Spread = getattr(cell, attr)
    other = "p95" if q == "p50" else "p50"
    return f"{other} {metric_text(getattr(spread, other), unit)}"


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def scale_color(goodness: float, background: QColor, strength: float = 0.45) -> QColor:
    worst, middle, best = (QColor(c) for c in _SCALE)
    hue = (
        _mix(worst, middle, goodness * 2)
        if goodness < 0.5
        else _mix(middle, best, goodness * 2 - 1)
    )
    return _mix(background, hue, strength)


class MatrixModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.matrix: Matrix | None = None

    def set_matrix(self, m: Matrix | None) -> None:
        self.beginResetModel()
        self.matrix = m
        self.endResetModel()

    def cell(self, row: int, column: int) -> MatrixCell | None:
        return None if self.matrix is None else self.matrix.cells.get((row, column))

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() or self.matrix is None else len(self.matrix.rows)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() or self.matrix is None else len(self.matrix.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        m = self.matrix
        if m is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        labels = m.columns if orientation == Qt.Orientation.Horizontal else m.rows
        if not 0 <= section < len(labels):
            return None
        axis = m.column_axis if orientation == Qt.Orientation.Horizontal else m.row_axis
        label = labels[section][1]
        return label if axis in ("variant", "prompt", "repeat") else f"{axis} = {label}"

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        m = self.matrix
        if m is None or not index.isValid():
            return None
        cell = m.cells.get((index.row(), index.column()))
        role = int(role)
        if role == int(Qt.ItemDataRole.DisplayRole):
            if cell is None:
                return "not run"
            second = f"{len(cell.runs)} runs"
            other = _other_percentile(m.metric.name, cell)
            if other:
                second = f"{other} · {second}"
            if cell.failed:
                second += f" · {cell.failed} failed"
            return f"{metric_text(cell.value, m.metric.unit)}\n{second}"
        if role == int(Qt.ItemDataRole.TextAlignmentRole):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == int(Qt.ItemDataRole.BackgroundRole):
            goodness = None if cell is None else m.goodness(cell)
            if goodness is None:
                return None
            return scale_color(goodness, QColor(theme.colors().base))
        if role == int(Qt.ItemDataRole.ToolTipRole) and cell is not None:
            return self.tooltip(cell)
        if role == CELL_ROLE:
            return cell
        return None

    def tooltip(self, cell: MatrixCell) -> str:
        assert self.matrix is not None
        lines = [f"{self.matrix.metric.name}: {metric_text(cell.value, self.matrix.metric.unit)}"]
        lines.append(f"{len(cell.runs)} runs, {cell.failed} failed")
        if cell.checked:
            lines.append(f"checks passed: {cell.passed}/{cell.checked}")
        lines.append(_spread("TTFT", cell.ttft_ms, "ms"))
        lines.append(_spread("tok/s", cell.tokens_per_s, "tok/s"))
        lines.append(_spread("total", cell.total_ms, "ms"))
        if cell.fingerprints:
            lines.append("fingerprints: " + ", ".join(cell.fingerprints))
        if cell.outputs:
            lines.append(f"{len(cell.outputs)} distinct outputs:")
            for text, count in cell.outputs[:3]:
                line = " ".join(text.split())
                line = line if len(line) <= 70 else line[:69] + "…"
                lines.append(f"  ×{count}  {line or '(empty)'}")
            if len(cell.outputs) > 3:
                lines.append(f"  … and {len(cell.outputs) - 3} more")
        lines.append("Click to see these runs.")
        return "\n".join(lines)


class MatrixPane(QWidget):
    cell_activated = QtSignal(object, str)  # run ids (tuple), what they are

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: Results | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.row_combo = QComboBox(self)
        self.row_combo.setAccessibleName("Matrix rows")
        self.column_combo = QComboBox(self)
        self.column_combo.setAccessibleName("Matrix columns")
        self.metric_combo = QComboBox(self)
        self.metric_combo.setAccessibleName("Colour by")
        self.metric_combo.addItems(list(METRICS))
        for text, combo in (
            ("Rows:", self.row_combo),
            ("Columns:", self.column_combo),
            ("Colour by:", self.metric_combo),
        ):
            label = QLabel(text, self)
            label.setBuddy(combo)
            bar.addWidget(label)
            bar.addWidget(combo)
        bar.addStretch(1)
        self.range_label = QLabel(self)
        theme.tag(self.range_label, text="muted")
        bar.addWidget(self.range_label)
        lay.addLayout(bar)
        self.model = MatrixModel(self)
        self.view = QTableView(self)
        self.view.setAccessibleName("Results matrix")
        self.view.setModel(self.model)
        self.view.setWordWrap(True)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setMinimumSectionSize(110)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() * 2 + 16)
        lay.addWidget(self.view, 1)
        for combo in (self.row_combo, self.column_combo, self.metric_combo):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)

    def set_results(self, results: Results | None) -> None:
        self.results = results
        names = axes(results) if results is not None else []
        for combo in (self.row_combo, self.column_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.blockSignals(False)
        if results is not None:
            experiment = results.plan.experiment
            grid = list(experiment.grid_names)
            row = "variant"
            column = grid[0] if grid else ("prompt" if len(experiment.prompts) > 1 else "repeat")
            if len(experiment.variants) == 1 and len(grid) > 1:
                row, column = grid[0], grid[1]
            self.row_combo.setCurrentText(row)
            self.column_combo.setCurrentText(column)
            if not experiment.checks and self.metric_combo.currentText() == "pass rate":
                self.metric_combo.setCurrentText("TTFT p50")
        self.refresh()

    def set_axes(self, rows: str, columns: str, metric: str | None = None) -> None:
        self.row_combo.setCurrentText(rows)
        self.column_combo.setCurrentText(columns)
        if metric is not None:
            self.metric_combo.setCurrentText(metric)
        self.refresh()

    def refresh(self) -> None:
        results = self.results
        rows, columns = self.row_combo.currentText(), self.column_combo.currentText()
        if results is None or not rows or not columns:
            self.model.set_matrix(None)
            self.range_label.setText("")
            return
        m = matrix(results, rows, columns, self.metric_combo.currentText())
        self.model.set_matrix(m)
        span = m.range
        if span is None:
            self.range_label.setText("no values yet")
        else:
            better = "higher" if m.metric.higher_is_better else "lower"
            low, high = (metric_text(v, m.metric.unit) for v in span)
            self.range_label.setText(f"{low} … {high} (green: {better} is better)")

    def _clicked(self, index: QModelIndex) -> None:
        m = self.model.matrix
        cell = self.model.cell(index.row(), index.column())
        if m is None or cell is None:
            return
        what = f"{self.model.headerData(index.row(), Qt.Orientation.Vertical)} × " + str(
            self.model.headerData(index.column(), Qt.Orientation.Horizontal)
        )
        self.cell_activated.emit(cell.runs, what)

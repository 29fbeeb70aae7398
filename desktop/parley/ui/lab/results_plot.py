"""A metric against a numeric parameter: every run as a dot, the metric over the runs at each
value as a line, one colour per variant (and prompt), painted with QPainter (Qt Charts is not
in PySide6-Essentials, and a plot this simple needs no plotting library)."""

from __future__ import annotations

import itertools
import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from parley.core.lab.results import Results
from parley.core.lab.views import METRICS, Series, numeric_axes, series
from parley.ui import theme
from parley.ui.lab.results_matrix import metric_text

_STYLES = (
    Qt.PenStyle.SolidLine,
    Qt.PenStyle.DashLine,
    Qt.PenStyle.DotLine,
    Qt.PenStyle.DashDotLine,
)
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#bc4c00", "#6e7781")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values covering low..high (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_text(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:.4g}"


class PlotCanvas(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Plot")
        self.setMinimumSize(360, 260)
        self.series: list[Series] = []
        self.x_label = ""
        self.y_label = ""
        self.y_unit = ""
        self.message = ""

    def set_data(self, data: list[Series], x_label: str, y_label: str, y_unit: str) -> None:
        self.series = data
        self.x_label, self.y_label, self.y_unit = x_label, y_label, y_unit
        self.message = "" if any(s.points or s.line for s in data) else "No values to plot yet."
        self.setAccessibleDescription(
            f"{y_label} against {x_label}: "
            + "; ".join(
                f"{s.label}: "
                + ", ".join(f"{_tick_text(x)} → {metric_text(y, y_unit)}" for x, y in s.line)
                for s in data
            )
        )
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = theme.colors()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(colors.base))
        text_color, muted = QColor(colors.text), QColor(colors.muted)
        fm = p.fontMetrics()
        if self.message:
            p.setPen(muted)
            p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), self.message)
            return
        xs = [x for s in self.series for x, _y in (*s.points, *s.line)]
        ys = [y for s in self.series for _x, y in (*s.points, *s.line)]
        percent = self.y_unit == "%"
        y_low = 0.0 if percent or min(ys) >= 0 else min(ys)
        y_high = 1.0 if percent else max(ys)
        x_ticks = nice_ticks(min(xs), max(xs), 6)
        y_ticks = nice_ticks(y_low, y_high, 5)
        if not x_ticks or not y_ticks:
            return
        x0, x1 = min(x_ticks[0], min(xs)), max(x_ticks[-1], max(xs))
        y0, y1 = min(y_ticks[0], y_low), max(y_ticks[-1], y_high)
        y_texts = [metric_text(t, self.y_unit) if percent else _tick_text(t) for t in y_ticks]
        left = 16 + fm.height() + max(fm.horizontalAdvance(t) for t in y_texts)
        legend_w = 24 + max((fm.horizontalAdvance(s.label) for s in self.series), default=0)
        right = 16 + legend_w
        top, bottom = 16 + fm.height(), 20 + fm.height() * 2
        area = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        if area.width() < 40 or area.height() < 40:
            return

        def at(x: float, y: float) -> QPointF:
            fx = (x - x0) / (x1 - x0) if x1 != x0 else 0.5
            fy = (y - y0) / (y1 - y0) if y1 != y0 else 0.5
            return QPointF(area.left() + fx * area.width(), area.bottom() - fy * area.height())

        grid_pen = QPen(QColor(colors.card_border))
        grid_pen.setWidthF(0.8)
        for t, label in zip(y_ticks, y_texts, strict=True):
            pt = at(x0, t)
            p.setPen(grid_pen)
            p.drawLine(QPointF(area.left(), pt.y()), QPointF(area.right(), pt.y()))
            p.setPen(muted)
            p.drawText(
                QRectF(0, pt.y() - fm.height() / 2, left - 6, fm.height()),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                label,
            )
        for t in x_ticks:
            pt = at(t, y0)
            p.setPen(grid_pen)
            p.drawLine(QPointF(pt.x(), area.top()), QPointF(pt.x(), area.bottom()))
            p.setPen(muted)
            p.drawText(
                QRectF(pt.x() - 40, area.bottom() + 4, 80, fm.height()),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                _tick_text(t),
            )
        axis_pen = QPen(text_color)
        axis_pen.setWidthF(1.2)
        p.setPen(axis_pen)
        p.drawLine(area.bottomLeft(), area.bottomRight())
        p.drawLine(area.bottomLeft(), area.topLeft())
        bold = QFont(p.font())
        bold.setBold(True)
        p.setFont(bold)
        p.drawText(
            QRectF(area.left(), self.height() - fm.height() - 6, area.width(), fm.height() + 4),
            int(Qt.AlignmentFlag.AlignHCenter),
            self.x_label,
        )
        p.save()
        p.translate(4 + fm.height() / 2, area.center().y())
        p.rotate(-90)
        y_title = self.y_label + (f" ({self.y_unit})" if self.y_unit and not percent else "")
        p.drawText(
            QRectF(-area.height() / 2, -fm.height() / 2, area.height(), fm.height() + 4),
            int(Qt.AlignmentFlag.AlignHCenter),
            y_title,
        )
        p.restore()
        p.setFont(self.font())

        count = len(self.series)
        for i, s in enumerate(self.series):
            color = QColor(PALETTE[i % len(PALETTE)])
            # Series that coincide stay visible: the earlier ones drawn wider, the later dashed.
            width = 2.0 + (count - 1 - i) * 1.6
            style = _STYLES[i % len(_STYLES)]
            dot = QColor(color)
            dot.setAlpha(90)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(dot)
            for x, y in s.points:
                p.drawEllipse(at(x, y), 3.0, 3.0)
            pen = QPen(color)
            pen.setWidthF(width)
            pen.setStyle(style)
            p.setPen(pen)
            points = [at(x, y) for x, y in s.line]
            for a, b in itertools.pairwise(points):
                p.drawLine(a, b)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            for pt in points:
                p.drawEllipse(pt, width + 1.5, width + 1.5)
            p.setPen(pen)
            # The legend, beside the plot.
            ly = area.top() + i * (fm.height() + 6)
            lx = area.right() + 12
            p.drawLine(QPointF(lx, ly + fm.height() / 2), QPointF(lx + 14, ly + fm.height() / 2))
            p.setPen(text_color)
            p.drawText(QPointF(lx + 20, ly + fm.ascent()), s.label)
        p.end()


class PlotPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: Results | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.metric_combo = QComboBox(self)
        self.metric_combo.setAccessibleName("Plot metric")
        self.metric_combo.addItems(list(METRICS))
        self.metric_combo.setCurrentText("TTFT p50")
        self.x_combo = QComboBox(self)
        self.x_combo.setAccessibleName("Plot against")
        for text, combo in (("Plot:", self.metric_combo), ("against:", self.x_combo)):
            label = QLabel(text, self)
            label.setBuddy(combo)
            bar.addWidget(label)
            bar.addWidget(combo)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.canvas = PlotCanvas(self)
        lay.addWidget(self.canvas, 1)
        self.metric_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.x_combo.currentIndexChanged.connect(lambda _i: self.refresh())

    def set_results(self, results: Results | None) -> None:
        self.results = results
        self.x_combo.blockSignals(True)
        self.x_combo.clear()
        if results is not None:
            self.x_combo.addItems(numeric_axes(results))
        self.x_combo.blockSignals(False)
        self.refresh()

    def set_axes(self, metric: str, parameter: str) -> None:
        self.metric_combo.setCurrentText(metric)
        self.x_combo.setCurrentText(parameter)
        self.refresh()

    def refresh(self) -> None:
        parameter, metric = self.x_combo.currentText(), self.metric_combo.currentText()
        if self.results is None or not parameter:
            self.canvas.set_data([], "", "", "")
            self.canvas.message = (
                "This experiment has no numeric grid parameter (or repeats) to plot against."
                if self.results is not None
                else "No results yet."
            )
            self.canvas.update()
            return
        m = METRICS[metric]
        self.canvas.set_data(series(self.results, parameter, metric), parameter, metric, m.unit)

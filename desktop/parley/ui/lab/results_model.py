"""The sweep's results as a table: a Qt item model over the run records, one row per run.

The model sorts and filters itself rather than through a QSortFilterProxyModel: a proxy
compares rows by calling `data()` from C++ into Python (about 140,000 calls to sort 10,000
rows), where here a sort is one `list.sort` over a column's keys and a filter one pass over
each row's lower-cased text, both made when first needed. Cells are formatted only when the
view paints them. `benchmarks/bench_results_model.py` measures 10,000 rows.

Filters: a text (every word must be in the row's text: output, variant, model, grid values,
finish reason, error, checks), a status ("failed", "checks failed", "passed"), a set of run
ids (the runs of a matrix cell), and "one row per distinct output" (identical outputs of a
cell collapsed into their first run, with the count shown in the × column).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor

from parley.core.lab.export import scalar_text
from parley.core.lab.results import RunRecord
from parley.ui import theme

RECORD_ROLE = int(Qt.ItemDataRole.UserRole) + 1
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 2

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_ROLES = frozenset({_DISPLAY, _ALIGN, _FOREGROUND, _TOOLTIP, RECORD_ROLE, SORT_ROLE})
_OUTPUT_CHARS = 200  # of the output shown in its cell; the tooltip and the run's dialog show all


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}"


def _one_line(text: str, limit: int = _OUTPUT_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def checks_text(record: RunRecord) -> str:
    if not record.checks:
        return ""
    passed = sum(1 for c in record.checks if c.passed)
    return f"{passed}/{len(record.checks)}" + ("" if record.passed else " ✗")


def _none_last(value: Any) -> Any:
    """A sort key; None (no value) goes after every value, in either direction."""
    return None if value == "" else value


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    text: Callable[[RunRecord], str]
    key: Callable[[RunRecord], Any]
    numeric: bool = False
    width: int = 80
    tip: str = ""


def _columns(grid: Sequence[str], many_prompts: bool) -> list[Column]:
    cols = [
        Column("run", "Run", lambda r: str(r.run), lambda r: r.run, True, 52),
        Column(
            "variant", "Variant", lambda r: r.variant_label, lambda r: r.variant_label, False, 110
        ),
        Column("model", "Model", lambda r: r.model, lambda r: r.model, False, 80),
    ]
    if many_prompts:
        cols.append(
            Column(
                "prompt",
                "Prompt",
                lambda r: f"#{r.prompt_index + 1} {_one_line(r.prompt, 40)}",
                lambda r: r.prompt_index,
                False,
                140,
            )
        )
    for name in grid:
        cols.append(_grid_column(name))
    cols += [
        Column("repeat", "Rep.", lambda r: str(r.repeat), lambda r: r.repeat, True, 44),
        Column("status", "Status", lambda r: r.status, lambda r: r.status, False, 88),
        Column("output", "Output", lambda r: _one_line(r.text), lambda r: r.text, False, 240),
        Column(
            "same",
            "×",
            lambda r: "",  # filled by the model (it knows the counts)
            lambda r: 0,
            True,
            36,
            "How many runs of this cell gave exactly this output",
        ),
        Column(
            "finish",
            "Finish",
            lambda r: r.finish_reason or "",
            lambda r: _none_last(r.finish_reason),
            False,
            64,
        ),
        Column(
            "tokens",
            "Tokens",
            lambda r: _num(r.completion_tokens),
            lambda r: _none_last(r.completion_tokens),
            True,
            60,
            "Completion tokens (the prompt's in the tooltip)",
        ),
        Column(
            "ttft", "TTFT ms", lambda r: _num(r.ttft_ms), lambda r: _none_last(r.ttft_ms), True, 70
        ),
        Column(
            "tps",
            "tok/s",
            lambda r: _num(r.tokens_per_s, 1),
            lambda r: _none_last(r.tokens_per_s),
            True,
            60,
        ),
        Column(
            "total",
            "Total ms",
            lambda r: _num(r.total_ms),
            lambda r: _none_last(r.total_ms),
            True,
            70,
        ),
        Column(
            "cost",
            "Cost",
            lambda r: "" if r.cost is None else f"{r.cost:.6f}",
            lambda r: _none_last(r.cost),
            True,
            76,
        ),
        Column(
            "checks",
            "Checks",
            checks_text,
            lambda r: (2 if r.passed is None else 0 if r.passed else 1, r.run),
            False,
            60,
        ),
        Column("error", "Error", lambda r: r.error_message, lambda r: r.error_message, False, 220),
        Column(
            "fingerprint",
            "Fingerprint",
            lambda r: r.system_fingerprint or "",
            lambda r: _none_last(r.system_fingerprint),
            False,
            110,
            "The provider's system_fingerprint (a change means its backend changed)",
        ),
    ]
    return cols


def _grid_column(name: str) -> Column:
    def text(r: RunRecord) -> str:
        return scalar_text(r.cell.get(name))

    def key(r: RunRecord) -> Any:
        value = r.cell.get(name)
        return None if value is None else _sort_value(value)

    return Column(f"grid:{name}", name, text, key, True, 80)


def _sort_value(value: Any) -> Any:
    """Numbers before text, so a grid axis of numbers sorts as numbers."""
    if isinstance(value, bool):
        return (0, int(value), "")
    if isinstance(value, int | float):
        return (0, value, "")
    return (1, 0, scalar_text(value))


def _haystack(record: RunRecord, cells: dict[int, str] | None = None) -> str:
    """What the text filter searches in a row (lower case)."""
    cell = cells.get(record.cell_index) if cells is not None else None
    if cell is None:
        cell = " ".join(f"{k}={scalar_text(v)}" for k, v in record.cell.items())
        if cells is not None:
            cells[record.cell_index] = cell
    failed = [f"{c.name} {c.detail}" for c in record.checks if c.passed is False]
    return "\n".join(
        (
            record.variant_label,
            record.model,
            record.status,
            record.finish_reason or "",
            record.text,
            record.error_message if record.error else "",
            cell,
            *failed,
        )
    ).lower()


STATUS_FILTERS = ("all", "failed", "checks failed", "passed")


class ResultsTableModel(QAbstractTableModel):
    def __init__(
        self,
        grid: Sequence[str] = (),
        *,
        many_prompts: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._records: list[RunRecord] = []
        self._at: dict[int, int] = {}  # run id -> index in _records
        self._order: list[int] = []  # indices into _records, as shown
        self._hay: list[str] | None = None
        self._same: Counter[tuple[tuple[int, int, int], str]] = Counter()
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self.text_filter = ""
        self.status_filter = "all"
        self.runs_filter: frozenset[int] | None = None
        self.distinct_only = False
        self._error: QColor | None = None
        self.set_columns(grid, many_prompts)

    # ------------------------------------------------------------------ content

    def set_columns(self, grid: Sequence[str], many_prompts: bool) -> None:
        self.beginResetModel()
        self.columns = _columns(list(grid), many_prompts)
        self._col = {c.name: i for i, c in enumerate(self.columns)}
        self._sort = None
        self.endResetModel()

    def column(self, name: str) -> int:
        return self._col[name]

    def set_records(self, records: Iterable[RunRecord]) -> None:
        self.beginResetModel()
        self._records = sorted(records, key=lambda r: r.run)
        self._at = {r.run: i for i, r in enumerate(self._records)}
        self._hay = None
        self._same = Counter((r.group, r.text) for r in self._records if not r.failed)
        self._order = self._filtered()
        self._apply_sort()
        self.endResetModel()

    def add_record(self, record: RunRecord) -> None:
        """A run that just finished (or was run again): a new row, or its row updated."""
        self.add_records([record])

    def add_records(self, batch: Iterable[RunRecord]) -> None:
        """Runs that finished since the last call: new rows appended in one insert (a sweep's
        table takes them a batch at a time), rows of runs run again updated in place."""
        appended: list[int] = []
        for record in batch:
            old = self._at.get(record.run)
            if old is not None:
                self._replace(old, record)
                continue
            old = len(self._records)
            self._records.append(record)
            self._at[record.run] = old
            if self._hay is not None:
                self._hay.append(_haystack(record))
            if not record.failed:
                self._same[(record.group, record.text)] += 1
            # A new run is not shown yet: no scan of the rows for it.
            if self._accepts(old, also=appended):
                appended.append(old)
        if appended:
            # Appended as they come; a sort the user asked for is applied again by settle().
            first = len(self._order)
            self.beginInsertRows(_ROOT, first, first + len(appended) - 1)
            self._order.extend(appended)
            self.endInsertRows()
        same = self.column("same")
        if self._order:
            self.dataChanged.emit(self.index(0, same), self.index(len(self._order) - 1, same))

    def _replace(self, old: int, record: RunRecord) -> None:
        previous = self._records[old]
        if not previous.failed:
            self._same[(previous.group, previous.text)] -= 1
        self._records[old] = record
        if self._hay is not None:
            self._hay[old] = _haystack(record)
        if not record.failed:
            self._same[(record.group, record.text)] += 1
        shown = old in self._order
        wanted = self._accepts(old)
        if shown and wanted:
            row = self._order.index(old)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))
        elif shown:
            row = self._order.index(old)
            self.beginRemoveRows(_ROOT, row, row)
            self._order.pop(row)
            self.endRemoveRows()
        elif wanted:
            self.beginInsertRows(_ROOT, len(self._order), len(self._order))
            self._order.append(old)
            self.endInsertRows()

    def settle(self) -> None:
        """Runs added live came in the order they finished: put them in plan order again (or
        in the order of the column the user sorted by)."""
        self.layoutAboutToBeChanged.emit()
        if self._sort is None:
            records = self._records
            self._order.sort(key=lambda i: records[i].run)
        else:
            self._apply_sort()
        self.layoutChanged.emit()

    def clear(self) -> None:
        self.set_records([])

    def record(self, row: int) -> RunRecord:
        return self._records[self._order[row]]

    def records(self) -> list[RunRecord]:
        """The rows as shown (filtered and sorted)."""
        return [self._records[i] for i in self._order]

    def total(self) -> int:
        return len(self._records)

    def row_of(self, run_id: int) -> int | None:
        i = self._at.get(run_id)
        if i is None:
            return None
        try:
            return self._order.index(i)
        except ValueError:
            return None

    def same_count(self, record: RunRecord) -> int:
        return 0 if record.failed else self._same[(record.group, record.text)]

    # ------------------------------------------------------------------ filtering

    def set_filter(
        self,
        text: str | None = None,
        *,
        status: str | None = None,
        runs: Iterable[int] | bool | None = False,
        distinct_only: bool | None = None,
    ) -> None:
        """Change any of the filters (`runs=None` clears the run ids filter)."""
        if text is not None:
            self.text_filter = text
        if status is not None:
            if status not in STATUS_FILTERS:
                raise ValueError(f"unknown status filter {status!r}")
            self.status_filter = status
        if runs is not False:
            self.runs_filter = None if runs is None else frozenset(runs)  # type: ignore[arg-type]
        if distinct_only is not None:
            self.distinct_only = distinct_only
        self.beginResetModel()
        self._order = self._filtered()
        self._apply_sort()
        self.endResetModel()

    def _words(self) -> list[str]:
        return self.text_filter.lower().split()

    def _filtered(self) -> list[int]:
        words = self._words()
        if words and self._hay is None:
            cells: dict[int, str] = {}
            self._hay = [_haystack(r, cells) for r in self._records]
        records = self._records
        out = range(len(records))
        status = self.status_filter
        runs = self.runs_filter
        keep: list[int] = []
        seen: set[tuple[tuple[int, int, int], str]] = set()
        hay = self._hay
        for i in out:
            r = records[i]
            if runs is not None and r.run not in runs:
                continue
            if status == "failed" and not r.failed:
                continue
            if status == "checks failed" and r.passed is not False:
                continue
            if status == "passed" and r.passed is not True:
                continue
            if words:
                assert hay is not None
                text = hay[i]
                if not all(w in text for w in words):
                    continue
            if self.distinct_only and not r.failed:
                key = (r.group, r.text)
                if key in seen:
                    continue
                seen.add(key)
            keep.append(i)
        return keep

    def _accepts(self, i: int, also: Sequence[int] = ()) -> bool:
        r = self._records[i]
        if self.runs_filter is not None and r.run not in self.runs_filter:
            return False
        status = self.status_filter
        if (
            (status == "failed" and not r.failed)
            or (status == "checks failed" and r.passed is not False)
            or (status == "passed" and r.passed is not True)
        ):
            return False
        words = self._words()
        if words:
            text = _haystack(r)
            if not all(w in text for w in words):
                return False
        if self.distinct_only and not r.failed:
            key = (r.group, r.text)
            for j in (*self._order, *also):
                other = self._records[j]
                if j != i and not other.failed and (other.group, other.text) == key:
                    return False
        return True

    # ------------------------------------------------------------------ sorting

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._apply_sort()
        self.layoutChanged.emit()

    def _apply_sort(self) -> None:
        if self._sort is None:
            return
        column, order = self._sort
        col = self.columns[column]
        records = self._records
        if col.name == "same":
            keys: dict[int, Any] = {i: self.same_count(records[i]) for i in self._order}
        elif col.name.startswith("grid:"):
            # A grid value is the same for every run of a cell: one key per cell.
            per_cell: dict[int, Any] = {}
            key = col.key
            keys = {}
            for i in self._order:
                r = records[i]
                c = r.cell_index
                if c not in per_cell:
                    per_cell[c] = key(r)
                keys[i] = per_cell[c]
        else:
            key = col.key
            keys = {i: key(records[i]) for i in self._order}
        # Ties keep the plan order (run ids), in either direction; rows without a value last.
        run_of = {i: records[i].run for i in self._order}.__getitem__
        present = sorted((i for i in self._order if keys[i] is not None), key=run_of)
        empty = sorted((i for i in self._order if keys[i] is None), key=run_of)
        present.sort(key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        self._order = present + empty

    # ------------------------------------------------------------------ Qt's side

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        col = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tip or None
        return None

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
        # Called for every role of every painted cell: plain ints, the commonest role first.
        role = int(role)
        if role not in _ROLES:
            return None
        row, column = index.row(), index.column()
        if not (0 <= row < len(self._order) and 0 <= column < len(self.columns)):
            return None
        record = self._records[self._order[row]]
        col = self.columns[column]
        if role == _DISPLAY:
            if col.name == "same":
                n = self.same_count(record)
                return f"×{n}" if n > 1 else ""
            return col.text(record)
        if role == _ALIGN:
            return _RIGHT if col.numeric else _LEFT
        if role == _FOREGROUND:
            if (col.name in ("status", "error") and record.failed) or (
                col.name == "checks" and record.passed is False
            ):
                return self._error_color()
            return None
        if role == _TOOLTIP:
            return self._tooltip(record, col)
        if role == RECORD_ROLE:
            return record
        if role == SORT_ROLE:
            return col.key(record)
        return None

    def _error_color(self) -> QColor:
        text = theme.colors().error_text
        if self._error is None or self._error.name() != text:
            self._error = QColor(text)
        return self._error

    def _tooltip(self, record: RunRecord, col: Column) -> str | None:
        if col.name == "output" and record.text:
            text = record.text
            return text if len(text) <= 2000 else text[:2000] + "…"
        if col.name == "checks" and record.checks:
            return "\n".join(
                f"{'✓' if c.passed else '✗' if c.passed is False else '?'} {c.name}"
                + (f": {c.detail}" if c.detail else "")
                for c in record.checks
            )
        if col.name == "tokens" and record.prompt_tokens is not None:
            return f"{record.prompt_tokens:,} prompt tokens"
        if col.name == "error" and record.error_message:
            return record.error_message
        return None

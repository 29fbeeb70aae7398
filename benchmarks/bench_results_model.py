"""The sweep results table with 10,000 runs (target: opening, sorting and filtering each
<= 100 ms): the Lab's `ResultsTableModel` in its table view (`ResultsView`), painted.

- open: the records set on the model and the view shown and painted (first screenful);
  every figure ends when the view has painted once (a paint event counted on its viewport);
- sort: by a number (TTFT), by the output text, by a grid value, each followed by a paint;
- filter: by two words of text (the first filter builds the rows' search text), again by
  other words, by status, and cleared; each followed by a paint.

Each figure is the median of several rounds (the first round is a warm-up and not counted).
Run: `QT_QPA_PLATFORM=offscreen python -m benchmarks results_model` (or `make bench`).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

ROWS_SHAPE = {"temperatures": 25, "seeds": 25, "repeat": 4}  # x 2 variants x 2 prompts
ROUNDS = 7
TARGET_MS = 100.0


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtWidgets import QApplication, QTableView
    from tests.helpers.lab_results import made_up_results

    from parley.ui.lab.results_model import ResultsTableModel
    from parley.ui.lab.results_table import ResultsView

    app = QApplication.instance() or QApplication(sys.argv[:1])
    results = made_up_results(**ROWS_SHAPE, filler=60)
    records = results.records()
    grid = results.plan.experiment.grid_names

    class Paints(QObject):
        count = 0

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    paints = Paints()

    def paint(view: QTableView) -> None:
        """Until the view has painted what changed (as the event loop would, once)."""
        before = paints.count
        app.processEvents()
        if paints.count == before:  # nothing was queued: paint now, so every figure has one
            view.viewport().repaint()

    timings: dict[str, list[float]] = {}

    def one_round() -> None:
        model = ResultsTableModel(grid, many_prompts=True)
        view = ResultsView(model)  # the table as the Lab shows it
        view.resize(1200, 700)
        view.viewport().installEventFilter(paints)

        def timed(name: str, action: Callable[[], object]) -> None:
            painted = paints.count
            start = time.perf_counter()
            action()
            paint(view)
            timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)
            if paints.count == painted:
                raise RuntimeError(f"{name}: the view did not paint")

        def open_() -> None:
            model.set_records(records)
            view.show()

        def sort(column: str, order: Qt.SortOrder) -> None:
            view.sortByColumn(model.column(column), order)

        timed("open", open_)
        timed("sort by TTFT", lambda: sort("ttft", Qt.SortOrder.DescendingOrder))
        timed("sort by output", lambda: sort("output", Qt.SortOrder.AscendingOrder))
        timed("sort by grid value", lambda: sort("grid:temperature", Qt.SortOrder.AscendingOrder))
        timed("filter (first, builds text)", lambda: model.set_filter("fox river"))
        timed("filter (other words)", lambda: model.set_filter("beta dog"))
        timed("filter by status", lambda: model.set_filter("", status="failed"))
        timed("filter cleared", lambda: model.set_filter("", status="all"))
        if model.rowCount() != len(records):
            raise RuntimeError(f"{model.rowCount()} rows shown of {len(records)}")
        view.close()
        view.deleteLater()

    one_round()
    timings.clear()  # the warm-up round
    for _ in range(ROUNDS):
        one_round()
    worst = 0.0
    title = f"results table ({len(records):,} rows)"
    width = max(len(n) for n in [*timings, title])
    print(f"{title:<{width}}  {'median':>9}  {'max':>9}")
    for name, values in timings.items():
        median = statistics.median(values)
        worst = max(worst, median)
        print(f"{name:<{width}}  {median:>6.1f} ms  {max(values):>6.1f} ms")
    print(f"(median of {ROUNDS} rounds after a warm-up; target <= {TARGET_MS:.0f} ms each)")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

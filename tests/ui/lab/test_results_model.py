"""The results table's model: sorting and filtering give the right rows in the right order
(the timing is benchmarks/bench_results_model.py's)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableView

from parley.core.lab.results import RunRecord
from parley.ui.lab.results_model import ResultsTableModel
from tests.helpers.lab_results import made_up_results


def model_for(**kw: int) -> tuple[ResultsTableModel, list[RunRecord]]:
    results = made_up_results(**kw)
    model = ResultsTableModel(results.plan.experiment.grid_names, many_prompts=True)
    model.set_records(results.records())
    return model, results.records()


def shown(model: ResultsTableModel, column: str) -> list[str]:
    col = model.column(column)
    return [model.index(row, col).data() for row in range(model.rowCount())]


def test_sorting_by_a_number_a_text_and_a_grid_value(qapp: QApplication) -> None:
    model, records = model_for()
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    assert model.rowCount() == len(records) == 2 * 2 * 5 * 4 * 2
    view.sortByColumn(model.column("ttft"), Qt.SortOrder.DescendingOrder)
    ttfts = [r.ttft_ms for r in model.records()]
    present = [t for t in ttfts if t is not None]
    assert present == sorted(present, reverse=True)
    # The failed runs (no TTFT) come last, whichever the direction.
    assert all(t is None for t in ttfts[len(present) :])
    assert ttfts[0] == max(r.ttft_ms or 0 for r in records)
    assert shown(model, "ttft")[0] == f"{ttfts[0]:,.0f}"

    view.sortByColumn(model.column("variant"), Qt.SortOrder.AscendingOrder)
    labels = [r.variant_label for r in model.records()]
    assert labels == sorted(labels)
    # Ties keep the plan order.
    alpha = [r.run for r in model.records() if r.variant_label == "alpha"]
    assert alpha == sorted(alpha)

    view.sortByColumn(model.column("grid:temperature"), Qt.SortOrder.DescendingOrder)
    temps = [r.cell["temperature"] for r in model.records()]
    assert temps == sorted(temps, reverse=True) and temps[0] == 1.0 and temps[-1] == 0.0


def test_filtering_by_words_status_runs_and_distinct_outputs(qapp: QApplication) -> None:
    model, records = model_for()
    model.set_filter("dog beta")
    expected = [r.run for r in records if r.variant_label == "beta" and "dog" in r.text.lower()]
    assert [r.run for r in model.records()] == expected and expected

    model.set_filter("", status="failed")
    assert [r.run for r in model.records()] == [r.run for r in records if r.failed]
    assert all(r.run % 7 == 0 for r in model.records())
    model.set_filter(status="checks failed")
    assert {r.text.split()[1] for r in model.records()} == {"dog"}
    model.set_filter(status="all", runs=[3, 1, 2, 999])
    assert [r.run for r in model.records()] == [1, 2, 3]
    model.set_filter(runs=None)
    assert model.rowCount() == len(records)

    # Identical outputs of a cell: collapsed into the first run, with their count.
    model.set_filter(distinct_only=True)
    groups: dict[tuple[object, str], list[int]] = {}
    for r in records:
        if not r.failed:
            groups.setdefault((r.group, r.text), []).append(r.run)
    firsts = sorted([runs[0] for runs in groups.values()] + [r.run for r in records if r.failed])
    assert sorted(r.run for r in model.records()) == firsts
    for row in range(model.rowCount()):
        record = model.record(row)
        if not record.failed:
            n = len(groups[(record.group, record.text)])
            assert model.index(row, model.column("same")).data() == (f"×{n}" if n > 1 else "")


def test_a_run_added_live_appears_and_a_retried_run_replaces_its_row(qapp: QApplication) -> None:
    model, records = model_for(temperatures=2, seeds=1, repeat=1)
    model.set_records(records[:-1])
    model.set_filter(status="failed")
    before = model.rowCount()
    last = records[-1]
    model.add_record(last)
    assert model.rowCount() == before + (1 if last.failed else 0)
    failed = next(r for r in records if r.failed)
    fixed = RunRecord.from_dict({**failed.to_dict(), "status": "complete", "error": None})
    model.add_record(fixed)
    assert failed.run not in [r.run for r in model.records()]
    model.set_filter(status="all")
    assert model.record(model.row_of(failed.run)).status == "complete"
    assert model.rowCount() == len(records)
    # Runs that came in as they finished are put back in plan order at the end.
    model.set_records([])
    for record in reversed(records):
        model.add_record(record)
    assert [r.run for r in model.records()][:2] == [records[-1].run, records[-2].run]
    model.settle()
    assert [r.run for r in model.records()] == [r.run for r in records]

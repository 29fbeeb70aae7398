"""The Lab's matrix and plot figures on results of a known shape."""

from __future__ import annotations

import statistics

import pytest

from parley.core.lab.views import axes, axis_values, matrix, numeric_axes, series
from tests.helpers.lab_results import made_up_results


def test_axes_and_their_values() -> None:
    results = made_up_results(temperatures=3, seeds=2, repeat=2)
    assert axes(results) == ["variant", "prompt", "temperature", "seed", "repeat"]
    assert numeric_axes(results) == ["temperature", "seed", "repeat"]
    assert [label for _v, label in axis_values(results, "variant")] == ["alpha", "beta"]
    assert [v for v, _label in axis_values(results, "temperature")] == [0.0, 0.5, 1.0]


def test_a_matrix_pools_the_other_axes() -> None:
    results = made_up_results(temperatures=3, seeds=2, repeat=2)
    m = matrix(results, "variant", "prompt", "pass rate")
    assert (len(m.rows), len(m.columns)) == (2, 2)
    # 3 temperatures x 2 seeds x 2 repeats = 12 runs a cell.
    assert all(len(c.runs) == 12 for c in m.cells.values())
    fox, dog = m.cells[(0, 0)], m.cells[(0, 1)]
    assert dog.value == 0.0 and dog.passed == 0 and dog.checked > 0
    assert fox.value == 1.0 and fox.passed == fox.checked == 12 - fox.failed
    failed = [
        r.run for r in results.records() if r.failed and r.variant == 0 and r.prompt_index == 0
    ]
    assert fox.failed == len(failed) > 0
    assert m.goodness(fox) == 1.0 and m.goodness(dog) == 0.0


def test_percentiles_per_cell_are_over_the_cells_runs() -> None:
    results = made_up_results(temperatures=2, seeds=1, repeat=4)
    m = matrix(results, "temperature", "variant", "TTFT p50")
    cell = m.cells[(0, 0)]
    ttfts = sorted(results.get(n).ttft_ms for n in cell.runs if not results.get(n).failed)
    assert len(cell.runs) == 8  # 2 prompts x 4 repeats
    assert cell.ttft_ms.p50 == pytest.approx(statistics.median(ttfts))
    assert cell.value == cell.ttft_ms.p50
    assert cell.ttft_ms.p95 is not None and cell.ttft_ms.p95 >= cell.ttft_ms.p50
    # Lower TTFT is better: the quickest cell is the best one.
    best = min((c for c in m.cells.values()), key=lambda c: c.value)
    assert m.goodness(best) == 1.0
    # Identical outputs collapsed with counts.
    assert sum(n for _text, n in cell.outputs) == len(ttfts)


def test_series_of_a_metric_against_a_parameter() -> None:
    results = made_up_results(temperatures=3, seeds=2, repeat=1)
    lines = series(results, "temperature", "tok/s p50")
    assert [s.label for s in lines] == [
        "alpha · prompt 1",
        "alpha · prompt 2",
        "beta · prompt 1",
        "beta · prompt 2",
    ]
    first = lines[0]
    assert [x for x, _y in first.line] == [0.0, 0.5, 1.0]
    assert [y for _x, y in first.line] == [100.0, 125.0, 150.0]
    assert all(y == 100.0 + x * 50 for x, y in first.points)

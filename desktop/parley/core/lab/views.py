"""The figures the window's Lab draws from an experiment's results (no Qt here): a matrix of any
axis against any axis with a metric in each cell, and a metric against a numeric parameter.

Axes are "variant", "prompt", "repeat" and each grid key; a cell gathers every run whose values
on the two axes are the cell's (the other axes are pooled), so its p50 / p95 are over those runs.

    m = matrix(results, "variant", "temperature", "pass rate")
    m.rows, m.columns, m.cells[(0, 2)].value, m.cells[(0, 2)].runs
    s = series(results, "temperature", "ttft p50")
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.core.lab.results import Results, RunRecord, Spread, percentile

VARIANT, PROMPT, REPEAT = "variant", "prompt", "repeat"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    higher_is_better: bool
    of: Callable[[Sequence[RunRecord]], float | None]
    per_run: Callable[[RunRecord], float | None] | None = None  # for the plot's points


def _done(records: Sequence[RunRecord]) -> list[RunRecord]:
    return [r for r in records if not r.failed]


def _pass_rate(records: Sequence[RunRecord]) -> float | None:
    checked = [r for r in records if r.passed is not None]
    return sum(1 for r in checked if r.passed) / len(checked) if checked else None


def _spread(attr: str, q: float) -> Callable[[Sequence[RunRecord]], float | None]:
    def of(records: Sequence[RunRecord]) -> float | None:
        values = [getattr(r, attr) for r in _done(records)]
        return percentile([v for v in values if v is not None], q)

    return of


def _attr(attr: str) -> Callable[[RunRecord], float | None]:
    def get(record: RunRecord) -> float | None:
        value = getattr(record, attr)
        return None if record.failed or value is None else float(value)

    return get


def _cost(records: Sequence[RunRecord]) -> float | None:
    costs = [r.cost for r in records if r.cost is not None]
    return sum(costs) if costs else None


def _error_rate(records: Sequence[RunRecord]) -> float | None:
    return sum(1 for r in records if r.failed) / len(records) if records else None


def _distinct(records: Sequence[RunRecord]) -> float | None:
    done = _done(records)
    return float(len({r.text for r in done})) if done else None


def _mean(attr: str) -> Callable[[Sequence[RunRecord]], float | None]:
    def of(records: Sequence[RunRecord]) -> float | None:
        values = [getattr(r, attr) for r in _done(records)]
        present = [float(v) for v in values if v is not None]
        return sum(present) / len(present) if present else None

    return of


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("pass rate", "%", True, _pass_rate),
        Metric("error rate", "%", False, _error_rate),
        Metric("TTFT p50", "ms", False, _spread("ttft_ms", 50), _attr("ttft_ms")),
        Metric("TTFT p95", "ms", False, _spread("ttft_ms", 95), _attr("ttft_ms")),
        Metric("tok/s p50", "tok/s", True, _spread("tokens_per_s", 50), _attr("tokens_per_s")),
        Metric("tok/s p95", "tok/s", True, _spread("tokens_per_s", 95), _attr("tokens_per_s")),
        Metric("total p50", "ms", False, _spread("total_ms", 50), _attr("total_ms")),
        Metric("total p95", "ms", False, _spread("total_ms", 95), _attr("total_ms")),
        Metric(
            "completion tokens",
            "tokens",
            False,
            _mean("completion_tokens"),
            _attr("completion_tokens"),
        ),
        Metric("distinct outputs", "", False, _distinct),
        Metric("cost", "", False, _cost, _attr("cost")),
    )
}


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def axes(results: Results) -> list[str]:
    """The axes a matrix can be drawn over: variant, prompt, each grid key, repeat."""
    experiment = results.plan.experiment
    return [VARIANT, PROMPT, *experiment.grid_names, REPEAT]


def numeric_axes(results: Results) -> list[str]:
    """The grid keys whose values are all numbers (what a plot can have on its x axis)."""
    out = []
    for axis in results.plan.experiment.grid:
        if axis.values and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in axis.values
        ):
            out.append(axis.name)
    if results.plan.experiment.repeat > 1:
        out.append(REPEAT)
    return out


def axis_values(results: Results, axis: str) -> list[tuple[Any, str]]:
    """The values of `axis` in plan order, each with its label."""
    experiment = results.plan.experiment
    if axis == VARIANT:
        return [(v.index, v.label) for v in experiment.variants]
    if axis == PROMPT:
        many = len(experiment.prompts) > 1
        return [
            (i, f"#{i + 1} {_short(p)}" if many else _short(p))
            for i, p in enumerate(experiment.prompts)
        ]
    if axis == REPEAT:
        return [(k, f"repeat {k}") for k in range(1, experiment.repeat + 1)]
    for grid_axis in experiment.grid:
        if grid_axis.name == axis:
            return [(v, _label(v)) for v in grid_axis.values]
    raise KeyError(axis)


def axis_value(record: RunRecord, axis: str) -> Any:
    if axis == VARIANT:
        return record.variant
    if axis == PROMPT:
        return record.prompt_index
    if axis == REPEAT:
        return record.repeat
    return record.cell.get(axis)


def _short(text: str, width: int = 32) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class MatrixCell:
    value: float | None
    runs: tuple[int, ...]  # run ids, in plan order
    failed: int
    passed: int
    checked: int
    outputs: tuple[tuple[str, int], ...]  # distinct texts with their counts, commonest first
    ttft_ms: Spread
    tokens_per_s: Spread
    total_ms: Spread
    fingerprints: tuple[str, ...]


@dataclass(frozen=True)
class Matrix:
    row_axis: str
    column_axis: str
    metric: Metric
    rows: tuple[tuple[Any, str], ...]
    columns: tuple[tuple[Any, str], ...]
    cells: dict[tuple[int, int], MatrixCell] = field(default_factory=dict)

    @property
    def range(self) -> tuple[float, float] | None:
        values = [c.value for c in self.cells.values() if c.value is not None]
        return (min(values), max(values)) if values else None

    def goodness(self, cell: MatrixCell) -> float | None:
        """Where the cell's value sits between the worst (0) and the best (1) cell."""
        span = self.range
        if cell.value is None or span is None:
            return None
        if self.metric.unit == "%":
            low, high = 0.0, 1.0
        else:
            low, high = span
        if high == low:
            return 1.0 if self.metric.unit == "%" else 0.5
        at = (cell.value - low) / (high - low)
        return at if self.metric.higher_is_better else 1.0 - at


def _cell(records: Sequence[RunRecord], metric: Metric) -> MatrixCell:
    done = _done(records)
    checked = [r for r in done if r.passed is not None]
    return MatrixCell(
        value=metric.of(records),
        runs=tuple(r.run for r in records),
        failed=len(records) - len(done),
        passed=sum(1 for r in checked if r.passed),
        checked=len(checked),
        outputs=tuple(Counter(r.text for r in done).most_common()),
        ttft_ms=Spread.of(r.ttft_ms for r in done),
        tokens_per_s=Spread.of(r.tokens_per_s for r in done),
        total_ms=Spread.of(r.total_ms for r in done),
        fingerprints=tuple(
            dict.fromkeys(r.system_fingerprint for r in done if r.system_fingerprint)
        ),
    )


def matrix(
    results: Results | Iterable[RunRecord],
    row_axis: str,
    column_axis: str,
    metric: str,
    *,
    plan_results: Results | None = None,
) -> Matrix:
    """`metric` for each (row value, column value). `results` may be a subset of records
    (then `plan_results` gives the axes' values)."""
    source = results if isinstance(results, Results) else plan_results
    if source is None:
        raise ValueError("matrix() needs the Results the records come from")
    records = results.records() if isinstance(results, Results) else list(results)
    m = METRICS[metric]
    rows = axis_values(source, row_axis)
    columns = axis_values(source, column_axis)
    row_at = {_key(v): i for i, (v, _label) in enumerate(rows)}
    column_at = {_key(v): j for j, (v, _label) in enumerate(columns)}
    groups: dict[tuple[int, int], list[RunRecord]] = {}
    for record in records:
        i = row_at.get(_key(axis_value(record, row_axis)))
        j = column_at.get(_key(axis_value(record, column_axis)))
        if i is not None and j is not None:
            groups.setdefault((i, j), []).append(record)
    cells = {place: _cell(group, m) for place, group in groups.items()}
    return Matrix(row_axis, column_axis, m, tuple(rows), tuple(columns), cells)


@dataclass(frozen=True)
class Series:
    """One line of the plot: a variant's runs at each value of the parameter."""

    label: str
    points: tuple[tuple[float, float], ...]  # every run (x, its value), for a scatter
    line: tuple[tuple[float, float], ...]  # the metric over the runs at each x, for a line


def series(results: Results, parameter: str, metric: str) -> list[Series]:
    """`metric` against the numeric `parameter`, one series per variant (and prompt, when
    there are several)."""
    m = METRICS[metric]
    experiment = results.plan.experiment
    many_prompts = len(experiment.prompts) > 1
    groups: dict[tuple[int, int], dict[float, list[RunRecord]]] = {}
    for record in results.records():
        x = axis_value(record, parameter)
        if not isinstance(x, int | float) or isinstance(x, bool):
            continue
        key = (record.variant, record.prompt_index if many_prompts else 0)
        groups.setdefault(key, {}).setdefault(float(x), []).append(record)
    out = []
    for (v, p), by_x in sorted(groups.items()):
        label = experiment.variants[v].label
        if many_prompts:
            label += f" · prompt {p + 1}"
        points: list[tuple[float, float]] = []
        line: list[tuple[float, float]] = []
        for x in sorted(by_x):
            group = by_x[x]
            if m.per_run is not None:
                points += [(x, y) for y in (m.per_run(r) for r in group) if y is not None]
            value = m.of(group)
            if value is not None:
                line.append((x, value))
        out.append(Series(label, tuple(points), tuple(line)))
    return out

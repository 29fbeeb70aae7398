"""An experiment's results: one RunRecord per finished run, addressable by run id, and the
figures over them (pass rates per variant and per grid cell, pass^K, distinct outputs with
their counts, p50/p95 of TTFT, tok/s and total time, the system fingerprints seen).

`Results` is what the window's Lab table and the exports read; it emits `changed` with each
record added, so a view can update a row at a time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.core.lab.checks import CheckResult
from parley.core.lab.plan import Plan, PlannedRun
from parley.core.lab.signal import Signal


@dataclass
class RunRecord:
    """One finished run, as stored and exported (never a key: nothing comes from headers)."""

    run: int
    variant: int
    variant_label: str
    provider: str
    model: str
    prompt_index: int
    prompt: str
    cell: dict[str, Any]
    params: dict[str, Any]
    repeat: int
    status: str  # complete, stopped, failed
    cell_index: int = 0
    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    model_used: str | None = None
    system_fingerprint: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    total_ms: float | None = None
    cost: float | None = None
    currency: str | None = None
    checks: list[CheckResult] = field(default_factory=list)
    passed: bool | None = None  # None: the run did not finish, so it was not checked
    error: dict[str, Any] | None = None
    attempts: int = 1
    exchange_id: int | None = None  # the stored run's id (its exchange is stored under it)

    @property
    def failed(self) -> bool:
        return self.status != "complete"

    @property
    def error_message(self) -> str:
        """The error as `parley ask` prints it: what happened, then the provider's words."""
        if not self.error:
            return ""
        message = str(self.error.get("message") or "")
        said = self.error.get("provider_message")
        if isinstance(said, str) and said and said not in message:
            who = self.error.get("provider") or "The provider"
            message += f' {who} said: "{said}"'
        return message

    @property
    def group(self) -> tuple[int, int, int]:
        return (self.variant, self.prompt_index, self.cell_index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "variant": self.variant,
            "variant_label": self.variant_label,
            "provider": self.provider,
            "model": self.model,
            "prompt_index": self.prompt_index,
            "prompt": self.prompt,
            "cell_index": self.cell_index,
            "cell": dict(self.cell),
            "params": dict(self.params),
            "repeat": self.repeat,
            "status": self.status,
            "text": self.text,
            "reasoning": self.reasoning,
            "finish_reason": self.finish_reason,
            "model_used": self.model_used,
            "system_fingerprint": self.system_fingerprint,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "ttft_ms": self.ttft_ms,
            "tokens_per_s": self.tokens_per_s,
            "total_ms": self.total_ms,
            "cost": self.cost,
            "currency": self.currency,
            "checks": [c.to_dict() for c in self.checks],
            "passed": self.passed,
            "error": self.error,
            "attempts": self.attempts,
            "exchange_id": self.exchange_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        def num(name: str) -> float | None:
            v = data.get(name)
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

        def whole(name: str) -> int | None:
            v = data.get(name)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        def text(name: str) -> str | None:
            v = data.get(name)
            return v if isinstance(v, str) else None

        passed = data.get("passed")
        error = data.get("error")
        return cls(
            run=int(data["run"]),
            variant=int(data.get("variant") or 0),
            variant_label=str(data.get("variant_label") or ""),
            provider=str(data.get("provider") or ""),
            model=str(data.get("model") or ""),
            prompt_index=int(data.get("prompt_index") or 0),
            prompt=str(data.get("prompt") or ""),
            cell_index=int(data.get("cell_index") or 0),
            cell=dict(data.get("cell") or {}),
            params=dict(data.get("params") or {}),
            repeat=int(data.get("repeat") or 1),
            status=str(data.get("status") or "failed"),
            text=str(data.get("text") or ""),
            reasoning=str(data.get("reasoning") or ""),
            finish_reason=text("finish_reason"),
            model_used=text("model_used"),
            system_fingerprint=text("system_fingerprint"),
            prompt_tokens=whole("prompt_tokens"),
            completion_tokens=whole("completion_tokens"),
            ttft_ms=num("ttft_ms"),
            tokens_per_s=num("tokens_per_s"),
            total_ms=num("total_ms"),
            cost=num("cost"),
            currency=text("currency"),
            checks=[
                CheckResult.from_dict(c) for c in data.get("checks") or [] if isinstance(c, dict)
            ],
            passed=passed if isinstance(passed, bool) else None,
            error=error if isinstance(error, dict) else None,
            attempts=int(data.get("attempts") or 1),
            exchange_id=whole("exchange_id"),
        )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread:
        present = [v for v in values if v is not None]
        return cls(percentile(present, 50), percentile(present, 95))


@dataclass(frozen=True)
class CellStats:
    """The repeats of one (variant, prompt, grid cell)."""

    variant: int
    variant_label: str
    prompt_index: int
    cell_index: int
    cell: Mapping[str, Any]
    runs: int  # finished or failed, so far
    failed: int
    passed: int
    checked: int  # runs that finished and were checked
    pass_k: bool | None  # all K repeats finished and passed; None until all K are in
    outputs: tuple[tuple[str, int], ...]  # distinct texts with their counts, commonest first
    ttft_ms: Spread
    tokens_per_s: Spread
    total_ms: Spread
    fingerprints: tuple[str, ...]
    cost: float | None

    @property
    def distinct(self) -> int:
        return len(self.outputs)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.checked if self.checked else None


@dataclass(frozen=True)
class VariantStats:
    variant: int
    label: str
    runs: int
    failed: int
    passed: int
    checked: int
    pass_k: int  # cells whose K repeats all passed
    cells: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.checked if self.checked else None


class Results:
    """The records of one experiment, by run id, with the figures over them."""

    def __init__(self, plan: Plan, records: Iterable[RunRecord] = ()) -> None:
        self.plan = plan
        self._records: dict[int, RunRecord] = {}
        self.changed: Signal[RunRecord] = Signal()
        for record in records:
            self._records[record.run] = record

    def add(self, record: RunRecord) -> None:
        self._records[record.run] = record
        self.changed.emit(record)

    def get(self, run_id: int) -> RunRecord | None:
        return self._records.get(run_id)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.records())

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._records

    def records(self) -> list[RunRecord]:
        return [self._records[k] for k in sorted(self._records)]

    def missing(self, *, failed_too: bool = False) -> list[PlannedRun]:
        """The planned runs without a record (and, with `failed_too`, those that failed)."""
        out = []
        for run in self.plan.runs:
            record = self._records.get(run.id)
            if record is None or (failed_too and record.failed):
                out.append(run)
        return out

    @property
    def failed(self) -> int:
        return sum(1 for r in self._records.values() if r.failed)

    @property
    def checks_failed(self) -> int:
        return sum(1 for r in self._records.values() if r.passed is False)

    @property
    def spent(self) -> float:
        return sum(r.cost or 0.0 for r in self._records.values())

    def cell_stats(self) -> list[CellStats]:
        groups: dict[tuple[int, int, int], list[RunRecord]] = {}
        for record in self.records():
            groups.setdefault(record.group, []).append(record)
        repeat = self.plan.experiment.repeat
        out = []
        for (v, p, c), records in sorted(groups.items()):
            done = [r for r in records if not r.failed]
            checked = [r for r in done if r.passed is not None]
            passed = sum(1 for r in checked if r.passed)
            pass_k: bool | None = None
            if len(records) >= repeat:
                pass_k = all(r.passed is True for r in records)
            elif any(r.passed is False or r.failed for r in records):
                pass_k = False
            counts = Counter(r.text for r in done)
            costs = [r.cost for r in records if r.cost is not None]
            out.append(
                CellStats(
                    variant=v,
                    variant_label=records[0].variant_label,
                    prompt_index=p,
                    cell_index=c,
                    cell=self.plan.cells[c] if c < len(self.plan.cells) else records[0].cell,
                    runs=len(records),
                    failed=len(records) - len(done),
                    passed=passed,
                    checked=len(checked),
                    pass_k=pass_k,
                    outputs=tuple(counts.most_common()),
                    ttft_ms=Spread.of(r.ttft_ms for r in done),
                    tokens_per_s=Spread.of(r.tokens_per_s for r in done),
                    total_ms=Spread.of(r.total_ms for r in done),
                    fingerprints=tuple(
                        dict.fromkeys(r.system_fingerprint for r in done if r.system_fingerprint)
                    ),
                    cost=sum(costs) if costs else None,
                )
            )
        return out

    def variant_stats(self) -> list[VariantStats]:
        cells = self.cell_stats()
        out = []
        for variant in self.plan.experiment.variants:
            mine = [c for c in cells if c.variant == variant.index]
            out.append(
                VariantStats(
                    variant=variant.index,
                    label=variant.label,
                    runs=sum(c.runs for c in mine),
                    failed=sum(c.failed for c in mine),
                    passed=sum(c.passed for c in mine),
                    checked=sum(c.checked for c in mine),
                    pass_k=sum(1 for c in mine if c.pass_k),
                    cells=len(mine),
                )
            )
        return out

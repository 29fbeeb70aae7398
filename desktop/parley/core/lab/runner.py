"""The sweep runner: a plan's runs sent through the one stream loop, in lanes per provider.

Each provider has a lane: a queue of its runs and as many workers as its limit (one for a local
server unless the file says otherwise); an overall semaphore caps the runs in flight across
lanes. A 429 pauses only its lane: for the provider's Retry-After (or a backoff that doubles
with each 429 in a row), while the other lanes go on, and the run waits its turn again.

Who retries: the runner, not the engine. Give it an Engine made with
`RetryPolicy(max_attempts=1)`, so a failure comes straight back here; then a 429 slows the
lane (every worker of that provider waits) instead of one request sleeping inside the engine
while its lane goes on hammering the provider. Network, timeout and 5xx failures before the
first token are retried after a backoff as in chat (3 attempts); every attempt is recorded in
the run's one Exchange, as the engine records them in chat. Any other error (401, 400, a stream
cut off after tokens) is recorded in the run's row, and the sweep goes on.

Each finished run is stored as it finishes (`save`, in a worker thread), so a crash loses at
most the runs in flight; `cancel()` (or cancelling `run()`) stops the workers, keeps every
finished run, and waits for the saves under way. A lane does not wait for its run's write;
runs that finish within 50 ms of each other are written together, in one `transaction` (at 32
runs in flight, a commit and a thread hop per run cost a third of the throughput).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from parley.core.chat.loop import Sender, stream
from parley.core.chat.prepared import PreparedRequest
from parley.core.chat.result import ChatResult
from parley.core.lab.checks import Answer, evaluate_all, overall
from parley.core.lab.plan import Plan, PlannedRun
from parley.core.lab.results import RunRecord
from parley.core.lab.signal import Signal
from parley.core.protocol.errors import ErrorKind
from parley.core.protocol.exchange import Exchange
from parley.core.providers.modellist import ModelInfo

SaveRun = Callable[[RunRecord, list[dict[str, Any]]], int | None]
Transaction = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class RetryRule:
    max_attempts: int = 3  # network, timeout, 5xx (as chat's engine does)
    rate_limit_attempts: int = 8  # 429s: each pauses the lane first
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.2

    def delay(self, strike: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = min(self.base_delay * 2.0 ** (strike - 1), self.max_delay)
        spread = backoff * self.jitter
        return max(0.0, min(self.max_delay, backoff + random.uniform(-spread, spread)))


@dataclass(frozen=True)
class LanePause:
    lane: str
    seconds: float
    run: int


@dataclass(frozen=True)
class Progress:
    total: int
    done: int  # finished (complete or failed) this sweep, plus those stored before a resume
    failed: int
    checks_failed: int
    in_flight: int
    spent: float
    elapsed: float
    eta: float | None
    paused: tuple[str, ...] = ()


class Lane:
    """One provider's runs: a queue, a limit of runs in flight, and a pause after a 429."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = max(1, limit)
        self.queue: deque[PlannedRun] = deque()
        self.resume_at = 0.0  # event loop time
        self.strikes = 0  # 429s in a row
        self.pauses = 0

    @property
    def paused(self) -> bool:
        return self.resume_at > asyncio.get_running_loop().time()

    def pause(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.resume_at = max(self.resume_at, loop.time() + seconds)
        self.pauses += 1

    async def ready(self) -> None:
        loop = asyncio.get_running_loop()
        while (wait := self.resume_at - loop.time()) > 0:
            await asyncio.sleep(wait)


@dataclass
class Outcome:
    records: list[RunRecord] = field(default_factory=list)
    cancelled: bool = False
    capped: bool = False  # stopped because the spend reached max_cost


class Runner:
    """Runs `runs` (default: all of the plan) with `prepared[run.id]` as each run's request."""

    def __init__(
        self,
        plan: Plan,
        engine: Sender,
        prepared: Mapping[int, PreparedRequest],
        *,
        lanes: Mapping[str, int],
        concurrency: int | None = None,
        prices: Mapping[int, ModelInfo | None] | None = None,
        save: SaveRun | None = None,
        transaction: Transaction | None = None,
        runs: Iterable[PlannedRun] | None = None,
        already_done: int = 0,
        already_spent: float = 0.0,
        max_cost: float | None = None,
        retry: RetryRule | None = None,
    ) -> None:
        self.plan = plan
        self.engine = engine
        self.prepared = prepared
        self.prices = dict(prices or {})
        self.save = save
        self._saver = _Saver(save, transaction or contextlib.nullcontext) if save else None
        self.retry = retry or RetryRule()
        self.max_cost = max_cost
        self.concurrency = max(1, concurrency or plan.experiment.concurrency)
        self.todo = list(plan.runs if runs is None else runs)
        self.lanes: dict[str, Lane] = {}
        for run in self.todo:
            provider = plan.variant(run).provider
            lane = self.lanes.get(provider)
            if lane is None:
                limit = min(self.concurrency, lanes.get(provider, self.concurrency))
                lane = self.lanes[provider] = Lane(provider, limit)
            lane.queue.append(run)
        self.run_started: Signal[PlannedRun] = Signal()
        self.run_finished: Signal[RunRecord] = Signal()
        self.lane_paused: Signal[LanePause] = Signal()
        self.progress: Signal[Progress] = Signal()
        self._overall = asyncio.Semaphore(self.concurrency)
        self._total = already_done + len(self.todo)
        self._done = already_done
        self._done_here = 0
        self._failed = 0
        self._checks_failed = 0
        self._in_flight = 0
        self._spent = already_spent
        self._started = 0.0
        self._stop = False
        self._capped = False
        self._cancel_requested = False
        self._workers: list[asyncio.Task[None]] = []
        self._saving: set[asyncio.Future[Any]] = set()
        self._store_error: BaseException | None = None
        self._records: list[RunRecord] = []

    # ------------------------------------------------------------------ control

    def cancel(self) -> None:
        """Stop: runs in flight are dropped (not stored), finished ones are kept."""
        self._cancel_requested = True
        self._stop = True
        for task in self._workers:
            task.cancel()

    async def run(self) -> Outcome:
        self._started = time.monotonic()
        self._workers = [
            asyncio.create_task(self._worker(lane), name=f"lab-lane-{lane.name}-{i}")
            for lane in self.lanes.values()
            for i in range(lane.limit)
        ]
        cancelled = False
        try:
            await asyncio.gather(*self._workers)
        except BaseException as exc:  # a cancel, or the store failing: stop every lane
            self._stop = True
            for task in self._workers:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            await self._wait_saves()
            if self._store_error is not None:
                raise self._store_error from None
            if not (isinstance(exc, asyncio.CancelledError) and self._cancel_requested):
                raise
            cancelled = True
        await self._wait_saves()
        if self._store_error is not None:
            raise self._store_error
        return Outcome(list(self._records), cancelled=cancelled, capped=self._capped)

    async def _wait_saves(self) -> None:
        while self._saving:
            await asyncio.gather(*list(self._saving), return_exceptions=True)

    def snapshot(self) -> Progress:
        elapsed = time.monotonic() - self._started if self._started else 0.0
        remaining = self._total - self._done
        eta = elapsed / self._done_here * remaining if self._done_here else None
        paused = tuple(name for name, lane in self.lanes.items() if lane.paused)
        return Progress(
            total=self._total,
            done=self._done,
            failed=self._failed,
            checks_failed=self._checks_failed,
            in_flight=self._in_flight,
            spent=self._spent,
            elapsed=elapsed,
            eta=eta,
            paused=paused,
        )

    # ------------------------------------------------------------------ work

    async def _worker(self, lane: Lane) -> None:
        while lane.queue and not self._stop:
            await lane.ready()
            if not lane.queue or self._stop:
                return
            if self.max_cost is not None and self._spent >= self.max_cost:
                self._capped = self._stop = True
                return
            run = lane.queue.popleft()
            record, exchange = await self._execute(run, lane)
            await self._finish(record, exchange)

    async def _execute(self, run: PlannedRun, lane: Lane) -> tuple[RunRecord, Exchange]:
        prepared = self.prepared[run.id]
        exchange = Exchange()
        attempts = 0
        self.run_started.emit(run)
        while True:
            attempts += 1
            result = ChatResult(provider=prepared.provider, model=run.model)
            await lane.ready()
            async with self._overall:
                self._in_flight += 1
                try:
                    await stream(self.engine, prepared, result, exchange=exchange)
                finally:
                    self._in_flight -= 1
            err = result.error
            if err is None:
                lane.strikes = 0
                break
            if not err.retryable or err.partial:
                break
            if err.kind is ErrorKind.RATE_LIMIT:
                if attempts >= self.retry.rate_limit_attempts:
                    break
                lane.strikes += 1
                delay = self.retry.delay(lane.strikes, err.retry_after)
                lane.pause(delay)
                self.lane_paused.emit(LanePause(lane.name, delay, run.id))
                self.progress.emit(self.snapshot())
                continue
            if attempts >= self.retry.max_attempts:
                break
            await asyncio.sleep(self.retry.delay(attempts, err.retry_after))
        return self._record(run, result, attempts), exchange

    def _record(self, run: PlannedRun, result: ChatResult, attempts: int) -> RunRecord:
        variant = self.plan.variant(run)
        info = self.prices.get(run.variant)
        metrics = result.metrics
        usage = result.usage
        cost = result.cost(info)
        record = RunRecord(
            run=run.id,
            variant=run.variant,
            variant_label=variant.label,
            provider=variant.provider,
            model=run.model,
            prompt_index=run.prompt,
            prompt=self.plan.prompt(run),
            cell_index=run.cell,
            cell=dict(self.plan.cells[run.cell]),
            params=dict(run.params),
            repeat=run.repeat,
            status="complete" if result.status == "complete" else result.status,
            text=result.text,
            reasoning=result.reasoning,
            finish_reason=result.finish_reason,
            model_used=result.model_used,
            system_fingerprint=result.meta.system_fingerprint,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=metrics.completion_tokens,
            ttft_ms=_round(metrics.ttft_ms),
            tokens_per_s=_round(metrics.tokens_per_s),
            total_ms=_round(metrics.total_ms),
            cost=cost,
            currency=(info.currency or "USD") if cost is not None and info is not None else None,
            error=result.error.to_dict() if result.error else None,
            attempts=attempts,
        )
        if record.status == "complete":
            answer = Answer(record.text, record.finish_reason, record.total_ms, cost)
            record.checks = evaluate_all(self.plan.experiment.checks, answer)
            record.passed = overall(record.checks)
        return record

    async def _finish(self, record: RunRecord, exchange: Exchange) -> None:
        """Hand the run to the store and go on: its lane does not wait for the write. The run
        counts as finished (signals, results) once it is stored; a cancel waits for the writes
        under way, and a store error stops the sweep (`run` raises it)."""
        self._spent += record.cost or 0.0  # now, so that max_cost stops the next run in time
        if self._saver is None:
            self._count(record)
            return
        future = self._saver.submit(record, exchange)
        self._saving.add(future)
        future.add_done_callback(lambda done: self._saved(record, done))

    def _saved(self, record: RunRecord, future: asyncio.Future[int | None]) -> None:
        self._saving.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            if self._store_error is None:
                self._store_error = error
            self._stop = True
            for task in self._workers:
                task.cancel()
            return
        record.exchange_id = future.result()
        self._count(record)

    def _count(self, record: RunRecord) -> None:
        self._done += 1
        self._done_here += 1
        if record.failed:
            self._failed += 1
        elif record.passed is False:
            self._checks_failed += 1
        self._records.append(record)
        self.run_finished.emit(record)
        self.progress.emit(self.snapshot())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class _Saver:
    """Writes finished runs in a worker thread, those that finish within `window` of each
    other (or while a write is under way) together, in one transaction. Each run's future has
    its row id (or the store's error, for every run of the batch it failed in: none of them
    was stored)."""

    def __init__(
        self, save: SaveRun, transaction: Transaction, window: float = 0.05, most: int = 256
    ) -> None:
        self._save = save
        self._transaction = transaction
        self._window = window  # how long the first run of a batch waits for others
        self._most = most
        self._pending: list[tuple[RunRecord, Exchange, asyncio.Future[int | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def submit(self, record: RunRecord, exchange: Exchange) -> asyncio.Future[int | None]:
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, exchange, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name="lab-store-writer")
        return future

    async def _drain(self) -> None:
        try:
            while self._pending:
                if len(self._pending) < self._most:
                    await asyncio.sleep(self._window)
                batch, self._pending = self._pending, []

                def write(batch: list[tuple[RunRecord, Exchange, Any]] = batch) -> list[int | None]:
                    with self._transaction():
                        return [self._save(record, ex.to_records()) for record, ex, _ in batch]

                try:
                    # Not cancelled from outside: a cancel of the sweep waits for the futures.
                    ids = await asyncio.to_thread(write)
                except Exception as exc:
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:
                    self._pending[:0] = batch
                    raise
                for (*_, future), row_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(row_id)
        finally:
            self._writer = None
            for *_, future in self._pending:  # the loop is closing: they were not stored
                future.cancel()
            self._pending.clear()

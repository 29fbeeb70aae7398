"""A sweep from start to end, for `parley sweep` and the window's Lab alike:

    sweep = Sweep.new(experiment, catalog, store, engine, key_for)     # or Sweep.resume(...)
    await sweep.fetch_prices()
    check = sweep.preflight()                 # requests, tokens, cost, time; nothing sent yet
    sweep.check_caps(check)                   # PlanRefused over max_requests / max_cost
    sweep.runner.run_finished.connect(...)    # observe (plain callbacks; no Qt)
    outcome = await sweep.run()

The experiment row is created when the sweep starts (not at the pre-flight), each run is stored
as it finishes, and `sweep.results` holds every record, stored and new, by run id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from parley.core.chat.loop import Sender
from parley.core.lab.experiment import Experiment, parse_experiment
from parley.core.lab.plan import (
    Plan,
    PlanRefused,
    Preflight,
    lane_limits,
    make_plan,
    preflight,
    prepare_runs,
)
from parley.core.lab.results import Results, RunRecord
from parley.core.lab.runner import Outcome, RetryRule, Runner
from parley.core.protocol.errors import ParleyError
from parley.core.providers.catalog import Catalog, ProviderSpec
from parley.core.providers.modellist import ModelInfo
from parley.core.store import Store, StoreError
from parley.core.store import lab as lab_store


class ModelLister(Protocol):
    async def list_models(
        self, spec: ProviderSpec, key: str | None, base_url: str | None = None
    ) -> list[ModelInfo]: ...


class Engine(Sender, ModelLister, Protocol):
    pass


KeyFor = Callable[[ProviderSpec], "str | None"]


class Sweep:
    def __init__(
        self,
        experiment: Experiment,
        catalog: Catalog,
        store: Store | None,
        engine: Engine,
        key_for: KeyFor,
        *,
        experiment_id: int | None = None,
        stored: list[RunRecord] | None = None,
        retry_failed: bool = False,
        max_requests: int | None = None,
        retry: RetryRule | None = None,
    ) -> None:
        self.experiment = experiment
        self.catalog = catalog
        self.store = store
        self.engine = engine
        self.key_for = key_for
        self.experiment_id = experiment_id
        self.retry = retry
        cap = max_requests if max_requests is not None else experiment.max_requests
        self.plan: Plan = make_plan(experiment, limit=cap if experiment_id is None else None)
        self.results = Results(self.plan, stored or [])
        self.todo = self.results.missing(failed_too=retry_failed)
        if experiment_id is not None and cap is not None and len(self.todo) > cap:
            raise PlanRefused(
                f"{len(self.todo):,} runs are left, more than max_requests = {cap:,}. "
                "Nothing was sent."
            )
        self.lanes = lane_limits(self.plan, catalog)
        # Every request is built (and every key read) before anything is sent.
        self.prepared = prepare_runs(self.plan, catalog, key_for, self.todo)
        self.prices: dict[int, ModelInfo | None] = {}
        self.runner = self._make_runner()

    @classmethod
    def resume(
        cls,
        experiment_id: int,
        catalog: Catalog,
        store: Store,
        engine: Engine,
        key_for: KeyFor,
        *,
        overrides: dict[str, Any] | None = None,
        retry_failed: bool = False,
        max_requests: int | None = None,
    ) -> Sweep:
        """The stored experiment `experiment_id`, to finish what is missing (and, with
        `retry_failed`, what failed). The stored file text is planned again, so the run
        numbers are the same."""
        row = lab_store.get_experiment(store, experiment_id)
        experiment = parse_experiment(row.definition, catalog, source=row.source or row.name)
        if overrides:
            experiment = replace(experiment, **overrides)
        stored = [RunRecord.from_dict(r) for r in lab_store.run_rows(store, experiment_id)]
        return cls(
            experiment,
            catalog,
            store,
            engine,
            key_for,
            experiment_id=experiment_id,
            stored=stored,
            retry_failed=retry_failed,
            max_requests=max_requests,
        )

    def _make_runner(self) -> Runner:
        kept = self._kept()
        runner = Runner(
            self.plan,
            self.engine,
            self.prepared,
            lanes=self.lanes,
            prices=self.prices,
            save=self._save if self.store is not None else None,
            transaction=self.store.batch if self.store is not None else None,
            runs=self.todo,
            already_done=len(kept),
            already_spent=sum(r.cost or 0.0 for r in kept),
            max_cost=self.experiment.max_cost,
            retry=self.retry,
        )
        runner.run_finished.connect(self.results.add)
        return runner

    def _kept(self) -> list[RunRecord]:
        todo = {r.id for r in self.todo}
        return [r for r in self.results.records() if r.run not in todo]

    async def fetch_prices(self) -> dict[int, ModelInfo | None]:
        """Each variant's model entry from its provider's model list, where it has prices.
        A listing that fails leaves the price unknown (the pre-flight says so)."""
        listings: dict[tuple[str, str | None], list[ModelInfo]] = {}
        for variant in self.experiment.variants:
            spec = self.catalog.get(variant.provider)
            if spec is None:
                continue
            where = (spec.id, variant.base_url)
            if where not in listings:
                try:
                    key = await asyncio.to_thread(self.key_for, spec)
                    listings[where] = await self.engine.list_models(spec, key, variant.base_url)
                except ParleyError:
                    listings[where] = []
            models = {m.id: m for m in listings[where]}
            self.prices[variant.index] = models.get(variant.model)
        return self.prices

    def preflight(self) -> Preflight:
        return preflight(self.plan, self.lanes, self.prices, self.todo)

    def check_caps(self, check: Preflight, max_cost: float | None = None) -> None:
        cap = max_cost if max_cost is not None else self.experiment.max_cost
        if cap is not None and check.cost is not None and check.cost > cap:
            raise PlanRefused(
                f"The estimated cost is {check.cost_text()}, more than max_cost = {cap:g}. "
                "Nothing was sent: shrink the plan or raise max_cost (--max-cost)."
            )

    async def run(self) -> Outcome:
        if self.store is not None and self.experiment_id is None:
            self.experiment_id = await asyncio.to_thread(
                lab_store.create_experiment,
                self.store,
                name=self.experiment.name,
                source=self.experiment.source,
                definition=self.experiment.text,
                plan_size=len(self.plan),
            )
        elif self.store is not None and self.experiment_id is not None:
            await asyncio.to_thread(lab_store.set_status, self.store, self.experiment_id, "running")
        outcome: Outcome | None = None
        try:
            outcome = await self.runner.run()
        finally:
            status = "cancelled" if outcome is None or outcome.cancelled else "finished"
            if outcome is not None and outcome.capped:
                status = "cancelled"
            if len(self.results.missing()) and status == "finished":
                status = "interrupted"
            self._set_status(status)
        return outcome

    def _set_status(self, status: str) -> None:
        if self.store is None or self.experiment_id is None:
            return
        with contextlib.suppress(StoreError):
            lab_store.set_status(self.store, self.experiment_id, status)

    def cancel(self) -> None:
        self.runner.cancel()

    def _save(self, record: RunRecord, exchange: list[dict[str, Any]]) -> int | None:
        assert self.store is not None and self.experiment_id is not None
        return lab_store.save_run(
            self.store,
            self.experiment_id,
            record.run,
            record.status,
            record.to_dict(),
            exchange,
        )

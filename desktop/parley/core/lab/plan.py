"""The plan of an experiment: every run (variant x prompt x grid cell x repeat), numbered from 1.

The numbering is fixed by the file (variants, then prompts, then grid cells in the order the
grid lists its keys and values, then repeats), so run 17 of a file is the same run on a resume
and in every export. Each run's request is built once by `prepare()` (repeats share the same
bytes: they are independent sends of the same request) before anything is sent, and the
pre-flight estimates what the plan costs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parley.core.chat.prepared import PreparedRequest, prepare
from parley.core.lab.experiment import MODEL_AXIS, Experiment, Variant
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import Catalog, ProviderSpec
from parley.core.providers.modellist import ModelInfo

# What the pre-flight assumes where a variant sets no length limit, and the pace it assumes.
DEFAULT_COMPLETION_TOKENS = 256
ASSUMED_TOKENS_PER_S = 50.0
ASSUMED_FIRST_TOKEN_S = 0.7
_LENGTH_PARAMS = ("max_completion_tokens", "max_tokens", "max_new_tokens", "num_predict")


@dataclass(frozen=True)
class PlannedRun:
    id: int  # 1-based place in the plan
    variant: int
    prompt: int
    cell: int
    repeat: int  # 1-based
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)  # the variant's, the cell's on top

    @property
    def group(self) -> tuple[int, int, int]:
        """The runs that are repeats of one another share this."""
        return (self.variant, self.prompt, self.cell)


@dataclass(frozen=True)
class Plan:
    experiment: Experiment
    cells: tuple[Mapping[str, Any], ...]  # one {grid key: value} per grid cell ({} without a grid)
    runs: tuple[PlannedRun, ...]

    def __len__(self) -> int:
        return len(self.runs)

    def run(self, run_id: int) -> PlannedRun:
        return self.runs[run_id - 1]

    def variant(self, run: PlannedRun) -> Variant:
        return self.experiment.variants[run.variant]

    def prompt(self, run: PlannedRun) -> str:
        return self.experiment.prompts[run.prompt]

    def request(self, run: PlannedRun) -> ChatRequest:
        experiment = self.experiment
        variant = self.variant(run)
        messages = [Message(role="system", content=experiment.system)] if experiment.system else []
        messages.append(Message(role="user", content=self.prompt(run)))
        return ChatRequest(
            provider=variant.provider,
            model=run.model,
            messages=messages,
            params=dict(run.params),
            advanced=dict(variant.advanced),
            stream=variant.stream,
            base_url=variant.base_url,
        )


def grid_cells(experiment: Experiment) -> tuple[dict[str, Any], ...]:
    axes = experiment.grid
    if not axes:
        return ({},)
    names = [a.name for a in axes]
    return tuple(
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    )


def plan_size(experiment: Experiment) -> int:
    cells = math.prod(len(a.values) for a in experiment.grid)
    return len(experiment.variants) * len(experiment.prompts) * cells * experiment.repeat


def make_plan(experiment: Experiment, *, limit: int | None = None) -> Plan:
    """Every run of `experiment`. Raises ParleyError(CONFIG) when the plan is bigger than
    `limit` (checked before the runs are listed, so a huge grid costs nothing)."""
    size = plan_size(experiment)
    if limit is not None and size > limit:
        raise PlanRefused(
            f"The plan has {size:,} requests, more than max_requests = {limit:,}. "
            "Nothing was sent: shrink the grid or raise max_requests (--max-requests)."
        )
    cells = grid_cells(experiment)
    runs: list[PlannedRun] = []
    for v, variant in enumerate(experiment.variants):
        for p in range(len(experiment.prompts)):
            for c, cell in enumerate(cells):
                params = {**variant.params, **{k: x for k, x in cell.items() if k != MODEL_AXIS}}
                model = str(cell.get(MODEL_AXIS, variant.model))
                for k in range(1, experiment.repeat + 1):
                    runs.append(PlannedRun(len(runs) + 1, v, p, c, k, model, params))
    return Plan(experiment, cells, tuple(runs))


class PlanRefused(ParleyError):
    """The plan is over a cap (max_requests, max_cost): nothing was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.BUDGET, message)


KeyLookup = Callable[[ProviderSpec], str | None]


def prepare_runs(
    plan: Plan, catalog: Catalog, key_for: KeyLookup, runs: Iterable[PlannedRun] | None = None
) -> dict[int, PreparedRequest]:
    """The request of every run (of `runs`, default all), each built by `prepare()`; the key
    of each provider is read once. Raises ParleyError naming the variant: nothing is sent."""
    keys: dict[str, str | None] = {}
    built: dict[tuple[int, int, int], PreparedRequest] = {}
    out: dict[int, PreparedRequest] = {}
    for run in plan.runs if runs is None else runs:
        prepared = built.get(run.group)
        if prepared is None:
            variant = plan.variant(run)
            spec = catalog.get(variant.provider)
            if spec is None:
                raise ParleyError(ErrorKind.CONFIG, f"There is no provider {variant.provider!r}.")
            if spec.id not in keys:
                keys[spec.id] = key_for(spec)
            try:
                prepared = prepare(spec, plan.request(run), keys[spec.id])
            except ParleyError as err:
                err.message = f"Variant {variant.label!r}: {err.message} Nothing was sent."
                err.args = (err.message,)
                raise
            built[run.group] = prepared
        out[run.id] = prepared
    return out


def lane_limits(plan: Plan, catalog: Catalog, concurrency: int | None = None) -> dict[str, int]:
    """How many runs each provider's lane may have in flight: [limits] in the file, else one
    for a local server (a single machine), else the overall concurrency."""
    overall = concurrency or plan.experiment.concurrency
    lanes: dict[str, int] = {}
    for variant in plan.experiment.variants:
        spec = catalog.get(variant.provider)
        default = 1 if spec is not None and spec.local else overall
        lanes[variant.provider] = min(
            overall, plan.experiment.limits.get(variant.provider, default)
        )
    return lanes


@dataclass(frozen=True)
class Preflight:
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # the runs whose prices are known
    priced_runs: int
    currencies: tuple[str, ...]
    seconds: float
    lanes: Mapping[str, int]

    @property
    def unpriced_runs(self) -> int:
        return self.requests - self.priced_runs

    def describe(self) -> list[str]:
        lanes = ", ".join(f"{name} {n}" for name, n in self.lanes.items())
        lines = [
            f"requests: {self.requests:,}",
            f"estimated tokens: {self.prompt_tokens:,} in, up to {self.completion_tokens:,} out",
            f"estimated cost: {self.cost_text()}",
            f"estimated time: {_duration(self.seconds)} (at once per provider: {lanes})",
        ]
        return lines

    def cost_text(self) -> str:
        if self.cost is None or self.priced_runs == 0:
            return "unknown (no prices for these models)"
        currency = "/".join(self.currencies) or "USD"
        text = f"{self.cost:.4f} {currency}"
        if self.unpriced_runs:
            text += (
                f" for {self.priced_runs:,} runs; unknown for {self.unpriced_runs:,} (no prices)"
            )
        return text


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"about {seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min"


def estimate_prompt_tokens(request: ChatRequest) -> int:
    chars = sum(len(m.text()) + 4 for m in request.messages)
    return max(1, (chars + 3) // 4)


def completion_budget(params: Mapping[str, Any]) -> int:
    for name in _LENGTH_PARAMS:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_COMPLETION_TOKENS


def preflight(
    plan: Plan,
    lanes: Mapping[str, int],
    prices: Mapping[int, ModelInfo | None],
    runs: Iterable[PlannedRun] | None = None,
) -> Preflight:
    """What the runs (default: all) will take. `prices` maps a variant index to its model's
    entry in the provider's model list (None where unknown). Token counts are estimates:
    about four characters a token in, each run's length limit (or 256) out."""
    chosen = list(plan.runs if runs is None else runs)
    prompt_total = completion_total = priced = 0
    cost = 0.0
    currencies: list[str] = []
    lane_seconds: dict[str, float] = {}
    prompt_cache: dict[tuple[int, int], int] = {}
    for run in chosen:
        variant = plan.variant(run)
        key = (run.variant, run.prompt)
        if key not in prompt_cache:
            prompt_cache[key] = estimate_prompt_tokens(plan.request(run))
        p_tokens = prompt_cache[key]
        c_tokens = completion_budget(run.params)
        prompt_total += p_tokens
        completion_total += c_tokens
        info = prices.get(run.variant)
        if info is not None and info.prompt_price is not None and info.completion_price is not None:
            priced += 1
            cost += (p_tokens * info.prompt_price + c_tokens * info.completion_price) / 1_000_000
            currency = info.currency or "USD"
            if currency not in currencies:
                currencies.append(currency)
        seconds = ASSUMED_FIRST_TOKEN_S + c_tokens / ASSUMED_TOKENS_PER_S
        lane_seconds[variant.provider] = lane_seconds.get(variant.provider, 0.0) + seconds
    overall = max(1, plan.experiment.concurrency)
    total = sum(lane_seconds.values()) / overall
    for provider, seconds in lane_seconds.items():
        total = max(total, seconds / max(1, lanes.get(provider, overall)))
    return Preflight(
        requests=len(chosen),
        prompt_tokens=prompt_total,
        completion_tokens=completion_total,
        cost=cost if priced else None,
        priced_runs=priced,
        currencies=tuple(currencies),
        seconds=total,
        lanes=dict(lanes),
    )

"""Compare: one prompt answered by 2–6 panes at once, each pane a variant.

    comparison = Comparison(store, engine, keys, catalog, panes, prompt=..., conversation_id=...)
    comparison.pane_event.connect(...)          # Qt-free signals (signal.py), see below
    await comparison.start()                    # validates, stores the turn, streams every pane
    comparison.stop(2); comparison.retry(2)     # per pane
    comparison.vote("better", winner=1)         # blind mode: the names are shown after this
    comparison.choose(1)                        # "Continue with this one"

The turn lives in the history as any chat turn does: the prompt is a user message of the
conversation, each pane's answer an assistant message under it (siblings, in pane order, each
with its exact request body and exchange), saved as it streams through the chat's own stream
loop (`ChatSession.stream_turn`). The comparison row (core.store.compare) keeps the layout so
it reopens as it was. Choosing a pane makes it the conversation's shown answer; the others stay
reachable as its sibling branches (`< 2/4 >` in the chat).

Concurrency as in the sweep runner: each provider has a lane; a local server (or a provider
limited by the experiment's [limits]) answers one request at a time, so two panes on it take
turns, and the waiting pane is told which pane it waits for. A pane whose request cannot be
built (a bad parameter, no key) shows its error and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from parley.core.chat.prepared import PreparedRequest
from parley.core.chat.result import ChatResult
from parley.core.chat.session import ChatSession, RunConfig, Turn
from parley.core.lab.experiment import Experiment, Variant
from parley.core.lab.leaderboard import OUTCOMES, Outcome, Vote
from parley.core.lab.signal import Signal
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import Event
from parley.core.protocol.request import Message
from parley.core.providers.catalog import Catalog
from parley.core.providers.modellist import ModelInfo
from parley.core.store import Store, StoreError
from parley.core.store import compare as compare_store

MIN_PANES = 2
MAX_PANES = 6
PaneState = Literal["idle", "waiting", "streaming", "complete", "stopped", "failed", "invalid"]
FINAL_STATES = ("complete", "stopped", "failed", "invalid")
BLIND_NAMES = "ABCDEF"


def model_key(variant: Variant) -> str:
    """How a model is named on the leaderboard."""
    return f"{variant.provider}/{variant.model}"


def variant_settings(variant: Variant) -> dict[str, Any]:
    """Everything a pane sends with, flat, for the parameter diff."""
    out: dict[str, Any] = {"provider": variant.provider, "model": variant.model}
    if variant.base_url:
        out["base_url"] = variant.base_url
    out.update(variant.params)
    if variant.advanced:
        out["advanced"] = dict(variant.advanced)
    if not variant.stream:
        out["stream"] = False
    return out


def variant_from_config(config: RunConfig, label: str = "", index: int = 0) -> Variant:
    return Variant(
        index=index,
        label=label or f"{config.provider}/{config.model}",
        provider=config.provider,
        model=config.model,
        base_url=config.base_url,
        params=dict(config.params),
        advanced=dict(config.advanced),
        stream=config.stream,
    )


def unique_labels(variants: Sequence[Variant]) -> list[Variant]:
    """The variants numbered in order, a label given twice told apart ("m", "m #2")."""
    seen: dict[str, int] = {}
    out = []
    for i, v in enumerate(variants):
        label = v.label or f"{v.provider}/{v.model}"
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} #{seen[label]}"
        out.append(replace(v, index=i, label=label))
    return out


def variant_from_dict(data: Mapping[str, Any], index: int = 0) -> Variant:
    return Variant(
        index=index,
        label=str(data.get("label") or ""),
        provider=str(data.get("provider") or ""),
        model=str(data.get("model") or ""),
        base_url=data.get("base_url") or None,
        params=dict(data.get("params") or {}),
        advanced=dict(data.get("advanced") or {}),
        stream=bool(data.get("stream", True)),
    )


@dataclass(frozen=True)
class Waiting:
    """A pane waits for its provider's lane: `ahead` are the panes it waits for."""

    pane: int
    provider: str
    limit: int
    ahead: tuple[int, ...]


@dataclass(frozen=True)
class PaneRetry:
    pane: int
    attempt: int
    delay: float
    error: ParleyError


@dataclass
class Pane:
    index: int  # its place in the comparison (stable; the shown order may be shuffled)
    variant: Variant
    state: PaneState = "idle"
    prepared: PreparedRequest | None = None
    turn: Turn | None = None
    error: ParleyError | None = None  # why the request could not be made ("invalid")
    answer_id: int | None = None
    model_info: ModelInfo | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def result(self) -> ChatResult | None:
        return self.turn.result if self.turn is not None else None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


class Comparison:
    """One compare turn. Signals (emitted on the event loop's thread):

    - `pane_waiting(Waiting)`: the pane waits for its provider's lane
    - `pane_started(int)`: the pane's request is on its way
    - `pane_event(tuple[int, Event])`: an event was applied to the pane's result
    - `pane_retrying(PaneRetry)`: the pane's request is tried again after a delay
    - `pane_finished(int)`: the pane ended (complete, stopped, failed, or invalid)
    - `all_finished(Comparison)`: every pane has ended
    - `stored(int)`: the comparison row was written (its id)
    """

    def __init__(
        self,
        store: Store,
        engine: Any,
        keys: Callable[[str], str | None],
        catalog: Catalog,
        variants: Sequence[Variant],
        *,
        prompt: str,
        conversation_id: int,
        system_prompt: str = "",
        blind: bool = False,
        tags: Sequence[str] = (),
        limits: Mapping[str, int] | None = None,
        model_info: Callable[[Variant], ModelInfo | None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not MIN_PANES <= len(variants) <= MAX_PANES:
            raise ParleyError(
                ErrorKind.CONFIG,
                f"A comparison has {MIN_PANES} to {MAX_PANES} panes (this one has "
                f"{len(variants)}).",
            )
        self.store = store
        self.catalog = catalog
        self.prompt = prompt
        self.system_prompt = system_prompt
        self.conversation_id = conversation_id
        self.blind = blind
        self.tags = tuple(tags)
        self.limits = dict(limits or {})
        self.panes = [Pane(i, v) for i, v in enumerate(unique_labels(variants))]
        self.order = list(range(len(self.panes)))  # the order shown
        if blind:
            (rng or random.Random()).shuffle(self.order)
        self.comparison_id: int | None = None
        self.prompt_id: int | None = None
        self.vote_outcome: Outcome | None = None
        self.winner: int | None = None
        self.chosen: int | None = None
        self._model_info = model_info or (lambda _v: None)
        # Several streams share the loop: each yields to it sooner than a lone chat stream
        # does, so the panes' turns together stay as short as one chat stream's.
        self._session = ChatSession(
            store, engine, keys, catalog, self, yield_interval=0.003 / len(self.panes)
        )
        self._lanes: dict[str, asyncio.Semaphore] = {}
        self._holders: dict[str, list[int]] = {}
        self._by_answer: dict[int, int] = {}
        self.pane_waiting: Signal[Waiting] = Signal()
        self.pane_started: Signal[int] = Signal()
        self.pane_event: Signal[tuple[int, Event]] = Signal()
        self.pane_retrying: Signal[PaneRetry] = Signal()
        self.pane_finished: Signal[int] = Signal()
        self.all_finished: Signal[Comparison] = Signal()
        self.stored: Signal[int] = Signal()

    @classmethod
    def reopen(
        cls,
        store: Store,
        engine: Any,
        keys: Callable[[str], str | None],
        catalog: Catalog,
        comparison_id: int,
        *,
        model_info: Callable[[Variant], ModelInfo | None] | None = None,
    ) -> Comparison:
        """A stored comparison as it was left: its panes' answers, order, vote and choice
        (a pane can be retried, and a blind one voted, as before). Raises StoreError."""
        row = compare_store.get_comparison(store, comparison_id)
        layout = row.layout
        raw = [p for p in layout.get("panes", []) if isinstance(p, dict)]
        variants = [variant_from_dict(p.get("variant") or {}, i) for i, p in enumerate(raw)]
        c = cls(
            store,
            engine,
            keys,
            catalog,
            variants,
            prompt=str(layout.get("prompt", "")),
            conversation_id=row.conversation_id,
            system_prompt=str(layout.get("system", "")),
            blind=row.blind,
            tags=[str(t) for t in layout.get("tags", [])],
            limits={str(k): int(v) for k, v in (layout.get("limits") or {}).items()},
            model_info=model_info,
        )
        order = layout.get("order")
        if isinstance(order, list) and sorted(order) == list(range(len(c.panes))):
            c.order = [int(i) for i in order]
        c.comparison_id, c.prompt_id = row.id, row.prompt_id
        for p, data in zip(c.panes, raw, strict=True):
            answer = data.get("answer_id")
            if isinstance(answer, int):
                try:
                    stored = store.get_message(answer)
                except StoreError:
                    stored = None
                if stored is not None:
                    p.answer_id = answer
                    c._by_answer[answer] = p.index
                    status = stored.status
                    p.state = status if status in ("complete", "failed") else "stopped"
                    p.model_info = c._model_info(p.variant)
                    continue
            error = data.get("error")
            p.state = "invalid"
            if isinstance(error, dict):
                p.error = ParleyError(ErrorKind.CONFIG, str(error.get("message", "")))
        vote = compare_store.vote_for(store, row.id)
        if vote is not None:
            c.vote_outcome = vote.outcome  # type: ignore[assignment]
            if vote.winner is not None:
                c.winner = next(
                    (p.index for p in c.panes if model_key(p.variant) == vote.winner), None
                )
        if row.chosen_id is not None:
            c.chosen = c._by_answer.get(row.chosen_id)
        return c

    # ------------------------------------------------------------------ what is shown

    @property
    def revealed(self) -> bool:
        """Whether names may be shown: always, unless blind and not voted yet."""
        return not self.blind or self.vote_outcome is not None

    def shown_name(self, pane: int) -> str:
        """The pane's title: its label, or "Answer B" while blind."""
        if not self.revealed:
            return f"Answer {BLIND_NAMES[self.order.index(pane)]}"
        return self.panes[pane].variant.label

    @property
    def finished(self) -> bool:
        return all(p.finished for p in self.panes)

    def lane_limit(self, provider: str) -> int:
        if provider in self.limits:
            return max(1, self.limits[provider])
        spec = self.catalog.get(provider)
        return 1 if spec is not None and spec.local else MAX_PANES

    # ------------------------------------------------------------------ running

    async def start(self) -> None:
        """Build every pane's request, store the turn, then stream the panes (returns when
        all have ended). Raises StoreError when the turn cannot be stored; a pane whose
        request cannot be made ends "invalid" with its error."""
        await asyncio.to_thread(self._prepare_all)
        valid = [p for p in self.panes if p.prepared is not None]
        if not valid:
            for p in self.panes:
                self.pane_finished.emit(p.index)
            self.all_finished.emit(self)
            return
        await asyncio.to_thread(self._store_turn)
        for p in self.panes:
            if p.state == "invalid":
                self.pane_finished.emit(p.index)
        for p in valid:
            self._launch(p)
        await self.wait()

    async def wait(self) -> None:
        """Return when every pane has ended. Cancelled, it stops the panes and waits for them
        to be stored as stopped (then re-raises)."""
        try:
            while True:
                tasks = [p.task for p in self.panes if p.task is not None and not p.task.done()]
                if not tasks:
                    return
                await asyncio.wait(tasks)
        except asyncio.CancelledError:
            self.stop()
            running = [p.task for p in self.panes if p.task is not None]
            await asyncio.gather(*running, return_exceptions=True)
            raise

    def stop(self, pane: int | None = None) -> None:
        """Stop one pane (or every pane): what arrived is kept, marked stopped."""
        for p in self.panes if pane is None else [self.panes[pane]]:
            if p.task is not None and not p.task.done():
                p.task.cancel()

    async def retry(self, pane: int) -> None:
        """Send the pane's request again (its answer is replaced by the new one); returns when
        every pane has ended."""
        p = self.panes[pane]
        if not p.finished or self.prompt_id is None:
            return
        p.task = asyncio.ensure_future(self._retry(p, p.answer_id))
        await self.wait()

    async def _retry(self, p: Pane, old: int | None) -> None:
        # Built again: the key (or the pane's provider file) may have been fixed meanwhile.
        await asyncio.to_thread(self._prepare, p)
        if p.prepared is None:
            self.pane_finished.emit(p.index)
            return
        await asyncio.to_thread(self._begin_pane, p, old)
        await self._run(p)

    def _prepare_all(self) -> None:
        for p in self.panes:
            self._prepare(p)

    def _prepare(self, p: Pane) -> None:
        """The pane's request (the key read here, in a worker thread)."""
        v = p.variant
        config = RunConfig(
            provider=v.provider,
            model=v.model,
            params=dict(v.params),
            advanced=dict(v.advanced),
            base_url=v.base_url,
            stream=v.stream,
        )
        try:
            spec = self._session.spec(v.provider)
            key = self._session._key(spec)
            parent = self._new_parent() if self.prompt_id is None else None
            user = Message(role="user", content=self.prompt)
            if self.prompt_id is None:
                prepared = self._session.prepare_request(
                    self.conversation_id, parent, config, user, key=key
                )
            else:  # a retry: the stored prompt is on the branch already
                prepared = self._session.prepare_request(
                    self.conversation_id, self.prompt_id, config, None, key=key
                )
        except ParleyError as err:
            p.prepared, p.error, p.state = None, err, "invalid"
            return
        p.prepared, p.error = prepared, None
        p.model_info = self._model_info(v)

    def _layout(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "system": self.system_prompt,
            "order": list(self.order),
            "tags": list(self.tags),
            "limits": dict(self.limits),
            "panes": [
                {
                    "variant": p.variant.to_dict(),
                    "answer_id": p.answer_id,
                    "error": p.error.to_dict() if p.error is not None else None,
                }
                for p in self.panes
            ],
        }

    def _store_turn(self) -> None:
        store = self.store
        with store.batch():
            leaf = self._new_parent()
            user_id = store.add_message(self.conversation_id, leaf, "user", self.prompt)
            for p in self.panes:
                if p.prepared is not None:
                    self._begin_answer(p, user_id)
            self.prompt_id = user_id
            self.comparison_id = compare_store.create_comparison(
                store, self.conversation_id, user_id, self._layout(), blind=self.blind
            )
            # The chat shows the prompt until a pane is chosen (no pane is "the" answer yet).
            store.set_current_leaf(self.conversation_id, user_id)
        self.stored.emit(self.comparison_id)

    def _new_parent(self) -> int | None:
        """Where the prompt goes: after the chat's shown branch, or beside the prompt shown
        when that one is a comparison nobody went on with (a prompt never follows a prompt)."""
        leaf = self.store.current_leaf(self.conversation_id)
        if leaf is None:
            return None
        shown = self.store.get_message(leaf)
        if shown.role == "user":
            row = compare_store.comparison_for_prompt(self.store, leaf)
            if row is not None and row.chosen_id is None:
                return shown.parent_id
        return leaf

    def _begin_answer(self, p: Pane, parent: int) -> None:
        assert p.prepared is not None
        v = p.variant
        answer_id = self.store.begin_answer(
            self.conversation_id, parent, p.prepared.body_text, v.provider, v.model
        )
        p.answer_id = answer_id
        self._by_answer[answer_id] = p.index
        p.turn = Turn(
            conversation_id=self.conversation_id,
            parent_id=parent,
            answer_id=answer_id,
            spec=p.prepared.spec,
            prepared=p.prepared,
            result=ChatResult(provider=v.provider, model=v.model),
            model_info=p.model_info,
        )
        p.state = "waiting"

    def _begin_pane(self, p: Pane, old: int | None) -> None:
        assert self.prompt_id is not None and self.comparison_id is not None
        with self.store.batch():
            self._begin_answer(p, self.prompt_id)
            if old is not None:
                self._by_answer.pop(old, None)
                compare_store.drop_answer(self.store, old)
            compare_store.update_layout(self.store, self.comparison_id, self._layout())
            leaf = self.chosen_answer() if self.chosen is not None else self.prompt_id
            if leaf is not None:
                self.store.set_current_leaf(self.conversation_id, leaf)

    def chosen_answer(self) -> int | None:
        return None if self.chosen is None else self.panes[self.chosen].answer_id

    def _launch(self, p: Pane) -> None:
        p.task = asyncio.ensure_future(self._run(p))

    async def _run(self, p: Pane) -> None:
        turn = p.turn
        assert turn is not None
        provider = p.variant.provider
        lane = self._lanes.get(provider)
        if lane is None:
            lane = self._lanes[provider] = asyncio.Semaphore(self.lane_limit(provider))
        holders = self._holders.setdefault(provider, [])
        acquired = False
        try:
            if lane.locked():
                p.state = "waiting"
                self.pane_waiting.emit(
                    Waiting(p.index, provider, self.lane_limit(provider), tuple(holders))
                )
            await lane.acquire()
            acquired = True
            holders.append(p.index)
            p.state = "streaming"
            self.pane_started.emit(p.index)
            with contextlib.suppress(asyncio.CancelledError):
                await self._session.stream_turn(turn)
        except asyncio.CancelledError:
            if not acquired:  # stopped while waiting its turn: nothing was sent
                with contextlib.suppress(StoreError):
                    self._session.end_unsent(turn)
        finally:
            if acquired:
                holders.remove(p.index)
                lane.release()
            result = turn.result
            if p.state != "invalid":
                p.state = (
                    "stopped"
                    if result.status == "stopped"
                    else "failed"
                    if result.status == "failed"
                    else "complete"
                )

    # ------------------------------------------------------------------ the session's listener

    def on_turn_started(self, turn: Turn) -> None:
        pass

    def on_event(self, turn: Turn, event: Event) -> None:
        pane = self._by_answer.get(turn.answer_id)
        if pane is not None:
            self.pane_event.emit((pane, event))

    def on_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        pane = self._by_answer.get(turn.answer_id)
        if pane is not None:
            self.pane_retrying.emit(PaneRetry(pane, attempt, delay, error))

    def on_turn_done(self, turn: Turn) -> None:
        pane = self._by_answer.get(turn.answer_id)
        if pane is None:
            return
        p = self.panes[pane]
        status = turn.result.status
        p.state = (
            "stopped" if status == "stopped" else "failed" if status == "failed" else "complete"
        )
        self.pane_finished.emit(pane)
        if self.finished:
            self.all_finished.emit(self)

    # ------------------------------------------------------------------ deciding

    def vote(self, outcome: Outcome, winner: int | None = None) -> int:
        """Record a vote over the panes that answered; returns the vote's id."""
        if self.comparison_id is None:
            raise ParleyError(ErrorKind.CONFIG, "Nothing was compared yet.")
        answered = [p for p in self.panes if p.state == "complete"]
        models = [model_key(p.variant) for p in answered]
        winner_key = None
        if outcome == "better":
            if winner is None or self.panes[winner].state != "complete":
                raise ParleyError(ErrorKind.CONFIG, "Choose the answer that is better.")
            winner_key = model_key(self.panes[winner].variant)
        vote_id = compare_store.add_vote(
            self.store,
            self.comparison_id,
            outcome,
            models,
            winner=winner_key,
            tags=self.tags,
        )
        self.vote_outcome = outcome
        self.winner = winner
        return vote_id

    def choose(self, pane: int) -> int:
        """ "Continue with this one": the pane's answer becomes the chat's; returns its id."""
        p = self.panes[pane]
        if self.comparison_id is None or p.answer_id is None:
            raise ParleyError(ErrorKind.CONFIG, "This pane has no answer to continue with.")
        compare_store.choose(self.store, self.comparison_id, p.answer_id)
        v = p.variant
        self.store.update_conversation(
            self.conversation_id,
            provider=v.provider,
            model=v.model,
            params=dict(v.params),
            advanced=dict(v.advanced),
        )
        self.chosen = pane
        return p.answer_id

    # ------------------------------------------------------------------ marks

    def fastest_and_cheapest(self) -> dict[str, set[int]]:
        """When every pane has ended: the panes with the lowest TTFT, the highest tok/s, the
        lowest cost (ties all marked; a figure no pane has marks none)."""
        done = [p for p in self.panes if p.state == "complete" and p.result is not None]
        marks: dict[str, set[int]] = {"ttft": set(), "tokens_per_s": set(), "cost": set()}
        if not self.finished or len(done) < 2:
            return marks
        figures: dict[str, dict[int, float]] = {"ttft": {}, "tokens_per_s": {}, "cost": {}}
        for p in done:
            assert p.result is not None
            m = p.result.metrics
            if m.ttft_ms is not None:
                figures["ttft"][p.index] = m.ttft_ms
            if m.tokens_per_s is not None:
                figures["tokens_per_s"][p.index] = m.tokens_per_s
            cost = p.result.cost(p.model_info)
            if cost is not None:
                figures["cost"][p.index] = cost
        for name, values in figures.items():
            if len(values) < 2:
                continue
            best = max(values.values()) if name == "tokens_per_s" else min(values.values())
            marks[name] = {i for i, x in values.items() if x == best}
        return marks


def marks_from_figures(figures: Mapping[int, Mapping[str, float | None]]) -> dict[str, set[int]]:
    """The same marks from stored figures (a reopened comparison): {pane: {ttft_ms, ...}}."""
    marks: dict[str, set[int]] = {"ttft": set(), "tokens_per_s": set(), "cost": set()}
    for mark, key in (("ttft", "ttft_ms"), ("tokens_per_s", "tokens_per_s"), ("cost", "cost")):
        values = {i: float(f[key] or 0) for i, f in figures.items() if f.get(key) is not None}
        if len(values) < 2:
            continue
        best = max(values.values()) if mark == "tokens_per_s" else min(values.values())
        marks[mark] = {i for i, x in values.items() if x == best}
    return marks


def experiment_panes(experiment: Experiment) -> tuple[list[Variant], str | None]:
    """The panes of an experiment file, or why it is not a compare (then it is a sweep)."""
    why = []
    if experiment.grid:
        why.append("it has a [grid]")
    if len(experiment.prompts) > 1:
        why.append("it has several prompts")
    if experiment.repeat > 1:
        why.append("it repeats runs")
    if not MIN_PANES <= len(experiment.variants) <= MAX_PANES:
        why.append(f"it has {len(experiment.variants)} variants (a compare has 2 to 6)")
    if why:
        return [], "This experiment is a sweep, not a compare: " + "; ".join(why) + "."
    return list(experiment.variants), None


def stored_votes(store: Store, tag: str | None = None) -> list[Vote]:
    """The votes in the history (those tagged `tag`, when given), for the leaderboard."""
    return [
        Vote(
            models=row.models,
            outcome=row.outcome if row.outcome in OUTCOMES else "tie",
            winner=row.winner,
            tags=row.tags,
            id=row.id,
            created_at=row.created_at,
            comparison_id=row.comparison_id,
        )
        for row in compare_store.votes(store, tag=tag)
    ]

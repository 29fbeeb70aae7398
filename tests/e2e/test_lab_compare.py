"""Compare in core (core.lab.compare) through the real engine and the emulator (loopback
sockets): every pane streams at once and is stored as a sibling answer of one prompt; a failing
pane ends with its error while the others go on; two panes on one local server take turns and
say so; stop and retry per pane; votes and "continue with this one"; the turn reopens from the
history as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.core.lab.compare import Comparison, Waiting, experiment_panes, model_key
from parley.core.lab.experiment import Variant, parse_experiment
from parley.core.providers.catalog import load_catalog
from parley.core.store import Store, StoreError
from parley.core.store import compare as compare_store
from parley.net.engine import Engine, RetryPolicy
from tests.helpers.emulator import Behavior, Emulator

CATALOG = load_catalog()
ROUTES = {"openai-compatible": "openai", "euri": "euri", "llamacpp": "llamacpp"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "history.sqlite3") as s:
        yield s


def pane(emu: Emulator, provider: str, model: str, label: str = "", **params: Any) -> Variant:
    return Variant(
        index=0,
        label=label or f"{provider}/{model}",
        provider=provider,
        model=model,
        base_url=emu.base_url(ROUTES[provider]),
        params=params,
    )


def keys(emu: Emulator, wrong: frozenset[str] = frozenset()) -> Any:
    def key_for(provider: str) -> str | None:
        if provider in wrong:
            return "wrong-key-1234567890"
        return emu.key(ROUTES[provider])

    return key_for


def make(
    emu: Emulator,
    store: Store,
    variants: list[Variant],
    wrong: frozenset[str] = frozenset(),
    **kw: Any,
) -> Comparison:
    conv = store.create_conversation(provider="euri", model="gpt-4o-mini")
    engine = Engine(retry=RetryPolicy(max_attempts=1))
    return Comparison(
        store,
        engine,
        keys(emu, wrong),
        CATALOG,
        variants,
        prompt="Say hi.",
        conversation_id=conv,
        **kw,
    )


async def finish(c: Comparison) -> None:
    try:
        await c.start()
    finally:
        await c._session.engine.aclose()


def test_panes_stream_at_once_and_are_stored_as_siblings(emu: Emulator, store: Store) -> None:
    emu.default = Behavior(text="hello from the emulator " * 20, chunk_delay=0.005)
    variants = [
        pane(emu, "openai-compatible", "m1", temperature=0.2),
        pane(emu, "openai-compatible", "m1", "m1 hot", temperature=1.0),  # the same model twice
        pane(emu, "euri", "gpt-4o-mini"),
    ]
    c = make(emu, store, variants)
    events: dict[int, int] = {}
    c.pane_event.connect(lambda pe: events.__setitem__(pe[0], events.get(pe[0], 0) + 1))
    finished: list[Comparison] = []
    c.all_finished.connect(finished.append)
    asyncio.run(finish(c))
    assert [p.state for p in c.panes] == ["complete"] * 3
    assert set(events) == {0, 1, 2} and finished == [c]
    # One prompt, three answers under it, in pane order, each with the body it sent.
    siblings = store.children(c.prompt_id)
    assert [m.id for m in siblings] == [p.answer_id for p in c.panes]
    bodies = [m.request_body_text for m in siblings]
    assert '"temperature":0.2' in bodies[0] and '"temperature":1.0' in bodies[1]
    assert all(m.text.startswith("hello from the emulator") for m in siblings)
    # Streamed at once: every request arrived before the first reply ended.
    sent = sorted(r.t for r in emu.chat_requests())
    assert len(sent) == 3
    assert store.exchanges(siblings[0].id), "each answer keeps its exchange"
    # The conversation shows the prompt until a pane is chosen.
    assert store.current_leaf(c.conversation_id) == c.prompt_id


def test_a_failing_pane_shows_its_error_and_the_others_finish(emu: Emulator, store: Store) -> None:
    emu.default = Behavior(text="fine answer", chunk_delay=0.002)
    variants = [
        pane(emu, "openai-compatible", "m1"),
        pane(emu, "euri", "gpt-4o-mini"),  # a wrong key: 401
        pane(emu, "openai-compatible", "m2"),
    ]
    c = make(emu, store, variants, wrong=frozenset({"euri"}))
    asyncio.run(finish(c))
    assert [p.state for p in c.panes] == ["complete", "failed", "complete"]
    failed = store.get_message(c.panes[1].answer_id)
    assert failed.status == "failed" and failed.error["kind"] == "auth"
    marks = c.fastest_and_cheapest()
    assert marks["ttft"] and marks["ttft"] <= {0, 2}


def test_a_bad_parameter_fails_only_its_pane_before_anything_is_sent(
    emu: Emulator, store: Store
) -> None:
    variants = [
        pane(emu, "openai-compatible", "m1"),
        pane(emu, "euri", "gpt-4o-mini", temperature=9),
    ]
    c = make(emu, store, variants)
    asyncio.run(finish(c))
    assert c.panes[1].state == "invalid" and "temperature" in str(c.panes[1].error)
    assert c.panes[0].state == "complete"
    assert len(emu.chat_requests()) == 1
    layout = compare_store.get_comparison(store, c.comparison_id).layout
    assert layout["panes"][1]["error"]["kind"] == "config"


def test_two_panes_on_one_local_server_take_turns(emu: Emulator, store: Store) -> None:
    emu.default = Behavior(text="local words " * 30, chunk_delay=0.003)
    variants = [pane(emu, "llamacpp", "qwen"), pane(emu, "llamacpp", "qwen", "qwen again")]
    c = make(emu, store, variants)
    waits: list[Waiting] = []
    c.pane_waiting.connect(waits.append)
    asyncio.run(finish(c))
    assert waits == [Waiting(pane=1, provider="llamacpp", limit=1, ahead=(0,))]
    assert [p.state for p in c.panes] == ["complete", "complete"]
    first, second = (p.result for p in c.panes)
    assert first is not None and second is not None
    assert first.ended_at is not None and second.started_at is not None
    # The second request went out only once the first reply had ended.
    assert second.started_at >= first.ended_at
    later = max(emu.chat_requests(), key=lambda r: r.t)
    assert later.t >= first.ended_at
    assert c.lane_limit("llamacpp") == 1 and c.lane_limit("euri") == 6


def test_stop_one_pane_keeps_its_text_and_the_others_go_on(emu: Emulator, store: Store) -> None:
    emu.push(Behavior(text="slow " * 400, chunk_delay=0.01), provider="openai")
    emu.default = Behavior(text="quick answer")
    variants = [pane(emu, "openai-compatible", "slow"), pane(emu, "euri", "gpt-4o-mini")]
    c = make(emu, store, variants)

    async def go() -> None:
        task = asyncio.ensure_future(finish(c))
        while not (c.panes[0].result and c.panes[0].result.text):
            await asyncio.sleep(0.01)
        c.stop(0)
        await task

    asyncio.run(go())
    assert [p.state for p in c.panes] == ["stopped", "complete"]
    stopped = store.get_message(c.panes[0].answer_id)
    assert stopped.status == "stopped" and stopped.text.startswith("slow")


def test_retry_replaces_the_pane_answer(emu: Emulator, store: Store) -> None:
    emu.push(Behavior(status=500, message="boom"), provider="euri")
    emu.default = Behavior(text="second try works")
    variants = [pane(emu, "openai-compatible", "m1"), pane(emu, "euri", "gpt-4o-mini")]
    c = make(emu, store, variants)

    async def go() -> None:
        try:
            await c.start()
            assert c.panes[1].state == "failed"
            old = c.panes[1].answer_id
            await c.retry(1)
            assert c.panes[1].answer_id != old
            with pytest.raises(StoreError):
                store.get_message(old)
        finally:
            await c._session.engine.aclose()

    asyncio.run(go())
    assert c.panes[1].state == "complete"
    siblings = store.children(c.prompt_id)
    assert [m.id for m in siblings] == [c.panes[0].answer_id, c.panes[1].answer_id]
    assert siblings[1].text == "second try works"
    layout = compare_store.get_comparison(store, c.comparison_id).layout
    assert [p["answer_id"] for p in layout["panes"]] == [p.answer_id for p in c.panes]


def test_vote_and_continue_make_branches_that_reopen(emu: Emulator, store: Store) -> None:
    emu.default = Behavior(text="an answer")
    variants = [
        pane(emu, "openai-compatible", "m1"),
        pane(emu, "openai-compatible", "m2"),
        pane(emu, "euri", "gpt-4o-mini"),
    ]
    import random

    c = make(emu, store, variants, blind=True, tags=("code",), rng=random.Random(3))
    asyncio.run(finish(c))
    assert not c.revealed and c.shown_name(0).startswith("Answer ")
    assert sorted(c.shown_name(i) for i in range(3)) == ["Answer A", "Answer B", "Answer C"]
    c.vote("better", winner=2)
    assert c.revealed and c.shown_name(2) == "euri/gpt-4o-mini"
    chosen = c.choose(2)
    assert store.current_leaf(c.conversation_id) == chosen
    siblings = store.siblings(chosen)
    assert siblings.total == 3 and siblings.position == 2
    conv = store.get_conversation(c.conversation_id)
    assert (conv.provider, conv.model) == ("euri", "gpt-4o-mini")
    # Reopened from the history: the layout, the shuffled order, the vote, the choice.
    row = compare_store.comparison_for_prompt(store, c.prompt_id)
    assert row is not None and row.blind and row.chosen_id == chosen
    assert row.layout["order"] == c.order
    assert [p["variant"]["model"] for p in row.layout["panes"]] == ["m1", "m2", "gpt-4o-mini"]
    vote = compare_store.vote_for(store, row.id)
    assert vote is not None and vote.outcome == "better" and vote.winner == "euri/gpt-4o-mini"
    assert set(vote.models) == {model_key(v) for v in variants} and vote.tags == ("code",)


def test_experiment_panes() -> None:
    text = 'prompt = "p"\n' + "".join(
        f'[[variants]]\nprovider = "euri"\nmodel = "gpt-4o-mini"\nlabel = "v{i}"\n'
        for i in range(3)
    )
    panes, why = experiment_panes(parse_experiment(text, CATALOG))
    assert why is None and [p.label for p in panes] == ["v0", "v1", "v2"]
    grid = parse_experiment(text + "[grid]\ntemperature = [0.1, 0.2]\n", CATALOG)
    panes, why = experiment_panes(grid)
    assert panes == [] and why is not None and "grid" in why


def test_a_second_compare_goes_beside_a_prompt_nobody_went_on_with(
    emu: Emulator, store: Store
) -> None:
    emu.default = Behavior(text="ok")
    variants = [pane(emu, "openai-compatible", "m1"), pane(emu, "euri", "gpt-4o-mini")]
    first = make(emu, store, variants)
    asyncio.run(finish(first))
    engine = Engine(retry=RetryPolicy(max_attempts=1))
    second = Comparison(
        store,
        engine,
        keys(emu),
        CATALOG,
        variants,
        prompt="Again, differently.",
        conversation_id=first.conversation_id,
    )
    asyncio.run(finish(second))
    a, b = store.get_message(first.prompt_id), store.get_message(second.prompt_id)
    assert a.parent_id == b.parent_id  # siblings, not a prompt under a prompt
    sent = emu.chat_requests()[-1].json["messages"]
    assert [m["content"] for m in sent] == ["Again, differently."]
    first.choose(0)  # once one is chosen, a compare goes on after it
    third = Comparison(
        store,
        Engine(retry=RetryPolicy(max_attempts=1)),
        keys(emu),
        CATALOG,
        variants,
        prompt="Third.",
        conversation_id=first.conversation_id,
    )
    asyncio.run(finish(third))
    assert store.get_message(third.prompt_id).parent_id == first.panes[0].answer_id

"""The Lab's sweep through the real engine and the provider emulator (loopback sockets): what
each provider receives, lanes and 429s, failures that do not stop the others, checks, pass^K,
distinct outputs, storing as runs finish, cancel and resume."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.core.lab.experiment import parse_experiment
from parley.core.lab.plan import PlanRefused
from parley.core.lab.runner import LanePause, Outcome, RetryRule
from parley.core.lab.sweep import Sweep
from parley.core.protocol.errors import ErrorKind
from parley.core.providers.catalog import ProviderSpec, load_catalog
from parley.core.store import Store
from parley.core.store import lab as lab_store
from parley.net.engine import Engine, RetryPolicy
from tests.helpers.emulator import Behavior, Emulator

CATALOG = load_catalog()
ROUTES = {"openai-compatible": "openai", "euri": "euri", "eurouter": "eurouter"}
FAST = RetryRule(base_delay=0.01, max_delay=2.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "history.sqlite3") as s:
        yield s


def variant(emu: Emulator, provider: str, model: str = "m", **extra: str) -> str:
    lines = [
        "[[variants]]",
        f'provider = "{provider}"',
        f'base_url = "{emu.base_url(ROUTES[provider])}"',
        f'model = "{model}"',
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def keys(emu: Emulator, wrong: set[str] = frozenset()) -> Callable[[ProviderSpec], str]:  # type: ignore[assignment]
    def key_for(spec: ProviderSpec) -> str:
        return "wrong-key-123456789" if spec.id in wrong else emu.key(ROUTES[spec.id])

    return key_for


def make(
    text: str, emu: Emulator, store: Store | None = None, wrong: set[str] = frozenset(), **kw: Any
) -> Sweep:  # type: ignore[assignment]
    experiment = parse_experiment(text, CATALOG, source="test.toml")
    engine = Engine(retry=RetryPolicy(max_attempts=1))
    return Sweep(experiment, CATALOG, store, engine, keys(emu, wrong), retry=FAST, **kw)


def run(sweep: Sweep) -> Outcome:
    async def go() -> Outcome:
        try:
            await sweep.fetch_prices()
            return await sweep.run()
        finally:
            await sweep.engine.aclose()  # type: ignore[attr-defined]

    return asyncio.run(go())


def test_every_grid_cell_is_sent_variants_x_repeats_times(emu: Emulator) -> None:
    text = (
        'prompt = "Say hi."\nrepeat = 2\nconcurrency = 6\n'
        + variant(emu, "openai-compatible", "m1", params="{ max_tokens = 50 }")
        + variant(emu, "euri", "gpt-4o-mini")
        + "[grid]\ntemperature = [0.0, 1.0]\nseed = [1, 2, 3]\n"
    )
    sweep = make(text, emu)
    assert len(sweep.plan) == 2 * 2 * 3 * 2
    outcome = run(sweep)
    assert not outcome.cancelled and len(outcome.records) == 24
    bodies = [r.json for r in emu.chat_requests()]
    assert len(bodies) == 24
    cells = Counter((b["temperature"], b["seed"]) for b in bodies)
    assert cells == {(t, s): 4 for t in (0.0, 1.0) for s in (1, 2, 3)}
    by_model = Counter(b["model"] for b in bodies)
    assert by_model == {"m1": 12, "gpt-4o-mini": 12}
    assert all(b["max_tokens"] == 50 for b in bodies if b["model"] == "m1")
    assert all("max_tokens" not in b for b in bodies if b["model"] == "gpt-4o-mini")
    assert {r.status for r in outcome.records} == {"complete"}
    assert sweep.results.get(7) is not None and sweep.results.get(7).run == 7


def test_caps_refuse_with_no_chat_request_sent(emu: Emulator) -> None:
    text = 'prompt = "x"\nrepeat = 5\nmax_requests = 4\n' + variant(emu, "openai-compatible")
    with pytest.raises(PlanRefused, match="5 requests, more than max_requests = 4"):
        make(text, emu)
    # max_cost against the model list's prices (EUrouter lists them per token).
    text = 'prompt = "x"\nrepeat = 50\nmax_cost = 0.000001\n' + variant(
        emu, "eurouter", "mistral/mistral-small-3.2"
    )
    sweep = make(text, emu)

    async def preflight() -> Any:
        await sweep.fetch_prices()
        await sweep.engine.aclose()  # type: ignore[attr-defined]
        return sweep.preflight()

    check = asyncio.run(preflight())
    assert check.cost is not None and check.cost > 0.000001
    with pytest.raises(PlanRefused, match="more than max_cost"):
        sweep.check_caps(check)
    assert emu.chat_requests() == []


def test_failing_variants_are_recorded_while_the_others_finish(emu: Emulator, store: Store) -> None:
    emu.push(Behavior(text="partial answer that breaks", disconnect_after=3), provider="openai")
    text = (
        'prompt = "x"\nrepeat = 3\nconcurrency = 1\n'
        + variant(emu, "euri", "gpt-4o-mini")  # its key is refused
        + variant(emu, "openai-compatible")
    )
    sweep = make(text, emu, store, wrong={"euri"})
    outcome = run(sweep)
    records = {r.run: r for r in outcome.records}
    assert sorted(records) == [1, 2, 3, 4, 5, 6]
    for n in (1, 2, 3):
        assert records[n].status == "failed"
        assert records[n].error["kind"] == ErrorKind.AUTH
        assert records[n].attempts == 1  # a 401 is not retried
        assert "wrong-key" not in json.dumps(records[n].to_dict())
    assert records[4].status == "failed" and records[4].error["kind"] == ErrorKind.NETWORK
    assert records[4].text.startswith("partial")  # what arrived is kept
    assert [records[n].status for n in (5, 6)] == ["complete", "complete"]
    stored = lab_store.run_rows(store, sweep.experiment_id)
    assert [r["run"] for r in stored] == [1, 2, 3, 4, 5, 6]
    exchange = lab_store.run_exchange(store, stored[0]["exchange_id"])
    assert exchange[0].status == 401
    assert exchange[0].request_headers["Authorization"] == "Bearer [key redacted]"
    assert lab_store.get_experiment(store, sweep.experiment_id).status == "finished"


def test_a_429_pauses_only_its_providers_lane(emu: Emulator) -> None:
    emu.default = Behavior(text="one two three four five six", chunk_delay=0.01)
    emu.push(Behavior(status=429, headers={"Retry-After": "1"}), provider="euri")
    text = (
        'prompt = "x"\nrepeat = 3\nconcurrency = 4\n[limits]\neuri = 1\nopenai-compatible = 1\n'
        + variant(emu, "euri", "gpt-4o-mini")
        + '[[variants]]\nprovider = "openai-compatible"\n'
        + f'base_url = "{emu.base_url("openai")}"\nmodel = "m"\n'
    ).replace("repeat = 3", "repeat = 6")
    sweep = make(text, emu)
    pauses: list[LanePause] = []
    sweep.runner.lane_paused.connect(pauses.append)
    outcome = run(sweep)
    assert [(p.lane, p.seconds) for p in pauses] == [("euri", 1.0)]
    assert all(r.status == "complete" for r in outcome.records)
    euri = [r.t for r in emu.chat_requests("euri")]
    other = [r.t for r in emu.chat_requests("openai")]
    limited = euri[0]
    assert euri[1] - limited >= 0.95  # the euri lane waited Retry-After
    # ... while the other provider's lane went on during the pause.
    assert sum(1 for t in other if limited < t < limited + 0.9) >= 3
    retried = [r for r in outcome.records if r.attempts == 2]
    assert len(retried) == 1 and retried[0].provider == "euri"


def test_checks_and_pass_k_on_known_outputs(emu: Emulator) -> None:
    for reply in ["a fox", "a fox", "a fox", "a fox", "a dog", "a fox"]:
        emu.push(Behavior(text=reply))
    text = (
        'prompt = "x"\nrepeat = 3\nconcurrency = 1\n'
        + variant(emu, "openai-compatible")
        + "[grid]\nseed = [1, 2]\n"
        + '[[checks]]\ntype = "contains"\nvalue = "fox"\n'
        + '[[checks]]\ntype = "regex"\nvalue = "^a "\n'
        + '[[checks]]\ntype = "finish-reason"\nvalue = "stop"\n'
    )
    sweep = make(text, emu)
    run(sweep)
    results = sweep.results
    assert [r.passed for r in results] == [True, True, True, True, False, True]
    failed = results.get(5)
    assert failed is not None
    assert [c.passed for c in failed.checks] == [False, True, True]
    assert failed.checks[0].detail == "'fox' is not in the answer"
    cells = results.cell_stats()
    assert [c.pass_k for c in cells] == [True, False]
    assert [(c.passed, c.checked) for c in cells] == [(3, 3), (2, 3)]
    assert cells[1].outputs == (("a fox", 2), ("a dog", 1))
    (stats,) = results.variant_stats()
    assert stats.pass_rate == pytest.approx(5 / 6) and stats.pass_k == 1


def test_json_schema_check_names_the_json_pointer(emu: Emulator) -> None:
    emu.push(Behavior(json_reply={"items": [{"name": "a"}, {"name": 3}]}))
    emu.push(Behavior(text="not json"))
    schema = json.dumps(
        {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"properties": {"name": {"type": "string"}}}}
            },
        }
    )
    text = (
        'prompt = "x"\nrepeat = 2\nconcurrency = 1\n'
        + variant(emu, "openai-compatible")
        + f"[[checks]]\ntype = \"json-schema\"\nvalue = '{schema}'\n"
    )
    sweep = make(text, emu)
    run(sweep)
    first, second = sweep.results.records()
    assert first.passed is False
    assert first.checks[0].detail == "/items/1/name: 3 is not of type 'string'"
    assert second.checks[0].detail.startswith("not JSON")


def test_distinct_outputs_with_and_without_a_seed(emu: Emulator) -> None:
    emu.default = Behavior(sampled=True, system_fingerprint="fp_lab")
    text = (
        'prompt = "Write about a fox."\nrepeat = 4\nconcurrency = 4\n'
        + variant(emu, "openai-compatible", label='"seeded"', params="{ seed = 7 }")
        + variant(emu, "openai-compatible", label='"unseeded"')
    )
    sweep = make(text, emu)
    run(sweep)
    seeded, unseeded = sweep.results.cell_stats()
    assert seeded.distinct == 1 and seeded.outputs[0][1] == 4
    assert unseeded.distinct == 4
    assert seeded.fingerprints == ("fp_lab",)
    assert seeded.ttft_ms.p50 is not None and seeded.ttft_ms.p95 >= seeded.ttft_ms.p50
    assert seeded.total_ms.p50 is not None


def test_cancel_keeps_what_finished_and_resume_sends_only_the_rest(
    emu: Emulator, store: Store
) -> None:
    emu.default = Behavior(text="slow " * 10, chunk_delay=0.02)
    text = 'prompt = "x"\nrepeat = 12\nconcurrency = 2\n' + variant(emu, "openai-compatible")
    sweep = make(text, emu, store)

    def stop_after_three(_: object) -> None:
        if len(sweep.results) >= 3:
            sweep.cancel()

    sweep.runner.run_finished.connect(stop_after_three)
    outcome = run(sweep)
    assert outcome.cancelled
    kept = len(lab_store.run_rows(store, sweep.experiment_id))
    assert kept == len(sweep.results) >= 3 and kept < 12
    assert lab_store.get_experiment(store, sweep.experiment_id).status == "cancelled"

    emu.clear()

    async def resume() -> Outcome:
        again = Sweep.resume(
            sweep.experiment_id,
            CATALOG,
            store,
            Engine(retry=RetryPolicy(max_attempts=1)),
            keys(emu),
        )
        assert len(again.todo) == 12 - kept
        try:
            return await again.run()
        finally:
            await again.engine.aclose()  # type: ignore[attr-defined]

    outcome = asyncio.run(resume())
    assert len(emu.chat_requests()) == 12 - kept
    assert [r["run"] for r in lab_store.run_rows(store, sweep.experiment_id)] == list(range(1, 13))
    assert lab_store.get_experiment(store, sweep.experiment_id).status == "finished"


def test_runs_finishing_together_are_stored_in_one_commit_each_with_its_exchange(
    emu: Emulator, store: Store
) -> None:
    emu.default = Behavior(text="same time", chunk_delay=0.0)
    text = 'prompt = "x"\nrepeat = 40\nconcurrency = 20\n[limits]\nopenai-compatible = 20\n'
    sweep = make(text + variant(emu, "openai-compatible"), emu, store)
    commits: list[str] = []
    store._conn.set_trace_callback(  # type: ignore[union-attr]
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    outcome = run(sweep)
    store._conn.set_trace_callback(None)  # type: ignore[union-attr]
    rows = lab_store.run_rows(store, sweep.experiment_id)
    assert [r["run"] for r in rows] == list(range(1, 41))
    assert sorted(r.exchange_id for r in outcome.records) == sorted(r["exchange_id"] for r in rows)
    for row in rows:
        (attempt,) = lab_store.run_exchange(store, row["exchange_id"])
        assert attempt.status == 200 and any("same" in e.text for e in attempt.events)
    # Runs that finished while a write was under way went together (the experiment's own
    # rows are a few commits more).
    assert len(commits) < 40

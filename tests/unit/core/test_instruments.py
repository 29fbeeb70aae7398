"""The instruments on an answer, in core: candidates (n and fan-out), log-probabilities and
structured output, through the real engine and the loopback emulator where a request is made."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.core.chat import candidates as cands
from parley.core.chat import logprobs as lp
from parley.core.chat import structured as so
from parley.core.chat.session import ChatSession, RunConfig
from parley.core.protocol.events import TokenLogprob, TopLogprob
from parley.core.providers.catalog import Catalog, load_catalog
from parley.core.providers.decode import StreamDecoder, decode_response
from parley.core.store import Store
from parley.net.engine import Engine, RetryPolicy
from tests.helpers.emulator import Behavior, Emulator
from tests.helpers.emulator.replies import logprob_at


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "history.sqlite3", flush_interval=0.05)
    yield s
    s.close()


def run_config(emu: Emulator, provider: str, candidates: int = 1, **params: Any) -> RunConfig:
    return RunConfig(
        provider=provider,
        model="gpt-4.1-mini",
        params=params,
        base_url=emu.base_url(provider),
        candidates=candidates,
    )


def session_run(store: Store, emu: Emulator, catalog: Catalog, scenario: Any) -> Any:
    async def main() -> Any:
        engine = Engine(retry=RetryPolicy(max_attempts=2, base_delay=0.05, max_delay=1.0))
        try:
            session = ChatSession(store, engine, emu.key, catalog, save_interval=0.0)
            return await scenario(session)
        finally:
            await engine.aclose()

    return asyncio.run(main())


# --------------------------------------------------------------------------- decoding


def test_decode_stream_keeps_each_choice_and_its_logprobs_apart(catalog: Catalog) -> None:
    spec = catalog.providers["vllm"]
    decoder = StreamDecoder(spec)
    events = []
    for index, token, value in [(1, "B", -0.5), (0, "A", -0.1), (1, "b", -2.0)]:
        chunk = {
            "choices": [
                {
                    "index": index,
                    "delta": {"content": token},
                    "logprobs": {
                        "content": [
                            {
                                "token": token,
                                "logprob": value,
                                "top_logprobs": [{"token": "z", "logprob": value - 1}],
                            }
                        ]
                    },
                }
            ]
        }
        events += decoder.feed(json.dumps(chunk))
    by_choice: dict[int, list[TokenLogprob]] = {}
    for e in events:
        if type(e).__name__ == "LogprobsDelta":
            by_choice.setdefault(e.choice, []).extend(e.tokens)
    assert [t.token for t in by_choice[1]] == ["B", "b"]
    assert [t.logprob for t in by_choice[0]] == [-0.1]
    assert by_choice[1][1].top == (TopLogprob("z", -3.0),)


def test_decode_response_gives_every_choice_with_logprobs(catalog: Catalog) -> None:
    body = {
        "choices": [
            {
                "index": i,
                "message": {"content": f"answer {i}"},
                "finish_reason": "stop",
                "logprobs": {"content": [{"token": f"answer {i}", "logprob": -0.25 * i}]},
            }
            for i in range(3)
        ]
    }
    events = decode_response(catalog.providers["vllm"], body)
    texts = {e.choice: e.text for e in events if type(e).__name__ == "TextDelta"}
    assert texts == {0: "answer 0", 1: "answer 1", 2: "answer 2"}
    lps = {e.choice: e.tokens[0].logprob for e in events if type(e).__name__ == "LogprobsDelta"}
    assert lps == {0: 0.0, 1: -0.25, 2: -0.5}


# --------------------------------------------------------------------------- log-probabilities


def test_summary_mean_perplexity_and_least_likely() -> None:
    tokens = [TokenLogprob("a", -0.1), TokenLogprob("b", -2.0), TokenLogprob("c", -0.3)]
    s = lp.summarize(tokens)
    assert s.count == 3
    assert s.mean_logprob == pytest.approx(-0.8)
    assert s.perplexity == pytest.approx(math.exp(0.8))
    assert s.lowest_index == 1
    line = s.describe(tokens)
    assert "3 tokens" in line and "perplexity 2.23" in line and "\u201cb\u201d 14%" in line
    assert lp.summarize([]).count == 0


def test_stored_form_round_trips_and_skips_malformed() -> None:
    tokens = (TokenLogprob(" hi", -0.5, (TopLogprob(" hi", -0.5), TopLogprob("yo", -1.5))),)
    raw = json.loads(json.dumps(lp.encode(tokens)))
    assert lp.decode(raw) == tokens
    assert lp.decode([["x"], [1, 2], ["ok", True], ["y", -1, [["a", "b"]]]]) == (
        TokenLogprob("y", -1.0),
    )
    assert lp.decode("nonsense") == ()


@pytest.mark.parametrize("dark", [False, True])
def test_heat_colours_grow_with_unlikeliness_and_stay_readable(dark: bool) -> None:
    shades = [lp.heat_colors(math.log(p), dark=dark) for p in (1.0, 0.9, 0.5, 0.1, 0.001)]
    base_bg = shades[0][0]
    distances = []
    for bg, fg in shades:
        assert lp.contrast_ratio(bg, fg) >= 4.5, (bg, fg)
        distances.append(
            sum(abs(int(bg[i : i + 2], 16) - int(base_bg[i : i + 2], 16)) for i in (1, 3, 5))
        )
    assert distances == sorted(distances) and distances[-1] > distances[1] > 0


def test_alternatives_text_lists_most_likely_first() -> None:
    token = TokenLogprob(
        "cat", math.log(0.3), (TopLogprob("dog", math.log(0.6)), TopLogprob("cat", math.log(0.3)))
    )
    lines = lp.alternatives_text(token).splitlines()
    assert lines[0].startswith("\u201ccat\u201d  30%")
    assert "dog" in lines[2] and "60%" in lines[2] and "cat" in lines[3]


def test_logprobs_support_comes_from_the_provider_file(catalog: Catalog) -> None:
    assert lp.logprobs_unsupported(catalog.providers["eurouter"]) is None
    reason = lp.logprobs_unsupported(catalog.providers["euri"])
    assert reason is not None and "EURI" in reason
    assert lp.max_alternatives(catalog.providers["eurouter"]) == 20


# --------------------------------------------------------------------------- structured output

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def person_format(schema: Any = PERSON) -> Any:
    return so.build("json_schema", schema=schema, name="person", strict=True)


def test_reply_matching_the_schema_passes() -> None:
    verdict = so.validate_reply('{"name": "Ada", "age": 36}', person_format())
    assert verdict is not None and verdict.passed and verdict.summary() == "Matches the JSON schema"


def test_reply_violating_the_schema_names_each_place() -> None:
    verdict = so.validate_reply('{"name": 7, "age": -1, "x": 1}', person_format())
    assert verdict is not None and not verdict.passed
    pointers = {p.pointer for p in verdict.problems}
    assert {"/name", "/age", ""} <= pointers
    assert any("-1 is less than the minimum" in p.message for p in verdict.problems)
    assert verdict.summary() == "JSON schema: 3 problems"


def test_not_json_and_json_object_mode() -> None:
    bad = so.validate_reply("Sure! here you go", {"type": "json_object"})
    assert bad is not None and not bad.passed and "Not valid JSON" in bad.problems[0].message
    fenced = so.validate_reply('```json\n{"a": 1}\n```', {"type": "json_object"})
    assert fenced is not None and fenced.passed
    array = so.validate_reply("[1]", {"type": "json_object"})
    assert array is not None and not array.passed
    assert so.validate_reply("anything", None) is None
    assert so.validate_reply("anything", {"type": "text"}) is None


def test_schema_meta_validation_points_into_the_schema() -> None:
    problems = so.schema_problems({"type": "object", "properties": {"age": {"type": "integr"}}})
    assert problems and problems[0].pointer == "/properties/age/type"
    assert so.schema_problems(PERSON) == []
    whole = so.response_format_problems(
        {"type": "json_schema", "json_schema": {"name": "bad name!", "schema": {"minimum": "x"}}}
    )
    assert {p.pointer for p in whole} == {"/json_schema/name", "/json_schema/schema/minimum"}
    assert so.response_format_problems({"type": "json_object"}) == []


# --------------------------------------------------------------------------- candidates


def test_candidates_stored_form_and_choosing() -> None:
    cs = cands.CandidateSet(
        (
            cands.Candidate(0, "one", logprobs=(TokenLogprob("one", -0.2),)),
            cands.Candidate(1, "two", status="failed", error="boom"),
        ),
        fan_out=2,
    )
    extra = json.loads(json.dumps(cands.to_extra(cs)))
    back = cands.from_stored("one", extra=extra)
    assert back == cs and back.label() == "2 separate requests"
    chosen_extra, chosen = cands.choose(extra, 1)
    assert chosen.text == "two" and chosen_extra["chosen"] == 1
    with pytest.raises(ValueError):
        cands.choose(extra, 5)
    single = cands.from_stored("just me", extra={"logprobs": [["just", -0.1, []]]})
    assert len(single) == 1 and single.candidates[0].logprobs == (TokenLogprob("just", -0.1),)


def test_n_three_is_one_request_with_three_candidates(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    async def scenario(session: ChatSession) -> Any:
        cfg = run_config(emu, "vllm", 3, logprobs=True, top_logprobs=2)
        conv = session.new_conversation(cfg)
        return await session.send(conv, "Tell me", cfg)

    turn = session_run(store, emu, catalog, scenario)
    sent = emu.chat_requests("vllm")
    assert len(sent) == 1 and sent[0].json["n"] == 3
    stored = store.get_message(turn.answer_id)
    got = cands.from_stored(stored.text, extra=stored.extra)
    assert len(got) == 3 and got.fan_out == 0 and got.label() == "3 candidates (n = 3)"
    assert [c.text.startswith("Choice") for c in got.candidates] == [False, True, True]
    assert [t.logprob for t in got.candidates[1].logprobs[:3]] == [logprob_at(i) for i in range(3)]
    assert "".join(t.token for t in got.candidates[2].logprobs) == got.candidates[2].text


def test_fan_out_where_the_provider_has_no_n(store: Store, emu: Emulator, catalog: Catalog) -> None:
    for text in ("first answer", "second answer", "third answer"):
        emu.push(Behavior(text=text), provider="eurouter")

    async def scenario(session: ChatSession) -> Any:
        cfg = run_config(emu, "eurouter", 3, logprobs=True, top_logprobs=3)
        conv = session.new_conversation(cfg)
        turn = await session.send(conv, "Go", cfg)
        stored = store.get_message(turn.answer_id)
        got = cands.from_stored(stored.text, extra=stored.extra)
        third = next(c.index for c in got.candidates if c.text == "third answer")
        session.choose_candidate(turn.answer_id, third)
        await session.send(conv, "And then?", cfg)
        return turn, third

    turn, third = session_run(store, emu, catalog, scenario)
    sent = emu.chat_requests("eurouter")
    assert len(sent) == 3 + 3  # three separate requests per send
    assert all("n" not in r.json for r in sent)
    assert sent[0].json == sent[1].json == sent[2].json
    answer = store.get_message(turn.answer_id)
    got = cands.from_stored(answer.text, extra=answer.extra)
    assert sorted(c.text for c in got.candidates) == [
        "first answer",
        "second answer",
        "third answer",
    ]
    assert got.fan_out == 3 and got.label() == "3 separate requests" and got.chosen == third
    assert answer.text == "third answer"
    # The conversation goes on from the chosen candidate.
    assert sent[3].json["messages"][-2] == {"role": "assistant", "content": "third answer"}
    assert all(len(c.logprobs) > 0 for c in got.candidates)
    records = store.exchanges(turn.answer_id)
    assert [(r.attempt, r.request) for r in records] == [(1, 1), (2, 2), (3, 3)]
    assert all(r.status == 200 for r in records)
    assert answer.usage is not None and answer.usage["completion_tokens"] > 0


def test_fan_out_keeps_a_failed_request_as_a_failed_candidate(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    emu.push(Behavior(text="fine"), provider="eurouter")
    emu.push(Behavior(status=400, message="nope"), provider="eurouter")

    async def scenario(session: ChatSession) -> Any:
        cfg = run_config(emu, "eurouter", 2)
        conv = session.new_conversation(cfg)
        return await session.send(conv, "Go", cfg)

    turn = session_run(store, emu, catalog, scenario)
    answer = store.get_message(turn.answer_id)
    assert answer.status == "complete"
    got = cands.from_stored(answer.text, extra=answer.extra)
    statuses = sorted((c.status, c.text) for c in got.candidates)
    assert statuses == [("complete", "fine"), ("failed", "")]
    assert any(c.error and "rejected" in c.error for c in got.candidates)


def test_single_answer_keeps_its_logprobs_and_euri_gets_none(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    emu.push(Behavior(text="abcdefgh", chunk_chars=4), provider="eurouter")

    async def scenario(session: ChatSession) -> Any:
        cfg = run_config(emu, "eurouter", logprobs=True, top_logprobs=2)
        conv = session.new_conversation(cfg)
        return await session.send(conv, "Go", cfg)

    turn = session_run(store, emu, catalog, scenario)
    answer = store.get_message(turn.answer_id)
    got = cands.from_stored(answer.text, extra=answer.extra).candidates[0]
    assert [(t.token, t.logprob) for t in got.logprobs] == [
        ("abcd", logprob_at(0)),
        ("efgh", logprob_at(1)),
    ]
    assert all(len(t.top) == 2 for t in got.logprobs)


def test_non_streamed_reply_keeps_candidates_and_logprobs(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    async def scenario(session: ChatSession) -> Any:
        cfg = run_config(emu, "nordlys", 2, logprobs=True, top_logprobs=1)
        cfg.stream = False
        conv = session.new_conversation(cfg)
        return await session.send(conv, "Not streamed", cfg)

    turn = session_run(store, emu, catalog, scenario)
    sent = emu.chat_requests("nordlys")
    assert len(sent) == 1 and sent[0].json["stream"] is False and sent[0].json["n"] == 2
    answer = store.get_message(turn.answer_id)
    got = cands.from_stored(answer.text, extra=answer.extra)
    assert len(got) == 2 and got.candidates[1].text.startswith("Choice 2:")
    for c in got.candidates:
        assert "".join(t.token for t in c.logprobs) == c.text
        assert [t.logprob for t in c.logprobs] == [logprob_at(i) for i in range(len(c.logprobs))]


def test_stopping_a_fan_out_keeps_what_each_request_sent(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    emu.push(
        Behavior(text="slow " * 40, chunk_chars=5, chunk_delay=0.05, repeat=2), provider="eurouter"
    )

    async def scenario(session: ChatSession) -> Any:
        cfg = run_config(emu, "eurouter", 2)
        conv = session.new_conversation(cfg)
        task = asyncio.ensure_future(session.send(conv, "Go", cfg))

        def saved_text() -> str:
            answer = store.latest_answer_id()
            return store.get_message(answer).text if answer is not None else ""

        while not saved_text():
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.15)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return store.latest_answer_id()

    answer_id = session_run(store, emu, catalog, scenario)
    answer = store.get_message(answer_id)
    assert answer.status == "stopped"
    got = cands.from_stored(answer.text, extra=answer.extra)
    assert len(got) == 2 and got.fan_out == 2 and got.label() == "2 separate requests"
    assert all(c.status == "stopped" for c in got.candidates)
    assert all(c.text.startswith("slow") and len(c.text) < 200 for c in got.candidates)
    assert [r.request for r in store.exchanges(answer_id)] == [1, 2]


def test_candidates_and_logprobs_survive_export_and_import(
    store: Store, emu: Emulator, catalog: Catalog, tmp_path: Path
) -> None:
    from parley.core.store.export import export_json_text, import_json

    async def scenario(session: ChatSession) -> Any:
        cfg = run_config(emu, "vllm", 2, logprobs=True, top_logprobs=2)
        conv = session.new_conversation(cfg)
        turn = await session.send(conv, "Export me", cfg)
        session.choose_candidate(turn.answer_id, 1)
        return conv, turn

    conv, turn = session_run(store, emu, catalog, scenario)
    before = store.get_message(turn.answer_id)
    with Store.open(tmp_path / "other.sqlite3") as other:
        new_conv = import_json(other, export_json_text(store, conv))
        answer = next(m for m in other.messages(new_conv) if m.role == "assistant")
        assert answer.text == before.text and answer.text.startswith("Choice 2:")
        assert cands.from_stored(answer.text, extra=answer.extra) == cands.from_stored(
            before.text, extra=before.extra
        )
        got = cands.from_stored(answer.text, extra=answer.extra)
        assert got.chosen == 1 and all(c.logprobs for c in got.candidates)


def test_alternatives_line_leaves_the_token_itself_out() -> None:
    token = TokenLogprob(
        " cat",
        math.log(0.25),
        (TopLogprob(" cat", math.log(0.25)), TopLogprob(" dog", math.log(0.7))),
    )
    assert lp.alternatives_line(token) == "\u201c cat\u201d 25% · instead: \u201c dog\u201d 70%"
    assert lp.alternatives_line(TokenLogprob("x", 0.0)) == "\u201cx\u201d 100%"


def test_a_schema_never_makes_parley_fetch_anything() -> None:
    import socket

    from referencing.exceptions import Unresolvable

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/schema.json"
        schema = {"type": "object", "properties": {"a": {"$ref": url}}}
        problems = so.schema_problems(schema)
        assert [p.pointer for p in problems] == ["/properties/a/$ref"]
        assert "nothing is fetched" in problems[0].message
        verdict = so.validate_reply('{"a": 1}', so.build("json_schema", schema=schema, name="x"))
        assert verdict is not None and not verdict.passed
        assert "/properties/a/$ref" in verdict.problems[0].message
        with pytest.raises(Unresolvable):  # even asked directly, the validator fetches nothing
            list(so.validator_for_json(json.dumps(schema)).iter_errors({"a": 1}))
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_references_inside_the_schema_work_and_broken_ones_are_said() -> None:
    defs = {"$defs": {"n": {"type": "integer"}}, "type": "object"}
    ok = {**defs, "properties": {"a": {"$ref": "#/$defs/n"}}}
    verdict = so.validate_reply('{"a": "x"}', so.build("json_schema", schema=ok, name="x"))
    assert verdict is not None and [str(p) for p in verdict.problems] == [
        "/a: 'x' is not of type 'integer'"
    ]
    broken = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    verdict = so.validate_reply('{"a": 1}', so.build("json_schema", schema=broken, name="x"))
    assert (
        verdict is not None
        and not verdict.passed
        and "leads nowhere" in verdict.problems[0].message
    )
    loop = {"$defs": {"n": {"$ref": "#/$defs/n"}}, "$ref": "#/$defs/n"}
    verdict = so.validate_reply("{}", so.build("json_schema", schema=loop, name="x"))
    assert verdict is not None and not verdict.passed


def test_the_labs_schema_check_fetches_nothing_either() -> None:
    from parley.core.lab.checks import Answer, evaluate
    from parley.core.lab.experiment import CheckSpec

    schema = {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/s.json"}}}
    check = CheckSpec(type="json-schema", value=schema)
    result = evaluate(check, Answer('{"a": 1}', "stop", 10.0, None))
    assert result.passed is False and "leads nowhere" in result.detail


def test_a_fan_out_partial_is_scrubbed_of_an_echoed_key(
    store: Store, emu: Emulator, catalog: Catalog, tmp_path: Path
) -> None:
    key = emu.key("eurouter")
    text = f"your key is {key} and more"
    emu.push(
        Behavior(text=text, chunk_chars=len(key) + 12, pause_after=2, pause=1.0, repeat=2),
        provider="eurouter",
    )
    saved: list[str] = []

    async def scenario(session: ChatSession) -> None:
        cfg = run_config(emu, "eurouter", 2)
        conv = session.new_conversation(cfg)
        task = asyncio.ensure_future(session.send(conv, "Go", cfg))
        async with asyncio.timeout(5):
            while emu.active_streams < 2:
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.5)  # the key's piece arrived; the store commits partials
        other = Store.open(tmp_path / "history.sqlite3", read_only=True)
        try:
            saved.append(other.current_path(conv)[-1].text)
        finally:
            other.close()
        await task

    session_run(store, emu, catalog, scenario)
    assert saved[0].startswith("your key is ")
    assert key not in saved[0] and key[:12] not in saved[0]

"""ChatResult folds events into text, tool calls, usage, meta and metrics."""

from __future__ import annotations

import json

import pytest

from parley.core.chat.result import ChatResult
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import (
    Finished,
    LogprobsDelta,
    Meta,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)
from parley.core.providers.modellist import ModelInfo


def test_text_reasoning_and_status_flow() -> None:
    r = ChatResult("p", "m")
    r.mark_started(10.0)
    assert r.status == "pending"
    r.apply(Meta(headers={"x-request-id": "1"}), 10.1)
    assert r.status == "pending"
    r.apply(ReasoningDelta("think"), 10.5)
    assert r.status == "streaming"
    r.apply(TextDelta("Hel"), 10.6)
    r.apply(TextDelta("lo"), 11.5)
    r.apply(Finished("stop"), 11.6)
    assert (r.text, r.reasoning, r.finish_reason, r.status) == (
        "Hello",
        "think",
        "stop",
        "complete",
    )
    m = r.metrics
    assert m.ttft_ms == 500.0
    assert m.estimated and m.completion_tokens == 3
    assert m.tokens_per_s == 3 / 1.0
    assert m.total_ms is not None and abs(m.total_ms - 1600.0) < 1e-6


def test_usage_replaces_the_estimate() -> None:
    r = ChatResult()
    r.mark_started(0.0)
    r.apply(TextDelta("a"), 1.0)
    r.apply(TextDelta("b"), 3.0)
    r.apply(Usage(prompt_tokens=5, completion_tokens=40), 3.1)
    r.apply(Finished("stop"), 3.1)
    m = r.metrics
    assert not m.estimated and m.completion_tokens == 40 and m.tokens_per_s == 20.0


def test_no_rate_from_a_single_instant() -> None:
    r = ChatResult()
    r.mark_started(0.0)
    r.apply(TextDelta("all at once"), 1.0)
    assert r.metrics.tokens_per_s is None and r.metrics.ttft_ms == 1000.0


def test_no_rate_from_a_burst() -> None:
    r = ChatResult()
    r.mark_started(0.0)
    for i in range(300):  # 300 tokens within 3 ms: a buffered reply, not a decoding speed
        r.apply(TextDelta("w "), 1.0 + i / 100_000)
    assert r.metrics.tokens_per_s is None and r.metrics.completion_tokens == 300
    r.apply(TextDelta("late"), 1.2)
    assert r.metrics.tokens_per_s == pytest.approx(301 / 0.2)


def test_tool_calls_assembled_by_choice_and_index() -> None:
    r = ChatResult()
    for ev in [
        ToolCallDelta(0, "call_a", "get_", '{"ci', 0),
        ToolCallDelta(1, "call_b", "other", "{}", 0),
        ToolCallDelta(0, None, "weather", 'ty":"Oslo"}', 0),
        ToolCallDelta(0, "call_c", "f", "[1]", 1),
        ToolCallDelta(0, "call_a", None, "", 0),  # a repeated id changes nothing
    ]:
        r.apply(ev)
    calls = r.tool_calls
    assert [(c.id, c.name) for c in calls] == [("call_a", "get_weather"), ("call_b", "other")]
    assert json.loads(calls[0].arguments) == {"city": "Oslo"}
    assert r.choices[1].tool_calls[0].to_tool_call().arguments == "[1]"


def test_repeated_tool_name_is_not_doubled() -> None:
    r = ChatResult()
    r.apply(ToolCallDelta(0, "c", "lookup", "{"))
    r.apply(ToolCallDelta(0, "c", "lookup", "}"))
    assert r.tool_calls[0].name == "lookup" and r.tool_calls[0].arguments == "{}"


def test_choices_complete_only_when_all_finished() -> None:
    r = ChatResult()
    r.apply(TextDelta("a", 0))
    r.apply(TextDelta("b", 1))
    r.apply(Finished("stop", 0))
    assert r.status == "streaming"
    r.apply(Finished("length", 1))
    assert r.status == "complete"
    assert r.choices[1].text == "b" and r.choices[1].finish_reason == "length"


def test_meta_headers_win_and_per_choice_facts() -> None:
    r = ChatResult()
    r.apply(
        Meta(
            model="routed-model",
            routed_provider="mistral",
            headers={"x-model-used": "routed-model"},
        )
    )
    r.apply(Meta(model="body-model", response_id="r1", session_id="s1"))
    r.apply(Meta(model="proj/m", completion_id="c0", choice=0))
    assert r.meta.model == "routed-model" and r.meta.routed_provider == "mistral"
    assert r.meta.response_id == "r1" and r.meta.session_id == "s1"
    assert r.choices[0].model == "proj/m" and r.choices[0].completion_id == "c0"
    assert r.model_used == "routed-model"


def test_failure_keeps_the_partial_answer_and_to_dict_is_json() -> None:
    r = ChatResult("nordlys", "m1")
    r.mark_started(0.0)
    r.apply(Retrying(1, 0.5, ParleyError(ErrorKind.RATE_LIMIT, "slow")), 0.1)
    r.apply(TextDelta("part"), 1.0)
    r.apply(RefusalDelta("no"), 1.1)
    r.apply(LogprobsDelta((TokenLogprob("part", -0.1),)), 1.1)
    err = ParleyError(ErrorKind.NETWORK, "broke", partial=True)
    r.mark_failed(err, 2.0)
    assert r.status == "failed" and r.text == "part" and r.error is err and r.retries == 1
    d = json.loads(json.dumps(r.to_dict()))
    assert d["text"] == "part" and d["status"] == "failed" and d["error"]["kind"] == "network"
    assert d["error"]["partial"] is True and d["retries"] == 1 and d["refusal"] == "no"
    assert d["metrics"]["total_ms"] == 2000.0
    assert r.choices[0].logprobs[0].token == "part"


def test_stopped_and_complete() -> None:
    r = ChatResult()
    r.apply(TextDelta("x"))
    r.mark_stopped()
    assert r.status == "stopped" and r.text == "x"
    done = ChatResult()
    done.apply(Finished("stop"))
    done.mark_stopped()
    assert done.status == "complete"


def test_cost_per_million() -> None:
    r = ChatResult()
    info = ModelInfo("m", prompt_price=2.0, completion_price=10.0, currency="EUR")
    assert r.cost(info) is None  # no usage yet
    r.apply(Usage(prompt_tokens=1000, completion_tokens=500))
    assert r.cost(info) == (1000 * 2.0 + 500 * 10.0) / 1_000_000
    assert r.cost(ModelInfo("m")) is None  # no prices
    assert r.cost(None) is None

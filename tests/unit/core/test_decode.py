"""StreamDecoder and decode_response against the shapes the five providers send (NOTES.md §3)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import (
    Event,
    Finished,
    LogprobsDelta,
    Meta,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from parley.core.providers.catalog import ProviderSpec, Quirks
from parley.core.providers.decode import StreamDecoder, ThinkSplitter, decode_response

SPEC = ProviderSpec(id="nordlys", name="Nordlys", base_url="http://x")
NO_THINK = ProviderSpec(
    id="plain", name="Plain", base_url="http://x", quirks=Quirks(think_tags=False)
)


def chunk(
    content: str | None = None, *, finish: str | None = None, index: int = 0, **delta: Any
) -> str:
    d: dict[str, Any] = dict(delta)
    if content is not None:
        d["content"] = content
    choice: dict[str, Any] = {"index": index, "delta": d}
    if finish is not None:
        choice["finish_reason"] = finish
    return json.dumps({"id": "c1", "choices": [choice]})


def feed_all(dec: StreamDecoder, payloads: list[str]) -> list[Event]:
    events: list[Event] = []
    for p in payloads:
        events += dec.feed(p)
    events += dec.finish()
    return events


def texts(events: list[Event], cls: type = TextDelta, choice: int = 0) -> str:
    return "".join(e.text for e in events if isinstance(e, cls) and e.choice == choice)


def test_euri_minimal_chunks_without_model_or_finish_reason_then_done() -> None:
    # EURI's documented chunks: only id and choices[].delta.content/index.
    payloads = [
        json.dumps({"id": "x", "choices": [{"delta": {"content": w}, "index": 0}]})
        for w in ("Hel", "lo")
    ]
    events = feed_all(StreamDecoder(SPEC), [*payloads, "[DONE]"])
    assert texts(events) == "Hello"
    assert events[-1] == Finished(None, 0)


def test_cut_without_done_and_without_finish_reason_is_a_partial_protocol_error() -> None:
    dec = StreamDecoder(SPEC)
    assert texts(dec.feed(chunk("Hel"))) == "Hel"
    with pytest.raises(ParleyError) as info:
        dec.finish()
    assert info.value.kind is ErrorKind.PROTOCOL
    assert info.value.partial is True
    assert "ended before the answer was finished" in info.value.message


def test_finish_reason_without_done_is_complete() -> None:
    events = feed_all(StreamDecoder(SPEC), [chunk("Hi"), chunk(finish="stop")])
    assert texts(events) == "Hi"
    assert Finished("stop", 0) in events


def test_empty_stream_without_done_is_an_error_but_with_done_is_an_empty_answer() -> None:
    with pytest.raises(ParleyError) as info:
        StreamDecoder(SPEC).finish()
    assert info.value.kind is ErrorKind.PROTOCOL and not info.value.partial
    assert feed_all(StreamDecoder(SPEC), ["[DONE]"]) == [Finished(None, 0)]


def test_reasoning_content_preferred_over_reasoning() -> None:
    events = feed_all(
        StreamDecoder(SPEC),
        [
            chunk(reasoning_content="A", reasoning="B"),
            chunk(reasoning="C"),
            chunk("ok", finish="stop"),
        ],
    )
    assert texts(events, ReasoningDelta) == "AC"
    assert texts(events) == "ok"


@pytest.mark.parametrize(
    "pieces",
    [
        ["<think>plan</think>\n\nanswer"],
        ["<thi", "nk>pl", "an</th", "ink>", "\n\nans", "wer"],
        ["  <think>", "plan", "</think>answer"],
        list("<think>plan</think>answer"),
    ],
)
def test_think_tags_split_anywhere(pieces: list[str]) -> None:
    events = feed_all(StreamDecoder(SPEC), [chunk(p) for p in pieces] + [chunk(finish="stop")])
    assert texts(events, ReasoningDelta) == "plan"
    assert texts(events) == "answer"


def test_think_tag_not_at_the_start_is_just_text() -> None:
    events = feed_all(StreamDecoder(SPEC), [chunk("use <think>tags</think>"), chunk(finish="stop")])
    assert texts(events) == "use <think>tags</think>"
    assert texts(events, ReasoningDelta) == ""


def test_think_tags_off_by_quirk() -> None:
    events = feed_all(StreamDecoder(NO_THINK), [chunk("<think>x</think>y"), chunk(finish="stop")])
    assert texts(events) == "<think>x</think>y"


def test_unclosed_think_at_end_stays_reasoning_and_partial_tag_text_is_not_lost() -> None:
    events = feed_all(StreamDecoder(SPEC), [chunk("<think>still thinking </th"), "[DONE]"])
    assert texts(events, ReasoningDelta) == "still thinking </th"
    events = feed_all(StreamDecoder(SPEC), [chunk("<thi"), "[DONE]"])
    assert texts(events) == "<thi"


@given(st.text(max_size=40), st.text(max_size=40), st.lists(st.integers(0, 60), max_size=6))
def test_think_splitter_is_chunking_invariant(reasoning: str, answer: str, cuts: list[int]) -> None:
    whole = f"<think>{reasoning}</think>{answer}"
    bounds = sorted({0, len(whole), *(min(c, len(whole)) for c in cuts)})
    pieces = [whole[a:b] for a, b in itertools.pairwise(bounds)]
    one, many = ThinkSplitter(), ThinkSplitter()
    whole_out = one.feed(whole) + one.flush()
    split_out: list[tuple[bool, str]] = []
    for p in pieces:
        split_out += many.feed(p)
    split_out += many.flush()

    def join(out: list[tuple[bool, str]], flag: bool) -> str:
        return "".join(t for r, t in out if r is flag)

    assert join(split_out, True) == join(whole_out, True)
    assert join(split_out, False) == join(whole_out, False)


def test_adaptive_engine_chunks_metric_events_and_null_choices() -> None:
    payloads = [
        json.dumps(
            {
                "id": "a1",
                "created": 1,
                "session_id": "5b7c...",
                "choices": [
                    {
                        "delta": {"id": "d", "role": "assistant", "content": "Hi"},
                        "index": 0,
                        "completion_id": "cmp-1",
                    }
                ],
            }
        ),
        json.dumps({"TTFT": 0.12, "finish_reason": "stop"}),
        json.dumps({"TotalRequestDuration": 1.5}),
        json.dumps(
            {
                "id": "a1",
                "choices": [{"delta": {}, "index": 0, "finish_reason": "stop", "model": "proj/m1"}],
            }
        ),
        json.dumps(
            {
                "id": "a1",
                "choices": None,
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
        ),
        "[DONE]",
    ]
    events = feed_all(StreamDecoder(SPEC), payloads)
    assert texts(events) == "Hi"
    metas = [e for e in events if isinstance(e, Meta)]
    assert any(m.session_id == "5b7c..." for m in metas)
    assert any(m.completion_id == "cmp-1" and m.choice == 0 for m in metas)
    assert any(m.model == "proj/m1" and m.choice == 0 for m in metas)
    assert Usage(3, 1, 4) in events
    assert [e for e in events if isinstance(e, Finished)] == [Finished("stop", 0)]


def test_nordlys_provider_and_usage_details_meta_said_once() -> None:
    base = {
        "id": "n1",
        "object": "chat.completion.chunk",
        "model": "claude-opus-4-5",
        "provider": "anthropic",
    }
    payloads = [
        json.dumps({**base, "choices": [{"index": 0, "delta": {"content": "a"}}]}),
        json.dumps(
            {**base, "choices": [{"index": 0, "delta": {"content": "b"}, "finish_reason": "stop"}]}
        ),
        json.dumps(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": 5,
                    "completion_tokens": 2,
                    "reasoning_tokens": 1,
                    "cached_input_tokens": 4,
                },
            }
        ),
    ]
    events = feed_all(StreamDecoder(SPEC), payloads)
    metas = [e for e in events if isinstance(e, Meta) and e.choice is None]
    assert (
        len(metas) == 1
        and metas[0].routed_provider == "anthropic"
        and metas[0].model == "claude-opus-4-5"
    )
    assert Usage(5, 2, 7, 1, 4) in events


def test_openai_usage_details_fingerprint_and_service_tier() -> None:
    body = {
        "id": "r",
        "system_fingerprint": "fp_1",
        "service_tier": "default",
        "choices": [],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 20,
            "total_tokens": 30,
            "completion_tokens_details": {"reasoning_tokens": 7},
            "prompt_tokens_details": {"cached_tokens": 8},
        },
    }
    events = StreamDecoder(SPEC).feed(json.dumps(body))
    assert Usage(10, 20, 30, 7, 8) in events
    meta = next(e for e in events if isinstance(e, Meta))
    assert (meta.system_fingerprint, meta.service_tier, meta.response_id) == (
        "fp_1",
        "default",
        "r",
    )


def test_n_choices_kept_apart() -> None:
    payloads = [
        chunk("A0", index=0),
        chunk("B1", index=1),
        chunk("A1", index=0),
        chunk(finish="stop", index=1),
        chunk(finish="length", index=0),
    ]
    events = feed_all(StreamDecoder(SPEC), payloads)
    assert texts(events, choice=0) == "A0A1"
    assert texts(events, choice=1) == "B1"
    assert Finished("length", 0) in events and Finished("stop", 1) in events


def test_one_choice_unfinished_of_two_is_a_cut() -> None:
    dec = StreamDecoder(SPEC)
    dec.feed(chunk("A", index=0))
    dec.feed(chunk("B", index=1, finish="stop"))
    with pytest.raises(ParleyError) as info:
        dec.finish()
    assert info.value.partial


def test_tool_call_deltas_refusal_and_logprobs() -> None:
    payloads = [
        chunk(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '"Oslo"}'}}]),
        chunk(refusal="no"),
        json.dumps(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": "x"},
                        "logprobs": {
                            "content": [
                                {
                                    "token": "x",
                                    "logprob": -0.5,
                                    "top_logprobs": [{"token": "y", "logprob": -1.0}, {"bad": 1}],
                                }
                            ]
                        },
                        "finish_reason": "tool_calls",
                    }
                ]
            }
        ),
    ]
    events = feed_all(StreamDecoder(SPEC), payloads)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(0, "call_1", "get_weather", "", 0)
    assert "".join(c.arguments for c in calls) == '{"city":"Oslo"}'
    assert RefusalDelta("no", 0) in events
    lp = next(e for e in events if isinstance(e, LogprobsDelta))
    assert (
        lp.tokens[0].token == "x"
        and lp.tokens[0].top[0].token == "y"
        and len(lp.tokens[0].top) == 1
    )


@pytest.mark.parametrize(
    ("error", "kind", "said"),
    [
        (
            {"message": "Upstream exploded", "type": "internal_error", "code": "completion_failed"},
            ErrorKind.SERVER,
            "Upstream exploded",
        ),
        ({"message": "slow down", "type": "rate_limit_error"}, ErrorKind.RATE_LIMIT, "slow down"),
        ("Something odd", ErrorKind.PROTOCOL, "Something odd"),
        (
            {"code": 502, "message": "Provider returned error"},
            ErrorKind.SERVER,
            "Provider returned error",
        ),
    ],
)
def test_in_stream_error_chunk(error: Any, kind: ErrorKind, said: str) -> None:
    dec = StreamDecoder(SPEC, secrets=["sk-secretsecret123"])
    dec.feed(chunk("partial"))
    with pytest.raises(ParleyError) as info:
        dec.feed(json.dumps({"error": error, "provider": "openai"}))
    assert info.value.kind is kind
    assert info.value.provider_message == said
    assert info.value.partial is True
    assert "Nordlys" in info.value.message


def test_in_stream_error_is_redacted() -> None:
    key = "sk-live-0123456789abcdef"
    with pytest.raises(ParleyError) as info:
        StreamDecoder(SPEC, secrets=[key]).feed(
            json.dumps({"error": {"message": f"key {key[:10]}… is bad"}})
        )
    assert key[:10] not in str(info.value)


def test_finish_reason_error_raises() -> None:
    dec = StreamDecoder(SPEC)
    dec.feed(chunk("so far"))
    with pytest.raises(ParleyError) as info:
        dec.feed(chunk(finish="error"))
    assert info.value.partial and info.value.kind is ErrorKind.PROTOCOL


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", "42", '"str"'])
def test_malformed_payload_is_protocol_error(bad: str) -> None:
    with pytest.raises(ParleyError) as info:
        StreamDecoder(SPEC).feed(bad)
    assert info.value.kind is ErrorKind.PROTOCOL


def test_extra_fields_and_odd_values_are_tolerated() -> None:
    payloads = [
        json.dumps(
            {
                "weird": True,
                "choices": [{"delta": None}, "junk", {"index": "x", "delta": {"content": 5}}],
            }
        ),
        json.dumps(
            {"choices": [{"index": 0, "delta": {"content": [{"type": "text", "text": "parts"}]}}]}
        ),
        json.dumps(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]
                        },
                    }
                ]
            }
        ),
        json.dumps(
            {"usage": None, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        ),
    ]
    events = feed_all(StreamDecoder(SPEC), payloads)
    assert texts(events) == "parts"
    tc = next(e for e in events if isinstance(e, ToolCallDelta))
    assert tc.name == "f" and json.loads(tc.arguments) == {"a": 1}


def test_nothing_counts_after_done() -> None:
    events = feed_all(StreamDecoder(SPEC), [chunk("a"), "[DONE]", chunk("b")])
    assert texts(events) == "a"


# --------------------------------------------------------------------------- non-streamed


def test_decode_response_openai_body_with_reasoning_tool_calls_and_usage() -> None:
    body = {
        "id": "r1",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "<think>hmm</think>Answer",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    events = decode_response(SPEC, body)
    assert texts(events) == "Answer"
    assert texts(events, ReasoningDelta) == "hmm"
    assert ToolCallDelta(0, "c1", "f", "{}", 0) in events
    assert Usage(1, 2, 3) in events and Finished("stop", 0) in events


def test_decode_response_eurouter_reasoning_and_adaptive_per_choice_model() -> None:
    events = decode_response(
        SPEC,
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"content": "x", "reasoning": "why"},
                    "model": "p/m",
                    "completion_id": "c",
                }
            ],
            "session_id": "s",
        },
    )
    assert texts(events, ReasoningDelta) == "why"
    assert Finished(None, 0) in events
    assert any(isinstance(e, Meta) and e.model == "p/m" and e.choice == 0 for e in events)


@pytest.mark.parametrize("body", [{"choices": []}, {"id": "x"}, [1], "text"])
def test_decode_response_without_choices_is_protocol_error(body: Any) -> None:
    with pytest.raises(ParleyError) as info:
        decode_response(SPEC, body)
    assert info.value.kind is ErrorKind.PROTOCOL


def test_decode_response_error_body() -> None:
    with pytest.raises(ParleyError) as info:
        decode_response(SPEC, {"error": "EntityNotFound: project foo"})
    assert info.value.provider_message == "EntityNotFound: project foo"

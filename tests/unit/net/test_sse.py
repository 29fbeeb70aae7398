"""Fuzz of the streamed decoding path without sockets: bytes -> SSEParser -> StreamDecoder.

The engine runs exactly this path on the body bytes it reads; the same bytes in any chunking
must give the same events, and arbitrary bytes must give events or a ParleyError, never another
exception.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import Event, Finished, ReasoningDelta, TextDelta
from parley.core.providers.catalog import ProviderSpec
from parley.core.providers.decode import StreamDecoder
from parley.net.sse import SSEParser

SPEC = ProviderSpec(id="p", name="Prov", base_url="http://x")


def decode(chunks: list[bytes]) -> list[Event]:
    parser = SSEParser(SPEC.name)
    decoder = StreamDecoder(SPEC)
    events: list[Event] = []
    for chunk in chunks:
        for data in parser.feed(chunk):
            events += decoder.feed(data)
    for data in parser.flush():
        events += decoder.feed(data)
    return events + decoder.finish()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


pieces = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, str, str]:
    reasoning = draw(st.lists(st.text(min_size=1, max_size=8), max_size=3))
    content = draw(pieces)
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    comments = draw(st.booleans())
    payloads = [
        json.dumps({"choices": [{"index": 0, "delta": {"reasoning_content": r}}]})
        for r in reasoning
    ]
    payloads += [
        json.dumps(
            {"id": "x", "choices": [{"index": 0, "delta": {"content": c}}]},
            ensure_ascii=draw(st.booleans()),
        )
        for c in content
    ]
    payloads.append(json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    payloads.append("[DONE]")
    body = ""
    for p in payloads:
        if comments:
            body += f": keep-alive{eol}"
        body += f"data: {p}{eol}{eol}"
    return body.encode(), "".join(reasoning), "".join(content)


@settings(max_examples=300, deadline=None)
@given(streams(), st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_any_chunking_gives_the_same_events(
    stream: tuple[bytes, str, str], cuts: list[int]
) -> None:
    body, reasoning, content = stream
    whole = decode([body])
    assert decode(split(body, cuts)) == whole
    assert decode([body[i : i + 1] for i in range(len(body))]) == whole
    got_reasoning = "".join(e.text for e in whole if isinstance(e, ReasoningDelta))
    got_text = "".join(e.text for e in whole if isinstance(e, TextDelta))
    # <think> handling may move a leading <think>...</think> from text into reasoning.
    assert got_reasoning + got_text == reasoning + content or content.lstrip().startswith("<think>")
    assert whole[-1] == Finished("stop", 0)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_arbitrary_bytes_give_events_or_a_parley_error(body: bytes, cuts: list[int]) -> None:
    try:
        decode(split(body, cuts))
    except ParleyError as err:
        assert err.kind is ErrorKind.PROTOCOL
        assert err.message


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "data: ",
                    "data:",
                    "event: x",
                    ": c",
                    "id: 1",
                    "retry: 5",
                    "\n",
                    "\r\n",
                    "[DONE]",
                    "{",
                    "}",
                ]
            ),
            st.builds(
                lambda t: json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}),
                st.text(max_size=5),
            ),
            st.builds(lambda t: json.dumps({"error": t}), st.text(max_size=5)),
        ),
        max_size=30,
    ),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
)
def test_sse_shaped_garbage_gives_events_or_a_parley_error(
    parts: list[str], cuts: list[int]
) -> None:
    body = "".join(parts).encode()
    try:
        whole = decode([body])
    except ParleyError:
        whole = None
    try:
        chunked = decode(split(body, cuts))
    except ParleyError:
        chunked = None
    assert chunked == whole


def test_invalid_utf8_is_replaced_and_the_stream_goes_on_even_split_inside_a_character() -> None:
    good = 'data: {"choices":[{"index":0,"delta":{"content":"é"}}]}\n\n'.encode()
    assert decode([good[:40], good[40:], b"data: [DONE]\n\n"])[0] == TextDelta("é", 0)
    bad = b'data: {"choices":[{"index":0,"delta":{"content":"\xff\xfe"}}]}\n\n'
    parser = SSEParser(SPEC.name)
    datas = parser.feed(bad[:45]) + parser.feed(bad[45:] + good + b"data: [DONE]\n\n")
    assert parser.invalid_bytes
    decoder = StreamDecoder(SPEC)
    events = [e for d in datas for e in decoder.feed(d)]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["\ufffd\ufffd", "é"]


@settings(max_examples=60)
@given(
    st.binary(min_size=1, max_size=8).filter(lambda b: not _utf8(b)),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_random_invalid_bytes_in_any_chunking_never_end_the_answer(
    junk: bytes, cuts: list[int]
) -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"A'
        + bytes(b for b in junk if b >= 0x20 and b not in b'"\\')
        + b'Z"}}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":"tail"},'
        b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    events = decode(split(body, cuts))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.startswith("A") and text.endswith("Ztail")
    assert events[-1] == Finished("stop", 0)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_truncated_utf8_at_the_very_end_is_replaced() -> None:
    body = 'data: {"choices":[{"index":0,"delta":{"content":"é"}}]}\n\n'.encode()
    parser = SSEParser("P")
    parser.feed(body + b"data: x" + "é".encode()[:1])
    assert parser.flush() == ["x\ufffd"] and parser.invalid_bytes


def test_an_error_event_keeps_the_providers_words() -> None:
    for payload, words in (
        (b"event: error\ndata: upstream overloaded, try later\n\n", "upstream overloaded"),
        (b'event: error\ndata: {"message": "model crashed"}\n\n', "model crashed"),
        (b'event: error\ndata: {"error": {"message": "boom"}}\n\n', "boom"),
    ):
        try:
            decode([b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n', payload])
        except ParleyError as err:
            assert err.provider_message is not None and words in err.provider_message
            assert err.partial
        else:
            raise AssertionError("an error event was ignored")


def test_bom_and_last_event_without_blank_line() -> None:
    body = (
        b'\xef\xbb\xbfdata: {"choices":[{"index":0,"delta":{"content":"a"},'
        b'"finish_reason":"stop"}]}'
    )
    assert decode([body]) == [TextDelta("a", 0), Finished("stop", 0)]


def test_unframed_body_is_kept_only_when_no_event_came() -> None:
    parser = SSEParser("P")
    assert parser.feed(b'{"error": "no') == []
    assert parser.feed(b'pe"}') == []
    parser.flush()
    assert parser.unframed == '{"error": "nope"}'
    framed = SSEParser("P")
    framed.feed(b"data: x\n\n")
    assert framed.unframed is None

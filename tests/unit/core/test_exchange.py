"""The exchange record: lines split from chunks as they arrived, the raw cap, redaction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.core.protocol.exchange import Attempt, Exchange, ExchangeRecord, split_lines

KEY = "sk-live-0123456789abcdefghijklmnop"


def test_a_line_is_timed_by_the_chunk_that_ended_it() -> None:
    chunks = [
        (1.000, b'data: {"a"'),
        (1.010, b": 1}\n\n: keep-alive\r\n"),
        (1.020, b"data: [DONE]"),
    ]
    lines = split_lines(chunks, t0=0.990)
    assert [(round(ln.offset_ms, 3), ln.text) for ln in lines] == [
        (20.0, 'data: {"a": 1}'),
        (20.0, ": keep-alive"),
        (30.0, "data: [DONE]"),
    ]


def test_invalid_utf8_is_replaced_and_a_split_character_is_kept_whole() -> None:
    snow = "☃".encode()
    chunks = [(0.0, b"data: " + snow[:1]), (0.0, snow[1:] + b"\xff\n")]
    (line,) = split_lines(chunks, t0=0.0)
    assert line.text == "data: ☃\ufffd"


@given(st.lists(st.text(alphabet="ab\n\r:", max_size=12), max_size=12))
def test_lines_do_not_depend_on_how_the_body_was_chunked(pieces: list[str]) -> None:
    body = "".join(pieces).encode()
    whole = [ln.text for ln in split_lines([(0.0, body)], 0.0)]
    chunked = [ln.text for ln in split_lines([(0.0, p.encode()) for p in pieces], 0.0)]
    assert chunked == whole
    assert whole == [
        ln for ln in body.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln
    ]


def test_the_raw_stream_is_capped_and_says_so() -> None:
    exchange = Exchange(limit=100)
    attempt = exchange.begin("POST", "http://h/v1/chat/completions", {})
    for _ in range(30):
        attempt.chunk(b"data: 12\n")  # 9 bytes each
    assert attempt.truncated and attempt.size == 100
    assert sum(len(d) for _, d in attempt.chunks) == 100
    record = attempt.to_dict()
    assert record["truncated"] is True and len(record["events"]) == 12  # 11 whole + a cut one
    # A second attempt shares what is left of the answer's limit.
    assert exchange.begin("POST", "http://h", {}).limit == 0


def test_records_redact_an_echoed_key_but_not_our_own_url() -> None:
    exchange = Exchange(secrets=[KEY])
    attempt = exchange.begin(
        "POST", "http://h/v1/chat/completions", {"X-API-Key": "[key redacted]"}
    )
    attempt.response(401, [("x-echo", KEY[:12] + "…")])
    attempt.chunk(f'{{"error": "key {KEY} is not valid"}}'.encode())
    attempt.end({"kind": "auth"})
    (record,) = exchange.to_records()
    assert KEY not in str(record) and KEY[:12] not in str(record)
    assert record["url"] == "http://h/v1/chat/completions" and record["status"] == 401
    back = ExchangeRecord.from_dict(record)
    assert back.to_dict() == {**record, "events": [list(e) for e in record["events"]]}


def test_a_stored_record_of_the_wrong_shape_reads_as_empty_not_an_error() -> None:
    record = ExchangeRecord.from_dict({"events": [[1, "ok"], "junk", [None, 3]], "status": "x"})
    assert [e.text for e in record.events] == ["ok"] and record.status is None


def test_first_content_line_is_the_data_event_that_carried_it() -> None:
    attempt = Attempt(1, "POST", "u", {}, started_at=0.0, t0=0.0)
    attempt.chunk(b'data: {"role":"assistant"}\n\ndata: {"content":"Hi"}\n\n')
    attempt.first_content_at = attempt.last_chunk_at
    attempt.first_content_event = 1
    record = ExchangeRecord.from_dict(attempt.to_dict())
    assert record.first_content_line == 1

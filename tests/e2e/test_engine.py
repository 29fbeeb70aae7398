"""Engine.run end to end through the provider emulator (real loopback sockets).

Every provider x streamed/non-streamed x fault, asserting what the user gets: the text (also the
part kept when a stream breaks), the error kind and message, and how often it was retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.core.chat.prepared import prepare
from parley.core.chat.result import ChatResult
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import Event, Meta, Retrying, TextDelta
from parley.core.protocol.exchange import Exchange
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import ProviderSpec, load_catalog
from parley.net.engine import Engine, RetryPolicy
from tests.helpers.emulator import Behavior, Emulator

CATALOG = load_catalog()
# emulator route -> provider file
PROVIDERS = {
    "euri": "euri",
    "eurouter": "eurouter",
    "eigenai": "eigenai",
    "nordlys": "nordlys",
    "adaptive-engine": "adaptive-engine",
    "openai": "openai-compatible",
}
ALL = list(PROVIDERS)
TEXT = "Hello from the emulator: a reply long enough for several chunks."
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.5)


def spec_for(route: str) -> ProviderSpec:
    spec = CATALOG.get(PROVIDERS[route])
    assert spec is not None
    return spec


@dataclass
class Outcome:
    result: ChatResult
    events: list[Event] = field(default_factory=list)
    error: ParleyError | None = None
    exchange: Exchange = field(default_factory=Exchange)

    @property
    def retries(self) -> list[Retrying]:
        return [e for e in self.events if isinstance(e, Retrying)]


async def chat(
    engine: Engine,
    emu: Emulator,
    route: str,
    *,
    stream: bool = True,
    key: str | None = None,
    text: str = "Hello there",
    params: dict[str, object] | None = None,
    advanced: dict[str, object] | None = None,
    base_url: str | None = None,
) -> Outcome:
    spec = spec_for(route)
    model = "proj/m1" if route == "adaptive-engine" else "m1"
    request = ChatRequest(
        provider=spec.id,
        model=model,
        messages=[Message(role="user", content=text)],
        stream=stream,
        base_url=base_url or emu.base_url(route),
        params=params or {},
        advanced=advanced or {},
    )
    out = Outcome(ChatResult(spec.id, model))
    out.result.mark_started()
    try:
        prepared = prepare(spec, request, key or emu.key(route))
        async with contextlib.aclosing(engine.send(prepared, out.exchange)) as events:
            async for event in events:
                out.events.append(event)
                out.result.apply(event)
    except ParleyError as err:
        out.error = err
        out.result.mark_failed(err)
    return out


def run_one(
    emu: Emulator,
    route: str,
    behavior: Behavior | None = None,
    *,
    engine_kw: dict[str, object] | None = None,
    **kw: object,
) -> Outcome:
    if behavior is not None:
        emu.push(behavior, provider=route)

    async def scenario() -> Outcome:
        options: dict[str, object] = {"retry": FAST_RETRY, "read_timeout": 5.0, **(engine_kw or {})}
        engine = Engine(**options)  # type: ignore[arg-type]
        try:
            return await chat(engine, emu, route, **kw)  # type: ignore[arg-type]
        finally:
            await engine.aclose()

    return asyncio.run(scenario())


# --------------------------------------------------------------------------- healthy replies


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("route", ALL)
def test_healthy_reply(emu: Emulator, route: str, stream: bool) -> None:
    out = run_one(emu, route, Behavior(text=TEXT), stream=stream)
    assert out.error is None
    r = out.result
    assert r.status == "complete"
    assert r.text == TEXT
    assert r.finish_reason == "stop"
    assert not out.retries
    assert isinstance(out.events[0], Meta)  # headers first
    if stream:
        assert sum(isinstance(e, TextDelta) for e in out.events) > 5
    m = r.metrics
    assert m.ttft_ms is not None and m.ttft_ms >= 0 and m.total_ms is not None
    if r.usage is not None:
        assert r.usage.completion_tokens and r.usage.completion_tokens > 0
        assert not m.estimated


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("route", ALL)
def test_reasoning_reply(emu: Emulator, route: str, stream: bool) -> None:
    # Adaptive Engine has no reasoning field: the emulator inlines <think> tags there.
    out = run_one(emu, route, Behavior(text=TEXT, reasoning="Let me think."), stream=stream)
    assert out.error is None
    assert out.result.reasoning == "Let me think."
    assert out.result.text == TEXT


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("route", ["euri", "eurouter", "eigenai", "nordlys", "openai"])
def test_tool_calls_assembled(emu: Emulator, route: str, stream: bool) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}},
        {"name": "get_time", "arguments": {"zone": "Europe/Oslo"}},
    ]
    out = run_one(emu, route, Behavior(tool_calls=calls, chunk_chars=3), stream=stream)
    assert out.error is None
    got = out.result.tool_calls
    assert [c.name for c in got] == ["get_weather", "get_time"]
    assert [json.loads(c.arguments) for c in got] == [c["arguments"] for c in calls]
    assert all(c.id for c in got)
    assert out.result.finish_reason == "tool_calls"


def test_eurouter_routing_comes_from_response_headers(emu: Emulator) -> None:
    out = run_one(
        emu, "eurouter", Behavior(text=TEXT, model="mistral-large", provider_name="mistral")
    )
    meta = out.result.meta
    assert meta.model == "mistral-large" and meta.routed_provider == "mistral"
    assert meta.headers["x-routing-strategy"] == "price"
    assert "authorization" not in meta.headers


def test_nordlys_provider_field_and_usage(emu: Emulator) -> None:
    out = run_one(emu, "nordlys", Behavior(text=TEXT, provider_name="anthropic", model="claude-x"))
    assert out.result.meta.routed_provider == "anthropic"
    assert out.result.model_used == "claude-x"
    assert out.result.usage is not None and out.result.usage.prompt_tokens


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_adaptive_engine_session_and_completion_ids(emu: Emulator, stream: bool) -> None:
    out = run_one(emu, "adaptive-engine", Behavior(text=TEXT), stream=stream)
    assert out.error is None
    assert out.result.meta.session_id
    assert out.result.choices[0].completion_id


def test_n_choices_kept_apart(emu: Emulator) -> None:
    out = run_one(emu, "openai", Behavior(text=TEXT), params={"n": 2})
    if out.error is not None and out.error.kind is ErrorKind.CONFIG:
        pytest.skip("the provider file has no n parameter")
    assert out.error is None
    assert set(out.result.choices) == {0, 1}
    assert all(c.finished for c in out.result.choices.values())


def test_the_exchange_records_every_line_and_no_key(emu: Emulator) -> None:
    out = run_one(emu, "nordlys", Behavior(text=TEXT))
    (attempt,) = out.exchange.attempts
    lines = attempt.lines()
    assert lines and lines[-1].text == "data: [DONE]"
    assert attempt.status == 200 and attempt.request_headers["X-API-Key"] == "[key redacted]"
    assert all(emu.key("nordlys") not in ln.text for ln in lines)
    offsets = [ln.offset_ms for ln in lines]
    assert offsets == sorted(offsets) and offsets[0] > 0
    assert attempt.first_content_ms is not None and attempt.first_content_ms >= offsets[0]
    out = run_one(emu, "nordlys", Behavior(text=TEXT), stream=False)
    (attempt,) = out.exchange.attempts
    (line,) = attempt.lines()
    assert json.loads(line.text)["choices"] and attempt.first_content_ms == line.offset_ms


def test_logprobs_arrive_per_token(emu: Emulator) -> None:
    out = run_one(
        emu, "openai", Behavior(text=TEXT), advanced={"logprobs": True, "top_logprobs": 2}
    )
    assert out.error is None
    logprobs = out.result.choices[0].logprobs
    assert "".join(t.token for t in logprobs) == TEXT
    assert all(len(t.top) == 2 for t in logprobs)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_a_json_reply_to_a_streamed_request_and_vice_versa(emu: Emulator, stream: bool) -> None:
    # Some servers ignore `stream`; the answer is read by what the reply is, not what was asked.
    if stream:
        body: object = {
            "choices": [{"index": 0, "message": {"content": "plain"}, "finish_reason": "stop"}]
        }
        emu.push(Behavior(body=body), provider="openai")
        out = run_one(emu, "openai", stream=True)
    else:
        sse = (
            'data: {"choices":[{"index":0,"delta":{"content":"pla"}}]}\n\n'
            'data: {"choices":[{"index":0,"delta":{"content":"in"},"finish_reason":"stop"}]}\n\n'
            "data: [DONE]\n\n"
        )
        emu.push(Behavior(body=sse, headers={"content-type": "text/event-stream"}), "openai")
        out = run_one(emu, "openai", stream=False)
    assert out.error is None, str(out.error)
    assert out.result.text == "plain" and out.result.status == "complete"


def test_a_json_error_under_an_event_stream_content_type_is_reported(emu: Emulator) -> None:
    emu.push(
        Behavior(
            body={"error": {"message": "wallet empty", "type": "invalid_request_error"}},
            headers={"content-type": "text/event-stream"},
        ),
        provider="openai",
    )
    out = run_one(emu, "openai")
    assert out.error is not None and out.error.provider_message == "wallet empty"
    assert out.error.kind is ErrorKind.BAD_REQUEST and not out.retries


def test_requests_go_through_the_configured_proxy(emu: Emulator) -> None:
    out = run_one(
        emu,
        "nordlys",
        Behavior(text=TEXT),
        base_url="http://provider.invalid/nordlys/v1",
        engine_kw={"proxy": f"http://127.0.0.1:{emu.port}"},
    )
    assert out.error is None and out.result.text == TEXT
    (seen,) = emu.chat_requests("nordlys")
    assert seen.path == "http://provider.invalid/nordlys/v1/chat/completions"


# --------------------------------------------------------------------------- HTTP errors

# status -> (kind per route, or one kind for all)
STATUS_KINDS: dict[int, ErrorKind | dict[str, ErrorKind]] = {
    400: ErrorKind.BAD_REQUEST,
    402: ErrorKind.BUDGET,
    403: {r: (ErrorKind.QUOTA if r == "euri" else ErrorKind.FORBIDDEN) for r in ALL},
    404: ErrorKind.BAD_REQUEST,
    413: ErrorKind.BAD_REQUEST,
    422: ErrorKind.BAD_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.SERVER,
    503: ErrorKind.SERVER,
}
RETRIED = {429, 500, 503}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("status", list(STATUS_KINDS))
@pytest.mark.parametrize("route", ALL)
def test_http_error_statuses(emu: Emulator, route: str, status: int, stream: bool) -> None:
    kinds = STATUS_KINDS[status]
    kind = kinds[route] if isinstance(kinds, dict) else kinds
    # Retryable errors are repeated on every attempt, so the retries run out and it fails.
    out = run_one(emu, route, Behavior(status=status, repeat=3), stream=stream)
    assert out.error is not None
    assert out.error.kind is kind, (out.error.kind, str(out.error))
    assert out.error.status == status
    assert spec_for(route).name in out.error.message
    assert out.error.provider_message  # the provider's own words are passed on
    assert out.result.status == "failed" and out.result.text == ""
    expected_attempts = 3 if status in RETRIED else 1
    assert len(out.retries) == expected_attempts - 1
    assert len(emu.chat_requests(route)) == expected_attempts


def test_retry_after_as_an_http_date(emu: Emulator) -> None:
    when = email.utils.formatdate(time.time() + 1, usegmt=True)
    out = run_one(emu, "eurouter", Behavior(status=503, headers={"Retry-After": when}))
    assert out.error is None
    assert len(out.retries) == 1 and 0.0 <= out.retries[0].delay <= 1.0
    assert out.retries[0].error.kind is ErrorKind.SERVER


@pytest.mark.parametrize("route", ALL)
def test_retry_then_success_honours_retry_after(emu: Emulator, route: str) -> None:
    out = run_one(emu, route, Behavior(status=429, headers={"Retry-After": "0.2"}))
    assert out.error is None and out.result.status == "complete"
    assert [r.delay for r in out.retries] == [0.2]
    assert out.retries[0].error.kind is ErrorKind.RATE_LIMIT
    reqs = emu.chat_requests(route)
    assert len(reqs) == 2 and reqs[1].t - reqs[0].t >= 0.19


def test_retry_after_is_capped(emu: Emulator) -> None:
    out = run_one(emu, "euri", Behavior(status=503, headers={"Retry-After": "3600"}))
    assert out.error is None
    assert [r.delay for r in out.retries] == [FAST_RETRY.max_delay]


@pytest.mark.parametrize("route", ALL)
def test_wrong_key_is_auth_and_never_echoed(emu: Emulator, route: str) -> None:
    emu.echo_full_key = True
    wrong = "sk-wrong-0123456789abcdefghij"
    out = run_one(emu, route, key=wrong)
    assert out.error is not None and out.error.kind is ErrorKind.AUTH
    assert out.error.message == f"The key for {spec_for(route).name} was refused. Check it in Keys."
    dumped = json.dumps(out.result.to_dict()) + str(out.error) + repr(out.error)
    assert wrong[:8] not in dumped and wrong[-8:] not in dumped
    assert not out.retries


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("route", ALL)
def test_html_gateway_page(emu: Emulator, route: str, stream: bool) -> None:
    out = run_one(emu, route, Behavior(html_error=True, repeat=3), stream=stream)
    assert out.error is not None and out.error.kind is ErrorKind.SERVER
    said = out.error.provider_message or ""
    assert said and "<" not in said and ">" not in said
    assert len(out.retries) == 2


# --------------------------------------------------------------------------- stream faults


@dataclass(frozen=True)
class Fault:
    name: str
    behavior: Behavior
    kinds: tuple[ErrorKind, ...] | None  # None: the answer completes
    partial: bool = False
    retries: int = 0
    engine_kw: dict[str, object] = field(default_factory=dict)


STREAM_FAULTS = [
    Fault("malformed", Behavior(text=TEXT, malformed_after=3), (ErrorKind.PROTOCOL,), True),
    Fault("disconnect", Behavior(text=TEXT, disconnect_after=4), (ErrorKind.NETWORK,), True),
    Fault(
        "in_stream_error",
        Behavior(text=TEXT, in_stream_error_after=4, message="upstream fell over"),
        (ErrorKind.SERVER, ErrorKind.PROTOCOL),
        True,
    ),
    Fault("no_done", Behavior(text=TEXT, no_done=True), (ErrorKind.PROTOCOL,), True),
    Fault("no_finish_reason_but_done", Behavior(text=TEXT, no_finish=True), None),
    Fault("huge_chunk", Behavior(text=TEXT, huge_chunk=2_000_000), None),
    Fault("comments_and_crlf", Behavior(text=TEXT, sse_comments=True, crlf=True), None),
    Fault(
        "pause_mid_stream",
        Behavior(text=TEXT, pause_after=3, pause=0.4),
        None,
        engine_kw={"read_timeout": 1.5},
    ),
    Fault(
        "stall_mid_stream",
        Behavior(text=TEXT, pause_after=3, pause=1.0),
        (ErrorKind.TIMEOUT,),
        True,
        engine_kw={"read_timeout": 0.2},
    ),
    Fault(
        "slow_first_byte",
        Behavior(text=TEXT, first_byte_delay=1.5),
        None,
        retries=1,
        # Generous enough that the healthy second attempt never times out on a busy machine.
        engine_kw={"read_timeout": 0.6},
    ),
    Fault(
        "slow_first_byte_always",
        Behavior(text=TEXT, first_byte_delay=0.6, repeat=3),
        (ErrorKind.TIMEOUT,),
        retries=2,
        engine_kw={"read_timeout": 0.2},
    ),
]


@pytest.mark.parametrize("fault", STREAM_FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize("route", ALL)
def test_stream_faults(emu: Emulator, route: str, fault: Fault) -> None:
    if fault.retries and fault.kinds is None:
        emu.push(fault.behavior, provider=route)
        fault = Fault(fault.name, Behavior(text=TEXT), None, retries=1, engine_kw=fault.engine_kw)
    out = run_one(emu, route, fault.behavior, engine_kw=fault.engine_kw)
    r = out.result
    assert len(out.retries) == fault.retries
    if fault.kinds is None:
        assert out.error is None, str(out.error)
        assert r.status == "complete"
        assert r.text.endswith(TEXT)
        if fault.behavior.huge_chunk:
            assert len(r.text) == fault.behavior.huge_chunk + len(TEXT)
        return
    assert out.error is not None
    assert out.error.kind in fault.kinds, (out.error.kind, str(out.error))
    assert spec_for(route).name in out.error.message
    assert r.status == "failed"
    assert out.error.partial is fault.partial
    if fault.partial:
        assert r.text and TEXT.startswith(r.text)  # what arrived is kept
        assert "kept" in out.error.message
        assert not out.retries  # never retried once tokens arrived
    if fault.name == "in_stream_error":
        assert out.error.provider_message == "upstream fell over"


JSON_FAULTS = [
    Fault("malformed", Behavior(text=TEXT, malformed_after=1), (ErrorKind.PROTOCOL,)),
    Fault("disconnect_retried", Behavior(text=TEXT, disconnect_after=1), None, retries=1),
    Fault(
        "disconnect_always",
        Behavior(text=TEXT, disconnect_after=1, repeat=3),
        (ErrorKind.NETWORK,),
        retries=2,
    ),
    Fault("huge", Behavior(text=TEXT, huge_chunk=2_000_000), None),
    Fault(
        "slow_first_byte",
        Behavior(text=TEXT, first_byte_delay=1.5),
        None,
        retries=1,
        # Generous enough that the healthy second attempt never times out on a busy machine.
        engine_kw={"read_timeout": 0.6},
    ),
]


@pytest.mark.parametrize("fault", JSON_FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize("route", ALL)
def test_non_streamed_faults(emu: Emulator, route: str, fault: Fault) -> None:
    if fault.retries and fault.kinds is None:
        emu.push(fault.behavior, provider=route)
        fault = Fault(fault.name, Behavior(text=TEXT), None, retries=1, engine_kw=fault.engine_kw)
    out = run_one(emu, route, fault.behavior, engine_kw=fault.engine_kw, stream=False)
    assert len(out.retries) == fault.retries
    if fault.kinds is None:
        assert out.error is None, str(out.error)
        assert out.result.text.endswith(TEXT)
        return
    assert out.error is not None and out.error.kind in fault.kinds
    assert spec_for(route).name in out.error.message
    assert out.result.text == ""


# --------------------------------------------------------------------------- transport errors


def test_connection_refused_is_network_error_naming_host() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = spec_for("openai")

    async def scenario() -> ParleyError:
        engine = Engine(retry=RetryPolicy(max_attempts=2, base_delay=0.01))
        request = ChatRequest(
            provider=spec.id,
            model="m",
            messages=[Message(role="user", content="hi")],
            base_url=f"http://127.0.0.1:{port}/v1",
        )
        events: list[Event] = []
        try:
            async with contextlib.aclosing(engine.run(spec, request, "sk-test-key-123456")) as it:
                async for ev in it:
                    events.append(ev)
        except ParleyError as err:
            assert sum(isinstance(e, Retrying) for e in events) == 1
            return err
        finally:
            await engine.aclose()
        raise AssertionError("no error")

    err = asyncio.run(scenario())
    assert err.kind is ErrorKind.NETWORK
    assert f"127.0.0.1:{port}" in err.message and "refused" in err.message


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    ctype=st.sampled_from(["text/event-stream", "application/json", "text/plain"]),
    stream=st.booleans(),
)
def test_arbitrary_reply_bodies_give_events_or_a_parley_error(
    emulator: Emulator, body: bytes, ctype: str, stream: bool
) -> None:
    emulator.clear()
    emulator.push(Behavior(body=body, headers={"content-type": ctype}, repeat=3), "openai")
    out = run_one(emulator, "openai", stream=stream)  # raises anything but ParleyError
    if out.error is None:
        assert out.result.status == "complete"
    else:
        assert out.error.message and out.result.status == "failed"
    emulator.clear()


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_a_login_page_with_status_200_is_named_as_such(emu: Emulator, stream: bool) -> None:
    page = "<html><head><title>Sign in</title></head><body><h1>Hotel Wi-Fi</h1></body></html>"
    emu.push(Behavior(body=page, headers={"content-type": "text/html"}), "openai")
    out = run_one(emu, "openai", stream=stream)
    assert out.error is not None and out.error.kind is ErrorKind.PROTOCOL
    assert "web page" in out.error.message
    assert out.error.provider_message == "Sign in: Hotel Wi-Fi"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("route", ALL)
def test_invalid_utf8_is_replaced_and_the_answer_is_marked_not_lost(
    emu: Emulator, route: str, stream: bool
) -> None:
    out = run_one(emu, route, Behavior(text=TEXT, invalid_utf8=True), stream=stream)
    assert out.error is None, str(out.error)
    assert out.result.status == "complete" and "\ufffd" in out.result.text
    words = out.result.text.replace("\ufffd", "")
    assert all(word in words for word in TEXT.split()[-3:])  # what came after is kept
    assert out.result.meta.invalid_bytes is True
    assert out.result.to_dict()["meta"]["invalid_bytes"] is True

"""The provider emulator, driven by plain httpx over real loopback sockets."""

from __future__ import annotations

import json
import math
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.emulator import Behavior, Emulator

REPO = Path(__file__).resolve().parents[3]
OPENAI_STYLE = ["euri", "eurouter", "eigenai", "nordlys", "openai"]
ALL = [*OPENAI_STYLE, "adaptive-engine"]
# Building httpx's default TLS context costs ~0.15 s; every client here shares one.
TLS = ssl.create_default_context()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator
        assert emulator.errors == []


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, verify=TLS) as c:
        yield c


def auth(emu: Emulator, provider: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.key(provider)}"}


def body(stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "model": "emu-model",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": stream,
        **extra,
    }


def post(
    client: httpx.Client,
    emu: Emulator,
    provider: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        f"{emu.base_url(provider)}/chat/completions",
        json=payload,
        headers=auth(emu, provider) if headers is None else headers,
    )


def data_lines(raw: bytes | str) -> list[str]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def chunks(raw: bytes | str) -> list[dict[str, Any]]:
    return [json.loads(d) for d in data_lines(raw) if d != "[DONE]"]


def content_of(events: list[dict[str, Any]], field: str = "content", choice: int = 0) -> str:
    out = []
    for ev in events:
        for ch in ev.get("choices") or []:
            if ch.get("index") == choice and ch["delta"].get(field):
                out.append(ch["delta"][field])
    return "".join(out)


def finish_reasons(events: list[dict[str, Any]]) -> list[str]:
    return [
        ch["finish_reason"]
        for ev in events
        for ch in ev.get("choices") or []
        if ch.get("finish_reason")
    ]


# --- dialects ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ALL)
def test_each_dialect_streams_the_default_reply(
    emu: Emulator, client: httpx.Client, provider: str
) -> None:
    r = post(client, emu, provider, body())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["transfer-encoding"] == "chunked"
    lines = data_lines(r.text)
    assert lines[-1] == "[DONE]"
    events = chunks(r.text)
    text = content_of(events)
    assert text.startswith("You said: hello\n")
    assert "```python" in text
    assert finish_reasons(events) == ["stop"]


def test_euri_chunks_carry_only_id_and_choices(emu: Emulator, client: httpx.Client) -> None:
    events = chunks(post(client, emu, "euri", body()).text)
    assert all(set(ev) == {"id", "choices"} for ev in events)
    assert "finish_reason" not in events[1]["choices"][0]


def test_eurouter_routing_headers_and_reasoning_delta(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(reasoning="thinking it over", model="mistral/mistral-large"))
    r = post(client, emu, "eurouter", body())
    for name in (
        "x-provider-id",
        "x-provider-slug",
        "x-routing-strategy",
        "x-model-used",
        "x-model-variant",
        "x-fallback-count",
        "x-model-fallback-count",
        "x-request-id",
    ):
        assert r.headers.get(name), name
    assert r.headers["x-model-used"] == "mistral/mistral-large"
    assert r.headers["x-provider-slug"] == "mistral"
    assert content_of(chunks(r.text), "reasoning") == "thinking it over"


def test_nordlys_reports_provider_and_routed_model(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(model="claude-opus-4-5", reasoning="hmm"))
    events = chunks(post(client, emu, "nordlys", body(model="")).text)
    assert {ev["provider"] for ev in events} == {"anthropic"}
    assert {ev["model"] for ev in events} == {"claude-opus-4-5"}
    assert content_of(events, "reasoning_content") == "hmm"


@pytest.mark.parametrize(
    ("provider", "field"),
    [
        ("eigenai", "reasoning_content"),
        ("openai", "reasoning_content"),
        ("euri", "reasoning_content"),
    ],
)
def test_reasoning_delta_field(
    emu: Emulator, client: httpx.Client, provider: str, field: str
) -> None:
    emu.push(Behavior(reasoning="step one, step two"))
    events = chunks(post(client, emu, provider, body()).text)
    assert content_of(events, field) == "step one, step two"
    assert "step one" not in content_of(events)


@pytest.mark.parametrize("provider", ["openai", "adaptive-engine"])
def test_think_tags_put_reasoning_inline(
    emu: Emulator, client: httpx.Client, provider: str
) -> None:
    emu.push(Behavior(reasoning="let me think", text="Answer.", think_tags=True))
    text = content_of(chunks(post(client, emu, provider, body()).text))
    assert text == "<think>let me think</think>\n\nAnswer."


def test_adaptive_stream_shape_metrics_and_session(emu: Emulator, client: httpx.Client) -> None:
    session = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    payload = body(model="proj/model-a", session_id=session, stream_options={"include_usage": True})
    events = chunks(post(client, emu, "adaptive-engine", payload).text)
    metrics = [ev for ev in events if "choices" not in ev]
    assert any("TTFT" in ev for ev in metrics)
    assert any(ev.get("finish_reason") == "stop" and "TotalRequestDuration" in ev for ev in metrics)
    real = [ev for ev in events if "choices" in ev]
    assert {ev["session_id"] for ev in real} == {session}
    for ev in real:
        assert "object" not in ev and "model" not in ev
    with_choices = [ev for ev in real if ev["choices"]]
    delta = with_choices[1]["choices"][0]
    assert set(delta["delta"]) == {"id", "role", "content"}
    assert delta["completion_id"]
    assert real[-1]["choices"] is None
    assert real[-1]["usage"]["completion_tokens"] > 0


def test_adaptive_non_stream_has_per_choice_model_and_new_session(
    emu: Emulator, client: httpx.Client
) -> None:
    r = post(client, emu, "adaptive-engine", body(stream=False, model="proj/model-a"))
    data = r.json()
    assert "object" not in data and "model" not in data
    choice = data["choices"][0]
    assert choice["model"] == "model-a"
    assert choice["message"]["id"] and choice["completion_id"]
    assert choice["message"]["content"].startswith("You said: hello")
    assert len(data["session_id"]) == 36
    again = post(client, emu, "adaptive-engine", body(stream=False, model="proj")).json()
    assert again["session_id"] != data["session_id"]


@pytest.mark.parametrize("provider", OPENAI_STYLE)
def test_non_streamed_openai_shapes(emu: Emulator, client: httpx.Client, provider: str) -> None:
    emu.push(Behavior(text="Plain answer.", reasoning="why" if provider != "euri" else None))
    r = post(client, emu, provider, body(stream=False))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    data = r.json()
    assert data["object"] == "chat.completion"
    message = data["choices"][0]["message"]
    assert message["content"] == "Plain answer."
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["total_tokens"] == (
        data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )
    if provider == "eurouter":
        assert message["reasoning"] == "why"
    elif provider != "euri":
        assert message["reasoning_content"] == "why"
    if provider == "nordlys":
        assert data["provider"] == "openai"


@pytest.mark.parametrize("provider", ["eurouter", "nordlys", "eigenai", "openai"])
def test_usage_chunk_only_when_asked(emu: Emulator, client: httpx.Client, provider: str) -> None:
    emu.push(Behavior(reasoning="abcdefgh", cached_tokens=7))
    with_usage = chunks(
        post(client, emu, provider, body(stream_options={"include_usage": True})).text
    )
    usage = with_usage[-1]["usage"]
    assert with_usage[-1]["choices"] == []
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 2
    assert usage["prompt_tokens_details"]["cached_tokens"] == 7
    if provider == "nordlys":
        assert usage["cached_input_tokens"] == 7
    without = chunks(post(client, emu, provider, body()).text)
    assert not any("usage" in ev for ev in without)


def test_n_choices_are_interleaved(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="same text"))
    events = chunks(post(client, emu, "openai", body(n=2)).text)
    indexes = [ev["choices"][0]["index"] for ev in events[:4]]
    assert indexes == [0, 1, 0, 1]
    assert content_of(events, choice=0) == "same text"
    assert content_of(events, choice=1) == "Choice 2: same text"
    assert sorted(finish_reasons(events)) == ["stop", "stop"]


def test_logprobs_when_requested(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="abcdefgh"))
    events = chunks(post(client, emu, "eurouter", body(logprobs=True, top_logprobs=3)).text)
    entries = [
        ev["choices"][0]["logprobs"]["content"][0]
        for ev in events
        if ev["choices"] and ev["choices"][0].get("logprobs")
    ]
    assert [e["token"] for e in entries] == ["abcd", "efgh"]
    assert all(len(e["top_logprobs"]) == 3 and e["logprob"] < 0 for e in entries)
    emu.push(Behavior(text="abcdefgh"))
    data = post(client, emu, "openai", body(stream=False, logprobs=True, top_logprobs=2)).json()
    assert [e["token"] for e in data["choices"][0]["logprobs"]["content"]] == ["abcd", "efgh"]


def test_tool_calls_stream_as_deltas(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    events = chunks(post(client, emu, "nordlys", body()).text)
    calls = [tc for ev in events for tc in ev["choices"][0]["delta"].get("tool_calls", [])]
    assert calls[0]["id"] and calls[0]["function"]["name"] == "get_weather"
    assert len(calls) > 2
    arguments = "".join(tc["function"]["arguments"] for tc in calls)
    assert json.loads(arguments) == {"city": "Oslo"}
    assert finish_reasons(events) == ["tool_calls"]
    assert content_of(events) == ""
    emu.push(Behavior(tool_calls=[{"name": "f", "arguments": "{}"}]))
    data = post(client, emu, "openai", body(stream=False)).json()
    assert data["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "f"
    assert data["choices"][0]["finish_reason"] == "tool_calls"


def test_json_reply_for_response_format(emu: Emulator, client: httpx.Client) -> None:
    text = content_of(
        chunks(post(client, emu, "euri", body(response_format={"type": "json_object"})).text)
    )
    assert json.loads(text)["ok"] is True
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    data = post(client, emu, "openai", body(stream=False, response_format=fmt)).json()
    assert json.loads(data["choices"][0]["message"]["content"]) == {"name": "example", "age": 1}
    emu.push(Behavior(json_reply={"x": [1, 2]}))
    assert json.loads(content_of(chunks(post(client, emu, "openai", body()).text))) == {"x": [1, 2]}


def test_refusal(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(refusal="I can't help with that."))
    events = chunks(post(client, emu, "openai", body()).text)
    assert content_of(events, "refusal") == "I can't help with that."
    assert content_of(events) == ""


# --- auth ------------------------------------------------------------------------------------


def test_keys_are_long_and_unique(emu: Emulator) -> None:
    keys = {emu.key(p) for p in ALL}
    assert len(keys) == len(ALL)
    assert all(len(k) >= 24 and p in k for p, k in zip(ALL, [emu.key(p) for p in ALL], strict=True))


@pytest.mark.parametrize(
    ("provider", "check"),
    [
        ("euri", lambda b: b["error"]["code"] == "invalid_api_key"),
        ("eurouter", lambda b: b["error"]["code"] == "UNAUTHORIZED" and b["requestId"]),
        ("nordlys", lambda b: b["error"]["type"] == "authentication_error"),
        ("adaptive-engine", lambda b: isinstance(b["error"], str)),
        ("eigenai", lambda b: b["code"] == 401 and b["object"] == "error"),
        ("openai", lambda b: b["error"]["code"] == "invalid_api_key"),
    ],
)
def test_wrong_key_gets_the_dialect_401(
    emu: Emulator, client: httpx.Client, provider: str, check: Any
) -> None:
    wrong = "abc12-this-is-the-wrong-key"
    r = post(client, emu, provider, body(), {"Authorization": f"Bearer {wrong}"})
    assert r.status_code == 401
    assert check(r.json())
    assert "abc12***" in r.text
    assert wrong not in r.text
    missing = post(client, emu, provider, body(), {})
    assert missing.status_code == 401
    assert check(missing.json())
    assert emu.chat_requests(provider)[-1].headers.get("authorization") is None


def test_echo_full_key_option(client: httpx.Client) -> None:
    with Emulator(echo_full_key=True) as emu:
        r = post(client, emu, "euri", body(), {"Authorization": "Bearer sk-secret-value-1234"})
        assert "sk-secret-value-1234" in r.json()["error"]["message"]


def test_alternative_auth_headers(emu: Emulator, client: httpx.Client) -> None:
    nordlys = {"X-API-Key": emu.key("nordlys")}
    assert post(client, emu, "nordlys", body(), nordlys).status_code == 200
    assert post(client, emu, "nordlys", body(), auth(emu, "nordlys")).status_code == 200
    eurouter = {"x-api-key": emu.key("eurouter")}
    assert post(client, emu, "eurouter", body(), eurouter).status_code == 200
    assert post(client, emu, "euri", body(), {"X-API-Key": emu.key("euri")}).status_code == 401
    assert post(client, emu, "euri", body(), auth(emu, "eurouter")).status_code == 401
    assert post(client, emu, "ollama", body(), {}).status_code == 200
    assert post(client, emu, "openai-compatible", body(), {}).status_code == 401
    assert post(client, emu, "openai-compatible", body()).status_code == 200


# --- models ------------------------------------------------------------------------------------


def test_model_listings(emu: Emulator, client: httpx.Client) -> None:
    def get(provider: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return client.get(
            f"{emu.base_url(provider)}/models",
            headers=auth(emu, provider) if headers is None else headers,
        )

    eurouter = get("eurouter", {}).json()["data"]
    assert all(isinstance(m["pricing"]["prompt"], str) for m in eurouter)
    assert all(m["context_length"] and m["supported_parameters"] for m in eurouter)
    nordlys = get("nordlys", {"X-API-Key": emu.key("nordlys")}).json()
    assert isinstance(nordlys, list)
    pricing_keys = {k for m in nordlys for k in m["pricing"]}
    assert {"prompt", "prompt_cost"} <= pricing_keys
    assert get("nordlys", {}).status_code == 401
    euri = get("euri").json()["data"]
    assert {m["premium"] for m in euri} == {True, False}
    assert get("euri", {}).status_code == 401
    assert all("id" in m for m in get("openai").json()["data"])
    assert get("eigenai").status_code == 404
    assert get("adaptive-engine").status_code == 404
    assert get("ollama", {}).status_code == 200
    emu.set_models("openai", {"data": [{"id": "custom"}]})
    assert get("openai").json() == {"data": [{"id": "custom"}]}


# --- errors and faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "status", "check"),
    [
        ("euri", 403, lambda b: b["error"]["code"] == "token_limit_exceeded"),
        ("eurouter", 402, lambda b: b["error"]["code"] == "INSUFFICIENT_QUOTA"),
        ("nordlys", 429, lambda b: b == {"error": "Rate limit exceeded"}),
        ("nordlys", 500, lambda b: b["error"]["code"] == "completion_failed"),
        ("adaptive-engine", 400, lambda b: isinstance(b["error"], str)),
        ("eigenai", 503, lambda b: b["code"] == 503),
    ],
)
def test_status_replies_use_the_dialect_body(
    emu: Emulator, client: httpx.Client, provider: str, status: int, check: Any
) -> None:
    emu.push(Behavior(status=status, headers={"Retry-After": "2"}))
    r = post(client, emu, provider, body())
    assert r.status_code == status
    assert r.headers["retry-after"] == "2"
    assert check(r.json())


def test_custom_error_body_and_html_error(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(status=500, body="upstream exploded"))
    r = post(client, emu, "openai", body())
    assert (r.status_code, r.text) == (500, "upstream exploded")
    assert r.headers["content-type"].startswith("text/plain")
    emu.push(Behavior(status=400, body={"error": {"message": "bad temperature"}}))
    assert post(client, emu, "openai", body()).json()["error"]["message"] == "bad temperature"
    emu.push(Behavior(html_error=True))
    r = post(client, emu, "eurouter", body())
    assert r.status_code == 502
    assert r.headers["content-type"] == "text/html"
    assert "<h1>502 Bad Gateway</h1>" in r.text


def test_queue_order_repeat_and_provider_scoping(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(status=500, repeat=2), provider="euri")
    emu.push(Behavior(text="global"))
    assert post(client, emu, "openai", body()).status_code == 200  # takes the global one
    statuses = [post(client, emu, "euri", body()).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    emu.default = Behavior(text="fallback")
    assert content_of(chunks(post(client, emu, "euri", body()).text)) == "fallback"
    emu.push(Behavior(status=503))
    assert emu.pending == 1
    emu.clear()
    assert emu.pending == 0 and emu.requests == []


def test_malformed_chunk(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="abcdefgh", malformed_after=2))
    lines = data_lines(post(client, emu, "openai", body()).text)
    assert lines[2] == "{not json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[2])
    emu.push(Behavior(malformed_after=0))
    with pytest.raises(json.JSONDecodeError):
        post(client, emu, "openai", body(stream=False)).json()


def test_disconnect_mid_stream_then_server_still_serves(
    emu: Emulator, client: httpx.Client
) -> None:
    emu.push(Behavior(text="abcdefghijkl", disconnect_after=2))
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST",
            f"{emu.base_url('openai')}/chat/completions",
            json=body(),
            headers=auth(emu, "openai"),
        ) as r,
    ):
        for line in r.iter_lines():
            received.append(line)
    assert len([x for x in received if x.startswith("data: ")]) == 2
    emu.push(Behavior(disconnect_after=1))
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, emu, "openai", body(stream=False))
    assert post(client, emu, "openai", body()).status_code == 200


@pytest.mark.parametrize(
    ("provider", "check", "done"),
    [
        (
            "nordlys",
            lambda e: e["error"]["type"] and "param" in e["error"] and e["provider"],
            False,
        ),
        ("eurouter", lambda e: e["choices"][0]["finish_reason"] == "error" and e["error"], True),
        ("openai", lambda e: e["error"]["message"], False),
        ("adaptive-engine", lambda e: isinstance(e["error"], str), False),
    ],
)
def test_in_stream_error(
    emu: Emulator, client: httpx.Client, provider: str, check: Any, done: bool
) -> None:
    emu.push(Behavior(text="abcdefgh", in_stream_error_after=2, message="quota gone"))
    lines = data_lines(post(client, emu, provider, body()).text)
    error = json.loads(lines[2])
    assert check(error)
    assert "quota gone" in json.dumps(error)
    assert (lines[-1] == "[DONE]") is done
    assert len(lines) == 3 + done


def test_huge_chunk(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="tail", huge_chunk=2_000_000))
    events = chunks(post(client, emu, "eigenai", body()).text)
    sizes = [len(ev["choices"][0]["delta"].get("content", "")) for ev in events]
    assert max(sizes) == 2_000_000
    assert content_of(events).endswith("tail")


def test_invalid_utf8(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="abcdefgh", invalid_utf8=True))
    raw = post(client, emu, "openai", body()).content
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    good = [line for line in raw.split(b"\n") if line.startswith(b"data: ")]
    assert sum(1 for line in good if b"\xff" in line) == 1


def test_no_done_and_no_finish(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="abc", no_done=True))
    lines = data_lines(
        post(client, emu, "openai", body(stream_options={"include_usage": True})).text
    )
    assert "[DONE]" not in lines
    assert finish_reasons(chunks("\n".join(f"data: {x}" for x in lines))) == []
    assert not any("usage" in json.loads(x) for x in lines)
    emu.push(Behavior(text="abc", no_finish=True))
    r = post(client, emu, "openai", body())
    assert data_lines(r.text)[-1] == "[DONE]"
    assert finish_reasons(chunks(r.text)) == []


def test_finish_reason_setting(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="cut", finish_reason="length"))
    assert finish_reasons(chunks(post(client, emu, "openai", body()).text)) == ["length"]
    emu.push(Behavior(text="no", finish_reason="content_filter"))
    data = post(client, emu, "euri", body(stream=False)).json()
    assert data["choices"][0]["finish_reason"] == "content_filter"


def test_sse_comments_and_crlf_are_still_valid_sse(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="abcd", sse_comments=True, crlf=True))
    raw = post(client, emu, "openai", body()).text
    assert ": keep-alive\r\n\r\n" in raw
    assert content_of(chunks(raw.replace("\r\n", "\n"))) == "abcd"


def test_delays_and_pause_slow_the_stream_down(emu: Emulator, client: httpx.Client) -> None:
    emu.push(
        Behavior(text="abcdefgh", first_byte_delay=0.1, chunk_delay=0.02, pause_after=1, pause=0.2)
    )
    start = time.monotonic()
    r = post(client, emu, "openai", body())
    assert time.monotonic() - start >= 0.3
    assert content_of(chunks(r.text)) == "abcdefgh"


# --- connections ----------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(emu: Emulator, client: httpx.Client) -> None:
    for i in range(200):
        r = post(client, emu, "openai", body(stream=i % 2 == 0))
        assert r.status_code == 200
    assert emu.connections_open == 1
    client.close()
    assert emu.wait_idle()


def test_cancelled_streams_do_not_leak(emu: Emulator, client: httpx.Client) -> None:
    emu.default = Behavior(text="x" * 400, chunk_delay=0.01)
    url = f"{emu.base_url('openai')}/chat/completions"
    for _ in range(5):
        with client.stream("POST", url, json=body(), headers=auth(emu, "openai")) as r:
            first = next(r.iter_lines())
            assert first.startswith("data: ")
    assert emu.wait_until(lambda: emu.active_streams == 0)
    assert emu.wait_until(lambda: emu.connections_open <= 1)
    emu.default = Behavior()
    assert post(client, emu, "openai", body()).status_code == 200
    client.close()
    assert emu.wait_idle()


def test_client_vanishing_during_a_long_pause_frees_the_stream(emu: Emulator) -> None:
    emu.push(Behavior(text="abcdefgh", pause_after=1, pause=30))
    with (
        httpx.Client(timeout=10, verify=TLS) as c,
        c.stream(
            "POST",
            f"{emu.base_url('euri')}/chat/completions",
            json=body(),
            headers=auth(emu, "euri"),
        ) as r,
    ):
        assert next(r.iter_lines()).startswith("data: ")
        assert emu.active_streams == 1
    assert emu.wait_until(lambda: emu.active_streams == 0, timeout=3)
    assert emu.wait_idle(timeout=3)


def test_fifty_parallel_streams(emu: Emulator) -> None:
    emu.default = Behavior(chunk_delay=0.005)

    def one(i: int) -> str:
        payload = {"model": "m", "messages": [{"role": "user", "content": f"n{i}"}], "stream": True}
        r = post(shared, emu, "nordlys", payload)
        return content_of(chunks(r.text))

    limits = httpx.Limits(max_connections=60)
    with (
        httpx.Client(timeout=20, limits=limits, verify=TLS) as shared,
        ThreadPoolExecutor(50) as pool,
    ):
        results = list(pool.map(one, range(50)))
    assert all(text.startswith(f"You said: n{i}\n") for i, text in enumerate(results))
    assert emu.wait_idle()


def test_recorded_requests(emu: Emulator, client: httpx.Client) -> None:
    post(
        client, emu, "eurouter", body(temperature=0.3), {**auth(emu, "eurouter"), "X-Org-Id": "o1"}
    )
    client.get(f"{emu.base_url('eurouter')}/models?category=chat")
    first, second = emu.requests
    assert (first.method, first.path, first.provider) == (
        "POST",
        "/eurouter/v1/chat/completions",
        "eurouter",
    )
    assert first.headers["x-org-id"] == "o1"
    assert first.json["temperature"] == 0.3
    assert second.path == "/eurouter/v1/models?category=chat"
    assert second.json is None
    assert first.t <= second.t <= time.monotonic()


def test_bad_requests(emu: Emulator, client: httpx.Client) -> None:
    url = f"{emu.base_url('euri')}/chat/completions"
    r = client.post(url, content=b"{not json", headers=auth(emu, "euri"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = client.post(url, json={"model": "m", "messages": []}, headers=auth(emu, "euri"))
    assert r.status_code == 400
    assert client.get(f"{emu.base_url('euri')}/nowhere").status_code == 404
    assert client.get(url, headers=auth(emu, "euri")).status_code == 405


def test_runs_by_hand() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.emulator", "--port", "0", "--chunk-delay", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        port = int(banner.split("127.0.0.1:")[1].split()[0])
        listing = [proc.stdout.readline() for _ in range(3)]
        assert any("euri" in line and "emu-euri-" in line for line in listing)
        key = Emulator.key("openai")
        r = httpx.post(
            f"http://127.0.0.1:{port}/openai/v1/chat/completions",
            json=body(stream=False),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.json()["choices"][0]["message"]["content"].startswith("You said: hello")
    finally:
        proc.terminate()
        proc.wait(5)


def test_connection_close_delimited_stream(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="abcdefgh", connection_close=True))
    r = post(client, emu, "openai", body())
    assert r.headers["connection"] == "close"
    assert "transfer-encoding" not in r.headers and "content-length" not in r.headers
    assert content_of(chunks(r.text)) == "abcdefgh"
    assert data_lines(r.text)[-1] == "[DONE]"
    emu.push(Behavior(text="whole", connection_close=True))
    r = post(client, emu, "openai", body(stream=False))
    assert r.json()["choices"][0]["message"]["content"] == "whole"
    assert post(client, emu, "openai", body()).status_code == 200


def test_ignore_stream_answers_with_json(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(text="not streamed", ignore_stream=True))
    r = post(client, emu, "eigenai", body())
    assert r.headers["content-type"] == "application/json"
    assert r.json()["choices"][0]["message"]["content"] == "not streamed"


@pytest.mark.parametrize(
    ("provider", "extra", "needle"),
    [
        ("eurouter", {"rule_id": "not-a-uuid"}, "rule_id"),
        ("eurouter", {"reasoning_effort": "high", "reasoning": "high"}, "reasoning"),
        ("eigenai", {"top_k": 101}, "top_k"),
        ("euri", {"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ("euri", {"temperature": 2.5}, "temperature"),
        ("adaptive-engine", {"user": "alice"}, "UUID"),
        ("euri", {"model": None}, "model"),
    ],
)
def test_documented_limits_get_a_400(
    emu: Emulator, client: httpx.Client, provider: str, extra: dict[str, Any], needle: str
) -> None:
    payload = {k: v for k, v in {**body(), **extra}.items() if v is not None}
    r = post(client, emu, provider, payload)
    assert r.status_code == 400
    assert needle in r.text
    with Emulator(validate=False) as lenient:
        assert post(client, lenient, provider, payload).status_code == 200


def test_eurouter_accepts_a_rule_instead_of_a_model(emu: Emulator, client: httpx.Client) -> None:
    payload = {"messages": [{"role": "user", "content": "hi"}], "rule_name": "cheap-eu"}
    r = post(client, emu, "eurouter", payload)
    assert r.status_code == 200
    assert r.headers["x-model-used"] == "mistral/mistral-small-3.2"


def test_stop_does_not_wait_for_a_stalled_stream() -> None:
    emu = Emulator().start()
    emu.push(Behavior(text="abcdefgh", pause_after=1, pause=60))
    with httpx.Client(timeout=10, verify=TLS) as c:
        url = f"{emu.base_url('openai')}/chat/completions"
        with c.stream("POST", url, json=body(), headers=auth(emu, "openai")) as r:
            lines = r.iter_lines()
            assert next(lines).startswith("data: ")
            start = time.monotonic()
            emu.stop()
            assert time.monotonic() - start < 5
            with pytest.raises(httpx.RemoteProtocolError):
                list(lines)
    assert emu.errors == []


def test_fragmented_writes_split_lines_and_characters(emu: Emulator, client: httpx.Client) -> None:
    text = "héllo wörld ✓ 🎉 done"
    emu.push(Behavior(text=text, fragment_bytes=4, crlf=True))
    url = f"{emu.base_url('openai')}/chat/completions"
    with client.stream("POST", url, json=body(), headers=auth(emu, "openai")) as r:
        pieces = list(r.iter_raw())
    raw = b"".join(pieces)
    assert len(pieces) > 20
    assert any(_splits_a_character(p) for p in pieces)
    assert content_of(chunks(raw.decode().replace("\r\n", "\n"))) == text
    emu.push(Behavior(text=text, fragment_bytes=5))
    assert (
        post(client, emu, "openai", body(stream=False)).json()["choices"][0]["message"]["content"]
        == text
    )


def _splits_a_character(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_index_lists_keys_and_expect_continue_is_answered(emu: Emulator) -> None:
    with httpx.Client(timeout=10, verify=TLS) as c:
        listing = c.get(f"http://127.0.0.1:{emu.port}/?id=my-llm&id=ollama").json()["providers"]
    assert listing["my-llm"] == {"base_url": emu.base_url("my-llm"), "key": emu.key("my-llm")}
    assert listing["ollama"]["key"] is None
    payload = json.dumps(body(stream=False)).encode()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        head = (
            "POST /ollama/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        sock.sendall(head.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(payload)
        reply = b""
        while b"You said: hello" not in reply:
            data = sock.recv(65536)
            assert data
            reply += data
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")


def test_doubles_as_a_plain_http_proxy(emu: Emulator) -> None:
    proxy = f"http://127.0.0.1:{emu.port}"
    with httpx.Client(proxy=proxy, timeout=10, verify=TLS) as c:
        r = c.post(
            "http://provider.invalid/nordlys/v1/chat/completions",
            json=body(),
            headers={"X-API-Key": emu.key("nordlys")},
        )
    assert content_of(chunks(r.text)).startswith("You said: hello")
    (seen,) = emu.chat_requests("nordlys")
    assert seen.path == "http://provider.invalid/nordlys/v1/chat/completions"
    assert seen.headers["host"] == "provider.invalid"


def test_chunked_request_body(emu: Emulator, client: httpx.Client) -> None:
    parts = [
        b'{"model": "m", "stream": false, ',
        b'"messages": [{"role": "user", "content": "hi"}]}',
    ]
    r = client.post(
        f"{emu.base_url('openai')}/chat/completions",
        content=iter(parts),
        headers={**auth(emu, "openai"), "Content-Type": "application/json"},
    )
    assert r.json()["choices"][0]["message"]["content"].startswith("You said: hi")
    assert emu.requests[-1].headers["transfer-encoding"] == "chunked"


def test_adaptive_engine_has_no_client_side_tools(emu: Emulator, client: httpx.Client) -> None:
    emu.push(Behavior(tool_calls=[{"name": "f", "arguments": {}}]))
    events = chunks(post(client, emu, "adaptive-engine", body(model="proj")).text)
    assert content_of(events).startswith("You said: hello")
    assert finish_reasons(events) == ["stop"]


def test_sampled_replies_follow_the_seed(emu: Emulator, client: httpx.Client) -> None:
    emu.default = Behavior(sampled=True)

    def reply(**extra: Any) -> str:
        return content_of(chunks(post(client, emu, "openai", body(**extra)).content))

    seeded = {reply(seed=7, temperature=1.0) for _ in range(4)}
    assert len(seeded) == 1
    assert seeded != {reply(seed=8, temperature=1.0)}
    assert seeded != {reply(seed=7, temperature=0.5)}
    unseeded = {reply(temperature=1.0) for _ in range(6)}
    assert len(unseeded) == 6
    assert all(text.startswith("The ") for text in seeded | unseeded)


def test_system_fingerprint_in_chunks_and_json(emu: Emulator, client: httpx.Client) -> None:
    emu.default = Behavior(system_fingerprint="fp_abc")
    events = chunks(post(client, emu, "openai", body()).content)
    assert events and all(ev.get("system_fingerprint") == "fp_abc" for ev in events)
    plain = post(client, emu, "openai", body(stream=False)).json()
    assert plain["system_fingerprint"] == "fp_abc"
    emu.default = Behavior()
    assert "system_fingerprint" not in chunks(post(client, emu, "openai", body()).content)[0]


def test_logprobs_only_where_the_provider_returns_them(emu: Emulator, client: httpx.Client) -> None:
    from tests.helpers.emulator.replies import logprob_at

    for provider in ("eurouter", "nordlys", "vllm"):
        data = post(client, emu, provider, body(stream=False, logprobs=True, top_logprobs=3)).json()
        entries = data["choices"][0]["logprobs"]["content"]
        assert [e["logprob"] for e in entries] == [logprob_at(i) for i in range(len(entries))]
        for e in entries:  # the alternatives, most likely first, never more than all of it
            lps = [t["logprob"] for t in e["top_logprobs"]]
            assert lps == sorted(lps, reverse=True) and len(lps) == 3
            assert sum(math.exp(x) for x in lps) <= 1.0 + 1e-6
    data = post(client, emu, "euri", body(stream=False, logprobs=True)).json()
    assert not data["choices"][0].get("logprobs")

"""A provider is untrusted: whatever it sends ends in a typed error or a sanitised answer, never a
traceback, and never carries a key Parley knows back out. Each class is tried in many shapes,
through real loopback sockets (the emulator, sending raw bodies where a fault needs them)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import pty
import socket
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.core.protocol.errors import ErrorKind, ParleyError, known_secrets, remember_secret
from parley.core.protocol.exchange import Exchange
from parley.core.providers.decode import MAX_RETRY_AFTER, parse_retry_after
from parley.net.engine import Engine
from tests.e2e.test_engine import FAST_RETRY, TEXT, chat, run_one, spec_for
from tests.helpers.emulator import Behavior, Emulator

HYPO = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SSE = {"content-type": "text/event-stream"}


def sse(*payloads: object) -> bytes:
    lines = [f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads]
    return "".join(lines).encode()


def delta(content: str, finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


def raw(emu: Emulator, body: bytes, *, stream: bool = True, **kw: object) -> object:
    headers = SSE if stream else {"content-type": "application/json"}
    return run_one(emu, "openai", Behavior(body=body, headers=headers), stream=stream, **kw)


# ------------------------------------------------------------------ nesting, surrogates, numbers


@HYPO
@given(
    depth=st.integers(min_value=65, max_value=20_000),
    where=st.sampled_from(["chunk", "body", "error", "delta"]),
)
def test_deep_nesting_anywhere_is_a_typed_error(emu: Emulator, depth: int, where: str) -> None:
    nested = "[" * depth + "]" * depth
    if where == "chunk":
        out = raw(emu, f'data: {{"choices": {nested}}}\n\n'.encode())
    elif where == "delta":
        out = raw(emu, sse(delta("ok")) + f'data: {{"x": {nested}}}\n\n'.encode())
    elif where == "body":
        out = raw(emu, f'{{"choices": {nested}}}'.encode(), stream=False)
    else:
        emu.push(Behavior(status=400, body=f'{{"error": {nested}}}'), provider="openai")
        out = run_one(emu, "openai")
    error = out.error  # type: ignore[attr-defined]
    assert isinstance(error, ParleyError)
    assert error.kind in (ErrorKind.PROTOCOL, ErrorKind.BAD_REQUEST)


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_a_deeply_nested_model_list_is_a_typed_error(depth: int) -> None:
    deep = "[" * depth + "]" * depth
    reply = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(deep)}\r\nConnection: close\r\n\r\n{deep}"
    )

    async def listing(url: str) -> object:
        engine = Engine()
        try:
            return await engine.list_models(spec_for("openai"), "k", url)
        except ParleyError as err:
            return err
        finally:
            await engine.aclose()

    with _RawServer(reply) as server:
        result = asyncio.run(listing(server.url))
    assert isinstance(result, ParleyError) and result.kind is ErrorKind.PROTOCOL


@HYPO
@given(
    text=st.text(
        # High surrogates only: they never pair, so the answer does not depend on where the
        # server cut its chunks (a pair cut in two is two lone surrogates, also replaced).
        alphabet=st.sampled_from(["a", " ", "\ud800", "\udbff", "é", "😀"]),
        min_size=1,
        max_size=20,
    ),
    stream=st.booleans(),
)
def test_lone_surrogates_become_replacement_characters(
    emu: Emulator, text: str, stream: bool
) -> None:
    out = run_one(emu, "openai", Behavior(text=text), stream=stream)
    assert out.error is None, str(out.error)
    got = out.result.text
    got.encode("utf-8")  # printable and storable
    assert got == text.replace("\ud800", "\ufffd").replace("\udbff", "\ufffd")
    json.dumps(out.result.to_dict(), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "inf"},
        {"Retry-After": "1e400"},
        {"Retry-After": "-3"},
        {"Retry-After": "nan"},
        {"Retry-After": "Infinity"},
        {"retry-after-ms": "infinity"},
        {"retry-after-ms": "1e400"},
        {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
    ],
)
def test_absurd_retry_after_values_are_bounded(emu: Emulator, headers: dict[str, str]) -> None:
    emu.push(Behavior(status=429, headers=headers), provider="openai")
    out = run_one(emu, "openai", engine_kw={"retry": FAST_RETRY})
    assert out.error is None and out.result.text  # retried, with a sane wait
    assert all(0 <= r.delay <= FAST_RETRY.max_delay for r in out.retries)


@given(st.dictionaries(st.sampled_from(["Retry-After", "retry-after-ms"]), st.text(max_size=30)))
def test_parse_retry_after_never_raises_and_stays_finite(headers: dict[str, str]) -> None:
    value = parse_retry_after(headers)
    assert value is None or (math.isfinite(value) and 0 <= value <= MAX_RETRY_AFTER)


# ------------------------------------------------------------------ what providers say


def test_a_200_with_detail_keeps_the_providers_words(emu: Emulator) -> None:
    for stream in (True, False):
        body = json.dumps({"detail": "Model 'x' is not loaded on this server"})
        out = raw(emu, (f"data: {body}\n\n" if stream else body).encode(), stream=stream)
        assert out.error is not None  # type: ignore[attr-defined]
        assert "not loaded" in (out.error.provider_message or "")  # type: ignore[attr-defined]


def test_content_after_the_finish_reason_is_not_appended(emu: Emulator) -> None:
    out = raw(emu, sse(delta("Done.", "stop"), delta(" Injected!"), "[DONE]"))
    assert out.error is None and out.result.text == "Done."  # type: ignore[attr-defined]


# ------------------------------------------------------------------ deadlines and sizes


def test_an_answer_that_never_ends_meets_the_deadline_and_keeps_what_came(emu: Emulator) -> None:
    slow = Behavior(text="word " * 400, chunk_chars=5, chunk_delay=0.02, sse_comments=True)
    out = run_one(emu, "openai", slow, engine_kw={"deadline": 0.5, "retry": FAST_RETRY})
    assert out.error is not None and out.error.kind is ErrorKind.TIMEOUT
    assert out.error.partial and "0.5 s" in out.error.message
    assert out.result.text.startswith("word") and len(out.retries) == 0


def test_a_huge_answer_is_cut_at_the_cap_with_what_came_kept(emu: Emulator) -> None:
    big = Behavior(text="x" * 50, huge_chunk=200_000)
    out = run_one(emu, "openai", big, engine_kw={"max_answer_bytes": 100_000})
    assert out.error is not None and out.error.kind is ErrorKind.PROTOCOL
    assert "grew past" in out.error.message and len(out.retries) == 0


# ------------------------------------------------------------------ secrets


ECHO_FIELDS = ["message", "code", "type", "request_id_header", "request_id_body"]


# Keys as providers issue them: a prefix and a random tail (a key of sixteen "a"s would match
# half the words of any reply, which is no test of redaction).
KEYS = st.builds(
    lambda prefix, tail: prefix + tail,
    st.sampled_from(["sk-", "eur_", "sk-or-v1-", ""]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=20, max_size=40).filter(
        lambda t: len(set(t)) >= 12
    ),
)


@HYPO
@given(key=KEYS, field=st.sampled_from(ECHO_FIELDS))
def test_a_key_echoed_in_any_error_field_never_comes_out(
    emu: Emulator, key: str, field: str
) -> None:
    error: dict[str, object] = {"message": "bad request", "type": "invalid", "code": "x"}
    headers: dict[str, str] = {}
    body: dict[str, object] = {"error": error}
    if field in ("message", "code", "type"):
        error[field] = f"key {key} rejected"
    elif field == "request_id_header":
        headers["X-Request-Id"] = key
    else:
        body["request_id"] = key
    emu.push(Behavior(status=400, body=body, headers=headers), provider="openai")
    out = run_one(emu, "openai", key=key)
    assert out.error is not None
    everything = json.dumps([out.error.to_dict(), str(out.error), out.exchange.to_records()])
    assert key not in everything and key[:10] not in everything


@HYPO
@given(
    key=KEYS,
    field=st.sampled_from(["id", "system_fingerprint", "model", "tool_id", "content", "header"]),
)
def test_a_known_key_echoed_in_an_answer_is_scrubbed_from_the_result(
    emu: Emulator, key: str, field: str
) -> None:
    remember_secret(key)  # as if read from the keyring for another provider
    assert key in known_secrets()
    chunk: dict[str, object] = delta("Hi there.", "stop")
    headers = dict(SSE)
    if field in ("id", "system_fingerprint", "model"):
        chunk[field] = f"x-{key}"
    elif field == "tool_id":
        chunk["choices"] = [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "id": key, "function": {"name": "f"}}]},
                "finish_reason": "tool_calls",
            }
        ]
    elif field == "content":
        chunk = delta(f"your key is {key}", "stop")
    else:
        headers["x-request-id"] = key

    async def scenario() -> tuple[object, Exchange]:
        from parley.core.chat.loop import stream
        from parley.core.chat.prepared import prepare
        from parley.core.chat.result import ChatResult
        from parley.core.protocol.request import ChatRequest, Message

        emu.push(Behavior(body=sse(chunk, "[DONE]"), headers=headers), provider="openai")
        engine = Engine()
        request = ChatRequest(
            provider="openai-compatible",
            model="m",
            messages=[Message(role="user", content="hi")],
            base_url=emu.base_url("openai"),
        )
        result = ChatResult()
        try:
            exchange = await stream(engine, prepare(spec_for("openai"), request, "k" * 20), result)
        finally:
            await engine.aclose()
        return result, exchange

    result, exchange = asyncio.run(scenario())
    everything = json.dumps([result.to_dict(), exchange.to_records()])  # type: ignore[attr-defined]
    assert key not in everything


@HYPO
@given(
    user=st.text(alphabet="abcdefgh", min_size=1, max_size=8),
    password=st.text(alphabet="ABCDEFGH12345", min_size=6, max_size=12),
)
def test_credentials_in_a_base_url_are_refused_and_never_shown(
    emu: Emulator, user: str, password: str
) -> None:
    base = emu.base_url("openai").replace("http://", f"http://{user}:{password}@")

    async def scenario() -> object:
        engine = Engine()
        try:
            return await chat(engine, emu, "openai", base_url=base)
        finally:
            await engine.aclose()

    before = len(emu.chat_requests())
    error = asyncio.run(scenario()).error  # type: ignore[attr-defined]
    assert isinstance(error, ParleyError)
    assert error.kind is ErrorKind.CONFIG and "user name or password" in error.message
    assert password not in json.dumps(error.to_dict()) and password not in str(error)
    assert len(emu.chat_requests()) == before


def test_a_query_in_the_base_url_is_kept_and_a_fragment_refused(emu: Emulator) -> None:
    out = run_one(emu, "openai", Behavior(text=TEXT), base_url=emu.base_url("openai") + "?v=2")
    assert out.error is None
    assert emu.chat_requests()[-1].path.endswith("/chat/completions?v=2")
    error = run_one(emu, "openai", base_url=emu.base_url("openai") + "#top").error
    assert error is not None and "fragment" in error.message


def test_a_dead_proxy_is_named_as_the_proxy(emu: Emulator) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run_one(
        emu,
        "openai",
        engine_kw={"proxy": f"http://127.0.0.1:{port}", "retry": FAST_RETRY},
    )
    assert out.error is not None and f"proxy at 127.0.0.1:{port}" in out.error.message


# ------------------------------------------------------------------ the terminal


def test_escape_sequences_never_reach_a_terminal_but_stay_in_json(emu: Emulator) -> None:
    nasty = "Hello \x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b31m\r\x08 end"
    emu.push(Behavior(text=nasty), provider="openai")
    env = {**os.environ, "PARLEY_API_KEY_OPENAI_COMPATIBLE": emu.key("openai")}
    args = [sys.executable, "-m", "parley", "ask", "-p", "openai-compatible", "-m", "m"]
    args += ["--base-url", emu.base_url("openai"), "Hi"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    text = seen.decode("utf-8", errors="replace")
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "Hello" in text and "red" in text and "end" in text
    emu.push(Behavior(text=nasty), provider="openai")
    proc2 = subprocess.run([*args[:-1], "--json", "Hi"], capture_output=True, text=True, env=env)
    assert json.loads(proc2.stdout)["text"] == nasty


def test_models_json_stays_valid_json_with_absurd_prices(emu: Emulator) -> None:
    emu.set_models(
        "openai",
        {"data": [{"id": "m", "pricing": {"prompt": "1e303", "completion": "1e400"}}]},
    )
    env = {**os.environ, "PARLEY_API_KEY_OPENAI_COMPATIBLE": emu.key("openai")}
    url = emu.base_url("openai")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "parley",
            "models",
            "openai-compatible",
            "--json",
            "--base-url",
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Infinity" not in proc.stdout
    (model,) = json.loads(proc.stdout)
    assert model["prompt_price"] is None and model["completion_price"] is None


class _RawServer:
    """A one-shot loopback server that answers every connection with the same raw bytes."""

    def __init__(self, reply: str) -> None:
        self.reply = reply.encode()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        import threading

        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.reply)

    def __enter__(self) -> _RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.parametrize("mode", [[], ["--json"], ["--save"], ["--save", "--json", "--no-stream"]])
def test_a_lone_surrogate_in_every_output_mode_of_ask(emu: Emulator, mode: list[str]) -> None:
    emu.push(Behavior(text="a\ud800b"), provider="openai")
    env = {**os.environ, "PARLEY_API_KEY_OPENAI_COMPATIBLE": emu.key("openai")}
    args = [sys.executable, "-m", "parley", "ask", "-p", "openai-compatible", "-m", "m"]
    proc = subprocess.run(
        [*args, "--base-url", emu.base_url("openai"), *mode, "Hi"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    out = proc.stdout.decode("utf-8")
    text = json.loads(out)["text"] if "--json" in mode else out.strip()
    assert text == "a\ufffdb"
    if "--save" in mode:
        history = subprocess.run(
            [sys.executable, "-m", "parley", "history", "1", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        answer = json.loads(history.stdout)[-1]
        assert answer["status"] == "complete" and answer["text"] == "a\ufffdb"

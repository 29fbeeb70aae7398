"""Engine pieces that need no emulator: transport failures on real sockets, retry policy, config."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.events import Event, Retrying
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import AuthSpec, ProviderSpec
from parley.net.engine import Engine, RetryPolicy

SPEC = ProviderSpec(id="acme", name="Acme AI", base_url="http://unused")
KEY = "sk-acme-0123456789abcdefghijkl"


def request(base_url: str) -> ChatRequest:
    return ChatRequest(
        provider="acme", model="m", messages=[Message(role="user", content="hi")], base_url=base_url
    )


def run(engine: Engine, base_url: str, key: str | None = KEY) -> tuple[list[Event], ParleyError]:
    async def scenario() -> tuple[list[Event], ParleyError]:
        events: list[Event] = []
        try:
            async with contextlib.aclosing(engine.run(SPEC, request(base_url), key)) as stream:
                async for event in stream:
                    events.append(event)
        except ParleyError as err:
            return events, err
        finally:
            await engine.aclose()
        raise AssertionError("the request did not fail")

    return asyncio.run(scenario())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def garbage_server() -> Iterator[int]:
    """A server that answers whatever arrives first with a plain HTTP 400, then closes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    data = b""
                    while b"\r\n\r\n" not in data and not data.startswith(b"\x16"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join(2)
    srv.close()


def assert_no_key(err: ParleyError) -> None:
    text = str(err) + repr(err) + str(err.to_dict())
    assert KEY not in text and KEY[:8] not in text


def test_connection_refused_is_retried_then_a_network_error_naming_the_host() -> None:
    port = free_port()
    engine = Engine(retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02))
    events, err = run(engine, f"http://127.0.0.1:{port}/v1")
    assert err.kind is ErrorKind.NETWORK
    assert f"127.0.0.1:{port}" in err.message and "refused" in err.message
    assert "Acme AI" in err.message
    assert [e.attempt for e in events if isinstance(e, Retrying)] == [1, 2]
    assert err.__cause__ is None  # nothing that holds the request (and its headers) is chained
    assert_no_key(err)


def test_unknown_host_is_a_network_error() -> None:
    engine = Engine(retry=RetryPolicy(max_attempts=1), connect_timeout=5.0)
    _, err = run(engine, "http://no-such-host.invalid/v1")
    assert err.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT)
    assert "no-such-host.invalid" in err.message
    assert_no_key(err)


def test_tls_against_a_plain_http_server_is_a_network_error(garbage_server: int) -> None:
    engine = Engine(retry=RetryPolicy(max_attempts=1), connect_timeout=5.0)
    _, err = run(engine, f"https://127.0.0.1:{garbage_server}/v1")
    assert err.kind is ErrorKind.NETWORK
    assert "TLS" in err.message or "secure" in err.message
    assert_no_key(err)


def test_missing_key_is_a_config_error_before_any_connection() -> None:
    engine = Engine()
    _, err = run(engine, f"http://127.0.0.1:{free_port()}/v1", key=None)
    assert err.kind is ErrorKind.CONFIG and "Acme AI" in err.message


def test_no_auth_provider_needs_no_key(garbage_server: int) -> None:
    spec = ProviderSpec(
        id="local", name="Local", base_url="", auth=AuthSpec(scheme="none", required=False)
    )

    async def scenario() -> ParleyError:
        engine = Engine(retry=RetryPolicy(max_attempts=1))
        try:
            async with contextlib.aclosing(
                engine.run(spec, request(f"http://127.0.0.1:{garbage_server}/v1"), None)
            ) as stream:
                async for _ in stream:
                    pass
        except ParleyError as err:
            return err
        finally:
            await engine.aclose()
        raise AssertionError("expected the 400")

    err = asyncio.run(scenario())
    assert err.kind is ErrorKind.BAD_REQUEST and err.status == 400


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 10, 50])
def test_backoff_is_exponential_bounded_and_jittered(attempt: int) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=0.2)
    nominal = min(2.0 ** (attempt - 1), 30.0)
    delays = {policy.delay(attempt) for _ in range(50)}
    assert all(0.8 * nominal - 1e-9 <= d <= min(1.2 * nominal, 30.0) for d in delays)
    assert len(delays) > 1  # jitter spreads retries of many clients


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_delay=30.0)
    assert policy.delay(1, 4.0) == 4.0
    assert policy.delay(1, 3600.0) == 30.0
    assert policy.delay(1, -1.0) == 0.0


def test_engine_repr_has_no_secrets() -> None:
    engine = Engine(proxy="http://user:pass@proxy:8080")
    assert "pass" not in repr(engine)


def test_unusable_proxy_is_a_config_error_without_its_credentials() -> None:
    _, err = run(Engine(proxy="nonsense://user:hunter2@proxy"), "http://127.0.0.1:1/v1")
    assert err.kind is ErrorKind.CONFIG and "proxy" in err.message
    assert "hunter2" not in str(err)


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1", "http://exa mple.com/v1"])
def test_invalid_url_is_a_config_error(url: str) -> None:
    _, err = run(Engine(retry=RetryPolicy(max_attempts=1)), url)
    assert err.kind is ErrorKind.CONFIG
    assert "Acme AI" in err.message and "not a valid" in err.message

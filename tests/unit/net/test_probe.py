"""Local-server detection against real loopback HTTP servers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from parley.net.probe import LocalServer, find_local_servers, is_loopback


def _server(routes: dict[str, tuple[int, Any]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, payload = routes.get(self.path, (404, {"error": "not found"}))
            body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, tuple[int, Any]]) -> int:
        srv = _server(routes)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return int(srv.server_address[1])

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_finds_openai_style_and_ollama_servers_and_skips_closed_ports(serve: Any) -> None:
    openai_port = serve({"/v1/models": (200, {"object": "list", "data": [{"id": "qwen3-8b"}]})})
    ollama_port = serve({"/api/tags": (200, {"models": [{"name": "llama3.2:latest"}]})})
    closed = _free_port()
    found = asyncio.run(
        find_local_servers({"lmstudio": openai_port, "ollama": ollama_port, "vllm": closed})
    )
    by_id = {s.provider_id: s for s in found}
    assert set(by_id) == {"lmstudio", "ollama"}
    assert by_id["lmstudio"] == LocalServer(
        "lmstudio", f"http://127.0.0.1:{openai_port}/v1", ["qwen3-8b"]
    )
    assert by_id["ollama"].models == ["llama3.2:latest"]
    assert by_id["ollama"].base_url == f"http://127.0.0.1:{ollama_port}/v1"


def test_ollama_without_tags_falls_back_to_v1_models(serve: Any) -> None:
    port = serve({"/v1/models": (200, {"data": [{"id": "gemma3"}]})})
    found = asyncio.run(find_local_servers({"ollama": port}))
    assert [s.models for s in found] == [["gemma3"]]


def test_a_port_that_is_not_a_model_server_is_not_reported(serve: Any) -> None:
    html = serve({"/v1/models": (200, "<html>dev server</html>")})
    unauthorised = serve({"/v1/models": (401, {"error": "no"})})
    wrong_shape = serve({"/v1/models": (200, {"hello": "world"})})
    found = asyncio.run(
        find_local_servers({"llamacpp": html, "vllm": unauthorised, "lmstudio": wrong_shape})
    )
    assert found == []


def test_a_silent_port_times_out_quickly() -> None:
    # A listening socket that never answers: the probe gives up after its timeout.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port = sock.getsockname()[1]
        found = asyncio.run(find_local_servers({"vllm": port}, timeout=0.2))
    assert found == []


def test_refuses_hosts_other_than_loopback() -> None:
    with pytest.raises(ValueError, match="not this computer"):
        asyncio.run(find_local_servers({"vllm": 8000}, host="192.168.1.10"))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("example.com")

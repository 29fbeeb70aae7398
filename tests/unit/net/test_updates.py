"""The update check against a real loopback server: good, forged, unsigned, downgrade, garbage,
slow and failing manifests. Only a good, newer one gives a release; the rest give None and at
most one log line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from parley.core.app.updates import Release, sign_manifest
from parley.net.updates import check_for_update

PRIVATE = Ed25519PrivateKey.generate()
PUBLIC = PRIVATE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
NEWER = Release("0.9.0", "https://example.org/releases/0.9.0")
GOOD = sign_manifest(NEWER, PRIVATE.private_bytes_raw())
FORGED = sign_manifest(NEWER, Ed25519PrivateKey.generate().private_bytes_raw())
OLDER = sign_manifest(Release("0.0.9", "https://example.org/0.0.9"), PRIVATE.private_bytes_raw())
UNSIGNED = b'{"manifest": "eyJ2ZXJzaW9uIjogIjkuMCJ9"}'

Route = tuple[int, bytes, float]  # status, body, seconds to wait before answering


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    routes: dict[str, Route] = {
        "/good.json": (200, GOOD, 0),
        "/forged.json": (200, FORGED, 0),
        "/older.json": (200, OLDER, 0),
        "/unsigned.json": (200, UNSIGNED, 0),
        "/garbage.json": (200, b"<html>not json</html>", 0),
        "/huge.json": (200, b" " * 200_000, 0),
        "/slow.json": (200, GOOD, 3.0),
        "/broken.json": (500, b"oops", 0),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/good.json")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, body, delay = routes.get(self.path, (404, b"", 0))
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (timeout test)
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True  # the slow answer is not waited for
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _check(url: str, timeout: float = 5.0) -> Release | None:
    return asyncio.run(check_for_update(url, current="0.1.0", public_key=PUBLIC, timeout=timeout))


def test_a_good_newer_manifest_gives_the_release(server: str) -> None:
    assert _check(f"{server}/good.json") == NEWER
    assert _check(f"{server}/redirect") == NEWER


@pytest.mark.parametrize(
    "path",
    ["forged", "older", "unsigned", "garbage", "huge", "broken", "missing"],
)
def test_anything_else_gives_no_notice_and_at_most_one_log_line(
    server: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="parley.net.updates")
    assert _check(f"{server}/{path}.json") is None
    assert len(caplog.records) <= 1
    assert all(r.levelno <= logging.INFO for r in caplog.records)


def test_a_slow_server_times_out(server: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="parley.net.updates")
    started = time.monotonic()
    assert _check(f"{server}/slow.json", timeout=0.5) is None
    assert time.monotonic() - started < 2.5
    assert [r.getMessage() for r in caplog.records] == ["update check: no answer within 0.5 s"]


def test_nothing_listening_gives_no_notice(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level(logging.INFO, logger="parley.net.updates")
    assert _check(f"http://127.0.0.1:{port}/m.json") is None
    assert len(caplog.records) == 1

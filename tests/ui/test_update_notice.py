"""The update notice in the real window, against a loopback manifest server: asked once, off
until answered; a forged manifest shows nothing; a good newer one shows the version and a link."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication

from parley.core.app.settings import load_settings
from parley.core.app.updates import Release, sign_manifest
from parley.ui import update_notice
from parley.ui.mainwindow import Services
from tests.ui.conftest import close, opened, wait_for

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
RELEASE = Release("9.1.0", "https://example.org/parley/9.1.0")


@pytest.fixture
def manifest_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Serves a manifest signed with this test's key (not the built-in one); records requests."""
    body = sign_manifest(RELEASE, KEY.private_bytes_raw())
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setenv("PARLEY_UPDATE_URL", f"http://127.0.0.1:{srv.server_address[1]}/m.json")
    yield requests
    srv.shutdown()
    srv.server_close()


def checks_running() -> bool:
    return any(t.get_name() == "parley:update-check" for t in asyncio.all_tasks())


class Browser(QObject):
    """Stands in for the web browser: Qt hands https links to it instead of opening them."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


def test_asked_once_then_a_forged_manifest_is_ignored_and_a_good_one_shown(
    qapp: QApplication,
    services: Services,
    manifest_server: list[str],
    arun: Callable[..., Any],
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            # Unanswered: the question, and no request yet.
            assert (
                window.banner.isVisible() and window.banner.label.text() == update_notice.QUESTION
            )
            assert manifest_server == []
            window.banner.trigger(update_notice.YES)
            assert load_settings().update_check is True
            # The built-in key does not verify this test's manifest: nothing is shown.
            await wait_for(lambda: manifest_server == ["/m.json"], what="the manifest request")
            await wait_for(lambda: not checks_running(), what="the check to end")
            assert not window.banner.isVisible()

            update_notice.start(window, public_key=PUBLIC)
            await wait_for(window.banner.isVisible, what="the update notice")
            assert window.banner.label.text() == "Parley 9.1.0 is available (this is 0.1.0)."
            browser = Browser()
            QDesktopServices.setUrlHandler("https", browser, "open")
            try:
                window.banner.trigger(update_notice.OPEN)
            finally:
                QDesktopServices.unsetUrlHandler("https")
            assert browser.opened == [RELEASE.url]
        finally:
            await close(window)

    arun(scenario())


def test_declined_means_no_question_and_no_request(
    qapp: QApplication,
    services: Services,
    manifest_server: list[str],
    arun: Callable[..., Any],
) -> None:
    services.settings.update_check = False

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            update_notice.start(window, public_key=PUBLIC)
            await asyncio.sleep(0.3)
            assert not checks_running()
            assert not window.banner.isVisible()
            assert manifest_server == []
        finally:
            await close(window)

    arun(scenario())

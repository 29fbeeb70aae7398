"""First-run guide: a local server found on loopback is offered; a cloud key is tested and
saved; finishing or skipping marks the first run done."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import keyring
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from parley.core.app.secrets import KeyStore
from parley.core.app.settings import Settings, load_settings
from parley.core.providers.catalog import load_catalog
from parley.net.engine import Engine, RetryPolicy
from parley.ui.first_run import FirstRunGuide
from tests.helpers.emulator import Emulator
from tests.keyring_support import MemoryKeyring


class _Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/v1/models":
            self.send_error(404)
            return
        body = json.dumps({"data": [{"id": "qwen3-8b"}, {"id": "gemma3-4b"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield int(srv.server_address[1])
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def memory() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def engine(arun: Callable[..., Any]) -> Iterator[Engine]:
    eng = Engine(retry=RetryPolicy(max_attempts=1))
    yield eng
    arun(eng.aclose())


def _guide(
    qtbot: QtBot, engine: Engine, settings: Settings, ports: dict[str, int]
) -> FirstRunGuide:
    guide = FirstRunGuide(
        load_catalog().providers.values(), engine, KeyStore(), settings, probe_ports=ports
    )
    qtbot.addWidget(guide)
    return guide


def test_a_local_server_is_offered_first_and_needs_no_key(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring, local_server: int, arun: Callable[..., Any]
) -> None:
    settings = Settings()
    guide = _guide(qtbot, engine, settings, {"lmstudio": local_server, "vllm": 9})
    found = arun(guide.detect_local_servers())
    assert [s.provider_id for s in found] == ["lmstudio"]
    assert "Found on this computer: LM Studio" in guide.detect_label.text()
    first = guide.provider_list.item(0)
    assert "Found on this computer: 2 models" in first.text()
    assert guide.selected() == "lmstudio"
    guide.next()
    assert guide.page() == FirstRunGuide.PAGE_MESSAGE  # no key page for a local server
    assert [guide.model_combo.itemText(i) for i in range(guide.model_combo.count())] == [
        "qwen3-8b",
        "gemma3-4b",
    ]
    with qtbot.waitSignal(guide.completed) as blocker:
        guide.next()
    assert blocker.args == ["lmstudio", "qwen3-8b", guide.message_edit.toPlainText()]
    saved = load_settings()
    assert saved.first_run_done and saved.last_provider == "lmstudio"
    assert saved.last_model == "qwen3-8b"
    assert saved.base_urls["lmstudio"] == f"http://127.0.0.1:{local_server}/v1"


def test_a_cloud_provider_key_is_tested_and_saved(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring, arun: Callable[..., Any]
) -> None:
    with Emulator() as emu:
        settings = Settings(base_urls={"euri": emu.base_url("euri")})
        guide = _guide(qtbot, engine, settings, {})
        arun(guide.detect_local_servers())
        assert guide.detect_label.text().startswith("No model server found on this computer")
        guide.select_provider("euri")
        guide.next()
        assert guide.page() == FirstRunGuide.PAGE_KEY
        assert not guide.next_button.isEnabled()  # no key yet
        qtbot.keyClicks(guide.key_edit, "wrong-key-000000000000")
        ok, message = arun(guide.run_test())
        assert not ok and "key" in message.lower()
        guide.key_edit.clear()
        qtbot.keyClicks(guide.key_edit, emu.key("euri"))
        ok, message = arun(guide.run_test())
        assert ok and message.startswith("Key works"), message
        assert guide.next_button.isEnabled()
        guide.next()
        assert memory.entries == {("parley", "euri"): emu.key("euri")}
        assert guide.page() == FirstRunGuide.PAGE_MESSAGE
        arun(guide.cancel_tasks())
        with qtbot.waitSignal(guide.completed) as blocker:
            guide.model_combo.setEditText("gpt-4o-mini")
            guide.next()
    assert blocker.args[:2] == ["euri", "gpt-4o-mini"]
    assert load_settings().first_run_done


def test_skip_marks_the_first_run_done(qtbot: QtBot, engine: Engine, memory: MemoryKeyring) -> None:
    settings = Settings()
    guide = _guide(qtbot, engine, settings, {})
    with qtbot.waitSignal(guide.skipped):
        guide.skip()
    assert settings.first_run_done and load_settings().first_run_done


def test_controls_are_reachable_and_named(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget

    guide = _guide(qtbot, engine, Settings(), {})
    for widget in guide.findChildren(QWidget):
        if widget.window() is guide and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            if widget.parent() is not None and widget.parent().inherits("QComboBox"):
                continue  # the editable combo's own line edit
            assert widget.accessibleName(), type(widget).__name__


def _presets(guide: FirstRunGuide) -> list[str]:
    items = (guide.provider_list.item(i) for i in range(guide.provider_list.count()))
    ids = [item.data(Qt.ItemDataRole.UserRole) for item in items]
    return [pid for pid in ids if pid in ("llamacpp", "ollama", "lmstudio", "vllm")]


def test_local_presets_are_offered_with_an_editable_address_when_none_was_found(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring, arun: Callable[..., Any]
) -> None:
    with Emulator() as emu:
        settings = Settings()
        guide = _guide(qtbot, engine, settings, {"llamacpp": 9})  # nothing listens there
        guide.show()
        qtbot.waitExposed(guide)
        assert arun(guide.detect_local_servers()) == []
        assert "another port" in guide.detect_label.text()
        assert set(_presets(guide)) >= {"llamacpp", "ollama", "lmstudio"}
        guide.select_provider("llamacpp")
        guide.next()
        assert guide.page() == FirstRunGuide.PAGE_KEY
        intro = guide.key_intro.text()
        assert "needs no key" in intro and "API key from your" not in intro
        assert guide.base_url_edit.text() == "http://localhost:8080/v1"  # the usual, editable
        assert guide.base_url_edit.isEnabled() and not guide.base_url_edit.isReadOnly()
        assert guide.next_button.isEnabled()  # no key to wait for
        guide.base_url_edit.setText(emu.base_url("llamacpp"))  # another port
        ok, message = arun(guide.run_test())
        assert ok and message.startswith("Connected — "), message
        assert any(r.path.endswith("/llamacpp/v1/models") for r in emu.requests)
        guide.next()
        assert guide.page() == FirstRunGuide.PAGE_MESSAGE
        arun(guide.cancel_tasks())
        listed = [guide.model_combo.itemText(i) for i in range(guide.model_combo.count())]
        assert listed, "the models the server listed"
        with qtbot.waitSignal(guide.completed) as blocker:
            guide.next()
    assert blocker.args[:2] == ["llamacpp", listed[0]]
    assert load_settings().base_urls["llamacpp"] == emu.base_url("llamacpp")


def test_a_server_that_takes_no_key_shows_no_key_field(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring, arun: Callable[..., Any]
) -> None:
    guide = _guide(qtbot, engine, Settings(), {})
    guide.show()
    arun(guide.detect_local_servers())
    guide.select_provider("ollama")
    guide.next()
    assert guide.page() == FirstRunGuide.PAGE_KEY
    assert not guide.key_edit.isVisible() and guide.base_url_edit.isVisible()
    assert guide.base_url_edit.hasFocus() or not guide.isActiveWindow()
    assert "needs no key" in guide.key_intro.text()
    guide.back()
    guide.select_provider("euri")  # a cloud key again: the key row is back, first
    guide.next()
    assert guide.key_edit.isVisible() and "API key from your Euron EURI" in guide.key_intro.text()
    assert guide._key_form.getWidgetPosition(guide.base_url_edit)[0] == 2


def test_a_keyless_openai_compatible_server_is_not_asked_for_an_account_key(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring, arun: Callable[..., Any]
) -> None:
    guide = _guide(qtbot, engine, Settings(), {})
    arun(guide.detect_local_servers())
    guide.select_provider("openai-compatible")
    guide.next()
    intro = guide.key_intro.text()
    assert "API key from your" not in intro and "optional" in intro
    assert not guide.next_button.isEnabled()  # no address yet
    guide.base_url_edit.setText("http://127.0.0.1:9/v1")
    assert guide.next_button.isEnabled()  # and no key needed


def test_after_test_the_focus_is_on_next_not_skip(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring, arun: Callable[..., Any]
) -> None:
    from tests.ui.conftest import wait_for

    with Emulator() as emu:
        guide = _guide(qtbot, engine, Settings(), {})
        guide.show()
        guide.activateWindow()
        qtbot.waitUntil(guide.isActiveWindow)
        arun(guide.detect_local_servers())
        guide.select_provider("openai-compatible")
        guide.next()
        guide.base_url_edit.setText(emu.base_url("local"))
        guide.test_button.setFocus()
        assert guide.test_button.hasFocus()

        async def scenario() -> None:
            qtbot.keyClick(guide.test_button, Qt.Key.Key_Space)  # as a keyboard user presses it
            await wait_for(lambda: "Connected" in guide.test_label.text(), what="the test")
            await wait_for(lambda: not guide._tasks, what="the models to load")

        arun(scenario())
        assert guide.next_button.hasFocus() and not guide.skip_button.hasFocus()
        assert guide.next_button.isDefault()


def test_a_test_without_a_key_leaves_the_focus_on_the_key_not_skip(
    qtbot: QtBot, engine: Engine, memory: MemoryKeyring, arun: Callable[..., Any]
) -> None:
    guide = _guide(qtbot, engine, Settings(), {})
    guide.show()
    guide.activateWindow()
    qtbot.waitUntil(guide.isActiveWindow)
    arun(guide.detect_local_servers())
    guide.select_provider("euri")
    guide.next()
    assert not guide.next_button.isEnabled()  # no key yet
    guide.test_button.setFocus()
    ok, message = arun(guide.run_test())
    assert not ok and "Paste the key" in message
    assert guide.key_edit.hasFocus() and not guide.skip_button.hasFocus()

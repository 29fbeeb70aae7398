"""Keys dialog: keyring save, Test against the emulator, env override, no-backend path, and
adding one's own provider as a file that loads and holds no key."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from parley.core.app import paths
from parley.core.app.secrets import KeyStore
from parley.core.app.settings import Settings, load_settings
from parley.core.providers.catalog import AuthScheme, load_catalog, load_provider_file
from parley.core.providers.provider_file import provider_toml
from parley.net.engine import Engine, RetryPolicy
from parley.ui.keys_dialog import KeysDialog
from tests.helpers.emulator import Emulator
from tests.keyring_support import MemoryKeyring

KEY = "sk-dialog-0123456789abcdefXyZ9"


@pytest.fixture(autouse=True)
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def engine(arun: Callable[..., Any]) -> Iterator[Engine]:
    eng = Engine(retry=RetryPolicy(max_attempts=1))
    yield eng
    arun(eng.aclose())


def _dialog(
    qtbot: QtBot, engine: Engine, provider_id: str, settings: Settings | None = None
) -> KeysDialog:
    catalog = load_catalog()
    dlg = KeysDialog(
        catalog.providers.values(),
        engine,
        KeyStore(),
        settings or Settings(),
        provider_id=provider_id,
    )
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_key_is_masked_revealable_and_saved_to_the_keyring(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine
) -> None:
    dlg = _dialog(qtbot, engine, "euri")
    assert dlg.current_spec().id == "euri"
    assert dlg.key_edit.echoMode() == QLineEdit.EchoMode.Password
    assert "MemoryKeyring" in dlg.backend_label.text()
    qtbot.keyClicks(dlg.key_edit, KEY)
    qtbot.mouseClick(dlg.reveal_button, Qt.MouseButton.LeftButton)
    assert dlg.key_edit.echoMode() == QLineEdit.EchoMode.Normal
    qtbot.mouseClick(dlg.reveal_button, Qt.MouseButton.LeftButton)
    assert dlg.key_edit.echoMode() == QLineEdit.EchoMode.Password
    with qtbot.waitSignal(dlg.key_changed) as blocker:
        qtbot.mouseClick(dlg.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["euri"]
    assert memory.entries == {("parley", "euri"): KEY}
    assert dlg.key_edit.text() == ""  # not left on screen
    assert "Stored in the keyring" in dlg.status_label.text()
    assert KEY not in dlg.status_label.text() and KEY[-4:] in dlg.status_label.text()
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert memory.entries == {}
    assert "No key yet" in dlg.status_label.text()


def test_test_button_reports_success_against_the_emulator(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, emu: Emulator, arun: Callable[..., Any]
) -> None:
    settings = Settings(base_urls={"euri": emu.base_url("euri")})
    dlg = _dialog(qtbot, engine, "euri", settings)
    qtbot.keyClicks(dlg.key_edit, emu.key("euri"))
    ok, message = arun(dlg.run_test())
    assert ok, message
    assert message.startswith("Key works — ")
    assert message.endswith("models")
    assert dlg.message_label.text() == message
    assert any(r.path.endswith("/euri/v1/models") for r in emu.requests)


def test_test_button_reports_a_401_in_plain_words(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, emu: Emulator, arun: Callable[..., Any]
) -> None:
    settings = Settings(base_urls={"euri": emu.base_url("euri")})
    dlg = _dialog(qtbot, engine, "euri", settings)
    qtbot.keyClicks(dlg.key_edit, "sk-wrong-key-0000000000000")
    ok, message = arun(dlg.run_test())
    assert not ok
    assert "key" in message.lower()
    assert "sk-wrong-key-0000000000000" not in message
    assert dlg.message_label.text() == message
    assert dlg.test_button.isEnabled()


def test_test_sends_one_token_where_the_listing_needs_no_key(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, emu: Emulator, arun: Callable[..., Any]
) -> None:
    # EUrouter lists models without auth: only a chat request proves the key.
    settings = Settings(base_urls={"eurouter": emu.base_url("eurouter")})
    dlg = _dialog(qtbot, engine, "eurouter", settings)
    memory.entries[("parley", "eurouter")] = emu.key("eurouter")
    dlg.model_edit.setText("mistral-small")
    ok, message = arun(dlg.run_test())
    assert ok, message
    assert message == "Key works — mistral-small answered"
    chat = [r for r in emu.requests if r.path.endswith("/chat/completions")]
    assert chat and chat[-1].json["model"] == "mistral-small"
    assert chat[-1].json["max_completion_tokens"] == 1


def test_environment_override_is_shown_read_only(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_API_KEY_NORDLYS", KEY)
    dlg = _dialog(qtbot, engine, "nordlys")
    text = dlg.status_label.text()
    assert "Set by PARLEY_API_KEY_NORDLYS" in text and "read-only" in text
    assert KEY not in text
    assert not dlg.key_edit.isEnabled()
    assert not dlg.remove_button.isEnabled()


def test_without_a_keyring_it_says_so_and_keeps_the_key_for_the_session(
    qtbot: QtBot, engine: Engine
) -> None:
    keyring.set_keyring(fail.Keyring())
    dlg = _dialog(qtbot, engine, "euri")
    assert "No keyring is available" in dlg.backend_label.text()
    assert dlg.session_check.isChecked() and not dlg.session_check.isEnabled()
    qtbot.keyClicks(dlg.key_edit, KEY)
    assert dlg.save()
    assert "session only" in dlg.message_label.text()
    assert dlg._keystore.get("euri").origin == "session"
    assert "Kept for this session only" in dlg.status_label.text()


def test_base_url_is_saved_to_settings(qtbot: QtBot, memory: MemoryKeyring, engine: Engine) -> None:
    settings = Settings()
    dlg = _dialog(qtbot, engine, "adaptive-engine", settings)
    dlg.base_url_edit.setText("https://adaptive.example.com/api/v1")
    with qtbot.waitSignal(dlg.settings_changed):
        assert dlg.save()
    assert load_settings().base_urls == {"adaptive-engine": "https://adaptive.example.com/api/v1"}
    dlg.base_url_edit.setText("ftp://nope")
    assert not dlg.save()
    assert "base URL was not saved" in dlg.message_label.text()


def test_adding_a_provider_writes_a_loadable_file_without_the_key(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine
) -> None:
    dlg = _dialog(qtbot, engine, "euri")
    dlg.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dlg.new_name, "My Box")
    assert dlg.new_id.text() == "my-box"
    dlg.new_base_url.setText("https://box.example.com/v1")
    dlg.new_auth.setCurrentIndex(dlg.new_auth.findData("header"))
    dlg.new_header.setText("X-Box-Key")
    dlg.new_models.setPlainText("box-small\n\nbox-large\n")
    dlg.new_key.setText(KEY)
    with qtbot.waitSignal(dlg.provider_added) as blocker:
        spec = dlg.add_provider()
    assert blocker.args == ["my-box"]
    assert spec is not None
    path = paths.user_providers_dir() / "my-box.toml"
    text = path.read_text(encoding="utf-8")
    assert KEY not in text
    loaded = load_provider_file(path)
    assert not isinstance(loaded, Exception) and hasattr(loaded, "auth")
    assert loaded.auth.scheme is AuthScheme.HEADER and loaded.auth.header == "X-Box-Key"
    assert loaded.models.fallback == ["box-small", "box-large"]
    assert loaded.param("temperature") is not None  # parameters of the generic provider
    assert memory.entries == {("parley", "my-box"): KEY}
    catalog = load_catalog(user_dirs=[paths.user_providers_dir()])
    assert "my-box" in catalog.providers and not catalog.problems
    assert dlg.provider_combo.findData("my-box") >= 0


def test_adding_a_provider_refuses_bad_input_in_plain_words(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine
) -> None:
    dlg = _dialog(qtbot, engine, "euri")
    dlg.new_name.setText("Euri")
    dlg.new_base_url.setText("https://x.example.com/v1")
    assert dlg.add_provider() is None
    assert "built-in provider" in dlg.add_message.text()
    dlg.new_id.setText("mine")
    dlg.new_base_url.setText("https://x.example.com/v1?api_key=abc")
    assert dlg.add_provider() is None
    assert "carry a key" in dlg.add_message.text()
    dlg.new_base_url.setText("x.example.com")
    assert dlg.add_provider() is None
    assert "http://" in dlg.add_message.text()
    assert not (paths.user_providers_dir() / "mine.toml").exists()


def test_provider_toml_round_trips() -> None:
    data = {
        "id": "a",
        "name": 'Q "uote" \\ ü',
        "auth": {"scheme": "none"},
        "params": [{"name": "x", "type": "json", "help": "H.", "default": {"k": [1, 2.5, True]}}],
    }
    assert tomllib.loads(provider_toml(data)) == data


def test_every_focusable_control_has_an_accessible_name(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine
) -> None:
    from PySide6.QtWidgets import QWidget

    dlg = _dialog(qtbot, engine, "euri")
    for widget in dlg.findChildren(QWidget):
        if widget.window() is not dlg:
            continue  # combo popups belong to their combo
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and not widget.inherits("QTabBar"):
            assert widget.accessibleName(), f"{type(widget).__name__} {widget.objectName()}"


def test_clicking_test_runs_the_check_on_the_qasync_loop(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, emu: Emulator, arun: Callable[..., Any]
) -> None:
    from tests.ui.conftest import wait_for

    settings = Settings(base_urls={"euri": emu.base_url("euri")})
    dlg = _dialog(qtbot, engine, "euri", settings)
    memory.entries[("parley", "euri")] = emu.key("euri")  # the stored key is tested

    async def scenario() -> None:
        with qtbot.waitSignal(dlg.test_finished, timeout=20000) as blocker:
            qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: not dlg._tasks, what="the test task to finish")
        assert blocker.args[0] is True

    arun(scenario())
    assert dlg.message_label.text().startswith("Key works — ")


def test_closing_the_dialog_mid_test_cancels_it_cleanly(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, emu: Emulator, arun: Callable[..., Any]
) -> None:
    import asyncio

    from tests.helpers.emulator import Behavior
    from tests.ui.conftest import wait_for

    emu.push(Behavior(text="hi", first_byte_delay=5.0), provider="eurouter")
    settings = Settings(base_urls={"eurouter": emu.base_url("eurouter")})
    dlg = KeysDialog(load_catalog().providers.values(), engine, KeyStore(), settings, "eurouter")
    memory.entries[("parley", "eurouter")] = emu.key("eurouter")
    dlg.model_edit.setText("slow-model")
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    quits = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # as the app does: closing a dialog never quits
    dlg.open()

    async def scenario() -> None:
        dlg.test_button.click()
        await wait_for(
            lambda: any(r.path.endswith("/chat/completions") for r in emu.requests),
            what="the test request to reach the server",
        )
        tasks = list(dlg._tasks)
        dlg.reject()  # closing cancels the running test
        dlg.deleteLater()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(t.cancelled() for t in tasks)

    try:
        arun(scenario())
    finally:
        app.setQuitOnLastWindowClosed(quits)


@pytest.mark.parametrize("provider_id", ["llamacpp", "vllm", "openai-compatible"])
def test_a_provider_whose_key_is_optional_says_it_needs_none(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, provider_id: str
) -> None:
    dlg = _dialog(qtbot, engine, provider_id)
    text = dlg.status_label.text()
    assert "needs no key" in text and "No key yet" not in text
    assert dlg.key_edit.isEnabled()  # one can still be given, for a server started with one


def test_a_provider_added_without_a_key_does_not_require_one(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine
) -> None:
    dlg = _dialog(qtbot, engine, "euri")
    dlg.new_name.setText("Local Box")
    dlg.new_base_url.setText("http://127.0.0.1:9/v1")
    spec = dlg.add_provider()
    assert spec is not None
    assert spec.auth.scheme is AuthScheme.BEARER  # Auth left at its default
    assert not spec.auth.required and not spec.models.needs_auth
    dlg.provider_combo.setCurrentIndex(dlg.provider_combo.findData("local-box"))
    assert "needs no key" in dlg.status_label.text()


def _whole(label: Any) -> bool:
    return label.height() >= label.heightForWidth(label.width())


@pytest.fixture(params=[9, 11, 14], ids=lambda p: f"{p}pt")
def font_points(request: pytest.FixtureRequest) -> Iterator[int]:
    """The window's font size (a setting; 11 by default)."""
    from PySide6.QtGui import QFont

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = QFont(app.font())
    font = QFont(before)
    font.setPointSize(request.param)
    app.setFont(font)
    yield request.param
    app.setFont(before)


@pytest.mark.parametrize("size", ["minimum", "default"])
def test_the_add_tab_fits_at_the_minimum_and_default_sizes(
    qtbot: QtBot, memory: MemoryKeyring, engine: Engine, size: str, font_points: int
) -> None:
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QScrollArea

    dlg = _dialog(qtbot, engine, "euri")
    dlg.tabs.setCurrentIndex(1)
    if size == "minimum":
        dlg.resize(dlg.minimumSize())
    qtbot.waitUntil(lambda: dlg.add_button.isVisible())

    def place(widget: Any) -> QRect:
        return QRect(widget.mapTo(dlg, widget.rect().topLeft()), widget.size())

    def check() -> None:
        QApplication.processEvents()
        assert not place(dlg.add_button).intersects(place(dlg.new_models))
        assert place(dlg.add_button).top() >= place(dlg.new_models).bottom()
        assert _whole(dlg.add_intro) and _whole(dlg.add_message)
        scroll = dlg.findChild(QScrollArea)
        assert scroll is not None and not scroll.verticalScrollBar().isVisible()

    check()
    dlg.new_name.setText("A Box With A Rather Long Name For Its Path")
    dlg.new_base_url.setText("http://127.0.0.1:8081/v1")
    assert dlg.add_provider() is not None
    assert "Saved" in dlg.add_message.text()
    check()  # what saving said is shown whole, and the intro still is

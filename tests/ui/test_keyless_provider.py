"""A provider added in the Keys dialog without a key (Auth left at its default) just works in
the window: its models are listed and Send goes out without a key. An empty model list says
why in the model picker, and a missing key is said once."""

from __future__ import annotations

import socket
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from parley.core.app import paths
from parley.core.providers.catalog import AuthScheme, load_catalog
from parley.ui.mainwindow import Services
from tests.helpers.emulator import Emulator
from tests.ui.conftest import chat, close, opened, wait_for


def _add_keyless(qtbot: QtBot, window: Any, name: str, base_url: str) -> Any:
    dialog: Any = window.open_keys()
    dialog.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dialog.new_name, name)
    dialog.new_base_url.setText(base_url)
    assert dialog.new_auth.currentData() == AuthScheme.BEARER.value  # left at its default
    assert dialog.new_key.text() == ""
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    return dialog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_keyless_provider_added_in_the_keys_dialog_lists_models_and_sends(
    qapp: QApplication, qtbot: QtBot, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.no_auth.add("my-box")  # a server that takes no key, like a local llama.cpp

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            dialog = _add_keyless(qtbot, window, "My Box", emu.base_url("my-box"))
            assert "Saved My Box" in dialog.add_message.text()
            await wait_for(lambda: window.pickers.provider_id() == "my-box", what="the provider")
            combo = window.pickers.model_combo
            await wait_for(lambda: combo.count() > 0, what="the listed models")
            listed = [combo.itemText(i) for i in range(combo.count())]
            models = [r for r in emu.requests if r.path.endswith("/my-box/v1/models")]
            assert models and "authorization" not in {k.lower() for k in models[-1].headers}
            assert window.pickers.empty_list_reason() == ""
            dialog.close()
            answer = await chat(window, "hello, box")
            assert answer.status == "complete", answer.message_text()
            assert "hello, box" in answer.message_text()
            sent = emu.chat_requests("my-box")
            assert len(sent) == 1 and sent[0].json["model"] == listed[0]
            assert "authorization" not in {k.lower() for k in sent[0].headers}
            assert "no API key" not in window.composer.notice.text()
            assert not window.banner.isVisible() or "no API key" not in window.banner.label.text()
        finally:
            await close(window)

    arun(scenario())


def test_an_empty_model_list_says_why_in_the_model_picker(
    qapp: QApplication, qtbot: QtBot, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.no_auth.add("empty-box")
    emu.set_models("empty-box", {"object": "list", "data": []})
    # As an earlier Keys dialog wrote them: a key required, also to list the models.
    folder = paths.user_providers_dir()
    folder.mkdir(parents=True)
    (folder / "keyed-box.toml").write_text(
        'id = "keyed-box"\nname = "Keyed Box"\nbase_url = "' + emu.base_url("keyed-box") + '"\n'
        "[auth]\nrequired = true\n[models]\nneeds_auth = true\n",
        encoding="utf-8",
    )
    services.catalog = load_catalog(user_dirs=[folder])

    async def scenario() -> None:
        window = await opened(qapp, services)
        pickers = window.pickers
        placeholder = pickers.model_combo.lineEdit().placeholderText
        try:
            # The server answers with no model.
            _add_keyless(qtbot, window, "Empty Box", emu.base_url("empty-box")).close()
            await wait_for(lambda: pickers.empty_list_reason() != "", what="the reason")
            assert pickers.model_combo.count() == 0
            assert placeholder() == "No models: server listed none"
            assert "empty model list" in pickers.empty_list_reason()
            # Nothing listens at the address.
            down = f"http://127.0.0.1:{_free_port()}/v1"
            _add_keyless(qtbot, window, "Down Box", down).close()
            await wait_for(lambda: pickers.provider_id() == "down-box", what="the provider")
            await wait_for(lambda: "unreachable" in placeholder(), what="the unreachable reason")
            assert "Could not list the models of Down Box" in pickers.empty_list_reason()
            # A provider that lists its models only with a key, and has none.
            window.set_provider("keyed-box")
            await wait_for(lambda: "add a key" in placeholder(), what="the no-key reason")
            assert pickers.model_combo.count() == 0
            assert "only with a key" in pickers.empty_list_reason()
        finally:
            await close(window)

    arun(scenario())


def test_a_missing_key_is_said_once_with_the_way_to_the_key_settings(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            services.keys.delete("euri")
            window.composer.set_draft("no key here")
            window.composer.request_send()
            await wait_for(lambda: window.banner.isVisible(), what="the banner")
            assert "There is no API key for" in window.banner.label.text()
            assert not window.composer.notice.isVisible()
            assert window.composer.draft() == "no key here"  # the prompt is kept
            assert emu.chat_requests() == []
        finally:
            await close(window)

    arun(scenario())

"""The real main window against the loopback emulator: what a user does, end to end.

The providers' base URLs point at the emulator (as a user would set them in Keys…); the key is
kept in the key store for this session only (no keyring needed), and afterwards the data folder
(PARLEY_HOME) is searched for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from parley.core.app.secrets import KeyStore
from parley.core.app.settings import Settings
from parley.core.protocol.request import ImagePart
from parley.core.providers.catalog import load_catalog
from parley.core.store import Store
from parley.net.engine import Engine, RetryPolicy
from parley.ui.keys_dialog import KeysDialog
from parley.ui.mainwindow import MainWindow, Services
from parley.ui.message_widgets import AssistantMessageWidget, UserMessageWidget
from tests.helpers.emulator import Behavior, Emulator
from tests.helpers.images import PNG_BASE64 as PNG
from tests.ui.conftest import answers, close, opened, wait_for

PROVIDERS = ("euri", "adaptive-engine")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def services(emu: Emulator, parley_home: Path) -> Iterator[Services]:
    keys = KeyStore()
    for pid in PROVIDERS:
        keys.set(pid, emu.key(pid), session_only=True)
    settings = Settings(
        first_run_done=True,
        last_provider="euri",
        last_model="gpt-4o-mini",
        base_urls={pid: emu.base_url(pid) for pid in PROVIDERS},
    )
    store = Store.open()
    engine = Engine(retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=5.0))
    yield Services(load_catalog(), settings, store, engine=engine, keys=keys)
    for pid in PROVIDERS:
        keys.delete(pid)


def users(window: MainWindow) -> list[UserMessageWidget]:
    return [w for w in window.chat.messages() if isinstance(w, UserMessageWidget)]


async def type_and_send(window: MainWindow, text: str) -> None:
    edit = window.composer.edit
    edit.setFocus()
    QTest.keyClicks(edit, text)
    QTest.keyClick(edit, Qt.Key.Key_Return)
    await wait_for(lambda: not edit.toPlainText(), what="the composer to accept the message")


async def answered(window: MainWindow, count: int) -> AssistantMessageWidget:
    await wait_for(
        lambda: len(answers(window)) >= count and answers(window)[-1].status != "streaming",
        timeout=15,
        what=f"answer {count} to finish",
    )
    await wait_for(lambda: not window.is_streaming(), what="the stream task to end")
    return answers(window)[-1]


def test_chat_stream_stop_regenerate_edit_and_branches(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator, parley_home: Path
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            # Choose the provider and model in the pickers, set a parameter in the panel.
            window.provider_combo.setCurrentIndex(window.provider_combo.findData("euri"))
            window.model_combo.setEditText("gpt-4.1-nano")
            window.panel.field("temperature").set_value(0.25)

            emu.push(Behavior(text="Hello! Here is **bold** text."), provider="euri")
            await type_and_send(window, "Hi there")
            first = await answered(window, 1)
            assert first.status == "complete"
            assert first.text() == "Hello! Here is **bold** text."
            body = emu.chat_requests("euri")[0].json
            assert body["model"] == "gpt-4.1-nano" and body["temperature"] == 0.25
            assert body["messages"] == [{"role": "user", "content": "Hi there"}]
            assert window.sidebar.titles() == ["Hi there"]

            # A long, slow answer: watch it arrive, then stop it with Esc.
            emu.push(
                Behavior(text="streaming words " * 300, chunk_chars=8, chunk_delay=0.01),
                provider="euri",
            )
            await type_and_send(window, "Tell me a long story")
            await wait_for(
                lambda: len(answers(window)) == 2 and len(answers(window)[1].text()) > 40,
                what="the second answer to stream in",
            )
            grown = len(answers(window)[1].text())
            await wait_for(lambda: len(answers(window)[1].text()) > grown, what="more tokens")
            assert window.composer.stop_button.isVisible()
            QTest.keyClick(window.composer.edit, Qt.Key.Key_Escape)
            stopped = await answered(window, 2)
            assert stopped.status == "stopped"
            partial = stopped.text()
            assert 40 < len(partial) < len("streaming words " * 300)
            conv = window.conversation_id
            assert conv is not None
            saved = window.store.current_path(conv)[-1]
            assert (saved.status, saved.text) == ("stopped", partial)

            # Regenerate: a second branch of the answer, shown as 2/2.
            emu.push(Behavior(text="A shorter story."), provider="euri")
            stopped.regenerate_button.click()
            regenerated = await answered(window, 2)
            assert regenerated.text() == "A shorter story."
            assert regenerated.branch_switcher.label.text() == "2/2"
            sent = emu.chat_requests("euri")[-1].json["messages"]
            assert [m["content"] for m in sent] == [
                "Hi there",
                "Hello! Here is **bold** text.",
                "Tell me a long story",
            ]

            # Back to branch 1/2: the stopped answer is shown again.
            regenerated.branch_switcher.prev_button.click()
            await wait_for(lambda: answers(window)[-1].text() == partial, what="branch 1")
            assert answers(window)[-1].branch_switcher.label.text() == "1/2"

            # Edit & resend the first prompt: a new branch of the whole conversation.
            emu.push(Behavior(text="Hello again."), provider="euri")
            first_user = users(window)[0]
            first_user.start_edit()
            assert first_user.editor is not None
            first_user.editor.setPlainText("Hi there, edited")
            QTest.keyClick(
                first_user.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
            )
            await wait_for(lambda: len(window.chat.messages()) == 2, what="the edited branch")
            edited = await answered(window, 1)
            assert edited.text() == "Hello again."
            assert users(window)[0].message_text() == "Hi there, edited"
            assert users(window)[0].branch_switcher.label.text() == "2/2"
            assert emu.chat_requests("euri")[-1].json["messages"] == [
                {"role": "user", "content": "Hi there, edited"}
            ]
        finally:
            await close(window)

    arun(scenario())


def test_401_shows_an_error_card_whose_action_opens_the_key_settings(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    services.keys.set("euri", "not-the-right-key-0123456789", session_only=True)

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            await type_and_send(window, "Hello?")
            card = await answered(window, 1)
            assert card.status == "failed"
            assert card.error_card.isVisible() and card.keys_button.isVisible()
            assert "not-the-right-key" not in card.error_message.text()
            card.keys_button.click()
            await wait_for(
                lambda: any(isinstance(d, KeysDialog) and d.isVisible() for d in window._dialogs),
                what="the key settings to open",
            )
            dialog = next(d for d in window._dialogs if isinstance(d, KeysDialog))
            assert dialog.current_spec().id == "euri"
            dialog.close()
            assert users(window)[0].message_text() == "Hello?"  # the prompt is kept
        finally:
            await close(window)

    arun(scenario())


def test_429_shows_a_countdown_then_retries_by_itself(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.push(Behavior(status=429, headers={"Retry-After": "2"}), provider="euri")
    emu.push(Behavior(text="Worth the wait."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            await type_and_send(window, "Busy?")
            await wait_for(lambda: len(answers(window)) == 1, what="the answer card")
            card = answers(window)[0]
            await wait_for(lambda: "retrying in" in card.badge.text(), what="countdown")
            assert card.badge.text().startswith("Rate limited (429), retrying in")
            of = services.engine.retry.max_attempts
            assert card.badge.text().endswith(f"(attempt 2 of {of})")
            done = await answered(window, 1)
            assert done.status == "complete" and done.text() == "Worth the wait."
            assert "retrying" not in done.badge.text()
            assert len(emu.chat_requests("euri")) == 2
        finally:
            await close(window)

    arun(scenario())


def test_an_attached_image_reaches_the_request_as_a_data_uri(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.set_provider("adaptive-engine", "my-project")
            window.composer.add_attachment(ImagePart(mime="image/png", data=PNG, name="dot.png"))
            await type_and_send(window, "What is in this picture?")
            await answered(window, 1)
            assert window.composer.attachments() == []
            body = emu.chat_requests("adaptive-engine")[0].json
            content = body["messages"][-1]["content"]
            urls = [p["image_url"]["url"] for p in content if p.get("type") == "image_url"]
            assert urls == [f"data:image/png;base64,{PNG}"]
            assert users(window)[0].images and users(window)[0].images[0].data == PNG
        finally:
            await close(window)

    arun(scenario())


def test_closing_mid_stream_saves_the_partial_answer_and_shuts_down_in_order(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator, parley_home: Path
) -> None:
    emu.push(Behavior(text="slow " * 500, chunk_chars=5, chunk_delay=0.01), provider="euri")

    async def scenario() -> int:
        window = await opened(qapp, services)
        await type_and_send(window, "Keep talking")
        await wait_for(
            lambda: bool(answers(window)) and len(answers(window)[0].text()) > 20,
            what="tokens to arrive",
        )
        conv = window.conversation_id
        assert conv is not None
        await close(window)
        assert not window.isVisible()
        assert len(window.tasks) == 0
        assert services.engine._client is None  # the HTTP client is closed
        await wait_for(lambda: emu.active_streams == 0, what="the server to see the stream end")
        return conv

    conv = arun(scenario())
    store = Store.open()
    try:
        answer = store.current_path(conv)[-1]
        assert answer.status == "stopped"
        assert answer.text.startswith("slow slow") and len(answer.text) < len("slow " * 500)
    finally:
        store.close()


def test_the_key_is_nowhere_in_the_data_folder(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator, parley_home: Path
) -> None:
    emu.push(Behavior(text="Noted."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.panel.field("temperature").set_value(0.5)
            await type_and_send(window, "Remember nothing secret")
            await answered(window, 1)
            window.save_preset("careful")
        finally:
            await close(window)

    arun(scenario())
    key = emu.key("euri").encode()
    files = [p for p in parley_home.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".sqlite3") for p in files)
    assert any(p.name == "settings.json" for p in files)
    for path in files:
        data = path.read_bytes()
        assert key not in data, f"the key was written to {path}"
        assert key[: len(key) // 2] not in data, f"half the key was written to {path}"


def test_shortcuts_and_accessible_names(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit

            controls = [
                w
                for cls in (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit)
                for w in window.findChildren(cls)
            ]
            unnamed = [
                f"{type(w).__name__}:{w.objectName()}:{getattr(w, 'text', lambda: '')()}"
                for w in controls
                if w.isVisibleTo(window)
                and not w.accessibleName()
                and not (isinstance(w, QLineEdit) and isinstance(w.parent(), QComboBox))
            ]
            assert unnamed == []
            # Ctrl+F focuses the search; typing searches the history.
            QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
            assert window.sidebar.search.hasFocus()
            # Ctrl+K opens the quick switcher.
            QTest.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
            await wait_for(
                lambda: any(
                    d.isVisible() and d.accessibleName() == "Quick switcher"
                    for d in window._dialogs
                ),
                what="the quick switcher",
            )
            for d in list(window._dialogs):
                d.close()

            # Esc stops a stream from anywhere in the window; Ctrl+N starts a new chat.
            emu.push(Behavior(text="word " * 400, chunk_chars=5, chunk_delay=0.01), provider="euri")
            await type_and_send(window, "Go on and on")
            await wait_for(lambda: answers(window) and answers(window)[0].text(), what="tokens")
            window.activateWindow()  # the closed switcher took activation with it
            await wait_for(lambda: QApplication.activeWindow() is window, what="activation")
            window.sidebar.list.setFocus()
            QTest.keyClick(window, Qt.Key.Key_Escape)
            stopped = await answered(window, 1)
            assert stopped.status == "stopped"
            QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
            assert window.conversation_id is None and window.chat.messages() == []
            assert window.composer.edit.hasFocus()
        finally:
            await close(window)

    arun(scenario())


@pytest.mark.keyring
def test_a_key_saved_in_the_real_keyring_is_used_and_never_written_to_disk(
    qapp: QApplication, arun: Any, emu: Emulator, parley_home: Path
) -> None:
    import uuid

    from keyring.backends import SecretService

    from tests.keyring_support import purge_service

    service = f"parley-test-{uuid.uuid4().hex[:8]}"
    keys = KeyStore(service=service, backend=SecretService.Keyring())
    try:
        assert keys.set("euri", emu.key("euri")).origin == "keyring"
        settings = Settings(
            first_run_done=True,
            last_provider="euri",
            last_model="gpt-4o-mini",
            base_urls={"euri": emu.base_url("euri")},
        )
        services = Services(load_catalog(), settings, Store.open(), keys=keys)
        emu.push(Behavior(text="From the keyring."), provider="euri")

        async def scenario() -> None:
            window = await opened(qapp, services)
            try:
                await type_and_send(window, "Hello")
                done = await answered(window, 1)
                assert done.text() == "From the keyring."
                assert window.self_test_report().keyring == "Secret Service"
            finally:
                await close(window)

        arun(scenario())
        sent = emu.chat_requests("euri")[-1]
        assert sent.headers["authorization"] == f"Bearer {emu.key('euri')}"
        key = emu.key("euri").encode()
        for path in (p for p in parley_home.rglob("*") if p.is_file()):
            assert key not in path.read_bytes(), f"the key was written to {path}"
    finally:
        purge_service(service)

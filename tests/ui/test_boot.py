"""The first frame (parley.ui.boot): shown from plain data, takes input at once, and hands
everything the user did meanwhile to the full window when it takes over."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QListWidgetItem

from parley.core.app.bootstate import BootConversation, BootState
from parley.core.protocol.request import ImagePart
from parley.core.store import Store
from parley.ui.boot import BootWindow
from parley.ui.mainwindow import MainWindow, Services
from parley.ui.sidebar import ID_ROLE
from tests.helpers.emulator import Behavior, Emulator
from tests.helpers.images import PNG_BASE64 as PNG
from tests.ui.conftest import answers, wait_for


@pytest.fixture
def store(services: Services) -> Iterator[Store]:
    yield services.store
    services.store.close()  # also when no window took it over (and closed it)


def state_of(store: Store, **kw: Any) -> BootState:
    rows = tuple(
        BootConversation(c.id, c.title or "New chat", c.pinned, c.updated_at)
        for c in store.list_conversations(limit=50)
    )
    base: dict[str, Any] = dict(
        provider_id="euri", provider_name="Euron EURI", model="gpt-4o-mini", conversations=rows
    )
    base.update(kw)
    return BootState(**base)


def frame_for(qtbot: Any, state: BootState) -> BootWindow:
    frame = BootWindow(state)
    qtbot.addWidget(frame)
    frame.resize(1100, 700)
    frame.present()
    qtbot.waitUntil(lambda: frame.interactive_at is not None, timeout=5000)
    return frame


async def shut(frame: BootWindow) -> None:
    if frame.main is not None:
        frame.close()
        await frame.main.wait_closed()
        await frame.main.shutdown()


def test_the_first_frame_shows_the_saved_state_and_takes_typing(qtbot: Any, store: Store) -> None:
    first = store.create_conversation(title="About tokens")
    store.create_conversation(title="Prices")
    store.set_pinned(first, True)
    frame = frame_for(
        qtbot, state_of(store, send_key="ctrl_enter", panel_visible=False, model="gpt-4o")
    )
    top = frame.parts.top_bar
    assert top.provider_combo.currentText() == "Euron EURI"
    assert top.provider_combo.currentData() == "euri"
    assert top.model_combo.currentText() == "gpt-4o"
    assert frame.parts.sidebar.titles() == ["📌 About tokens", "Prices"]
    assert frame.parts.composer.send_key == "ctrl_enter"
    assert not frame.parts.panel.isVisible() and not top.panel_button.isChecked()

    QTest.keyClicks(frame.parts.composer.edit, "typed at once")
    assert frame.parts.composer.draft() == "typed at once"


def test_the_full_window_takes_over_with_what_was_typed_attached_and_searched(
    qtbot: Any, arun: Any, services: Services, store: Store
) -> None:
    frame = frame_for(qtbot, state_of(store))
    old = frame.parts
    old.composer.set_draft("Hello there, model")
    cursor = old.composer.edit.textCursor()
    cursor.setPosition(5)
    old.composer.edit.setTextCursor(cursor)
    old.composer.add_attachment(ImagePart(mime="image/png", data=PNG, name="dot.png"))
    old.system_prompt.set_text("Answer in French.")
    old.sidebar.search.setText("tok")
    old.top_bar.panel_button.setChecked(False)

    async def scenario() -> None:
        window = frame.take_over(services)
        try:
            assert isinstance(window, MainWindow) and not window.isWindow()
            assert frame.centralWidget() is window and window.isVisible()
            assert window.composer.draft() == "Hello there, model"
            assert window.composer.edit.textCursor().position() == 5
            assert [a.name for a in window.composer.attachments()] == ["dot.png"]
            assert window.system_prompt.text() == "Answer in French."
            assert window.sidebar.search.text() == "tok"
            assert not window.panel_button.isChecked()
            assert window.provider_combo.count() >= 5  # the full catalog now
            window.setWindowTitle("Renamed — Parley")
            assert frame.windowTitle() == "Renamed — Parley"
        finally:
            await shut(frame)
        assert not frame.isVisible()

    arun(scenario())


def test_a_send_asked_for_in_the_first_frame_goes_out_when_the_window_takes_over(
    qtbot: Any, arun: Any, services: Services, store: Store, emu: Emulator
) -> None:
    emu.push(Behavior(text="Bonjour."), provider="euri")
    frame = frame_for(qtbot, state_of(store))
    frame.parts.composer.set_draft("Say hello")
    frame.parts.composer.request_send()
    frame.parts.composer.request_send()  # pressed twice while starting: still one message
    assert frame.parts.composer.draft() == "Say hello"  # kept until the send goes out
    assert frame.parts.composer.notice.isVisibleTo(frame)
    assert frame.intents() == [("send", ())]

    async def scenario() -> None:
        window = frame.take_over(services)
        try:
            await wait_for(
                lambda: answers(window) and answers(window)[-1].status == "complete",
                what="the answer",
            )
            assert answers(window)[-1].text() == "Bonjour."
            assert window.composer.draft() == ""
            sent = emu.chat_requests("euri")
            assert len(sent) == 1 and sent[0].json["messages"][-1]["content"] == "Say hello"
        finally:
            await shut(frame)

    arun(scenario())


def test_a_conversation_clicked_in_the_first_frame_opens_in_the_full_window(
    qtbot: Any, arun: Any, services: Services, store: Store
) -> None:
    wanted = store.create_conversation(title="The one I want")
    store.create_conversation(title="Another")
    frame = frame_for(qtbot, state_of(store))
    items = [frame.parts.sidebar.list.item(i) for i in range(frame.parts.sidebar.list.count())]
    target: QListWidgetItem = next(i for i in items if i.data(ID_ROLE) == str(wanted))
    frame.parts.sidebar.list.itemClicked.emit(target)
    frame.parts.top_bar.keys_button.click()
    assert frame.intents() == [("open", (wanted,)), ("keys", ())]

    async def scenario() -> None:
        window = frame.take_over(services)
        try:
            assert window.conversation_id == wanted
            assert frame.windowTitle().startswith("The one I want")
            assert any(type(d).__name__ == "KeysDialog" for d in window._dialogs)
        finally:
            await shut(frame)

    arun(scenario())


def test_the_load_runs_off_the_gui_thread_and_reports_back_on_it(qtbot: Any) -> None:
    frame = frame_for(qtbot, BootState())
    threads: list[str] = []
    results: list[str] = []
    interval = sys.getswitchinterval()

    def load() -> Any:
        threads.append(threading.current_thread().name)
        time.sleep(0.05)
        return "services"

    frame.when_loaded(lambda: results.append(threading.current_thread().name))
    frame.start_loading(load)  # type: ignore[arg-type]
    assert sys.getswitchinterval() < interval  # the GUI thread gets the GIL back sooner
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert threads == ["parley-load"]
    assert results == [threading.main_thread().name]
    assert frame.services == "services"
    assert sys.getswitchinterval() == interval


def test_a_failed_load_is_shown_and_what_was_typed_stays(qtbot: Any) -> None:
    frame = frame_for(qtbot, BootState())
    QTest.keyClicks(frame.parts.composer.edit, "my long prompt")

    def load() -> Any:
        raise RuntimeError("the provider files could not be read")

    frame.start_loading(load)
    qtbot.waitUntil(lambda: frame.load_error is not None, timeout=5000)
    assert frame.parts.banner.isVisible()
    assert "the provider files could not be read" in frame.parts.banner.label.text()
    assert frame.parts.composer.draft() == "my long prompt"


def test_closing_the_first_frame_is_remembered_for_app_to_quit(qtbot: Any) -> None:
    frame = frame_for(qtbot, BootState())
    frame.close()
    assert frame.close_requested and not frame.isVisible()


def test_quitting_from_the_full_window_inside_the_frame_shuts_down_and_closes_the_frame(
    qtbot: Any, arun: Any, services: Services, store: Store
) -> None:
    frame = frame_for(qtbot, state_of(store))

    async def scenario() -> None:
        window = frame.take_over(services)
        window.menus.quit.trigger()  # Quit: the window closes, not just a part
        await window.wait_closed()
        await window.shutdown()
        assert not frame.isVisible() and not window.isVisible()
        assert window._shut_down

    arun(scenario())


def test_a_delete_and_a_model_from_the_first_frame_reach_the_full_window(
    qtbot: Any, arun: Any, services: Services, store: Store
) -> None:
    gone = store.create_conversation(title="Delete me")
    kept = store.create_conversation(title="Keep me (undone)")
    frame = frame_for(qtbot, state_of(store))
    sidebar = frame.parts.sidebar
    sidebar.delete(str(kept))
    sidebar.undo_bar.undo.emit()  # undone while still starting: nothing to replay
    sidebar.delete(str(gone))
    frame.parts.top_bar.model_combo.setEditText("gpt-4.1-nano")
    assert frame.intents() == [("delete", (str(gone),))]

    async def scenario() -> None:
        window = frame.take_over(services)
        try:
            assert window.model() == "gpt-4.1-nano"
            assert "Delete me" not in window.sidebar.titles()
            assert "Keep me (undone)" in window.sidebar.titles()
            assert window.sidebar.undo_bar.isVisibleTo(window)  # still undoable
            window.sidebar.flush()  # the undo bar expires: the delete is final
            assert [c.id for c in store.list_conversations()] == [kept]
        finally:
            await shut(frame)

    arun(scenario())

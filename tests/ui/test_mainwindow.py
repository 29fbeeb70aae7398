"""The main window's own behaviour: sidebar (rename, pin, delete with undo, search and jump),
drafts per chat, system prompt, presets, settings applied, store errors, continue, shutdown.

A real store in the test's PARLEY_HOME; where a provider answers, the real engine talks to the
loopback emulator.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from parley.core.app.settings import Preset, load_settings
from parley.core.store import Store
from parley.ui.mainwindow import Services, open_main_window
from parley.ui.params.pickers import model_details
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import answers, chat, close, opened, wait_for


def test_sidebar_rename_pin_delete_and_undo(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    store = services.store
    ids = [store.create_conversation(title=t) for t in ("alpha chat", "beta chat", "gamma chat")]
    for cid in ids:
        store.add_message(cid, None, "user", "hello")

    async def scenario() -> None:
        window = await opened(qapp, services)
        sb = window.sidebar
        try:
            assert sb.titles() == ["gamma chat", "beta chat", "alpha chat"]
            sb.rename_requested.emit(str(ids[0]), "renamed alpha")
            sb.pin_requested.emit(str(ids[0]), True)
            assert sb.titles() == ["📌 renamed alpha", "gamma chat", "beta chat"]
            assert store.get_conversation(ids[0]).pinned

            window.open_conversation(ids[1])
            sb.delete(str(ids[1]))
            assert sb.titles() == ["📌 renamed alpha", "gamma chat"]
            assert sb.undo_bar.isVisible()
            assert window.conversation_id is None  # the open chat went away with it
            sb.undo_bar._button.click()
            assert sb.titles() == ["📌 renamed alpha", "gamma chat", "beta chat"]
            assert store.get_conversation(ids[1]).title == "beta chat"

            sb.delete(str(ids[2]))
            sb.flush()  # the undo bar expires: the delete is final
            assert sb.titles() == ["📌 renamed alpha", "beta chat"]
            assert [c.id for c in store.list_conversations()] == [ids[0], ids[1]]
            assert store.purge_deleted() == 0  # already removed for good
        finally:
            await close(window)

    arun(scenario())


def test_search_highlights_matches_and_jumps_to_the_message_on_its_branch(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    store = services.store
    conv = store.create_conversation(title="Travel")
    u1 = store.add_message(conv, None, "user", "Plan a trip to Lisbon")
    a1 = store.begin_answer(conv, u1, {}, "euri", "m")
    store.finish_answer(a1, text="Visit the tram 28 and the pastel de nata bakeries.")
    a2 = store.begin_answer(conv, u1, {}, "euri", "m")  # a second branch, now shown
    store.finish_answer(a2, text="Lisbon has seven hills.")
    other = store.create_conversation(title="Other")
    store.add_message(other, None, "user", "Unrelated")

    async def scenario() -> None:
        window = await opened(qapp, services)
        sb = window.sidebar
        try:
            QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
            assert sb.search.hasFocus()
            QTest.keyClicks(sb.search, "pastel")
            await wait_for(lambda: sb.list.count() == 1, what="search results")
            item = sb.list.item(0)
            assert "<b><u>pastel</u></b>" in item.data(Qt.ItemDataRole.UserRole + 2)
            assert "1 match" in sb.status.text()
            sb.list.itemActivated.emit(item)
            await wait_for(lambda: window.conversation_id == conv, what="the conversation")
            shown = [w.message_text() for w in window.chat.messages()]
            assert shown == ["Plan a trip to Lisbon", store.get_message(a1).text]
            assert window.chat.messages()[-1].branch_switcher.label.text() == "1/2"
            sb.search.clear()
            await wait_for(lambda: sb.titles() == ["Other", "Travel"], what="the full list")
        finally:
            await close(window)

    arun(scenario())


def test_drafts_and_system_prompts_stay_with_their_chat(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    store = services.store
    a = store.create_conversation(title="A", system_prompt="Answer in French.")
    store.add_message(a, None, "user", "hi")
    b = store.create_conversation(title="B")
    store.add_message(b, None, "user", "hi")
    emu.push(Behavior(text="Bonjour."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.open_conversation(a)
            assert window.system_prompt.text() == "Answer in French."
            window.composer.set_draft("half a thought about A")
            window.open_conversation(b)
            assert window.composer.draft() == ""
            assert window.system_prompt.text() == ""
            window.composer.set_draft("draft for B")
            window.new_chat()
            assert window.composer.draft() == ""
            window.composer.set_draft("a new chat's draft")
            window.open_conversation(a)
            assert window.composer.draft() == "half a thought about A"
            window.new_chat()
            assert window.composer.draft() == "a new chat's draft"
            window.open_conversation(b)
            assert window.composer.draft() == "draft for B"
            assert store.get_conversation(a).draft == "half a thought about A"

            # The system prompt is part of what is sent.
            window.open_conversation(a)
            window.composer.set_draft("")
            await chat(window, "Say hello")
            sent = emu.chat_requests("euri")[-1].json["messages"]
            assert sent[0] == {"role": "system", "content": "Answer in French."}
            assert sent[-1] == {"role": "user", "content": "Say hello"}
            window.system_prompt.edit.setPlainText("Answer in German.")
            window.open_conversation(b)
            assert store.get_conversation(a).system_prompt == "Answer in German."
        finally:
            await close(window)

    arun(scenario())


def test_continue_after_a_truncated_answer(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.push(Behavior(text="The beginning of", finish_reason="length"), provider="euri")
    emu.push(Behavior(text="the end."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            cut = await chat(window, "Write a story")
            assert cut.continue_button.isVisible()
            assert cut.badge.isVisible()
            # EURI cannot extend an answer: the button says what it does instead.
            assert cut.continue_button.text() == "Ask to continue"
            assert "a message of yours" in cut.continue_button.toolTip()
            window.set_provider("llamacpp")  # goes on from a final assistant message
            assert cut.continue_button.text() == "Continue"
            assert "the answer is extended" in cut.continue_button.toolTip()
            window.set_provider("euri")
            assert cut.continue_button.text() == "Ask to continue"
            cut.continue_button.click()
            await wait_for(lambda: len(answers(window)) == 2, what="the continuation")
            await wait_for(lambda: not window.is_streaming(), what="it to finish")
            assert answers(window)[-1].text() == "the end."
            sent = emu.chat_requests("euri")[-1].json["messages"]
            assert [m["role"] for m in sent] == ["user", "assistant", "user"]
            assert sent[1]["content"] == "The beginning of"
        finally:
            await close(window)

    arun(scenario())


def test_presets_settings_and_the_model_list(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator, parley_home: Path
) -> None:
    services.settings.presets = {
        "precise": Preset(params={"temperature": 0.1, "seed": 7}, advanced={"user": "x"})
    }

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            await wait_for(lambda: window.model_combo.count() > 0, what="the model list")
            ids = [window.model_combo.itemText(i) for i in range(window.model_combo.count())]
            assert "gpt-4o-mini" in ids
            window.apply_preset("precise")
            assert window.panel.values() == {"temperature": 0.1, "seed": 7}
            assert window.preset_combo.currentText() == "precise"
            window.panel.field("temperature").set_value(0.9)
            window.save_preset("warm")
            assert load_settings().presets["warm"].params["temperature"] == 0.9

            # Settings take effect: send key, font size, proxy (a new engine for new requests).
            s = services.settings
            s.send_key = "ctrl_enter"
            s.font_size = 14
            s.proxy = "http://127.0.0.1:9"
            old_engine = services.engine
            window.apply_settings(s)
            assert window.composer.send_key == "ctrl_enter"
            assert QApplication.font().pointSize() == 14
            assert services.engine is not old_engine and services.engine.proxy == s.proxy
        finally:
            await close(window)

    arun(scenario())


def test_model_details_say_context_and_price() -> None:
    from parley.core.providers.modellist import ModelInfo

    info = ModelInfo(
        id="m", context_length=128_000, prompt_price=0.15, completion_price=0.6, currency="USD"
    )
    assert model_details(info) == "128k context · $0.15 in / $0.6 out per 1M tokens"
    assert model_details(ModelInfo(id="m", context_length=4096)) == "4,096 context"
    assert model_details(None) == ""


def test_a_corrupt_history_still_opens_the_window_and_offers_the_choices(
    qapp: QApplication, arun: Any, parley_home: Path
) -> None:
    from parley.core.app.paths import database_path
    from parley.ui.mainwindow import load_services

    db = database_path()
    db.write_bytes(b"garbage, not sqlite" * 50)

    async def scenario() -> None:
        services = load_services()
        assert services.store_error is not None
        window = await open_main_window(qapp, services, first_run=False)
        try:
            assert window.isVisible()
            assert window.banner.isVisible()
            assert "damaged" in window.banner.label.text()
            assert window.banner.action_titles() == ["Move it aside and start fresh", "Try again"]
            window.banner.trigger("Move it aside and start fresh")
            assert "moved to" in window.banner.label.text()
            assert window.store.path == db and window.store.check() == []
            moved = [p for p in db.parent.iterdir() if p.name.startswith("parley.sqlite3.")]
            assert moved and moved[0].read_bytes() == b"garbage, not sqlite" * 50
        finally:
            await close(window)

    arun(scenario())


def test_the_first_run_guide_opens_on_a_first_start(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    services.settings.first_run_done = False

    async def scenario() -> None:
        window = await open_main_window(qapp, services)
        try:
            await wait_for(
                lambda: any(d.accessibleName() == "First-run guide" for d in window._dialogs),
                what="the first-run guide",
            )
        finally:
            await close(window)

    arun(scenario())


def test_a_new_send_in_a_chat_cancels_its_previous_stream(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.push(Behavior(text="slow " * 400, chunk_chars=5, chunk_delay=0.01), provider="euri")
    emu.push(Behavior(text="Fresh answer."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.composer.set_draft("first")
            window.composer.request_send()
            await wait_for(
                lambda: bool(answers(window)) and answers(window)[0].text(), what="tokens"
            )
            first_task = window.tasks.get(("stream", window.conversation_id))
            assert first_task is not None
            window.regenerate(answers(window)[0].msg_id)
            await wait_for(lambda: first_task.done(), what="the first stream to be cancelled")
            await wait_for(
                lambda: not window.is_streaming() and answers(window)[-1].text() == "Fresh answer.",
                what="the new answer",
            )
            conv = window.conversation_id
            assert conv is not None
            statuses = [m.status for m in services.store.messages(conv) if m.role == "assistant"]
            assert statuses == ["stopped", "complete"]
        finally:
            await close(window)

    arun(scenario())


def test_shutdown_is_ordered_and_idempotent(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        window.close()
        await window.wait_closed()
        await asyncio.gather(window.shutdown(), window.shutdown())
        assert not window.isVisible()
        with pytest.raises(Exception, match="closed"):
            services.store.list_conversations()
        assert services.engine._client is None

    arun(scenario())


def test_a_send_appends_to_the_view_without_rebuilding_the_branch(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    store = services.store
    conv = store.create_conversation(title="Long", provider="euri", model="gpt-4o-mini")
    parent = None
    for i in range(3):
        parent = store.add_message(conv, parent, "user", f"q{i}")
        answer = store.begin_answer(conv, parent, {}, "euri", "gpt-4o-mini")
        store.finish_answer(answer, text=f"a{i}")
        parent = answer
    emu.push(Behavior(text="a3"), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.open_conversation(conv)
            first = window.chat.messages()[0]
            await chat(window, "q3")
            shown = [w.message_text() for w in window.chat.messages()]
            assert shown == ["q0", "a0", "q1", "a1", "q2", "a2", "q3", "a3"]
            assert window.chat.messages()[0] is first  # appended, not rebuilt
            assert [m.text for m in store.current_path(conv)] == shown
        finally:
            await close(window)

    arun(scenario())


def test_a_locked_history_can_be_opened_read_only_and_sending_keeps_the_prompt(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    from parley.core.store import StoreError, StoreErrorKind

    real = services.store
    conv = real.create_conversation(title="Saved before")
    real.add_message(conv, None, "user", "old message")
    real.close()
    services.store = Store.open(":memory:")
    services.store_error = StoreError(StoreErrorKind.LOCKED, "The history database is busy.")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            assert window.banner.action_titles() == ["Open it read-only", "Try again"]
            window.banner.trigger("Open it read-only")
            assert window.store.read_only
            assert window.sidebar.titles() == ["Saved before"]
            window.open_conversation(conv)
            assert [w.message_text() for w in window.chat.messages()] == ["old message"]
            window.new_chat()
            window.composer.set_draft("this cannot be saved")
            window.composer.request_send()
            assert window.composer.notice.isVisible()
            assert "read-only" in window.composer.notice.text().lower()
            assert window.composer.draft() == "this cannot be saved"
        finally:
            await close(window)

    arun(scenario())


def test_the_settings_dialog_applies_and_saves(
    qapp: QApplication, arun: Any, services: Services, parley_home: Path
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            dialog: Any = window.open_settings()
            await wait_for(dialog.isVisible, what="the settings dialog")
            dialog.send_combo.setCurrentIndex(dialog.send_combo.findData("ctrl_enter"))
            assert dialog.apply()
            assert window.composer.send_key == "ctrl_enter"
            assert load_settings().send_key == "ctrl_enter"
            dialog.close()
        finally:
            await close(window)

    arun(scenario())


def test_a_long_model_hint_ends_in_an_ellipsis_and_shows_whole_on_hover(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            label = window.model_info
            label.setFixedWidth(90)
            hint = "Add a key (Keys…) to list the models."
            window._model_info.set(hint)
            assert label.text().endswith("…") and len(label.text()) < len(hint)
            assert label.toolTip() == hint
            label.setFixedWidth(900)  # room again: the whole text
            await wait_for(lambda: label.text() == hint, what="the whole hint")
        finally:
            await close(window)

    arun(scenario())


def test_ctrl_k_lists_the_configured_providers_models_first(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            await wait_for(lambda: window.model_combo.count() > 0, what="the model list")
            switcher: Any = window.open_switcher()
            ids = [pid for pid, _ in switcher.entries()]
            assert ids[0] == "euri"  # the current one, with a key
            unset = [
                switcher.list.item(i).text().endswith("(not set up)")
                for i in range(switcher.list.count())
            ]
            assert unset[0] is False and True in unset
            assert unset == sorted(unset)  # every set-up entry before every other
            adaptive = ids.index("adaptive-engine")  # first in the catalog, no key here
            assert unset[adaptive]
            switcher.close()
        finally:
            await close(window)

    arun(scenario())


def test_a_new_chat_starts_from_the_defaults_or_the_chosen_preset_and_says_which(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    services.settings.presets = {"precise": Preset(params={"temperature": 0.1}, advanced={})}

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.panel.set_values({"seed": 42, "max_tokens": 64, "stop": ["END"]}, {})
            await chat(window, "first chat")
            first = window.conversation_id
            assert first is not None
            window.new_chat()
            assert window.panel.values() == {}  # nothing carried over from the chat left
            notice = window.composer.notice
            assert notice.isVisible() and notice.is_news()
            assert notice.text() == "New chat with the default parameters (none set)."
            await chat(window, "second chat")
            assert not notice.isVisible()
            sent = emu.chat_requests("euri")[-1].json
            assert not {"seed", "max_tokens", "stop"} & set(sent)
            window.open_conversation(first)  # the first chat keeps its own
            await wait_for(lambda: window.panel.values().get("seed") == 42, what="its params")
            window.apply_preset("precise")
            window.new_chat()
            assert window.panel.values() == {"temperature": 0.1}
            assert notice.text() == "New chat with the preset “precise”."
        finally:
            await close(window)

    arun(scenario())

"""The menu bar, export and import in the window, and a message's fork and delete (issue 12:
what a new user looked for and did not find)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QTableWidget

from parley.ui.about_dialog import AboutDialog
from parley.ui.mainwindow import MainWindow, Services
from tests.helpers.emulator import Emulator
from tests.ui.conftest import chat, close, opened, wait_for


def _menu_texts(window: MainWindow) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for action in window.menuBar().actions():
        menu = action.menu()
        if menu is not None:
            entries = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
            out[action.text().replace("&", "")] = entries
    return out


def test_the_menu_bar_has_the_usual_entries_and_their_shortcuts_work(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            menus = _menu_texts(window)
            assert list(menus) == ["File", "Edit", "View", "Settings", "Help"]
            assert "A sweep in the Lab…" in menus["View"]
            assert menus["File"] == ["New chat", "Import chat…", "Export chat…", "Quit"]
            assert "Settings…" in menus["Settings"] and "Keys and providers…" in menus["Settings"]
            assert menus["Help"] == ["Keyboard shortcuts", "About Parley"]
            assert window.menus.new_chat.shortcut().toString() == "Ctrl+N"

            shown = window.panel_button.isChecked()
            QTest.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
            await wait_for(lambda: window.panel_button.isChecked() != shown, what="Ctrl+P")
            assert window.menus.parameters.isChecked() != shown  # one switch, two places
            assert window.settings.panel_visible != shown
            cid = services.store.create_conversation(title="Earlier")
            services.store.add_message(cid, None, "user", "hello")
            window.open_conversation(cid)
            assert window.conversation_id == cid
            QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
            await wait_for(lambda: window.conversation_id is None, what="Ctrl+N: a new chat")

            window.menus.shortcuts.trigger()
            dialog = window.dialogs.open_dialogs[-1]
            table = dialog.findChild(QTableWidget, "shortcutTable")
            assert table is not None
            keys = [table.item(i, 0).text() for i in range(table.rowCount())]
            assert {"Ctrl+N", "Ctrl+K", "Ctrl+F", "Ctrl+Q", "Ctrl+E", "Esc", "Ctrl+Shift+L"} <= set(
                keys
            )
            dialog.close()

            window.menus.about.trigger()
            assert isinstance(window.dialogs.open_dialogs[-1], AboutDialog)
        finally:
            await close(window)

    arun(scenario())


def test_export_from_the_menu_and_import_it_back(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator, tmp_path: Path
) -> None:
    key = emu.key("euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.composer.set_draft(f"my key is {key}, keep it secret")
            window.composer.request_send()
            await wait_for(lambda: not window.is_streaming() and window.conversation_id)
            await wait_for(lambda: not window.is_streaming(), what="the answer")
            conv = window.conversation_id
            assert conv is not None

            window.menus.export_chat.trigger()
            dlg = window.transfer.dialog
            assert isinstance(dlg, QFileDialog)
            assert dlg.nameFilters()[1].startswith("JSON")
            target = tmp_path / "trip.json"
            dlg.selectNameFilter(dlg.nameFilters()[1])
            dlg.selectFile(str(target))
            dlg.accept()
            await wait_for(target.exists, what="the exported file")
            text = target.read_text()
            assert key not in text  # scrubbed, as `parley export` does
            assert json.loads(text)["format"] == "parley.conversation"
            assert str(target) in window.banner.label.text()

            md = tmp_path / "trip"  # no suffix: the format's is added
            assert window.transfer.export_to(conv, md, "md")
            assert "my key is" in (tmp_path / "trip.md").read_text()
            assert key not in (tmp_path / "trip.md").read_text()

            before = window.sidebar.list.count()
            window.menus.import_chat.trigger()
            dlg = window.transfer.dialog
            assert isinstance(dlg, QFileDialog)
            dlg.selectFile(str(target))
            dlg.accept()
            await wait_for(lambda: window.conversation_id not in (None, conv), what="imported")
            assert window.sidebar.list.count() == before + 1
            shown = [w.message_text() for w in window.chat.messages()]
            assert shown[0].startswith("my key is")

            bad = tmp_path / "notes.json"
            bad.write_text("{}")
            assert window.transfer.import_from(bad) is None
            assert "not a Parley conversation export" in window.banner.label.text()
            assert window.transfer.export_to(conv, tmp_path / "missing" / "x.md", "md") is False
            assert "does not exist" in window.banner.label.text()
        finally:
            await close(window)

    arun(scenario())


def test_the_chat_list_menu_exports_that_chat(
    qapp: QApplication, arun: Any, services: Services, tmp_path: Path
) -> None:
    store = services.store
    cid = store.create_conversation(title="Old notes")
    store.add_message(cid, None, "user", "remember the milk")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            menu = window.sidebar.context_menu(str(cid))
            texts = [a.text() for a in menu.actions() if not a.isSeparator()]
            assert texts == ["Rename…", "Pin to top", "Export…", "Delete"]
            next(a for a in menu.actions() if a.text() == "Export…").trigger()
            dlg = window.transfer.dialog
            assert isinstance(dlg, QFileDialog) and "Old notes" in dlg.windowTitle()
            assert dlg.selectedFiles()[0].endswith("Old-notes.md")
            dlg.selectFile(str(tmp_path / "notes.md"))
            dlg.accept()
            await wait_for((tmp_path / "notes.md").exists, what="the export")
            assert "remember the milk" in (tmp_path / "notes.md").read_text()
        finally:
            await close(window)

    arun(scenario())


def test_fork_and_delete_from_a_message_menu(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            await chat(window, "first question")
            await chat(window, "second question")
            conv = window.conversation_id
            widgets = window.chat.messages()
            assert len(widgets) == 4
            first_answer = widgets[1]
            titles = [t for t, _ in first_answer.more_actions()]
            assert titles == ["Fork into a new chat", "Delete this and the replies below…"]

            dict(first_answer.more_actions())["Fork into a new chat"]()
            await wait_for(lambda: window.conversation_id != conv, what="the fork opened")
            forked = window.conversation_id
            assert window.chat.messages()[0].message_text() == "first question"
            assert len(window.chat.messages()) == 2
            assert window.sidebar.titles()[0].endswith("(fork)")

            window.open_conversation(conv)  # type: ignore[arg-type]
            await wait_for(lambda: len(window.chat.messages()) == 4, what="the original, whole")
            second_user = window.chat.messages()[2]
            dict(second_user.more_actions())["Delete this and the replies below…"]()
            box = window.tree.confirm
            assert isinstance(box, QMessageBox)
            assert "and the 1 reply below it" in box.text()
            cancel = box.button(QMessageBox.StandardButton.Cancel)
            cancel.click()
            assert len(window.services.store.messages(conv)) == 4  # type: ignore[arg-type]

            dict(second_user.more_actions())["Delete this and the replies below…"]()
            box = window.tree.confirm
            assert isinstance(box, QMessageBox)
            delete = next(b for b in box.buttons() if b.text() == "Delete")
            delete.click()
            await wait_for(lambda: len(window.chat.messages()) == 2, what="the view redrawn")
            assert len(window.services.store.messages(conv)) == 2  # type: ignore[arg-type]
            assert len(window.services.store.messages(forked)) == 2  # type: ignore[arg-type]
        finally:
            await close(window)

    arun(scenario())


def test_the_edit_menu_forks_the_shown_branch_and_deletes_the_chat_with_undo(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.menus.fork_chat.trigger()  # a new chat: nothing to fork, and it says so
            assert "nothing to fork" in window.banner.label.text()
            await chat(window, "only question")
            conv = window.conversation_id
            window.menus.fork_chat.trigger()
            await wait_for(lambda: window.conversation_id not in (None, conv), what="the fork")
            assert len(window.chat.messages()) == 2
            forked = window.conversation_id
            window.menus.delete_chat.trigger()
            assert window.sidebar.pending_deletes() == [str(forked)]
            assert window.sidebar.undo_bar.isVisible()  # the chat list's undo, as from there
        finally:
            await close(window)

    arun(scenario())

"""The sidebar after a send or an answer: one conversation's row is moved (and retitled) in place,
the others are left as they are, and the order is the one a full re-list from the history gives.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from parley.ui.mainwindow import MainWindow, Services
from parley.ui.sidebar import ID_ROLE, ConversationRow, SearchHit, Sidebar
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import chat, close, opened

MARK_ROLE = 0x0100 + 40  # set on the rows before an update: a re-listed row loses it


def _rows() -> list[ConversationRow]:
    return [
        ConversationRow("1", "one", False, 100.0),
        ConversationRow("2", "two", False, 200.0),
        ConversationRow("3", "pinned", True, 50.0),
    ]


def _mark(sb: Sidebar) -> None:
    for i in range(sb.list.count()):
        sb.list.item(i).setData(MARK_ROLE, "kept")


def _marks(sb: Sidebar) -> list[Any]:
    return [sb.list.item(i).data(MARK_ROLE) for i in range(sb.list.count())]


def _current(sb: Sidebar) -> str | None:
    """The row shown as the open conversation (selected)."""
    selected = sb.list.selectedItems()
    assert len(selected) <= 1
    return str(selected[0].data(ID_ROLE)) if selected else None


@pytest.fixture
def sidebar(qtbot: QtBot) -> Sidebar:
    sb = Sidebar()
    qtbot.addWidget(sb)
    sb.set_conversations(_rows())
    assert sb.titles() == ["📌 pinned", "two", "one"]
    return sb


def test_update_row_moves_only_that_row_below_the_pinned_ones(sidebar: Sidebar) -> None:
    sb = sidebar
    sb.set_current("1")
    _mark(sb)
    sb.update_row(ConversationRow("1", "one, renamed", False, 300.0))
    assert sb.titles() == ["📌 pinned", "one, renamed", "two"]
    assert _marks(sb) == ["kept", None, "kept"]  # the others were not rebuilt
    assert _current(sb) == "1"  # still selected after the move

    # A conversation not listed yet (a first send) takes its place too.
    sb.update_row(ConversationRow("4", "New chat", False, 400.0))
    assert sb.titles() == ["📌 pinned", "New chat", "one, renamed", "two"]
    assert _current(sb) == "1"

    # A pinned one goes to the very top; an older one goes below the newer.
    sb.update_row(ConversationRow("2", "two", True, 10.0))
    sb.update_row(ConversationRow("4", "A title now", False, 250.0))
    assert sb.titles() == ["📌 pinned", "📌 two", "one, renamed", "A title now"]

    # A row already in its place is changed where it is, not rebuilt.
    _mark(sb)
    sb.update_row(ConversationRow("2", "two, renamed", True, 20.0))
    assert sb.titles() == ["📌 pinned", "📌 two, renamed", "one, renamed", "A title now"]
    assert _marks(sb) == ["kept"] * 4
    assert sb.list.item(1).toolTip().startswith("two, renamed\n")

    # The same order as the whole list given afresh.
    shown = sb.titles()
    sb.set_conversations(list(sb._rows))
    assert sb.titles() == shown


def test_update_row_leaves_the_selection_where_it_was(sidebar: Sidebar) -> None:
    sb = sidebar
    sb.set_current("1")
    sb.set_current(None)  # a new chat: nothing selected (Qt's current row stays "1")
    sb.update_row(ConversationRow("1", "one", False, 300.0))  # its answer ended meanwhile
    assert sb.titles() == ["📌 pinned", "one", "two"]
    assert _current(sb) is None  # no neighbour selected in its place

    sb.set_current("2")
    sb.update_row(ConversationRow("1", "one", False, 400.0))
    sb.update_row(ConversationRow("3", "pinned", True, 400.0))
    assert _current(sb) == "2"


def test_update_row_keeps_a_pending_delete_hidden_and_search_results_as_they_are(
    sidebar: Sidebar,
) -> None:
    sb = sidebar
    sb.delete("2")
    assert sb.titles() == ["📌 pinned", "one"]
    sb.update_row(ConversationRow("2", "two", False, 500.0))  # its answer ended meanwhile
    assert sb.titles() == ["📌 pinned", "one"]
    sb.undo_bar.undo.emit()  # Undo: it comes back where its recency puts it
    assert sb.titles() == ["📌 pinned", "two", "one"]

    sb.search.setText("one")
    sb.set_search_results("one", [SearchHit("1", "one", "\x02one\x03")])
    sb.update_row(ConversationRow("1", "one", False, 600.0))
    assert sb.titles() == ["one"]  # the search results stay until the search is cleared


# --- in the window ----------------------------------------------------------------------------


def test_a_send_moves_its_conversation_up_without_relisting_the_sidebar(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    store = services.store
    store.create_conversation(title="pinned chat", pinned=True)
    older = store.create_conversation(title="older chat")
    store.add_message(older, None, "user", "hello")
    newer = store.create_conversation(title="newer chat")
    store.add_message(newer, None, "user", "hello")
    emu.push(Behavior(text="More, then."), provider="euri")
    emu.push(Behavior(text="Even more."), provider="euri")
    emu.push(Behavior(text="A new answer."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        sb = window.sidebar
        relisted: list[int] = []
        try:
            assert sb.titles() == ["📌 pinned chat", "newer chat", "older chat"]
            window.refresh_sidebar = lambda *_a, **_k: relisted.append(1)  # type: ignore[method-assign]
            window.open_conversation(older)
            _mark(sb)
            assert (await chat(window, "Tell me more")).text() == "More, then."
            assert sb.titles() == ["📌 pinned chat", "older chat", "newer chat"]
            assert _marks(sb) == ["kept", None, "kept"]
            assert _current(sb) == str(older)
            _mark(sb)
            await chat(window, "And more?")  # already on top: its row stays as it is
            assert sb.titles() == ["📌 pinned chat", "older chat", "newer chat"]
            assert _marks(sb) == ["kept"] * 3
            assert _current(sb) == str(older)

            # A first send in a new chat: its row appears on top, titled by the prompt.
            window.new_chat()
            assert _current(sb) is None
            assert (await chat(window, "Brand new question\nwith details")).text() == (
                "A new answer."
            )
            new = window.conversation_id
            assert new is not None
            assert sb.titles() == [
                "📌 pinned chat",
                "Brand new question",
                "older chat",
                "newer chat",
            ]
            assert _current(sb) == str(new)
            assert relisted == []

            # What a full re-list from the history shows.
            shown = sb.titles()
            MainWindow.refresh_sidebar(window)
            assert sb.titles() == shown
        finally:
            await close(window)

    arun(scenario())


def test_the_deleted_notice_is_shown_whole_in_a_narrow_sidebar(
    qtbot: QtBot, sidebar: Sidebar
) -> None:
    sb = sidebar
    sb.resize(230, 600)  # the sidebar's width in the window
    sb.show()
    qtbot.waitExposed(sb)
    long_title = "A conversation about the migration of the billing database"
    sb.set_conversations([ConversationRow("9", long_title, updated_at=9.0), *_rows()])
    sb.delete("9")
    bar = sb.undo_bar
    label = bar._label
    qtbot.waitUntil(lambda: bar.isVisible() and label.width() > 0)
    QApplication.processEvents()
    assert label.text().endswith("…” deleted.")  # a long title shortened, visibly
    metrics = label.fontMetrics()
    assert metrics.horizontalAdvance(label.text()) > label.width()  # longer than a line, so
    assert label.height() >= 2 * metrics.lineSpacing()  # it wraps onto the lines it needs
    assert label.height() >= label.heightForWidth(label.width())
    assert label.geometry().right() < bar._button.geometry().left()


def test_rows_show_the_model_and_when_under_the_title(qtbot: QtBot) -> None:
    import time

    sb = Sidebar()
    qtbot.addWidget(sb)
    now = time.time()
    year_ago = now - 400 * 86400
    sb.set_conversations(
        [
            ConversationRow("1", "today's chat", False, now, "gpt-4o-mini"),
            ConversationRow("2", "old chat", False, year_ago, ""),
        ]
    )
    assert sb.titles() == ["today's chat", "old chat"]
    today, old = sb.details()
    assert today == f"gpt-4o-mini · {time.strftime('%H:%M', time.localtime(now))}"
    assert old == time.strftime("%d %b %Y", time.localtime(year_ago))  # no model: just the date
    item = sb.list.item(0)
    assert "gpt-4o-mini" in item.toolTip()


def test_the_window_lists_each_chat_with_the_model_it_used(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            await chat(window, "hello")
            assert window.sidebar.details()[0].startswith("gpt-4o-mini · ")
        finally:
            await close(window)

    arun(scenario())

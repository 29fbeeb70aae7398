"""The conversations sidebar: recency list (pinned first), search, rename, pin, delete with undo.

It holds no history of its own: the window gives it rows and search hits, and it says what the
user asked for through signals. Search results show the matched words highlighted and jump to the
message that matched.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple

from PySide6 import QtCore  # `Qt` looked up when used (see parley.ui.lightqt)
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from parley.ui import theme
from parley.ui.lightqt import ACCESSIBLE_TEXT_ROLE, USER_ROLE, push_button, set_enum_properties

if TYPE_CHECKING:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QAbstractItemDelegate, QMenu

    from parley.ui.search_delegate import HtmlDelegate

DISPLAY_ROLE, TOOLTIP_ROLE = 0, 3  # Qt::ItemDataRole values, fixed by Qt's API
ID_ROLE = USER_ROLE
MESSAGE_ROLE = USER_ROLE + 1
HTML_ROLE = USER_ROLE + 2
PINNED_ROLE = USER_ROLE + 3


class ConversationRow(NamedTuple):
    id: str
    title: str
    pinned: bool = False
    updated_at: float | None = None  # unix seconds
    model: str = ""  # the model the chat last used


class SearchHit(NamedTuple):
    conversation_id: str
    title: str
    snippet: str  # plain text with the match marked by MARK_START / MARK_END
    message_id: str | None = None


MARK_START = "\x02"
MARK_END = "\x03"


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def snippet_html(snippet: str) -> str:
    """Escape a snippet and turn its match markers into highlights."""
    text = _escape(snippet)
    return text.replace(MARK_START, "<b><u>").replace(MARK_END, "</u></b>")


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    then, now = time.localtime(ts), time.localtime()
    if then[:3] == now[:3]:
        return time.strftime("%H:%M", then)
    if then.tm_year == now.tm_year:
        return time.strftime("%d %b", then)
    return time.strftime("%d %b %Y", then)


def row_detail(row: ConversationRow) -> str:
    """The row's second line: "gpt-4o-mini · 14:02" (today), "· 03 Dec", "· 03 Dec 2025"."""
    return " · ".join(x for x in (row.model, _when(row.updated_at)) if x)


def _sort_key(row: ConversationRow) -> tuple[bool, float]:
    """Pinned first, then the most recently active first (as the history lists them)."""
    return (not row.pinned, -(row.updated_at or 0))


class UndoBar(QFrame):
    """ "Chat deleted. Undo" — visible for a few seconds after a delete."""

    undo = Signal()
    expired = Signal()

    def __init__(self, parent: QWidget | None = None, timeout_ms: int = 8000) -> None:
        super().__init__(parent)
        self.setObjectName("undoBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._label = QLabel(self)
        self._label.setWordWrap(True)  # the sidebar is narrow: "… deleted." wraps, never cut
        set_enum_properties(self._label, textFormat="PlainText")
        self._button = push_button("Undo", self)
        self._button.setAccessibleName("Undo delete")
        self._button.clicked.connect(self._on_undo)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        lay.addWidget(self._label, 1)
        lay.addWidget(self._button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self._on_expired)
        self.hide()

    def show_message(self, text: str) -> None:
        self._label.setText(text)
        self.setAccessibleName(text)
        self.show()
        self._timer.start()

    def _on_undo(self) -> None:
        self._timer.stop()
        self.hide()
        self.undo.emit()

    def _on_expired(self) -> None:
        self.hide()
        self.expired.emit()

    def flush(self) -> None:
        """Expire now (the window is closing)."""
        if self._timer.isActive():
            self._timer.stop()
            self._on_expired()


class Sidebar(QWidget):
    conversation_selected = Signal(str)
    message_selected = Signal(str, str)  # conversation id, message id (a search hit)
    new_chat_requested = Signal()
    rename_requested = Signal(str, str)
    pin_requested = Signal(str, bool)
    delete_requested = Signal(str)
    export_requested = Signal(str)
    delete_undone = Signal(str)
    delete_committed = Signal(str)
    search_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setAccessibleName("Conversations")
        self._rows: list[ConversationRow] = []
        self._pending_delete: list[str] = []
        self._current: str | None = None

        self.search = QLineEdit(self)
        self.search.setObjectName("sidebarSearch")
        self.search.setPlaceholderText("Search chats  (Ctrl+F)")
        self.search.setAccessibleName("Search conversations")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(lambda: self.search_changed.emit(self.query()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

        self.new_button = push_button("+  New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.clicked.connect(self.new_chat_requested)

        self.list = QListWidget(self)
        self.list.setObjectName("conversationList")
        self.list.setAccessibleName("Conversation list")
        self.list.setUniformItemSizes(False)
        self.list.setWordWrap(True)
        set_enum_properties(
            self.list,
            textElideMode="ElideRight",
            horizontalScrollBarPolicy="ScrollBarAlwaysOff",
            contextMenuPolicy="CustomContextMenu",
        )
        # Search results are painted as HTML by a Python delegate; the plain list keeps Qt's own
        # (a Python delegate is called for every row's size and paint: ~15 ms for 50 rows).
        self._plain_delegate: QAbstractItemDelegate | None = None  # Qt's, kept while searching
        self._html_delegate: HtmlDelegate | None = None
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)

        self.status = QLabel(self)
        self.status.setObjectName("sidebarStatus")
        self.status.setWordWrap(True)
        theme.tag(self.status, text="muted")
        self.status.hide()

        self.undo_bar = UndoBar(self)
        self.undo_bar.undo.connect(self._undo_delete)
        self.undo_bar.expired.connect(self._commit_deletes)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)
        lay.addWidget(self.new_button)
        lay.addWidget(self.search)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.undo_bar)

    # --- what the window feeds in -------------------------------------------------------

    def query(self) -> str:
        return self.search.text().strip()

    def set_conversations(self, rows: list[ConversationRow]) -> None:
        self._rows = list(rows)
        if not self.query():
            self._render_rows()

    def update_row(self, row: ConversationRow) -> None:
        """Add or change one conversation's row (title, pin, recency) and move it to its place
        (pinned first, then most recent), leaving the other rows as they are: a send re-listing
        hundreds of rows would stall the window."""
        self._rows = [r for r in self._rows if r.id != row.id]
        self._rows.append(row)
        if self.query() or row.id in self._pending_delete:
            return  # search results stay as they are; the row shows when the list is back
        hidden = set(self._pending_delete)
        place = sorted((r for r in self._rows if r.id not in hidden), key=_sort_key).index(row)
        old = self._item_of(row.id)
        item = self._item(row)
        if old is not None and self.list.row(old) == place:
            # In place already (a chat's later turns): change what changed, move nothing (a
            # moved row makes the list lay out every row again).
            for role in (DISPLAY_ROLE, TOOLTIP_ROLE, ACCESSIBLE_TEXT_ROLE, PINNED_ROLE):
                if old.data(role) != item.data(role):
                    old.setData(role, item.data(role))
            return
        selected = self.list.selectedItems()
        if old is not None:
            self.list.takeItem(self.list.row(old))  # Qt selects a neighbour if it was current
        self.list.insertItem(place, item)
        if row.id == self._current:
            self.list.setCurrentItem(item)
        elif selected and selected[0].data(ID_ROLE) != row.id:
            self.list.setCurrentItem(selected[0])
        else:
            self.list.clearSelection()

    def _item_of(self, conversation_id: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(ID_ROLE) == conversation_id and item.data(MESSAGE_ROLE) is None:
                return item
        return None

    def set_current(self, conversation_id: str | None) -> None:
        self._current = conversation_id
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(ID_ROLE) == conversation_id and item.data(MESSAGE_ROLE) is None:
                self.list.setCurrentItem(item)
                return
        self.list.clearSelection()

    def set_search_results(self, query: str, hits: list[SearchHit]) -> None:
        if query != self.query():
            return  # an older search answered late
        if self._html_delegate is None:
            from parley.ui.search_delegate import HtmlDelegate

            self._plain_delegate = self.list.itemDelegate()
            self._html_delegate = HtmlDelegate(self.list)
        self.list.setItemDelegate(self._html_delegate)
        self.list.clear()
        for hit in hits:
            item = QListWidgetItem(hit.title)
            item.setData(ID_ROLE, hit.conversation_id)
            item.setData(MESSAGE_ROLE, hit.message_id)
            item.setData(
                HTML_ROLE,
                f"<b>{_escape(hit.title)}</b><br>"
                f"<span style='font-size:small'>{snippet_html(hit.snippet)}</span>",
            )
            item.setToolTip(hit.snippet.replace(MARK_START, "").replace(MARK_END, ""))
            self.list.addItem(item)
        self.status.setText(
            f"{len(hits)} match{'es' if len(hits) != 1 else ''} for “{query}”"
            if hits
            else f"Nothing found for “{query}”."
        )
        self.status.show()

    def show_error(self, text: str) -> None:
        self.status.setText(text)
        self.status.show()

    def focus_search(self) -> None:
        self.search.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def titles(self) -> list[str]:
        """What the list shows, top to bottom (for tests and accessibility checks)."""
        return [self.list.item(i).text().split("\n", 1)[0] for i in range(self.list.count())]

    def details(self) -> list[str]:
        """Each row's second line (model · when), top to bottom."""
        return [self.list.item(i).text().partition("\n")[2] for i in range(self.list.count())]

    def pending_deletes(self) -> list[str]:
        return list(self._pending_delete)

    # --- rendering ------------------------------------------------------------------------

    def _render_rows(self) -> None:
        if self._plain_delegate is not None:
            self.list.setItemDelegate(self._plain_delegate)
        self.status.hide()
        self.list.clear()
        hidden = set(self._pending_delete)
        rows = [r for r in self._rows if r.id not in hidden]
        rows.sort(key=_sort_key)
        for row in rows:
            item = self._item(row)
            self.list.addItem(item)
            if row.id == self._current:
                self.list.setCurrentItem(item)

    @staticmethod
    def _item(row: ConversationRow) -> QListWidgetItem:
        title = row.title or "New chat"
        when = _when(row.updated_at)
        detail = row_detail(row)
        # A second line with the model and the date; Qt's own delegate draws it (a Python one
        # costs every row's paint at start-up).
        text = ("📌 " if row.pinned else "") + title + (f"\n{detail}" if detail else "")
        item = QListWidgetItem(text)
        item.setData(ID_ROLE, row.id)
        item.setData(PINNED_ROLE, row.pinned)
        item.setToolTip(f"{title}\n{detail}" if detail else title)
        spoken = ", ".join(
            x for x in (title, row.model, f"last active {when}" if when else "") if x
        )
        item.setData(ACCESSIBLE_TEXT_ROLE, spoken)
        return item

    # --- user actions -----------------------------------------------------------------------

    def _activated(self, item: QListWidgetItem) -> None:
        conv_id = item.data(ID_ROLE)
        msg_id = item.data(MESSAGE_ROLE)
        if msg_id:
            self.message_selected.emit(conv_id, msg_id)
        elif conv_id:
            self.conversation_selected.emit(conv_id)

    def _row(self, conv_id: str) -> ConversationRow | None:
        return next((r for r in self._rows if r.id == conv_id), None)

    def _context_menu(self, pos: object) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        menu = self.context_menu(item.data(ID_ROLE))
        menu.popup(self.list.viewport().mapToGlobal(pos))  # type: ignore[arg-type]

    def context_menu(self, conv_id: str) -> QMenu:
        """The chat's menu: rename, pin, export, delete (popped up by a right click)."""
        row = self._row(conv_id)
        from PySide6.QtGui import QAction
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        menu.setAccessibleName("Chat actions")
        rename = QAction("Rename…", menu)
        rename.triggered.connect(lambda: self.rename_interactive(conv_id))
        pin = QAction("Unpin" if row and row.pinned else "Pin to top", menu)
        pin.triggered.connect(lambda: self.pin_requested.emit(conv_id, not (row and row.pinned)))
        export = QAction("Export…", menu)
        export.triggered.connect(lambda: self.export_requested.emit(conv_id))
        delete = QAction("Delete", menu)
        delete.triggered.connect(lambda: self.delete(conv_id))
        menu.addActions([rename, pin, export])
        menu.addSeparator()
        menu.addAction(delete)
        menu.aboutToHide.connect(menu.deleteLater)
        return menu

    def rename_interactive(self, conv_id: str) -> None:
        from PySide6.QtWidgets import QInputDialog

        row = self._row(conv_id)
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Rename chat")
        dialog.setLabelText("New title:")
        dialog.setTextValue(row.title if row else "")
        dialog.setAccessibleName("Rename chat")

        def done(code: int) -> None:
            title = dialog.textValue().strip()
            if code and title:
                self.rename_requested.emit(conv_id, title)
            dialog.deleteLater()

        dialog.finished.connect(done)
        dialog.open()

    def delete(self, conv_id: str) -> None:
        """Hide the chat now; it is deleted for good when the undo bar expires."""
        if conv_id in self._pending_delete:
            return
        self._commit_deletes()  # one undo at a time: an older pending delete becomes final
        self._pending_delete.append(conv_id)
        row = self._row(conv_id)
        self.delete_requested.emit(conv_id)
        self._render_rows() if not self.query() else None
        title = row.title if row and row.title else "Chat"
        short = title if len(title) <= 40 else title[:39].rstrip() + "…"
        self.undo_bar.show_message(f"“{short}” deleted.")

    def _undo_delete(self) -> None:
        if not self._pending_delete:
            return
        conv_id = self._pending_delete.pop()
        self.delete_undone.emit(conv_id)
        if not self.query():
            self._render_rows()

    def _commit_deletes(self) -> None:
        pending, self._pending_delete = self._pending_delete, []
        for conv_id in pending:
            self.delete_committed.emit(conv_id)

    def flush(self) -> None:
        """Make pending deletes final (the window is closing)."""
        self.undo_bar.flush()
        self._commit_deletes()

    def enable_keys(self) -> None:
        """Delete and F2 on the list, Escape and Down in the search field. Not in the first frame:
        a Python event filter makes PySide build every QEvent class on the first event (~7 ms)."""
        self.search.installEventFilter(self)
        self.list.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        from PySide6.QtCore import QEvent
        from PySide6.QtGui import QKeyEvent

        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if watched is self.list:
                item = self.list.currentItem()
                conv_id = item.data(ID_ROLE) if item is not None else None
                if conv_id and key == QtCore.Qt.Key.Key_Delete:
                    self.delete(conv_id)
                    return True
                if conv_id and key == QtCore.Qt.Key.Key_F2:
                    self.rename_interactive(conv_id)
                    return True
            if watched is self.search and key == QtCore.Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                return True
            if watched is self.search and key == QtCore.Qt.Key.Key_Down:
                self.list.setFocus()
                if self.list.count():
                    self.list.setCurrentRow(0)
                return True
        return super().eventFilter(watched, event)

"""The conversations sidebar: recency list (pinned first), search, rename, pin, delete with undo.

It holds no history of its own: the window gives it rows and search hits, and it says what the
user asked for through signals. Search results show the matched words highlighted and jump to the
message that matched.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QKeyEvent, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from parley.ui import theme

if TYPE_CHECKING:
    from PySide6.QtGui import QTextDocument

ID_ROLE = Qt.ItemDataRole.UserRole
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1
HTML_ROLE = Qt.ItemDataRole.UserRole + 2
PINNED_ROLE = Qt.ItemDataRole.UserRole + 3


@dataclass(frozen=True)
class ConversationRow:
    id: str
    title: str
    pinned: bool = False
    updated_at: float | None = None  # unix seconds


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    title: str
    snippet: str  # plain text with the match marked by MARK_START / MARK_END
    message_id: str | None = None


MARK_START = "\x02"
MARK_END = "\x03"


def snippet_html(snippet: str) -> str:
    """Escape a snippet and turn its match markers into highlights."""
    text = html.escape(snippet)
    return text.replace(MARK_START, "<b><u>").replace(MARK_END, "</u></b>")


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    dt = datetime.fromtimestamp(ts)
    now = datetime.now()
    if dt.date() == now.date():
        return dt.strftime("%H:%M")
    if dt.year == now.year:
        return dt.strftime("%d %b")
    return dt.strftime("%d %b %Y")


class _HtmlDelegate(QStyledItemDelegate):
    """Paints an item's HTML (title + highlighted snippet) for search results.

    What only search results need is imported on the first search (start-up makes fewer Qt
    classes; each costs PySide a little on first use).
    """

    def _doc(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QTextDocument:
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(4)
        doc.setHtml(str(index.data(HTML_ROLE)))
        doc.setTextWidth(max(option.rect.width(), 120))
        return doc

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        if not index.data(HTML_ROLE):
            super().paint(painter, option, index)
            return
        from PySide6.QtGui import QAbstractTextDocumentLayout
        from PySide6.QtWidgets import QStyle

        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        doc = self._doc(option, index)
        painter.save()
        painter.translate(QRect(option.rect).topLeft())
        ctx = QAbstractTextDocumentLayout.PaintContext()
        if option.state & QStyle.StateFlag.State_Selected:
            ctx.palette.setColor(
                ctx.palette.ColorRole.Text, option.palette.highlightedText().color()
            )
        else:
            ctx.palette.setColor(ctx.palette.ColorRole.Text, option.palette.text().color())
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        if not index.data(HTML_ROLE):
            return super().sizeHint(option, index)
        doc = self._doc(option, index)
        return QSize(int(doc.idealWidth()), int(doc.size().height()))


class UndoBar(QFrame):
    """ "Chat deleted. Undo" — visible for a few seconds after a delete."""

    undo = Signal()
    expired = Signal()

    def __init__(self, parent: QWidget | None = None, timeout_ms: int = 8000) -> None:
        super().__init__(parent)
        self.setObjectName("undoBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._label = QLabel(self)
        self._button = QPushButton("Undo", self)
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
        self.search.installEventFilter(self)

        self.new_button = QPushButton("+  New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.clicked.connect(self.new_chat_requested)

        self.list = QListWidget(self)
        self.list.setObjectName("conversationList")
        self.list.setAccessibleName("Conversation list")
        self.list.setUniformItemSizes(False)
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setItemDelegate(_HtmlDelegate(self.list))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self.list.installEventFilter(self)

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
        self.list.clear()
        for hit in hits:
            item = QListWidgetItem(hit.title)
            item.setData(ID_ROLE, hit.conversation_id)
            item.setData(MESSAGE_ROLE, hit.message_id)
            item.setData(
                HTML_ROLE,
                f"<b>{html.escape(hit.title)}</b><br>"
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
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def titles(self) -> list[str]:
        """What the list shows, top to bottom (for tests and accessibility checks)."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def pending_deletes(self) -> list[str]:
        return list(self._pending_delete)

    # --- rendering ------------------------------------------------------------------------

    def _render_rows(self) -> None:
        self.status.hide()
        self.list.clear()
        hidden = set(self._pending_delete)
        rows = [r for r in self._rows if r.id not in hidden]
        rows.sort(key=lambda r: (not r.pinned, -(r.updated_at or 0)))
        for row in rows:
            title = row.title or "New chat"
            item = QListWidgetItem(("📌 " if row.pinned else "") + title)
            item.setData(ID_ROLE, row.id)
            item.setData(PINNED_ROLE, row.pinned)
            when = _when(row.updated_at)
            item.setToolTip(f"{title}\n{when}" if when else title)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, title)
            self.list.addItem(item)
            if row.id == self._current:
                self.list.setCurrentItem(item)

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
        conv_id = item.data(ID_ROLE)
        row = self._row(conv_id)
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        rename = QAction("Rename…", menu)
        rename.triggered.connect(lambda: self.rename_interactive(conv_id))
        pin = QAction("Unpin" if row and row.pinned else "Pin to top", menu)
        pin.triggered.connect(lambda: self.pin_requested.emit(conv_id, not (row and row.pinned)))
        delete = QAction("Delete", menu)
        delete.triggered.connect(lambda: self.delete(conv_id))
        menu.addActions([rename, pin, delete])
        menu.popup(self.list.viewport().mapToGlobal(pos))  # type: ignore[arg-type]

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
        self.undo_bar.show_message(f"“{title[:40]}” deleted.")

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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if watched is self.list:
                item = self.list.currentItem()
                conv_id = item.data(ID_ROLE) if item is not None else None
                if conv_id and key == Qt.Key.Key_Delete:
                    self.delete(conv_id)
                    return True
                if conv_id and key == Qt.Key.Key_F2:
                    self.rename_interactive(conv_id)
                    return True
            if watched is self.search and key == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                return True
            if watched is self.search and key == Qt.Key.Key_Down:
                self.list.setFocus()
                if self.list.count():
                    self.list.setCurrentRow(0)
                return True
        return super().eventFilter(watched, event)

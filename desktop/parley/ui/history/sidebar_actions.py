"""The sidebar's list of conversations and what its actions do to the history.

`HistoryController` lists (pinned first, then recent), searches, renames, pins, deletes (with
undo) and purges; what the rest of the window does about it travels by signals:
`open_requested(int)`, `jump_requested(int, int)` (conversation, message), `deleting(int)`
(before the delete: its stream stops) and `deleted(int)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from parley.core.store import Store, StoreError
from parley.ui.layout import Banner
from parley.ui.sidebar import ConversationRow, SearchHit, Sidebar

log = logging.getLogger("parley.ui.history")

SIDEBAR_LIMIT = 500  # conversations listed (search reaches the rest)
SIDEBAR_FIRST_PAGE = 50  # listed before the window first shows (pinned, then most recent)
SEARCH_LIMIT = 100
WATCH_MS = 2000  # how soon a `parley import` shows in an active window


class HistoryController(QObject):
    open_requested = Signal(int)
    jump_requested = Signal(int, int)
    deleting = Signal(int)
    deleted = Signal(int)

    def __init__(
        self,
        store: Store,
        sidebar: Sidebar,
        banner: Banner,
        current: Callable[[], int | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.sidebar = sidebar
        self.banner = banner
        self._current = current
        self._delete_tokens: dict[str, str] = {}
        sidebar.conversation_selected.connect(lambda cid: self.open_requested.emit(int(cid)))
        sidebar.message_selected.connect(
            lambda cid, mid: self.jump_requested.emit(int(cid), int(mid))
        )
        sidebar.rename_requested.connect(self.rename)
        sidebar.pin_requested.connect(self.pin)
        sidebar.delete_requested.connect(self.delete)
        sidebar.delete_undone.connect(self.undo_delete)
        sidebar.delete_committed.connect(lambda _cid: self.purge_deleted())
        sidebar.search_changed.connect(self.search)
        self._seen_version = store.data_version()
        self._watch_timer = QTimer(self)
        self._watch_timer.setInterval(WATCH_MS)
        self._watch_timer.timeout.connect(self.check_external_changes)

    def set_store(self, store: Store) -> None:
        self.store = store
        self._delete_tokens.clear()
        self._seen_version = store.data_version()
        self.refresh()

    # --- changes made elsewhere (`parley import`, another window) -----------------------------

    def watch(self, active: bool) -> None:
        """Look for another process's changes to the history while the window is active (every
        `WATCH_MS`) and the moment it becomes active; not at all while it is in the background."""
        if active:
            self.check_external_changes()
            self._watch_timer.start()
        else:
            self._watch_timer.stop()

    def check_external_changes(self) -> bool:
        """List the conversations again if another process wrote to the history."""
        version = self.store.data_version()
        if version is None or version == self._seen_version:
            return False
        self._seen_version = version
        log.info("the history changed outside this window: listing it again")
        self.refresh()
        return True

    def refresh(self, limit: int = SIDEBAR_LIMIT) -> None:
        try:
            convs = self.store.list_conversations(limit=limit)
        except StoreError as err:
            self.sidebar.show_error(err.message)
            return
        pending = self.sidebar.pending_deletes()
        self.sidebar.set_conversations(
            [
                ConversationRow(
                    str(c.id), c.title or "New chat", c.pinned, c.updated_at, c.model or ""
                )
                for c in convs
                if str(c.id) not in pending
            ]
        )
        self.show_current(self._current())

    def show_current(self, conversation_id: int | None) -> None:
        self.sidebar.set_current(str(conversation_id) if conversation_id is not None else None)

    def update_row(self, conversation_id: int) -> None:
        """Show one conversation's title and recency (after a send or an answer) by moving its
        row, not re-listing them all: with 500 listed that stalled the window on every turn."""
        try:
            c = self.store.get_conversation(conversation_id)
        except StoreError:
            return  # deleted meanwhile: the delete re-lists the sidebar
        self.sidebar.update_row(
            ConversationRow(str(c.id), c.title or "New chat", c.pinned, c.updated_at, c.model or "")
        )

    def rename(self, conv_id: str, title: str) -> None:
        try:
            self.store.rename_conversation(int(conv_id), title)
        except StoreError as err:
            self.banner.show_message(err.message)
        self.refresh()

    def pin(self, conv_id: str, pinned: bool) -> None:
        try:
            self.store.set_pinned(int(conv_id), pinned)
        except StoreError as err:
            self.banner.show_message(err.message)
        self.refresh()

    def delete(self, conv_id: str) -> None:
        cid = int(conv_id)
        self.deleting.emit(cid)  # its stream stops before it goes
        try:
            self._delete_tokens[conv_id] = self.store.delete_conversation(cid)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        self.deleted.emit(cid)
        self.refresh()

    def undo_delete(self, conv_id: str) -> None:
        token = self._delete_tokens.pop(conv_id, None)
        if token is None:
            return
        try:
            self.store.undo_delete(token)
        except StoreError as err:
            self.banner.show_message(err.message)
        self.refresh()

    def purge_deleted(self) -> None:
        """Remove for good what was deleted (the undo time is over)."""
        self._delete_tokens.clear()
        if self.store.read_only:
            return
        try:
            self.store.purge_deleted()
        except StoreError as err:
            log.warning("purging deleted conversations failed: %s", err.message)

    def search(self, query: str) -> None:
        if not query:
            self.refresh()
            return
        try:
            hits = self.store.search(query, limit=SEARCH_LIMIT)
        except StoreError as err:
            self.sidebar.show_error(err.message)
            return
        self.sidebar.set_search_results(
            query,
            [
                SearchHit(
                    str(h.conversation_id),
                    h.title or "New chat",
                    h.snippet,
                    str(h.message_id) if h.message_id is not None else None,
                )
                for h in hits
            ],
        )

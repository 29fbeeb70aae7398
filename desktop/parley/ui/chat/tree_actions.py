"""Fork a chat from any message, and delete a message with the replies below it (after asking),
for the message's ⋯ menu and the Edit menu. The store does the work (`core.store.edit`); this
part asks, reports in the banner, and says by signal what changed.

Signals: `forked(int)` the new conversation; `branch_deleted(int)` a conversation whose tree
changed (to be shown again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from parley.core.store import Store, StoreError
from parley.core.store.edit import DeletedBranch, delete_branch, fork_conversation, subtree_ids
from parley.ui.layout import Banner

log = logging.getLogger("parley.ui.chat")


class TreeActions(QObject):
    forked = Signal(int)
    branch_deleted = Signal(int)

    def __init__(
        self,
        store: Callable[[], Store],
        banner: Banner,
        secrets: Callable[[], Iterable[str | None]],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._banner = banner
        self._secrets = secrets
        self._parent = parent
        self.confirm: QMessageBox | None = None

    def fork(self, message_id: str | int) -> int | None:
        secrets = tuple(s for s in self._secrets() if s)
        try:
            new_id = fork_conversation(self._store(), int(message_id), secrets=secrets)
        except StoreError as err:
            self._banner.show_message(f"The chat could not be forked: {err.message}")
            return None
        log.info("forked message %s into conversation %s", message_id, new_id)
        self.forked.emit(new_id)
        return new_id

    def fork_shown(self, conversation_id: int | None) -> int | None:
        """Fork the branch a conversation shows, down to its last message (Edit → Fork)."""
        try:
            leaf = self._store().current_leaf(conversation_id) if conversation_id else None
        except StoreError as err:
            self._banner.show_message(err.message)
            return None
        if leaf is None:
            self._banner.show_message("There is nothing to fork yet: this chat is empty.")
            return None
        return self.fork(leaf)

    def ask_delete(self, message_id: str | int) -> QMessageBox | None:
        """Ask first (a deleted message cannot be brought back), then delete."""
        try:
            count = len(subtree_ids(self._store(), int(message_id)))
        except StoreError as err:
            self._banner.show_message(err.message)
            return None
        below = count - 1
        what = "this message" + (
            f" and the {below} repl{'y' if below == 1 else 'ies'} below it (on every branch)"
            if below
            else ""
        )
        box = QMessageBox(self._parent)
        box.setWindowTitle("Delete messages")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setText(f"Delete {what}?")
        box.setInformativeText("This cannot be undone. To keep a copy, export the chat first.")
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(
            lambda _code: self.delete(message_id) if box.clickedButton() is delete else None
        )
        box.finished.connect(box.deleteLater)
        self.confirm = box
        box.open()
        return box

    def delete(self, message_id: str | int) -> DeletedBranch | None:
        try:
            result = delete_branch(self._store(), int(message_id))
        except StoreError as err:
            self._banner.show_message(f"Nothing was deleted: {err.message}")
            return None
        self.branch_deleted.emit(result.conversation_id)
        return result

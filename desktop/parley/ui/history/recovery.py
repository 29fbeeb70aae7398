"""When the history cannot be opened: say why and offer what can be done about it.

The window runs on a temporary in-memory history meanwhile. `StoreRecovery.show(err)` puts the
choices on the banner (move the file aside and start fresh, open it read-only, try again); the
history one of them opens is handed out by `store_opened(Store)` for the window to swap in.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from parley.core.store import Store, StoreError, move_aside_and_start_fresh
from parley.ui.layout import Banner


class StoreRecovery(QObject):
    store_opened = Signal(object)  # a parley.core.store.Store

    def __init__(self, banner: Banner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.banner = banner

    def show(self, err: StoreError) -> None:
        actions: list[tuple[str, Callable[[], object]]] = []
        if err.can_move_aside:
            actions.append(("Move it aside and start fresh", self.start_fresh))
        if err.can_open_read_only:
            actions.append(("Open it read-only", self.open_read_only))
        actions.append(("Try again", self.retry))
        self.banner.show_message(
            f"{err.message}\n\nUntil then your chats are kept in a temporary history that is "
            "not saved.",
            actions,
        )

    def start_fresh(self) -> None:
        try:
            moved = move_aside_and_start_fresh()
            store = Store.open()
        except (StoreError, OSError) as err:
            self.banner.show_message(f"Starting a fresh history failed: {err}")
            return
        self.store_opened.emit(store)
        self.banner.show_message(f"The old history was moved to {moved}. Nothing was deleted.")

    def open_read_only(self) -> None:
        try:
            store = Store.open(read_only=True)
        except StoreError as err:
            self.show(err)
            return
        self.store_opened.emit(store)
        self.banner.show_message(
            "The history is open read-only: you can read and search it, new messages are not saved."
        )

    def retry(self) -> None:
        try:
            store = Store.open()
        except StoreError as err:
            self.show(err)
            return
        self.store_opened.emit(store)

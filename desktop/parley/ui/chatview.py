"""The chat view: a scrollable column of message widgets.

Long chats stay fast by building widgets only for the newest messages (`PAGE` at a time) and
adding earlier pages when the user scrolls to the top, keeping the visible content in place.

`load_messages` takes rows as mappings or objects with these keys/attributes (all optional but
`id` and `role`): id, role ("user" | "assistant" | "tool"; "system" rows are skipped), content
(str, or parts with `type` "text"/"image"), images (extra ImageParts), branch ((index 0-based,
count)), reasoning, tool_calls (items with name, arguments), refusal, status ("complete" |
"stopped" | "failed" | "streaming"), finish_reason, error ({kind, message, provider_message,
provider_id or provider}), metrics ({model_used, ttft_ms, tokens_per_s, prompt_tokens,
completion_tokens, reasoning_tokens, cached_tokens, cost, total_ms, currency, estimated}).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore  # `Qt` looked up when used (see parley.ui.lightqt)
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from parley.ui import theme
from parley.ui.lightqt import push_button, set_enum_properties

if TYPE_CHECKING:
    from PySide6.QtCore import QUrl

    from parley.ui.message_widgets import (
        AssistantMessageWidget,
        MessageWidget,
        UserMessageWidget,
    )

PAGE = 20  # messages built when a chat opens (and per "Show earlier messages")
SCROLL_PAGE = 6  # at most, built each time scrolling reaches the top
HIGHLIGHT_MS = 2500  # how long a revealed message (a search hit) stays outlined
SCROLL_BUDGET_MS = 12.0  # ... and no more once building them has taken this long (at least one)


_widgets_module: ModuleType | None = None


def widgets() -> ModuleType:
    """`parley.ui.message_widgets`, imported when the first message is shown: a new chat (how
    the window starts) has none, and the import (with the Markdown renderer) is not free."""
    global _widgets_module
    if _widgets_module is None:
        from parley.ui import message_widgets

        _widgets_module = message_widgets
    return _widgets_module


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def _split_content(content: Any) -> tuple[str, list[Any]]:
    """A message's content (str or parts) as (text, images)."""
    if isinstance(content, str):
        return content, []
    text: list[str] = []
    images: list[Any] = []
    for part in content or []:
        kind = _get(part, "type", "")
        if kind == "text":
            text.append(str(_get(part, "text", "")))
        elif kind == "image":
            images.append(part)
    return "".join(text), images


class ChatView(QWidget):
    """Messages of one conversation branch, newest at the bottom.

    Signals carry message ids; the window decides what they mean for the conversation tree.
    """

    stop_requested = Signal()
    regenerate_requested = Signal(str)
    edit_requested = Signal(str, str)
    branch_requested = Signal(str, int)
    continue_requested = Signal(str)
    retry_requested = Signal(str)
    open_keys_requested = Signal(str)
    inspect_requested = Signal(str)
    candidate_chosen = Signal(str, int)  # an answer's id, the candidate shown in its tabs
    fork_requested = Signal(str)
    delete_requested = Signal(str)
    link_clicked = Signal("QUrl")  # by name: the class is made when a link is first clicked

    def __init__(self, parent: QWidget | None = None, *, open_links: bool = True) -> None:
        super().__init__(parent)
        self.open_links = open_links  # open clicked http(s) links with QDesktopServices
        self.setAccessibleName("Conversation")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        set_enum_properties(self.scroll, horizontalScrollBarPolicy="ScrollBarAlwaysOff")
        outer.addWidget(self.scroll)
        self._container = QWidget()
        self._column = QVBoxLayout(self._container)
        self._column.setContentsMargins(16, 12, 16, 12)
        self._column.setSpacing(10)
        self._earlier = push_button("Show earlier messages", self._container)
        self._earlier.setAccessibleName("Show earlier messages")
        self._earlier.setFlat(True)
        self._earlier.clicked.connect(lambda: self._load_earlier())
        self._earlier.hide()
        self._column.addWidget(self._earlier)  # flat: its text is centred across the column
        self._column.addStretch(1)
        self.scroll.setWidget(self._container)

        self._widgets: dict[str, MessageWidget] = {}
        self._continue_in_place = False  # what Continue does with the chosen provider
        self._rows: list[Any] = []
        self._first_loaded = 0
        self._stick_to_bottom = True
        self._keep_from_bottom: int | None = None
        self._reveal_target: MessageWidget | None = None
        self._highlighted: MessageWidget | None = None
        self._highlight_timer = QTimer(self)
        self._highlight_timer.setSingleShot(True)
        self._highlight_timer.timeout.connect(self._end_highlight)
        bar = self.scroll.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)
        theme.notifier().changed.connect(self._on_theme_changed)

    # --- building --------------------------------------------------------------------------

    def clear(self) -> None:
        for w in self._widgets.values():
            self._column.removeWidget(w)
            w.hide()
            w.deleteLater()
        self._widgets.clear()
        self._rows = []
        self._first_loaded = 0
        self._earlier.hide()
        self._stick_to_bottom = True

    def messages(self) -> list[MessageWidget]:
        """The message widgets built so far, top to bottom."""
        out: list[MessageWidget] = []
        if not self._widgets:
            return out
        message_widget = widgets().MessageWidget
        for i in range(self._column.count()):
            item = self._column.itemAt(i)
            w = item.widget() if item is not None else None
            if isinstance(w, message_widget):
                out.append(w)
        return out

    def widget(self, msg_id: str) -> MessageWidget | None:
        return self._widgets.get(msg_id)

    def assistant_widget(self, msg_id: str) -> AssistantMessageWidget | None:
        """The answer's widget, if that message is shown and is an answer."""
        w = self._widgets.get(msg_id)
        return w if w is not None and isinstance(w, widgets().AssistantMessageWidget) else None

    def _insert(self, w: MessageWidget, index: int | None = None) -> None:
        self._widgets[w.msg_id] = w
        if index is None:
            index = self._column.count() - 1  # before the trailing stretch
        self._column.insertWidget(index, w)
        w.show()  # now, not from the queued show a layout schedules
        w.link_clicked.connect(self._on_link)
        w.branch_requested.connect(self.branch_requested)
        w.fork_requested.connect(self.fork_requested)
        w.delete_requested.connect(self.delete_requested)
        mw = widgets()
        if isinstance(w, mw.UserMessageWidget):
            w.edit_requested.connect(self.edit_requested)
        elif isinstance(w, mw.AssistantMessageWidget):
            w.set_continue_in_place(self._continue_in_place)
            w.regenerate_requested.connect(self.regenerate_requested)
            w.continue_requested.connect(self.continue_requested)
            w.retry_requested.connect(self.retry_requested)
            w.open_keys_requested.connect(self.open_keys_requested)
            w.stop_requested.connect(self.stop_requested)
            w.inspect_requested.connect(self.inspect_requested)
            w.candidate_chosen.connect(self.candidate_chosen)

    def set_continue_in_place(self, in_place: bool) -> None:
        """Whether the chosen provider extends an answer on Continue (every answer says so)."""
        self._continue_in_place = in_place
        mw = widgets()
        for w in self._widgets.values():
            if isinstance(w, mw.AssistantMessageWidget):
                w.set_continue_in_place(in_place)

    def add_user_message(
        self,
        msg_id: str,
        text: str,
        images: Iterable[Any] = (),
        branch: tuple[int, int] = (0, 1),
    ) -> UserMessageWidget:
        w: UserMessageWidget = widgets().UserMessageWidget(
            msg_id, text, images, branch, self._container
        )
        self._insert(w)
        self.scroll_to_bottom()
        return w

    def add_assistant_message(
        self, msg_id: str, branch: tuple[int, int] = (0, 1)
    ) -> AssistantMessageWidget:
        w: AssistantMessageWidget = widgets().AssistantMessageWidget(
            msg_id, branch, self._container
        )
        self._insert(w)
        self.scroll_to_bottom()
        return w

    def remove_message(self, msg_id: str) -> None:
        w = self._widgets.pop(msg_id, None)
        if w is not None:
            self._column.removeWidget(w)
            w.hide()
            w.deleteLater()

    def _build(self, row: Any) -> MessageWidget | None:
        role = str(_get(row, "role", ""))
        msg_id = str(_get(row, "id", ""))
        branch = tuple(_get(row, "branch", None) or (0, 1))
        text, images = _split_content(_get(row, "content", ""))
        images += list(_get(row, "images", None) or [])
        b = (int(branch[0]), int(branch[1]))
        mw = widgets()
        if role == "user":
            user: UserMessageWidget = mw.UserMessageWidget(msg_id, text, images, b, self._container)
            return user
        if role == "system":
            return None
        w: AssistantMessageWidget = mw.AssistantMessageWidget(
            msg_id, b, self._container, role_text="Tool" if role == "tool" else "Assistant"
        )
        from parley.ui.chat.answer import MessageView  # not needed by the first frame

        MessageView.from_row(row).paint(w)
        return w

    def load_messages(self, rows: Sequence[Any]) -> None:
        """Show a branch's messages (dicts or store rows; see the module docs for the keys).

        Only the newest `PAGE` are built now; earlier ones are built when scrolled to.
        """
        self.clear()
        self._rows = [r for r in rows if str(_get(r, "role", "")) != "system"]
        self._first_loaded = len(self._rows)
        self._load_earlier(stick=True)

    def _load_earlier(
        self, stick: bool = False, count: int = PAGE, budget_ms: float | None = None
    ) -> None:
        """Build up to `count` earlier messages, newest first, each above the ones shown; with a
        `budget_ms`, stop once building has taken that long (long answers cost a render each)."""
        start = max(0, self._first_loaded - count)
        if start == self._first_loaded:
            return
        bar = self.scroll.verticalScrollBar()
        if not stick:
            self._keep_from_bottom = bar.maximum() - bar.value()
        self._container.setUpdatesEnabled(False)
        began = time.perf_counter()
        while self._first_loaded > start:
            self._first_loaded -= 1
            w = self._build(self._rows[self._first_loaded])
            if w is not None:
                self._insert(w, 1)  # after the "earlier" label
            if budget_ms is not None and (time.perf_counter() - began) * 1000 >= budget_ms:
                break
        self._earlier.setVisible(self._first_loaded > 0)
        self._container.setUpdatesEnabled(True)
        if stick:
            self.scroll_to_bottom()

    def reveal_message(self, msg_id: str) -> bool:
        """Scroll to a message (building earlier pages if needed) and focus it.

        False when the loaded branch has no such message.
        """
        if msg_id not in self._widgets:
            ids = [str(_get(r, "id", "")) for r in self._rows[: self._first_loaded]]
            if msg_id not in ids:
                return False
            while self._first_loaded > ids.index(msg_id):
                self._load_earlier()
        self._stick_to_bottom = False
        self._keep_from_bottom = None
        self._reveal_target = self._widgets[msg_id]
        QTimer.singleShot(0, self._reveal_now)  # after the new widgets are laid out
        return True

    def _reveal_now(self) -> None:
        target, self._reveal_target = self._reveal_target, None
        if target is not None:
            self._column.activate()
            self.scroll.ensureWidgetVisible(target, 0, 40)
            target.setFocus(QtCore.Qt.FocusReason.OtherFocusReason)
            self._highlight(target)

    def _highlight(self, target: MessageWidget) -> None:
        """Outline the revealed message for a moment, so the eye finds it."""
        previous = self._highlighted
        if previous is not None and previous is not target:
            with contextlib.suppress(RuntimeError):  # already deleted (another chat shown)
                previous.set_highlighted(False)
        self._highlighted = target
        target.set_highlighted(True)
        self._highlight_timer.start(HIGHLIGHT_MS)

    def _end_highlight(self) -> None:
        target, self._highlighted = self._highlighted, None
        if target is not None:
            with contextlib.suppress(RuntimeError):
                target.set_highlighted(False)

    def loaded_count(self) -> int:
        return len(self._widgets)

    # --- scrolling -------------------------------------------------------------------------

    def scroll_to_bottom(self) -> None:
        self._stick_to_bottom = True
        bar = self.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_scrolled(self, value: int) -> None:
        bar = self.scroll.verticalScrollBar()
        if self._keep_from_bottom is None:
            self._stick_to_bottom = value >= bar.maximum() - 4
        if value == bar.minimum() and self._first_loaded > 0 and bar.maximum() > 0:
            # Defer: building widgets inside a scroll callback would re-enter it.
            QTimer.singleShot(
                0, lambda: self._load_earlier(count=SCROLL_PAGE, budget_ms=SCROLL_BUDGET_MS)
            )

    def _on_range_changed(self, _min: int, maximum: int) -> None:
        bar = self.scroll.verticalScrollBar()
        if self._reveal_target is not None:
            self._reveal_now()
        elif self._keep_from_bottom is not None:
            bar.setValue(maximum - self._keep_from_bottom)
            self._keep_from_bottom = None
        elif self._stick_to_bottom:
            bar.setValue(maximum)

    # --- links and theme -------------------------------------------------------------------

    def _on_link(self, url: QUrl) -> None:
        self.link_clicked.emit(url)
        if self.open_links and url.scheme().lower() in ("http", "https", "mailto"):
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(url)

    def _on_theme_changed(self, _dark: bool) -> None:
        theme.retint_tree(self)
        if not self._widgets:
            return
        assistant = widgets().AssistantMessageWidget
        for w in self._widgets.values():
            if isinstance(w, assistant):
                w.rerender()

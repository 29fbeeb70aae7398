"""One widget per chat message: the user's prompt and the assistant's streamed answer.

Widgets hold presentation only; the window feeds them from core objects (ChatResult, store rows)
and listens to their signals. An answer's text is a `ui.chat.markdown_view.MarkdownView`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QFontDatabase,
    QGuiApplication,
    QKeyEvent,
    QPaintEvent,
    QPixmap,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from parley.core.chat.waiting import retry_text
from parley.core.protocol.errors import RETRYABLE, ErrorKind
from parley.core.protocol.request import ImagePart
from parley.ui import theme
from parley.ui.chat.markdown_view import (
    Growing,
    MarkdownView,
    SafeTextBrowser,
)
from parley.ui.chat.waiting import WaitingLine

FINISH_BADGES = {
    "length": "truncated",
    "content_filter": "filtered",
    "tool_calls": "tool call",
    "function_call": "tool call",
}

# One title per core error kind (tests/ui check that none is missing); a kind the widget does
# not know (a newer history) gets a plain one.
ERROR_TITLES: dict[str, str] = {
    ErrorKind.AUTH: "The provider rejected the API key",
    ErrorKind.QUOTA: "Quota reached",
    ErrorKind.BUDGET: "Budget exhausted",
    ErrorKind.FORBIDDEN: "Access denied",
    ErrorKind.RATE_LIMIT: "Rate limited",
    ErrorKind.BAD_REQUEST: "The provider rejected the request",
    ErrorKind.SERVER: "The provider had a server error",
    ErrorKind.NETWORK: "Could not reach the provider",
    ErrorKind.TIMEOUT: "The provider took too long to answer",
    ErrorKind.PROTOCOL: "The provider's reply could not be read",
    ErrorKind.CONFIG: "The request could not be built",
    ErrorKind.CANCELLED: "Cancelled",
}
# "Retry now" where trying again can help: what the engine retries by itself, and a reply that
# could not be read (the next one may be fine).
RETRY_KINDS: frozenset[str] = frozenset(RETRYABLE | {ErrorKind.PROTOCOL})
KEY_KINDS: frozenset[str] = frozenset({ErrorKind.AUTH, ErrorKind.FORBIDDEN})


def _link_button(text: str, accessible: str, parent: QWidget | None = None) -> QToolButton:
    b = QToolButton(parent)
    b.setText(text)
    b.setAccessibleName(accessible)
    b.setToolTip(accessible)
    b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    theme.style_link_button(b)
    return b


class Card(QFrame):
    """A frame painted as a rounded card of a theme kind (see `theme.card_colors`)."""

    def __init__(self, kind: theme.CardKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card_kind: theme.CardKind = kind

    def paintEvent(self, e: QPaintEvent) -> None:
        theme.paint_card(self, self.card_kind, highlighted=self.property("highlighted") is True)
        super().paintEvent(e)

    def set_highlighted(self, on: bool) -> None:
        self.setProperty("highlighted", on)
        self.update()


class Pill(QLabel):
    """A label on a small rounded background (finish badges, notices)."""

    def __init__(self, kind: theme.CardKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card_kind: theme.CardKind = kind
        self.setContentsMargins(6, 1, 6, 1)
        theme.tag(self, text="warn_text" if kind == "warn" else "badge_text")

    def paintEvent(self, e: QPaintEvent) -> None:
        theme.paint_card(self, self.card_kind)
        super().paintEvent(e)


def _bold(label: QLabel) -> QLabel:
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class BranchSwitcher(QWidget):
    """`< 2/3 >`: moves between sibling branches; hidden when there is only one."""

    moved = Signal(int)  # -1 or +1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.prev_button = _link_button("<", "Previous branch", self)
        self.next_button = _link_button(">", "Next branch", self)
        self.label = QLabel(self)
        theme.tag(self.label, text="muted")
        lay.addWidget(self.prev_button)
        lay.addWidget(self.label)
        lay.addWidget(self.next_button)
        self.prev_button.clicked.connect(lambda: self.moved.emit(-1))
        self.next_button.clicked.connect(lambda: self.moved.emit(1))
        self.set_branch(0, 1)

    def set_branch(self, index: int, count: int) -> None:
        """`index` is 0-based; shown 1-based ("2/3")."""
        self.index, self.count = index, count
        self.label.setText(f"{index + 1}/{count}")
        self.label.setAccessibleName(f"Branch {index + 1} of {count}")
        self.prev_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < count - 1)
        self.setVisible(count > 1)


class MessageWidget(Card):
    """What both message kinds share: a card with a header row and signals for the view."""

    link_clicked = Signal(QUrl)
    branch_requested = Signal(str, int)
    fork_requested = Signal(str)  # a new chat with the messages down to this one
    delete_requested = Signal(str)  # this message and the replies below it

    def __init__(
        self, msg_id: str, role_text: str, kind: theme.CardKind, parent: QWidget | None = None
    ) -> None:
        super().__init__(kind, parent)
        self.msg_id = msg_id
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 10, 8)
        self._layout.setSpacing(4)
        self.header = QHBoxLayout()
        self.header.setSpacing(6)
        self.role_label = _bold(QLabel(role_text, self))
        theme.tag(self.role_label, text="muted")
        self.header.addWidget(self.role_label)
        self._branch_switcher: BranchSwitcher | None = None  # built when there are branches
        self.header.addStretch(1)
        self.copy_button = _link_button("Copy", "Copy message", self)
        self.copy_button.clicked.connect(self.copy_message)
        self.more_button = _link_button("⋯", "More actions for this message", self)
        self.more_button.setToolTip("Fork into a new chat, delete")
        self.more_button.clicked.connect(self.show_more_menu)
        self._layout.addLayout(self.header)

    def more_actions(self) -> list[tuple[str, Callable[[], None]]]:
        """What the ⋯ menu (and the right-click menu) offers for this message."""
        return [
            ("Fork into a new chat", lambda: self.fork_requested.emit(self.msg_id)),
            ("Delete this and the replies below…", lambda: self.delete_requested.emit(self.msg_id)),
        ]

    def show_more_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.setAccessibleName("Message actions")
        for text, slot in self.more_actions():
            menu.addAction(text).triggered.connect(slot)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.more_button.mapToGlobal(self.more_button.rect().bottomLeft()))
        self._menu = menu
        return menu

    @property
    def branch_switcher(self) -> BranchSwitcher:
        if self._branch_switcher is None:
            self._branch_switcher = BranchSwitcher(self)
            self._branch_switcher.moved.connect(
                lambda d: self.branch_requested.emit(self.msg_id, d)
            )
            self.header.insertWidget(1, self._branch_switcher)
        return self._branch_switcher

    def set_branch(self, index: int, count: int) -> None:
        """`< index+1/count >` in the header (index 0-based); nothing when count is 1."""
        if count > 1 or self._branch_switcher is not None:
            self.branch_switcher.set_branch(index, count)

    def message_text(self) -> str:
        raise NotImplementedError

    def copy_message(self) -> None:
        QGuiApplication.clipboard().setText(self.message_text())


def _image_parts(images: Iterable[Any]) -> list[ImagePart]:
    parts: list[ImagePart] = []
    for im in images:
        if isinstance(im, ImagePart):
            parts.append(im)
        elif isinstance(im, Mapping):
            parts.append(ImagePart.model_validate(dict(im)))
    return parts


class UserMessageWidget(MessageWidget):
    """The user's prompt, with images, inline editing (Edit & resend) and branch switching."""

    edit_requested = Signal(str, str)  # msg_id, new text

    def __init__(
        self,
        msg_id: str,
        text: str,
        images: Iterable[Any] = (),
        branch: tuple[int, int] = (0, 1),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(msg_id, "You", "user", parent)
        self._text = text
        self.edit_button = _link_button("Edit", "Edit and resend", self)
        self.edit_button.clicked.connect(self.start_edit)
        self.header.addWidget(self.edit_button)
        self.header.addWidget(self.copy_button)
        self.header.addWidget(self.more_button)
        self.body = SafeTextBrowser(self)
        self.body.setAccessibleName("Your message")
        self.body.setPlainText(text)
        self._layout.addWidget(self.body)
        self.images = _image_parts(images)
        if self.images:
            row = QHBoxLayout()
            for part in self.images:
                row.addWidget(self._thumbnail(part))
            row.addStretch(1)
            self._layout.addLayout(row)
        self.editor: QPlainTextEdit | None = None
        self._edit_row: QWidget | None = None
        self.set_branch(*branch)

    def _thumbnail(self, part: ImagePart) -> QLabel:
        label = QLabel(self)
        name = part.name or "image"
        label.setAccessibleName(f"Attached image {name}")
        label.setToolTip(name)
        pix = QPixmap()
        if part.data:
            pix.loadFromData(base64.b64decode(part.data))
        if pix.isNull():
            label.setText(f"[image: {name}]")
        else:
            label.setPixmap(
                pix.scaled(
                    96,
                    96,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        return label

    def message_text(self) -> str:
        return self._text

    def start_edit(self) -> None:
        if self.editor is not None:
            self.editor.setFocus()
            return
        self.editor = _EditBox(self)
        self.editor.setAccessibleName("Edit your message")
        self.editor.setPlainText(self._text)
        self.editor.setMinimumHeight(80)
        self.editor.save.connect(self._save_edit)
        self.editor.cancel.connect(self.cancel_edit)
        row = QWidget(self)
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addStretch(1)
        cancel = QPushButton("Cancel", row)
        cancel.setAccessibleName("Cancel editing")
        save = QPushButton("Save && resend", row)
        save.setAccessibleName("Save and resend")
        save.setDefault(True)
        cancel.clicked.connect(self.cancel_edit)
        save.clicked.connect(self._save_edit)
        lay.addWidget(cancel)
        lay.addWidget(save)
        self._edit_row = row
        self.body.hide()
        self._layout.insertWidget(self._layout.indexOf(self.body) + 1, self.editor)
        self._layout.insertWidget(self._layout.indexOf(self.editor) + 1, row)
        self.editor.setFocus()

    def _save_edit(self) -> None:
        if self.editor is None:
            return
        new_text = self.editor.toPlainText()
        if not new_text.strip():
            return
        self.edit_requested.emit(self.msg_id, new_text)
        self.cancel_edit()

    def cancel_edit(self) -> None:
        for w in (self.editor, self._edit_row):
            if w is not None:
                w.hide()
                w.deleteLater()
        self.editor = None
        self._edit_row = None
        self.body.show()


class _EditBox(QPlainTextEdit):
    save = Signal()
    cancel = Signal()

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            e.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.save.emit()
        elif e.key() == Qt.Key.Key_Escape:
            self.cancel.emit()
        else:
            super().keyPressEvent(e)


def _pretty_arguments(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return arguments


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def format_metrics(
    model_used: str | None = None,
    ttft_ms: float | None = None,
    tokens_per_s: float | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    cached_tokens: int | None = None,
    cost: float | None = None,
    total_ms: float | None = None,
    currency: str = "USD",
    estimated: bool = False,
) -> str:
    parts: list[str] = []
    if model_used:
        parts.append(model_used)
    if ttft_ms is not None:
        parts.append(f"TTFT {ttft_ms:,.0f} ms")
    if tokens_per_s is not None:
        parts.append(f"{'~' if estimated else ''}{tokens_per_s:,.1f} tok/s")
    if total_ms is not None:
        parts.append(f"total {total_ms / 1000:,.2f} s")
    counts = []  # only what is known: a provider without usage gives no prompt count
    if prompt_tokens is not None:
        counts.append(f"{_fmt_int(prompt_tokens)} in")
    if completion_tokens is not None:
        counts.append(f"{'~' if estimated else ''}{_fmt_int(completion_tokens)} out")
    if counts:
        tok = " · ".join(counts)
        extra = []
        if reasoning_tokens:
            extra.append(f"{_fmt_int(reasoning_tokens)} reasoning")
        if cached_tokens:
            extra.append(f"{_fmt_int(cached_tokens)} cached")
        if extra:
            tok += f" ({', '.join(extra)})"
        parts.append(tok)
    if cost is not None:
        symbol = "$" if currency.upper() == "USD" else f"{currency} "
        parts.append(f"{symbol}{cost:.4f}" if cost < 1 else f"{symbol}{cost:,.2f}")
    return "  ·  ".join(parts)


class AssistantMessageWidget(MessageWidget):
    """An assistant answer: streamed Markdown, reasoning, tool calls, badges, errors, metrics."""

    regenerate_requested = Signal(str)
    continue_requested = Signal(str)
    retry_requested = Signal(str)
    open_keys_requested = Signal(str)  # provider id
    stop_requested = Signal()
    inspect_requested = Signal(str)
    candidate_chosen = Signal(str, int)  # msg_id, the candidate the conversation goes on from

    def __init__(
        self,
        msg_id: str,
        branch: tuple[int, int] = (0, 1),
        parent: QWidget | None = None,
        *,
        role_text: str = "Assistant",
    ) -> None:
        super().__init__(msg_id, role_text, "assistant", parent)
        self.regenerate_button = _link_button("Regenerate", "Regenerate answer", self)
        self.regenerate_button.clicked.connect(lambda: self.regenerate_requested.emit(self.msg_id))
        self.stop_button = _link_button("Stop", "Stop generating", self)
        self.stop_button.clicked.connect(self.stop_requested)
        self.header.addWidget(self.stop_button)
        self.header.addWidget(self.copy_button)
        self.header.addWidget(self.regenerate_button)
        self.regenerate_button.hide()
        self.inspect_button = _link_button("Inspect", "Inspect the request and response", self)
        self.inspect_button.setToolTip("What was sent and received for this answer")
        self.inspect_button.clicked.connect(lambda: self.inspect_requested.emit(self.msg_id))
        self.header.addWidget(self.inspect_button)
        self.inspect_button.hide()  # once the answer has ended (its exchange is stored)
        self.header.addWidget(self.more_button)

        self._reasoning_buf = Growing()
        self._reasoning_shown = 0
        self.status = "streaming"
        self.finish_reason: str | None = None
        self._provider_id = ""
        self.countdown_interval_ms = 1000  # one countdown step ("1 s"); tests shorten it
        self._countdown_left = 0
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        self._retry_left = 0
        self._retry_attempt = 0
        self._retry_reason = ""
        self._retry_of: int | None = None
        self._waiting: WaitingLine | None = None  # built when an answer is sent
        self._retry_timer = QTimer(self)
        self._retry_timer.setInterval(1000)
        self._retry_timer.timeout.connect(self._retry_tick)

        # Reasoning (collapsed, above the answer) and the error card are built when first needed:
        # most messages never show them, and long chats open faster without them.
        self._reasoning_toggle: QToolButton | None = None
        self._reasoning_body: SafeTextBrowser | None = None

        # Where the instruments go (parley.ui.instruments.answer): candidate tabs above the
        # answer, token probabilities and the structured-output check below it.
        self.instruments: Any = None
        self.instruments_top = QVBoxLayout()
        self._layout.addLayout(self.instruments_top)
        self.body = MarkdownView(self)
        self.body.render_timer.timeout.connect(self._flush_reasoning)
        self.body.setAccessibleName("Answer")
        self.body.copy_code.connect(self.copy_code_block)
        self.body.link_activated.connect(self.link_clicked)
        self._layout.addWidget(self.body)

        self.refusal_label = Pill("warn", self)
        self.refusal_label.setContentsMargins(8, 4, 8, 4)
        self.refusal_label.setWordWrap(True)
        self.refusal_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refusal_label.hide()
        self._layout.addWidget(self.refusal_label)

        self.tool_box = QVBoxLayout()
        self.tool_box.setSpacing(4)
        self._layout.addLayout(self.tool_box)
        self.tool_cards: list[QFrame] = []
        self.instruments_bottom = QVBoxLayout()
        self.instruments_bottom.setSpacing(2)
        self._layout.addLayout(self.instruments_bottom)

        self._error_card: QFrame | None = None

        footer = QHBoxLayout()
        self.badge = Pill("warn", self)
        self.badge.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
        self.badge.hide()
        self.continue_button = _link_button("Continue", "Continue the answer", self)
        self.continue_button.clicked.connect(lambda: self.continue_requested.emit(self.msg_id))
        self.continue_button.hide()
        self.set_continue_in_place(False)
        self.metrics_label = QLabel(self)
        theme.tag(self.metrics_label, text="muted")
        self.metrics_label.setTextFormat(Qt.TextFormat.PlainText)
        self.metrics_label.setWordWrap(True)
        self.metrics_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.metrics_label.setAccessibleName("Answer metrics")
        self.metrics_label.hide()
        footer.addWidget(self.badge)
        footer.addWidget(self.continue_button)
        footer.addWidget(self.metrics_label, 1)
        footer.addStretch(0)
        self._layout.addLayout(footer)
        self.set_branch(*branch)

    def _ensure_reasoning(self) -> tuple[QToolButton, SafeTextBrowser]:
        if self._reasoning_toggle is None or self._reasoning_body is None:
            toggle = QToolButton(self)
            theme.style_link_button(toggle)
            toggle.setCheckable(True)
            toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            toggle.setArrowType(Qt.ArrowType.RightArrow)
            toggle.setText("Thinking…")
            toggle.setAccessibleName("Show reasoning")
            toggle.toggled.connect(self._toggle_reasoning)
            toggle.hide()
            body = SafeTextBrowser(self)
            theme.tag(body, text="muted")
            body.setAccessibleName("Reasoning")
            body.hide()
            self._layout.insertWidget(1, toggle)
            self._layout.insertWidget(2, body)
            self._reasoning_toggle, self._reasoning_body = toggle, body
        return self._reasoning_toggle, self._reasoning_body

    @property
    def reasoning_toggle(self) -> QToolButton:
        return self._ensure_reasoning()[0]

    @property
    def reasoning_body(self) -> SafeTextBrowser:
        return self._ensure_reasoning()[1]

    def _ensure_error_card(self) -> QFrame:
        if self._error_card is None:
            card = Card("error", self)
            theme.tag(card, text="error_text")
            ec = QVBoxLayout(card)
            ec.setContentsMargins(10, 8, 10, 8)
            self._error_title = _bold(QLabel(card))
            self._error_title.setWordWrap(True)
            self._error_message = QLabel(card)
            self._error_message.setWordWrap(True)
            self._error_message.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
            )
            self._error_provider = QLabel(card)
            self._error_provider.setWordWrap(True)
            self._error_provider.setTextFormat(Qt.TextFormat.PlainText)
            self._error_provider.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
            )
            for lbl in (self._error_title, self._error_message):
                lbl.setTextFormat(Qt.TextFormat.PlainText)
            ec.addWidget(self._error_title)
            ec.addWidget(self._error_message)
            ec.addWidget(self._error_provider)
            actions = QHBoxLayout()
            self._countdown_label = QLabel(card)
            self._countdown_label.setAccessibleName("Automatic retry countdown")
            self._keys_button = QPushButton("Open key settings", card)
            self._keys_button.setAccessibleName("Open key settings")
            self._keys_button.clicked.connect(
                lambda: self.open_keys_requested.emit(self._provider_id)
            )
            self._retry_button = QPushButton("Retry now", card)
            self._retry_button.setAccessibleName("Retry now")
            self._retry_button.clicked.connect(self._retry_now)
            self._inspect_error_button = QPushButton("Inspect", card)
            self._inspect_error_button.setAccessibleName("Inspect the failed request")
            self._inspect_error_button.clicked.connect(
                lambda: self.inspect_requested.emit(self.msg_id)
            )
            self._cancel_retry_button = QPushButton("Cancel", card)
            self._cancel_retry_button.setAccessibleName("Cancel automatic retry")
            self._cancel_retry_button.clicked.connect(self.cancel_countdown)
            actions.addWidget(self._countdown_label)
            actions.addStretch(1)
            for b in (
                self._inspect_error_button,
                self._keys_button,
                self._cancel_retry_button,
                self._retry_button,
            ):
                actions.addWidget(b)
            ec.addLayout(actions)
            card.hide()
            self._layout.insertWidget(self._layout.indexOf(self.body) + 3, card)
            self._error_card = card
        return self._error_card

    @property
    def error_title(self) -> QLabel:
        self._ensure_error_card()
        return self._error_title

    @property
    def error_message(self) -> QLabel:
        self._ensure_error_card()
        return self._error_message

    @property
    def error_provider(self) -> QLabel:
        self._ensure_error_card()
        return self._error_provider

    @property
    def countdown_label(self) -> QLabel:
        self._ensure_error_card()
        return self._countdown_label

    @property
    def keys_button(self) -> QPushButton:
        self._ensure_error_card()
        return self._keys_button

    @property
    def retry_button(self) -> QPushButton:
        self._ensure_error_card()
        return self._retry_button

    @property
    def inspect_error_button(self) -> QPushButton:
        self._ensure_error_card()
        return self._inspect_error_button

    @property
    def cancel_retry_button(self) -> QPushButton:
        self._ensure_error_card()
        return self._cancel_retry_button

    @property
    def error_card(self) -> QFrame:
        return self._ensure_error_card()

    @property
    def _reasoning(self) -> str:
        return self._reasoning_buf.get()

    @_reasoning.setter
    def _reasoning(self, value: str) -> None:
        self._reasoning_buf.set(value)

    # --- streaming -------------------------------------------------------------------------

    def start_waiting(self, started_at: float | None = None) -> None:
        """Until the first token: that it waits, and for how long (since `started_at`)."""
        if self._waiting is None:
            self._waiting = WaitingLine(self)
            self._layout.insertWidget(self._layout.indexOf(self.body), self._waiting)
        self._waiting.start(started_at)
        self.body.hide()  # empty until the first token: no blank box under the line

    @property
    def waiting(self) -> WaitingLine | None:
        return self._waiting

    def _stop_waiting(self) -> None:
        if self._waiting is not None and self._waiting.is_waiting():
            self._waiting.stop()
            self.body.show()

    def append_text(self, delta: str) -> None:
        if delta:
            self._clear_retrying()
            self.body.append(delta)

    def append_reasoning(self, delta: str) -> None:
        if delta:
            self._clear_retrying()
            self._reasoning_buf.append(delta)
            if self.reasoning_toggle.isHidden():
                self.reasoning_toggle.show()
            self.body.schedule()

    def set_text(self, text: str, reasoning: str = "") -> None:
        """Show a complete answer at once (history), or confirm the streamed one."""
        # The same text streamed in: settle it cheaply (paint what is pending, no full render).
        # Otherwise one render of the whole text.
        streamed = self.body.is_streamed(text)
        self._reasoning = reasoning
        self.body.set_text(text, force=not streamed)
        self._settle_reasoning(force=not streamed)

    def flush(self, final: bool = False) -> None:
        """Paint what has arrived (see `MarkdownView.flush`), the reasoning too."""
        self._flush_reasoning()
        self.body.flush(final)

    def _flush_reasoning(self) -> None:
        if len(self._reasoning) != self._reasoning_shown:
            cur = QTextCursor(self.reasoning_body.document())
            cur.movePosition(QTextCursor.MoveOperation.End)
            cur.insertText(self._reasoning[self._reasoning_shown :])
            self._reasoning_shown = len(self._reasoning)
            self.reasoning_toggle.show()

    def _render_final(self, force: bool = False) -> None:
        self.body.settle(force)
        self._settle_reasoning(force)

    def _settle_reasoning(self, force: bool) -> None:
        if self._reasoning:
            if self._reasoning_shown != len(self._reasoning) or force:
                self.reasoning_body.setPlainText(self._reasoning)
                self._reasoning_shown = len(self._reasoning)
            self.reasoning_toggle.show()
            streaming = self.status == "streaming"
            self.reasoning_toggle.setText("Thinking…" if streaming else "Reasoning")
        elif self._reasoning_toggle is not None:
            self._reasoning_toggle.hide()
            self.reasoning_body.clear()
            self._reasoning_shown = 0
        self.body.setVisible(bool(self.body.text()) or self.status == "streaming")

    def rerender(self) -> None:
        """Render again in the current theme's colours (code blocks carry their colours)."""
        if self.status != "streaming":
            self._render_final(force=True)
            return
        self.body.restream()

    def text(self) -> str:
        return self.body.text()

    def reasoning(self) -> str:
        return self._reasoning

    def message_text(self) -> str:
        return self.body.text()

    def code_blocks(self) -> list[str]:
        return self.body.code_blocks()

    def copy_code_block(self, index: int) -> None:
        if 0 <= index < len(self.body.code_blocks()):
            QGuiApplication.clipboard().setText(self.body.code_blocks()[index])

    def _toggle_reasoning(self, shown: bool) -> None:
        self.reasoning_body.setVisible(shown)
        self.reasoning_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self.reasoning_toggle.setAccessibleName("Hide reasoning" if shown else "Show reasoning")

    # --- end states ------------------------------------------------------------------------

    def _end(self, status: str) -> None:
        self._clear_retrying()
        self.status = status
        self.stop_button.hide()
        self.regenerate_button.show()
        self.inspect_button.show()
        self._render_final()

    def set_finished(self, finish_reason: str | None = "stop") -> None:
        self.finish_reason = finish_reason
        self._end("complete")
        label = FINISH_BADGES.get(finish_reason or "stop")
        if label is None and finish_reason not in (None, "stop", ""):
            label = str(finish_reason)
        self._show_badge(label)
        self.continue_button.setVisible(finish_reason == "length")

    def set_continue_in_place(self, in_place: bool) -> None:
        """Say what Continue does with the chosen provider: extend this answer, or ask for
        more in a new message of yours."""
        if in_place:
            self.continue_button.setText("Continue")
            self.continue_button.setToolTip(
                "The model goes on from where this answer was cut off; the answer is extended "
                "(a new version of it, beside this one)."
            )
        else:
            self.continue_button.setText("Ask to continue")
            self.continue_button.setToolTip(
                "This provider cannot extend an answer: a message of yours asks the model to "
                "go on exactly where it stopped."
            )
        self.continue_button.setAccessibleName(self.continue_button.text())

    def set_stopped(self, label: str = "stopped") -> None:
        """The partial answer is kept: stopped by the user, or "interrupted" by a crash."""
        self._end("stopped")
        self._show_badge(label)

    def _show_badge(self, label: str | None) -> None:
        self.badge.setText(label or "")
        self.badge.setAccessibleName(f"Finish: {label}" if label else "")
        self.badge.setVisible(bool(label))

    def set_refusal(self, text: str) -> None:
        self._clear_retrying()
        self.refusal_label.setText(f"Refused: {text}")
        self.refusal_label.setVisible(bool(text))

    def set_tool_calls(self, calls: Iterable[Any]) -> None:
        """Tool calls as cards; each item has `name` and `arguments` (mapping or object)."""
        self._clear_retrying()
        for card in self.tool_cards:
            card.deleteLater()
        self.tool_cards = []
        for call in calls:
            name = str(_get(call, "name", "") or "(unnamed tool)")
            args = _get(call, "arguments", "")
            args_text = args if isinstance(args, str) else json.dumps(args, indent=2)
            card = Card("tool", self)
            lay = QVBoxLayout(card)
            lay.setContentsMargins(8, 6, 8, 6)
            title = QLabel(f"Tool call: {name}", card)
            title.setTextFormat(Qt.TextFormat.PlainText)
            _bold(title)
            body = QLabel(_pretty_arguments(args_text), card)
            body.setTextFormat(Qt.TextFormat.PlainText)
            body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            body.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
            body.setWordWrap(True)
            card.setAccessibleName(f"Tool call {name}")
            lay.addWidget(title)
            lay.addWidget(body)
            self.tool_box.addWidget(card)
            self.tool_cards.append(card)

    def set_metrics(
        self,
        model_used: str | None = None,
        ttft_ms: float | None = None,
        tokens_per_s: float | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cached_tokens: int | None = None,
        cost: float | None = None,
        *,
        total_ms: float | None = None,
        currency: str = "USD",
        estimated: bool = False,
    ) -> None:
        text = format_metrics(
            model_used,
            ttft_ms,
            tokens_per_s,
            prompt_tokens,
            completion_tokens,
            reasoning_tokens,
            cached_tokens,
            cost,
            total_ms,
            currency,
            estimated,
        )
        self.metrics_label.setText(text)
        self.metrics_label.setVisible(bool(text))

    # --- errors ----------------------------------------------------------------------------

    def set_error(
        self,
        kind: str,
        message: str,
        provider_message: str | None = None,
        provider_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Show an error card; the partial answer (if any) stays above it.

        auth/forbidden -> "Open key settings" (open_keys_requested(provider_id));
        rate_limit with `retry_after` -> a live countdown that emits retry_requested at zero;
        server/network/timeout/protocol/rate_limit -> "Retry now" (retry_requested(msg_id)).
        """
        kind = str(kind)
        self._provider_id = provider_id or ""
        self._end("failed")
        title = ERROR_TITLES.get(kind, "Something went wrong")
        if provider_id:
            title = f"{title} ({provider_id})"
        self.error_title.setText(title)
        self.error_message.setText(message)
        self.error_provider.setText(
            f"The provider said: {provider_message}" if provider_message else ""
        )
        self.error_provider.setVisible(bool(provider_message))
        self.keys_button.setVisible(kind in KEY_KINDS)
        self.retry_button.setVisible(kind in RETRY_KINDS)
        self.cancel_countdown()
        if kind == "rate_limit" and retry_after is not None:
            self.start_countdown(retry_after)
        self.error_card.setAccessibleName(f"Error: {title}")
        self.error_card.show()

    def start_countdown(self, seconds: float) -> None:
        self._countdown_left = max(0, math.ceil(seconds))
        self.countdown_label.show()
        self.cancel_retry_button.show()
        self._show_countdown()
        self._countdown.start(self.countdown_interval_ms)
        if self._countdown_left == 0:
            self._tick()

    def _show_countdown(self) -> None:
        self.countdown_label.setText(f"Retrying in {self._countdown_left} s…")

    def _tick(self) -> None:
        self._countdown_left -= 1
        if self._countdown_left <= 0:
            self.cancel_countdown()
            self.retry_requested.emit(self.msg_id)
        else:
            self._show_countdown()

    def cancel_countdown(self) -> None:
        self._countdown.stop()
        if self._error_card is None:
            return
        self.countdown_label.hide()
        self.cancel_retry_button.hide()

    def countdown_remaining(self) -> int | None:
        return self._countdown_left if self._countdown.isActive() else None

    def _retry_now(self) -> None:
        self.cancel_countdown()
        self.retry_requested.emit(self.msg_id)

    def set_retrying(
        self, attempt: int, delay_s: float, reason: str = "", of: int | None = None
    ) -> None:
        """The engine waits before retrying by itself: a badge says why and counts down to
        attempt `attempt` (of `of`); nothing is emitted."""
        self.status = "streaming"
        if self._error_card is not None:
            self._error_card.hide()
        self._retry_left = max(0, math.ceil(delay_s))
        self._retry_attempt = attempt
        self._retry_reason, self._retry_of = reason, of
        self._show_retry()
        self._retry_timer.start(self.countdown_interval_ms)

    def _show_retry(self) -> None:
        text = retry_text(self._retry_reason, self._retry_left, self._retry_attempt, self._retry_of)
        self._show_badge(text)
        self.badge.setAccessibleName(text)

    def _retry_tick(self) -> None:
        self._retry_left -= 1
        if self._retry_left <= 0:
            self._retry_timer.stop()
        self._show_retry()

    def _clear_retrying(self) -> None:
        self._stop_waiting()  # an answer began, or ended
        if self._retry_attempt:
            self._retry_timer.stop()
            self._retry_attempt = 0
            self.badge.setToolTip("")
            self._show_badge(None)

"""One widget per chat message: the user's prompt and the assistant's streamed answer.

Widgets hold presentation only; the window feeds them from core objects (ChatResult, store rows)
and listens to their signals. Model output is untrusted: see `SafeTextBrowser`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QPaintEvent,
    QPixmap,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
    QTextList,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from parley.core.protocol.errors import RETRYABLE, ErrorKind
from parley.core.protocol.request import ImagePart
from parley.core.render.markdown import (
    COPY_SCHEME,
    MATH_SCHEME,
    IncrementalMarkdown,
    OpenCode,
    Update,
    code_colors,
    math_source,
    render_markdown,
    render_open_code,
)
from parley.ui import theme
from parley.ui.math_images import math_images

RENDER_INTERVAL_MS = 40
OPENABLE_SCHEMES = ("http", "https", "mailto")

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


class SafeTextBrowser(QTextBrowser):
    """A read-only rich-text view that grows with its content and never fetches anything.

    Links are not followed: `link_activated` reports http(s)/mailto clicks and `copy_code`
    reports clicks on a code block's Copy anchor. Wheel events go to the surrounding scroll area.
    """

    link_activated = Signal(QUrl)
    copy_code = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.document().setDocumentMargin(2)
        self.document().setUndoRedoEnabled(False)
        # Transparent: the card behind shows through.
        self.viewport().setAutoFillBackground(False)
        theme.tint(self, transparent_base=True)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self.anchorClicked.connect(self._on_anchor)
        self.setFixedHeight(8)

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        # Untrusted content: never load images or style sheets from anywhere. Formulas are
        # typeset here (see math_images).
        url = bytes(name.toEncoded()).decode() if isinstance(name, QUrl) else str(name)
        if url.startswith(f"{MATH_SCHEME}:"):
            color = self.palette().text().color()
            return math_images().load(self, url, self.font(), color, self.devicePixelRatioF())
        return None

    def math_ready(self, url: str, image: QImage) -> None:
        """Show a typeset formula in place of its TeX, laying out only its characters again."""
        doc = self.document()
        source = math_source(url)
        found = QTextCursor(doc)
        while not (found := doc.find("\ufffc", found)).isNull():
            fmt = found.charFormat()
            if fmt.isImageFormat() and math_source(fmt.toImageFormat().name()) == source:
                name = fmt.toImageFormat().name()
                doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
                doc.markContentsDirty(found.selectionStart(), 1)

    def _fit_height(self, size: Any = None) -> None:
        h = math.ceil(self.document().size().height()) + 2 * self.frameWidth()
        if h != self.height():
            self.setFixedHeight(max(h, 8))

    def wheelEvent(self, e: QWheelEvent) -> None:
        e.ignore()

    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == COPY_SCHEME:
            if url.path().isdigit():
                self.copy_code.emit(int(url.path()))
        elif url.scheme().lower() in OPENABLE_SCHEMES:
            self.link_activated.emit(url)

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.height())


def _is_rule(block: QTextBlock) -> bool:
    return block.blockFormat().hasProperty(QTextFormat.Property.BlockTrailingHorizontalRulerWidth)


def _ends_with_table(html: str) -> bool:
    return html.rstrip().endswith("</table>")


def append_html(
    cursor: QTextCursor,
    html: str,
    *,
    after_table: bool = False,
    lead: str = "",
    trail: str = "",
    join: QTextList | None = None,
) -> QTextList | None:
    """Append rendered HTML blocks at the end of the cursor's document, laid out as `setHtml`
    would lay them out after what is there: a new block (not merged into the previous one), an
    empty block after a table. The cursor ends at the end of the document. `after_table`: the
    document ends with a table (Qt cannot tell inside an edit block).

    A piece that goes on with a list comes with a `lead` (see `markdown.Update`): its items are
    numbered on from the list `join`. A piece that ends inside a list comes with a `trail`: that
    list is returned.
    """
    cursor.movePosition(QTextCursor.MoveOperation.End)
    html = html.strip("\n")
    if not html:
        return join
    doc = cursor.document()
    if html.startswith("<table"):
        # Qt puts a table after the block the cursor is in, as setHtml does. What follows the
        # table goes in separately (Qt would merge its first block into the one after the table).
        end = html.index("</table>") + len("</table>")
        cursor.insertFragment(QTextDocumentFragment.fromHtml(html[:end]))
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if cursor.block().length() == 1:
            # The block after the table is plain in a fresh document.
            cursor.setBlockFormat(QTextBlockFormat())
            cursor.setBlockCharFormat(QTextCharFormat())
        return append_html(cursor, html[end:].lstrip("\n"), after_table=True, trail=trail)
    if cursor.block().length() > 1 or _is_rule(cursor.block()) or after_table:
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
    start = cursor.position()
    # The fragment's first block would merge into the current block and lose its own format
    # (heading, rule, list item): lead with a throwaway block and remove it afterwards. (A
    # list's placeholder item does that too, and makes the items after it middle ones.)
    cursor.insertFragment(QTextDocumentFragment.fromHtml((lead or "<p>\u2060</p>") + html + trail))
    dummy = doc.findBlock(start)
    while lead and dummy.isValid() and dummy.text() != "\u2060":
        dummy = dummy.next()  # a list starts in a block of its own, after the cursor's
    first = dummy.next()
    if first.isValid():
        continued = dummy.textList() if lead else None
        _remove_blocks_before(doc, doc.findBlock(start), first)
        # (Qt drops a list whose items all went: then there is nothing to number.)
        if continued is not None and join is not None and isValid(continued) and isValid(join):
            _continue_numbering(continued, join)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    if not trail:
        return None
    placeholder = doc.lastBlock()
    left_open = placeholder.textList()
    before = placeholder.previous()
    if before.isValid():
        block_format, char_format = before.blockFormat(), before.charFormat()
        fix = QTextCursor(doc)
        fix.setPosition(before.position() + before.length() - 1)
        fix.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        fix.removeSelectedText()
        fix.setBlockFormat(block_format)
        fix.setBlockCharFormat(char_format)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    # Qt drops an item holding only a list, and a list with no items left.
    return left_open if left_open is not None and isValid(left_open) else None


def _remove_blocks_before(doc: QTextDocument, dummy: QTextBlock, first: QTextBlock) -> None:
    """Remove the blocks from `dummy` up to `first`, which keeps its own formats."""
    block_format, char_format = first.blockFormat(), first.charFormat()
    fix = QTextCursor(doc)
    fix.setPosition(dummy.position())
    fix.setPosition(first.position(), QTextCursor.MoveMode.KeepAnchor)
    fix.removeSelectedText()
    fix.setBlockFormat(block_format)
    fix.setBlockCharFormat(char_format)


def _continue_numbering(piece: QTextList, before: QTextList) -> None:
    """Number the items of `piece` on from those of the list `before` it continues.

    The pieces stay lists of their own, laid out as one list (the placeholder items gave their
    joining items a middle item's spacing): adding the items to `before` instead would make Qt
    lay out the whole list again on every streamed update."""
    fmt = piece.format()
    fmt.setStart(before.format().start() + before.count())
    piece.setFormat(fmt)


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
        theme.paint_card(self, self.card_kind)
        super().paintEvent(e)


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
        self._layout.addLayout(self.header)

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


class _Growing:
    """A string built from many small pieces without copying it on every piece."""

    __slots__ = ("_done", "_parts")

    def __init__(self) -> None:
        self._done = ""
        self._parts: list[str] = []

    def append(self, piece: str) -> None:
        self._parts.append(piece)

    def set(self, value: str) -> None:
        self._done = value
        self._parts.clear()

    def get(self) -> str:
        if self._parts:
            self._done += "".join(self._parts)
            self._parts.clear()
        return self._done


class AssistantMessageWidget(MessageWidget):
    """An assistant answer: streamed Markdown, reasoning, tool calls, badges, errors, metrics."""

    regenerate_requested = Signal(str)
    continue_requested = Signal(str)
    retry_requested = Signal(str)
    open_keys_requested = Signal(str)  # provider id
    stop_requested = Signal()
    inspect_requested = Signal(str)

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

        self._text_buf = _Growing()
        self._reasoning_buf = _Growing()
        self._reasoning_shown = 0
        self._md = IncrementalMarkdown(dark=theme.is_dark())
        self._final_key: tuple[str, bool] | None = None
        self._stable_shown = False
        self._stable_table_end = False
        self._open_list: QTextList | None = None  # the list the finished part ends inside
        self._open_code: OpenCode | None = None
        self._code_cursor: QTextCursor | None = None
        self._code_format = QTextCharFormat()
        self._code_format.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._code_blocks: list[str] = []
        self._tail_anchor = 0
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self.flush)
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
        self._retry_timer = QTimer(self)
        self._retry_timer.setInterval(1000)
        self._retry_timer.timeout.connect(self._retry_tick)

        # Reasoning (collapsed, above the answer) and the error card are built when first needed:
        # most messages never show them, and long chats open faster without them.
        self._reasoning_toggle: QToolButton | None = None
        self._reasoning_body: SafeTextBrowser | None = None

        self.body = SafeTextBrowser(self)
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

        self._error_card: QFrame | None = None

        footer = QHBoxLayout()
        self.badge = Pill("warn", self)
        self.badge.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
        self.badge.hide()
        self.continue_button = _link_button("Continue", "Continue the answer", self)
        self.continue_button.clicked.connect(lambda: self.continue_requested.emit(self.msg_id))
        self.continue_button.hide()
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
    def _text(self) -> str:
        return self._text_buf.get()

    @_text.setter
    def _text(self, value: str) -> None:
        self._text_buf.set(value)

    @property
    def _reasoning(self) -> str:
        return self._reasoning_buf.get()

    @_reasoning.setter
    def _reasoning(self, value: str) -> None:
        self._reasoning_buf.set(value)

    # --- streaming -------------------------------------------------------------------------

    def append_text(self, delta: str) -> None:
        if delta:
            self._clear_retrying()
            self._text_buf.append(delta)
            self._schedule()

    def append_reasoning(self, delta: str) -> None:
        if delta:
            self._clear_retrying()
            self._reasoning_buf.append(delta)
            if self.reasoning_toggle.isHidden():
                self.reasoning_toggle.show()
            self._schedule()

    def set_text(self, text: str, reasoning: str = "") -> None:
        """Show a complete answer at once (history), or confirm the streamed one."""
        streamed = text == self._text and (bool(self._md.text) or self._final_key is not None)
        self._text = text
        self._reasoning = reasoning
        # The same text streamed in: settle it cheaply (paint what is pending, no full render).
        # Otherwise one render of the whole text.
        self._render_final(force=not streamed)

    def _schedule(self) -> None:
        if not self._render_timer.isActive():
            self._render_timer.start()

    def flush(self, final: bool = False) -> None:
        """Paint what has arrived: the new finished blocks once, then the unfinished tail.

        `final`: the text is complete; an unclosed code block is painted highlighted, as a
        full render would.
        """
        self._render_timer.stop()
        if len(self._reasoning) != self._reasoning_shown:
            cur = QTextCursor(self.reasoning_body.document())
            cur.movePosition(QTextCursor.MoveOperation.End)
            cur.insertText(self._reasoning[self._reasoning_shown :])
            self._reasoning_shown = len(self._reasoning)
            self.reasoning_toggle.show()
        if self._md.text == self._text and not (final and self._open_code is not None):
            return
        doc = self.body.document()
        cur = QTextCursor(doc)
        if self._final_key is not None:
            # Text arrives after a final render (e.g. a continued answer): start over.
            self._final_key = None
            self._md = IncrementalMarkdown(dark=theme.is_dark())
            self._tail_anchor = 0
            self._stable_shown = False
            self._stable_table_end = False
            self._open_list = None
            self._open_code = None
        up = self._md.update(self._text)
        self._code_blocks = self._md.code_blocks
        if not final and self._append_open_code(up):
            return
        # One edit block: Qt lays the changed blocks out once, at its end.
        cur.beginEditBlock()
        if up.replace_all:
            self._tail_anchor = 0
            self._stable_shown = False
            self._stable_table_end = False
        # Removing up to the end can hand the last removed block's format to the block the
        # removal starts in: keep that block's own (or, at the very start, plain) formats.
        if self._stable_shown:
            kept = doc.findBlock(self._tail_anchor)
            block_format, char_format = kept.blockFormat(), kept.charFormat()
        else:
            block_format, char_format = QTextBlockFormat(), QTextCharFormat()
        cur.setPosition(self._tail_anchor)
        cur.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cur.removeSelectedText()
        cur.setBlockFormat(block_format)
        cur.setBlockCharFormat(char_format)
        if up.replace_all:
            self._open_list = None
        if up.stable_html:
            self._open_list = append_html(
                cur,
                up.stable_html,
                after_table=self._stable_table_end,
                lead=up.stable_lead,
                trail=up.stable_trail,
                join=self._open_list,
            )
            self._tail_anchor = cur.position()
            self._stable_shown = True
            self._stable_table_end = _ends_with_table(up.stable_html)
        after_table = self._stable_shown and self._stable_table_end
        self._open_code = None
        if up.open_code is not None and not final:
            append_html(
                cur, render_open_code(up.open_code, dark=self._md.dark), after_table=after_table
            )
        else:
            append_html(
                cur, up.tail_html, after_table=after_table, lead=up.tail_lead, join=self._open_list
            )
        cur.endEditBlock()
        if up.open_code is not None and not final:
            self._shade_open_code(up.open_code)
            self._code_cursor = self._open_code_cursor()
            self._open_code = up.open_code

    def _shade_open_code(self, code: OpenCode) -> None:
        """Give the growing code block's lines the code background (Qt's HTML import drops it
        from a <pre>); lines appended later continue the last block and keep it."""
        fmt = QTextBlockFormat()
        fmt.setBackground(QColor(code_colors(self._md.dark).background))
        block = self.body.document().lastBlock()
        for _ in range(code.code.removesuffix("\n").count("\n") + 1):
            if not block.isValid():
                break
            QTextCursor(block).mergeBlockFormat(fmt)
            block = block.previous()

    def _open_code_cursor(self) -> QTextCursor | None:
        """A cursor at the end of the code block just appended (the document's end)."""
        cur = QTextCursor(self.body.document())
        cur.movePosition(QTextCursor.MoveOperation.End)
        return cur

    def _append_open_code(self, up: Update) -> bool:
        """While a code block grows, append its new characters instead of re-rendering it."""
        shown, new = self._open_code, up.open_code
        if (
            shown is None
            or new is None
            or self._code_cursor is None
            or up.stable_html
            or up.replace_all
            or (new.lang, new.index) != (shown.lang, shown.index)
        ):
            return False
        old_text, new_text = shown.code.removesuffix("\n"), new.code.removesuffix("\n")
        if not new_text.startswith(old_text):
            return False
        if len(new_text) > len(old_text):
            self._code_cursor.insertText(new_text[len(old_text) :], self._code_format)
        self._open_code = new
        return True

    def _render_final(self, force: bool = False) -> None:
        """Settle the rendering of a complete answer: finish a streamed document (it already
        matches a one-shot render, but for an unclosed code block) or render it at once."""
        self._render_timer.stop()
        dark = theme.is_dark()
        key = (self._text, dark)
        if not force and self._final_key is None and self._md.dark == dark and self._text:
            # Streamed: the incremental document already matches a full render but for an
            # unclosed code block, which `flush(final=True)` highlights. No full re-render.
            self.flush(final=True)
            self._final_key = key
            self._open_code = None
            self._code_cursor = None
        elif force or key != self._final_key:
            rendered = render_markdown(self._text, dark=dark)
            doc = self.body.document()
            doc.setLayoutEnabled(False)
            doc.setHtml(rendered.html.rstrip("\n"))  # a trailing newline shows as a space
            doc.setLayoutEnabled(True)
            self._code_blocks = rendered.code_blocks
            self._final_key = key
            self._open_code = None
            self._code_cursor = None
            # The incremental renderer now describes what is shown: nothing new to paint.
            self._md.text = self._text
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
        self.body.setVisible(bool(self._text) or self.status == "streaming")

    def rerender(self) -> None:
        """Render again in the current theme's colours (code blocks carry their colours)."""
        if self.status != "streaming":
            self._render_final(force=True)
            return
        self._md = IncrementalMarkdown(dark=theme.is_dark())
        self.body.document().clear()
        self._tail_anchor = 0
        self._stable_shown = False
        self._stable_table_end = False
        self._open_list = None
        self._open_code = None
        self._code_cursor = None
        self._schedule()

    def text(self) -> str:
        return self._text

    def reasoning(self) -> str:
        return self._reasoning

    def message_text(self) -> str:
        return self._text

    def code_blocks(self) -> list[str]:
        return list(self._code_blocks)

    def copy_code_block(self, index: int) -> None:
        if 0 <= index < len(self._code_blocks):
            QGuiApplication.clipboard().setText(self._code_blocks[index])

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

    def set_stopped(self, label: str = "stopped") -> None:
        """The partial answer is kept: stopped by the user, or "interrupted" by a crash."""
        self._end("stopped")
        self._show_badge(label)

    def _show_badge(self, label: str | None) -> None:
        self.badge.setText(label or "")
        self.badge.setAccessibleName(f"Finish: {label}" if label else "")
        self.badge.setVisible(bool(label))

    def set_refusal(self, text: str) -> None:
        self.refusal_label.setText(f"Refused: {text}")
        self.refusal_label.setVisible(bool(text))

    def set_tool_calls(self, calls: Iterable[Any]) -> None:
        """Tool calls as cards; each item has `name` and `arguments` (mapping or object)."""
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

    def set_retrying(self, attempt: int, delay_s: float) -> None:
        """The engine waits before retrying by itself: show a countdown badge, emit nothing."""
        self.status = "streaming"
        if self._error_card is not None:
            self._error_card.hide()
        self._retry_left = max(0, math.ceil(delay_s))
        self._retry_attempt = attempt
        self._show_retry()
        self._retry_timer.start(self.countdown_interval_ms)

    def _show_retry(self) -> None:
        if self._retry_left > 0:
            left, attempt = self._retry_left, self._retry_attempt
            self._show_badge(f"Retrying in {left} s… (attempt {attempt})")
        else:
            self._show_badge(f"Retrying… (attempt {self._retry_attempt})")

    def _retry_tick(self) -> None:
        self._retry_left -= 1
        if self._retry_left <= 0:
            self._retry_timer.stop()
        self._show_retry()

    def _clear_retrying(self) -> None:
        if self._retry_attempt:
            self._retry_timer.stop()
            self._retry_attempt = 0
            self._show_badge(None)

"""The streaming Markdown view: an answer's text, painted as it arrives and settled when done.

`SafeTextBrowser` is the read-only rich-text view every message body uses (model output is
untrusted: it never fetches anything). `MarkdownView` adds the streaming: `append` pieces as
they arrive and the view paints, at most every `RENDER_INTERVAL_MS`, the newly finished blocks
once and the unfinished tail again (`core.render.markdown.IncrementalMarkdown`); `set_text`
shows a whole answer at once. The chat's answers and the Lab's panes both show text with it.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QImage,
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
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget
from shiboken6 import isValid

from parley.core.protocol.errors import may_echo, redact
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
        url = bytes(name.toEncoded().data()).decode() if isinstance(name, QUrl) else str(name)
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


class Growing:
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


class MarkdownView(SafeTextBrowser):
    """Markdown text shown as it streams in, then settled as a one-shot render would show it.

    `append` adds a piece and schedules a paint (`render_timer`); `flush` paints now;
    `settle` finishes a complete text (cheaply when it is the one streamed in); `set_text`
    replaces the text and renders it at once.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text_buf = Growing()
        self._md = IncrementalMarkdown(dark=theme.is_dark())
        self._final_key: tuple[str, bool] | None = None
        self._code_format = QTextCharFormat()
        self._code_format.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._code_blocks: list[str] = []
        # Keys the provider must not be seen echoing: the text is shown with them redacted.
        self.secrets: list[str | None] = []
        self._echo_checked = 0  # how much of the text has been looked at for them
        self._echoed = False
        self._restart()
        self.render_timer = QTimer(self)
        self.render_timer.setSingleShot(True)
        self.render_timer.setInterval(RENDER_INTERVAL_MS)
        self.render_timer.timeout.connect(self.flush)

    def _restart(self) -> None:
        self._tail_anchor = 0
        self._stable_shown = False
        self._stable_table_end = False
        self._open_list: QTextList | None = None  # the list the finished part ends inside
        self._open_code: OpenCode | None = None
        self._code_cursor: QTextCursor | None = None

    def text(self) -> str:
        return self._text_buf.get()

    def code_blocks(self) -> list[str]:
        return list(self._code_blocks)

    def append(self, delta: str) -> None:
        if delta:
            self._text_buf.append(delta)
            self.schedule()

    def schedule(self) -> None:
        if not self.render_timer.isActive():
            self.render_timer.start()

    def _shown_text(self) -> str:
        """The text as shown: with any key in it redacted. Only what arrived since the last
        look is searched (with an overlap for a key cut between two pieces), until one is
        found; from then on the whole text is redacted on every paint."""
        text = self.text()
        if not self.secrets:
            return text
        if not self._echoed:
            overlap = max((len(s) for s in self.secrets if s), default=0)
            fresh = text[max(0, self._echo_checked - overlap) :]
            self._echoed = may_echo(fresh, self.secrets)
            self._echo_checked = len(text)
        return redact(text, self.secrets) if self._echoed else text

    def is_streamed(self, text: str) -> bool:
        """Whether `text` is what was streamed in (and painted) already."""
        return text == self.text() and (bool(self._md.text) or self._final_key is not None)

    def set_text(self, text: str, *, force: bool = True) -> None:
        """Show `text`: rendered at once (`force`), or settled if it is what streamed in."""
        self._text_buf.set(text)
        self.settle(force=force)

    def flush(self, final: bool = False) -> None:
        """Paint what has arrived: the new finished blocks once, then the unfinished tail.

        `final`: the text is complete; an unclosed code block is painted highlighted, as a
        full render would.
        """
        self.render_timer.stop()
        text = self._shown_text()
        if self._md.text == text and not (final and self._open_code is not None):
            return
        doc = self.document()
        cur = QTextCursor(doc)
        if self._final_key is not None:
            # Text arrives after a final render (e.g. a continued answer): start over.
            self._final_key = None
            self._md = IncrementalMarkdown(dark=theme.is_dark())
            self._restart()
        up = self._md.update(text)
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
        block = self.document().lastBlock()
        for _ in range(code.code.removesuffix("\n").count("\n") + 1):
            if not block.isValid():
                break
            QTextCursor(block).mergeBlockFormat(fmt)
            block = block.previous()

    def _open_code_cursor(self) -> QTextCursor | None:
        """A cursor at the end of the code block just appended (the document's end)."""
        cur = QTextCursor(self.document())
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

    def settle(self, force: bool = False) -> None:
        """Settle the rendering of a complete text: finish a streamed document (it already
        matches a one-shot render, but for an unclosed code block) or render it at once."""
        self.render_timer.stop()
        dark = theme.is_dark()
        text = self.text()
        key = (text, dark)
        if not force and self._final_key is None and self._md.dark == dark and text:
            # Streamed: the incremental document already matches a full render but for an
            # unclosed code block, which `flush(final=True)` highlights. No full re-render.
            self.flush(final=True)
            self._final_key = key
            self._open_code = None
            self._code_cursor = None
        elif force or key != self._final_key:
            rendered = render_markdown(text, dark=dark)
            doc = self.document()
            doc.setLayoutEnabled(False)
            doc.setHtml(rendered.html.rstrip("\n"))  # a trailing newline shows as a space
            doc.setLayoutEnabled(True)
            self._code_blocks = rendered.code_blocks
            self._final_key = key
            self._open_code = None
            self._code_cursor = None
            # The incremental renderer now describes what is shown: nothing new to paint.
            self._md.text = text

    def restream(self) -> None:
        """Paint the text streamed so far again, in the current theme's colours."""
        self._md = IncrementalMarkdown(dark=theme.is_dark())
        self.document().clear()
        self._restart()
        self.schedule()

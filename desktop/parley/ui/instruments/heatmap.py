"""The token heatmap: an answer's tokens tinted by how likely the model found them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QLabel, QToolTip, QVBoxLayout, QWidget

from parley.core.chat import logprobs as lp
from parley.core.protocol.events import TokenLogprob
from parley.ui import theme
from parley.ui.chat.markdown_view import SafeTextBrowser

TOKEN_PROPERTY = QTextFormat.Property.UserProperty + 1  # the token's index, on its characters


class TokenHeatmap(SafeTextBrowser):
    """The tokens as plain text, each on its own tint; hovering one shows its probability and
    the top alternatives."""

    token_focused = Signal(int)  # the token under the pointer or after the text cursor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Token probabilities")
        self.setAccessibleDescription(
            "The answer's tokens tinted by probability; move the cursor for each one's details"
        )
        self.setMouseTracking(True)
        self._tokens: tuple[TokenLogprob, ...] = ()
        self.cursorPositionChanged.connect(self._on_cursor)

    def set_tokens(self, tokens: Sequence[TokenLogprob]) -> None:
        self._tokens = tuple(tokens)
        self.paint_tokens()

    def tokens(self) -> tuple[TokenLogprob, ...]:
        return self._tokens

    def paint_tokens(self) -> None:
        """Lay the tokens out in the current theme's colours."""
        c = theme.colors()
        doc = self.document()
        blocked = self.blockSignals(True)  # building it moves the cursor: no token is focused
        doc.clear()
        cursor = QTextCursor(doc)
        cursor.beginEditBlock()
        for i, token in enumerate(self._tokens):
            bg, fg = lp.heat_colors(token.logprob, dark=c.dark, base=c.assistant_card, text=c.text)
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(bg))
            fmt.setForeground(QColor(fg))
            fmt.setProperty(TOKEN_PROPERTY, i)
            # A lone newline token would vanish as a line break: show its mark before it.
            text = (
                token.token.replace("\n", "\u21b5\n") if token.token.strip() == "" else token.token
            )
            cursor.insertText(text, fmt)
        cursor.endEditBlock()
        self.blockSignals(blocked)

    def token_at(self, pos: QPoint) -> int | None:
        """The index of the token under `pos` (viewport coordinates), or None."""
        hit = self.document().documentLayout().hitTest(pos, Qt.HitTestAccuracy.ExactHit)
        if hit < 0:
            return None
        cursor = QTextCursor(self.document())
        cursor.setPosition(hit)
        # The hit is the cursor position nearest to `pos`: on a character's right half, the
        # position after it.
        if hit > 0 and pos.x() < self.cursorRect(cursor).left():
            cursor.setPosition(hit - 1)
        cursor.movePosition(
            QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor
        )
        value = cursor.charFormat().property(TOKEN_PROPERTY)
        return value if isinstance(value, int) and 0 <= value < len(self._tokens) else None

    def token_rect(self, index: int) -> QRect:
        """Where token `index` starts and ends on its first line (viewport coordinates)."""
        cursor = self._cursor_on(index)
        if cursor is None:
            return QRect()
        start = QTextCursor(self.document())
        start.setPosition(cursor.selectionStart())
        end = QTextCursor(self.document())
        end.setPosition(cursor.selectionEnd())
        a, b = self.cursorRect(start), self.cursorRect(end)
        if b.top() != a.top():  # wrapped: the first line's part
            b = QRect(self.viewport().width(), a.top(), 0, a.height())
        return QRect(a.left(), a.top(), max(1, b.left() - a.left()), a.height())

    def _on_cursor(self) -> None:
        """Keyboard users get a token's details by moving the text cursor onto it."""
        cursor = self.textCursor()
        probe = QTextCursor(cursor)
        probe.clearSelection()
        if not probe.atEnd():
            probe.movePosition(
                QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor
            )
        value = probe.charFormat().property(TOKEN_PROPERTY)
        if isinstance(value, int) and 0 <= value < len(self._tokens):
            self.token_focused.emit(value)

    def tooltip_for(self, index: int) -> str:
        return lp.alternatives_text(self._tokens[index])

    def colors_for(self, index: int) -> tuple[str, str]:
        """(background, text) of token `index` as painted."""
        cursor = self._cursor_on(index)
        fmt = cursor.charFormat() if cursor is not None else QTextCharFormat()
        return fmt.background().color().name(), fmt.foreground().color().name()

    def _cursor_on(self, index: int) -> QTextCursor | None:
        """A cursor selecting token `index`'s characters."""
        doc = self.document()
        cursor = QTextCursor(doc)
        start = None
        while not cursor.atEnd():
            cursor.movePosition(
                QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor
            )
            here = cursor.charFormat().property(TOKEN_PROPERTY) == index
            if here and start is None:
                start = cursor.selectionStart()
            elif not here and start is not None:
                end = cursor.selectionStart()
                cursor.setPosition(start)
                cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                return cursor
            cursor.clearSelection()
        if start is None:
            return None
        cursor.setPosition(start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        return cursor

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ToolTip and isinstance(e, QHelpEvent):
            index = self.token_at(self.viewport().mapFromGlobal(e.globalPos()))
            if index is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(e.globalPos(), self.tooltip_for(index), self)
                self.token_focused.emit(index)
            return True
        return super().event(e)


def legend_html() -> str:
    """A small key of the tints, from sure to unlikely, in the current theme."""
    c = theme.colors()
    cells = []
    for p in (0.99, 0.75, 0.5, 0.25, 0.02):
        bg, fg = lp.heat_colors(math.log(p), dark=c.dark, base=c.assistant_card, text=c.text)
        cells.append(
            f'<span style="background-color:{bg}; color:{fg}">&nbsp;{round(p * 100)}%&nbsp;</span>'
        )
    return "".join(cells)


class LogprobsView(QWidget):
    """The summary line (tokens, mean log-probability, perplexity, the least likely token)
    above the heatmap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Token probabilities")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.setSpacing(2)
        self.summary_label = QLabel(self)
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.summary_label.setWordWrap(True)
        self.summary_label.setAccessibleName("Token probability summary")
        self.summary_label.setToolTip(
            "Mean natural-log probability per token; perplexity is e to minus that mean "
            "(1 = the model was sure of every token)."
        )
        theme.tag(self.summary_label, text="muted")
        self.heatmap = TokenHeatmap(self)
        self.detail_label = QLabel(self)
        self.detail_label.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_label.setWordWrap(True)
        self.detail_label.setAccessibleName("Token details")
        self.detail_label.setText(
            "Point at a token, or move the cursor onto it, for its alternatives."
        )
        theme.tag(self.detail_label, text="muted")
        self.heatmap.token_focused.connect(self._show_detail)
        lay.addWidget(self.summary_label)
        lay.addWidget(self.heatmap)
        lay.addWidget(self.detail_label)
        self.summary = lp.summarize(())

    def set_tokens(self, tokens: Sequence[TokenLogprob]) -> None:
        self.summary = lp.summarize(tokens)
        self.summary_label.setText(self.summary.describe(tokens))
        self.heatmap.set_tokens(tokens)

    def _show_detail(self, index: int) -> None:
        tokens = self.heatmap.tokens()
        if 0 <= index < len(tokens):
            self.detail_label.setText(lp.alternatives_line(tokens[index]))

    def repaint_theme(self) -> None:
        self.heatmap.paint_tokens()

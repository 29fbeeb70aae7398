"""The word diff of two panes side by side (core.lab.diff), with the diff of their settings.

Uncapped: both answers are shown in full, however long; the text is inserted with character
formats (no HTML is built, nothing of the answers is interpreted as markup).
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.compare import variant_settings
from parley.core.lab.diff import Op, params_diff, stats, word_diff
from parley.core.lab.experiment import Variant
from parley.ui import theme

DELETED = QColor(220, 70, 70, 80)
INSERTED = QColor(60, 170, 90, 80)


def _fill(edit: QTextEdit, ops: list[Op], side: str) -> None:
    doc = edit.document()
    doc.clear()
    cursor = QTextCursor(doc)
    plain = QTextCharFormat()
    marked = QTextCharFormat()
    marked.setBackground(DELETED if side == "left" else INSERTED)
    if side == "left":
        marked.setFontStrikeOut(True)
    cursor.beginEditBlock()
    for op in ops:
        text = op.left if side == "left" else op.right
        if text:
            cursor.insertText(text, plain if op.kind == "equal" else marked)
    cursor.endEditBlock()
    edit.moveCursor(QTextCursor.MoveOperation.Start)


class DiffDialog(QDialog):
    def __init__(
        self,
        names: tuple[str, str],
        texts: tuple[str, str],
        variants: tuple[Variant, Variant],
        *,
        revealed: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Diff: {names[0]} ↔ {names[1]}")
        self.resize(1100, 700)
        self.ops = word_diff(texts[0], texts[1])
        s = stats(self.ops)
        lay = QVBoxLayout(self)
        self.summary = QLabel(
            f"{s.similarity:.0%} of the words in common · {s.deleted_words} only in "
            f"{names[0]} · {s.inserted_words} only in {names[1]}",
            self,
        )
        self.summary.setAccessibleName("Diff summary")
        lay.addWidget(self.summary)
        split = QSplitter(self)
        self.left = self._side(names[0], split)
        self.right = self._side(names[1], split)
        _fill(self.left, self.ops, "left")
        _fill(self.right, self.ops, "right")
        lay.addWidget(split, 1)

        lay.addWidget(QLabel("Settings that differ", self))
        self.params = QPlainTextEdit(self)
        self.params.setReadOnly(True)
        self.params.setAccessibleName("Settings diff")
        self.params.setMaximumHeight(140)
        if revealed:
            changes = params_diff(variant_settings(variants[0]), variant_settings(variants[1]))
            lines = [c.describe() for c in changes] or ["The two panes send the same settings."]
        else:
            lines = ["Shown after the vote (the settings would name the models)."]
        self.params.setPlainText("\n".join(lines))
        lay.addWidget(self.params)

    def _side(self, name: str, parent: QSplitter) -> QTextEdit:
        box = QWidget(parent)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        title = QLabel(name, box)
        theme.tag(title, text="muted")
        edit = QTextEdit(box)
        edit.setReadOnly(True)
        edit.setAcceptRichText(False)
        edit.setAccessibleName(f"Diff: {name}")
        head = QHBoxLayout()
        head.addWidget(title)
        lay.addLayout(head)
        lay.addWidget(edit, 1)
        parent.addWidget(box)
        return edit

"""A small JSON editor: monospace text with the parse error shown live, in plain words."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSizePolicy, QVBoxLayout, QWidget


def parse_json(text: str, *, require_object: bool = False) -> tuple[Any, str | None]:
    """Parse `text`; return (value, None) or (None, an error a person understands).

    Empty text parses to None with no error: an empty editor means "nothing set".
    """
    if not text.strip():
        return None, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON — line {exc.lineno}, column {exc.colno}: {exc.msg}."
    if require_object and not isinstance(value, dict):
        return None, 'This must be a JSON object, like {"key": "value"}.'
    return value, None


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


class JsonEditor(QWidget):
    """A plain-text JSON editor; `edited` fires on every change, `error()` says what is wrong."""

    edited = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        require_object: bool = False,
        placeholder: str = "",
        accessible_name: str = "JSON",
        lines: int = 4,
    ) -> None:
        super().__init__(parent)
        self._require_object = require_object
        self._value: Any = None
        self._error: str | None = None

        self.text_edit = QPlainTextEdit(self)
        self.text_edit.setFont(monospace_font())
        self.text_edit.setPlaceholderText(placeholder)
        self.text_edit.setTabChangesFocus(True)  # keyboard users can leave the editor with Tab
        self.text_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text_edit.setAccessibleName(accessible_name)
        metrics = self.text_edit.fontMetrics()
        self.text_edit.setFixedHeight(metrics.lineSpacing() * lines + 12)
        self.text_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("fieldError")
        self.error_label.setAccessibleName(f"{accessible_name} error")
        self.error_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.text_edit)
        layout.addWidget(self.error_label)

        self.setFocusProxy(self.text_edit)
        self.text_edit.textChanged.connect(self._on_text_changed)

    def _on_text_changed(self) -> None:
        self._reparse()
        self.edited.emit()

    def _reparse(self) -> None:
        self._value, self._error = parse_json(
            self.text_edit.toPlainText(), require_object=self._require_object
        )
        self.error_label.setText(self._error or "")
        self.error_label.setVisible(self._error is not None)

    def text(self) -> str:
        return self.text_edit.toPlainText()

    def set_text(self, text: str) -> None:
        self.text_edit.setPlainText(text)
        self._reparse()

    def set_value(self, value: Any) -> None:
        """Show `value` pretty-printed (None clears the editor)."""
        text = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
        self.set_text(text)

    def value(self) -> Any:
        """The parsed value, or None when empty or invalid (see `error()`)."""
        return self._value

    def error(self) -> str | None:
        return self._error

    def is_empty(self) -> bool:
        return not self.text_edit.toPlainText().strip()

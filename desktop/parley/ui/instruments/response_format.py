"""The structured-output editor: none / json_object / json_schema (name, strict, the schema),
the schema checked as it is typed (JSON syntax, then the JSON-Schema meta-schema), the problems
shown inline with their JSON pointers."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from parley.core.chat import structured
from parley.ui import theme
from parley.ui.json_editor import JsonEditor

MODES: list[tuple[str, structured.Mode]] = [
    ("None (plain text)", "none"),
    ("JSON object", "json_object"),
    ("JSON schema", "json_schema"),
]
EXAMPLE_SCHEMA = (
    '{\n  "type": "object",\n  "properties": {"answer": {"type": "string"}},\n'
    '  "required": ["answer"]\n}'
)


class ResponseFormatEditor(QWidget):
    """`changed()` on every edit; `value()` is the response_format (None for none, or while the
    schema has problems: see `problems()`)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Structured output")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.mode_combo = QComboBox(self)
        self.mode_combo.setAccessibleName("Response format")
        for label, mode in MODES:
            self.mode_combo.addItem(label, mode)
        lay.addWidget(self.mode_combo)

        self.schema_box = QWidget(self)
        box = QVBoxLayout(self.schema_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(3)
        row = QHBoxLayout()
        self.name_edit = QLineEdit(self.schema_box)
        self.name_edit.setPlaceholderText("name, e.g. answer")
        self.name_edit.setAccessibleName("Schema name")
        self.name_edit.setToolTip("json_schema.name: letters, digits, _ and -, up to 64")
        self.strict_check = QCheckBox("strict", self.schema_box)
        self.strict_check.setAccessibleName("Strict schema")
        self.strict_check.setToolTip(
            "json_schema.strict: the provider keeps exactly to the schema (OpenAI's strict mode "
            "needs additionalProperties false and every property required)"
        )
        row.addWidget(self.name_edit, 1)
        row.addWidget(self.strict_check)
        box.addLayout(row)
        self.schema_editor = JsonEditor(
            self.schema_box,
            require_object=True,
            placeholder=EXAMPLE_SCHEMA,
            accessible_name="JSON schema",
            lines=8,
        )
        box.addWidget(self.schema_editor)
        self.problems_label = QLabel(self.schema_box)
        self.problems_label.setObjectName("fieldError")
        self.problems_label.setWordWrap(True)
        self.problems_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problems_label.setAccessibleName("Schema problems")
        theme.tag(self.problems_label, text="error_text")
        self.problems_label.hide()
        box.addWidget(self.problems_label)
        lay.addWidget(self.schema_box)

        self._problems: list[structured.Problem] = []
        self._setting = False
        self.mode_combo.currentIndexChanged.connect(self._edited)
        self.name_edit.textChanged.connect(self._edited)
        self.strict_check.toggled.connect(self._edited)
        self.schema_editor.edited.connect(self._edited)
        self._refresh()

    def mode(self) -> structured.Mode:
        mode: structured.Mode = self.mode_combo.currentData()
        return mode

    def set_mode(self, mode: structured.Mode) -> None:
        self.mode_combo.setCurrentIndex(next(i for i, (_, m) in enumerate(MODES) if m == mode))

    def _edited(self, *_args: Any) -> None:
        self._refresh()
        if not self._setting:
            self.changed.emit()

    def _refresh(self) -> None:
        schema_mode = self.mode() == "json_schema"
        self.schema_box.setVisible(schema_mode)
        self._problems = []
        if schema_mode:
            syntax = self.schema_editor.error()
            if syntax is not None:
                self._problems = []  # the editor shows the syntax error itself
            elif self.schema_editor.is_empty():
                self._problems = [
                    structured.Problem("", "Type the JSON schema the reply must match.")
                ]
            else:
                whole = structured.response_format_problems(self._build())
                self._problems = whole
        lines = [self._shown(p) for p in self._problems]
        self.problems_label.setText("\n".join(lines))
        self.problems_label.setVisible(bool(lines))

    @staticmethod
    def _shown(p: structured.Problem) -> str:
        where = p.pointer.removeprefix("/json_schema/schema")
        if p.pointer.startswith("/json_schema/name"):
            return f"Name: {p.message}"
        return f"{where or '/'}: {p.message}"

    def _build(self) -> Any:
        return structured.build(
            self.mode(),
            schema=self.schema_editor.value(),
            name=self.name_edit.text().strip(),
            strict=self.strict_check.isChecked(),
        )

    def problems(self) -> list[structured.Problem]:
        """What is wrong with the schema (JSON syntax errors are the editor's `error()`)."""
        return list(self._problems)

    def error(self) -> str | None:
        """The first problem, in words, or None when the value can be sent."""
        if self.mode() != "json_schema":
            return None
        if self.schema_editor.error() is not None:
            return self.schema_editor.error()
        return self._shown(self._problems[0]) if self._problems else None

    def value(self) -> Any:
        if self.error() is not None:
            return None
        return self._build()

    def set_value(self, value: Any) -> None:
        """Show a response_format value (None clears it)."""
        self._setting = True
        try:
            mode = structured.mode_of(value)
            self.set_mode(mode)
            if mode == "json_schema":
                inner = value.get("json_schema") if isinstance(value, dict) else None
                inner = inner if isinstance(inner, dict) else {}
                self.name_edit.setText(str(inner.get("name") or ""))
                self.strict_check.setChecked(inner.get("strict") is True)
                self.schema_editor.set_value(inner.get("schema"))
            self._refresh()
        finally:
            self._setting = False

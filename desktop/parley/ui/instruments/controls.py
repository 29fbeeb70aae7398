"""The parameter panel's instruments: how many candidates, token probabilities, structured
output. Each asks through the provider's own parameters (`n`, `logprobs`/`top_logprobs`,
`response_format`, set in their fields, so the request preview shows them); what the provider's
file says it cannot do is disabled, with the reason beside it. Candidates on a provider without
`n` are asked for as separate requests (`candidates()`, read into the RunConfig)."""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from parley.core.chat import candidates as cands
from parley.core.chat import logprobs as lp
from parley.core.providers.catalog import ProviderSpec
from parley.ui import theme
from parley.ui.instruments.response_format import ResponseFormatEditor


class FieldLike(Protocol):
    def value(self) -> Any: ...
    def set_value(self, value: Any) -> None: ...
    def is_set(self) -> bool: ...


class PanelLike(Protocol):
    """What the instruments need of `parley.ui.params_panel.ParamsPanel`."""

    def spec(self) -> ProviderSpec | None: ...
    def field(self, name: str) -> Any: ...


def _note(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setAccessibleName(name)
    theme.tag(label, text="muted")
    return label


class InstrumentsBox(QWidget):
    """`changed()` when a choice here changed what would be sent."""

    changed = Signal()

    def __init__(self, panel: PanelLike, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._syncing = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.candidates_spin = QSpinBox(self)
        self.candidates_spin.setRange(1, cands.MAX_CANDIDATES)
        self.candidates_spin.setAccessibleName("Candidates")
        self.candidates_spin.setToolTip("How many answers to ask for at once, shown as tabs")
        form.addRow("Candidates", self.candidates_spin)
        self.candidates_note = _note(self, "How the candidates are asked for")
        form.addRow(self.candidates_note)

        probs = QWidget(self)
        row = QHBoxLayout(probs)
        row.setContentsMargins(0, 0, 0, 0)
        self.logprobs_check = QCheckBox("Token probabilities", probs)
        self.logprobs_check.setAccessibleName("Ask for token probabilities")
        self.top_spin = QSpinBox(probs)
        self.top_spin.setRange(0, 20)
        self.top_spin.setValue(5)
        self.top_spin.setPrefix("top ")
        self.top_spin.setAccessibleName("Alternatives per token")
        self.top_spin.setToolTip("How many most likely alternatives to return per token")
        row.addWidget(self.logprobs_check)
        row.addWidget(self.top_spin)
        row.addStretch(1)
        form.addRow(probs)
        self.logprobs_note = _note(self, "Why token probabilities are not available")
        form.addRow(self.logprobs_note)
        outer.addLayout(form)

        self.format_title = QLabel("Structured output", self)
        outer.addWidget(self.format_title)
        self.format_editor = ResponseFormatEditor(self)
        outer.addWidget(self.format_editor)
        self.format_note = _note(self, "Why structured output is not available")
        outer.addWidget(self.format_note)

        self.candidates_spin.valueChanged.connect(self._on_candidates)
        self.logprobs_check.toggled.connect(self._on_logprobs)
        self.top_spin.valueChanged.connect(self._on_logprobs)
        self.format_editor.changed.connect(self._on_format)
        self.set_provider(panel.spec())

    # --- the provider ------------------------------------------------------------------------

    def set_provider(self, spec: ProviderSpec | None) -> None:
        self._spec = spec
        self._syncing = True
        try:
            if spec is None:
                self.setEnabled(False)
                return
            self.setEnabled(True)
            reason = lp.logprobs_unsupported(spec)
            self.logprobs_check.setEnabled(reason is None)
            self.top_spin.setEnabled(reason is None and spec.param("top_logprobs") is not None)
            self.top_spin.setMaximum(max(0, lp.max_alternatives(spec)))
            self.logprobs_note.setText(reason or "")
            self.logprobs_note.setVisible(reason is not None)
            self.logprobs_check.setToolTip(reason or "Ask for each token's log-probability")
            has_format = spec.param("response_format") is not None
            self.format_editor.setEnabled(has_format)
            note = (
                ""
                if has_format
                else f"{spec.name}'s provider file lists no response_format parameter."
            )
            if has_format and not spec.capabilities.json_schema:
                note = f"{spec.name} may not support json_schema (its provider file says so)."
            self.format_note.setText(note)
            self.format_note.setVisible(bool(note))
        finally:
            self._syncing = False
        self.sync_from_fields()

    def sync_from_fields(self) -> None:
        """Show what the provider's fields hold (a preset, a restored chat, a hand edit)."""
        spec = self._spec
        if spec is None or self._syncing:
            return
        self._syncing = True
        try:
            if cands.sends_n(spec):
                n = self.panel.field("n").value()
                self.candidates_spin.setValue(n if isinstance(n, int) and n > 0 else 1)
            if lp.logprobs_unsupported(spec) is None:
                self.logprobs_check.setChecked(self.panel.field("logprobs").value() is True)
                if spec.param("top_logprobs") is not None:
                    top = self.panel.field("top_logprobs").value()
                    if isinstance(top, int):
                        self.top_spin.setValue(top)
            else:
                self.logprobs_check.setChecked(False)
            if spec.param("response_format") is not None:
                current = self.panel.field("response_format").value()
                if current != self.format_editor.value():
                    self.format_editor.set_value(current)
            self._note_candidates()
        finally:
            self._syncing = False

    # --- edits here --------------------------------------------------------------------------

    def _on_candidates(self, value: int) -> None:
        self._note_candidates()
        if self._syncing or self._spec is None:
            return
        if cands.sends_n(self._spec):
            self._set_field("n", value if value > 1 else None)
        self.changed.emit()

    def _note_candidates(self) -> None:
        if self._spec is None:
            return
        n = self.candidates_spin.value()
        self.candidates_note.setText(cands.how_asked(self._spec, n) if n > 1 else "")
        self.candidates_note.setVisible(n > 1)

    def _on_logprobs(self, *_args: Any) -> None:
        if self._syncing or self._spec is None or lp.logprobs_unsupported(self._spec):
            return
        on = self.logprobs_check.isChecked()
        self._set_field("logprobs", True if on else None)
        if self._spec.param("top_logprobs") is not None:
            top = self.top_spin.value()
            self._set_field("top_logprobs", top if on and top > 0 else None)
        self.changed.emit()

    def _on_format(self) -> None:
        if self._syncing or self._spec is None or self._spec.param("response_format") is None:
            return
        self._set_field("response_format", self.format_editor.value())
        self.changed.emit()

    def _set_field(self, name: str, value: Any) -> None:
        self._syncing = True
        try:
            self.panel.field(name).set_value(value)
        finally:
            self._syncing = False

    # --- read --------------------------------------------------------------------------------

    def candidates(self) -> int:
        """Separate requests to make (only where the provider has no `n`; else 1)."""
        if self._spec is None or cands.sends_n(self._spec):
            return 1
        return self.candidates_spin.value()

    def error(self) -> str | None:
        """What keeps the structured-output choice from being sent."""
        if not self.format_editor.isEnabled():
            return None
        return self.format_editor.error()

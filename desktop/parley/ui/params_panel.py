"""The parameter panel: one field per provider parameter, tri-state, validated, with a preview.

Every field starts *unset*: nothing is sent, and the provider's default shows greyed. Editing a
field sets it; its reset button returns it to unset. `values()` holds only the set fields whose
value is valid; an invalid value shows its error next to the field and is not applied.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from parley.core.chat.prepared import PreparedRequest
from parley.core.providers.catalog import ParamGroup, ParamSpec, ParamType, ProviderSpec
from parley.core.providers.params import carry_over, unsupported_params, validate_value
from parley.ui import theme
from parley.ui.json_editor import JsonEditor, monospace_font, parse_json
from parley.ui.params.preview import PreviewView, render_preview
from parley.ui.params.wheel_guard import WheelGuard

if TYPE_CHECKING:
    from parley.ui.instruments.controls import InstrumentsBox

GROUP_TITLES: dict[ParamGroup, str] = {
    ParamGroup.SAMPLING: "Sampling",
    ParamGroup.LENGTH: "Length",
    ParamGroup.OUTPUT: "Output",
    ParamGroup.REASONING: "Reasoning",
    ParamGroup.ROUTING: "Routing",
    ParamGroup.PRIVACY: "Privacy",
    ParamGroup.ADVANCED: "Advanced",
}
_EXPANDED_AT_START = {ParamGroup.SAMPLING, ParamGroup.LENGTH, ParamGroup.REASONING}

RESET_GLYPH = "↺"

_INT_RE = re.compile(r"^[+-]?\d+$")


def panel_style() -> str:
    c = theme.colors()
    error = "#ff7b72" if c.dark else "#c62828"
    return f"""
QLabel#fieldError {{ color: {error}; }}
QLabel#unsupported {{ color: {c.warn_text}; }}
QLabel#paramLabel[isSet="true"] {{ font-weight: bold; }}
QToolButton#sectionHeader {{ border: none; font-weight: bold; padding: 4px 0px; }}
"""


def format_default(p: ParamSpec) -> str:
    """The provider's default as shown greyed in an unset field."""
    d = p.default
    if d is None:
        return ""
    if isinstance(d, bool):
        return "true" if d else "false"
    if isinstance(d, list):
        return ", ".join(str(x) for x in d)
    if isinstance(d, dict):
        return json.dumps(d, ensure_ascii=False)
    return str(d)


def _placeholder(p: ParamSpec) -> str:
    shown = format_default(p)
    return f"default: {shown}" if shown else "not set"


def _range_text(p: ParamSpec) -> str:
    def num(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else str(x)

    if p.min is not None and p.max is not None:
        return f"{num(p.min)} – {num(p.max)}"
    if p.min is not None:
        return f"≥ {num(p.min)}"
    if p.max is not None:
        return f"≤ {num(p.max)}"
    return ""


def _tooltip(p: ParamSpec) -> str:
    parts = [p.help]
    rng = _range_text(p)
    if rng:
        parts.append(f"Range: {rng}.")
    if p.choices:
        parts.append("One of: " + ", ".join(p.choices) + ".")
    if p.max_items:
        parts.append(f"Up to {p.max_items} {p.item_noun}.")
    if p.item_choices:
        parts.append("Each one of: " + ", ".join(p.item_choices) + ".")
    if p.suggestions:
        parts.append("For example: " + ", ".join(p.suggestions) + ".")
    if p.deprecated:
        parts.append("Deprecated: the provider still accepts it, but it is superseded.")
    shown = format_default(p)
    parts.append(f"Provider default: {shown}." if shown else "Not sent unless you set it.")
    if p.wire_path != p.name:
        parts.append(f"Sent as {p.wire_path}.")
    return " ".join(parts)


def _recolor(
    widget: QWidget, roles: Sequence[QPalette.ColorRole], source: QPalette.ColorRole | None
) -> None:
    """Paint `roles` of `widget` in the app palette's `source` colour; None inherits again
    (so a theme switch is followed)."""
    if source is None:
        widget.setPalette(QPalette())
        return
    pal = QPalette(widget.palette())
    color = QGuiApplication.palette().color(source)
    for role in roles:
        pal.setColor(role, color)
    widget.setPalette(pal)


def _grey(widget: QWidget, grey: bool) -> None:
    """Show a widget's text greyed (unset) or normal."""
    roles = (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText)
    _recolor(widget, roles, QPalette.ColorRole.PlaceholderText if grey else None)


def param_matches(p: ParamSpec, needle: str) -> bool:
    """Whether the filter text finds `p` (by name, label or help); empty text finds all."""
    n = needle.strip().lower()
    return not n or n in p.name.lower() or n in p.display_name.lower() or n in p.help.lower()


class ParamField(QWidget):
    """One parameter: label, editor, reset button, error and unsupported marker."""

    changed = Signal()

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._loading = False
        self._error: str | None = None
        self._unsupported = False
        tip = _tooltip(spec)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 2, 0, 2)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(1)

        self.label = QLabel(spec.display_name, self)
        self.label.setObjectName("paramLabel")
        self.label.setToolTip(tip)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)

        self.marker = QLabel("⚠ unsupported", self)
        self.marker.setObjectName("unsupported")
        self.marker.setToolTip(
            "Not supported by this model: it does not list this parameter, so the provider may "
            "ignore or reject it."
        )
        self.marker.hide()

        self.reset_button = QToolButton(self)
        self.reset_button.setText(RESET_GLYPH)
        self.reset_button.setAutoRaise(True)
        self.reset_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.reset_button.setToolTip(f"Reset {spec.display_name} to the provider default")
        self.reset_button.setAccessibleName(f"Reset {spec.display_name}")
        self.reset_button.setEnabled(False)
        # Shown only while the field is set; its place is kept so nothing shifts.
        policy = self.reset_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.reset_button.setSizePolicy(policy)
        self.reset_button.hide()
        self.reset_button.clicked.connect(self.reset)

        head = QHBoxLayout()
        head.setSpacing(4)
        head.addWidget(self.label)
        head.addWidget(self.marker)
        head.addStretch(1)
        head.addWidget(self.reset_button)
        grid.addLayout(head, 0, 0)

        editor = self._build_editor()
        editor.setToolTip(tip)
        self.editor = editor
        grid.addWidget(editor, 1, 0)
        self.label.setBuddy(self._focus_widget())
        focus = self._focus_widget()
        focus.setAccessibleName(spec.display_name)
        focus.setAccessibleDescription(tip)
        focus.setToolTip(tip)

        self.error_label = QLabel(self)
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName(f"{spec.display_name} error")
        self.error_label.hide()
        grid.addWidget(self.error_label, 2, 0)
        self._update_state()

    # -- to be provided per type --------------------------------------------------------------

    def _build_editor(self) -> QWidget:
        raise NotImplementedError

    def _focus_widget(self) -> QWidget:
        return self.editor

    def _raw(self) -> tuple[bool, Any, str | None]:
        """(is_set, value, parse error) from what the editor shows."""
        raise NotImplementedError

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _clear(self) -> None:
        raise NotImplementedError

    # -- common behaviour ---------------------------------------------------------------------

    def _edited(self) -> None:
        if self._loading:
            return
        self._update_state()
        self.changed.emit()

    def _update_state(self) -> None:
        is_set, value, error = self._raw()
        if is_set and error is None:
            error = validate_value(self.spec, value)
        self._error = error if is_set else None
        self.error_label.setText(self._error or "")
        self.error_label.setVisible(self._error is not None)
        self.reset_button.setEnabled(is_set)
        self.reset_button.setVisible(is_set)
        if self.label.property("isSet") != is_set:
            self.label.setProperty("isSet", is_set)
            self.label.style().unpolish(self.label)
            self.label.style().polish(self.label)
        self._paint_unset(not is_set)

    def _paint_unset(self, unset: bool) -> None:
        """Combo-like editors grey their text while unset; line edits use the placeholder."""

    def repaint_state(self) -> None:
        """Re-derive the unset grey from the application palette (after a theme switch)."""
        self._paint_unset(not self.is_set())

    def is_set(self) -> bool:
        return self._raw()[0]

    def error(self) -> str | None:
        return self._error

    def value(self) -> Any:
        """The value to send, or None when unset or invalid."""
        is_set, value, _ = self._raw()
        return value if is_set and self._error is None else None

    def set_value(self, value: Any) -> None:
        self._loading = True
        try:
            if value is None:
                self._clear()
            else:
                self._show(value)
        finally:
            self._loading = False
        self._update_state()

    def reset(self) -> None:
        was_set = self.is_set()
        self.set_value(None)
        if was_set:
            self.changed.emit()

    def set_unsupported(self, unsupported: bool) -> None:
        self._unsupported = unsupported
        self.marker.setVisible(unsupported)
        desc = _tooltip(self.spec)
        if unsupported:
            desc = "Not supported by this model. " + desc
        self._focus_widget().setAccessibleDescription(desc)

    def is_unsupported(self) -> bool:
        return self._unsupported

    def matches(self, needle: str) -> bool:
        return param_matches(self.spec, needle)


def _num_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return str(value)


class NumberField(ParamField):
    """number / integer: a line edit (so any typed value can be judged), plus a slider for a
    bounded number."""

    SLIDER_STEPS = 1000

    def _build_editor(self) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.line = QLineEdit(box)
        self.line.setPlaceholderText(_placeholder(self.spec))
        self.line.setClearButtonEnabled(False)
        self.line.textEdited.connect(self._on_text)
        self.slider: QSlider | None = None
        p = self.spec
        bounded = p.min is not None and p.max is not None and p.max > p.min
        if p.type is ParamType.NUMBER and bounded:
            self.line.setMaximumWidth(64)
            self.line.setPlaceholderText(format_default(p) or "—")
            slider = QSlider(Qt.Orientation.Horizontal, box)
            slider.setRange(0, self.SLIDER_STEPS)
            slider.setAccessibleName(f"{p.display_name} slider")
            slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            slider.valueChanged.connect(self._on_slider)
            self.slider = slider
            row.addWidget(slider, 1)
            row.addWidget(self.line)
            self._sync_slider(p.default)
        else:
            row.addWidget(self.line, 1)
        return box

    def _focus_widget(self) -> QWidget:
        return self.line

    def _paint_unset(self, unset: bool) -> None:
        if self.slider is None:
            return
        _recolor(
            self.slider, (QPalette.ColorRole.Highlight,), QPalette.ColorRole.Mid if unset else None
        )

    def _decimals(self) -> int:
        assert self.spec.min is not None and self.spec.max is not None
        span = self.spec.max - self.spec.min
        return max(0, 2 - math.floor(math.log10(span))) if span > 0 else 2

    def _on_slider(self, pos: int) -> None:
        if self._loading:
            return
        assert self.spec.min is not None and self.spec.max is not None
        lo, hi = self.spec.min, self.spec.max
        value = round(lo + (hi - lo) * pos / self.SLIDER_STEPS, self._decimals())
        self.line.setText(_num_text(float(value)))
        self._edited()

    def _on_text(self, _text: str) -> None:
        _, value, error = self._raw()
        if error is None and value is not None:
            self._sync_slider(value)
        self._edited()

    def _sync_slider(self, value: Any) -> None:
        if self.slider is None or self.spec.min is None or self.spec.max is None:
            return
        lo, hi = self.spec.min, self.spec.max
        v = value if isinstance(value, int | float) and not isinstance(value, bool) else lo
        v = min(max(float(v), lo), hi)
        self.slider.blockSignals(True)
        self.slider.setValue(round((v - lo) / (hi - lo) * self.SLIDER_STEPS))
        self.slider.blockSignals(False)

    def _raw(self) -> tuple[bool, Any, str | None]:
        text = self.line.text().strip()
        if not text:
            return False, None, None
        if _INT_RE.match(text):
            return True, int(text), None
        if self.spec.type is ParamType.INTEGER:
            return True, None, "Enter a whole number."
        try:
            value = float(text)
        except ValueError:
            return True, None, "Enter a number, like 0.7."
        if not math.isfinite(value):
            return True, None, "Enter a finite number."
        return True, value, None

    def _show(self, value: Any) -> None:
        self.line.setText(_num_text(value))
        self._sync_slider(value)

    def _clear(self) -> None:
        self.line.clear()
        self._sync_slider(self.spec.default)


class StringField(ParamField):
    def _build_editor(self) -> QWidget:
        line = QLineEdit(self)
        shape = f" ({self.spec.pattern_help})" if self.spec.pattern_help else ""
        line.setPlaceholderText(_placeholder(self.spec) + shape)
        if self.spec.suggestions:
            completer = QCompleter(self.spec.suggestions, line)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            line.setCompleter(completer)
        line.textChanged.connect(lambda _t: self._edited())
        return line

    def _line(self) -> QLineEdit:
        assert isinstance(self.editor, QLineEdit)
        return self.editor

    def _raw(self) -> tuple[bool, Any, str | None]:
        text = self._line().text()
        return (True, text, None) if text else (False, None, None)

    def _show(self, value: Any) -> None:
        self._line().setText(str(value))

    def _clear(self) -> None:
        self._line().clear()


class StringListField(ParamField):
    """One item per line; empty lines are ignored."""

    def _build_editor(self) -> QWidget:
        edit = QPlainTextEdit(self)
        edit.setTabChangesFocus(True)
        noun = self.spec.item_noun
        limit = f", up to {self.spec.max_items} {noun}" if self.spec.max_items else ""
        default = format_default(self.spec)
        choices = self.spec.item_choices or self.spec.suggestions
        hint = (
            f"\ne.g. {', '.join(choices[:5])}" + ("…" if len(choices) > 5 else "")
            if choices
            else ""
        )
        edit.setPlaceholderText(
            f"One per line{limit}" + (f" — default: {default}" if default else "") + hint
        )
        edit.setFixedHeight(edit.fontMetrics().lineSpacing() * 3 + 12)
        edit.textChanged.connect(self._edited)
        return edit

    def _edit(self) -> QPlainTextEdit:
        assert isinstance(self.editor, QPlainTextEdit)
        return self.editor

    def _raw(self) -> tuple[bool, Any, str | None]:
        items = [line for line in self._edit().toPlainText().split("\n") if line.strip()]
        if not items:
            return False, None, None
        return True, items, None

    def _show(self, value: Any) -> None:
        items = [value] if isinstance(value, str) else [str(v) for v in value]
        self._edit().setPlainText("\n".join(items))

    def _clear(self) -> None:
        self._edit().clear()


class _ComboField(ParamField):
    """A combo whose first entry means unset; the others are the choices."""

    def _choices(self) -> list[tuple[str, Any]]:
        raise NotImplementedError

    def _build_editor(self) -> QWidget:
        combo = QComboBox(self)
        shown = format_default(self.spec)
        combo.addItem(f"Default ({shown})" if shown else "Not set", None)
        for text, value in self._choices():
            combo.addItem(text, value)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContentsOnFirstShow)
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        combo.currentIndexChanged.connect(lambda _i: self._edited())
        return combo

    def _combo(self) -> QComboBox:
        assert isinstance(self.editor, QComboBox)
        return self.editor

    def _paint_unset(self, unset: bool) -> None:
        _grey(self._combo(), unset)

    def _raw(self) -> tuple[bool, Any, str | None]:
        index = self._combo().currentIndex()
        if index <= 0:
            return False, None, None
        return True, self._combo().itemData(index), None

    def _show(self, value: Any) -> None:
        combo = self._combo()
        for i in range(1, combo.count()):
            data = combo.itemData(i)
            if data == value and type(data) is type(value):
                combo.setCurrentIndex(i)
                return
        # A restored value this provider does not offer: show it so validation can say so.
        combo.addItem(str(value), value)
        combo.setCurrentIndex(combo.count() - 1)

    def _clear(self) -> None:
        self._combo().setCurrentIndex(0)


class BooleanField(_ComboField):
    def _choices(self) -> list[tuple[str, Any]]:
        return [("true", True), ("false", False)]


class EnumField(_ComboField):
    def _choices(self) -> list[tuple[str, Any]]:
        return [(c, c) for c in self.spec.choices or []]


class JsonField(ParamField):
    def _build_editor(self) -> QWidget:
        example = getattr(self.spec, "example", None)
        default = format_default(self.spec)
        placeholder = f"e.g. {example}" if example else (f"default: {default}" if default else "")
        editor = JsonEditor(
            self, placeholder=placeholder, accessible_name=self.spec.display_name, lines=3
        )
        editor.error_label.setObjectName("fieldError")
        editor.edited.connect(self._edited)
        return editor

    def _focus_widget(self) -> QWidget:
        return self._json().text_edit

    def _json(self) -> JsonEditor:
        assert isinstance(self.editor, JsonEditor)
        return self.editor

    def _raw(self) -> tuple[bool, Any, str | None]:
        text = self._json().text()
        if not text.strip():
            return False, None, None
        value, error = parse_json(text)
        return True, value, error

    def _update_state(self) -> None:
        super()._update_state()
        # The field's own error label says it; the editor's would repeat it.
        self._json().error_label.hide()

    def _show(self, value: Any) -> None:
        self._json().set_value(value)

    def _clear(self) -> None:
        self._json().set_text("")


FIELD_TYPES: dict[ParamType, type[ParamField]] = {
    ParamType.NUMBER: NumberField,
    ParamType.INTEGER: NumberField,
    ParamType.BOOLEAN: BooleanField,
    ParamType.STRING: StringField,
    ParamType.STRING_LIST: StringListField,
    ParamType.ENUM: EnumField,
    ParamType.JSON: JsonField,
}


class CollapsibleSection(QWidget):
    """A header button that shows or hides its content (Space/Enter toggles it)."""

    def __init__(self, title: str, parent: QWidget | None = None, expanded: bool = True) -> None:
        super().__init__(parent)
        self._title = title
        self.header = QToolButton(self)
        self.header.setObjectName("sectionHeader")
        self.header.setCheckable(True)
        self.header.setChecked(expanded)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.header.setAccessibleName(f"{title} section")
        self.header.toggled.connect(self._toggled)
        self.content = QWidget(self)
        self.content_layout = QVBoxLayout(self.content)
        self.content_layout.setContentsMargins(14, 0, 0, 6)
        self.content_layout.setSpacing(4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.content)
        self.set_summary("")
        self._toggled(expanded)

    def set_summary(self, summary: str) -> None:
        self.header.setText(f"{self._title}  {summary}".rstrip())

    def _toggled(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.content.setVisible(expanded)

    def is_expanded(self) -> bool:
        return self.header.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        self.header.setChecked(expanded)


class ParamsPanel(QWidget):
    """The parameter panel for one provider.

    Signals: `changed()` whenever the set values or the advanced JSON change (also on reset,
    provider switch, preset and restore).
    """

    changed = Signal()
    preview_wanted = Signal()  # the preview is to be built again (shown, or a value changed)

    def __init__(self, spec: ProviderSpec | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paramsPanel")
        self.setAccessibleName("Parameters")
        self.setStyleSheet(panel_style())
        self._spec: ProviderSpec | None = None
        self._fields: dict[str, ParamField] = {}
        self._sections: dict[ParamGroup, CollapsibleSection] = {}
        self._pending: dict[ParamGroup, list[ParamSpec]] = {}
        self._flagged: set[str] = set()
        self._supported: list[str] | None = None
        self._bulk = 0
        self._prepared: PreparedRequest | None = None
        self._preview_stale = True

        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(4)

        head = QHBoxLayout()
        self.title = QLabel("Parameters", self)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.title.setFont(font)
        self.summary = QLabel("", self)
        self.summary.setAccessibleName("Parameter summary")
        self.reset_all_button = QPushButton("Reset all", self)
        self.reset_all_button.setAccessibleName("Reset all parameters")
        self.reset_all_button.setToolTip("Return every parameter to the provider default")
        self.reset_all_button.clicked.connect(self.reset_all)
        head.addWidget(self.title, 1)
        head.addWidget(self.reset_all_button)
        outer.addLayout(head)
        self.summary.setEnabled(False)  # drawn greyed: a status line, not a control
        outer.addWidget(self.summary)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter parameters…")
        self.filter_edit.setAccessibleName("Filter parameters")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        outer.addWidget(self.filter_edit)

        scroll = self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setAccessibleName("Parameter fields")
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(self.scroll, 1)
        self.wheel_guard = WheelGuard(scroll)

        # The instruments (candidates, token probabilities, structured output), Advanced JSON
        # and the preview live outside the per-provider part: they survive a provider switch.
        # The instruments' controls are built when the section is first opened.
        self.instruments_section = CollapsibleSection("Instruments", self, expanded=False)
        self.instruments_section.header.setToolTip(
            "Candidates (n), token probabilities and structured output"
        )
        self._instruments: InstrumentsBox | None = None
        self.instruments_section.header.toggled.connect(
            lambda on: self.instruments() if on else None
        )
        self.advanced_section = CollapsibleSection("Advanced JSON", self, expanded=False)
        self.advanced_editor = JsonEditor(
            self.advanced_section.content,
            require_object=True,
            placeholder='{"any_field": "value"}  — merged into the body last',
            accessible_name="Advanced JSON",
            lines=4,
        )
        self.advanced_editor.setToolTip(
            "A JSON object merged into the request body last, for anything the provider "
            "file does not list. Invalid JSON is shown and not applied."
        )
        self.advanced_editor.text_edit.setAccessibleDescription(self.advanced_editor.toolTip())
        self.advanced_editor.edited.connect(self._on_advanced)
        self.advanced_section.content_layout.addWidget(self.advanced_editor)

        self.preview_section = CollapsibleSection("Request preview", self, expanded=True)
        self.preview_target = QLabel(self.preview_section.content)
        self.preview_target.setWordWrap(True)
        self.preview_target.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_target.setAccessibleName("Request URL and headers")
        # A long URL must not widen the panel; it is clipped (and selectable) instead.
        self.preview_target.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview_edit = QPlainTextEdit(self.preview_section.content)
        self.preview_edit.setReadOnly(True)
        self.preview_edit.setFont(monospace_font())
        self.preview_edit.setTabChangesFocus(True)
        self.preview_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview_edit.setAccessibleName("Request body preview")
        self.preview_edit.setAccessibleDescription(
            "The exact JSON body that will be sent; it never contains the key."
        )
        self.preview_edit.setMinimumHeight(140)
        self.copy_preview_button = QPushButton("Copy body", self.preview_section.content)
        self.copy_preview_button.setAccessibleName("Copy request body")
        self.copy_preview_button.clicked.connect(self._copy_preview)
        self.preview_section.content_layout.addWidget(self.preview_target)
        self.preview_section.content_layout.addWidget(self.preview_edit)
        self.preview_section.content_layout.addWidget(
            self.copy_preview_button, 0, Qt.AlignmentFlag.AlignRight
        )
        self.preview_section.header.toggled.connect(lambda _on: self.preview_wanted.emit())

        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.paletteChanged.connect(self._on_app_palette)
        if spec is not None:
            self.set_provider(spec)
        else:
            self._build_fields()

    def _on_app_palette(self, _palette: QPalette) -> None:
        self.setStyleSheet(panel_style())
        for field in self._fields.values():
            field.repaint_state()

    # -- building -------------------------------------------------------------------------------

    def _build_fields(self) -> None:
        """Lay out one section per group. A section's fields are built when it is first
        expanded (or a value, a lookup or the filter needs them), so a large provider opens fast.
        """
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(2)
        self._fields = {}
        self._sections = {}
        self._pending = {}
        params = self._spec.params if self._spec else []
        if not params:
            empty = QLabel(
                "This provider lists no parameters. Use Advanced JSON below to send any field.",
                body,
            )
            empty.setWordWrap(True)
            layout.addWidget(empty)
        for group in ParamGroup:
            in_group = [p for p in params if p.group is group]
            if not in_group:
                continue
            expanded = group in _EXPANDED_AT_START
            section = CollapsibleSection(GROUP_TITLES[group], body, expanded=expanded)
            self._sections[group] = section
            self._pending[group] = in_group
            if expanded:
                self._build_group(group)
            section.header.toggled.connect(lambda on, g=group: self._build_group(g) if on else None)
            layout.addWidget(section)
        old = self.scroll.takeWidget()
        if old is not None:
            # The instruments, advanced and preview sections outlive the per-provider fields.
            self.instruments_section.setParent(None)
            self.advanced_section.setParent(None)
            self.preview_section.setParent(None)
            old.deleteLater()
        layout.addWidget(self.instruments_section)
        layout.addWidget(self.advanced_section)
        layout.addWidget(self.preview_section)
        layout.addStretch(1)
        self.scroll.setWidget(body)
        self._apply_filter(self.filter_edit.text())
        self._refresh_summary()

    def _build_group(self, group: ParamGroup) -> None:
        pending = self._pending.pop(group, None)
        if not pending:
            return
        section = self._sections[group]
        needle = self.filter_edit.text().strip()
        for p in pending:
            field = FIELD_TYPES[p.type](p, section.content)
            field.changed.connect(self._on_field_changed)
            if p.name in self._flagged:
                field.set_unsupported(True)
            if needle and not param_matches(p, needle):
                field.hide()
            section.content_layout.addWidget(field)
            self.wheel_guard.watch(field)
            self._fields[p.name] = field

    def _build_all(self) -> None:
        for group in list(self._pending):
            self._build_group(group)

    # -- provider and model ---------------------------------------------------------------------

    def spec(self) -> ProviderSpec | None:
        return self._spec

    def set_provider(self, spec: ProviderSpec) -> None:
        """Show `spec`'s parameters, keeping the set values that still apply there."""
        old_spec = self._spec
        kept = carry_over(old_spec, spec, self.values()) if old_spec is not None else {}
        self._spec = spec
        self._supported = None
        self._flagged = set()
        self.title.setText(f"Parameters — {spec.name}")
        self._bulk += 1
        try:
            self._build_fields()
            for name, value in kept.items():
                self.field(name).set_value(value)
        finally:
            self._bulk -= 1
        if self._instruments is not None:
            self._instruments.set_provider(spec)
        self._after_bulk()

    def set_supported_parameters(self, supported: Sequence[str] | None) -> None:
        """Flag the parameters the current model does not list (None: no per-model list)."""
        self._supported = list(supported) if supported is not None else None
        self._flagged = set()
        if self._spec is not None:
            self._flagged = unsupported_params(self._spec, self._supported)
        for name, field in self._fields.items():
            field.set_unsupported(name in self._flagged)
        self._refresh_summary()

    def unsupported(self) -> set[str]:
        """The parameters flagged as not supported by the current model."""
        return set(self._flagged)

    # -- values -------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """The set, valid parameters by name (what will be sent)."""
        out: dict[str, Any] = {}
        for name, field in self._fields.items():
            if field.is_set() and field.error() is None:
                out[name] = field.value()
        return out

    def instruments(self) -> InstrumentsBox:
        """The instruments' controls (built now if the section was not opened yet)."""
        if self._instruments is None:
            from parley.ui.instruments.controls import InstrumentsBox

            self._instruments = InstrumentsBox(self, self.instruments_section.content)
            self._instruments.changed.connect(self._after_bulk)
            self.instruments_section.content_layout.addWidget(self._instruments)
        return self._instruments

    def candidates(self) -> int:
        """Candidates to ask for as separate requests (a provider without `n`; else 1)."""
        return self._instruments.candidates() if self._instruments is not None else 1

    def advanced(self) -> dict[str, Any]:
        """The advanced JSON object ({} when empty or invalid)."""
        value = self.advanced_editor.value()
        return value if isinstance(value, dict) else {}

    def errors(self) -> dict[str, str]:
        """Set fields (and "advanced") whose value is invalid, with the message shown."""
        out = {name: f.error() for name, f in self._fields.items() if f.error() is not None}
        adv = self.advanced_editor.error()
        if adv is not None:
            out["advanced"] = adv
        schema = self._instruments.error() if self._instruments is not None else None
        if schema is not None:
            out["response_format"] = schema
        return {k: v for k, v in out.items() if v is not None}

    def is_valid(self) -> bool:
        return not self.errors()

    def field(self, name: str) -> ParamField:
        """The field of parameter `name` (built now if its section was not yet opened)."""
        if name not in self._fields and self._spec is not None:
            p = self._spec.param(name)
            if p is not None:
                self._build_group(p.group)
        return self._fields[name]

    def fields(self) -> dict[str, ParamField]:
        """Every parameter's field, in the provider file's order (builds them all)."""
        self._build_all()
        order = [p.name for p in self._spec.params] if self._spec else []
        return {name: self._fields[name] for name in order if name in self._fields}

    def set_values(self, values: dict[str, Any], advanced: dict[str, Any] | None = None) -> None:
        """Restore a conversation's parameters: fields not in `values` become unset.

        `advanced` replaces the advanced JSON when given (None leaves it as it is). Names this
        provider does not have are ignored.
        """
        self._bulk += 1
        try:
            for name in values:
                if name not in self._fields and values[name] is not None and self._spec:
                    p = self._spec.param(name)
                    if p is not None:
                        self._build_group(p.group)
            for name, field in self._fields.items():
                field.set_value(values.get(name))
            if advanced is not None:
                self.advanced_editor.set_value(advanced or None)
        finally:
            self._bulk -= 1
        self._after_bulk()

    def apply_preset(self, params: dict[str, Any], advanced: dict[str, Any]) -> None:
        self.set_values(params, advanced)

    def reset_all(self) -> None:
        self.set_values({})

    # -- preview ------------------------------------------------------------------------------
    # The window's `PreviewController` builds the request of the next send (in a worker
    # thread) and hands it here; the panel asks for one with `preview_wanted`.

    def wants_preview(self) -> bool:
        return self.isVisible() and self.preview_section.is_expanded()

    def mark_preview_stale(self) -> None:
        self._preview_stale = True

    def show_preview(self, view: PreviewView) -> None:
        self._preview_stale = False
        self._prepared = view.prepared
        self.preview_target.setText(view.target)
        scroll = self.preview_edit.verticalScrollBar().value()
        self.preview_edit.setPlainText(view.body)
        self.preview_edit.verticalScrollBar().setValue(scroll)

    def show_request(self, prepared: PreparedRequest) -> None:
        """Show `prepared` now (the controller renders it in a worker thread instead)."""
        self.show_preview(render_preview(prepared))

    def show_preview_error(self, message: str) -> None:
        self._preview_stale = False
        self._prepared = None
        self.preview_target.setText(message)
        self.preview_edit.setPlainText("")

    def preview_stale(self) -> bool:
        """True while a change has not reached the preview yet."""
        return self._preview_stale

    def prepared(self) -> PreparedRequest | None:
        """The request the preview shows (None when it cannot be built)."""
        return self._prepared

    def preview_body(self) -> dict[str, Any] | None:
        """The exact body a send would use (parsed). The preview text shows it, except that a
        long history's middle messages are left out of the text (which says so); this body
        has them all."""
        if self._prepared is None:
            return None
        body: dict[str, Any] = self._prepared.body_json
        return body

    def preview_text(self) -> str:
        """The preview's JSON text as shown."""
        return self.preview_edit.toPlainText()

    def _copy_preview(self) -> None:
        if self._prepared is not None:
            QGuiApplication.clipboard().setText(self._prepared.body_text)

    # -- change plumbing ------------------------------------------------------------------------

    def _on_field_changed(self) -> None:
        if self._bulk:
            return
        self._after_bulk()

    def _on_advanced(self) -> None:
        if self._bulk:
            return
        self._after_bulk()

    def _after_bulk(self) -> None:
        if self._bulk:
            return
        if self._instruments is not None:
            self._instruments.sync_from_fields()
        self._refresh_summary()
        self.preview_wanted.emit()
        self.changed.emit()

    def _refresh_summary(self) -> None:
        # One count everywhere: a field the user set is "set", valid or not; the invalid ones
        # (not sent until fixed) are counted among them, in the panel's line and in its group.
        errors = self.errors()
        set_fields = [f for f in self._fields.values() if f.is_set()]
        invalid = sum(1 for f in set_fields if f.error() is not None)
        parts = [f"{len(set_fields)} set" if set_fields else "all default"]
        if invalid:
            parts.append(f"{invalid} invalid, not sent")
        if "advanced" in errors:
            parts.append("JSON invalid, not sent")
        elif self.advanced():
            parts.append("+ JSON")
        fan_out = self.candidates()
        if fan_out > 1:
            parts.append(f"{fan_out} separate requests")
        self.summary.setText(" · ".join(parts))
        self.reset_all_button.setEnabled(bool(set_fields))
        for group, section in self._sections.items():
            in_group = [f for f in set_fields if f.spec.group is group]
            bad = sum(1 for f in in_group if f.error() is not None)
            counts = f"{len(in_group)} set" + (f", {bad} invalid" if bad else "")
            section.set_summary(f"({counts})" if in_group else "")
        self.instruments_section.set_summary(self._instruments_summary())

    def _instruments_summary(self) -> str:
        """What the Instruments section asks for, shown on its header while it is closed."""
        values = self.values()
        on = []
        n = values.get("n")
        if isinstance(n, int) and n > 1:
            on.append(f"{n} candidates")
        elif self.candidates() > 1:
            on.append(f"{self.candidates()} requests")
        if values.get("logprobs") is True:
            on.append("probabilities")
        fmt = values.get("response_format")
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind in ("json_object", "json_schema"):
            on.append("JSON schema" if kind == "json_schema" else "JSON")
        return f"({', '.join(on)})" if on else ""

    def _apply_filter(self, text: str) -> None:
        needle = text.strip()
        params = self._spec.params if self._spec else []
        for group, section in self._sections.items():
            matching = {p.name for p in params if p.group is group and param_matches(p, needle)}
            section.setVisible(bool(matching))
            if needle and matching:
                self._build_group(group)
                if not section.is_expanded():
                    section.set_expanded(True)
            for name, field in self._fields.items():
                if field.spec.group is group:
                    field.setVisible(name in matching)

"""The parameter panel: tri-state fields, inline validation, carry-over, advanced JSON, preview."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from parley.core.chat.prepared import prepare
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import ParamSpec, ParamType, ProviderSpec, load_catalog
from parley.core.providers.wire import build_wire_request
from parley.ui.params_panel import (
    BooleanField,
    EnumField,
    JsonField,
    NumberField,
    ParamsPanel,
    StringListField,
)


def _spec(pid: str = "p1", params: list[dict[str, Any]] | None = None) -> ProviderSpec:
    default_params: list[dict[str, Any]] = [
        {
            "name": "temperature",
            "type": "number",
            "group": "sampling",
            "min": 0,
            "max": 2,
            "default": 1,
            "help": "Sampling temperature.",
        },
        {
            "name": "max_tokens",
            "type": "integer",
            "group": "length",
            "min": 1,
            "help": "Maximum tokens.",
            "wire": "max_completion_tokens",
        },
        {
            "name": "stop",
            "type": "string_list",
            "group": "length",
            "max_items": 2,
            "allow_single": True,
            "help": "Stop sequences.",
            "item_noun": "sequences",
        },
        {
            "name": "logprobs",
            "type": "boolean",
            "group": "output",
            "default": False,
            "help": "Return log probabilities.",
        },
        {
            "name": "effort",
            "type": "enum",
            "group": "reasoning",
            "wire": "reasoning.effort",
            "choices": ["low", "medium", "high"],
            "default": "medium",
            "help": "Reasoning effort.",
        },
        {"name": "user", "type": "string", "group": "privacy", "help": "End-user id."},
        {
            "name": "response_format",
            "type": "json",
            "group": "output",
            "json_shape": "object",
            "help": "Output format.",
        },
    ]
    return ProviderSpec.model_validate(
        {
            "id": pid,
            "name": pid.upper(),
            "base_url": "http://127.0.0.1:9/v1",
            "params": default_params if params is None else params,
        }
    )


def _line(panel: ParamsPanel, name: str) -> QLineEdit:
    field = panel.field(name)
    assert isinstance(field, NumberField)
    return field.line


@pytest.fixture
def panel(qtbot: QtBot) -> ParamsPanel:
    p = ParamsPanel(_spec())
    qtbot.addWidget(p)
    p.resize(360, 900)
    p.show()
    return p


def test_every_field_starts_unset_with_the_default_greyed(panel: ParamsPanel) -> None:
    assert panel.values() == {}
    assert panel.advanced() == {}
    assert _line(panel, "temperature").placeholderText() == "1"  # beside its slider
    assert _line(panel, "max_tokens").placeholderText() == "not set"
    assert _line(panel, "temperature").text() == ""
    combo = panel.field("effort").editor
    assert isinstance(combo, QComboBox)
    assert combo.currentText() == "Default (medium)"
    assert all(not f.reset_button.isEnabled() for f in panel.fields().values())


def test_typing_sets_a_field_and_reset_returns_it_to_unset(
    qtbot: QtBot, panel: ParamsPanel
) -> None:
    with qtbot.waitSignal(panel.changed):
        qtbot.keyClicks(_line(panel, "temperature"), "0.3")
    assert panel.values() == {"temperature": 0.3}
    field = panel.field("temperature")
    assert field.reset_button.isEnabled()
    with qtbot.waitSignal(panel.changed):
        qtbot.mouseClick(field.reset_button, Qt.MouseButton.LeftButton)
    assert panel.values() == {}
    assert _line(panel, "temperature").text() == ""
    assert not field.reset_button.isEnabled()


def test_boolean_is_tri_state(qtbot: QtBot, panel: ParamsPanel) -> None:
    field = panel.field("logprobs")
    assert isinstance(field, BooleanField)
    combo = field.editor
    assert isinstance(combo, QComboBox)
    combo.setCurrentIndex(combo.findData(False))
    assert panel.values() == {"logprobs": False}  # explicitly false is sent
    combo.setCurrentIndex(combo.findData(True))
    assert panel.values() == {"logprobs": True}
    field.reset()
    assert "logprobs" not in panel.values()


def test_out_of_range_shows_the_message_and_is_not_applied(
    qtbot: QtBot, panel: ParamsPanel
) -> None:
    qtbot.keyClicks(_line(panel, "temperature"), "3")
    field = panel.field("temperature")
    assert field.error_label.isVisible()
    assert "between 0 and 2" in field.error_label.text()
    assert "temperature" not in panel.values()
    assert "temperature" in panel.errors()
    assert not panel.is_valid()
    qtbot.keyClick(_line(panel, "temperature"), Qt.Key.Key_Backspace)
    qtbot.keyClicks(_line(panel, "temperature"), "1.5")
    assert not field.error_label.isVisible()
    assert panel.values() == {"temperature": 1.5}


def test_not_a_number_and_not_a_whole_number(qtbot: QtBot, panel: ParamsPanel) -> None:
    qtbot.keyClicks(_line(panel, "temperature"), "warm")
    qtbot.keyClicks(_line(panel, "max_tokens"), "2.5")
    assert panel.field("temperature").error() == "Enter a number, like 0.7."
    assert panel.field("max_tokens").error() == "Enter a whole number."
    assert panel.values() == {}


def test_string_list_respects_max_items(qtbot: QtBot, panel: ParamsPanel) -> None:
    field = panel.field("stop")
    assert isinstance(field, StringListField)
    field.editor.setPlainText("END\n\nSTOP")
    assert panel.values() == {"stop": ["END", "STOP"]}
    field.editor.setPlainText("a\nb\nc")
    assert "at most 2 sequences" in (field.error() or "")
    assert "stop" not in panel.values()


def test_json_field_shows_parse_errors_live(qtbot: QtBot, panel: ParamsPanel) -> None:
    field = panel.field("response_format")
    assert isinstance(field, JsonField)
    editor = field.editor.text_edit  # type: ignore[attr-defined]
    editor.setPlainText('{"type": ')
    assert "Not valid JSON" in (field.error() or "")
    assert not field.error_label.isHidden()
    editor.setPlainText('["not", "an object"]')
    assert "must be a JSON object" in (field.error() or "")
    editor.setPlainText('{"type": "json_object"}')
    assert field.error() is None
    assert panel.values() == {"response_format": {"type": "json_object"}}


def test_values_contains_only_set_fields(qtbot: QtBot, panel: ParamsPanel) -> None:
    qtbot.keyClicks(_line(panel, "max_tokens"), "64")
    effort = panel.field("effort")
    assert isinstance(effort, EnumField)
    combo = effort.editor
    assert isinstance(combo, QComboBox)
    combo.setCurrentIndex(combo.findText("high"))
    assert panel.values() == {"max_tokens": 64, "effort": "high"}


def test_set_values_restores_and_unsets_the_rest(panel: ParamsPanel, qtbot: QtBot) -> None:
    qtbot.keyClicks(_line(panel, "temperature"), "0.5")
    with qtbot.waitSignal(panel.changed):
        panel.set_values(
            {"max_tokens": 10, "stop": "END", "logprobs": True, "user": "u-1"},
            {"extra": 1},
        )
    assert panel.values() == {"max_tokens": 10, "stop": ["END"], "logprobs": True, "user": "u-1"}
    assert panel.advanced() == {"extra": 1}
    assert _line(panel, "temperature").text() == ""
    panel.apply_preset({"temperature": 0.2}, {})
    assert panel.values() == {"temperature": 0.2}
    assert panel.advanced() == {}


def test_slider_sets_a_bounded_number(panel: ParamsPanel) -> None:
    field = panel.field("temperature")
    assert isinstance(field, NumberField) and field.slider is not None
    field.slider.setValue(250)  # a quarter of 0..2
    assert panel.values() == {"temperature": 0.5}
    assert field.line.text() == "0.5"


def test_provider_switch_keeps_values_that_still_apply(qtbot: QtBot, panel: ParamsPanel) -> None:
    panel.set_values({"temperature": 1.5, "max_tokens": 20, "user": "u-1", "effort": "high"})
    other = _spec(
        "p2",
        [
            {"name": "temperature", "type": "number", "min": 0, "max": 1, "help": "T."},
            {"name": "max_tokens", "type": "integer", "min": 1, "help": "M."},
            {"name": "effort", "type": "enum", "choices": ["low", "high"], "help": "E."},
        ],
    )
    with qtbot.waitSignal(panel.changed):
        panel.set_provider(other)
    # temperature 1.5 is out of the new range, user does not exist there.
    assert panel.values() == {"max_tokens": 20, "effort": "high"}
    assert set(panel.fields()) == {"temperature", "max_tokens", "effort"}
    assert panel.spec() is other


def test_advanced_json_invalid_is_shown_and_not_applied(qtbot: QtBot, panel: ParamsPanel) -> None:
    editor = panel.advanced_editor
    editor.text_edit.setPlainText('{"foo": 1,}')
    assert panel.advanced() == {}
    assert "Not valid JSON" in (editor.error() or "")
    assert not editor.error_label.isHidden()
    assert "advanced" in panel.errors()
    editor.text_edit.setPlainText("[1, 2]")
    assert "must be a JSON object" in (editor.error() or "")
    assert panel.advanced() == {}
    editor.text_edit.setPlainText('{"foo": {"bar": true}}')
    assert editor.error() is None
    assert panel.advanced() == {"foo": {"bar": True}}
    assert panel.is_valid()


def _prepared(panel: ParamsPanel, messages: list[Message], key: str | None = None) -> Any:
    spec = panel.spec()
    assert spec is not None
    request = ChatRequest(
        provider=spec.id,
        model="model-x",
        messages=messages,
        params=panel.values(),
        advanced=panel.advanced(),
    )
    return prepare(spec, request, key, require_key=False)


def test_preview_shows_exactly_the_prepared_body(qtbot: QtBot, panel: ParamsPanel) -> None:
    messages = [Message(role="user", content="Hello")]
    spec = panel.spec()
    assert spec is not None
    wanted: list[bool] = []
    panel.preview_wanted.connect(lambda: wanted.append(True))
    qtbot.keyClicks(_line(panel, "temperature"), "0.3")
    assert wanted  # a change asks for a new preview
    combo = panel.field("effort").editor
    assert isinstance(combo, QComboBox)
    combo.setCurrentIndex(combo.findText("low"))
    panel.advanced_editor.text_edit.setPlainText('{"provider": {"sort": "price"}}')
    prepared = _prepared(panel, messages)
    panel.show_request(prepared)
    expected = build_wire_request(
        spec,
        ChatRequest(
            provider=spec.id,
            model="model-x",
            messages=messages,
            params={"temperature": 0.3, "effort": "low"},
            advanced={"provider": {"sort": "price"}},
        ),
    ).body
    assert json.loads(panel.preview_text()) == expected
    assert panel.preview_body() == expected
    assert expected["reasoning"] == {"effort": "low"}
    panel.copy_preview_button.click()
    assert QGuiApplication.clipboard().text().encode() == prepared.body  # the exact bytes


def test_preview_headers_show_the_key_redacted_only_when_there_is_one(panel: ParamsPanel) -> None:
    panel.show_request(_prepared(panel, [Message(role="user", content="hi")], "sk-secret-1234"))
    target = panel.preview_target.text()
    assert target.startswith("POST http://127.0.0.1:9/v1/chat/completions")
    assert "Authorization: Bearer [key redacted]" in target
    assert "sk-secret-1234" not in target + panel.preview_text()
    panel.show_request(_prepared(panel, [Message(role="user", content="hi")]))
    target = panel.preview_target.text()
    assert "Authorization" not in target
    assert "no key set" in target


def test_unsupported_parameters_are_flagged(panel: ParamsPanel) -> None:
    panel.set_supported_parameters(["temperature", "max_completion_tokens", "reasoning"])
    assert panel.unsupported() == {"stop", "logprobs", "response_format"}
    assert panel.field("stop").marker.isVisible()
    assert not panel.field("temperature").marker.isVisible()
    panel.set_supported_parameters(None)
    assert panel.unsupported() == set()
    assert not panel.field("stop").marker.isVisible()


def test_every_control_has_an_accessible_name_and_help(panel: ParamsPanel) -> None:
    for name, field in panel.fields().items():
        focus = field.label.buddy()
        assert focus is not None and focus.accessibleName(), name
        assert field.spec.help in focus.accessibleDescription(), name
        assert field.spec.help in focus.toolTip(), name
        assert focus.focusPolicy() & Qt.FocusPolicy.TabFocus, name
        assert field.reset_button.accessibleName() == f"Reset {field.spec.display_name}"
    for widget in panel.findChildren(QWidget):
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(panel):
            assert widget.accessibleName(), type(widget).__name__


def test_largest_provider_builds_quickly(qtbot: QtBot) -> None:
    catalog = load_catalog()
    largest = max(catalog.providers.values(), key=lambda s: len(s.params))
    assert len(largest.params) >= 30
    start = time.perf_counter()
    big = ParamsPanel(largest)
    elapsed = time.perf_counter() - start
    qtbot.addWidget(big)
    assert set(big.fields()) == {p.name for p in largest.params}
    # Not a timing assertion (benchmarks measure speed); printed for the record.
    print(f"ParamsPanel({largest.id}, {len(largest.params)} params): {elapsed * 1000:.1f} ms")


def test_filter_hides_fields_that_do_not_match(qtbot: QtBot, panel: ParamsPanel) -> None:
    qtbot.keyClicks(panel.filter_edit, "token")
    visible = {n for n, f in panel.fields().items() if not f.isHidden()}
    assert visible == {"max_tokens"}
    panel.filter_edit.clear()
    assert all(not f.isHidden() for f in panel.fields().values())


def test_every_param_type_has_a_field() -> None:
    from parley.ui.params_panel import FIELD_TYPES

    assert set(FIELD_TYPES) == set(ParamType)


def test_param_spec_defaults_in_tooltip(panel: ParamsPanel) -> None:
    tip = panel.field("temperature").editor.toolTip()
    assert "Range: 0 – 2" in tip and "Provider default: 1" in tip
    assert "Sent as reasoning.effort" in panel.field("effort").editor.toolTip()
    unset = ParamsPanel(
        _spec("p3", [ParamSpec(name="x", type=ParamType.STRING, help="H.").model_dump()])
    )
    assert "Not sent unless you set it" in unset.field("x").editor.toolTip()


def test_set_and_unset_colours_follow_a_theme_switch(qapp: Any, panel: ParamsPanel) -> None:
    from PySide6.QtGui import QColor, QPalette

    field = panel.field("effort")
    combo = field.editor
    assert isinstance(combo, QComboBox)
    role = QPalette.ColorRole.ButtonText
    old = qapp.palette()
    dark = QPalette(old)
    dark.setColor(role, QColor("#eeeeee"))
    dark.setColor(QPalette.ColorRole.PlaceholderText, QColor("#777777"))
    try:
        qapp.setPalette(dark)
        qapp.processEvents()
        assert combo.palette().color(role) == QColor("#777777")  # unset: greyed
        combo.setCurrentIndex(combo.findText("high"))
        assert combo.palette().color(role) == QColor("#eeeeee")  # set: the theme's text
    finally:
        qapp.setPalette(old)


def test_collapsed_sections_build_their_fields_when_first_opened(qtbot: QtBot) -> None:
    from parley.core.providers.catalog import ParamGroup
    from parley.ui.params_panel import ParamField

    pn = ParamsPanel(_spec())
    qtbot.addWidget(pn)

    def built() -> set[str]:
        return {f.spec.name for f in pn.findChildren(ParamField)}

    assert built() == {"temperature", "max_tokens", "stop", "effort"}  # the open sections
    pn.set_supported_parameters(["temperature"])
    pn._sections[ParamGroup.OUTPUT].set_expanded(True)
    assert {"logprobs", "response_format"} <= built()
    assert not pn.field("logprobs").marker.isHidden()  # flagged while it was not built yet
    assert pn.values() == {}
    pn.set_values({"response_format": {"type": "text"}})  # a collapsed section's value
    assert pn.values() == {"response_format": {"type": "text"}}
    assert "user" not in built()  # privacy was never opened
    assert set(pn.fields()) == {q.name for q in _spec().params}  # fields() builds the rest


def test_the_summary_counts_an_invalid_field_as_set_in_the_panel_and_its_group(
    qtbot: QtBot, panel: ParamsPanel
) -> None:
    assert panel.summary.text() == "all default"
    qtbot.keyClicks(_line(panel, "temperature"), "3")  # out of range
    section = panel._sections[panel.field("temperature").spec.group]
    assert panel.summary.text() == "1 set · 1 invalid, not sent"
    assert section.header.text().endswith("(1 set, 1 invalid)")
    qtbot.keyClick(_line(panel, "temperature"), Qt.Key.Key_Backspace)
    qtbot.keyClicks(_line(panel, "temperature"), "1")
    assert panel.summary.text() == "1 set"
    assert section.header.text().endswith("(1 set)")
    panel.field("temperature").reset()
    assert panel.summary.text() == "all default" and "set" not in section.header.text()

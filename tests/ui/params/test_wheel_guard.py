"""Defect 2 of issue 12: a wheel over an unfocused field scrolls the panel, not the value."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QSlider, QWidget
from pytestqt.qtbot import QtBot

from parley.core.providers.catalog import ProviderSpec
from parley.ui.params_panel import NumberField, ParamsPanel


def _spec() -> ProviderSpec:
    params: list[dict[str, Any]] = [
        {
            "name": f"knob_{i}",
            "type": "number",
            "group": "sampling",
            "min": 0,
            "max": 2,
            "help": "A bounded number.",
        }
        for i in range(12)
    ]
    params.insert(
        1,
        {
            "name": "reasoning_effort",
            "type": "enum",
            "group": "sampling",
            "choices": ["low", "medium", "high", "xhigh"],
            "help": "Reasoning effort.",
        },
    )
    return ProviderSpec.model_validate(
        {"id": "w", "name": "W", "base_url": "http://127.0.0.1:9/v1", "params": params}
    )


def _wheel(widget: QWidget, steps: int = -1) -> None:
    """A real wheel notch (negative: towards the user, i.e. scroll down) over `widget`."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


@pytest.fixture
def panel(qtbot: QtBot) -> ParamsPanel:
    p = ParamsPanel(_spec())
    qtbot.addWidget(p)
    p.resize(320, 300)  # much shorter than its fields: the panel scrolls
    p.show()
    qtbot.waitExposed(p)
    p.filter_edit.setFocus()
    return p


def test_wheel_over_an_unfocused_combo_box_scrolls_the_panel(panel: ParamsPanel) -> None:
    combo = panel.field("reasoning_effort").editor
    assert isinstance(combo, QComboBox)
    bar = panel.scroll.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    before = combo.currentIndex()
    _wheel(combo)
    _wheel(combo)
    assert combo.currentIndex() == before
    assert panel.values() == {}  # nothing would be sent
    assert bar.value() > 0


def test_wheel_over_an_unfocused_slider_scrolls_the_panel(panel: ParamsPanel) -> None:
    field = panel.field("knob_2")
    assert isinstance(field, NumberField) and isinstance(field.slider, QSlider)
    bar = panel.scroll.verticalScrollBar()
    before = field.slider.value()
    _wheel(field.slider)
    assert field.slider.value() == before
    assert panel.values() == {}
    assert bar.value() > 0


def test_a_focused_field_keeps_the_wheel(qtbot: QtBot, panel: ParamsPanel) -> None:
    combo = panel.field("reasoning_effort").editor
    assert isinstance(combo, QComboBox)
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    before = combo.currentIndex()
    _wheel(combo)
    assert combo.currentIndex() != before  # the user chose this field: the wheel is its own
    assert panel.scroll.verticalScrollBar().value() == 0


def test_fields_built_later_are_guarded_too(panel: ParamsPanel) -> None:
    """Sections are built when first needed (see ParamsPanel._build_fields)."""
    panel.set_provider(_spec().model_copy(update={"id": "w2"}))
    combo = panel.field("reasoning_effort").editor
    assert isinstance(combo, QComboBox)
    before = combo.currentIndex()
    _wheel(combo)
    assert combo.currentIndex() == before

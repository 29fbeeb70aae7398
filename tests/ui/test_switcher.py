"""The quick switcher filters provider · model entries and emits the pick."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from parley.core.providers.catalog import ModelsSpec, ProviderSpec
from parley.ui.switcher import QuickSwitcher


def _providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            id="euri",
            name="Euron EURI",
            base_url="https://x",
            models=ModelsSpec(fallback=["gpt-4o-mini", "gemini-2.5-flash"]),
        ),
        ProviderSpec(id="eurouter", name="EUrouter", base_url="https://y"),
        ProviderSpec(id="eigenai", name="EigenAI", base_url="https://z"),
    ]


def test_entries_come_from_fallbacks_and_cached_models(qtbot: QtBot) -> None:
    sw = QuickSwitcher(_providers(), {"eurouter": ["mistral-large", "gpt-4o-mini"]})
    qtbot.addWidget(sw)
    assert sw.entries() == [
        ("euri", "gpt-4o-mini"),
        ("euri", "gemini-2.5-flash"),
        ("eurouter", "mistral-large"),
        ("eurouter", "gpt-4o-mini"),
        ("eigenai", ""),
    ]
    sw.set_models("eigenai", ["gpt-oss-120b"])
    assert ("eigenai", "gpt-oss-120b") in sw.entries()
    assert ("eigenai", "") not in sw.entries()


def test_typing_filters_and_enter_emits_the_pick(qtbot: QtBot) -> None:
    sw = QuickSwitcher(_providers(), {"eurouter": ["mistral-large", "gpt-4o-mini"]})
    qtbot.addWidget(sw)
    sw.show()
    qtbot.keyClicks(sw.filter_edit, "4o router")
    assert sw.visible_entries() == [("eurouter", "gpt-4o-mini")]
    with qtbot.waitSignal(sw.picked) as blocker:
        qtbot.keyClick(sw.filter_edit, Qt.Key.Key_Return)
    assert blocker.args == ["eurouter", "gpt-4o-mini"]
    assert not sw.isVisible()


def test_arrow_keys_move_between_visible_entries(qtbot: QtBot) -> None:
    sw = QuickSwitcher(_providers())
    qtbot.addWidget(sw)
    sw.show()
    qtbot.keyClicks(sw.filter_edit, "eur")  # matches euri (2) and eurouter (1)
    assert len(sw.visible_entries()) == 3
    qtbot.keyClick(sw.filter_edit, Qt.Key.Key_Down)
    qtbot.keyClick(sw.filter_edit, Qt.Key.Key_Down)
    with qtbot.waitSignal(sw.picked) as blocker:
        qtbot.keyClick(sw.filter_edit, Qt.Key.Key_Enter)
    assert blocker.args == ["eurouter", ""]


def test_no_match_picks_nothing(qtbot: QtBot) -> None:
    sw = QuickSwitcher(_providers())
    qtbot.addWidget(sw)
    sw.show()
    qtbot.keyClicks(sw.filter_edit, "zzz-nothing")
    assert sw.visible_entries() == []
    with qtbot.assertNotEmitted(sw.picked):
        qtbot.keyClick(sw.filter_edit, Qt.Key.Key_Return)
    assert sw.isVisible()


def test_controls_are_named(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QWidget

    sw = QuickSwitcher(_providers())
    qtbot.addWidget(sw)
    for widget in sw.findChildren(QWidget):
        if widget.window() is sw and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            assert widget.accessibleName(), type(widget).__name__

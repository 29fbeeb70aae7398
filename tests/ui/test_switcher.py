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


def test_configured_providers_come_first_and_the_rest_say_so(qtbot: QtBot) -> None:
    sw = QuickSwitcher(
        _providers(),
        {"eurouter": ["mistral-large"]},
        configured=["eigenai", "eurouter"],
        current="eurouter",
    )
    qtbot.addWidget(sw)
    assert [pid for pid, _ in sw.entries()] == ["eurouter", "eigenai", "euri", "euri"]
    texts = [sw.list.item(i).text() for i in range(sw.list.count())]
    assert texts[0] == "EUrouter · mistral-large"
    assert all(t.endswith("(not set up)") for t in texts[2:])
    assert "Keys" in sw.list.item(2).toolTip()


def test_is_configured_wants_a_key_only_where_one_is_required() -> None:
    from parley.core.providers.catalog import AuthScheme, AuthSpec, is_configured

    keyed = ProviderSpec(id="k", name="K", base_url="https://k")
    assert not is_configured(keyed, has_key=False, saved_base_url=True, listed=True)
    assert is_configured(keyed, has_key=True, saved_base_url=False, listed=False)
    hosted = ProviderSpec(id="h", name="H", base_url="")  # the user's deployment URL needed
    assert not is_configured(hosted, has_key=True, saved_base_url=False, listed=False)
    local = ProviderSpec(
        id="l", name="L", base_url="http://localhost:1/v1", auth=AuthSpec(scheme=AuthScheme.NONE)
    )
    assert not is_configured(local, has_key=False, saved_base_url=False, listed=False)
    assert is_configured(local, has_key=False, saved_base_url=False, listed=True)
    assert is_configured(local, has_key=False, saved_base_url=True, listed=False)

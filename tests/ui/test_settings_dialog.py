"""Settings dialog: edits and saves the settings, refuses a bad proxy in plain words."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from parley.core.app.settings import Settings, load_settings
from parley.ui.settings_dialog import SettingsDialog


def test_shows_the_current_settings(qtbot: QtBot) -> None:
    s = Settings(theme="dark", send_key="ctrl_enter", font_size=14, proxy="http://p.example:3128")
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert dlg.theme_combo.currentData() == "dark"
    assert dlg.send_combo.currentData() == "ctrl_enter"
    assert dlg.font_spin.value() == 14
    assert dlg.proxy_edit.text() == "http://p.example:3128"


def test_ok_applies_saves_and_emits(qtbot: QtBot) -> None:
    s = Settings(last_provider="euri")
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.theme_combo.setCurrentIndex(dlg.theme_combo.findData("light"))
    dlg.send_combo.setCurrentIndex(dlg.send_combo.findData("ctrl_enter"))
    dlg.font_spin.setValue(16)
    qtbot.keyClicks(dlg.proxy_edit, "socks5://127.0.0.1:1080")
    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    with qtbot.waitSignal(dlg.applied) as blocker:
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert blocker.args == [s]
    assert (s.theme, s.send_key, s.font_size, s.proxy) == (
        "light",
        "ctrl_enter",
        16,
        "socks5://127.0.0.1:1080",
    )
    saved = load_settings()
    assert saved.theme == "light" and saved.proxy == "socks5://127.0.0.1:1080"
    assert saved.last_provider == "euri"  # the rest is kept
    assert not dlg.isVisible()


def test_a_bad_proxy_is_refused_and_nothing_changes(qtbot: QtBot) -> None:
    s = Settings()
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.font_spin.setValue(20)
    dlg.proxy_edit.setText("http://user:secret@proxy.example:8080")
    with qtbot.assertNotEmitted(dlg.applied):
        assert not dlg.apply()
    assert "user name or password" in dlg.error_label.text()
    assert dlg.error_label.isVisible()
    assert s.font_size == 11 and s.proxy is None
    assert dlg.isVisible()
    dlg.proxy_edit.clear()
    assert dlg.apply()
    assert s.font_size == 20 and s.proxy is None
    assert not dlg.error_label.isVisible()


def test_controls_have_accessible_names(qtbot: QtBot) -> None:
    dlg = SettingsDialog(Settings(), save_settings=None)
    qtbot.addWidget(dlg)
    for widget in dlg.findChildren(QWidget):
        inner = widget.parent() is not None and widget.parent().inherits("QAbstractSpinBox")
        if widget.window() is dlg and widget.focusPolicy() & Qt.FocusPolicy.TabFocus and not inner:
            assert widget.accessibleName(), type(widget).__name__

"""Light and dark themes: a Fusion palette plus a small stylesheet for cards and badges.

`apply_theme(app, "system")` follows the OS colour scheme (QStyleHints.colorScheme) and keeps
following it; "light" and "dark" force one. Widgets that render colours into HTML (code blocks)
listen to `notifier().changed` and re-render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

ThemeMode = Literal["system", "light", "dark"]


@dataclass(frozen=True)
class ThemeColors:
    dark: bool
    window: str
    base: str
    text: str
    muted: str
    accent: str
    user_card: str
    assistant_card: str
    card_border: str
    badge_bg: str
    badge_text: str
    warn_bg: str
    warn_text: str
    error_bg: str
    error_border: str
    error_text: str
    chip_bg: str
    pygments_style: str


LIGHT = ThemeColors(
    dark=False,
    window="#f5f6f8",
    base="#ffffff",
    text="#1f2328",
    muted="#656d76",
    accent="#0969da",
    user_card="#eaf2fd",
    assistant_card="#ffffff",
    card_border="#d0d7de",
    badge_bg="#eaeef2",
    badge_text="#424a53",
    warn_bg="#fff8c5",
    warn_text="#7d4e00",
    error_bg="#ffebe9",
    error_border="#ff8182",
    error_text="#82071e",
    chip_bg="#eaeef2",
    pygments_style="default",
)

DARK = ThemeColors(
    dark=True,
    window="#16191d",
    base="#0d1117",
    text="#e6edf3",
    muted="#8d96a0",
    accent="#4493f8",
    user_card="#1c2d41",
    assistant_card="#161b22",
    card_border="#30363d",
    badge_bg="#30363d",
    badge_text="#c9d1d9",
    warn_bg="#3b2e00",
    warn_text="#e3b341",
    error_bg="#3c1618",
    error_border="#8e1519",
    error_text="#ffa198",
    chip_bg="#30363d",
    pygments_style="github-dark",
)


class _Notifier(QObject):
    changed = Signal(bool)  # dark?


_notifier: _Notifier | None = None
_mode: ThemeMode = "system"
_dark = False


def notifier() -> _Notifier:
    global _notifier
    if _notifier is None:
        _notifier = _Notifier()
    return _notifier


def is_dark() -> bool:
    return _dark


def colors(dark: bool | None = None) -> ThemeColors:
    return DARK if (_dark if dark is None else dark) else LIGHT


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return bool(hints.colorScheme() == Qt.ColorScheme.Dark)


def palette_for(c: ThemeColors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor(c.window))
    p.setColor(role.WindowText, QColor(c.text))
    p.setColor(role.Base, QColor(c.base))
    p.setColor(role.AlternateBase, QColor(c.window))
    p.setColor(role.Text, QColor(c.text))
    p.setColor(role.Button, QColor(c.base if not c.dark else "#21262d"))
    p.setColor(role.ButtonText, QColor(c.text))
    p.setColor(role.ToolTipBase, QColor(c.base))
    p.setColor(role.ToolTipText, QColor(c.text))
    p.setColor(role.PlaceholderText, QColor(c.muted))
    p.setColor(role.Highlight, QColor(c.accent))
    p.setColor(role.HighlightedText, QColor("#ffffff"))
    p.setColor(role.Link, QColor(c.accent))
    p.setColor(role.LinkVisited, QColor(c.accent))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c.muted))
    return p


def stylesheet(c: ThemeColors) -> str:
    return f"""
QFrame#userCard {{ background: {c.user_card}; border: 1px solid {c.card_border};
    border-radius: 8px; }}
QFrame#assistantCard {{ background: {c.assistant_card}; border: 1px solid {c.card_border};
    border-radius: 8px; }}
QFrame#errorCard {{ background: {c.error_bg}; border: 1px solid {c.error_border};
    border-radius: 6px; }}
QFrame#errorCard QLabel {{ color: {c.error_text}; background: transparent; border: none; }}
QFrame#toolCard {{ background: {c.window}; border: 1px solid {c.card_border};
    border-radius: 6px; }}
QLabel#roleLabel {{ font-weight: bold; color: {c.muted}; background: transparent; }}
QLabel#badge {{ background: {c.badge_bg}; color: {c.badge_text}; border-radius: 4px;
    padding: 1px 6px; }}
QLabel#warnBadge {{ background: {c.warn_bg}; color: {c.warn_text}; border-radius: 4px;
    padding: 1px 6px; }}
QLabel#metrics {{ color: {c.muted}; background: transparent; }}
QLabel#refusal {{ background: {c.warn_bg}; color: {c.warn_text}; border-radius: 4px;
    padding: 4px 8px; }}
QFrame#attachmentChip {{ background: {c.chip_bg}; border-radius: 6px; }}
QTextBrowser#messageBody, QTextBrowser#reasoningBody {{ background: transparent;
    border: none; }}
QTextBrowser#reasoningBody {{ color: {c.muted}; }}
QToolButton#linkButton {{ border: none; color: {c.accent}; background: transparent; }}
QToolButton#linkButton:hover {{ text-decoration: underline; }}
QToolButton#linkButton:focus {{ border: 1px dotted {c.accent}; }}
"""


def _apply(app: QApplication, dark: bool) -> None:
    global _dark
    changed = dark != _dark
    _dark = dark
    c = colors(dark)
    app.setStyle("Fusion")
    app.setPalette(palette_for(c))
    app.setStyleSheet(stylesheet(c))
    if changed:
        notifier().changed.emit(dark)


def _on_system_scheme_changed(_scheme: Qt.ColorScheme) -> None:
    app = QApplication.instance()
    if _mode == "system" and isinstance(app, QApplication):
        _apply(app, system_is_dark())


_connected = False


def apply_theme(app: QApplication, mode: ThemeMode = "system") -> None:
    """Apply a theme; "system" follows the OS scheme now and whenever it changes."""
    global _mode, _connected
    if mode not in ("system", "light", "dark"):
        raise ValueError(f"Unknown theme {mode!r}: use system, light or dark.")
    _mode = mode
    if not _connected:
        QGuiApplication.styleHints().colorSchemeChanged.connect(_on_system_scheme_changed)
        _connected = True
    dark = system_is_dark() if mode == "system" else mode == "dark"
    _apply(app, dark)

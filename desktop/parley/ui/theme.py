"""Light and dark themes: a Fusion palette, and colours that cards and badges paint with.

`apply_theme(app, "system")` follows the OS colour scheme (QStyleHints.colorScheme) and keeps
following it; "light" and "dark" force one. Widgets that render colours into HTML (code blocks)
listen to `notifier().changed` and re-render.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from PySide6 import QtCore  # `Qt` looked up when used (see parley.ui.lightqt)
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QToolButton, QWidget

ThemeMode = Literal["system", "light", "dark"]


class ThemeColors(NamedTuple):
    dark: bool
    window: str
    base: str
    text: str
    muted: str
    accent: str
    highlight: str  # selected text's background (white text on it)
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
    muted="#59636e",
    accent="#0969da",
    highlight="#0969da",
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
    muted="#9ea7b3",
    accent="#58a6ff",
    highlight="#1f6feb",
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


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1 to 21; body text needs 4.5)."""

    def luminance(color: str) -> float:
        rgb = [int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_pairs(c: ThemeColors) -> dict[str, tuple[str, str]]:
    """Every (text colour, background) pair the window paints text with, by where it is."""
    return {
        "text on window": (c.text, c.window),
        "text on fields": (c.text, c.base),
        "text on user card": (c.text, c.user_card),
        "text on assistant card": (c.text, c.assistant_card),
        "text on chip": (c.text, c.chip_bg),
        "muted on window": (c.muted, c.window),
        "muted on fields": (c.muted, c.base),
        "muted on user card": (c.muted, c.user_card),
        "muted on assistant card": (c.muted, c.assistant_card),
        "muted on chip": (c.muted, c.chip_bg),
        "link on window": (c.accent, c.window),
        "link on fields": (c.accent, c.base),
        "link on user card": (c.accent, c.user_card),
        "link on assistant card": (c.accent, c.assistant_card),
        "badge": (c.badge_text, c.badge_bg),
        "warning": (c.warn_text, c.warn_bg),
        "error": (c.error_text, c.error_bg),
        "selected text": ("#ffffff", c.highlight),
    }


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
    return bool(hints.colorScheme() == QtCore.Qt.ColorScheme.Dark)


def system_looks_dark(app: QGuiApplication) -> bool:
    """`system_is_dark` answered from the palette the platform gave the app (call it before a
    theme is applied): asking the style hints makes PySide build the whole `Qt` namespace, too
    slow for the first frame (see `parley.ui.lightqt`). `parley.ui.boot` checks the answer with
    `system_is_dark` once the full window is in."""
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


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
    p.setColor(role.Highlight, QColor(c.highlight))
    p.setColor(role.HighlightedText, QColor("#ffffff"))
    p.setColor(role.Link, QColor(c.accent))
    p.setColor(role.LinkVisited, QColor(c.accent))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c.muted))
    return p


CardKind = Literal["user", "assistant", "error", "tool", "chip", "badge", "warn"]


def card_colors(kind: CardKind, c: ThemeColors | None = None) -> tuple[str, str, float]:
    """(fill, border, corner radius) of a card or pill of this kind."""
    c = c or colors()
    return {
        "user": (c.user_card, c.card_border, 8.0),
        "assistant": (c.assistant_card, c.card_border, 8.0),
        "error": (c.error_bg, c.error_border, 6.0),
        "tool": (c.window, c.card_border, 6.0),
        "chip": (c.chip_bg, c.chip_bg, 6.0),
        "badge": (c.badge_bg, c.badge_bg, 4.0),
        "warn": (c.warn_bg, c.warn_bg, 4.0),
    }[kind]


def paint_card(widget: QWidget, kind: CardKind, *, highlighted: bool = False) -> None:
    """Paint a rounded card behind a widget's contents (call first in its paintEvent);
    `highlighted` draws its border thick in the accent colour (a search hit just opened).

    Cards, badges and chips are painted rather than styled: an application-wide style sheet
    makes every widget in the program slower to create and show."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainter, QPen

    fill, border, radius = card_colors(kind)
    p = QPainter(widget)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if highlighted:
        p.setPen(QPen(QColor(colors().accent), 2.5))
        p.setBrush(QColor(fill))
        p.drawRoundedRect(QRectF(widget.rect()).adjusted(1.5, 1.5, -1.5, -1.5), radius, radius)
        p.end()
        return
    p.setPen(QColor(border))
    p.setBrush(QColor(fill))
    p.drawRoundedRect(QRectF(widget.rect()).adjusted(0.5, 0.5, -0.5, -0.5), radius, radius)
    p.end()


def tint(
    widget: QWidget,
    *,
    text: str | None = None,
    button_text: str | None = None,
    transparent_base: bool = False,
) -> None:
    """Give a widget (and its children) explicit colours from the current theme."""
    p = widget.palette()
    if text is not None:
        p.setColor(QPalette.ColorRole.WindowText, QColor(text))
        p.setColor(QPalette.ColorRole.Text, QColor(text))
    if button_text is not None:
        p.setColor(QPalette.ColorRole.ButtonText, QColor(button_text))
    if transparent_base:
        p.setColor(QPalette.ColorRole.Base, QColor(0, 0, 0, 0))
    widget.setPalette(p)


def tag(widget: QWidget, *, text: str = "", button_text: str = "") -> None:
    """Colour a widget's text with theme colours named by `ThemeColors` field ("muted",
    "accent", "error_text", ...), now and again by `retint_tree` when the theme changes."""
    widget.setProperty("parleyText", text)
    widget.setProperty("parleyButtonText", button_text)
    _retint(widget)


def _retint(widget: QWidget) -> None:
    c = colors()
    text, button = widget.property("parleyText"), widget.property("parleyButtonText")
    tint(
        widget,
        text=getattr(c, text) if text else None,
        button_text=getattr(c, button) if button else None,
    )


def retint_tree(root: QWidget) -> None:
    """Re-apply `tag` colours below `root` after a theme change."""
    for w in [root, *root.findChildren(QWidget)]:
        if w.property("parleyText") or w.property("parleyButtonText"):
            _retint(w)
    root.update()


def style_link_button(button: QToolButton, *, hand_cursor: bool = True) -> None:
    """A flat tool button that reads as a link (accent colour, pointing hand). The first frame's
    buttons go without the hand (making a QCursor needs the `Qt` namespace, see `lightqt`)."""
    button.setAutoRaise(True)
    if hand_cursor:
        button.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
    tag(button, button_text="accent")


def _apply(app: QApplication, dark: bool) -> None:
    global _dark
    changed = dark != _dark
    _dark = dark
    c = colors(dark)
    if app.property("parleyStyleSet") is not True:
        # `parley.app` passes `-style Fusion` to the QApplication instead (and sets this
        # property): asking here would make PySide build its QStyle class, ~20 ms at start-up.
        app.setStyle("Fusion")
        app.setProperty("parleyStyleSet", True)
    app.setPalette(palette_for(c))
    if changed:
        notifier().changed.emit(dark)


def _on_system_scheme_changed(_scheme: QtCore.Qt.ColorScheme) -> None:
    app = QApplication.instance()
    if _mode == "system" and isinstance(app, QApplication):
        _apply(app, system_is_dark())


_connected = False


def apply_font_size(app: QApplication, points: int) -> None:
    font = QFont(app.font())
    font.setPointSize(points)
    app.setFont(font)


def apply_theme(
    app: QApplication, mode: ThemeMode = "system", *, system_dark: bool | None = None
) -> None:
    """Apply a theme; "system" follows the OS scheme now and whenever it changes (`system_dark`
    is what the OS scheme is, when the caller already knows)."""
    global _mode, _connected
    if mode not in ("system", "light", "dark"):
        raise ValueError(f"Unknown theme {mode!r}: use system, light or dark.")
    _mode = mode
    if not _connected:
        QGuiApplication.styleHints().colorSchemeChanged.connect(_on_system_scheme_changed)
        _connected = True
    if mode != "system":
        dark = mode == "dark"
    else:
        dark = system_is_dark() if system_dark is None else system_dark
    _apply(app, dark)

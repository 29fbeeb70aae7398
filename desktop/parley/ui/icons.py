"""The interface's icons: Lucide's line icons (ISC, bundled in resources/icons/ui), drawn in
the theme's text colour.

Lucide's SVGs stroke with `currentColor`, which Qt's renderer draws black: `icon` puts the
colour in before rendering, once per (name, colour). `decorate` gives the window's buttons
their icons after the first frame (QtSvg is not imported before it) and again when the theme
changes.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QRectF, QSize
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractButton, QWidget

from parley.core.app.paths import resources_dir
from parley.ui import theme

if TYPE_CHECKING:
    from parley.ui.layout import WindowParts

log = logging.getLogger("parley.ui.icons")

SIZES = (16, 20, 24, 32, 48)


def icons_dir() -> Path:
    return resources_dir() / "icons" / "ui"


@functools.cache
def _svg(name: str) -> bytes:
    return (icons_dir() / f"{name}.svg").read_bytes()


@functools.lru_cache(maxsize=256)
def icon(name: str, color: str | None = None) -> QIcon:
    """Lucide icon `name` in `color` (default: the theme's text colour); an empty icon (and a
    logged warning) when it is missing, so a button keeps its text."""
    from PySide6.QtSvg import QSvgRenderer

    color = color or theme.colors().text
    try:
        data = _svg(name).replace(b"currentColor", QColor(color).name().encode())
    except OSError as exc:
        log.warning("icon %s could not be read: %s", name, exc)
        return QIcon()
    renderer = QSvgRenderer(QByteArray(data))
    if not renderer.isValid():
        log.warning("icon %s is not a valid SVG", name)
        return QIcon()
    result = QIcon()
    for size in SIZES:
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(QColor(0, 0, 0, 0))
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(pixmap)
    return result


def set_icon(button: QAbstractButton, name: str, role: str = "text") -> None:
    """Give `button` icon `name` in the theme colour `role` (a `ThemeColors` field), kept in
    that colour by `retint` when the theme changes."""
    button.setProperty("parleyIcon", name)
    button.setProperty("parleyIconRole", role)
    button.setIcon(icon(name, getattr(theme.colors(), role)))
    button.setIconSize(QSize(16, 16))


def retint(root: QWidget) -> None:
    """Draw the icons `set_icon` gave below `root` again in the current theme's colours."""
    for button in root.findChildren(QAbstractButton):
        name = button.property("parleyIcon")
        if name:
            role = str(button.property("parleyIconRole") or "text")
            button.setIcon(icon(str(name), getattr(theme.colors(), role)))


def decorate(parts: WindowParts) -> None:
    """The window's buttons, each with its icon beside its text."""
    top, composer, sidebar = parts.top_bar, parts.composer, parts.sidebar
    for button, name in (
        (top.refresh_models_button, "refresh-cw"),
        (top.keys_button, "key-round"),
        (top.settings_button, "settings"),
        (top.panel_button, "sliders-horizontal"),
        (composer.attach_button, "paperclip"),
        (composer.send_button, "send"),
        (composer.compare_button, "columns-3"),
        (composer.stop_button, "square"),
        (sidebar.new_button, "square-pen"),
    ):
        set_icon(button, name)
    if top.refresh_models_button.text() == "⟳":
        top.refresh_models_button.setText("")
    if sidebar.new_button.text().startswith("+"):
        sidebar.new_button.setText(sidebar.new_button.text().lstrip("+ "))

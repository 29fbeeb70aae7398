"""The window's icons: every bundled icon renders, in the theme's text colour, and the buttons
get theirs once the window has started and are redrawn when the theme changes."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QAbstractButton, QApplication

from parley.ui import icons, theme
from parley.ui.mainwindow import Services
from tests.ui.conftest import close, opened


def _ink(image: QImage) -> set[str]:
    """The opaque colours drawn in an icon's pixmap."""
    seen = set()
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            if pixel.alpha() == 255:
                seen.add(pixel.name())
    return seen


def test_every_bundled_icon_renders_in_the_colour_asked(qapp: QApplication) -> None:
    names = sorted(p.stem for p in icons.icons_dir().glob("*.svg"))
    assert len(names) >= 20
    for name in names:
        image = icons.icon(name, "#c62828").pixmap(24, 24).toImage()
        assert _ink(image) == {"#c62828"}, name


def test_a_missing_icon_is_empty_and_logged(qapp: QApplication, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, "parley.ui.icons"):
        assert icons.icon("no-such-icon").isNull()
    assert "no-such-icon" in caplog.text


def test_the_window_buttons_get_icons_that_follow_the_theme(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            decorated = [
                b for b in window.findChildren(QAbstractButton) if b.property("parleyIcon")
            ]
            names = {b.property("parleyIcon") for b in decorated}
            assert {"send", "paperclip", "key-round", "settings", "square-pen"} <= names
            send = window.composer.send_button
            assert send.text() == "Send" and not send.icon().isNull()
            was_dark = theme.is_dark()
            for dark in (not was_dark, was_dark):
                theme.apply_theme(qapp, "dark" if dark else "light")
                ink = _ink(send.icon().pixmap(24, 24).toImage())
                assert ink == {QColor(theme.colors(dark).text).name()}
        finally:
            theme.apply_theme(qapp, "system")
            await close(window)

    arun(scenario())

"""Defects 6 and 9 of issue 12: the window fits 1,024 × 640 with the parameter panel shown (and
is narrower with it closed); what the top bar has to say is readable whole, under it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

from parley.ui.mainwindow import MainWindow, Services
from tests.helpers.emulator import Emulator
from tests.ui.conftest import close, opened, wait_for


def _bar_widgets(window: MainWindow) -> list[QWidget]:
    top = window.top_bar
    return [
        w
        for w in top.findChildren(QWidget)
        if w.parent() is top and w.isVisibleTo(top) and w is not top.notice
    ]


def _no_overlaps(widgets: list[QWidget]) -> bool:
    rects = [QRect(w.geometry()) for w in widgets]
    return not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])


def test_the_window_fits_1024_wide_with_the_panel_and_is_narrower_without(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.panel_button.setChecked(True)
            await wait_for(lambda: window.panel.isVisible(), what="the panel")
            with_panel = window.minimumSizeHint().width()
            assert with_panel <= 1024
            window.panel_button.setChecked(False)
            await wait_for(
                lambda: window.minimumSizeHint().width() < with_panel,
                what="a narrower minimum without the panel",
            )

            window.panel_button.setChecked(True)
            window.resize(1024, 640)
            await wait_for(lambda: window.width() == 1024, what="the window at 1,024 px")
            top = window.top_bar
            await wait_for(lambda: top.width() <= 1024, what="the bar laid out")
            await wait_for(lambda: _no_overlaps(_bar_widgets(window)), what="the bar laid out")
            assert all(top.rect().contains(w.geometry()) for w in _bar_widgets(window))
            assert window.model_combo.width() >= top.MODEL_MIN
            sizes = window.splitter.sizes()
            assert sizes[1] >= 300 and sizes[2] >= 240  # the chat and the panel both usable
            assert window.composer.isVisible() and window.composer.height() > 40

            window.resize(window.minimumSizeHint().width(), 640)
            await wait_for(lambda: top.is_compact(), what="the narrow bar")
            # Once laid out again without the captions: everything inside, nothing overlapping.
            await wait_for(lambda: _no_overlaps(_bar_widgets(window)), what="the bar relaid")
            assert all(top.rect().contains(w.geometry()) for w in _bar_widgets(window))

            window.resize(1440, 800)  # room again: the captions and Settings… come back
            await wait_for(lambda: not top.is_compact(), what="the wide bar")
        finally:
            await close(window)

    arun(scenario())


def test_a_model_list_error_is_readable_whole_under_the_bar(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.set_models("euri", {"error": {"message": "models are down for maintenance"}}, status=503)

    async def scenario() -> None:
        window = await opened(qapp, services)
        window.resize(1024, 640)
        top = window.top_bar
        try:
            window.pickers.load_models(refresh=True)
            await wait_for(lambda: "Could not list" in top.notice_text(), what="the notice")
            text = top.notice_text()
            assert "EURI" in text.upper() and "maintenance" in text  # the real error, in words
            assert top.notice.wordWrap()
            await wait_for(lambda: top.notice.isVisible(), what="the notice shown")
            # Whole: the label is as tall as its wrapped text needs, inside the window's width.
            needed = top.notice.heightForWidth(top.notice.width())
            await wait_for(lambda: top.notice.height() >= needed, what="room for the text")
            assert top.notice.geometry().right() <= top.width()
            assert "Could not" not in window.model_info.text()  # not squeezed into the details

            emu.set_models("euri", {"data": [{"id": "gpt-4o-mini"}]}, status=200)
            window.pickers.load_models(refresh=True)
            await wait_for(lambda: top.notice_text() == "", what="the notice gone once it works")
        finally:
            await close(window)

    arun(scenario())

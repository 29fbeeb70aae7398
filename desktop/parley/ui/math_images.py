"""Formulas in answers: typeset off the GUI thread, shown as their TeX until then.

The Markdown renderer turns `$…$` and `$$…$$` into images whose source is a `parley-math:` URL
holding the TeX (`core.markdown.math_source`). A `SafeTextBrowser` asks `load` for such an image
when Qt lays the formula out: the answer is the finished image when it was typeset before (kept
by its URL, size and colour), else the TeX drawn in code style while a worker thread typesets it
(`core.mathsvg`, ~150 ms for the very first formula, a few ms after that; ziamath and QtSvg are
imported there, not on the start path). When the image is ready, the browsers showing that
formula swap it in and lay out just those characters again. A formula that cannot be typeset
keeps showing its TeX.
"""

from __future__ import annotations

import contextlib
import math
import time
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontInfo, QFontMetricsF, QImage, QPainter

from parley.core.render.markdown import MathSource, code_colors, math_source

PAUSE_S = 0.01  # after each formula typeset
CACHE_SIZE = 500  # images kept (a formula is a few kB to a few hundred kB)
# STIX Two's letters are smaller than the UI font's at the same size: math is set larger.
INLINE_SCALE = 1.2
DISPLAY_SCALE = 1.35


class MathView(Protocol):
    def math_ready(self, url: str, image: QImage) -> None: ...


@dataclass(frozen=True)
class _Key:
    url: str
    pixel_size: float
    color: str
    x_height: float
    ratio: float  # device pixels per pixel


def _padded(
    width: float, ascent: float, descent: float, x_height: float
) -> tuple[float, float, float]:
    """Width, height and top margin of an image whose baseline sits on the text's baseline when
    Qt centres it (`vertical-align: middle` puts its centre x-height/4 above the baseline)."""
    shift = descent + x_height / 2 - ascent  # top margin minus bottom margin
    top, bottom = max(0.0, shift), max(0.0, -shift)
    return width, ascent + descent + top + bottom, top


def _image(width: float, height: float, ratio: float) -> QImage:
    img = QImage(
        max(1, math.ceil(width * ratio)),
        max(1, math.ceil(height * ratio)),
        QImage.Format.Format_ARGB32_Premultiplied,
    )
    img.fill(Qt.GlobalColor.transparent)
    img.setDevicePixelRatio(ratio)
    return img


def placeholder(source: MathSource, font: QFont, key: _Key) -> QImage:
    """The formula's TeX in code style (monospace, on the inline-code background)."""
    mono = QFont(font)
    mono.setFamilies(["monospace"])
    mono.setStyleHint(QFont.StyleHint.Monospace)
    fm = QFontMetricsF(mono)
    text = ("$$" if source.display else "$") + source.tex + ("$$" if source.display else "$")
    lines = text.splitlines() or [""]
    pad = 3.0
    text_width = max(fm.horizontalAdvance(line) for line in lines) + 2 * pad
    ascent = fm.ascent()
    descent = fm.descent() + fm.lineSpacing() * (len(lines) - 1)
    width, height, top = _padded(text_width, ascent, descent, key.x_height)
    img = _image(width, height, key.ratio)
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    colors = code_colors(source.dark)
    painter.fillRect(QRectF(0, top, width, ascent + descent), QColor(colors.inline_background))
    painter.setFont(mono)
    painter.setPen(QColor(key.color))
    for i, line in enumerate(lines):
        painter.drawText(QPointF(pad, top + ascent + i * fm.lineSpacing()), line)
    painter.end()
    return img


def _typeset(source: MathSource, key: _Key) -> QImage | None:
    """Runs in the worker thread."""
    from PySide6.QtCore import QByteArray
    from PySide6.QtSvg import QSvgRenderer

    from parley.core.render.mathsvg import typeset

    size = key.pixel_size * (DISPLAY_SCALE if source.display else INLINE_SCALE)
    svg = typeset(source.tex, display=source.display, size=size, color=key.color)
    if svg is None:
        return None
    renderer = QSvgRenderer(QByteArray(svg.svg))
    if not renderer.isValid():
        return None
    ascent = svg.height - svg.depth
    width, height, top = _padded(svg.width, ascent, svg.depth, key.x_height)
    img = _image(width, height, key.ratio)
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, top, svg.width, svg.height))
    painter.end()
    # Typesetting is Python holding the GIL: a pause between formulas lets the GUI thread run.
    time.sleep(PAUSE_S)
    return img


class MathImages(QObject):
    """The typeset formulas of the whole window, and the one thread that typesets them."""

    _typeset_done = Signal(object, object)  # _Key, QImage | None

    def __init__(self) -> None:
        super().__init__()
        self._images: OrderedDict[_Key, QImage | None] = OrderedDict()
        self._placeholders: OrderedDict[_Key, QImage] = OrderedDict()
        self._waiting: dict[_Key, list[weakref.ref[MathView]]] = {}
        self._worker: ThreadPoolExecutor | None = None
        self._typeset_done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def load(self, view: MathView, url: str, font: QFont, color: QColor, ratio: float) -> QImage:
        """The image to show for `url` in `view` now; `view.math_ready` gets the typeset one."""
        source = math_source(url)
        if source is None:
            return QImage()
        size = QFontInfo(font).pixelSize()
        key = _Key(url, float(size), color.name(), QFontMetricsF(font).xHeight(), ratio)
        if key in self._images:
            self._images.move_to_end(key)
            done = self._images[key]
            if done is not None:
                return done
        elif key not in self._waiting:
            self._waiting[key] = []
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="parley-math")
            future = self._worker.submit(_typeset, source, key)
            future.add_done_callback(lambda f, key=key: self._finished(key, f))
        waiting = self._waiting.get(key)
        if waiting is not None and all(ref() is not view for ref in waiting):
            waiting.append(weakref.ref(view))
        shown = self._placeholders.get(key)
        if shown is None:
            shown = self._placeholders[key] = placeholder(source, font, key)
            while len(self._placeholders) > CACHE_SIZE:
                self._placeholders.popitem(last=False)
        return shown

    def _finished(self, key: _Key, future: object) -> None:
        # In the worker thread: the queued signal brings the result to the GUI thread.
        try:
            image = future.result()  # type: ignore[attr-defined]
        except Exception:
            image = None
        self._typeset_done.emit(key, image)

    def _deliver(self, key: _Key, image: QImage | None) -> None:
        self._images[key] = image
        while len(self._images) > CACHE_SIZE:
            self._images.popitem(last=False)
        views = self._waiting.pop(key, [])
        if image is None:
            return
        self._placeholders.pop(key, None)
        for ref in views:
            view = ref()
            if view is not None:
                with contextlib.suppress(RuntimeError):  # its widget was deleted meanwhile
                    view.math_ready(key.url, image)

    def wait_idle(self) -> None:
        """Let the worker finish what it was given (tests)."""
        if self._worker is not None:
            self._worker.submit(lambda: None).result()

    def shutdown(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)
            self._worker = None


_images: MathImages | None = None


def math_images() -> MathImages:
    global _images
    if _images is None:
        _images = MathImages()
    return _images

"""A wheel over a field that does not have focus scrolls the panel, not the field's value.

Qt gives a wheel event to the widget under the pointer whether it has focus or not, so
scrolling a long form turns every combo box, slider and spin box that passes under the pointer
(a `reasoning_effort` changed on its way past is then sent). The guard, one object per
scrolling container, is installed on each value field as it is built: an unfocused field's
wheel event is handed to the scroll area instead; a focused field (clicked or tabbed into)
keeps the wheel, as users of forms expect.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QWidget,
)

GUARDED = (QComboBox, QAbstractSlider, QAbstractSpinBox)


class WheelGuard(QObject):
    """Sends wheel events of unfocused value fields to `scroll_area`."""

    def __init__(self, scroll_area: QAbstractScrollArea) -> None:
        super().__init__(scroll_area)
        self._scroll_area = scroll_area

    def watch(self, root: QWidget) -> None:
        """Guard `root` and every value field inside it (call once a part is built)."""
        widgets = [root, *root.findChildren(QWidget)]
        for w in widgets:
            if isinstance(w, GUARDED):
                # A wheel must not give focus either (WheelFocus would, then change the value).
                if w.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                    w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                w.removeEventFilter(self)  # installed once per field, however often watched
                w.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() is not QEvent.Type.Wheel or not isinstance(watched, QWidget):
            return False
        if watched.hasFocus():
            return False
        # The viewport is where a scroll area takes wheel events; the event is consumed here
        # either way so the field's value never changes.
        QApplication.sendEvent(self._scroll_area.viewport(), event)
        return True

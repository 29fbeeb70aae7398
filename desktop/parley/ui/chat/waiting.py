"""The line an answer shows before its first token: "Waiting for the first token… 4 s"."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from parley.core.chat.waiting import waiting_text
from parley.ui import theme

TICK_MS = 500  # the seconds shown turn over within half a second of the true time


class WaitingLine(QLabel):
    """Counts the seconds since `start(started_at)` (a `time.monotonic()` time) until `stop()`.
    The timer runs only while the line is shown."""

    def __init__(
        self, parent: QWidget | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(parent)
        self._clock = clock
        self._started = 0.0
        self.setAccessibleName("Waiting for the answer")
        theme.tag(self, text="muted")
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self.hide()

    def start(self, started_at: float | None = None) -> None:
        self._started = self._clock() if started_at is None else started_at
        self._tick()
        self.show()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.hide()

    def is_waiting(self) -> bool:
        return self._timer.isActive()

    def elapsed(self) -> float:
        return max(0.0, self._clock() - self._started)

    def _tick(self) -> None:
        self.setText(waiting_text(self.elapsed()))

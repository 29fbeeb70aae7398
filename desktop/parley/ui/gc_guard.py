"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread allocates when a threshold is crossed. Parley has worker
threads (the start-up warm-up, building request bodies), so that can be one of them, and a Qt
object collected there is destroyed off its own thread: its timers cannot be unregistered and the
GUI thread later crashes dispatching a timer event to freed memory (seen in the test suite as a
segfault in QTimerInfoList::activateTimers). So, as qutebrowser does, automatic collection is
switched off and a timer on the GUI thread collects the generation whose threshold was crossed.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


def collect_due() -> int | None:
    """Collect the oldest generation past its threshold, as automatic collection would."""
    thresholds = gc.get_threshold()
    counts = gc.get_count()
    for generation in range(len(counts) - 1, -1, -1):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return generation
    return None


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = 250) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(collect_due)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()


def freeze_start_up() -> None:
    """Call once the app has started: what start-up made (modules, classes, the window) is moved
    out of the collector's reach, so a full collection walks only what came after. With the
    window open a full collection otherwise takes ~45 ms on the GUI thread, a visible stall.
    Start-up's own cyclic garbage, if any, is kept for good: a small, fixed amount."""
    gc.freeze()

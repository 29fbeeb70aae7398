"""A tiny Qt-free signal for core objects: the window connects Qt slots, the CLI plain functions.

    finished = Signal[RunRecord]()
    finished.connect(table.add)
    finished.emit(record)

Slots are called synchronously, in the order connected, on the thread that emits (the Lab's
objects emit on the event loop's thread). A slot that raises does not stop the others: the
error is collected in `errors` for the emitter to report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Signal(Generic[T]):
    def __init__(self) -> None:
        self._slots: list[Callable[[T], object]] = []
        self.errors: list[BaseException] = []

    def connect(self, slot: Callable[[T], object]) -> None:
        if slot not in self._slots:
            self._slots.append(slot)

    def disconnect(self, slot: Callable[[T], object]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, value: T) -> None:
        for slot in list(self._slots):
            try:
                slot(value)
            except Exception as exc:  # one broken listener must not stop a sweep
                self.errors.append(exc)

    def __len__(self) -> int:
        return len(self._slots)

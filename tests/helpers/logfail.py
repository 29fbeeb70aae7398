"""Fail a test on an unexpected WARNING (or worse) log record, as qutebrowser's logfail does.

A record is expected when the test asked for it with `caplog.at_level(level, logger)`: that
logger (the record's own or one above it) then has exactly that record's level. Records are
collected and the test fails at its end, not inside `emit`: a record logged in a worker thread
or a Qt slot would otherwise have its failure swallowed there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest


class LogFailHandler(logging.Handler):
    def __init__(self, min_level: int = logging.WARNING) -> None:
        super().__init__(logging.NOTSET)
        self.min_level = min_level
        self.root_level = logging.getLogger().level  # a change of it is caplog's
        self.unexpected: list[logging.LogRecord] = []
        self._records_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < self.min_level:
            return
        if self._asked_for(record):
            return
        with self._records_lock:
            self.unexpected.append(record)

    def _asked_for(self, record: logging.LogRecord) -> bool:
        root = logging.getLogger()
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger is not root:
            if logger.level != logging.NOTSET:
                return logger.level == record.levelno
            logger = logger.parent
        return root.level != self.root_level and root.level == record.levelno

    def report(self) -> str:
        return "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.unexpected)


@pytest.fixture(autouse=True)
def fail_on_logging() -> Iterator[LogFailHandler]:
    handler = LogFailHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        handler.close()
    if handler.unexpected:
        pytest.fail(f"unexpected log records:\n{handler.report()}", pytrace=False)

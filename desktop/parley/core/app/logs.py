"""Logging: loggers named by area (`parley.ui.chat`, `parley.store`, …), one rotating log file
in the data folder, and every key the app has read redacted from what is written.

The file handler carries a `KeyRedactor`: every record is formatted and passed through
`parley.core.protocol.errors.redact` with every key Parley knows (the key store remembers
each key it hands out) before it is written, so a key that reaches a message, an argument or a
traceback never reaches the file.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from parley.core.app.paths import data_dir
from parley.core.protocol.errors import known_secrets, redact

LOG_FILE = "parley.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class KeyRedactor(logging.Filter):
    """Redacts every key Parley knows (`known_secrets`: the environment's and every key read in
    this process) from each record: message, arguments, traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Longest first: a shorter key sharing a stretch with a longer one would otherwise cut
        # the longer one into pieces that no longer match it whole.
        secrets = sorted(known_secrets(), key=len, reverse=True)
        if not secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message, secrets)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True


_redactor = KeyRedactor()
_handler: logging.Handler | None = None
_level_before = logging.NOTSET


def log_path() -> Path:
    return data_dir() / LOG_FILE


def setup_logging(path: Path | None = None, level: int = logging.INFO) -> Path:
    """Write the `parley` loggers' records (INFO and up) to the rotating log file; once."""
    global _handler, _level_before
    path = path or log_path()
    if _handler is not None:
        return path
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_redactor)
    root = logging.getLogger("parley")
    root.addHandler(handler)
    _level_before = root.level
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    _handler = handler
    return path


def teardown_logging() -> None:
    """Remove the file handler (tests)."""
    global _handler
    if _handler is not None:
        root = logging.getLogger("parley")
        root.removeHandler(_handler)
        root.setLevel(_level_before)
        _handler.close()
        _handler = None

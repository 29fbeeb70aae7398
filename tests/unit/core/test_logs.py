"""The log file: in the data folder, rotated, and never holding a key the app has read."""

from __future__ import annotations

import logging
import logging.handlers
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.core.app import logs
from parley.core.protocol.errors import remember_secret


@pytest.fixture
def log_file(parley_home: Path) -> Iterator[Path]:
    path = logs.setup_logging()
    yield path
    logs.teardown_logging()


def test_records_go_to_the_data_folder_with_known_keys_redacted(log_file: Path) -> None:
    assert log_file == logs.log_path() and log_file.parent == Path(logs.data_dir())
    key = f"sk-live-{uuid.uuid4().hex}"
    remember_secret(key)  # as the key store does for each key it reads
    log = logging.getLogger("parley.test.logs")
    log.info("sending with %s", key)
    try:
        raise ValueError(f"the provider echoed {key[:12]}")
    except ValueError:
        log.info("it failed", exc_info=True)
    text = log_file.read_text()
    assert "sending with [redacted]" in text
    assert "ValueError: the provider echoed [redacted]" in text
    assert key not in text and key[:12] not in text
    assert "INFO parley.test.logs:" in text


def test_the_file_is_rotated(log_file: Path) -> None:
    handler = logging.getLogger("parley").handlers[-1]
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (logs.MAX_BYTES, logs.BACKUPS)

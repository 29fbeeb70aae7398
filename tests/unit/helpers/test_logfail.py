"""The logfail helper: an unexpected warning fails the test; one asked for with caplog does not."""

from __future__ import annotations

import logging

import pytest

from tests.helpers.logfail import LogFailHandler


def test_a_warning_is_collected_and_debug_is_not() -> None:
    handler = LogFailHandler()
    log = logging.getLogger("parley.test.logfail.alone")
    log.propagate = False  # the suite's own handler must not see it
    log.addHandler(handler)
    try:
        log.debug("fine")
        log.warning("not fine: %s", "x")
    finally:
        log.removeHandler(handler)
    assert handler.report() == "WARNING parley.test.logfail.alone: not fine: x"


def test_a_warning_asked_for_with_caplog_is_expected(
    caplog: pytest.LogCaptureFixture, fail_on_logging: LogFailHandler
) -> None:
    with caplog.at_level(logging.WARNING, "parley.test.logfail"):
        logging.getLogger("parley.test.logfail").warning("expected")
    assert fail_on_logging.unexpected == []
    assert "expected" in caplog.text

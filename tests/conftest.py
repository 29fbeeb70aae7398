"""Suite-wide fixtures: every test gets its own PARLEY_HOME, and no real key leaks in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.logfail import fail_on_logging

__all__ = ["fail_on_logging"]  # autouse: a test fails on an unexpected WARNING+ log record


@pytest.fixture(autouse=True)
def parley_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "parley-home"
    monkeypatch.setenv("PARLEY_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("PARLEY_API_KEY_"):
            monkeypatch.delenv(name)
    yield home
    from parley.core.app.logs import teardown_logging

    teardown_logging()  # a test that started the app's log file leaves none behind


def pytest_runtest_setup(item: pytest.Item) -> None:
    # @pytest.mark.keyring tests skip without a real Secret Service, and fail when CI=true.
    if item.get_closest_marker("keyring") is not None:
        from tests.keyring_support import require_secret_service

        require_secret_service()

"""The qasync fixtures of tests/ui (fresh loop per test, run scenarios inside it) for e2e tests."""

from tests.ui.conftest import arun, qloop

__all__ = ["arun", "qloop"]

"""The qasync fixtures of tests/ui (fresh loop per test, run scenarios inside it) for e2e tests,
and the same garbage collection on the GUI thread."""

from tests.ui.conftest import arun, gc_on_the_gui_thread, qloop

__all__ = ["arun", "gc_on_the_gui_thread", "qloop"]

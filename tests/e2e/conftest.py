"""The qasync fixtures of tests/ui (fresh loop per test, run scenarios inside it) for e2e tests,
the same garbage collection on the GUI thread, and the provider emulator: one per test module,
set back to its defaults for every test, which fails if the emulator met an error."""

from collections.abc import Iterator

import pytest

from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import arun, gc_on_the_gui_thread, qloop

__all__ = ["arun", "emu", "emulator", "gc_on_the_gui_thread", "qloop"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    emulator.clear()
    emulator.default = Behavior()
    emulator.echo_full_key = False
    yield emulator
    emulator.default = Behavior()
    assert not emulator.errors, emulator.errors

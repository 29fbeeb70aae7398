"""The real start path (`parley` without a subcommand): the first frame appears before anything
heavy is imported, and the full window then loads what the first send and answer need.

In a fresh interpreter: the test process has everything imported already.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from parley.core.store import Store

# Not imported before the first frame takes input (they load in the worker thread after it).
HEAVY = (
    "pydantic",
    "asyncio",
    "qasync",
    "httpx",
    "keyring",
    "markdown_it",
    "ziamath",
    "PySide6.QtSvg",
    "parley.core.providers.catalog",
    "parley.core.app.settings",
    "parley.core.store",
    "parley.ui.mainwindow",
    "parley.ui.params_panel",
)
# Made once the full window is in (its warm-up), before the first send needs them.
DEFERRED = (
    "parley.ui.message_widgets",
    "parley.core.chat.session",
    "parley.core.protocol.events",
    "parley.core.render.markdown",
    "markdown_it",
    "pygments",
    "httpx",
    "keyring",
)

PROBE = f"""
import sys
from PySide6 import QtCore
import parley.ui.boot as boot

HEAVY, DEFERRED = {HEAVY!r}, {DEFERRED!r}

def loaded(names):
    return ",".join(sorted(m for m in names if m in sys.modules))

start_loading = boot.BootWindow.start_loading

def at_first_frame(self, *args, **kwargs):
    print("first-frame", loaded(HEAVY))
    # PySide makes the `Qt` namespace's ~100 enums on its first use (see parley.ui.lightqt).
    print("qt-namespace", "Qt" in vars(QtCore))
    print("sidebar", "|".join(self.parts.sidebar.titles()))
    print("provider", self.parts.top_bar.provider_combo.currentText())
    return start_loading(self, *args, **kwargs)

boot.BootWindow.start_loading = at_first_frame
from parley.app import main
code = main(["--self-test"])
print("after", loaded(DEFERRED))
sys.exit(code)
"""


def test_the_first_frame_comes_before_the_heavy_imports(parley_home: Path) -> None:
    env = dict(os.environ, PARLEY_HOME=str(parley_home), QT_QPA_PLATFORM="offscreen")
    store = Store.open()
    for title in ("first chat", "second chat"):
        store.create_conversation(title=title, provider="euri")
    store.close()
    # A first start: writes the provider cache (display names) and the last provider used.
    first = subprocess.run(
        [sys.executable, "-m", "parley", "--self-test"], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stdout + first.stderr

    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert lines["first-frame"].strip() == "", "imported before the first frame"
    assert lines["qt-namespace"] == "False"
    assert lines["sidebar"] == "second chat|first chat"
    assert lines["provider"] == "Euron EURI"
    assert lines["self-test"].startswith("ok: interactive in")
    after = set(lines["after"].split(","))
    assert set(DEFERRED) - after == set(), f"the warm-up did not import {set(DEFERRED) - after}"


FAULT_PROBE = """
import sys
import parley.ui.boot as boot

{patch}

from parley.app import main
sys.exit(main(sys.argv[1:]))
"""


def run_probe(patch: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PARLEY_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-c", FAULT_PROBE.format(patch=patch), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_load_that_fails_is_reported_by_the_self_test(parley_home: Path) -> None:
    patch = (
        "def broken():\n"
        "    raise OSError('the provider folder is unreadable')\n"
        "boot.load_everything = broken"
    )
    proc = run_probe(patch, "--self-test", home=parley_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "self-test FAILED: OSError: the provider folder is unreadable"
    assert "Traceback" not in proc.stderr


def test_closing_the_first_frame_before_the_load_ends_quits_cleanly(parley_home: Path) -> None:
    # The window is closed as soon as it takes input, long before the rest has loaded.
    patch = (
        "present = boot.BootWindow.present\n"
        "def present_then_close(self):\n"
        "    present(self)\n"
        "    self.when_interactive(self.close)\n"
        "boot.BootWindow.present = present_then_close"
    )
    proc = run_probe(patch, home=parley_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""

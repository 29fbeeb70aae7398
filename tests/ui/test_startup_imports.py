"""What the window imports before it shows, and what the warm-up imports after (in a fresh
interpreter: the test process has everything imported already).

The window shows a new chat: no message widgets, no session, no Markdown, no HTTP client or
keyring until the warm-up, which then makes what the first send and the first answer need.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEFERRED = (
    "parley.ui.message_widgets",
    "parley.core.session",
    "parley.core.events",
    "parley.core.markdown",
    "markdown_it",
    "pygments",
    "httpx",
    "keyring",
)

PROBE = f"""
import asyncio, sys
from PySide6.QtWidgets import QApplication
from qasync import QEventLoop

DEFERRED = {DEFERRED!r}


def loaded():
    return sorted(m for m in DEFERRED if m in sys.modules)


app = QApplication(sys.argv[:1])
app.setQuitOnLastWindowClosed(False)


async def run():
    from parley.app import _wait_idle
    from parley.ui.mainwindow import open_main_window

    window = await open_main_window(app, first_run=False)
    print("providers", window.provider_combo.count(), "models", window.model_combo.count())
    print("before", ",".join(loaded()))
    await window.wait_started()
    await _wait_idle()
    print("after", ",".join(loaded()))
    window.close()
    await window.shutdown()


with asyncio.Runner(loop_factory=lambda: QEventLoop(app)) as runner:
    runner.run(run())
"""


def test_the_window_shows_before_the_warm_up_imports(tmp_path: Path) -> None:
    env = dict(os.environ, PARLEY_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    n_providers, _, n_models = lines["providers"].split()
    assert int(n_providers) >= 5 and int(n_models) >= 1  # the pickers are filled at once
    assert lines["before"].strip() == ""
    after = set(lines["after"].split(","))
    assert set(DEFERRED) - after == set(), f"the warm-up did not import {set(DEFERRED) - after}"

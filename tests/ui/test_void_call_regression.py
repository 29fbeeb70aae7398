"""PySide6 6.12.0 on Python 3.11 aborts ("none_dealloc") after ~200k calls of a void Qt method.

This runs in a child process so an abort shows up as a failed test, not a dead test run.
"""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = """
import os
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
for i in range(300_000):
    label.setText(str(i))
print("alive", label.text())
"""


def test_300k_void_qt_calls_do_not_crash() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "alive 299999"

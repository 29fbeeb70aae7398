"""Smoke-test a frozen Parley on any OS: --version, --self-test offscreen, `ask` on the emulator.

    python packaging/smoke.py PATH/TO/parley[.exe]

Run from a checkout with the test dependencies (the provider emulator is tests/helpers/emulator).
Used by scripts/package.sh and by the release workflow on Linux, Windows and macOS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "desktop"))

from tests.helpers.emulator import Emulator  # noqa: E402

from parley import __version__  # noqa: E402


def run(binary: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [binary, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
        timeout=300,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def main(binary: str) -> int:
    with tempfile.TemporaryDirectory() as home:
        version = run(binary, "--version").stdout.strip()
        assert version == f"parley {__version__}", version
        self_test = run(binary, "--self-test", PARLEY_HOME=home).stdout
        assert self_test.startswith("self-test ok"), self_test
        with Emulator() as emu:
            answer = run(
                binary,
                "ask", "--provider", "eurouter", "--base-url", emu.base_url("eurouter"),
                "--model", "mistral/mistral-small", "Hello?",
                PARLEY_HOME=home,
                PARLEY_API_KEY_EUROUTER=emu.key("eurouter"),
            ).stdout  # fmt: skip
            assert answer.strip(), "ask printed no answer"
    print(f"smoke ok: {version}; {self_test.strip().splitlines()[0]}; ask answered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))

"""`parley --self-test`: the real app and window start, report one line and exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LINE = re.compile(
    r"^self-test ok: interactive in (?P<interactive>\d+) ms, ready in (?P<ready>\d+) ms; "
    r"keyring: (?P<keyring>.+?); providers: (?P<providers>\d+)(; problems: (?P<problems>\d+) .*)?$"
)


def run_self_test(home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_API_KEY_")}
    env.update(PARLEY_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "parley", "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_self_test_prints_one_line_and_exits_0(tmp_path: Path) -> None:
    proc = run_self_test(tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    match = LINE.match(lines[0])
    assert match, lines[0]
    # The first frame takes input before the rest has loaded; "ready" is the full window.
    assert 0 < int(match["interactive"]) < int(match["ready"])
    assert int(match["providers"]) >= 5  # the five providers at least
    assert match["problems"] is None  # nothing wrong in a fresh data folder
    assert "Traceback" not in proc.stderr


def test_a_broken_provider_file_and_a_corrupt_history_are_reported_not_fatal(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    (home / "providers").mkdir(parents=True)
    (home / "providers" / "mine.toml").write_text('id = "mine"\nname = ', encoding="utf-8")
    (home / "parley.sqlite3").write_bytes(b"this is not a database" * 100)
    proc = run_self_test(home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = LINE.match(proc.stdout.strip())
    assert match, proc.stdout
    assert match["problems"] == "2"
    assert "mine.toml" in proc.stdout and "not valid TOML" in proc.stdout
    assert "history" in proc.stdout and "damaged" in proc.stdout
    # The damaged file is left as it was: nothing already saved is lost.
    assert (home / "parley.sqlite3").read_bytes() == b"this is not a database" * 100


def test_the_parley_console_entry_runs_the_self_test(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("parley")
    if not script.exists():
        pytest.skip("parley is not installed as a console script here")
    env = dict(os.environ, PARLEY_HOME=str(tmp_path / "h"), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [str(script), "--self-test"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert LINE.match(proc.stdout.strip()), proc.stdout


def test_without_a_display_it_says_so_instead_of_crashing(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["PARLEY_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "parley", "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is for Linux")
    assert proc.returncode == 1
    assert proc.stdout.startswith("self-test FAILED: there is no display")
    assert "QT_QPA_PLATFORM=offscreen" in proc.stdout

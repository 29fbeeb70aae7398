"""The Linux packages a non-developer installs: built from this tree, then installed and run.

Builds with scripts/package.sh (PyInstaller one-folder, tarball, .deb; about 2 minutes here),
then unpacks the .deb into a temporary root and starts the app from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from parley import __version__

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or shutil.which("dpkg-deb") is None,
        reason="the .deb and tarball are Linux (Debian) packages",
    ),
]


def test_linux_packages_build_install_and_start(tmp_path: Path) -> None:
    build = subprocess.run(
        ["bash", "scripts/package.sh"],
        cwd=ROOT,
        env={**os.environ, "PYTHON_BIN": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    deb = next((ROOT / "dist").glob(f"parley_{__version__}_*.deb"))
    tarball = next((ROOT / "dist").glob(f"parley-{__version__}-linux-*.tar.gz"))
    assert tarball.stat().st_size > 10_000_000

    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    for path in (
        "./opt/parley/parley",
        "./usr/bin/parley -> /opt/parley/parley",
        "./usr/share/applications/parley.desktop",
        "./usr/share/icons/hicolor/256x256/apps/parley.png",
    ):
        assert path in contents, path
    assert "providers/eurouter.toml" in contents

    root = tmp_path / "root"
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    binary = root / "opt" / "parley" / "parley"
    env = {**os.environ, "PARLEY_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(binary), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert run("--version").stdout.strip() == f"parley {__version__}"
    listed = run("providers").stdout
    assert all(p in listed for p in ("euri", "eurouter", "eigenai", "nordlys", "adaptive-engine"))
    self_test = run("--self-test")
    assert self_test.returncode == 0, self_test.stdout + self_test.stderr
    assert self_test.stdout.startswith("self-test ok") and "providers: 10" in self_test.stdout

"""The Linux packages a non-developer installs: built from this tree, checked, installed for real
and run, then removed.

One build (scripts/package.sh: PyInstaller one-folder, tarball, .deb, lintian; about 2-3 minutes
here) serves every test in this module: the size targets, the glibc floor over every bundled ELF
file, what was pruned, the desktop entry and metainfo, the tarball's installer on a fresh account,
and `apt-get install ./parley-chat_*.deb` with the frozen --self-test against the real Secret
Service and `ask` against the emulator, then `apt-get remove --purge`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley import APP_ID, __version__
from tests.helpers.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import bundle  # noqa: E402

NAME = "parley-chat"
MB = 1_000_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),  # the build is in the first test's setup
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or shutil.which("dpkg-deb") is None,
        reason="the .deb and tarball are Linux (Debian) packages",
    ),
]


class Built:
    def __init__(self, log: str) -> None:
        self.log = log
        self.app = ROOT / "dist" / "pyinstaller" / "parley"
        self.deb = next((ROOT / "dist").glob(f"{NAME}_{__version__}_*.deb"))
        self.tarball = next((ROOT / "dist").glob(f"{NAME}-{__version__}-linux-*.tar.gz"))


@pytest.fixture(scope="module")
def built() -> Built:
    build = subprocess.run(
        ["bash", "scripts/package.sh"],
        cwd=ROOT,
        env={**os.environ, "PYTHON_BIN": sys.executable, "PARLEY_DEB_COMPRESSION": "gzip"},
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return Built(build.stdout)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_sizes_meet_the_targets_and_are_printed(built: Built) -> None:
    assert "MB unpacked" in built.log and "tarball" in built.log
    assert 50 * MB < _size(built.app) <= 140 * MB
    assert built.tarball.stat().st_size <= 60 * MB


def test_no_bundled_file_needs_a_newer_glibc_than_the_floor(built: Built) -> None:
    problems, from_system = bundle.scan(built.app)
    assert problems == []
    # Taken from the system, never bundled (a bundled libstdc++ breaks newer Mesa drivers).
    assert {"libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"} <= from_system
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(built.deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    assert "libc6 (>= 2.35)" in depends and "libstdc++6 (>= 12)" in depends
    # The host's libexpat needs glibc 2.36: it is not bundled, the system's is used.
    assert not list(built.app.rglob("libexpat.so*"))
    assert "libfontconfig1" in depends and "libxcb-cursor0" in depends


def test_what_parley_does_not_use_is_not_bundled(built: Built) -> None:
    internal = built.app / "_internal"
    files = {p.relative_to(internal).as_posix() for p in internal.rglob("*")}
    assert not [f for f in files if "libgtk-3" in f or "libqgtk3" in f or "libcairo" in f]
    assert not [f for f in files if f.startswith("PySide6/Qt/translations")]
    platforms = {
        f.rsplit("/", 1)[-1] for f in files if f.startswith("PySide6/Qt/plugins/platforms/")
    }
    assert platforms == {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"}
    assert "PySide6/Qt/lib/libQt6Network.so.6" not in files
    modules = subprocess.run(
        [
            str(Path(sys.executable).parent / "pyi-archive_viewer"),
            "-r",
            "-b",
            str(built.app / "parley"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "httpx._client" in modules and "keyring.backends.SecretService" in modules
    assert not [m for m in modules if m.split(".")[0] in ("rich", "click") or m == "httpx._main"]


def test_licences_ship_with_the_build(built: Built) -> None:
    licences = built.app / "_internal" / "parley" / "resources" / "licenses"
    index = (licences / "index.json").read_text()
    for name in ("Parley", "PySide6_Essentials", "Python", "httpx", "PyInstaller bootloader"):
        assert f'"name": "{name}"' in index
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (licences / "LGPL-3.0.txt").read_text()
    assert "Source code" in (licences / "Qt-source-offer.txt").read_text()
    assert "Permission is hereby granted" in (licences / "Parley" / "LICENSE").read_text()


def _run(binary: Path | str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
        timeout=180,
    )


def test_the_tarball_installs_for_a_fresh_account_and_uninstalls(
    built: Built, tmp_path: Path
) -> None:
    with tarfile.open(built.tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="tar")
    folder = next((tmp_path / "unpacked").iterdir())
    home = tmp_path / "home"
    home.mkdir()  # a new account: no ~/.local at all
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    env_clean = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    install = subprocess.run(
        ["sh", str(folder / "install.sh")], capture_output=True, text=True, env={**env_clean, **env}
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert "not on your PATH" in install.stdout  # and says how to fix that
    command = home / ".local" / "bin" / NAME
    share = home / ".local" / "share"
    entry = share / "applications" / f"{APP_ID}.desktop"
    assert f"Exec={home}/.local/opt/{NAME}/parley" in entry.read_text()
    assert (share / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").is_file()
    assert (share / "icons/hicolor/48x48/apps" / f"{APP_ID}.png").is_file()
    subprocess.run(["desktop-file-validate", str(entry)], check=True)
    assert _run(command, "--version", HOME=str(home)).stdout.strip() == f"parley {__version__}"

    # Installing again upgrades in place; uninstalling removes the program, not the data.
    again = subprocess.run(
        ["sh", str(folder / "install.sh")], capture_output=True, text=True, env={**env_clean, **env}
    )
    assert again.returncode == 0
    remove = subprocess.run(
        ["sh", str(home / ".local/opt" / NAME / "uninstall.sh"), "--uninstall"],
        capture_output=True,
        text=True,
        env={**env_clean, **env},
    )
    assert remove.returncode == 0, remove.stderr
    assert not command.exists() and not entry.exists()
    assert not (home / ".local/opt" / NAME).exists()
    assert "API keys" in remove.stdout


@pytest.fixture
def installed_deb(built: Built) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("installing the .deb for real needs root and apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", str(built.deb)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    try:
        yield Path("/usr/bin") / NAME
    finally:
        remove = subprocess.run(
            ["apt-get", "remove", "--purge", "-y", "-q", NAME],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert remove.returncode == 0, remove.stderr
        assert not Path("/opt", NAME).exists() and not (Path("/usr/bin") / NAME).exists()
        status = subprocess.run(["dpkg", "-s", NAME], capture_output=True, text=True)
        assert status.returncode != 0


def test_the_deb_installs_with_apt_runs_and_removes_cleanly(
    installed_deb: Path, tmp_path: Path
) -> None:
    home = str(tmp_path / "data")
    for path in (
        f"/opt/{NAME}/parley",
        f"/usr/share/applications/{APP_ID}.desktop",
        f"/usr/share/metainfo/{APP_ID}.metainfo.xml",
        f"/usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg",
        f"/usr/share/doc/{NAME}/copyright",
    ):
        assert Path(path).exists(), path
    subprocess.run(
        ["desktop-file-validate", f"/usr/share/applications/{APP_ID}.desktop"], check=True
    )
    metainfo = f"/usr/share/metainfo/{APP_ID}.metainfo.xml"
    subprocess.run(
        ["appstreamcli", "validate", "--no-net", metainfo], check=True, capture_output=True
    )
    assert f'<release version="{__version__}"' in Path(metainfo).read_text()

    assert _run(installed_deb, "--version").stdout.strip() == f"parley {__version__}"
    self_test = _run(installed_deb, "--self-test", PARLEY_HOME=home)
    assert self_test.returncode == 0, self_test.stdout + self_test.stderr
    assert self_test.stdout.startswith("self-test ok") and "providers: 10" in self_test.stdout
    if os.environ.get("PARLEY_THROWAWAY_KEYRING"):  # under scripts/with-keyring.sh (make test)
        assert "keyring: Secret Service;" in self_test.stdout, self_test.stdout

    with Emulator() as emu:
        ask = _run(
            installed_deb,
            "ask", "--provider", "eurouter", "--base-url", emu.base_url("eurouter"),
            "--model", "mistral/mistral-small", "Hello?",
            PARLEY_HOME=home,
            PARLEY_API_KEY_EUROUTER=emu.key("eurouter"),
        )  # fmt: skip
        assert ask.returncode == 0, ask.stderr
        assert ask.stdout.strip()
        assert any(r.path.endswith("/chat/completions") for r in emu.requests)

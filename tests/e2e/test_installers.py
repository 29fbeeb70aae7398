"""The Windows and macOS installer recipes and the release workflow, checked on Linux: makensis
compiles the NSIS script over a stand-in payload, the macOS entitlements parse, the scripts
parse, actionlint passes on the workflows. (They run for real only on those systems' runners.)"""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from parley import __version__

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def makensis() -> str:
    subprocess.run(["bash", str(ROOT / "scripts" / "packaging-tools.sh")], check=False)
    found = shutil.which("makensis")
    if found is None:
        pytest.skip("makensis (Debian's nsis) is not installed and could not be")
    return found


def test_the_nsis_script_compiles_into_an_installer(makensis: str, tmp_path: Path) -> None:
    payload = tmp_path / "payload"
    (payload / "_internal").mkdir(parents=True)
    for exe in ("Parley.exe", "parley-cli.exe"):  # stand-ins: the real ones are built on Windows
        (payload / exe).write_bytes(b"MZ stand-in for " + exe.encode())
    (payload / "_internal" / "base_library.zip").write_bytes(b"PK stand-in")
    out = tmp_path / f"Parley-{__version__}-windows-x64.exe"
    result = subprocess.run(
        [
            makensis, "-WX", "-V2", f"-DVERSION={__version__}", f"-DPAYLOAD={payload}",
            f"-DOUTFILE={out}", str(ROOT / "packaging" / "windows" / "parley.nsi"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = out.read_bytes()
    assert data[:2] == b"MZ" and len(data) > 50_000
    assert "Parley".encode("utf-16-le") in data  # the version resource names the product


def test_the_nsis_script_refuses_to_build_without_a_version(makensis: str) -> None:
    result = subprocess.run(
        [makensis, "-V1", str(ROOT / "packaging" / "windows" / "parley.nsi")],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "define VERSION" in result.stdout + result.stderr


def test_macos_entitlements_and_scripts_parse() -> None:
    entitlements = plistlib.loads((ROOT / "packaging/macos/entitlements.plist").read_bytes())
    assert entitlements == {
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
        "com.apple.security.cs.disable-library-validation": True,
    }
    for script in ("make-dmg.sh", "sign-and-notarize.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "packaging/macos" / script)], check=True)
    spec = (ROOT / "packaging" / "parley.spec").read_text()
    assert 'bundle_identifier="io.github.parley-chat.Parley"' in spec


def test_actionlint_passes_on_the_workflows() -> None:
    actionlint = Path(sys.executable).parent / "actionlint"
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = subprocess.run(
        [str(actionlint), *map(str, workflows)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_release_manifest_tool_signs_what_the_app_verifies(tmp_path: Path) -> None:
    from parley.core.app.updates import Release, newer_release

    key = tmp_path / "key"
    made = subprocess.run(
        [sys.executable, str(ROOT / "packaging/sign_manifest.py"), "new-key", str(key)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    public = bytes.fromhex(made.stdout.split("public key: ")[1].strip())
    assert key.stat().st_mode & 0o077 == 0
    out = tmp_path / "update-manifest.json"
    subprocess.run(
        [sys.executable, str(ROOT / "packaging/sign_manifest.py"), "sign", "9.0.0",
         "https://example.org/releases/9.0.0", str(out)],
        env={"PARLEY_UPDATE_KEY": key.read_text()}, check=True,
    )  # fmt: skip
    assert newer_release(out.read_bytes(), __version__, public) == Release(
        "9.0.0", "https://example.org/releases/9.0.0"
    )

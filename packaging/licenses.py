"""Gather the licence texts of everything a build bundles into one folder with an index.

Used by parley.spec (every OS): Parley's LICENSE; each Python distribution Parley needs at run
time, with the licence files from its installed metadata; Python's own licence; Qt's LGPL, the
GPL it builds on and the source offer (the PySide6 wheels carry no licence file); PyInstaller's
bootloader; and on Debian/Ubuntu, the copyright file of each Debian package a bundled system
library comes from. The About dialog reads the index (parley.core.app.licences.load_index).

    python packaging/licenses.py OUT_DIR      # what a build would write, without building
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "desktop"))

from parley.core.app import licences  # noqa: E402


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _debian_packages(paths: Iterable[str]) -> dict[str, str]:
    """Debian package name -> version, for the packages owning these files."""
    if shutil.which("dpkg") is None:
        return {}
    candidates = []
    for p in paths:
        real = os.path.realpath(p)
        candidates += [real, real.replace("/usr/lib/", "/lib/", 1)]
    owners: set[str] = set()
    for chunk in range(0, len(candidates), 200):
        out = subprocess.run(
            ["dpkg", "-S", *candidates[chunk : chunk + 200]],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for line in out.splitlines():
            if ": " in line:
                owners.update(n.strip().split(":")[0] for n in line.split(": ", 1)[0].split(","))
    versions = {}
    for name in sorted(owners):
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True
        ).stdout.strip()
        versions[name] = version or "?"
    return versions


def system_libraries(binaries: Iterable[tuple[str, str, str]]) -> list[str]:
    """Sources of bundled binaries that come from the system, not from a wheel or Python."""
    inside = (sys.prefix, sys.base_prefix, str(ROOT))
    return [
        src
        for _dest, src, kind in binaries
        if kind != "SYMLINK" and not os.path.realpath(src).startswith(inside)
    ]


def write(out: Path, binaries: Iterable[tuple[str, str, str]] = ()) -> list[dict[str, object]]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # The texts Parley ships itself (Qt's, the supplied ones, the bundled icons'), where
    # parley.core.app.licences.static_texts_dir() looks.
    for src in sorted((ROOT / "resources" / "licenses").glob("*.txt")):
        shutil.copy2(src, out / src.name)
    entries: list[dict[str, object]] = []

    def add(component: licences.Component) -> None:
        folder = out / _slug(component.name)
        files = []
        for src in component.files:
            if src.parent == ROOT / "resources" / "licenses":
                files.append(src.name)  # the shared Qt texts, copied once above
                continue
            folder.mkdir(exist_ok=True)
            target = folder / src.name
            if target.exists():
                target = folder / f"{src.parent.name}-{src.name}"
            shutil.copy2(src, target)
            files.append(str(target.relative_to(out)))
        entries.append(
            {
                "name": component.name,
                "version": component.version,
                "licence": component.licence,
                "files": files,
                "note": component.note,
            }
        )

    for component in licences.installed_components():
        add(component)

    import PyInstaller

    pyi = Path(PyInstaller.__file__).parent
    pyi_licence = next(
        (
            p
            for p in (pyi.parent / f"pyinstaller-{PyInstaller.__version__}.dist-info").rglob("*")
            if p.name.upper().startswith("COPYING")
        ),
        None,
    )
    add(
        licences.Component(
            "PyInstaller bootloader",
            PyInstaller.__version__,
            "GPL-2.0-or-later WITH Bootloader-exception",
            (pyi_licence,) if pyi_licence else (),
            "The launcher that starts the bundled Python; its licence's exception allows it to "
            "be distributed with programs under any licence.",
        )
    )

    for package, version in _debian_packages(system_libraries(binaries)).items():
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        add(
            licences.Component(
                package,
                version,
                "see the Debian copyright file",
                (copyright_file,) if copyright_file.is_file() else (),
                "A system library from Debian, bundled unmodified.",
            )
        )
    (out / "index.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    return entries


if __name__ == "__main__":
    for entry in write(Path(sys.argv[1])):
        print(f"{entry['name']:28} {entry['version']:18} {entry['licence']}")

"""What Parley is made of and under which licences: for the About dialog and every build.

A build carries `resources/licenses/index.json` (written by packaging/licenses.py from the
installed distributions' metadata, Python's own licence, Qt's LGPL with the source offer and, on
Linux, the Debian copyright files of the system libraries it bundles), with the texts beside it.
A source checkout has no index; there the same list is read from the installed distributions.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from parley.core.app.paths import resources_dir

_LICENCE_FILE = re.compile(r"(licen[cs]e|copying|notice|copyright)", re.IGNORECASE)
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# Qt (in the PySide6 wheels) is LGPL-3.0; the wheels carry no licence file, so Parley ships one.
QT_DISTRIBUTIONS = frozenset({"pyside6-essentials", "pyside6", "shiboken6"})
QT_TEXTS = ("LGPL-3.0.txt", "GPL-3.0.txt", "Qt-source-offer.txt")
# Distributions whose wheels carry no licence file: Parley ships the text (from their source).
SUPPLIED_TEXTS = {"latex2mathml": "latex2mathml-LICENSE.txt"}


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    version: str
    licence: str
    files: tuple[Path, ...] = field(default=())
    note: str = ""

    def text(self) -> str:
        """The licence texts, each under its file name (unreadable files are said to be so)."""
        parts = [self.note] if self.note else []
        for path in self.files:
            try:
                body = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                body = f"(could not be read: {exc.strerror or exc})"
            parts.append(f"==> {path.name} <==\n{body.strip()}")
        return "\n\n".join(parts) if parts else "(no licence text found)"


def static_texts_dir() -> Path:
    """The licence texts Parley itself ships (Qt's LGPL/GPL, the source offer)."""
    return resources_dir() / "licenses"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _field(dist: metadata.Distribution, name: str) -> str:
    try:  # missing: None from the standard library, KeyError from importlib_metadata 8+
        return str(dist.metadata[name] or "").strip()
    except KeyError:
        return ""


def licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = _field(dist, "License-Expression")
    if expression:
        return expression
    text = _field(dist, "License")
    if text and "\n" not in text and len(text) <= 60:
        return text
    for classifier in meta.get_all("Classifier") or []:
        if str(classifier).startswith("License :: "):
            return str(classifier).rsplit(" :: ", 1)[-1]
    return "see the licence text"


def _licence_files(dist: metadata.Distribution) -> tuple[Path, ...]:
    found = []
    for file in dist.files or []:
        parts = Path(str(file)).parts
        if parts and parts[0].endswith(".dist-info") and _LICENCE_FILE.search(file.name):
            found.append(Path(str(dist.locate_file(file))))
    return tuple(sorted(found, key=lambda p: p.name))


def runtime_distributions(root: str = "parley") -> list[metadata.Distribution]:
    """`root` and everything it requires at run time (extras left out), as installed here."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [root]
    while todo:
        name = _normal(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # for another platform (pywin32-ctypes), or not installed
        seen[name] = dist
        for requirement in dist.requires or []:
            if re.search(r"\bextra\s*==", requirement):
                continue
            match = _REQ_NAME.match(requirement)
            if match:
                todo.append(match.group(1))
    return sorted(seen.values(), key=lambda d: _normal(d.metadata["Name"]))


def python_component() -> Component:
    base = Path(sys.base_prefix)
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [base / "lib" / minor / "LICENSE.txt", base / "LICENSE.txt", base / "LICENSE"]
    files = tuple(p for p in candidates if p.is_file())[:1]
    return Component("Python", platform.python_version(), "PSF-2.0", files)


def component_of(dist: metadata.Distribution) -> Component:
    name = dist.metadata["Name"]
    if name == "parley":
        root = resources_dir().parent
        files = tuple(p for p in (root / "LICENSE",) if p.is_file())
        return Component("Parley", dist.version, licence_of(dist), files)
    files = _licence_files(dist)
    if not files and _normal(name) in SUPPLIED_TEXTS:
        files = (static_texts_dir() / SUPPLIED_TEXTS[_normal(name)],)
    note = ""
    if _normal(name) in QT_DISTRIBUTIONS:
        files = files or tuple(static_texts_dir() / t for t in QT_TEXTS)
        note = "Qt and PySide6 are used under the GNU LGPL version 3."
    return Component(name, dist.version, licence_of(dist), files, note)


def bundled_assets() -> list[Component]:
    """What Parley bundles that is not a Python distribution: the interface's icons."""
    return [
        Component(
            "Lucide icons",
            "1.1.4",
            "ISC",
            (static_texts_dir() / "lucide-LICENSE.txt",),
            "The interface's icons (resources/icons/ui), from lucide.dev, unmodified.",
        )
    ]


def installed_components() -> list[Component]:
    return [
        *(component_of(d) for d in runtime_distributions()),
        python_component(),
        *bundled_assets(),
    ]


def load_index(folder: Path) -> list[Component]:
    entries = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    return [
        Component(
            str(e["name"]),
            str(e["version"]),
            str(e["licence"]),
            tuple(folder / f for f in e.get("files", [])),
            str(e.get("note", "")),
        )
        for e in entries
    ]


def components() -> list[Component]:
    """What this copy of Parley is made of: the build's index, or the installed distributions."""
    folder = static_texts_dir()
    if (folder / "index.json").is_file():
        try:
            return load_index(folder)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return installed_components()

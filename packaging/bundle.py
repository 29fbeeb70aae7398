"""What the frozen Linux build keeps, drops and takes from the system (used by parley.spec).

PyInstaller collects every Qt plugin of the modules imported and every library those plugins
reach on the build machine. For Parley that meant the GTK3 theme plugin with GTK, cairo and pango
(~20 MB), KMS/EGLFS, VNC and evdev plugins (VNC and TUIO pull QtNetwork), Qt's translations, and
the build host's libstdc++ and libexpat, which need glibc 2.36 (Debian 12) where Ubuntu 22.04 has
2.35. So, on Linux:

- plugins: only the ones a desktop session uses (`KEEP_PLUGINS`);
- libraries: only what the kept modules and plugins reach through DT_NEEDED;
- from the system, never bundled: libstdc++ and libgcc_s (a bundled libstdc++ older than the
  system's breaks Mesa's drivers, pyinstaller#5573/#6993) and any library needing a glibc above
  `GLIBC_FLOOR`; `scripts/package.sh` turns what the bundle needs but does not carry into the
  .deb's Depends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent))
from elf import read_needs

# The oldest systems the Linux build runs on: Ubuntu 22.04 (glibc 2.35, libstdc++ of GCC 12,
# GLIBCXX_3.4.30) and Debian 12 (glibc 2.36, GCC 12).
GLIBC_FLOOR = (2, 35)
GLIBCXX_FLOOR = (3, 4, 30)

ALWAYS_FROM_SYSTEM = frozenset({"libstdc++.so.6", "libgcc_s.so.1"})
# Also from the system: libraries every Linux desktop has, tied to its own configuration and
# services (the X server, fontconfig's files, the D-Bus daemon, GLib's main loop) - as AppImage's
# exclude list does. Debian package names for the .deb's Depends are found at build time.
SYSTEM_PREFIXES = (
    "libX11",
    "libxcb",
    "libxkbcommon",
    "libfontconfig.",
    "libfreetype.",
    "libdbus-1.",
    "libglib-2.0.",
    "libgthread-2.0.",
)

# Qt plugins kept, by folder; a folder not listed is dropped whole.
KEEP_PLUGINS: dict[str, frozenset[str] | None] = {
    # xcb (X11), wayland, and offscreen (tests and `--self-test` without a display)
    "platforms": frozenset({"libqxcb.so", "libqwayland.so", "libqoffscreen.so"}),
    "xcbglintegrations": None,  # None: the whole folder
    "wayland-shell-integration": frozenset({"libxdg-shell.so"}),
    "wayland-decoration-client": None,
    "wayland-graphics-integration-client": frozenset({"libqt-plugin-wayland-egl.so"}),
    # the desktop portal's theme/file dialog; not GTK3's (that pulls GTK, cairo, pango)
    "platformthemes": frozenset({"libqxdgdesktopportal.so"}),
    "platforminputcontexts": None,  # compose keys, IBus
    "imageformats": None,  # pasted and attached images
    "iconengines": None,
}

# Python modules reached only through code Parley never runs (httpx's command-line `httpx._main`
# imports click, rich, and through rich, markdown-it's plugins).
UNUSED_MODULES = ["httpx._main", "click", "rich"]

Entry = tuple[str, str, str]  # PyInstaller TOC entry: (dest name, source path, type code)


def keep_plugin(dest: str) -> bool:
    parts = PurePosixPath(dest).parts
    if parts[:3] != ("PySide6", "Qt", "plugins") or len(parts) < 5:
        return True
    wanted = KEEP_PLUGINS.get(parts[3], frozenset())
    return wanted is None or parts[-1] in wanted


def _is_root(entry: Entry) -> bool:
    dest, _src, kind = entry
    return (
        kind == "EXTENSION"
        or dest.startswith("PySide6/Qt/plugins/")
        or PurePosixPath(dest).name.startswith("libpython")
    )


def _too_new(needs_glibc: tuple[int, ...] | None) -> bool:
    return needs_glibc is not None and needs_glibc > GLIBC_FLOOR


def prune_binaries(binaries: Iterable[Entry], log: list[str] | None = None) -> list[Entry]:
    """The binaries the Linux build ships: the plugins kept, and what they and the Python
    extension modules reach, less what must come from the system."""
    entries = [e for e in binaries if keep_plugin(e[0])]
    by_name: dict[str, list[Entry]] = {}
    for e in entries:
        by_name.setdefault(PurePosixPath(e[0]).name, []).append(e)
    dropped: set[str] = set()
    for e in entries:
        name = PurePosixPath(e[0]).name
        if name in ALWAYS_FROM_SYSTEM or (not _is_root(e) and name.startswith(SYSTEM_PREFIXES)):
            dropped.add(name)
            continue
        needs = read_needs(Path(e[1]))
        if needs and not _is_root(e) and _too_new(needs.max_version("GLIBC_")):
            dropped.add(name)
    kept: set[str] = set()
    todo = [e for e in entries if _is_root(e)]
    while todo:
        e = todo.pop()
        if e[0] in kept:
            continue
        kept.add(e[0])
        needs = read_needs(Path(e[1]))
        for soname in needs.needed if needs else ():
            if soname not in dropped:
                todo.extend(by_name.get(soname, []))
    result = [e for e in entries if e[0] in kept]
    if log is not None:
        log.extend(sorted(f"dropped {e[0]}" for e in binaries if e[0] not in kept))
    return result


def prune_datas(datas: Iterable[Entry], binaries: Iterable[Entry]) -> list[Entry]:
    """Data files less Qt's translations, unused distributions' metadata, and symlinks to
    libraries no longer shipped."""
    shipped = {e[0] for e in binaries}
    result = []
    for e in datas:
        dest, src, kind = e
        if dest.startswith("PySide6/Qt/translations/"):
            continue
        if dest.split("-")[0] in UNUSED_MODULES and ".dist-info/" in dest:
            continue
        if kind == "SYMLINK" and src not in shipped:
            continue
        result.append(e)
    return result


# -- after the build ---------------------------------------------------------------------------

# Lower bounds in the .deb's Depends, where the soname alone does not say enough.
DEB_VERSION_FLOORS = {
    "libc6": f">= {GLIBC_FLOOR[0]}.{GLIBC_FLOOR[1]}",
    "libstdc++6": ">= 12",
}


def scan(root: Path) -> tuple[list[str], set[str]]:
    """(problems, sonames needed from the system) for a built folder: every ELF file's glibc
    and libstdc++ symbol versions against the floors, and no bundled libstdc++/libgcc_s."""
    from elf import elf_files

    problems: list[str] = []
    bundled: set[str] = set()
    needed: set[str] = set()
    for path in elf_files(root):
        bundled.add(path.name)
        if path.name in ALWAYS_FROM_SYSTEM:
            problems.append(f"{path.relative_to(root)} is bundled; it must come from the system")
        needs = read_needs(path)
        if needs is None:
            continue
        needed.update(needs.needed)
        for prefix, floor in (("GLIBC_", GLIBC_FLOOR), ("GLIBCXX_", GLIBCXX_FLOOR)):
            found = needs.max_version(prefix)
            if found and found > floor:
                problems.append(
                    f"{path.relative_to(root)} needs {prefix}{'.'.join(map(str, found))}, "
                    f"above the floor {'.'.join(map(str, floor))}"
                )
    # Symlinked names (libQt6Core.so.6 at the top) count as bundled too.
    bundled.update(p.name for p in root.rglob("*") if p.is_symlink())
    return problems, needed - bundled


def debian_depends(sonames: set[str]) -> str:
    """The Depends line for these sonames: the Debian packages that provide them here."""
    import subprocess

    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    paths: dict[str, str] = {}
    for line in cache.splitlines():
        name, _, path = line.strip().partition(" => ")
        soname = name.split(" ")[0]
        if soname in sonames:  # the native library is listed first
            paths.setdefault(soname, path.strip())
    packages: set[str] = set()
    missing = sorted(sonames - set(paths))
    for soname, path in sorted(paths.items()):
        real = str(Path(path).resolve())
        out = ""
        for candidate in (path, real, real.replace("/usr/lib/", "/lib/", 1)):
            result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if result.returncode == 0:
                out = result.stdout
                break
        if not out:
            missing.append(soname)
            continue
        packages.add(out.split(":")[0].strip())
    if missing:
        raise SystemExit(f"no Debian package found for: {', '.join(missing)}")
    return ", ".join(
        f"{p} ({DEB_VERSION_FLOORS[p]})" if p in DEB_VERSION_FLOORS else p for p in sorted(packages)
    )


if __name__ == "__main__":
    # python packaging/bundle.py check DIR     the floors; exit 1 with the problems
    # python packaging/bundle.py depends DIR   the .deb's Depends line
    command, folder = sys.argv[1], Path(sys.argv[2])
    found_problems, from_system = scan(folder)
    if command == "check":
        floor = ".".join(map(str, GLIBC_FLOOR))
        print("\n".join(found_problems) or f"ok: no bundled file needs more than glibc {floor}")
        raise SystemExit(1 if found_problems else 0)
    print(debian_depends(from_system))

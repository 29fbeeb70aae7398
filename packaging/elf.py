"""What a Linux ELF file needs from the system: its DT_NEEDED libraries and symbol versions.

Reads the section headers, the dynamic section and `.gnu.version_r` directly (standard library
only), so the spec, `scripts/package.sh` and the tests need no binutils. Both byte orders and
both classes are read; anything that is not ELF gives `None`.

    python packaging/elf.py DIR      # every ELF file under DIR with what it needs
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

_SHT_DYNAMIC = 6
_SHT_GNU_VERNEED = 0x6FFFFFFE
_DT_NEEDED = 1


@dataclass(frozen=True)
class ElfNeeds:
    needed: tuple[str, ...]  # sonames, in DT_NEEDED order
    # Version names required, by the library they are required from: {"libc.so.6": {"GLIBC_2.34"}}
    versions: dict[str, frozenset[str]] = field(default_factory=dict)

    def max_version(self, prefix: str) -> tuple[int, ...] | None:
        """The highest `PREFIX_x.y[.z]` version required (from any library), or None."""
        found = [
            parse_version(name[len(prefix) :])
            for names in self.versions.values()
            for name in names
            if name.startswith(prefix)
        ]
        found = [v for v in found if v]
        return max(found) if found else None


def parse_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def read_needs(path: Path) -> ElfNeeds | None:
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        sh_fmt = end + "IIQQQQIIQQ"
    else:
        (shoff,) = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        sh_fmt = end + "IIIIIIIIII"
    sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)

    def string(table: int, offset: int) -> str:
        start = sections[table][4] + offset
        stop = data.index(b"\0", start)
        return data[start:stop].decode("ascii", "replace")

    needed: list[str] = []
    versions: dict[str, set[str]] = {}
    for _name, sh_type, _f, _a, offset, size, link, info, _al, _es in sections:
        if sh_type == _SHT_DYNAMIC:
            fmt, step = (end + "qQ", 16) if is64 else (end + "iI", 8)
            for pos in range(offset, offset + size, step):
                tag, value = struct.unpack_from(fmt, data, pos)
                if tag == 0:
                    break
                if tag == _DT_NEEDED:
                    needed.append(string(link, value))
        elif sh_type == _SHT_GNU_VERNEED:
            pos = offset
            for _ in range(info):  # Elf_Verneed entries
                _ver, cnt, file_off, aux, nxt = struct.unpack_from(end + "HHIII", data, pos)
                library = string(link, file_off)
                apos = pos + aux
                for _ in range(cnt):  # Elf_Vernaux entries
                    _hash, _flags, _other, name_off, anext = struct.unpack_from(
                        end + "IHHII", data, apos
                    )
                    versions.setdefault(library, set()).add(string(link, name_off))
                    apos += anext
                pos += nxt
    return ElfNeeds(tuple(needed), {lib: frozenset(v) for lib, v in versions.items()})


def elf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))


if __name__ == "__main__":
    for file in elf_files(Path(sys.argv[1])):
        needs = read_needs(file)
        if needs is None:
            continue
        glibc = needs.max_version("GLIBC_")
        print(
            file.relative_to(sys.argv[1]),
            "GLIBC_" + ".".join(map(str, glibc)) if glibc else "-",
            " ".join(needs.needed),
        )

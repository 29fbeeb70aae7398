"""Run a command with a read-only folder or a small, full disk: in a private mount namespace
(`unshare -rm`, no root needed where user namespaces are allowed), so nothing outside the
command sees the mounts. Tests skip where that is not possible."""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest


@functools.cache
def private_mounts_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


def require_private_mounts() -> None:
    if not private_mounts_available():
        pytest.skip("needs `unshare -rm` (user and mount namespaces) to mount a test disk")


def read_only(folder: Path) -> str:
    """Shell lines that make `folder` read-only (a read-only bind mount over itself)."""
    return f"mount --bind '{folder}' '{folder}' && mount -o remount,ro,bind '{folder}'"


def small_disk(folder: Path, size_kb: int) -> str:
    """Shell lines that put an empty tmpfs of `size_kb` KiB over `folder`."""
    return f"mount -t tmpfs -o size={size_kb}k tmpfs '{folder}'"


def run_mounted(
    setup: str, script: str, *, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the shell `script` after `setup` (mount lines) in a private mount namespace."""
    require_private_mounts()
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"set -e; {setup}; {script}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def shell_quote(args: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in args)

"""Where Parley keeps its files: the platform's data folder, or $PARLEY_HOME if set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from parley.core.protocol.errors import ErrorKind, ParleyError

APP_NAME = "Parley"


class DataDirError(ParleyError):
    """The data folder cannot be used (PARLEY_HOME is a file or under one, no permission)."""

    def __init__(self, path: Path, reason: str) -> None:
        origin = "PARLEY_HOME" if os.environ.get("PARLEY_HOME") else "Parley's data folder"
        super().__init__(
            ErrorKind.CONFIG,
            f"{origin} is {path}, which {reason}. Point PARLEY_HOME at a folder Parley may "
            "write to (or unset it).",
        )
        self.path = path


def data_dir() -> Path:
    """The folder for the database, settings and user provider files (created on demand).

    Raises DataDirError when it is a file, under a file, or cannot be created.
    """
    home = os.environ.get("PARLEY_HOME")
    path = Path(home) if home else _platform_data_dir()
    if path.is_dir():
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        where = "is a file" if blocker == path else f"is inside {blocker}, a file"
        raise DataDirError(path, f"{where}, not a folder") from None
    except OSError as exc:
        raise DataDirError(path, f"cannot be created ({exc.strerror or exc})") from None
    return path


def _platform_data_dir() -> Path:
    if sys.platform.startswith("linux"):
        # platformdirs' answer on Linux, without importing it before the window shows.
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        return Path(xdg or os.path.expanduser("~/.local/share")) / APP_NAME
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_providers_dir() -> Path:
    return data_dir() / "providers"


def database_path() -> Path:
    return data_dir() / "parley.sqlite3"


def settings_path() -> Path:
    return data_dir() / "settings.json"


def provider_cache_path() -> Path:
    """Where parsed provider files are kept between starts (see `catalog.ParseCache`)."""
    return data_dir() / "cache" / "providers.json"


def resources_dir() -> Path:
    """Parley's resources (provider files, icons): `resources/` in a checkout, packaged in
    `parley/resources` otherwise."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[4] / "resources",  # checkout: desktop/parley/core/app/paths.py
        here.parents[2] / "resources",  # wheel: parley/resources
    ):
        if (candidate / "providers").is_dir():
            return candidate
    return here.parents[2] / "resources"

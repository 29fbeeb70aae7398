"""Where Parley keeps its files: the platform's data folder, or $PARLEY_HOME if set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "Parley"


def data_dir() -> Path:
    """The folder for the database, settings and user provider files (created on demand)."""
    home = os.environ.get("PARLEY_HOME")
    path = Path(home) if home else _platform_data_dir()
    path.mkdir(parents=True, exist_ok=True)
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
        here.parents[3] / "resources",  # checkout: desktop/parley/core/paths.py
        here.parents[1] / "resources",  # wheel: parley/resources
    ):
        if (candidate / "providers").is_dir():
            return candidate
    return here.parents[1] / "resources"

"""Where Parley keeps its files: the platform's data folder, or $PARLEY_HOME if set."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Parley"


def data_dir() -> Path:
    """The folder for the database, settings and user provider files (created on demand)."""
    home = os.environ.get("PARLEY_HOME")
    path = Path(home) if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_providers_dir() -> Path:
    return data_dir() / "providers"


def database_path() -> Path:
    return data_dir() / "parley.sqlite3"


def settings_path() -> Path:
    return data_dir() / "settings.json"

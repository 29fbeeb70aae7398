"""What the window shows in its first frame, read as plain data (standard library only).

The window appears before pydantic, the provider catalog, the settings model and the history
store are loaded (they load right after, in a worker thread; see `parley.ui.boot`). For that first
frame this module reads, tolerantly and read-only, the few things the frame needs: the theme, font
size and send key, the last provider and model, whether the parameter panel is open, and the first
page of conversations. Anything unreadable here falls back to a default: the full load that follows
reads the same files properly and is the one that reports problems.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

from parley.core.app import paths

# The history's schema version this reads (importing `parley.core.store` would load pydantic;
# a test keeps this equal to `parley.core.store.LATEST_VERSION`).
SCHEMA_VERSION = 5

THEMES = ("system", "light", "dark")
SEND_KEYS = ("enter", "ctrl_enter")


class BootConversation(NamedTuple):
    id: int
    title: str
    pinned: bool
    updated_at: float | None
    model: str = ""


class BootState(NamedTuple):
    theme: str = "system"
    font_size: int = 11
    send_key: str = "enter"
    panel_visible: bool = True
    first_run_done: bool = False
    provider_id: str | None = None
    provider_name: str | None = None
    model: str | None = None
    conversations: tuple[BootConversation, ...] = ()


def read_boot_state(limit: int = 50) -> BootState:
    """The first frame's settings and conversations; never raises."""
    try:
        paths.data_dir()
    except OSError:
        return BootState()
    settings = _read_json(paths.settings_path())
    provider_id = _str(settings.get("last_provider"))
    models = settings.get("models")
    model = _str(settings.get("last_model"))
    if model is None and provider_id and isinstance(models, dict):
        model = _str(models.get(provider_id))
    font_size = settings.get("font_size")
    return BootState(
        theme=_choice(settings.get("theme"), THEMES),
        font_size=font_size if type(font_size) is int and 8 <= font_size <= 32 else 11,
        send_key=_choice(settings.get("send_key"), SEND_KEYS),
        panel_visible=settings.get("panel_visible") is not False,
        first_run_done=settings.get("first_run_done") is True,
        provider_id=provider_id,
        provider_name=_provider_name(provider_id),
        model=model,
        conversations=read_conversations(paths.database_path(), limit),
    )


def read_conversations(db: Path, limit: int) -> tuple[BootConversation, ...]:
    """Pinned first, then the most recently active, as the sidebar lists them; [] when the file
    is missing, locked, damaged or at another schema version (the store's full open handles it)."""
    if not db.is_file():
        return ()
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.05)
    except sqlite3.Error:
        return ()
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return ()
        rows = conn.execute(
            "SELECT id, title, pinned, updated_at, model FROM conversations "
            "WHERE deleted_at IS NULL "
            "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
    except sqlite3.Error:
        return ()
    finally:
        conn.close()
    return tuple(
        BootConversation(
            int(i), str(t or "New chat"), bool(p), float(u) if u is not None else None, str(m or "")
        )
        for i, t, p, u, m in rows
    )


def _provider_name(provider_id: str | None) -> str | None:
    """The provider's display name from the parsed-file cache the catalog keeps."""
    if not provider_id:
        return None
    files = _read_json(paths.provider_cache_path()).get("files")
    if isinstance(files, dict):
        for entry in files.values():
            if isinstance(entry, dict) and entry.get("id") == provider_id:
                return _str(entry.get("name"))
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else allowed[0]

"""The first frame's plain-data read of settings and conversations (parley.core.app.bootstate)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from parley.core.app import bootstate
from parley.core.app.bootstate import BootState, read_boot_state, read_conversations
from parley.core.app.paths import provider_cache_path
from parley.core.app.settings import Settings, save_settings
from parley.core.providers.catalog import load_catalog
from parley.core.store import LATEST_VERSION, Store


def test_the_schema_version_it_reads_is_the_stores() -> None:
    assert bootstate.SCHEMA_VERSION == LATEST_VERSION


def test_a_fresh_data_folder_gives_the_defaults_and_creates_no_history(
    parley_home: Path,
) -> None:
    state = read_boot_state()
    assert state == BootState()
    assert not (parley_home / "parley.sqlite3").exists()


def test_settings_saved_by_the_app_are_read_back(parley_home: Path) -> None:
    save_settings(
        Settings(
            theme="dark",
            font_size=14,
            send_key="ctrl_enter",
            panel_visible=False,
            first_run_done=True,
            last_provider="eurouter",
            last_model="openai/gpt-4o",
        )
    )
    state = read_boot_state()
    assert (state.theme, state.font_size, state.send_key) == ("dark", 14, "ctrl_enter")
    assert state.panel_visible is False and state.first_run_done is True
    assert (state.provider_id, state.model) == ("eurouter", "openai/gpt-4o")
    assert state.provider_name is None  # no parsed provider files cached yet


def test_the_provider_name_comes_from_the_catalogs_parse_cache(parley_home: Path) -> None:
    load_catalog(cache_path=provider_cache_path())
    save_settings(Settings(last_provider="euri"))
    assert read_boot_state().provider_name == "Euron EURI"


def test_the_model_falls_back_to_the_one_remembered_for_the_provider(parley_home: Path) -> None:
    save_settings(Settings(last_provider="nordlys", models={"nordlys": "nordlys/hypernova"}))
    assert read_boot_state().model == "nordlys/hypernova"


def test_values_out_of_range_or_of_the_wrong_type_fall_back_to_defaults(
    parley_home: Path,
) -> None:
    parley_home.mkdir(parents=True, exist_ok=True)
    (parley_home / "settings.json").write_text(
        json.dumps(
            {
                "theme": "purple",
                "font_size": 100,
                "send_key": 3,
                "panel_visible": "no",
                "last_provider": ["x"],
                "first_run_done": "yes",
            }
        ),
        encoding="utf-8",
    )
    state = read_boot_state()
    assert state.theme == "system" and state.font_size == 11 and state.send_key == "enter"
    assert state.panel_visible is True  # only an explicit false hides the panel
    assert state.provider_id is None and state.first_run_done is False


def test_a_settings_file_that_is_not_json_gives_the_defaults(parley_home: Path) -> None:
    parley_home.mkdir(parents=True, exist_ok=True)
    (parley_home / "settings.json").write_bytes(b"\xff{not json")
    assert read_boot_state() == BootState()


def test_conversations_are_listed_as_the_sidebar_lists_them(parley_home: Path) -> None:
    store = Store.open()
    ids = [store.create_conversation(title=f"chat {i}") for i in range(6)]
    store.set_pinned(ids[0], True)
    store.delete_conversation(ids[3])
    untitled = store.create_conversation()
    store.close()

    rows = read_boot_state(limit=4).conversations
    assert [r.id for r in rows] == [ids[0], untitled, ids[5], ids[4]]
    assert rows[0].pinned and not any(r.pinned for r in rows[1:])
    assert rows[1].title == "New chat"
    assert all(r.updated_at for r in rows)
    assert ids[3] not in [r.id for r in read_boot_state(limit=50).conversations]


def test_a_history_it_cannot_read_gives_no_rows_and_is_left_alone(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is not a database" * 100)
    assert read_conversations(damaged, 10) == ()
    assert damaged.read_bytes() == b"this is not a database" * 100

    older = tmp_path / "older.sqlite3"
    conn = sqlite3.connect(older)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION - 1}")
    conn.close()
    assert read_conversations(older, 10) == ()  # the store migrates it on the full open

    assert read_conversations(tmp_path / "missing.sqlite3", 10) == ()
    assert not (tmp_path / "missing.sqlite3").exists()

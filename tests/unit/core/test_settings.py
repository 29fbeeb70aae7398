"""Settings: defaults, validation, atomic save, broken files set aside, migrations, no keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from parley.core.app import paths
from parley.core.app.settings import (
    SCHEMA_VERSION,
    Preset,
    Settings,
    load_settings,
    looks_like_secret_name,
    migrate,
    save_settings,
)

KEY = "sk-live-0123456789abcdefghijWXYZ"


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def set_aside(folder: Path, marker: str = ".bad-") -> list[Path]:
    return sorted(p for p in folder.iterdir() if marker in p.name)


def full_settings() -> Settings:
    return Settings(
        theme="dark",
        send_key="ctrl_enter",
        font_size=14,
        proxy="http://proxy.local:3128",
        last_provider="eurouter",
        last_model="mistral-small",
        base_urls={"adaptive-engine": "https://ae.example.com/api/v1/"},
        models={"euri": "gpt-4.1-nano", "nordlys": "nordlys/hypernova"},
        presets={
            "precise": Preset(params={"temperature": 0, "max_tokens": 256}, provider="euri"),
            "wild": Preset(params={"temperature": 1.5}, advanced={"provider": {"sort": "price"}}),
        },
        first_run_done=True,
        panel_visible=False,
    )


# -- defaults, round trip, atomic save ----------------------------------------------------------


def test_missing_file_gives_defaults_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    s = load_settings(path)
    assert s == Settings()
    assert s.problems == []
    assert (s.theme, s.send_key, s.font_size, s.proxy) == ("system", "enter", 11, None)
    assert s.schema_version == SCHEMA_VERSION
    assert not path.exists()


def test_save_and_load_round_trip_every_field(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = full_settings()
    assert save_settings(original, path) == path
    loaded = load_settings(path)
    assert loaded == original
    assert loaded.problems == []
    assert loaded.base_urls == {"adaptive-engine": "https://ae.example.com/api/v1"}
    assert loaded.presets["precise"].params == {"temperature": 0, "max_tokens": 256}
    on_disk = json.loads(path.read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION
    assert on_disk["presets"]["wild"]["advanced"] == {"provider": {"sort": "price"}}


def test_default_path_is_under_parley_home(parley_home: Path) -> None:
    save_settings(Settings(theme="light"))
    assert paths.settings_path() == parley_home / "settings.json"
    assert json.loads((parley_home / "settings.json").read_text())["theme"] == "light"
    assert load_settings().theme == "light"


def test_save_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(font_size=9), path)
    save_settings(Settings(font_size=20), path)
    assert load_settings(path).font_size == 20
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_failed_save_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.mkdir()  # os.replace onto a directory fails after the temp file is written
    with pytest.raises(OSError):
        save_settings(Settings(font_size=20), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    assert list(target.iterdir()) == []


def test_assignment_is_validated() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.font_size = 100
    with pytest.raises(ValidationError):
        s.theme = "blue"  # type: ignore[assignment]
    s.font_size = 32
    assert s.font_size == 32


@pytest.mark.parametrize(("size", "ok"), [(7, False), (8, True), (32, True), (33, False)])
def test_font_size_range(size: int, ok: bool) -> None:
    if ok:
        assert Settings(font_size=size).font_size == size
    else:
        with pytest.raises(ValidationError, match="font_size"):
            Settings(font_size=size)


@pytest.mark.parametrize("send_key", ["enter", "ctrl_enter"])
def test_send_key_choices(send_key: str) -> None:
    assert Settings.model_validate({"send_key": send_key}).send_key == send_key
    with pytest.raises(ValidationError):
        Settings.model_validate({"send_key": "shift_enter"})


# -- proxy and base URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("http://proxy.local:3128", "http://proxy.local:3128"),
        ("  https://proxy.example.com ", "https://proxy.example.com"),
        ("socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080"),
        ("", None),
        (None, None),
    ],
)
def test_valid_proxies(given: str | None, stored: str | None) -> None:
    assert Settings(proxy=given).proxy == stored


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("proxy.local:3128", "must start with"),
        ("ftp://proxy.local", "must start with"),
        ("http://", "needs a host name"),
        ("http://proxy.local:99999", "invalid port"),
        ("http://proxy .local", "without spaces"),
        ("http://bob:hunter2@proxy.local:3128", "user name or password"),
    ],
)
def test_invalid_proxies_get_a_readable_message(given: str, complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(proxy=given)
    assert complaint in str(caught.value)
    assert "The proxy" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://ae.example.com/api/v1", "must start with"),
        ("ae.example.com/api/v1", "must start with"),
        ("https://me:secret@ae.example.com/api/v1", "user name or password"),
        (f"https://ae.example.com/api/v1?api_key={KEY}", "query string"),
    ],
)
def test_invalid_base_urls(url: str, complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(base_urls={"adaptive-engine": url, "euri": "https://api.euron.one/api/v1/euri"})
    (error,) = caught.value.errors()
    assert error["loc"] == ("base_urls", "adaptive-engine")
    assert complaint in error["msg"]
    assert "A base URL" in error["msg"]


def test_base_url_keeps_harmless_query_and_port() -> None:
    url = "http://localhost:11434/v1?api-version=2024-10-21"
    assert Settings(base_urls={"ollama": url}).base_urls["ollama"] == url


# -- no place for keys --------------------------------------------------------------------------


def test_no_field_of_the_schema_is_named_like_a_key() -> None:
    for model in (Settings, Preset):
        for name in model.model_fields:
            assert not looks_like_secret_name(name), f"{model.__name__}.{name}"


@pytest.mark.parametrize(
    "name",
    ["api_key", "apiKey", "X-API-Key", "key", "token", "access_token", "Authorization", "secret"],
)
def test_key_names_are_recognised(name: str) -> None:
    assert looks_like_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["max_tokens", "max_completion_tokens", "stop_token_ids", "prompt_cache_key", "top_k", "seed"],
)
def test_parameter_names_are_not_mistaken_for_keys(name: str) -> None:
    assert not looks_like_secret_name(name)
    assert Preset(params={name: 1}).params == {name: 1}


@pytest.mark.parametrize(
    "preset",
    [
        {"params": {"api_key": KEY}},
        {"params": {"temperature": 0.2, "user": KEY}},
        {"advanced": {"extra_headers": {"Authorization": f"Bearer {KEY}"}}},
        {"advanced": {"headers": [{"X-API-Key": "abc"}]}},
        {"advanced": {"note": f"Bearer {KEY}"}},
    ],
)
def test_presets_refuse_anything_that_looks_like_a_key(preset: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        Preset.model_validate(preset)
    text = str(caught.value.errors(include_input=False))
    assert "looks like an API key" in text
    assert KEY not in text


def test_json_schema_field_names_are_data_not_keys() -> None:
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "login",
            "schema": {
                "type": "object",
                "properties": {"token": {"type": "string"}, "password": {"type": "string"}},
                "$defs": {"api_key": {"type": "string"}},
            },
        },
    }
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"properties": {"secret": {"type": "string"}}}},
    }
    preset = Preset(params={"response_format": schema, "tools": [tool]})
    assert preset.params["response_format"] == schema
    with pytest.raises(ValidationError):  # values are still checked inside schemas
        Preset(params={"response_format": {"properties": {"x": {"default": f"Bearer {KEY}"}}}})


@pytest.mark.parametrize(
    "value",
    [
        "api-llama-3-1-70b-instruct-long",
        "sk-short",
        "skyline-model-2024-large-v1",
        "risky-business",
    ],
)
def test_model_names_are_not_mistaken_for_keys(value: str) -> None:
    s = Settings(last_model=value, models={"euri": value})
    assert s.last_model == value
    assert Preset(params={"model": value}).params["model"] == value


@pytest.mark.parametrize("value", [KEY, "sk_0123456789abcdefghijkl", f"Bearer {KEY}"])
def test_key_shaped_values_are_refused_anywhere(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(last_model=value)
    with pytest.raises(ValidationError):
        Settings(models={"euri": value})
    with pytest.raises(ValidationError):
        Preset(advanced={"metadata": {"note": value}})


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"api_key": KEY})
    with pytest.raises(ValidationError):
        Settings.model_validate({"keys": {"euri": KEY}})


def test_save_refuses_a_key_smuggled_into_a_nested_dict(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(theme="dark"), path)
    s = Settings(presets={"p": Preset(params={"temperature": 1})})
    s.presets["p"].params["api_key"] = KEY  # dict mutation bypasses validate_assignment
    with pytest.raises(ValueError, match="looks like an API key"):
        save_settings(s, path)
    assert KEY not in path.read_text()
    assert load_settings(path).theme == "dark"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_a_key_in_the_file_is_dropped_and_not_repeated_in_the_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path / "settings.json",
        {
            "schema_version": 1,
            "theme": "dark",
            "api_key": KEY,
            "presets": {"ok": {"params": {"seed": 7}}, "leaky": {"params": {"api_key": KEY}}},
        },
    )
    s = load_settings(path)
    assert s.theme == "dark"
    assert list(s.presets) == ["ok"]
    assert not hasattr(s, "api_key")
    assert KEY not in json.dumps(s.model_dump())
    assert len(s.problems) == 1
    assert KEY not in s.problems[0]
    assert "api_key" in s.problems[0]
    save_settings(s, path)
    assert KEY not in path.read_text()


# -- broken files never crash, and are kept -----------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b'{"theme": "dark",',  # cut short
        b"[1, 2, 3]",  # not an object
        b"\xff\xfe\x00garbage",  # not UTF-8
        b"",  # empty
        b"null",
    ],
)
def test_corrupt_file_gives_defaults_and_is_moved_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    s = load_settings(path)
    assert s == Settings()
    assert not path.exists()
    (moved,) = set_aside(tmp_path)
    assert moved.name.startswith("settings.json.bad-")
    assert moved.read_bytes() == content
    assert len(s.problems) == 1
    assert moved.name in s.problems[0]
    assert "default settings" in s.problems[0]


def test_invalid_values_are_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    data = {
        "schema_version": 1,
        "theme": "dark",
        "font_size": 99,
        "proxy": "not a url",
        "base_urls": {"euri": "https://api.euron.one/api/v1/euri", "bad": "ftp://x"},
        "presets": {"a": {"params": {"temperature": 0.1}}, "b": {"params": [1]}},
        "last_provider": "euri",
    }
    path = write(tmp_path / "settings.json", data)
    s = load_settings(path)
    assert s.theme == "dark"
    assert s.font_size == 11
    assert s.proxy is None
    assert s.base_urls == {"euri": "https://api.euron.one/api/v1/euri"}
    assert list(s.presets) == ["a"]
    assert s.last_provider == "euri"
    (moved,) = set_aside(tmp_path)
    assert json.loads(moved.read_text()) == data
    problem = s.problems[0]
    assert "font_size" in problem
    assert "proxy" in problem
    assert "the settings that could be read" in problem


def test_two_broken_files_in_the_same_second_are_both_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{broken one")
    load_settings(path)
    path.write_text("{broken two")
    load_settings(path)
    kept = sorted(p.read_text() for p in set_aside(tmp_path))
    assert kept == ["{broken one", "{broken two"]


def test_unreadable_settings_path_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.mkdir()
    s = load_settings(path)
    assert s == Settings()
    assert "could not read" in s.problems[0]
    assert path.is_dir()


@hyp_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=200))
def test_any_bytes_load_without_raising(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz" / "settings.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    assert isinstance(load_settings(path), Settings)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@hyp_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.dictionaries(
        st.sampled_from([*Settings.model_fields, "extra"]), json_values, max_size=6
    )
)
def test_any_json_object_loads_and_what_loads_saves(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "fuzz-json" / "settings.json"
    write(path, data)
    s = load_settings(path)
    save_settings(s, path)
    assert load_settings(path) == s


# -- schema versions ----------------------------------------------------------------------------


def test_a_version_0_file_is_migrated(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.json", {"theme": "light", "font_size": 13})
    s = load_settings(path)
    assert (s.schema_version, s.theme, s.font_size) == (SCHEMA_VERSION, "light", 13)
    assert s.problems == []
    assert set_aside(tmp_path) == []


def test_migrations_run_in_order_up_to_the_target() -> None:
    seen: list[int] = []

    def v0(d: dict[str, Any]) -> dict[str, Any]:
        seen.append(0)
        return {**d, "schema_version": 1, "theme": {"auto": "system"}.get(d["theme"], d["theme"])}

    def v1(d: dict[str, Any]) -> dict[str, Any]:
        seen.append(1)
        send_key = d.pop("send_with", "enter")
        return {**d, "schema_version": 2, "send_key": send_key}

    out = migrate({"theme": "auto", "send_with": "ctrl_enter"}, {0: v0, 1: v1}, target=2)
    assert out == {"schema_version": 2, "theme": "system", "send_key": "ctrl_enter"}
    assert seen == [0, 1]
    assert migrate({"schema_version": 2}, {0: v0, 1: v1}, target=2) == {"schema_version": 2}
    with pytest.raises(ValueError, match="no migration from settings version 1"):
        migrate({"schema_version": 1}, {0: v0}, target=2)


@pytest.mark.parametrize("version", ["1", -1, 1.5, True])
def test_a_nonsense_schema_version_sets_the_file_aside(tmp_path: Path, version: Any) -> None:
    path = write(tmp_path / "settings.json", {"schema_version": version, "theme": "dark"})
    s = load_settings(path)
    assert s == Settings()
    assert len(set_aside(tmp_path)) == 1
    assert "schema_version" in s.problems[0]


def test_a_newer_file_keeps_what_is_known_and_a_copy(tmp_path: Path) -> None:
    data = {"schema_version": 99, "theme": "dark", "hologram_mode": True}
    path = write(tmp_path / "settings.json", data)
    s = load_settings(path)
    assert s.theme == "dark"
    assert s.schema_version == SCHEMA_VERSION
    assert "newer Parley" in s.problems[0]
    assert json.loads(path.read_text()) == data  # left in place
    (copy,) = set_aside(tmp_path, ".v99-")
    assert json.loads(copy.read_text()) == data

"""The parse cache of provider files: the same catalog as without it, never a stale file, every
file still validated, and a broken or unwritable cache costs nothing but a parse."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from parley.core.providers.catalog import ParseCache, builtin_providers_dir, load_catalog

GOOD = """
id = "mine"
name = "My server"
base_url = "http://127.0.0.1:9999/v1"

[[params]]
name = "temperature"
type = "number"
help = "Sampling temperature."
min = 0
max = 2
"""


@pytest.fixture()
def user_dir(tmp_path: Path) -> Path:
    d = tmp_path / "providers"
    d.mkdir()
    (d / "mine.toml").write_text(GOOD, encoding="utf-8")
    return d


def test_the_cached_catalog_equals_the_parsed_one(tmp_path: Path, user_dir: Path) -> None:
    cache = tmp_path / "cache" / "providers.json"
    plain = load_catalog(user_dirs=[user_dir])
    first = load_catalog(user_dirs=[user_dir], cache_path=cache)  # fills the cache
    assert cache.is_file()
    second = load_catalog(user_dirs=[user_dir], cache_path=cache)  # reads it
    for loaded in (first, second):
        assert loaded.providers == plain.providers
        assert loaded.user_ids == plain.user_ids == {"mine"}
        assert [str(p) for p in loaded.problems] == [str(p) for p in plain.problems]
    # Same types all the way down (enums stay enums: the data is validated, not copied in).
    for pid, spec in second.providers.items():
        for got, want in zip(spec.params, plain.providers[pid].params, strict=True):
            assert type(got.type) is type(want.type)
            assert type(got.group) is type(want.group)
    stored = json.loads(cache.read_text(encoding="utf-8"))
    assert len(stored["files"]) == len(list(builtin_providers_dir().glob("*.toml"))) + 1


def test_the_cache_is_used_and_keyed_by_the_file_bytes(tmp_path: Path, user_dir: Path) -> None:
    cache = tmp_path / "providers.json"
    load_catalog(builtin_dir=tmp_path / "none", user_dirs=[user_dir], cache_path=cache)
    stored = json.loads(cache.read_text(encoding="utf-8"))
    (digest,) = stored["files"]
    stored["files"][digest]["name"] = "Name from the cache"
    cache.write_text(json.dumps(stored), encoding="utf-8")
    loaded = load_catalog(builtin_dir=tmp_path / "none", user_dirs=[user_dir], cache_path=cache)
    assert loaded.providers["mine"].name == "Name from the cache"

    # An edit of the same size with the old modification time is still seen.
    path = user_dir / "mine.toml"
    before = path.stat()
    edited = GOOD.replace('"My server"', '"My SERVER"')
    assert len(edited) == len(GOOD)
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    loaded = load_catalog(builtin_dir=tmp_path / "none", user_dirs=[user_dir], cache_path=cache)
    assert loaded.providers["mine"].name == "My SERVER"
    stored = json.loads(cache.read_text(encoding="utf-8"))
    assert len(stored["files"]) == 1  # the old entry is dropped


def test_cached_files_are_still_validated(tmp_path: Path, user_dir: Path) -> None:
    (user_dir / "bad.toml").write_text(
        GOOD.replace('id = "mine"', 'id = "bad"').replace("max = 2", "max = -1"),
        encoding="utf-8",
    )
    cache = tmp_path / "providers.json"
    for _ in range(2):  # parsed, then from the cache
        loaded = load_catalog(user_dirs=[user_dir], cache_path=cache)
        assert "bad" not in loaded.providers
        (problem,) = loaded.problems
        assert problem.path.name == "bad.toml"
        assert "`min` is greater than `max`" in problem.message


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path, user_dir: Path) -> None:
    cache = tmp_path / "providers.json"
    cache.write_text("{not json", encoding="utf-8")
    loaded = load_catalog(user_dirs=[user_dir], cache_path=cache)
    assert "mine" in loaded.providers
    assert json.loads(cache.read_text(encoding="utf-8"))["version"] == ParseCache.VERSION

    cache.write_text(json.dumps({"version": ParseCache.VERSION, "files": []}), encoding="utf-8")
    assert "mine" in load_catalog(user_dirs=[user_dir], cache_path=cache).providers


def test_an_unwritable_cache_only_means_parsing(tmp_path: Path, user_dir: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    loaded = load_catalog(user_dirs=[user_dir], cache_path=blocker / "providers.json")
    assert "mine" in loaded.providers
    assert blocker.read_text(encoding="utf-8") == ""


def test_broken_toml_is_reported_and_not_cached(tmp_path: Path, user_dir: Path) -> None:
    (user_dir / "broken.toml").write_text('id = "x"\nname = ', encoding="utf-8")
    cache = tmp_path / "providers.json"
    for _ in range(2):
        loaded = load_catalog(builtin_dir=tmp_path / "none", user_dirs=[user_dir], cache_path=cache)
        (problem,) = loaded.problems
        assert problem.path.name == "broken.toml"
        assert "is not valid TOML" in problem.message
    assert len(json.loads(cache.read_text(encoding="utf-8"))["files"]) == 1


def test_crlf_files_parse_as_without_the_cache(tmp_path: Path) -> None:
    d = tmp_path / "providers"
    d.mkdir()
    text = GOOD.replace('help = "Sampling temperature."', 'help = """Line one\nline two"""')
    (d / "mine.toml").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    plain = load_catalog(builtin_dir=tmp_path / "none", user_dirs=[d])
    cached = load_catalog(
        builtin_dir=tmp_path / "none", user_dirs=[d], cache_path=tmp_path / "c.json"
    )
    assert plain.providers["mine"].params[0].help == "Line one\nline two"
    assert cached.providers == plain.providers

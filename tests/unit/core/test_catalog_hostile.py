"""Provider files and settings.json as an attacker or a clumsy user writes them: each broken
file is reported with its path and the reason, the others still load, nothing hangs."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from parley.core.app.settings import load_settings
from parley.core.protocol.limits import MAX_PATTERN_TEXT
from parley.core.providers.catalog import MAX_PARAMS, ParamSpec, load_catalog, load_provider_file
from parley.core.providers.params import validate_value

HEADER = 'id = "{id}"\nname = "Test {id}"\nbase_url = "http://127.0.0.1:1/v1"\n'
GOOD = HEADER.format(id="still-fine")


def provider_dir(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / "providers"
    folder.mkdir(exist_ok=True)
    (folder / "good.toml").write_text(GOOD)
    for name, body in files.items():
        target = folder / name
        if isinstance(body, bytes):
            target.write_bytes(body)
        else:
            target.write_text(body)
    return folder


def problems_for(folder: Path) -> dict[str, str]:
    catalog = load_catalog(user_dirs=[folder])
    assert catalog.get("still-fine") is not None, "a good file must load beside broken ones"
    return {p.path.name: str(p) for p in catalog.problems}


def nested_toml(levels: int, kind: str) -> str:
    if kind == "array":
        return HEADER.format(id="deep") + "description = 'x'\nx = " + "[" * levels + "]" * levels
    if kind == "inline":
        return HEADER.format(id="deep") + "x = " + "{a = " * levels + "1" + "}" * levels
    return HEADER.format(id="deep") + "[" + ".".join(["t"] * levels) + "]\n"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(levels=st.integers(1, 30_000), kind=st.sampled_from(["array", "inline", "table"]))
def test_nesting_of_any_depth_is_a_problem_not_a_crash(
    tmp_path: Path, levels: int, kind: str
) -> None:
    folder = provider_dir(tmp_path, {"deep.toml": nested_toml(levels, kind)})
    problems = problems_for(folder)
    assert "deep.toml" in problems  # too deep, or an unknown field: either way named
    assert str(folder / "deep.toml") in problems["deep.toml"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(min_size=1, max_size=300))
def test_random_bytes_are_a_problem_with_the_file_named(tmp_path: Path, junk: bytes) -> None:
    folder = provider_dir(tmp_path, {"junk.toml": HEADER.format(id="junk").encode() + junk})
    catalog = load_catalog(user_dirs=[folder])
    assert catalog.get("still-fine") is not None
    assert catalog.get("junk") is not None or any(
        p.path.name == "junk.toml" for p in catalog.problems
    )


def test_20000_parameters_are_refused_quickly_and_500_load(tmp_path: Path) -> None:
    def params(n: int) -> str:
        items = ",".join(f'{{name = "p{i}", type = "number", help = "h"}}' for i in range(n))
        return f"params = [{items}]\n"

    folder = provider_dir(
        tmp_path,
        {
            "many.toml": HEADER.format(id="many") + params(20_000),
            "enough.toml": HEADER.format(id="enough") + params(MAX_PARAMS),
        },
    )
    problems = problems_for(folder)
    assert "20,000 parameters" in problems["many.toml"]
    assert "enough.toml" not in problems


def test_a_link_to_dev_zero_a_pipe_and_a_huge_file_are_skipped(tmp_path: Path) -> None:
    folder = provider_dir(
        tmp_path, {"huge.toml": GOOD.replace("still-fine", "huge") + "#" * 2_000_000}
    )
    (folder / "zero.toml").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.toml")
    (folder / "folder.toml").mkdir()
    problems = problems_for(folder)
    assert "larger than 1 MB" in problems["huge.toml"]
    assert "not a regular file" in problems["zero.toml"]
    assert "not a regular file" in problems["pipe.toml"]
    assert "folder.toml" in problems


@pytest.mark.parametrize(
    "pattern",
    ["^(a+)+$", "(\\w*)*x", "^(a|aa)+$", "(x+x+)+y", "(.)\\1", "\\d+\\d+\\d+\\d+x", "(" * 600],
)
def test_patterns_that_can_backtrack_forever_are_refused(tmp_path: Path, pattern: str) -> None:
    body = HEADER.format(id="regex") + (
        f'[[params]]\nname = "s"\ntype = "string"\nhelp = "h"\npattern = {json.dumps(pattern)}\n'
    )
    folder = provider_dir(tmp_path, {"regex.toml": body})
    problem = problems_for(folder)["regex.toml"]
    assert "pattern" in problem


def test_safe_patterns_load_and_long_values_are_refused_before_matching() -> None:
    spec = ParamSpec(name="rid", type="string", help="h", pattern="^[0-9a-f]{8}(?:-[0-9a-f]{4})+$")
    assert validate_value(spec, "0123abcd-0000-1111") is None
    assert "too long" in (validate_value(spec, "0" * (MAX_PATTERN_TEXT + 1)) or "")


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(max_size=40))
def test_any_pattern_text_is_accepted_or_a_validation_error(pattern: str) -> None:
    with contextlib.suppress(ValidationError):  # anything else fails the test
        ParamSpec(name="s", type="string", help="h", pattern=pattern)


def test_the_real_loader_reports_the_path(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_bytes(b"\xff\xfe")
    problem = load_provider_file(tmp_path / "x.toml")
    assert not hasattr(problem, "id") and "UTF-8" in str(problem)


@pytest.mark.parametrize(
    "body",
    [
        '{"presets": ' + '{"a":' * 20_000 + "1" + "}" * 20_000 + "}",
        '{"presets": {"p": {"params": ' + "[" * 500 + "]" * 500 + "}}}",
        '{"font_size": ' + "9" * 5000 + "}",
        b"\xff\xfe\x00{",
        "[" * 100_000,
    ],
)
def test_hostile_settings_files_fall_back_to_defaults_and_say_why(
    tmp_path: Path, body: str | bytes
) -> None:
    path = tmp_path / "settings.json"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    loaded = load_settings(path)
    assert loaded.problems and "settings file" in loaded.problems[0]
    assert loaded.font_size == 11
    assert list(tmp_path.glob("settings.json.bad-*"))  # kept, not deleted


def test_a_settings_file_that_links_to_dev_zero_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.symlink_to("/dev/zero")
    loaded = load_settings(path)
    assert loaded.problems and "regular file" in loaded.problems[0]

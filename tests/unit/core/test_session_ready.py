"""`check_ready`: everything a first send would refuse, found before any history exists."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.chat.session import RunConfig, check_ready
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.providers.catalog import load_catalog

CATALOG = load_catalog()


def keys(pid: str) -> str | None:
    return "sk-test-key-0000" if pid != "eurouter" else None


def cfg(provider: str = "euri", **kw: Any) -> RunConfig:
    return RunConfig(provider=provider, model="gpt-4o-mini", **kw)


def test_a_good_request_passes(parley_home: Any) -> None:
    check_ready(CATALOG, keys, "Hello", cfg(params={"temperature": 0.5}))
    assert not parley_home.exists() or list(parley_home.iterdir()) == []


@pytest.mark.parametrize(
    ("prompt", "config", "kind", "words"),
    [
        ("", cfg(), ErrorKind.CONFIG, "nothing to send"),
        (" \n\t ", cfg(), ErrorKind.CONFIG, "nothing to send"),
        ("Hi", cfg("no-such-provider"), ErrorKind.CONFIG, "no-such-provider"),
        ("Hi", cfg(params={"nope": 1}), ErrorKind.CONFIG, "nope"),
        ("Hi", cfg(params={"temperature": 9}), ErrorKind.CONFIG, "temperature"),
        ("Hi", cfg(advanced={"x": float("inf")}), ErrorKind.CONFIG, "Advanced"),
        ("Hi", cfg("eurouter"), ErrorKind.CONFIG, "PARLEY_API_KEY_EUROUTER"),
    ],
)
def test_each_refusal_is_found_without_a_history(
    parley_home: Any, prompt: str, config: RunConfig, kind: ErrorKind, words: str
) -> None:
    with pytest.raises(ParleyError) as info:
        check_ready(CATALOG, keys, prompt, config)
    assert info.value.kind is kind and words in str(info.value)
    assert not (parley_home / "parley.sqlite3").exists()


@settings(max_examples=60, deadline=None)
@given(
    temperature=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5), st.none()
    )
)
def test_any_temperature_passes_or_is_a_config_error(temperature: Any) -> None:
    params = {} if temperature is None else {"temperature": temperature}
    try:
        check_ready(CATALOG, keys, "Hi", cfg(params=params))
    except ParleyError as err:
        assert err.kind is ErrorKind.CONFIG and "emperature" in err.message

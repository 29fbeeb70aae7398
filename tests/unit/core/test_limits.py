"""Bounded reading: any nesting depth, any size, any bytes give a value or a LimitError /
ValueError, never a RecursionError or a hang."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.protocol.limits import (
    MAX_DEPTH,
    LimitError,
    check_depth,
    depth,
    finite_numbers,
    loads_json,
    read_capped,
)


def nested(levels: int, kind: str = "list") -> str:
    if kind == "list":
        return "[" * levels + "]" * levels
    return '{"a":' * levels + "1" + "}" * levels


@settings(max_examples=60, deadline=None)
@given(levels=st.integers(1, 200_000), kind=st.sampled_from(["list", "object"]))
def test_any_nesting_depth_parses_or_is_refused_by_depth(levels: int, kind: str) -> None:
    text = nested(levels, kind)
    if levels <= MAX_DEPTH:
        assert depth(loads_json(text)) == levels
    else:
        with pytest.raises(LimitError, match="nested more than"):
            loads_json(text, "The file")


@settings(max_examples=40, deadline=None)
@given(digits=st.integers(1, 20_000))
def test_numbers_of_any_length_parse_or_are_refused(digits: int) -> None:
    text = json.dumps({"n": 0}).replace("0", "9" * digits)
    try:
        assert loads_json(text)["n"] == int("9" * digits)
    except LimitError as err:
        assert "thousands of digits" in str(err) and digits > 4000
    except ValueError:  # int() itself refuses as well
        assert digits > 4000


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_random_bytes_are_json_or_a_value_error(raw: bytes) -> None:
    with contextlib.suppress(ValueError):  # anything else (RecursionError, ...) fails
        loads_json(raw)


def test_nan_and_infinity_are_refused_unless_allowed() -> None:
    with pytest.raises(ValueError):
        loads_json('{"x": NaN}')
    assert finite_numbers(loads_json('{"x": [1, 2.5]}'))
    assert not finite_numbers(loads_json('{"x": [1e400]}'))
    assert loads_json("[Infinity]", allow_constants=True) == [float("inf")]


def test_depth_is_counted_without_recursion() -> None:
    value: object = 1
    for _ in range(100_000):
        value = [value]
    assert depth(value) == 100_000
    with pytest.raises(LimitError):
        check_depth(value, "It")


def test_read_capped_stops_at_the_cap(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 5000)
    assert read_capped(big, 5000) == b"x" * 5000
    with pytest.raises(LimitError, match="larger than"):
        read_capped(big, 4999)
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    with pytest.raises(LimitError, match="not a regular file"):
        read_capped(zero)
    with pytest.raises(LimitError, match="larger than"):
        read_capped(zero, 1024, regular_only=False)
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(LimitError, match="not a regular file"):
        read_capped(fifo)  # would wait for a writer forever if opened
    with pytest.raises(IsADirectoryError):
        read_capped(tmp_path)

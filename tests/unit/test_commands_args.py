"""`parley ask` argument values: whatever is typed, a clear argparse error (exit 2) or a
value `ask` can use; never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.commands import build_parser
from parley.commands.common import _parse_params
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.limits import MAX_DEPTH


def parse(*args: str) -> tuple[object, str]:
    """(the parsed namespace, or the exit code), and what argparse printed."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            result: object = build_parser().parse_args(["ask", *args, "Hi"])
    except SystemExit as exc:
        result = exc.code
    return result, err.getvalue()


@settings(max_examples=80, deadline=None)
@given(
    text=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["nan", "-nan", "inf", "-inf", "-1", "0", "-0", "1e400", "", "abc"]),
        st.text(max_size=20),
    )
)
def test_timeout_takes_only_a_positive_finite_number(text: str) -> None:
    result, err = parse(f"--timeout={text}")
    try:
        good = math.isfinite(float(text)) and float(text) > 0
    except ValueError:
        good = False
    if good:
        assert result.timeout == float(text)  # type: ignore[attr-defined]
    else:
        assert result == 2
        assert "--timeout" in err and "positive number of seconds" in err


@settings(max_examples=60, deadline=None)
@given(levels=st.integers(1, 50_000), kind=st.sampled_from(["[", '{"a":']))
def test_advanced_nested_any_depth(levels: int, kind: str) -> None:
    close = "]" if kind == "[" else "}"
    inner = "1" if kind != "[" else ""
    text = '{"x":' + kind * levels + inner + close * levels + "}"
    result, err = parse(f"--advanced={text}")
    if levels + 1 <= MAX_DEPTH:
        assert json.loads(result.advanced)["x"] is not None  # type: ignore[attr-defined]
    else:
        assert result == 2 and "--advanced" in err and "nested more than" in err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"seed": ' + "9" * 5000 + "}", "thousands of digits"),
        ('{"t": 1e400}', "too large"),
        ('{"t": NaN}', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        ("{", "not valid JSON"),
    ],
)
def test_advanced_bad_values_exit_2(text: str, words: str) -> None:
    result, err = parse(f"--advanced={text}")
    assert result == 2 and "--advanced" in err and words in err, err
    assert "Traceback" not in err


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(
        st.integers(1, 50_000).map(lambda n: "[" * n + "]" * n),
        st.integers(1, 10_000).map(lambda n: "9" * n),
        st.text(max_size=40),
    )
)
def test_param_values_parse_or_give_a_config_error(value: str) -> None:
    try:
        params = _parse_params([f"seed={value}"])
    except ParleyError as err:
        assert err.kind is ErrorKind.CONFIG and err.exit_code == 2
        assert "--param 'seed'" in err.message
        assert "nested more than" in err.message or "thousands of digits" in err.message
    else:
        assert "seed" in params

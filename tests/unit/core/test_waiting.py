"""The words of an answer before its first token: the wait, and why a retry comes."""

from __future__ import annotations

import pytest

from parley.core.chat.waiting import retry_reason, retry_text, waiting_text
from parley.core.protocol.errors import ErrorKind, ParleyError


def test_the_wait_is_counted_in_whole_seconds_from_one() -> None:
    assert waiting_text(0.4) == "Waiting for the first token…"
    assert waiting_text(1.0) == "Waiting for the first token… 1 s"
    assert waiting_text(5.99) == "Waiting for the first token… 5 s"


@pytest.mark.parametrize(
    ("kind", "status", "words"),
    [
        (ErrorKind.SERVER, 503, "503 from the server"),
        (ErrorKind.SERVER, None, "The server failed"),
        (ErrorKind.RATE_LIMIT, 429, "Rate limited (429)"),
        (ErrorKind.NETWORK, None, "The connection failed"),
        (ErrorKind.TIMEOUT, None, "No answer in time"),
        (ErrorKind.PROTOCOL, None, "The request failed"),
    ],
)
def test_a_retry_says_why(kind: ErrorKind, status: int | None, words: str) -> None:
    assert retry_reason(ParleyError(kind, "x", status=status)) == words


def test_the_retry_counts_down_to_the_next_attempt() -> None:
    reason = "503 from the server"
    assert retry_text(reason, 1.2, 2, 3) == "503 from the server, retrying in 2 s (attempt 2 of 3)"
    assert retry_text(reason, 0, 3, 3) == "503 from the server; trying again (attempt 3 of 3)"
    assert retry_text("", 4, 2, None) == "Retrying in 4 s (attempt 2)"

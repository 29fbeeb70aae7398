"""What an answer says before its first token: that it waits, for how long, and while the engine
waits to retry, why ("503 from the server, retrying in 2 s (attempt 2 of 3)")."""

from __future__ import annotations

import math

from parley.core.protocol.errors import ErrorKind, ParleyError

# Under this the wait is not worth a number: a fast reply shows only "Waiting…".
SHOW_SECONDS_FROM = 1.0


def waiting_text(elapsed_s: float) -> str:
    """ "Waiting for the first token… 4 s", the seconds counted from the send."""
    if elapsed_s < SHOW_SECONDS_FROM:
        return "Waiting for the first token…"
    return f"Waiting for the first token… {int(elapsed_s)} s"


def retry_reason(error: ParleyError) -> str:
    """Why the engine retries, in a few words: "503 from the server", "rate limited (429)"."""
    kind, status = error.kind, error.status
    if kind is ErrorKind.RATE_LIMIT:
        return f"Rate limited ({status or 429})"
    if kind is ErrorKind.SERVER:
        return f"{status} from the server" if status else "The server failed"
    if kind is ErrorKind.TIMEOUT:
        return "No answer in time"
    if kind is ErrorKind.NETWORK:
        return "The connection failed"
    if status:
        return f"{status} from the server"
    return "The request failed"


def retry_text(reason: str, left_s: float, attempt: int, of: int | None) -> str:
    """`reason`, the countdown to the next attempt, and which attempt that is.

    `attempt` is the attempt about to be made (2 after the first failed); `of` the most there
    will be (None when not known)."""
    which = f"attempt {attempt} of {of}" if of else f"attempt {attempt}"
    left = math.ceil(left_s)
    if left <= 0:  # the attempt is under way
        return f"{reason}; trying again ({which})" if reason else f"Trying again ({which})"
    if not reason:
        return f"Retrying in {left} s ({which})"
    return f"{reason}, retrying in {left} s ({which})"

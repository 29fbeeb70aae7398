"""The record of what was sent and received for one answer: an Exchange of one or more attempts.

The engine fills it as it goes (request start, response status and headers, each body chunk with
its arrival time); readers split the chunks into lines only when they look, so recording costs a
list append per network read. Offsets are milliseconds from the attempt's request start, and the
first content delta's offset is the answer's time to first token.

Nothing here holds a key: request headers are recorded redacted, and `to_dict()` redacts every
secret the exchange was given (the key of the request) from what the provider sent back.
"""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.core.protocol.errors import redact

RAW_LIMIT = 5 * 1024 * 1024  # raw bytes kept per answer; the answer itself is never cut
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class StreamLine:
    offset_ms: float
    text: str


def split_lines(chunks: Sequence[tuple[float, bytes]], t0: float) -> list[StreamLine]:
    """Chunks (monotonic time, bytes) as non-empty lines, each at the time its end arrived.

    Decoded as the SSE standard says (UTF-8, invalid bytes replaced), so a broken stream can
    still be looked at.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    lines: list[StreamLine] = []
    pending = ""
    last_t = t0
    for t, data in chunks:
        last_t = t
        text = pending + decoder.decode(data)
        parts = _LINE_BREAK.split(text)
        pending = parts.pop()
        offset = (t - t0) * 1000
        lines.extend(StreamLine(offset, p) for p in parts if p)
    pending += decoder.decode(b"", final=True)
    if pending:
        lines.append(StreamLine((last_t - t0) * 1000, pending))
    return lines


@dataclass
class Attempt:
    """One HTTP request and its response (a retried request has several)."""

    number: int
    method: str
    url: str
    request_headers: dict[str, str]
    started_at: float  # wall clock, seconds since the epoch
    t0: float  # monotonic clock at the request start
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    chunks: list[tuple[float, bytes]] = field(default_factory=list, repr=False)
    size: int = 0
    truncated: bool = False
    last_chunk_at: float | None = None  # monotonic
    first_content_at: float | None = None  # monotonic; the first content delta's chunk
    first_content_event: int | None = None  # which data event (0-based) carried it
    ended_at: float | None = None  # monotonic
    error: dict[str, Any] | None = None
    limit: int = RAW_LIMIT

    def response(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        self.status = status
        self.response_headers = dict(headers)

    def chunk(self, data: bytes) -> float:
        """Record a piece of the body as it arrives; returns its arrival time (monotonic)."""
        t = self.last_chunk_at = time.monotonic()
        if self.size + len(data) <= self.limit:
            self.chunks.append((t, data))
            self.size += len(data)
        elif not self.truncated:
            room = self.limit - self.size
            if room > 0:
                self.chunks.append((t, data[:room]))
                self.size += room
            self.truncated = True
        return t

    def end(self, error: Mapping[str, Any] | None = None) -> None:
        self.ended_at = time.monotonic()
        if error is not None:
            self.error = dict(error)

    @property
    def first_content_ms(self) -> float | None:
        if self.first_content_at is None:
            return None
        return (self.first_content_at - self.t0) * 1000

    @property
    def duration_ms(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.t0) * 1000

    def lines(self) -> list[StreamLine]:
        return split_lines(self.chunks, self.t0)

    def to_dict(self, secrets: Sequence[str | None] = ()) -> dict[str, Any]:
        def clean(text: str) -> str:
            return redact(text, secrets) if secrets else text

        return {
            "attempt": self.number,
            "method": self.method,
            "url": self.url,
            "request_headers": dict(self.request_headers),
            "started_at": self.started_at,
            "status": self.status,
            "response_headers": {k: clean(v) for k, v in self.response_headers.items()},
            "events": [[round(ln.offset_ms, 1), clean(ln.text)] for ln in self.lines()],
            "truncated": self.truncated,
            "first_content_ms": _round(self.first_content_ms),
            "first_content_event": self.first_content_event,
            "duration_ms": _round(self.duration_ms),
            "error": self.error,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class Exchange:
    """Every attempt of one answer, in order. The engine appends; the stream loop reads."""

    attempts: list[Attempt] = field(default_factory=list)
    secrets: list[str | None] = field(default_factory=list, repr=False)
    limit: int = RAW_LIMIT

    def begin(self, method: str, url: str, headers: Mapping[str, str]) -> Attempt:
        used = sum(a.size for a in self.attempts)
        attempt = Attempt(
            number=len(self.attempts) + 1,
            method=method,
            url=url,
            request_headers=dict(headers),
            started_at=time.time(),
            t0=time.monotonic(),
            limit=max(0, self.limit - used),
        )
        self.attempts.append(attempt)
        return attempt

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def truncated(self) -> bool:
        return any(a.truncated for a in self.attempts)

    def to_records(self) -> list[dict[str, Any]]:
        return [a.to_dict(self.secrets) for a in self.attempts]


@dataclass(frozen=True)
class ExchangeRecord:
    """A stored attempt, as the inspector and `parley inspect` read it."""

    attempt: int
    method: str
    url: str
    request_headers: dict[str, str]
    started_at: float
    status: int | None
    response_headers: dict[str, str]
    events: list[StreamLine]
    truncated: bool
    first_content_ms: float | None
    first_content_event: int | None
    duration_ms: float | None
    error: dict[str, Any] | None
    # Which of an answer's separate requests this attempt belongs to (1-based; None: the
    # answer made one request). Candidates fanned out over a provider without `n` make several.
    request: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExchangeRecord:
        events: list[StreamLine] = []
        for item in data.get("events") or []:
            if isinstance(item, list | tuple) and len(item) == 2:
                offset, text = item
                if isinstance(offset, int | float) and isinstance(text, str):
                    events.append(StreamLine(float(offset), text))
        return cls(
            attempt=int(data.get("attempt") or 1),
            method=str(data.get("method") or "POST"),
            url=str(data.get("url") or ""),
            request_headers=_str_dict(data.get("request_headers")),
            started_at=float(data.get("started_at") or 0.0),
            status=data.get("status") if isinstance(data.get("status"), int) else None,
            response_headers=_str_dict(data.get("response_headers")),
            events=events,
            truncated=bool(data.get("truncated")),
            first_content_ms=_float(data.get("first_content_ms")),
            first_content_event=_int(data.get("first_content_event")),
            duration_ms=_float(data.get("duration_ms")),
            error=data.get("error") if isinstance(data.get("error"), dict) else None,
            request=_int(data.get("request")),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attempt": self.attempt,
            "method": self.method,
            "url": self.url,
            "request_headers": dict(self.request_headers),
            "started_at": self.started_at,
            "status": self.status,
            "response_headers": dict(self.response_headers),
            "events": [[ln.offset_ms, ln.text] for ln in self.events],
            "truncated": self.truncated,
            "first_content_ms": self.first_content_ms,
            "first_content_event": self.first_content_event,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }
        if self.request is not None:
            out["request"] = self.request
        return out

    @property
    def first_content_line(self) -> int | None:
        """The index of the line that carried the first content delta."""
        if self.first_content_ms is None:
            return None
        if self.first_content_event is not None:
            seen = 0
            for i, line in enumerate(self.events):
                if line.text.startswith("data:"):
                    if seen == self.first_content_event:
                        return i
                    seen += 1
        for i, line in enumerate(self.events):
            if line.offset_ms >= self.first_content_ms - 0.05:
                return i
        return None


def _str_dict(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

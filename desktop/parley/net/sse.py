"""Bytes of a `text/event-stream` body -> SSE data payloads.

httpx-sse's line and event decoders do the SSE parsing; the bytes are decoded here with a strict
incremental UTF-8 decoder, because httpx's own text decoding silently replaces invalid bytes and
the user would get mangled text instead of an error.
"""

from __future__ import annotations

import codecs

from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from parley.core.errors import ErrorKind, ParleyError

_HEAD_LIMIT = 1024 * 1024


class SSEParser:
    """Feed body bytes in any chunking; get the data of each complete event, in order."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._lines = SSELineDecoder()
        self._events = SSEDecoder()
        self._first = True
        self._has_pending = False
        self._events_seen = False
        self._head: list[str] = []  # the text read before any event, up to _HEAD_LIMIT
        self._head_size = 0

    def _bad_utf8(self) -> ParleyError:
        return ParleyError(
            ErrorKind.PROTOCOL,
            f"{self.provider} sent bytes that are not valid UTF-8 text.",
            provider=self.provider,
        )

    def feed(self, chunk: bytes) -> list[str]:
        try:
            text = self._utf8.decode(chunk)
        except UnicodeDecodeError:
            raise self._bad_utf8() from None
        if self._first and text:
            self._first = False
            text = text.removeprefix("\ufeff")
        if not text:
            return []
        if not self._events_seen and self._head_size < _HEAD_LIMIT:
            self._head.append(text)
            self._head_size += len(text)
        return self._dispatch(self._lines.decode(text))

    def _dispatch(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        for line in lines:
            sse = self._events.decode(line)
            if sse is None:
                self._has_pending = bool(line)
            else:
                self._has_pending = False
                if sse.data:
                    self._events_seen = True
                    self._head.clear()
                    out.append(sse.data)
        return out

    @property
    def unframed(self) -> str | None:
        """The body text when no SSE event came at all (a server that ignored `stream`)."""
        if self._events_seen or self._head_size >= _HEAD_LIMIT:
            return None
        return "".join(self._head)

    def flush(self) -> list[str]:
        """At the end of the body: an event not followed by a blank line still counts."""
        try:
            tail = self._utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            raise self._bad_utf8() from None
        lines = self._lines.decode(tail) if tail else []
        lines += self._lines.flush()
        out = self._dispatch(lines)
        if self._has_pending:
            out += self._dispatch([""])
        return out

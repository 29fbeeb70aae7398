"""Bytes of a `text/event-stream` body -> SSE data payloads.

httpx-sse's line and event decoders do the SSE parsing. The bytes are decoded as the SSE
standard says (UTF-8, invalid bytes replaced by U+FFFD, the stream goes on, as browsers'
EventSource does), and `invalid_bytes` says that it happened, so the answer can be marked.
An `event: error` keeps the provider's words: its data comes out as an error object.
"""

from __future__ import annotations

import codecs
import json

from httpx_sse._decoders import SSEDecoder, SSELineDecoder

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
        self.invalid_bytes = False

    def _decode(self, chunk: bytes, final: bool = False) -> str:
        if self.invalid_bytes:
            return self._utf8.decode(chunk, final)
        pending, _ = self._utf8.getstate()
        try:
            return self._utf8.decode(chunk, final)
        except UnicodeDecodeError:
            # From here on, replace (the strict decoder cannot say where it stopped).
            self.invalid_bytes = True
            self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
            return self._utf8.decode(pending + chunk, final)

    def feed(self, chunk: bytes) -> list[str]:
        text = self._decode(chunk)
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
                    out.append(_as_error(sse.data) if sse.event == "error" else sse.data)
        return out

    @property
    def unframed(self) -> str | None:
        """The body text when no SSE event came at all (a server that ignored `stream`)."""
        if self._events_seen or self._head_size >= _HEAD_LIMIT:
            return None
        return "".join(self._head)

    def flush(self) -> list[str]:
        """At the end of the body: an event not followed by a blank line still counts."""
        tail = self._decode(b"", final=True)
        lines = self._lines.decode(tail) if tail else []
        lines += self._lines.flush()
        out = self._dispatch(lines)
        if self._has_pending:
            out += self._dispatch([""])
        return out


def _as_error(data: str) -> str:
    """An `event: error` payload as an error object the decoder reports with its words."""
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict) and parsed.get("error"):
        return data
    message = parsed.get("message") if isinstance(parsed, dict) else None
    words = message if isinstance(message, str) and message else data
    return json.dumps({"error": {"message": words, "type": "stream_error"}})

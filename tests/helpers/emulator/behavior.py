"""What the emulator is told to do with a chat request, and what it records about each request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Behavior:
    """How the emulator answers one chat request. The defaults give a healthy streamed reply.

    "After k chunks" always counts the SSE `data:` events already sent in this reply (the
    first event, carrying the role, is chunk 0). A value past the end applies just before the end.
    """

    # --- content -------------------------------------------------------------------------
    # None: a deterministic reply derived from the last user message (markdown with a code
    # block), or no text at all when tool_calls/refusal are given.
    text: str | None = None
    reasoning: str | None = None
    # Put reasoning inline as <think>...</think> in the content (generic/local dialect style).
    think_tags: bool = False
    # [{"name": "get_weather", "arguments": {"city": "Oslo"}}] (arguments: dict or JSON string)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    refusal: str | None = None
    # True: reply with a JSON object text; a dict/list: reply with exactly that JSON.
    # A request with response_format json_object/json_schema gets a JSON reply anyway.
    json_reply: Any = None
    # Sampling as a model does (when `text` is None): a short reply drawn from the request's
    # `seed` (with the prompt and temperature), so the same seed gives the same text; without
    # a seed every reply is drawn afresh, so repeats differ.
    sampled: bool = False
    # Sent as `system_fingerprint` in every chunk (and the JSON response) when given.
    system_fingerprint: str | None = None
    # None: "tool_calls" when tool_calls are given, else "stop".
    finish_reason: str | None = None
    # Model name the provider reports (Nordlys' routed model, EUrouter's x-model-used).
    model: str | None = None
    # Upstream provider name (Nordlys' "provider" field, EUrouter's x-provider-slug).
    provider_name: str | None = None
    # Usage: None -> computed (about 4 characters a token); a dict is merged over it.
    usage: dict[str, Any] | None = None
    # Send the usage chunk even if the request did not ask with stream_options.include_usage.
    include_usage: bool | None = None
    cached_tokens: int = 0

    # --- pacing --------------------------------------------------------------------------
    chunk_chars: int = 4
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    pause_after: int | None = None
    pause: float = 0.0

    # --- error replies -------------------------------------------------------------------
    # status >= 400 without body: the dialect's own error body for that status.
    # body without status: sent with status 200 as is (dict/list -> JSON).
    status: int | None = None
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    message: str | None = None  # message text for the dialect's error body / in-stream error
    # Extra response headers (on error and success replies), e.g. {"Retry-After": "2"}.
    headers: dict[str, str] = field(default_factory=dict)
    html_error: bool = False  # a 502 (or `status`) HTML page from a "gateway"

    # --- stream faults -------------------------------------------------------------------
    malformed_after: int | None = None  # send `data: {not json` after k chunks, then go on
    disconnect_after: int | None = None  # close the socket abruptly after k chunks
    in_stream_error_after: int | None = None  # the dialect's in-stream error after k chunks
    huge_chunk: int | None = None  # one content chunk of this many characters, first
    invalid_utf8: bool = False  # a content chunk with invalid UTF-8 bytes in the JSON string
    no_done: bool = False  # end without `data: [DONE]` and without finish_reason
    no_finish: bool = False  # send [DONE] but never a finish_reason
    # Reply with Connection: close; a stream is then delimited by closing the socket
    # (no chunked framing), as HTTP/1.0-style proxies do.
    connection_close: bool = False
    ignore_stream: bool = False  # answer a stream:true request with one JSON body
    # Write the body in pieces of this many bytes, a moment apart, so they arrive as separate
    # reads: splits SSE lines, \r\n pairs and multi-byte UTF-8 characters across reads.
    fragment_bytes: int | None = None
    sse_comments: bool = False  # ": keep-alive" comment lines between events (legal SSE)
    crlf: bool = False  # SSE lines end with \r\n instead of \n

    # --- queueing ------------------------------------------------------------------------
    repeat: int = 1  # a pushed behaviour answers this many requests before the next one


@dataclass
class RecordedRequest:
    method: str
    path: str  # as sent, including any query string
    headers: dict[str, str]  # lower-case names
    json: Any  # parsed body, or None when there is none or it is not JSON
    t: float  # time.monotonic() when the request had been read
    provider: str = ""
    body: bytes = b""

"""A PreparedRequest: one send, built once, exactly as it goes over the wire.

Everything that sends (the window's chat, the Lab's runner, `parley ask`, the key test) builds
one with `prepare()`, and the engine sends it as it is: the body bytes are made here and never
again, so what the request preview and the inspector show is what was sent. The key is taken
once, when the request is prepared; it lives only in `auth` (left out of repr, of `describe()`
and of every export), and `redacted_headers()` stands in for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.request import ChatRequest
from parley.core.providers.catalog import AuthScheme, ProviderSpec
from parley.core.providers.wire import USER_AGENT, auth_headers, build_wire_request

KEY_REDACTED = "[key redacted]"


def needs_key(spec: ProviderSpec) -> bool:
    return spec.auth.required and spec.auth.scheme is not AuthScheme.NONE


def check_url(provider: str, url: str) -> None:
    """A clear CONFIG error for an address the HTTP client would fail on in an obscure way."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0
        ok = ok and not any(c.isspace() for c in parts.netloc)
    except ValueError:
        ok = False
    if not ok:
        raise ParleyError(
            ErrorKind.CONFIG,
            f"The address for {provider} is not a valid http(s) URL: {url}",
            provider=provider,
        )


def encode_body(spec: ProviderSpec, body: Any) -> bytes:
    try:
        # Compact, as the store writes JSON: a stored or exported body gives back these bytes.
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise ParleyError(
            ErrorKind.CONFIG,
            f"The request for {spec.name} cannot be sent as JSON: {exc}",
            provider=spec.name,
        ) from None


@dataclass(frozen=True, eq=False)
class PreparedRequest:
    """The exact HTTP request of one send. `headers` never hold the key; `auth` does."""

    spec: ProviderSpec = field(repr=False)
    request: ChatRequest | None = field(repr=False)
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = field(repr=False)
    stream: bool
    auth: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def provider(self) -> str:
        return self.spec.id

    @property
    def has_key(self) -> bool:
        return bool(self.auth)

    @property
    def key(self) -> str | None:
        """The key itself, for redacting what the provider echoes; never shown."""
        for value in self.auth.values():
            return value.removeprefix("Bearer ") if value.startswith("Bearer ") else value
        return None

    @cached_property
    def body_text(self) -> str:
        return self.body.decode()

    @cached_property
    def body_json(self) -> Any:
        """The body parsed back (a dict for every body Parley builds)."""
        return json.loads(self.body)

    def send_headers(self) -> dict[str, str]:
        """What goes over the wire, key included: for the HTTP client only."""
        return {**self.headers, **self.auth}

    def redacted_headers(self) -> dict[str, str]:
        """The headers as shown: the key's header is there, its value redacted."""
        shown = dict(self.headers)
        for name, value in self.auth.items():
            shown[name] = "Bearer " + KEY_REDACTED if value.startswith("Bearer ") else KEY_REDACTED
        return shown

    def with_body(self, body: bytes) -> PreparedRequest:
        """The same request with another body (Edit & replay), sent as it is."""
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise ParleyError(
                ErrorKind.CONFIG,
                f"The edited body is not valid JSON: {exc}",
                provider=self.spec.name,
            ) from None
        stream = isinstance(parsed, dict) and parsed.get("stream") is True
        headers = dict(self.headers)
        headers["Accept"] = "text/event-stream" if stream else "application/json"
        return PreparedRequest(
            spec=self.spec,
            request=None,
            method=self.method,
            url=self.url,
            headers=headers,
            body=body,
            stream=stream,
            auth=dict(self.auth),
        )

    def with_key(self, key: str | None) -> PreparedRequest:
        """The same request carrying `key` (a stored exchange is re-sent with today's key)."""
        return PreparedRequest(
            spec=self.spec,
            request=self.request,
            method=self.method,
            url=self.url,
            headers=dict(self.headers),
            body=self.body,
            stream=self.stream,
            auth=auth_headers(self.spec, key),
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready record of the request as sent, the key redacted."""
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.redacted_headers(),
            "body": self.body_text,
        }


def prepare(
    spec: ProviderSpec,
    request: ChatRequest,
    key: str | None,
    *,
    require_key: bool = True,
) -> PreparedRequest:
    """Build the request once: validate, translate, serialise. Raises ParleyError.

    With `require_key=False` a missing key is no error (the request preview, where the key is
    not read): the request is then what would be sent without one.
    """
    wire = build_wire_request(spec, request)
    check_url(spec.name, wire.url)
    body = encode_body(spec, wire.body)
    auth = auth_headers(spec, key) if require_key or (key or "").strip() else {}
    return PreparedRequest(
        spec=spec,
        request=request,
        method="POST",
        url=wire.url,
        headers=dict(wire.headers),
        body=body,
        stream=wire.stream,
        auth=auth,
    )


def stored_request(
    spec: ProviderSpec, url: str, body: str | bytes, key: str | None
) -> PreparedRequest:
    """A stored exchange's request made sendable again (Reproduce, `parley replay`): the same
    URL and body bytes, today's key."""
    raw = body.encode() if isinstance(body, str) else body
    check_url(spec.name, url)
    prepared = PreparedRequest(
        spec=spec,
        request=None,
        method="POST",
        url=url,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
        body=raw,
        stream=False,
        auth={},
    ).with_body(raw)
    return prepared.with_key(key)

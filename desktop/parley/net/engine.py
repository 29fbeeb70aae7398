"""The one request path: ChatRequest -> HTTP -> typed events, for the window, the lab and the CLI.

    engine = Engine()
    async with contextlib.aclosing(engine.run(spec, request, key)) as events:
        async for event in events:
            result.apply(event)

Streamed and non-streamed requests yield the same events. Failures before the first token are
retried (429, 5xx, network, timeouts) with `Retrying` events; after tokens arrived the error is
raised with `partial=True` and the caller keeps what it has. The key only ever goes into the
request headers: never into an event, an exception or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
import time
import urllib.request
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from parley import __version__
from parley.core.chat.prepared import PreparedRequest, check_url, prepare
from parley.core.protocol import safejson
from parley.core.protocol.errors import ErrorKind, ParleyError, known_secrets, redact
from parley.core.protocol.events import (
    Event,
    Meta,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    TextDelta,
    ToolCallDelta,
)
from parley.core.protocol.exchange import Attempt, Exchange
from parley.core.protocol.request import ChatRequest
from parley.core.providers.catalog import ModelListing, ProviderSpec
from parley.core.providers.decode import StreamDecoder, decode_response, not_an_answer, parse_error
from parley.core.providers.modellist import ModelInfo, fallback_models, parse_models
from parley.core.providers.wire import auth_headers, join_url
from parley.net.sse import SSEParser

_ERROR_BODY_LIMIT = 256 * 1024
DEADLINE = 600.0  # seconds an attempt may take, start to end
REASONING_DEADLINE = 1800.0  # with a reasoning parameter set, or a reasoning model
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # one answer's body
_CONTENT = (TextDelta, ReasoningDelta, RefusalDelta, ToolCallDelta)
_KEPT = " The part that arrived is kept."

# Response headers worth showing (routing, request ids, rate limits). Never request headers.
_HEADER_PREFIXES = (
    "x-provider-",
    "x-model-",
    "x-routing-",
    "x-fallback-",
    "x-ratelimit-",
    "ratelimit-",
    "openai-",
)
_HEADER_NAMES = frozenset(
    {"x-request-id", "request-id", "x-requestid", "cf-ray", "server", "via", "retry-after"}
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; Retry-After is honoured up to `max_delay`."""

    max_attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.2  # +-20 %

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
        spread = backoff * self.jitter
        return max(0.0, min(self.max_delay, backoff + random.uniform(-spread, spread)))


@dataclass
class _Progress:
    tokens: bool = False
    secrets: list[str | None] = field(default_factory=list)
    ends_at: float = float("inf")  # monotonic deadline of the attempt
    deadline: float = 0.0
    size: int = 0
    max_size: int = MAX_ANSWER_BYTES
    provider: str = ""

    def check(self, chunk: bytes) -> None:
        """After each read: the attempt's deadline and the answer's size."""
        self.size += len(chunk)
        if self.size > self.max_size:
            raise ParleyError(
                ErrorKind.PROTOCOL,
                f"The answer from {self.provider} grew past "
                f"{self.max_size // (1024 * 1024)} MB; Parley stopped reading it.",
                provider=self.provider,
                partial=self.tokens,
                final=True,
            )
        if time.monotonic() > self.ends_at:
            raise ParleyError(
                ErrorKind.TIMEOUT,
                f"{self.provider} kept the request open for more than {self.deadline:g} s "
                "without finishing; Parley stopped waiting.",
                provider=self.provider,
                partial=self.tokens,
                final=True,
            )


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return parts.netloc or url


def _without_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def proxy_for(url: str, configured: str | None) -> str | None:
    """The proxy a request to `url` goes through: the setting, else the environment's."""
    if configured:
        return configured
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    if urllib.request.proxy_bypass_environment(host):  # type: ignore[attr-defined]
        return None
    proxies = urllib.request.getproxies_environment()
    scheme = url.split(":", 1)[0].lower()
    return proxies.get(scheme) or proxies.get("all")


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        node = node.__cause__ or node.__context__


def _looks_like_sse(text: str) -> bool:
    first = text.lstrip("\ufeff\r\n\t ").split("\n", 1)[0]
    return not first or first.startswith(("data", ":", "event", "id", "retry"))


def _keep_partial(err: ParleyError, partial: bool) -> ParleyError:
    if partial and not err.partial:
        err.partial = True
        if _KEPT.strip() not in err.message:
            err.message += _KEPT
            err.args = (err.message,)
    return err


def network_error(
    exc: httpx.HTTPError | httpx.InvalidURL | OSError,
    provider: str,
    url: str,
    *,
    partial: bool,
    timeouts: httpx.Timeout,
    proxy: str | None = None,
) -> ParleyError:
    """A person's message for a transport failure: what happened, where, what to do.
    `proxy` is the proxy the request went through, if any: when it is what failed, say so."""
    host = _host(url)
    tail = _KEPT if partial else ""
    if proxy and isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.ProxyError):
        where = _host(_without_credentials(proxy))
        return ParleyError(
            ErrorKind.NETWORK,
            f"The proxy at {where} did not let the request to {provider} through "
            f"({type(exc).__name__}). Check that the proxy is running, or change the proxy "
            "setting (or the HTTP(S)_PROXY environment variable)." + tail,
            provider=provider,
            partial=partial,
        )

    def err(kind: ErrorKind, message: str) -> ParleyError:
        return ParleyError(kind, message + tail, provider=provider, partial=partial)

    if isinstance(exc, httpx.ConnectTimeout):
        return err(
            ErrorKind.TIMEOUT,
            f"Connecting to {provider} ({host}) timed out after {timeouts.connect:g} s. "
            "Check your internet connection, proxy and the base URL.",
        )
    if isinstance(exc, httpx.ReadTimeout):
        if partial:
            return err(
                ErrorKind.TIMEOUT,
                f"{provider} stopped sending for {timeouts.read:g} s in the middle of the answer.",
            )
        return err(
            ErrorKind.TIMEOUT,
            f"{provider} did not start answering within {timeouts.read:g} s. "
            "Try again, or allow more time: Settings, Read timeout (--timeout for a command).",
        )
    if isinstance(exc, httpx.WriteTimeout):
        return err(ErrorKind.TIMEOUT, f"Sending the request to {provider} ({host}) timed out.")
    if isinstance(exc, httpx.PoolTimeout):
        return err(
            ErrorKind.TIMEOUT,
            f"Too many requests are open at once; no connection to {provider} became free.",
        )
    if isinstance(exc, httpx.ProxyError):
        return err(
            ErrorKind.NETWORK,
            f"The proxy refused the connection to {provider} ({host}). Check the proxy setting.",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ParleyError(
            ErrorKind.CONFIG,
            f"The address for {provider} is not a valid http(s) URL: {url}",
            provider=provider,
        )
    if isinstance(exc, httpx.DecodingError):
        return err(ErrorKind.PROTOCOL, f"{provider} sent a body that could not be decoded.")
    causes = list(_chain(exc))
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return err(
            ErrorKind.NETWORK,
            f"The secure connection to {provider} ({host}) failed: its certificate is not "
            "trusted. A proxy or antivirus that inspects HTTPS can cause this.",
        )
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return err(
            ErrorKind.NETWORK,
            f"The secure (TLS) connection to {provider} ({host}) failed. "
            "Check the base URL (http vs https) and any proxy.",
        )
    if isinstance(exc, httpx.ConnectError):
        text = " ".join(str(c) for c in causes).lower()
        if any(isinstance(c, socket.gaierror) for c in causes) or any(
            w in text for w in ("name or service", "nodename", "getaddrinfo", "name resolution")
        ):
            return err(
                ErrorKind.NETWORK,
                f"Could not find {host}. Check the base URL for {provider} and your internet "
                "connection.",
            )
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in text:
            return err(
                ErrorKind.NETWORK,
                f"Nothing is answering at {host} (connection refused). Is {provider} running, "
                "and is the base URL right?",
            )
        return err(
            ErrorKind.NETWORK,
            f"Could not connect to {provider} ({host}). Check your internet connection.",
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        if partial:
            return err(ErrorKind.NETWORK, f"The connection to {provider} broke off mid-answer.")
        return err(
            ErrorKind.NETWORK,
            f"The connection to {provider} ({host}) closed before an answer came. Try again.",
        )
    return err(ErrorKind.NETWORK, f"The connection to {provider} ({host}) failed.")


def _headers_meta(response: httpx.Response, secrets: list[str | None]) -> Meta:
    kept: dict[str, str] = {}
    for name, value in response.headers.items():
        lower = name.lower()
        if lower in _HEADER_NAMES or lower.startswith(_HEADER_PREFIXES):
            kept[lower] = redact(value, secrets)
    return Meta(
        model=kept.get("x-model-used") or None,
        routed_provider=kept.get("x-provider-slug") or kept.get("x-provider-id") or None,
        headers=kept,
    )


def _has_content(events: Iterable[Event]) -> bool:
    return any(isinstance(e, _CONTENT) for e in events)


def _byte_chunks(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    # httpx types it as an AsyncIterator, but it is an async generator: it has aclose().
    return cast(AsyncGenerator[bytes, None], response.aiter_bytes())


class Engine:
    """One HTTP client (connection pool) for every request of the app. Belongs to one loop."""

    def __init__(
        self,
        proxy: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        *,
        write_timeout: float = 30.0,
        pool_timeout: float = 30.0,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        keepalive_expiry: float = 30.0,
        models_ttl: float = 600.0,
        deadline: float = DEADLINE,
        reasoning_deadline: float = REASONING_DEADLINE,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.proxy = proxy
        # The read timeout is reset by every byte, so keep-alive comments (or an answer that
        # never ends) could hold a request open forever: each attempt also has a deadline.
        self.deadline = deadline
        self.reasoning_deadline = reasoning_deadline
        self.max_answer_bytes = max_answer_bytes
        self.retry = retry or RetryPolicy()
        self.timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self.limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
        )
        self.models_ttl = models_ttl
        self._client: httpx.AsyncClient | None = None
        self._models: dict[tuple[str, str], tuple[float, list[ModelInfo]]] = {}

    def __repr__(self) -> str:
        return f"Engine(proxy={'set' if self.proxy else None}, retry={self.retry!r})"

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            try:
                self._client = httpx.AsyncClient(
                    timeout=self.timeout,
                    limits=self.limits,
                    proxy=self.proxy,
                    trust_env=True,
                    follow_redirects=False,
                    headers={"User-Agent": f"Parley/{__version__}"},
                )
            except (ValueError, ImportError, httpx.InvalidURL) as exc:
                where = (
                    "The proxy setting" if self.proxy else "The HTTP(S)_PROXY environment variable"
                )
                socks = " SOCKS proxies are not supported." if isinstance(exc, ImportError) else ""
                raise ParleyError(
                    ErrorKind.CONFIG,
                    f"{where} is not a usable proxy URL (like http://host:port).{socks}",
                ) from None
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ chat

    async def run(
        self, spec: ProviderSpec, request: ChatRequest, key: str | None
    ) -> AsyncGenerator[Event, None]:
        """Prepare `request` and send it (see `send`)."""
        prepared = prepare(spec, request, key)
        async with contextlib.aclosing(self.send(prepared)) as events:
            async for event in events:
                yield event

    async def send(
        self, prepared: PreparedRequest, exchange: Exchange | None = None
    ) -> AsyncGenerator[Event, None]:
        """Send `prepared` as it is; yield Meta, Retrying and content events; raise ParleyError.

        Each attempt is recorded in `exchange` when one is given (status, headers, every body
        chunk with its arrival time); the events of a chunk are yielded before the next one is
        read, so `exchange.last.chunks[-1]` is the arrival time of the event just yielded.
        """
        spec = prepared.spec
        # The stream loop has gathered them into the exchange already (reading the environment
        # for them is not free, at hundreds of requests a second).
        secrets: list[str | None] = (
            exchange.secrets
            if exchange is not None and exchange.secrets
            else [prepared.key, *known_secrets()]
        )
        attempt = 0
        deadline = self._deadline_for(prepared)
        while True:
            attempt += 1
            progress = _Progress(
                secrets=secrets,
                ends_at=time.monotonic() + deadline,
                deadline=deadline,
                max_size=self.max_answer_bytes,
                provider=spec.name,
            )
            record = (
                exchange.begin(prepared.method, prepared.url, prepared.redacted_headers())
                if exchange is not None
                else None
            )
            try:
                async with contextlib.aclosing(
                    self._attempt(spec, prepared, progress, record)
                ) as events:
                    async for event in events:
                        yield event
                if record is not None:
                    record.end()
                return
            except ParleyError as err:
                err.scrub(secrets)
                if record is not None:
                    record.end(err.to_dict())
                if progress.tokens or not err.retryable or attempt >= self.retry.max_attempts:
                    raise
                failure = err
            except BaseException:
                if record is not None:
                    record.end({"kind": "cancelled", "message": "Stopped."})
                raise
            delay = self.retry.delay(attempt, failure.retry_after)
            yield Retrying(attempt, delay, failure)
            await asyncio.sleep(delay)

    def _deadline_for(self, prepared: PreparedRequest) -> float:
        request = prepared.request
        spec = prepared.spec
        reasoning = spec.capabilities.reasoning and (
            request is None
            or any(
                p.group.value == "reasoning" and request.params.get(p.name) is not None
                for p in spec.params
            )
            or any(w in request.model.lower() for w in ("reason", "think", "r1", "o1", "o3"))
        )
        return self.reasoning_deadline if reasoning else self.deadline

    async def _attempt(
        self,
        spec: ProviderSpec,
        prepared: PreparedRequest,
        progress: _Progress,
        record: Attempt | None,
    ) -> AsyncGenerator[Event, None]:
        try:
            request = self.client.build_request(
                prepared.method,
                prepared.url,
                headers=prepared.send_headers(),
                content=prepared.body,
            )
            response = await self.client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise network_error(
                exc,
                spec.name,
                prepared.url,
                partial=False,
                timeouts=self.timeout,
                proxy=proxy_for(prepared.url, self.proxy),
            ) from None
        try:
            if record is not None:
                record.response(response.status_code, response.headers.multi_items())
            if not 200 <= response.status_code < 300:
                body = await self._read_limited(response)
                if record is not None:
                    record.chunk(body)
                raise parse_error(
                    spec.name,
                    response.status_code,
                    body.decode("utf-8", errors="replace"),
                    response.headers,
                    progress.secrets,
                    provider_id=spec.id,
                )
            yield _headers_meta(response, progress.secrets)
            ctype = response.headers.get("content-type", "").lower()
            as_sse = "text/event-stream" in ctype or (prepared.stream and "json" not in ctype)
            if as_sse:
                async with contextlib.aclosing(
                    self._sse(spec, response, progress, record)
                ) as events:
                    async for event in events:
                        yield event
            else:
                for event in await self._body(spec, response, progress, record):
                    yield event
        except httpx.HTTPError as exc:
            raise network_error(
                exc,
                spec.name,
                prepared.url,
                partial=progress.tokens,
                timeouts=self.timeout,
                proxy=proxy_for(prepared.url, self.proxy),
            ) from None
        except ParleyError as err:
            _keep_partial(err, progress.tokens)
            raise
        finally:
            await response.aclose()

    async def _sse(
        self,
        spec: ProviderSpec,
        response: httpx.Response,
        progress: _Progress,
        record: Attempt | None,
    ) -> AsyncGenerator[Event, None]:
        parser = SSEParser(spec.name)
        decoder = StreamDecoder(spec, progress.secrets)
        watch = record is not None  # for the data event that carries the first content
        marked = False  # the answer is marked once for bytes that were not UTF-8
        data_events = 0
        t = 0.0
        # aclosing: qasync installs no async-generator hooks, so an abandoned byte iterator
        # (after a Stop) would otherwise be finalised by the garbage collector, off the loop.
        async with contextlib.aclosing(_byte_chunks(response)) as chunks:
            async for chunk in chunks:
                if record is not None:
                    t = record.chunk(chunk)
                progress.check(chunk)
                datas = parser.feed(chunk)
                if parser.invalid_bytes and not marked:
                    marked = True
                    yield Meta(invalid_bytes=True)
                for data in datas:
                    for event in decoder.feed(data):
                        yield event
                    if watch:
                        if decoder.content_seen:
                            assert record is not None
                            record.first_content_at = t
                            record.first_content_event = data_events
                            watch = False
                        data_events += 1
                    progress.tokens = decoder.content_seen
        tail = parser.flush()
        if parser.invalid_bytes and not marked:
            yield Meta(invalid_bytes=True)
        for data in tail:
            try:
                safejson.loads(data)
            except ValueError:
                if data.strip() != "[DONE]":
                    continue  # a payload cut off by the end of the body: finish() judges
            for event in decoder.feed(data):
                yield event
            if watch and decoder.content_seen:
                assert record is not None
                record.first_content_at = t
                record.first_content_event = data_events
                watch = False
            data_events += 1
            progress.tokens = decoder.content_seen
        unframed = parser.unframed
        if unframed and unframed.lstrip().startswith(("{", "[")):
            # Not SSE at all: a JSON body (often an error) under an event-stream content type.
            try:
                body: Any = safejson.loads(unframed)
            except ValueError:
                body = None
            if body is not None:
                events = decode_response(spec, body, progress.secrets)
                if record is not None and record.chunks and _has_content(events):
                    record.first_content_at = record.chunks[-1][0]
                    record.first_content_event = 0
                for event in events:
                    yield event
                return
        if unframed and not _looks_like_sse(unframed):
            raise not_an_answer(spec.name, unframed, progress.secrets)
        for event in decoder.finish():
            yield event

    async def _body(
        self,
        spec: ProviderSpec,
        response: httpx.Response,
        progress: _Progress,
        record: Attempt | None,
    ) -> list[Event]:
        parts: list[bytes] = []
        async with contextlib.aclosing(_byte_chunks(response)) as chunks:
            async for chunk in chunks:
                progress.check(chunk)
                parts.append(chunk)
        data = b"".join(parts)
        t = record.chunk(data) if record is not None else 0.0
        invalid = False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text, invalid = data.decode("utf-8", errors="replace"), True
        try:
            body: Any = safejson.loads(text)
        except ValueError:
            raise not_an_answer(spec.name, text, progress.secrets) from None
        events = decode_response(spec, body, progress.secrets)
        if invalid:
            events.insert(0, Meta(invalid_bytes=True))
        if record is not None and _has_content(events):
            record.first_content_at = t
            record.first_content_event = 0
        return events

    @staticmethod
    async def _read_limited(response: httpx.Response) -> bytes:
        parts: list[bytes] = []
        size = 0
        async with contextlib.aclosing(_byte_chunks(response)) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
                size += len(chunk)
                if size >= _ERROR_BODY_LIMIT:
                    break
        return b"".join(parts)[:_ERROR_BODY_LIMIT]

    # ------------------------------------------------------------------ models

    async def list_models(
        self,
        spec: ProviderSpec,
        key: str | None,
        base_url: str | None = None,
        *,
        refresh: bool = False,
    ) -> list[ModelInfo]:
        """The provider's models (cached per provider and base URL for `models_ttl` s)."""
        if spec.models.listing is ModelListing.NONE:
            return fallback_models(spec.models)
        base = (base_url or spec.base_url).rstrip("/")
        if not base:
            raise ParleyError(
                ErrorKind.CONFIG,
                f"{spec.name} needs a base URL before its models can be listed.",
                provider=spec.name,
            )
        cache_key = (spec.id, base)
        cached = self._models.get(cache_key)
        if cached is not None and not refresh and time.monotonic() - cached[0] < self.models_ttl:
            return list(cached[1])
        headers: dict[str, str] = {"Accept": "application/json"}
        if spec.models.needs_auth and spec.auth.required and not key:
            raise ParleyError(
                ErrorKind.CONFIG,
                f"Add a key for {spec.name} to list its models.",
                provider=spec.name,
            )
        if key:
            # A listing that works without a key (EUrouter) still gets one where we have it:
            # the same provider file also serves endpoints that want it (openai-compatible).
            headers.update(auth_headers(spec, key))
        url = join_url(spec, base, spec.models.path)
        check_url(spec.name, url)
        secrets: list[str | None] = [key]
        try:
            response = await self.client.get(url, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise network_error(
                exc,
                spec.name,
                url,
                partial=False,
                timeouts=self.timeout,
                proxy=proxy_for(url, self.proxy),
            ) from None
        if not 200 <= response.status_code < 300:
            raise parse_error(
                spec.name,
                response.status_code,
                response.text,
                response.headers,
                secrets,
                provider_id=spec.id,
            )
        try:
            payload: Any = safejson.loads(response.content)
        except ValueError:
            raise ParleyError(
                ErrorKind.PROTOCOL,
                f"{spec.name} sent a model list that is not valid JSON.",
                provider=spec.name,
            ) from None
        models = parse_models(spec.models.listing, payload) or fallback_models(spec.models)
        self._models[cache_key] = (time.monotonic(), models)
        return list(models)

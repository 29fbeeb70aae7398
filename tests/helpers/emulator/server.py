"""A real HTTP/1.1 server on loopback, run by an asyncio loop in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .behavior import Behavior, RecordedRequest
from .dialects import LOCAL_PROVIDERS, Ctx, dialect_for, key_for, mask_key
from .replies import Reply, behavior_error, error_reply, json_reply, stream_reply
from .validate import problem

_FLUSH_BYTES = 256 * 1024
_POLL = 0.02  # how often a sleeping reply checks whether the client went away
_FRAGMENT_GAP = 0.002  # between fragments, so that the client reads them separately


class _Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body


class _BadRequest(Exception):
    pass


class Emulator:
    """The five providers' chat APIs (plus generic OpenAI) on http://127.0.0.1:<port>/<id>/v1.

    Use as a context manager or call start()/stop(). All public methods are thread-safe.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        default: Behavior | None = None,
        echo_full_key: bool = False,
        validate: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.default = default or Behavior()
        # A wrong key is echoed partly ("abc12***"), as real providers do; True echoes it whole,
        # to prove a client redacts keys from error messages.
        self.echo_full_key = echo_full_key
        # Answer 400 to what the API pages say a provider rejects (see validate.py).
        self.validate = validate
        self.no_auth: set[str] = set(LOCAL_PROVIDERS)
        self.errors: list[str] = []  # tracebacks of anything that went wrong inside the server
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque[list[Any]]] = {}
        self._requests: list[RecordedRequest] = []
        self._models: dict[str, tuple[int, Any]] = {}
        self._seq = itertools.count(1)
        self._connections = 0
        self._streams = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._handle, self.host, self.port, limit=1 << 20, backlog=512
                    )
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name="provider-emulator", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- public API ----------------------------------------------------------------------------

    def base_url(self, provider: str) -> str:
        return f"http://{self.host}:{self.port}/{provider}/v1"

    @staticmethod
    def key(provider: str) -> str:
        return key_for(provider)

    def push(self, behavior: Behavior, provider: str | None = None) -> None:
        """Queue a one-shot behaviour (`repeat` times) for the next chat request (FIFO)."""
        with self._lock:
            self._queues.setdefault(provider, deque()).append([behavior, max(1, behavior.repeat)])

    def set_models(self, provider: str, payload: Any, status: int = 200) -> None:
        """Replace what GET /<provider>/v1/models answers."""
        with self._lock:
            self._models[provider] = (status, payload)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def chat_requests(self, provider: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path.split("?")[0].endswith("/chat/completions")
            and (provider is None or r.provider == provider)
        ]

    def clear(self) -> None:
        """Forget recorded requests, queued behaviours, model overrides and server errors."""
        with self._lock:
            self._requests.clear()
            self._queues.clear()
            self._models.clear()
            self.errors.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(entry[1] for q in self._queues.values() for entry in q)

    @property
    def connections_open(self) -> int:
        return self._connections

    @property
    def active_streams(self) -> int:
        return self._streams

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll `predicate` until it holds (the server notices closed sockets asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no stream is being written and no client connection is open."""
        return self.wait_until(lambda: self._streams == 0 and self._connections == 0, timeout)

    def _next_behavior(self, provider: str) -> Behavior:
        with self._lock:
            for name in (provider, None):
                queue = self._queues.get(name)
                if queue:
                    entry = queue[0]
                    entry[1] -= 1
                    if entry[1] <= 0:
                        queue.popleft()
                    behavior: Behavior = entry[0]
                    return behavior
        return self.default

    # --- connection handling -----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._connections += 1
        try:
            while True:
                try:
                    request = await self._read_request(reader, writer)
                except _BadRequest as exc:
                    reply = error_reply(400, {"error": {"message": str(exc)}}, {})
                    await self._send(reply, reader, writer, head_only=False)
                    break
                if request is None:
                    break
                keep_alive = await self._respond(request, reader, writer)
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception:
            self.errors.append(traceback.format_exc())
        finally:
            self._connections -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _BadRequest("incomplete request head") from exc
            return None
        except asyncio.LimitOverrunError as exc:
            raise _BadRequest("request head too large") from exc
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError as exc:
            raise _BadRequest(f"bad request line {lines[0]!r}") from exc
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(f"bad header line {line!r}")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if headers.get("expect", "").lower() == "100-continue":  # curl, for bodies over 1 KiB
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError as exc:
                    raise _BadRequest("bad chunk size in the request body") from exc
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        elif headers.get("content-length"):
            try:
                length = int(headers["content-length"])
            except ValueError as exc:
                raise _BadRequest("bad Content-Length") from exc
            body = await reader.readexactly(length)
        return _Request(method.upper(), target, headers, body)

    async def _respond(
        self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        parsed_json: Any = None
        if request.body:
            try:
                parsed_json = json.loads(request.body)
            except ValueError:
                parsed_json = None
        path = urlsplit(request.target).path
        segments = [s for s in path.split("/") if s]
        provider = segments[0] if segments else ""
        record = RecordedRequest(
            method=request.method,
            path=request.target,
            headers=dict(request.headers),
            json=parsed_json,
            t=time.monotonic(),
            provider=provider,
            body=request.body,
        )
        with self._lock:
            self._requests.append(record)
        keep_alive = request.headers.get("connection", "").lower() != "close"
        reply = self._route(request, segments, parsed_json)
        head_only = request.method == "HEAD"
        if isinstance(reply, tuple):
            ctx, behavior = reply
            finished = await self._chat(ctx, behavior, reader, writer)
        else:
            finished = await self._send(reply, reader, writer, head_only=head_only)
        return finished and keep_alive

    def _route(
        self, request: _Request, segments: list[str], body: Any
    ) -> Reply | tuple[Ctx, Behavior]:
        if not segments:
            asked = parse_qs(urlsplit(request.target).query).get("id", [])
            ids = asked or ["euri", "eurouter", "eigenai", "nordlys", "adaptive-engine", "openai"]
            info = {
                "emulator": "parley provider emulator",
                "providers": {
                    p: {
                        "base_url": self.base_url(p),
                        "key": None if p in self.no_auth else self.key(p),
                    }
                    for p in ids
                },
            }
            return error_reply(200, info, {})
        provider = segments[0]
        dialect = dialect_for(provider)
        rest = "/".join(segments[1:])
        request_id = str(uuid.uuid4())
        if rest not in ("v1/chat/completions", "v1/models"):
            return error_reply(404, dialect.error_body(404, f"No route {request.target}", ""), {})
        if rest == "v1/models":
            if request.method != "GET":
                return error_reply(405, dialect.error_body(405, "Method not allowed", ""), {})
            needs_auth = dialect.models_needs_auth() and provider not in self.no_auth
            denied = self._check_auth(provider, request.headers, request_id) if needs_auth else None
            if denied is not None:
                return denied
            with self._lock:
                override = self._models.get(provider)
            if override is not None:
                return error_reply(override[0], override[1], {})
            if dialect.models_status != 200:
                return error_reply(dialect.models_status, dialect.models(), {})
            return error_reply(200, dialect.models(), {})
        if request.method != "POST":
            return error_reply(405, dialect.error_body(405, "Method not allowed", ""), {})
        if provider not in self.no_auth:
            denied = self._check_auth(provider, request.headers, request_id)
            if denied is not None:
                return denied
        if not isinstance(body, dict):
            message = "Request body must be a JSON object"
            return error_reply(400, dialect.error_body(400, message, request_id), {})
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            message = "messages is required and must be a non-empty array"
            return error_reply(400, dialect.error_body(400, message, request_id), {})
        if self.validate:
            found = problem(dialect.name, body)
            if found is not None:
                return error_reply(400, dialect.error_body(400, found, request_id), {})
        session_id = body.get("session_id")
        ctx = Ctx(
            provider=provider,
            body=body,
            behavior=self._next_behavior(provider),
            seq=next(self._seq),
            created=int(time.time()),
            request_id=request_id,
            session_id=session_id if isinstance(session_id, str) else str(uuid.uuid4()),
        )
        ctx.completion_id = (
            str(uuid.uuid4()) if dialect.name == "adaptive-engine" else f"chatcmpl-emu{ctx.seq:06d}"
        )
        return ctx, ctx.behavior

    def _check_auth(self, provider: str, headers: dict[str, str], request_id: str) -> Reply | None:
        dialect = dialect_for(provider)
        presented = dialect.presented_key(headers)
        if presented == self.key(provider):
            return None
        if not presented:
            message = dialect.missing_key_message()
        else:
            shown = presented if self.echo_full_key else mask_key(presented)
            message = dialect.wrong_key_message(shown)
        extra = {"x-request-id": request_id}
        return error_reply(401, dialect.error_body(401, message, request_id), extra)

    async def _chat(
        self,
        ctx: Ctx,
        behavior: Behavior,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        dialect = dialect_for(ctx.provider)
        if behavior.first_byte_delay > 0 and not await self._sleep(
            behavior.first_byte_delay, reader, writer
        ):
            return False
        error = behavior_error(ctx, dialect, behavior)
        if error is not None:
            return await self._send(error, reader, writer)
        n = ctx.body.get("n")
        n = n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 16 else 1
        if ctx.body.get("stream") is True and not behavior.ignore_stream:
            reply = stream_reply(ctx, dialect, n)
        elif behavior.in_stream_error_after is not None:
            message = behavior.message or "The upstream provider failed"
            body = dialect.error_body(500, message, ctx.request_id)
            reply = error_reply(500, body, dialect.response_headers(ctx))
        else:
            reply = json_reply(ctx, dialect, n)
        reply.close = behavior.connection_close
        reply.fragment = behavior.fragment_bytes
        if not reply.chunked:
            return await self._send(reply, reader, writer)
        self._streams += 1
        try:
            return await self._send(reply, reader, writer)
        finally:
            self._streams -= 1

    # --- writing ------------------------------------------------------------------------------

    async def _sleep(
        self, seconds: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Sleep, but give up early (False) when the client has gone away."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            if writer.transport.is_closing() or reader.at_eof() or reader.exception():
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            await asyncio.sleep(min(_POLL, remaining))

    async def _send(
        self,
        reply: Reply,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        head_only: bool = False,
    ) -> bool:
        """Write a reply. True when the connection can serve another request."""
        status = reply.status
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", "server: parley-emulator"]
        lines.append(f"date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}")
        for name, value in reply.headers.items():
            lines.append(f"{name}: {value}")
        framed = reply.chunked and not reply.close
        if reply.close:
            lines.append("connection: close")
        if framed:
            lines.append("transfer-encoding: chunked")
        elif not reply.chunked:
            lines.append(f"content-length: {reply.content_length or 0}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if head_only:
            writer.write(head)
            await writer.drain()
            return True

        transport = writer.transport
        eol = b"\r\n" if reply.crlf else b"\n"
        buffer = bytearray(head)

        async def flush() -> None:
            if not buffer:
                return
            if transport.is_closing():
                raise ConnectionResetError("client went away")
            writer.write(bytes(buffer))
            buffer.clear()
            await writer.drain()

        def add(data: bytes) -> None:
            if framed:
                buffer.extend(b"%x\r\n" % len(data))
                buffer.extend(data)
                buffer.extend(b"\r\n")
            else:
                buffer.extend(data)

        async def emit(data: bytes) -> bool:
            if not reply.fragment:
                add(data)
                if len(buffer) >= _FLUSH_BYTES:
                    await flush()
                return True
            for i in range(0, len(data), reply.fragment):
                add(data[i : i + reply.fragment])
                await flush()
                if not await self._sleep(_FRAGMENT_GAP, reader, writer):
                    return False
            return True

        for op in reply.ops:
            kind = op[0]
            if kind == "sleep":
                await flush()
                if not await self._sleep(op[1], reader, writer):
                    return False
                continue
            if kind == "abort":
                await flush()
                transport.set_write_buffer_limits(high=0)
                await writer.drain()
                transport.abort()
                return False
            if kind == "data":
                data = b"data: " + op[1] + eol + eol
            elif kind == "comment":
                data = op[1] + eol + eol
            else:
                data = op[1]
            if not await emit(data):
                return False
        if framed:
            buffer.extend(b"0\r\n\r\n")
        await flush()
        return not reply.close

"""Provider responses -> typed events, and error replies -> ParleyError.

`StreamDecoder` takes one SSE data payload at a time (the JSON text after `data:`), so it is
independent of how the bytes were chunked on the wire. It tolerates what the five providers do
differently (NOTES.md §3): missing `object`/`model`/`finish_reason`, extra fields, `choices: null`,
Adaptive Engine's metric events, reasoning as `reasoning_content`, `reasoning` or `<think>` tags.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from parley.core.protocol import safejson
from parley.core.protocol.errors import ErrorKind, ParleyError, redact
from parley.core.protocol.events import (
    Event,
    Finished,
    LogprobsDelta,
    Meta,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from parley.core.providers.catalog import ProviderSpec

DONE = "[DONE]"
# Keys of Adaptive Engine's metric events, which are not chunks and carry nothing to show.
_METRIC_KEYS = frozenset({"TTFT", "TotalRequestDuration", "ttft", "total_request_duration"})
_MAX_PROVIDER_MESSAGE = 500

# --------------------------------------------------------------------------- small readers


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _nonempty_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --------------------------------------------------------------------------- <think> tags

_OPEN = "<think>"
_CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ThinkSplitter:
    """Splits content into reasoning (inside a leading `<think>...</think>`) and answer text.

    Only a `<think>` that opens the content counts (a model may well write the tag inside its
    answer). Tags may be split across any number of chunks.
    """

    def __init__(self) -> None:
        self._state = "start"  # start | think | after | text
        self._buf = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """Returns (is_reasoning, text) pieces in order."""
        if self._state == "text":
            return [(False, text)]
        out: list[tuple[bool, str]] = []
        self._buf += text
        while self._buf:
            if self._state == "start":
                head = self._buf.lstrip()
                if head.startswith(_OPEN):
                    self._buf = head[len(_OPEN) :]
                    self._state = "think"
                elif not head or _OPEN.startswith(head):
                    return out  # whitespace or a partial "<thi": wait for more
                else:
                    self._state = "text"
            elif self._state == "think":
                pos = self._buf.find(_CLOSE)
                if pos >= 0:
                    if pos:
                        out.append((True, self._buf[:pos]))
                    self._buf = self._buf[pos + len(_CLOSE) :]
                    self._state = "after"
                else:
                    keep = _partial_suffix(self._buf, _CLOSE)
                    emit = self._buf[: len(self._buf) - keep]
                    if emit:
                        out.append((True, emit))
                    self._buf = self._buf[len(self._buf) - keep :]
                    return out
            elif self._state == "after":
                # The blank line models put after </think> is not part of the answer.
                self._buf = self._buf.lstrip()
                if self._buf:
                    self._state = "text"
            else:
                out.append((False, self._buf))
                self._buf = ""
        return out

    def flush(self) -> list[tuple[bool, str]]:
        buf, self._buf = self._buf, ""
        if not buf:
            return []
        if self._state == "think":
            return [(True, buf)]
        if self._state == "after":
            return []
        return [(False, buf)]


# --------------------------------------------------------------------------- decoding


@dataclass
class _ChoiceState:
    content: bool = False
    finished: bool = False
    splitter: ThinkSplitter | None = None


def _logprobs(raw: Any) -> tuple[TokenLogprob, ...]:
    tokens: list[TokenLogprob] = []
    for item in _list(_dict(raw).get("content")):
        item = _dict(item)
        token, logprob = _str(item.get("token")), _float(item.get("logprob"))
        if token is None or logprob is None:
            continue
        top: list[TopLogprob] = []
        for alt in _list(item.get("top_logprobs")):
            alt = _dict(alt)
            t, lp = _str(alt.get("token")), _float(alt.get("logprob"))
            if t is not None and lp is not None:
                top.append(TopLogprob(t, lp))
        tokens.append(TokenLogprob(token, logprob, tuple(top)))
    return tuple(tokens)


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    completion_details = _dict(raw.get("completion_tokens_details"))
    prompt_details = _dict(raw.get("prompt_tokens_details"))
    reasoning = _int(completion_details.get("reasoning_tokens"))
    if reasoning is None:
        reasoning = _int(raw.get("reasoning_tokens"))
    cached = _int(prompt_details.get("cached_tokens"))
    if cached is None:
        cached = _int(raw.get("cached_input_tokens"))
    if cached is None:
        cached = _int(raw.get("cached_tokens"))
    prompt = _int(raw.get("prompt_tokens"))
    if prompt is None:
        prompt = _int(raw.get("input_tokens"))
    completion = _int(raw.get("completion_tokens"))
    if completion is None:
        completion = _int(raw.get("output_tokens"))
    total = _int(raw.get("total_tokens"))
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    usage = Usage(prompt, completion, total, reasoning, cached)
    return None if usage == Usage() else usage


def _error_text(err: Any) -> tuple[str | None, str | None, str | None]:
    """(message, type, code) from an `error` value that is an object or a string."""
    if isinstance(err, str):
        return err.strip() or None, None, None
    if isinstance(err, dict):
        message = _str(err.get("message")) or _str(err.get("detail")) or _str(err.get("error"))
        code = err.get("code")
        code_s = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
        return message, _str(err.get("type")), code_s
    return None, None, None


_KIND_WORDS: list[tuple[re.Pattern[str], ErrorKind]] = [
    (re.compile(r"rate.?limit|too.?many.?requests|429", re.I), ErrorKind.RATE_LIMIT),
    (re.compile(r"quota|token.?limit|wallet|insufficient.?balance", re.I), ErrorKind.QUOTA),
    (re.compile(r"budget|insufficient.?credit|payment|402", re.I), ErrorKind.BUDGET),
    (re.compile(r"auth|invalid.?api.?key|unauthori[sz]ed|401", re.I), ErrorKind.AUTH),
    (re.compile(r"overloaded|unavailable|internal|server|upstream|50\d", re.I), ErrorKind.SERVER),
    (re.compile(r"invalid.?request|bad.?request|context.?length|400", re.I), ErrorKind.BAD_REQUEST),
]


def _kind_from_words(*words: str | None) -> ErrorKind | None:
    text = " ".join(w for w in words if w)
    for pattern, kind in _KIND_WORDS:
        if pattern.search(text):
            return kind
    return None


def _clip(text: str, limit: int = _MAX_PROVIDER_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stream_error(
    provider: str, err: Any, *, partial: bool, secrets: Iterable[str | None] = ()
) -> ParleyError:
    """The ParleyError for an `error` found inside a streamed or non-streamed body."""
    message, etype, code = _error_text(err)
    kind = _kind_from_words(etype, code) or ErrorKind.PROTOCOL
    said = redact(_clip(message), list(secrets)) if message else None
    if kind is ErrorKind.PROTOCOL:
        text = f"{provider} reported an error instead of finishing the answer."
    else:
        text = f"{provider} reported an error ({kind.value.replace('_', ' ')})."
    if partial:
        text += " The part that arrived is kept."
    return ParleyError(
        kind, text, provider=provider, provider_message=said, code=code, partial=partial
    )


class StreamDecoder:
    """Decodes one streamed response, payload by payload.

    `feed(data)` returns the events of one SSE data payload; `finish()` the events (or error)
    at the end of the stream. `done` is True once `[DONE]` arrived; `content_seen` once any
    text, reasoning, refusal or tool call arrived.
    """

    def __init__(self, spec: ProviderSpec, secrets: Iterable[str | None] = ()) -> None:
        self.spec = spec
        self.done = False
        self.content_seen = False
        self._secrets = list(secrets)
        self._choices: dict[int, _ChoiceState] = {}
        self._meta: dict[int | None, Meta] = {}
        self._meta_keys: dict[int | None, tuple[Any, ...]] = {}

    @property
    def provider(self) -> str:
        return self.spec.name

    def _choice(self, index: int) -> _ChoiceState:
        state = self._choices.get(index)
        if state is None:
            splitter = ThinkSplitter() if self.spec.quirks.think_tags else None
            state = self._choices[index] = _ChoiceState(splitter=splitter)
        return state

    def feed(self, data: str) -> list[Event]:
        data = data.strip()
        if not data:
            return []
        if data == DONE:
            self.done = True
            return []
        if self.done:
            return []  # nothing counts after [DONE]
        try:
            obj = safejson.loads(data)
        except ValueError:
            raise ParleyError(
                ErrorKind.PROTOCOL,
                f"{self.provider} sent a piece of the answer that is not valid JSON."
                + (" The part that arrived is kept." if self.content_seen else ""),
                provider=self.provider,
                provider_message=redact(_clip(data, 200), self._secrets),
                partial=self.content_seen,
            ) from None
        if not isinstance(obj, dict):
            raise ParleyError(
                ErrorKind.PROTOCOL,
                f"{self.provider} sent a piece of the answer that is not a JSON object.",
                provider=self.provider,
                provider_message=redact(_clip(data, 200), self._secrets),
                partial=self.content_seen,
            )
        return self._decode(obj)

    def _decode(self, obj: dict[str, Any]) -> list[Event]:
        err = obj.get("error")
        if err is not None and err is not False and err != "" and err != {}:
            raise stream_error(self.provider, err, partial=self.content_seen, secrets=self._secrets)
        choices = obj.get("choices")
        if choices is None and "choices" not in obj:
            if _METRIC_KEYS & obj.keys():
                return []  # Adaptive Engine metrics event
            detail = _detail_text(obj.get("detail")) if "detail" in obj else None
            if detail:  # FastAPI-style servers put their error there, even with status 200
                raise stream_error(
                    self.provider,
                    {"message": detail},
                    partial=self.content_seen,
                    secrets=self._secrets,
                )
        events: list[Event] = []
        # Most chunks repeat the same id/model: compare the raw values before building a Meta.
        get = obj.get
        key = (
            get("model"),
            get("provider"),
            get("id"),
            get("system_fingerprint"),
            get("session_id"),
            get("service_tier"),
        )
        if key != self._meta_keys.get(None):
            self._meta_keys[None] = key
            self._emit_meta(
                Meta(
                    model=_nonempty_str(key[0]),
                    routed_provider=_nonempty_str(key[1]),
                    response_id=_nonempty_str(key[2]),
                    system_fingerprint=_nonempty_str(key[3]),
                    session_id=_nonempty_str(key[4]),
                    service_tier=_nonempty_str(key[5]),
                ),
                events,
            )
        if type(choices) is list:
            for position, raw_choice in enumerate(choices):
                if type(raw_choice) is dict:
                    self._decode_choice(raw_choice, position, events)
        usage = obj.get("usage")
        if usage is not None:
            decoded = _usage(usage)
            if decoded is not None:
                events.append(decoded)
        return events

    def _emit_meta(self, meta: Meta, events: list[Event]) -> None:
        if meta == Meta(choice=meta.choice):
            return
        if self._meta.get(meta.choice) == meta:
            return  # the same facts on every chunk: say them once
        self._meta[meta.choice] = meta
        events.append(meta)

    def _decode_choice(self, choice: dict[str, Any], position: int, events: list[Event]) -> None:
        index = choice.get("index")
        if type(index) is not int:
            index = _int(index)
        if index is None or index < 0:
            index = position
        state = self._choices.get(index) or self._choice(index)
        if state.finished:
            return  # the choice said it was done: anything after its finish_reason is not its
        model, completion_id = choice.get("model"), choice.get("completion_id")
        if model is not None or completion_id is not None:
            key = (model, completion_id)
            if key != self._meta_keys.get(index):
                self._meta_keys[index] = key
                self._emit_meta(
                    Meta(
                        model=_nonempty_str(model),
                        completion_id=_nonempty_str(completion_id),
                        choice=index,
                    ),
                    events,
                )
        delta = choice.get("delta")
        if type(delta) is not dict or not delta:
            delta = _dict(choice.get("message"))
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and type(reasoning) is str:
            state.content = True
            events.append(ReasoningDelta(reasoning, index))
        content = delta.get("content")
        if type(content) is list:  # content parts, as some servers send
            content = "".join(
                p.get("text", "") for p in content if isinstance(p, dict) and _str(p.get("text"))
            )
        if content and type(content) is str:
            state.content = True
            if state.splitter is not None:
                for is_reasoning, piece in state.splitter.feed(content):
                    cls = ReasoningDelta if is_reasoning else TextDelta
                    events.append(cls(piece, index))
            else:
                events.append(TextDelta(content, index))
        if "tool_calls" in delta or "refusal" in delta:
            self._decode_rare(delta, index, state, events)
        if choice.get("logprobs"):
            logprobs = _logprobs(choice.get("logprobs"))
            if logprobs:
                events.append(LogprobsDelta(logprobs, index))
        if state.content:
            self.content_seen = True
        reason = _nonempty_str(choice.get("finish_reason"))
        if reason == "error":
            raise ParleyError(
                ErrorKind.PROTOCOL,
                f"{self.provider} stopped the answer with an error."
                + (" The part that arrived is kept." if self.content_seen else ""),
                provider=self.provider,
                partial=self.content_seen,
            )
        if reason is not None and not state.finished:
            self._flush_choice(index, state, events)
            state.finished = True
            events.append(Finished(reason, index))

    def _decode_rare(
        self, delta: dict[str, Any], index: int, state: _ChoiceState, events: list[Event]
    ) -> None:
        refusal = _nonempty_str(delta.get("refusal"))
        if refusal:
            state.content = True
            events.append(RefusalDelta(refusal, index))
        for position_tc, raw_tc in enumerate(_list(delta.get("tool_calls"))):
            tc = _dict(raw_tc)
            fn = _dict(tc.get("function"))
            tc_index = _int(tc.get("index"))
            arguments = fn.get("arguments")
            if isinstance(arguments, dict | list):  # some servers send parsed JSON
                arguments = json.dumps(arguments)
            state.content = True
            events.append(
                ToolCallDelta(
                    index=tc_index if tc_index is not None else position_tc,
                    id=_nonempty_str(tc.get("id")),
                    name=_nonempty_str(fn.get("name")),
                    arguments=arguments if isinstance(arguments, str) else "",
                    choice=index,
                )
            )

    def _flush_choice(self, index: int, state: _ChoiceState, events: list[Event]) -> None:
        if state.splitter is None:
            return
        for is_reasoning, piece in state.splitter.flush():
            cls = ReasoningDelta if is_reasoning else TextDelta
            events.append(cls(piece, index))

    def finish(self) -> list[Event]:
        """Events at the end of the stream; raises if the answer was cut off."""
        events: list[Event] = []
        unfinished = [i for i, s in sorted(self._choices.items()) if not s.finished]
        for index in unfinished:
            self._flush_choice(index, self._choices[index], events)
        if self.done:
            # Some servers end with [DONE] and never send a finish_reason: that is complete.
            for index in unfinished:
                self._choices[index].finished = True
                events.append(Finished(None, index))
            if not self._choices:
                events.append(Finished(None, 0))
            return events
        cut = [i for i in unfinished if self._choices[i].content]
        if cut:
            raise ParleyError(
                ErrorKind.PROTOCOL,
                f"The stream from {self.provider} ended before the answer was finished. "
                "The part that arrived is kept; send again to retry.",
                provider=self.provider,
                partial=True,
            )
        if not self._choices:
            raise ParleyError(
                ErrorKind.PROTOCOL,
                f"{self.provider} closed the stream without sending an answer. Try again.",
                provider=self.provider,
            )
        for index in unfinished:  # a choice that never said anything: nothing was lost
            self._choices[index].finished = True
            events.append(Finished(None, index))
        return events


def decode_response(
    spec: ProviderSpec, body: Any, secrets: Iterable[str | None] = ()
) -> list[Event]:
    """Events for a non-streamed response body (the parsed JSON)."""
    if not isinstance(body, dict):
        raise ParleyError(
            ErrorKind.PROTOCOL,
            f"{spec.name} sent an answer that is not a JSON object.",
            provider=spec.name,
        )
    decoder = StreamDecoder(spec, secrets)
    events = decoder._decode(body)
    if not decoder._choices:
        raise ParleyError(
            ErrorKind.PROTOCOL,
            f"{spec.name} sent a reply with no answer in it (no choices).",
            provider=spec.name,
        )
    for index, state in sorted(decoder._choices.items()):
        if not state.finished:
            decoder._flush_choice(index, state, events)
            state.finished = True
            events.append(Finished(None, index))
    return events


# --------------------------------------------------------------------------- error replies


class _TextOfHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        if tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.text.append(data)


def _html_message(body: str) -> str | None:
    parser = _TextOfHTML()
    try:
        parser.feed(body)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let a page break error handling
        return None
    title = " ".join(" ".join(parser.title).split())
    text = " ".join(" ".join(parser.text).split())
    if title and text.startswith(title):
        text = text[len(title) :].strip()
    message = title if not text else (f"{title}: {text}" if title else text)
    return _clip(message, 300) if message else None


def _looks_like_html(body: str) -> bool:
    head = body.lstrip()[:200].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body")) or "<html" in head


def body_summary(body_text: str, limit: int = 200) -> str | None:
    """A short, markup-free line describing an unexpected body (an HTML page, plain text)."""
    text = body_text.strip()
    if not text:
        return None
    if _looks_like_html(text):
        return _html_message(text)
    return _clip(text, limit)


def not_an_answer(provider: str, body_text: str, secrets: Iterable[str | None] = ()) -> ParleyError:
    """The error for a 200 reply that holds neither JSON nor an event stream."""
    summary = body_summary(body_text)
    if _looks_like_html(body_text):
        message = (
            f"{provider} answered with a web page instead of an answer. Check the base URL; "
            "a login page or a proxy may be in the way."
        )
    else:
        message = f"{provider} sent an answer that is not valid JSON."
    return ParleyError(
        ErrorKind.PROTOCOL,
        message,
        provider=provider,
        provider_message=redact(summary, list(secrets)) if summary else None,
    )


def _detail_text(detail: Any) -> str | None:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI validation errors: [{"loc": [...], "msg": "..."}]
        parts = []
        for item in detail:
            if isinstance(item, dict) and _str(item.get("msg")):
                loc = ".".join(str(x) for x in _list(item.get("loc")) if x != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            elif isinstance(item, str):
                parts.append(item)
        return "; ".join(parts) or None
    if isinstance(detail, dict):
        return _str(detail.get("message")) or _str(detail.get("msg"))
    return None


@dataclass
class _ErrorBody:
    message: str | None = None
    type: str | None = None
    code: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _read_error_body(body_text: str) -> _ErrorBody:
    text = body_text.strip()
    if not text:
        return _ErrorBody()
    try:
        obj: Any = safejson.loads(text)
    except ValueError:
        if _looks_like_html(text):
            return _ErrorBody(message=_html_message(text))
        return _ErrorBody(message=_clip(text))
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        obj = obj[0]
    if not isinstance(obj, dict):
        return _ErrorBody(message=_clip(text) if isinstance(obj, str) else None)
    found = _ErrorBody(
        request_id=_nonempty_str(obj.get("requestId")) or _nonempty_str(obj.get("request_id"))
    )
    err = obj.get("error")
    if err is not None:
        found.message, found.type, found.code = _error_text(err)
    if found.message is None and (obj.get("object") == "error" or "message" in obj):
        found.message = found.message or _str(obj.get("message"))
        found.type = found.type or _str(obj.get("type"))
        code = obj.get("code")
        if found.code is None and isinstance(code, str | int) and not isinstance(code, bool):
            found.code = str(code)
    if found.message is None and "detail" in obj:
        found.message = _detail_text(obj.get("detail"))
    if found.message is not None:
        found.message = _clip(found.message)
    return found


MAX_RETRY_AFTER = 7 * 24 * 3600.0  # longer than this is not a wait, it is a refusal


def _seconds(value: float) -> float | None:
    if not math.isfinite(value) or value < 0:
        return None
    return min(value, MAX_RETRY_AFTER)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or retry-after-ms.
    Nonsense (negative, NaN, infinite) is no hint; a huge wait is capped at a week."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms:
        try:
            value = _seconds(float(ms) / 1000)
            if value is not None:
                return value
        except (ValueError, OverflowError):
            pass
    raw = lower.get("retry-after", "").strip()
    if not raw:
        return None
    try:
        return _seconds(float(raw))
    except (ValueError, OverflowError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return _seconds(max(0.0, when.timestamp() - current))


_QUOTA_WORDS = re.compile(
    r"token.?limit|wallet|quota|daily.?limit|insufficient.?balance|out of credits?", re.I
)
_KEY_WORDS = re.compile(
    r"api.?key|invalid.?key|key (is )?(invalid|revoked|expired)|unauthori[sz]ed|"
    r"authenticat|invalid_api_key",
    re.I,
)
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-requestid", "cf-ray")


def _wait_hint(retry_after: float | None) -> str:
    if retry_after is None:
        return "Wait a moment and try again."
    if retry_after < 90:
        return f"Try again in {max(1, round(retry_after))} s."
    if retry_after < 5400:
        return f"Try again in {round(retry_after / 60)} min."
    return f"Try again in about {round(retry_after / 3600)} h."


def parse_error(
    provider_name: str,
    status: int,
    body_text: str,
    headers: Mapping[str, str],
    secrets: Iterable[str | None] = (),
    *,
    provider_id: str | None = None,
) -> ParleyError:
    """The ParleyError for an HTTP error reply, in any body shape the providers use."""
    secrets = list(secrets)
    found = _read_error_body(body_text)
    lower = {k.lower(): v for k, v in headers.items()}
    request_id = found.request_id or next(
        (lower[h] for h in _REQUEST_ID_HEADERS if lower.get(h)), None
    )
    retry_after = parse_retry_after(lower)
    said = redact(found.message, secrets) if found.message else None
    words = " ".join(w for w in (found.message, found.type, found.code) if w)
    name = provider_name
    kind: ErrorKind
    if status == 401:
        kind, text = ErrorKind.AUTH, f"The key for {name} was refused. Check it in Keys."
    elif status == 403 and _QUOTA_WORDS.search(words):
        kind = ErrorKind.QUOTA
        if provider_id == "euri":  # EURI's own terms (its API reference, NOTES.md)
            text = (
                f"{name}: daily token limit reached or wallet empty — resets at midnight UTC; "
                "premium models draw from the wallet."
            )
        else:
            text = (
                f"{name}: the account's quota or balance is used up (403). "
                "Check your plan or balance with the provider."
            )
    elif status == 403 and _KEY_WORDS.search(words):
        kind, text = ErrorKind.AUTH, f"The key for {name} was refused. Check it in Keys."
    elif status == 403:
        kind = ErrorKind.FORBIDDEN
        text = (
            f"{name} refused access (403). Your key may not be allowed to use this model "
            "or feature."
        )
    elif status == 402:
        kind = ErrorKind.BUDGET
        text = (
            f"{name} says the account is out of credit or over its budget (402). "
            "Top up or raise the budget, then try again."
        )
    elif status == 429 and re.search(r"insufficient.?quota|billing", words, re.I):
        kind = ErrorKind.QUOTA
        text = f"{name}: the account's quota is used up (429). Check your plan or billing."
    elif status == 429:
        kind = ErrorKind.RATE_LIMIT
        text = f"{name} is receiving too many requests (429). {_wait_hint(retry_after)}"
    elif status == 408:
        kind, text = ErrorKind.TIMEOUT, f"{name} timed out waiting for the request (408)."
    elif status == 404:
        kind = ErrorKind.BAD_REQUEST
        text = f"{name} does not know this model or address (404). Check the model and base URL."
    elif status == 413:
        kind = ErrorKind.BAD_REQUEST
        text = (
            f"The request is too large for {name} (413). "
            "Shorten the conversation or remove attachments."
        )
    elif 400 <= status < 500:
        kind = ErrorKind.BAD_REQUEST
        text = f"{name} rejected the request ({status}). Check the model and parameters."
    elif status >= 500:
        kind = ErrorKind.SERVER
        what = "is unavailable" if status in (502, 503, 504) else "had a server error"
        text = f"{name} {what} ({status}). {_wait_hint(retry_after)}"
    else:
        kind = ErrorKind.PROTOCOL
        text = f"{name} answered with an unexpected status {status}."
    return ParleyError(
        kind,
        text,
        provider=name,
        status=status,
        provider_message=said,
        code=found.code or found.type,
        retry_after=retry_after,
        request_id=request_id,
    )

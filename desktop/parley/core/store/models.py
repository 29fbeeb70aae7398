"""What the store hands out: plain, immutable records, plus the small pure helpers it uses."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
)

from parley.core.protocol.request import ContentPart, ImagePart, Message, TextPart, ToolCall

MessageStatus = Literal["complete", "streaming", "stopped", "failed", "interrupted"]
MESSAGE_STATUSES: frozenset[str] = frozenset(get_args(MessageStatus))

# FTS5 snippet markers around each match; the UI turns them into highlighting.
MATCH_START = "\x02"
MATCH_END = "\x03"

TITLE_MAX = 60

_PARTS: TypeAdapter[list[ContentPart]] = TypeAdapter(list[ContentPart])
_TOOL_CALLS: TypeAdapter[list[ToolCall]] = TypeAdapter(list[ToolCall])


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    title: str
    title_set: bool  # True once renamed by the user: no longer follows the first prompt
    system_prompt: str
    provider: str | None
    model: str | None
    params: dict[str, Any]
    advanced: dict[str, Any]
    preset: str | None
    pinned: bool
    session_id: str | None
    draft: str
    current_leaf_id: int | None
    created_at: float
    updated_at: float
    deleted_at: float | None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: int
    parent_id: int | None
    role: str
    text: str  # the text parts joined (for answers: the answer text)
    content: str | list[ContentPart]  # as given: plain text, or parts (text, images, video)
    reasoning: str
    refusal: str
    tool_calls: list[ToolCall] | None
    tool_call_id: str | None
    name: str | None
    status: MessageStatus
    error: dict[str, Any] | None
    finish_reason: str | None
    request_body_text: str | None  # the exact body sent (JSON text), never the headers
    provider: str | None
    model: str | None  # asked for
    model_used: str | None  # answered
    meta: dict[str, Any] | None
    usage: dict[str, Any] | None
    metrics: dict[str, Any] | None
    cost: float | None
    extra: dict[str, Any] | None
    created_at: float
    updated_at: float

    @property
    def request_body(self) -> dict[str, Any] | None:
        """The body sent, parsed (made when read: a long chat's bodies are large)."""
        if self.request_body_text is None:
            return None
        try:
            body = json.loads(self.request_body_text)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def to_message(self) -> Message:
        """This message as context for the next request."""
        return Message(
            role=self.role,
            content=self.content,
            name=self.name,
            tool_call_id=self.tool_call_id,
            tool_calls=self.tool_calls,
        )


class Siblings(NamedTuple):
    """Where a message is among its siblings, for the `< 2/3 >` control (position 0-based)."""

    position: int
    total: int


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: int
    message_id: int | None  # None: the title matched
    title: str
    snippet: str  # matches wrapped in MATCH_START ... MATCH_END
    updated_at: float


def make_title(text: str, limit: int = TITLE_MAX) -> str:
    """A conversation title from its first prompt: first non-empty line, spaces collapsed."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"\s+", " ", line)
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def fts_query(user_query: str) -> str | None:
    """An FTS5 query matching every word of `user_query`, never a syntax error.

    Each word is quoted, so operators (AND, OR, NOT, NEAR), column filters, `*`, `-`, `^` and
    stray quotes are plain text. Words with no letter or digit (e.g. "++") cannot match a
    token and are dropped; None means nothing searchable is left.
    """
    terms = []
    for word in user_query.split():
        if not any(ch.isalnum() for ch in word):
            continue
        quoted = '"' + word.replace('"', '""') + '"'
        # "Rust" also finds "Rustacean" (search as you type); "C++" means the word "c" itself.
        terms.append(quoted + "*" if word[-1].isalnum() else quoted)
    return " ".join(terms) if terms else None


def to_json(value: Any) -> str | None:
    """Serialise dataclasses, pydantic models, mappings and plain values to compact JSON."""
    if value is None:
        return None
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _plain(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def from_json(text: str | None) -> Any:
    if text is None:
        return None
    if text == "{}":  # most params/advanced columns: skip the parser
        return {}
    return json.loads(text)


def content_columns(content: str | Sequence[ContentPart]) -> tuple[str, str | None]:
    """(text, content JSON) for a message's content: JSON only when it is not plain text."""
    if isinstance(content, str):
        return content, None
    parts = list(content)
    text = "".join(p.text for p in parts if isinstance(p, TextPart))
    return text, json.dumps(_PARTS.dump_python(parts, mode="json", exclude_none=True))


def parse_content(text: str, content_json: str | None) -> str | list[ContentPart]:
    if content_json is None:
        return text
    return _PARTS.validate_json(content_json)


def tool_calls_json(calls: Sequence[Any] | None) -> str | None:
    """JSON for tool calls: ToolCall models, dataclasses or mappings with id, name, arguments."""
    if calls is None:
        return None
    validated = [ToolCall.model_validate(_plain(c)) for c in calls]
    return json.dumps(_TOOL_CALLS.dump_python(validated, mode="json"), ensure_ascii=False)


def parse_tool_calls(text: str | None) -> list[ToolCall] | None:
    return None if text is None else _TOOL_CALLS.validate_json(text)


# -- records read from an import ---------------------------------------------------------
#
# An import is untrusted: every field is checked here, so what is stored reads back as the
# store's own rows do (exports, the window). Field types follow the store's columns and what
# the engine writes into them (events.Usage, result.Metrics, ParleyError.to_dict()).

_TIME_MAX = 253_402_300_799.0  # 9999-12-31: any later "time" is not one


def _time(value: float | None) -> float | None:
    if value is not None and not (0.0 <= value <= _TIME_MAX):
        raise ValueError("must be a time between 1970 and 9999 (seconds since 1970)")
    return value


def _base64_image(part: ContentPart) -> ContentPart:
    if isinstance(part, ImagePart):
        if not re.fullmatch(r"image/[\w.+-]+", part.mime):
            raise ValueError(f"an image's type must be image/..., not {part.mime[:40]!r}")
        if part.data is not None:
            try:
                base64.b64decode(part.data, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("an image's data is not valid base64") from None
        elif part.url is None:
            raise ValueError("an image needs data or a URL")
    return part


Time = Annotated[float | None, AfterValidator(_time)]
Count = Annotated[int, Field(ge=0)] | Annotated[float, Field(ge=0, allow_inf_nan=False)] | None
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)] | None
RecordId = StrictInt | StrictStr
ImportedPart = Annotated[ContentPart, AfterValidator(_base64_image)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Open(BaseModel):
    """Known fields typed; other fields (a provider's extras) kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)


class UsageRecord(_Open):
    prompt_tokens: Count = None
    completion_tokens: Count = None
    total_tokens: Count = None
    reasoning_tokens: Count = None
    cached_tokens: Count = None


class MetricsRecord(_Open):
    ttft_ms: Amount = None
    tokens_per_s: Amount = None
    total_ms: Amount = None
    completion_tokens: Count = None
    estimated: bool = False


class ErrorRecord(_Open):
    kind: str = "protocol"
    message: str = ""
    provider: str | None = None
    status: int | None = None
    provider_message: str | None = None
    code: str | None = None
    retry_after: Amount = None
    request_id: str | None = None
    partial: bool = False


class ExchangeAttemptRecord(_Open):
    """One recorded attempt (see parley.core.protocol.exchange.ExchangeRecord)."""

    attempt: Annotated[int, Field(ge=1, lt=2**31)] | None = None
    method: str = "POST"
    url: str = ""
    request_headers: dict[str, str] = Field(default_factory=dict)
    started_at: Time = None
    status: int | None = None
    response_headers: dict[str, str] = Field(default_factory=dict)
    events: list[tuple[Amount, str]] = Field(default_factory=list)
    truncated: bool = False
    first_content_ms: Amount = None
    first_content_event: Annotated[int, Field(ge=0)] | None = None
    duration_ms: Amount = None
    error: dict[str, Any] | None = None


class ConversationRecord(_Record):
    title: str = ""
    title_set: bool = False
    system_prompt: str = ""
    provider: str | None = None
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    advanced: dict[str, Any] = Field(default_factory=dict)
    preset: str | None = None
    pinned: bool = False
    session_id: str | None = None
    draft: str = ""
    current_leaf_id: RecordId | None = None
    created_at: Time = None


class MessageRecord(_Record):
    id: RecordId
    parent_id: RecordId | None = None
    role: Literal["system", "developer", "user", "assistant", "tool"]
    text: str = ""
    content: str | list[ImportedPart] | None = None
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    status: MessageStatus = "complete"
    error: ErrorRecord | None = None
    finish_reason: str | None = None
    request_body: dict[str, Any] | None = None
    provider: str | None = None
    model: str | None = None
    model_used: str | None = None
    meta: dict[str, Any] | None = None
    usage: UsageRecord | None = None
    metrics: MetricsRecord | None = None
    cost: Amount = None
    extra: dict[str, Any] | None = None
    created_at: Time = None
    updated_at: Time = None
    exchange: list[ExchangeAttemptRecord] | None = None

"""Typed events decoded from a provider's response (streamed or not).

Every event carries the index of the choice it belongs to, so n > 1 candidates stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str
    choice: int = 0


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    text: str
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """One fragment of a tool call; fragments with the same (choice, index) belong together."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    choice: int = 0


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class LogprobsDelta:
    tokens: tuple[TokenLogprob, ...]
    choice: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Meta:
    """Facts about the response other than its content. Fields that are None were not seen.

    `model` is the model that actually answered (response `model`, EUrouter `x-model-used`,
    Adaptive Engine's per-choice model). `routed_provider` is who served it (EUrouter
    `x-provider-slug`, Nordlys `provider`). `headers` keeps the response headers worth showing
    (routing headers, request ids); never request headers, so never a key.
    """

    model: str | None = None
    routed_provider: str | None = None
    response_id: str | None = None
    system_fingerprint: str | None = None
    session_id: str | None = None
    completion_id: str | None = None
    service_tier: str | None = None
    invalid_bytes: bool | None = None  # the body had bytes that are not UTF-8 (replaced)
    choice: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finished:
    reason: str | None
    choice: int = 0


@dataclass(frozen=True, slots=True)
class Retrying:
    """The request failed before any token arrived and will be tried again after `delay` s."""

    attempt: int
    delay: float
    error: Any  # a parley.core.protocol.errors.ParleyError; typed loosely to avoid an import cycle


Event = (
    TextDelta
    | ReasoningDelta
    | RefusalDelta
    | ToolCallDelta
    | LogprobsDelta
    | Usage
    | Meta
    | Finished
    | Retrying
)

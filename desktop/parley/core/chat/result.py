"""A response being received: the events of one request folded into text, tool calls and figures.

The window, the lab and `parley ask` all apply the engine's events to a `ChatResult`; it keeps
whatever arrived, also when the request fails or is stopped part-way.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from parley.core.protocol.errors import ParleyError, redact
from parley.core.protocol.events import (
    Event,
    Finished,
    LogprobsDelta,
    Meta,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from parley.core.protocol.request import ToolCall
    from parley.core.providers.modellist import ModelInfo

Status = Literal["pending", "streaming", "complete", "stopped", "failed"]

# Tokens per second are only a rate over a stretch of decoding: an answer that arrived in one
# burst (a cache, a proxy that buffers) would show "78,305 tok/s". Shorter: no figure.
MIN_DECODE_WINDOW = 0.1


@dataclass
class AssembledToolCall:
    """A tool call put together from its fragments."""

    index: int
    id: str | None = None
    name: str = ""
    arguments: str = ""

    def to_tool_call(self) -> ToolCall:
        from parley.core.protocol.request import ToolCall

        return ToolCall(
            id=self.id or f"call_{self.index}", name=self.name, arguments=self.arguments
        )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass
class ChoiceResult:
    index: int
    refusal: str = ""
    tool_calls: list[AssembledToolCall] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish_reason: str | None = None
    finished: bool = False
    model: str | None = None  # Adaptive Engine names the model per choice
    completion_id: str | None = None
    _text: list[str] = field(default_factory=list, repr=False)
    _reasoning: list[str] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        if len(self._text) > 1:
            self._text[:] = ["".join(self._text)]
        return self._text[0] if self._text else ""

    @property
    def reasoning(self) -> str:
        if len(self._reasoning) > 1:
            self._reasoning[:] = ["".join(self._reasoning)]
        return self._reasoning[0] if self._reasoning else ""

    def _tool_call(self, index: int) -> AssembledToolCall:
        for call in self.tool_calls:
            if call.index == index:
                return call
        call = AssembledToolCall(index)
        self.tool_calls.append(call)
        return call

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "text": self.text,
            "reasoning": self.reasoning,
            "refusal": self.refusal or None,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "finish_reason": self.finish_reason,
            "model": self.model,
            "completion_id": self.completion_id,
        }


@dataclass(frozen=True, slots=True)
class Metrics:
    ttft_ms: float | None  # first content or reasoning token minus its request's start
    tokens_per_s: float | None  # completion tokens / (last token - first token)
    total_ms: float | None
    completion_tokens: int | None
    estimated: bool  # True when tokens were counted as deltas (no usage from the provider)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The facts of a Meta a provider sends as text (and may echo a key in).
_META_TEXT_FIELDS = (
    "model",
    "routed_provider",
    "response_id",
    "system_fingerprint",
    "session_id",
    "completion_id",
    "service_tier",
)


def _merge_meta(old: Meta, new: Meta) -> Meta:
    """Facts seen first win (response headers come first and are the authority on routing)."""
    changes: dict[str, Any] = {}
    for name in (*_META_TEXT_FIELDS, "invalid_bytes"):
        if getattr(old, name) is None and getattr(new, name) is not None:
            changes[name] = getattr(new, name)
    if new.headers:
        changes["headers"] = {**new.headers, **old.headers}
    return replace(old, **changes) if changes else old


class ChatResult:
    """Everything received for one request. Apply events in order with `apply(event, t)`."""

    def __init__(self, provider: str | None = None, model: str | None = None) -> None:
        self.provider = provider
        self.model = model  # the model asked for; `meta.model` is the one that answered
        self.choices: dict[int, ChoiceResult] = {}
        self.usage: Usage | None = None
        self.meta = Meta()
        self.status: Status = "pending"
        self.error: ParleyError | None = None
        self.retries = 0
        self.started_at: float | None = None
        self.request_started_at: float | None = None  # the answering attempt's request start
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.ended_at: float | None = None
        self.deltas = 0  # content + reasoning deltas, the token estimate without usage

    # ------------------------------------------------------------------ folding events

    def choice(self, index: int = 0) -> ChoiceResult:
        found = self.choices.get(index)
        if found is None:
            found = self.choices[index] = ChoiceResult(index)
        return found

    def mark_started(self, t: float | None = None) -> None:
        self.started_at = time.monotonic() if t is None else t
        self.status = "pending"

    def _token(self, t: float) -> None:
        if self.first_token_at is None:
            self.first_token_at = t
        self.last_token_at = t
        self.deltas += 1
        if self.status == "pending":
            self.status = "streaming"

    def apply(self, event: Event, t: float | None = None) -> None:
        t = time.monotonic() if t is None else t
        if isinstance(event, TextDelta):
            self._token(t)
            self.choice(event.choice)._text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self._token(t)
            self.choice(event.choice)._reasoning.append(event.text)
        elif isinstance(event, RefusalDelta):
            self._token(t)
            self.choice(event.choice).refusal += event.text
        elif isinstance(event, ToolCallDelta):
            self._token(t)
            call = self.choice(event.choice)._tool_call(event.index)
            if event.id and not call.id:
                call.id = event.id
            if event.name and event.name != call.name:
                call.name += event.name
            call.arguments += event.arguments
        elif isinstance(event, LogprobsDelta):
            self.choice(event.choice).logprobs.extend(event.tokens)
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Meta):
            self._apply_meta(event)
        elif isinstance(event, Finished):
            c = self.choice(event.choice)
            c.finish_reason = event.reason
            c.finished = True
            if all(ch.finished for ch in self.choices.values()):
                self.status = "complete"
                self.ended_at = t
        elif isinstance(event, Retrying):
            self.retries += 1

    def _apply_meta(self, event: Meta) -> None:
        if event.choice is not None:
            c = self.choice(event.choice)
            c.model = c.model or event.model
            c.completion_id = c.completion_id or event.completion_id
            event = replace(event, choice=None, completion_id=None)
        self.meta = _merge_meta(self.meta, event)

    def scrub(self, secrets: list[str]) -> None:
        """Redact `secrets` from everything the provider sent: the answer's text, reasoning,
        refusal and tool calls in every choice, and the response's metadata."""
        secrets = [s for s in secrets if s]
        if not secrets:
            return
        for choice in self.choices.values():
            choice._text[:] = [redact(choice.text, secrets)] if choice._text else []
            choice._reasoning[:] = [redact(choice.reasoning, secrets)] if choice._reasoning else []
            choice.refusal = redact(choice.refusal, secrets)
            for call in choice.tool_calls:
                call.id = redact(call.id, secrets) if call.id else call.id
                call.name = redact(call.name, secrets)
                call.arguments = redact(call.arguments, secrets)
            choice.model = redact(choice.model, secrets) if choice.model else choice.model
            if choice.completion_id:
                choice.completion_id = redact(choice.completion_id, secrets)
        changes: dict[str, Any] = {}
        for name in _META_TEXT_FIELDS:
            value = getattr(self.meta, name)
            if isinstance(value, str) and redact(value, secrets) != value:
                changes[name] = redact(value, secrets)
        headers = {k: redact(v, secrets) for k, v in self.meta.headers.items()}
        if headers != self.meta.headers:
            changes["headers"] = headers
        if changes:
            self.meta = replace(self.meta, **changes)
        if self.error is not None:
            self.error.scrub(secrets)

    def mark_complete(self, t: float | None = None) -> None:
        """The engine's stream ended normally (every choice also got its Finished)."""
        if self.status in ("pending", "streaming", "complete"):
            self.status = "complete"
            self.ended_at = time.monotonic() if t is None else t

    def mark_stopped(self, t: float | None = None) -> None:
        """The user stopped the request; what arrived is kept."""
        if self.status != "complete":
            self.status = "stopped"
        self.ended_at = time.monotonic() if t is None else t

    def mark_failed(self, err: ParleyError, t: float | None = None) -> None:
        self.status = "failed"
        self.error = err
        self.ended_at = time.monotonic() if t is None else t

    # ------------------------------------------------------------------ reading

    @property
    def text(self) -> str:
        c = self.choices.get(0)
        return c.text if c else ""

    @property
    def reasoning(self) -> str:
        c = self.choices.get(0)
        return c.reasoning if c else ""

    @property
    def refusal(self) -> str:
        c = self.choices.get(0)
        return c.refusal if c else ""

    @property
    def tool_calls(self) -> list[AssembledToolCall]:
        c = self.choices.get(0)
        return c.tool_calls if c else []

    @property
    def finish_reason(self) -> str | None:
        c = self.choices.get(0)
        return c.finish_reason if c else None

    @property
    def model_used(self) -> str | None:
        c = self.choices.get(0)
        return self.meta.model or (c.model if c else None)

    @property
    def metrics(self) -> Metrics:
        ttft = None
        start = self.request_started_at or self.started_at
        if start is not None and self.first_token_at is not None:
            ttft = (self.first_token_at - start) * 1000
        total = None
        if self.started_at is not None:
            end = self.ended_at if self.ended_at is not None else self.last_token_at
            if end is not None:
                total = (end - self.started_at) * 1000
        reported = self.usage.completion_tokens if self.usage else None
        estimated = reported is None
        tokens = self.deltas if reported is None else reported
        rate = None
        if (
            self.first_token_at is not None
            and self.last_token_at is not None
            and self.last_token_at - self.first_token_at >= MIN_DECODE_WINDOW
            and tokens
        ):
            rate = tokens / (self.last_token_at - self.first_token_at)
        return Metrics(
            ttft_ms=ttft,
            tokens_per_s=rate,
            total_ms=total,
            completion_tokens=tokens if (tokens or not estimated) else None,
            estimated=estimated,
        )

    def cost(self, model_info: ModelInfo | None) -> float | None:
        """The price of this answer in the model's currency, from usage and per-1M prices."""
        if model_info is None or self.usage is None:
            return None
        prompt, completion = self.usage.prompt_tokens, self.usage.completion_tokens
        pp, cp = model_info.prompt_price, model_info.completion_price
        if prompt is None and completion is None:
            return None
        if (prompt and pp is None) or (completion and cp is None):
            return None
        return ((prompt or 0) * (pp or 0.0) + (completion or 0) * (cp or 0.0)) / 1_000_000

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (never a key: nothing here comes from the request headers)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "model_used": self.model_used,
            "routed_provider": self.meta.routed_provider,
            "status": self.status,
            "text": self.text,
            "reasoning": self.reasoning,
            "refusal": self.refusal or None,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "finish_reason": self.finish_reason,
            "usage": asdict(self.usage) if self.usage else None,
            "metrics": self.metrics.to_dict(),
            "retries": self.retries,
            "meta": {
                "response_id": self.meta.response_id,
                "session_id": self.meta.session_id,
                "system_fingerprint": self.meta.system_fingerprint,
                "service_tier": self.meta.service_tier,
                "invalid_bytes": self.meta.invalid_bytes,
                "headers": dict(self.meta.headers),
            },
            "choices": [c.to_dict() for _, c in sorted(self.choices.items())],
            "error": self.error.to_dict() if self.error else None,
        }

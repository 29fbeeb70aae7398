"""One view-model for a message as the chat view draws it, live or from the history.

`MessageView.from_stored` (a history row) and `MessageView.from_turn` (an answer that just
ended) give the same shape, and `paint` is the one place an answer widget is drawn from it, so a
live answer and the same answer reopened look alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from parley.core.protocol.errors import ErrorKind

if TYPE_CHECKING:
    from parley.core.chat.candidates import CandidateSet
    from parley.core.chat.session import Turn
    from parley.core.store import StoredMessage
    from parley.ui.message_widgets import AssistantMessageWidget

METRIC_KEYS = (
    "model_used",
    "ttft_ms",
    "tokens_per_s",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost",
    "total_ms",
    "currency",
    "estimated",
)


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


@dataclass(frozen=True)
class MessageView:
    """A message as drawn. `error` has kind, message, provider_message and provider_id."""

    id: str
    role: str
    content: Any = ""  # str, or parts (text, images)
    reasoning: str = ""
    status: str = "complete"
    error: Mapping[str, Any] | None = None
    retry_after: float | None = None  # a live rate-limit error: the countdown to a retry
    finish_reason: str | None = None
    tool_calls: Sequence[Any] | None = None
    refusal: str = ""
    branch: tuple[int, int] = (0, 1)
    metrics: Mapping[str, Any] | None = field(default=None)
    # The instruments (parley.ui.instruments): the request's candidates (with their token
    # probabilities) and the response format it asked for.
    candidates: CandidateSet | None = None
    response_format: Any = None
    # A stored answer's `extra`, read into `candidates` only when it is painted: a long chat's
    # rows are all made when it opens, and decoding their log-probabilities would cost.
    stored_extra: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: Any) -> MessageView:
        """A mapping or object with these names (the chat view's documented row)."""
        if isinstance(row, MessageView):
            return row
        branch = tuple(_get(row, "branch", None) or (0, 1))
        return cls(
            id=str(_get(row, "id", "")),
            role=str(_get(row, "role", "")),
            content=_get(row, "content", "") or "",
            reasoning=str(_get(row, "reasoning", "") or ""),
            status=str(_get(row, "status", "complete") or "complete"),
            error=_get(row, "error", None) or None,
            finish_reason=_get(row, "finish_reason", None),
            tool_calls=_get(row, "tool_calls", None),
            refusal=str(_get(row, "refusal", "") or ""),
            branch=(int(branch[0]), int(branch[1])),
            metrics=_get(row, "metrics", None),
            candidates=_get(row, "candidates", None),
            response_format=_get(row, "response_format", None),
            stored_extra=_get(row, "stored_extra", None),
        )

    @classmethod
    def from_stored(cls, m: StoredMessage, branch: tuple[int, int] = (0, 1)) -> MessageView:
        """A stored message (metrics merged from usage, cost and the model that answered)."""
        metrics: dict[str, Any] = dict(m.metrics or {})
        usage = m.usage or {}
        for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"):
            if usage.get(name) is not None:
                metrics[name] = usage[name]
        if m.model_used:
            metrics["model_used"] = m.model_used
        if m.cost is not None:
            metrics["cost"] = m.cost
        response_format = None
        # Parsing a long chat's bodies costs: only those that asked for a format.
        if (
            m.role == "assistant"
            and m.request_body_text
            and '"response_format"' in (m.request_body_text)
        ):
            response_format = (m.request_body or {}).get("response_format")
        return cls(
            id=str(m.id),
            role=m.role,
            content=m.content,
            reasoning=m.reasoning,
            status=m.status,
            error=m.error,
            finish_reason=m.finish_reason,
            tool_calls=[c.model_dump() for c in m.tool_calls] if m.tool_calls else None,
            refusal=m.refusal,
            branch=branch,
            metrics=metrics or None,
            response_format=response_format,
            stored_extra=m.extra if m.role == "assistant" else None,
        )

    @classmethod
    def from_turn(cls, turn: Turn) -> MessageView:
        """An answer that just ended (complete, stopped or failed)."""
        result = turn.result
        error: dict[str, Any] | None = None
        retry_after = None
        if result.status == "failed" and result.error is not None:
            err = result.error
            error = {
                "kind": err.kind.value,
                "message": err.message,
                "provider_message": err.provider_message,
                "provider_id": turn.spec.id,
            }
            retry_after = err.retry_after if err.kind is ErrorKind.RATE_LIMIT else None
        m = result.metrics
        usage = result.usage
        metrics = {
            "model_used": result.model_used,
            "ttft_ms": m.ttft_ms,
            "tokens_per_s": m.tokens_per_s,
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": m.completion_tokens,
            "reasoning_tokens": usage.reasoning_tokens if usage else None,
            "cached_tokens": usage.cached_tokens if usage else None,
            "cost": result.cost(turn.model_info),
            "total_ms": m.total_ms,
            "currency": (turn.model_info.currency if turn.model_info else None) or "USD",
            "estimated": m.estimated,
        }
        from parley.core.chat.session import turn_candidates

        response_format = None
        if b'"response_format"' in turn.prepared.body:
            body = turn.prepared.body_json
            response_format = body.get("response_format") if isinstance(body, dict) else None
        status = result.status if result.status in ("stopped", "failed") else "complete"
        if status == "failed" and error is None:
            status = "complete"
        return cls(
            id=str(turn.answer_id),
            role="assistant",
            content=result.text,
            reasoning=result.reasoning,
            status=status,
            error=error,
            retry_after=retry_after,
            finish_reason=result.finish_reason,
            tool_calls=[c.to_dict() for c in result.tool_calls] or None,
            refusal=result.refusal,
            metrics=metrics,
            candidates=turn_candidates(turn),
            response_format=response_format,
        )

    def with_chosen(self, index: int) -> MessageView:
        """This answer with candidate `index` as the one shown and carried on from."""
        from dataclasses import replace

        from parley.core.chat.candidates import CandidateSet

        cands = self.candidate_set()
        chosen = cands.get(index) if cands is not None else None
        if cands is None or chosen is None:
            return self
        return replace(
            self,
            content=chosen.text,
            reasoning=chosen.reasoning,
            finish_reason=chosen.finish_reason,
            candidates=CandidateSet(cands.candidates, index, cands.fan_out),
        )

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(_get(p, "text", "")) for p in self.content or [] if _get(p, "type") == "text"
        )

    def paint(self, w: AssistantMessageWidget) -> None:
        """Draw this answer on `w`: text, reasoning, tool calls, end state, metrics."""
        w.status = self.status
        if self.tool_calls:
            w.set_tool_calls(self.tool_calls)
        if self.refusal:
            w.set_refusal(self.refusal)
        w.set_text(self.text, self.reasoning)
        if self.status in ("stopped", "interrupted"):
            w.set_stopped(self.status)
        elif self.error:
            e = self.error
            w.set_error(
                str(_get(e, "kind", "")),
                str(_get(e, "message", "")),
                _get(e, "provider_message", None),
                _get(e, "provider_id", None) or _get(e, "provider", None),
                self.retry_after,
            )
        elif self.status != "streaming":
            w.set_finished(self.finish_reason or "stop")
        self._paint_instruments(w)
        if self.metrics:
            w.set_metrics(
                **{
                    k: self.metrics[k]
                    for k in METRIC_KEYS
                    if k in self.metrics and self.metrics[k] is not None
                }
            )

    def candidate_set(self) -> CandidateSet | None:
        """The answer's candidates (one when it has no others), or None when it has nothing
        for the instruments (no candidates, no token probabilities)."""
        if self.candidates is not None:
            return self.candidates
        extra = self.stored_extra
        if not extra or not ("choices" in extra or "logprobs" in extra):
            return None
        from parley.core.chat.candidates import from_stored

        return from_stored(self.text, self.reasoning, self.finish_reason, extra)

    def _paint_instruments(self, w: AssistantMessageWidget) -> None:
        cands = self.candidate_set()
        if w.instruments is None:
            from parley.ui.instruments.answer import wants_instruments

            if not wants_instruments(cands, self.response_format):
                return
            from parley.ui.instruments.answer import AnswerInstruments

            w.instruments = AnswerInstruments(w)
        w.instruments.show(cands, self.response_format)

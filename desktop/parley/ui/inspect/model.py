"""What the inspector shows of one answer, read from the history (no Qt here).

An `Inspection` is the stored answer with its exchange: the exact request body, each attempt's
request and response headers, its raw stream lines with their offsets, and the parsed result.
Nothing in it holds a key: the store keeps request headers redacted, and every text is passed
through `redact` with the keys the caller knows, in case a provider echoed one back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parley.core.protocol.errors import redact
from parley.core.protocol.exchange import ExchangeRecord, StreamLine
from parley.core.store import Store, StoredMessage

NO_EXCHANGE = (
    "No exchange was recorded for this answer (it was stored before Parley recorded them, "
    "or was imported without one)."
)


@dataclass(frozen=True)
class Inspection:
    answer_id: int
    conversation_id: int
    provider: str
    model: str
    status: str
    body_text: str  # the exact body sent (compact JSON), "" when none was stored
    attempts: list[ExchangeRecord]
    parsed: list[tuple[str, str]]  # (label, value) rows of the parsed result
    error: dict[str, Any] | None = None
    ttft_ms: float | None = None  # the footer's figure
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def last(self) -> ExchangeRecord | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def url(self) -> str:
        last = self.last
        return last.url if last is not None else ""

    @property
    def request_headers(self) -> dict[str, str]:
        last = self.last
        return dict(last.request_headers) if last is not None else {}

    @property
    def can_replay(self) -> bool:
        return bool(self.body_text)

    def clean(self, text: str) -> str:
        return redact(text, self.secrets) if self.secrets else text


def pretty_json(text: str) -> str:
    """A JSON text indented for reading; as it is when it does not parse."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def headers_text(headers: Mapping[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def timeline_text(lines: Iterable[StreamLine]) -> str:
    """Each raw line with its offset from the request start: `+123.4 ms  data: {...}`."""
    return "\n".join(f"{f'+{line.offset_ms:,.1f}':>10} ms  {line.text}" for line in lines)


def _fmt_int(value: Any) -> str | None:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else None


def parsed_rows(m: StoredMessage) -> list[tuple[str, str]]:
    """The parsed result as labelled rows (only what is known)."""
    meta = m.meta or {}
    usage = m.usage or {}
    metrics = m.metrics or {}
    rows: list[tuple[str, str | None]] = [
        ("Status", m.status),
        ("Finish reason", m.finish_reason),
        ("Model asked for", m.model),
        ("Model used", m.model_used or meta.get("model")),
        ("Provider", m.provider),
        ("Routed to", (m.extra or {}).get("routed_provider") or meta.get("routed_provider")),
        ("System fingerprint", meta.get("system_fingerprint")),
        ("Response id", meta.get("response_id")),
        ("Service tier", meta.get("service_tier")),
        ("Prompt tokens", _fmt_int(usage.get("prompt_tokens"))),
        ("Completion tokens", _fmt_int(usage.get("completion_tokens"))),
        ("Reasoning tokens", _fmt_int(usage.get("reasoning_tokens"))),
        ("Cached tokens", _fmt_int(usage.get("cached_tokens"))),
        ("Total tokens", _fmt_int(usage.get("total_tokens"))),
    ]
    ttft = metrics.get("ttft_ms")
    if isinstance(ttft, int | float):
        rows.append(("Time to first token", f"{ttft:,.1f} ms"))
    total = metrics.get("total_ms")
    if isinstance(total, int | float):
        rows.append(("Total time", f"{total / 1000:,.2f} s"))
    speed = metrics.get("tokens_per_s")
    if isinstance(speed, int | float):
        estimated = " (estimated)" if metrics.get("estimated") else ""
        rows.append(("Speed", f"{speed:,.1f} tok/s{estimated}"))
    if m.cost is not None:
        rows.append(("Cost", f"{m.cost:.6f}"))
    retries = (m.extra or {}).get("retries")
    if retries:
        rows.append(("Retries", str(retries)))
    if m.error:
        kind = m.error.get("kind")
        message = m.error.get("message")
        rows.append(("Error", f"{kind}: {message}" if kind else str(message)))
        if m.error.get("provider_message"):
            rows.append(("The provider said", str(m.error["provider_message"])))
    return [(label, str(value)) for label, value in rows if value not in (None, "")]


def inspect_answer(store: Store, answer_id: int, secrets: Iterable[str | None] = ()) -> Inspection:
    """The stored answer `answer_id` with its exchange. Raises StoreError."""
    m = store.get_message(answer_id)
    metrics = m.metrics or {}
    ttft = metrics.get("ttft_ms")
    return Inspection(
        answer_id=m.id,
        conversation_id=m.conversation_id,
        provider=m.provider or "",
        model=m.model or "",
        status=m.status,
        body_text=m.request_body_text or "",
        attempts=store.exchanges(answer_id),
        parsed=parsed_rows(m),
        error=m.error,
        ttft_ms=float(ttft) if isinstance(ttft, int | float) else None,
        secrets=tuple(s for s in secrets if s),
    )

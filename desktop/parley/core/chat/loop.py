"""The one stream loop: a PreparedRequest sent through the engine, folded into a ChatResult.

The chat session, `parley ask`, `parley replay` and the Lab's runner all call `stream()`. It
keeps whatever arrived, whatever happens: the result ends complete, stopped (the task was
cancelled; CancelledError is re-raised after the result is marked) or failed (with the error).
Every event is timed by the arrival of the network read that carried it, so the footer's time
to first token is the inspector's offset of the first content delta.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import replace
from typing import Protocol

from parley.core.chat.prepared import PreparedRequest
from parley.core.chat.result import ChatResult
from parley.core.protocol.errors import ErrorKind, ParleyError, known_secrets
from parley.core.protocol.events import (
    Event,
    Finished,
    LogprobsDelta,
    Meta,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from parley.core.protocol.exchange import Exchange


class Sender(Protocol):
    """What the loop needs of `parley.net.engine.Engine` (core never imports net)."""

    def send(
        self, prepared: PreparedRequest, exchange: Exchange | None = None
    ) -> AsyncGenerator[Event, None]: ...


EventHook = Callable[[Event], None]
RetryHook = Callable[[Retrying], None]


async def stream(
    engine: Sender,
    prepared: PreparedRequest,
    result: ChatResult,
    *,
    exchange: Exchange | None = None,
    on_event: EventHook | None = None,
    on_retry: RetryHook | None = None,
    yield_interval: float = 0.003,
    record: bool = True,
) -> Exchange:
    """Send `prepared`, apply every event to `result`, and return the exchange recorded
    (`record=False`: nothing is recorded, for measuring what recording costs)."""
    if exchange is None:
        exchange = Exchange()
    for secret in (prepared.key, *known_secrets()):
        if secret and secret not in exchange.secrets:
            exchange.secrets.append(secret)
    clock = time.monotonic
    result.mark_started(clock())
    last_yield = clock()
    attempts = exchange.attempts
    attempt = None
    try:
        async with contextlib.aclosing(
            engine.send(prepared, exchange if record else None)
        ) as events:
            async for event in events:
                now = clock()
                if now - last_yield >= yield_interval:
                    # One network read can hold thousands of events; let the UI breathe.
                    await asyncio.sleep(0)
                    last_yield = clock()
                if attempt is None and attempts:
                    attempt = attempts[-1]
                    result.request_started_at = attempt.t0
                if attempt is not None and attempt.last_chunk_at is not None:
                    now = attempt.last_chunk_at  # the arrival of the read that carried it
                result.apply(event, now)
                if isinstance(event, Retrying):
                    attempt = None  # the next attempt's request start is the one that counts
                    if on_retry is not None:
                        on_retry(event)
                    continue
                if on_event is not None:
                    on_event(event)
        result.mark_complete(clock())
    except asyncio.CancelledError:
        result.mark_stopped(clock())
        raise
    except ParleyError as err:
        result.mark_failed(err, clock())
    except Exception as exc:  # a bug must not lose the answer: keep what arrived, say so
        result.mark_failed(
            ParleyError(
                ErrorKind.PROTOCOL,
                f"Reading the answer failed unexpectedly ({type(exc).__name__}: {exc}). "
                "What arrived is kept.",
                provider=prepared.spec.name,
                partial=bool(result.text),
            ),
            clock(),
        )
    finally:
        # Whatever the provider sent back is scrubbed of every key Parley knows before anyone
        # shows, stores or exports it (a provider may echo a key in any field).
        result.scrub([s for s in exchange.secrets if s])
    return exchange


def _as_choice(event: Event, index: int) -> Event:
    """`event` of a fanned-out request's only choice as candidate `index` of the whole."""
    if isinstance(event, Meta):
        return replace(event, choice=index) if event.choice is not None else event
    if isinstance(
        event, TextDelta | ReasoningDelta | RefusalDelta | ToolCallDelta | LogprobsDelta | Finished
    ):
        return replace(event, choice=index)
    return event


async def stream_many(
    engine: Sender,
    requests: Sequence[PreparedRequest],
    result: ChatResult,
    *,
    on_event: EventHook | None = None,
    on_retry: RetryHook | None = None,
    yield_interval: float = 0.003,
    parts: list[tuple[ChatResult, Exchange]] | None = None,
) -> list[tuple[ChatResult, Exchange]]:
    """Send each request at once (the candidates of a provider without `n`), each through
    `stream()`, and fold request j's answer into `result` as candidate j. Returns every
    request's own result and exchange; `result` ends complete when any request gave an answer,
    failed (with the first error) when none did, stopped when cancelled. `parts`: a list to
    keep each request's result and exchange in as they go (what a stop leaves is then known)."""
    clock = time.monotonic
    if parts is None:
        parts = []
    parts[:] = [(ChatResult(result.provider, result.model), Exchange()) for _ in requests]
    for index in range(len(requests)):
        result.choice(index)  # every candidate exists before any finishes
    result.mark_started(clock())

    def forward(index: int, sub: ChatResult) -> EventHook:
        def hook(event: Event) -> None:
            if isinstance(event, Usage):
                return  # summed at the end
            if result.request_started_at is None:
                result.request_started_at = sub.request_started_at
            mapped = _as_choice(event, index)
            result.apply(mapped, sub.last_token_at or clock())
            if on_event is not None:
                on_event(mapped)

        return hook

    tasks = [
        asyncio.ensure_future(
            stream(
                engine,
                prepared,
                sub,
                exchange=exchange,
                on_event=forward(index, sub),
                on_retry=on_retry,
                yield_interval=yield_interval,
            )
        )
        for index, (prepared, (sub, exchange)) in enumerate(zip(requests, parts, strict=True))
    ]
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        result.mark_stopped(clock())
        raise
    finally:
        secrets = [s for _, ex in parts for s in ex.secrets if s]
        result.scrub(secrets)
        usages = [sub.usage for sub, _ in parts if sub.usage is not None]
        if usages:
            result.usage = _sum_usage(usages)
        result.retries = sum(sub.retries for sub, _ in parts)
    answered = [sub for sub, _ in parts if sub.status != "failed"]
    if answered:
        result.mark_complete(clock())
    else:
        first = parts[0][0].error
        if first is not None:
            result.mark_failed(first, clock())
    return parts


def _sum_usage(usages: Sequence[Usage]) -> Usage:
    def total(name: str) -> int | None:
        values = [getattr(u, name) for u in usages if getattr(u, name) is not None]
        return sum(values) if values else None

    return Usage(
        total("prompt_tokens"),
        total("completion_tokens"),
        total("total_tokens"),
        total("reasoning_tokens"),
        total("cached_tokens"),
    )

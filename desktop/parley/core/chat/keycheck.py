"""Testing a provider's key: list its models where that needs the key, else one token.

The one-token request is built by `prepare`, the builder every send uses, and sent with
`Engine.send`, so the test goes the way a send goes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Sequence
from typing import Any, Protocol

from parley.core.chat.prepared import PreparedRequest, prepare
from parley.core.protocol.errors import ParleyError
from parley.core.protocol.events import Event
from parley.core.protocol.exchange import Exchange
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import AuthScheme, ModelListing, ProviderSpec
from parley.core.providers.modellist import ModelInfo


def key_hint_text(spec: ProviderSpec) -> str:
    """How the provider's keys start, e.g. "eur_…" (from the file's `key_hint`)."""
    hint = (spec.auth.key_hint or "").rstrip(".…")
    return f"{hint}…" if hint else ""


class KeyChecker(Protocol):
    """What the key check needs of `parley.net.engine.Engine` (core never imports net)."""

    def list_models(
        self, spec: ProviderSpec, key: str | None, base_url: str | None = None, *, refresh: bool
    ) -> Awaitable[Sequence[ModelInfo]]: ...

    def send(
        self, prepared: PreparedRequest, exchange: Exchange | None = None
    ) -> AsyncGenerator[Event, None]: ...


async def check_key(
    engine: KeyChecker,
    spec: ProviderSpec,
    key: str | None,
    base_url: str | None = None,
    model: str | None = None,
) -> tuple[bool, str]:
    """Try `key` against `spec`; return (worked, what happened in plain words).

    Lists the models where the listing needs the key; otherwise sends a one-token request
    (the listing alone would not prove the key works).
    """
    needs_key = spec.auth.scheme is not AuthScheme.NONE and spec.auth.required
    works = "Key works" if spec.auth.scheme is not AuthScheme.NONE and key else "Connected"
    if needs_key and not key:
        return False, f"There is no key to test. Paste the key for {spec.name} first."
    listing = spec.models.listing is not ModelListing.NONE
    try:
        models: Sequence[ModelInfo] = []
        if listing:
            models = await engine.list_models(spec, key, base_url=base_url, refresh=True)
            if spec.models.needs_auth or not needs_key:
                return True, f"{works} — {len(models)} model{'s' if len(models) != 1 else ''}"
        chosen = (model or "").strip() or (models[0].id if models else "")
        if not chosen and spec.models.fallback:
            chosen = spec.models.fallback[0]
        if not chosen:
            return False, (
                f"{spec.name} has no model list to test the key with. Enter a model name to "
                "send a one-token test request."
            )
        await _one_token(engine, spec, key, base_url, chosen)
        return True, f"{works} — {chosen} answered"
    except ParleyError as err:
        return False, str(err)


async def _one_token(
    engine: KeyChecker, spec: ProviderSpec, key: str | None, base_url: str | None, model: str
) -> None:
    """A one-token request, built with the send's builder and sent as a send is."""
    params: dict[str, Any] = {}
    advanced: dict[str, Any] = {}
    limit = next(
        (p for p in spec.params if p.name in ("max_tokens", "max_completion_tokens")), None
    )
    if limit is not None:
        params[limit.name] = 1
    else:
        advanced["max_tokens"] = 1
    request = ChatRequest(
        provider=spec.id,
        model=model,
        messages=[Message(role="user", content="Hi")],
        params=params,
        advanced=advanced,
        stream=False,
        base_url=base_url or None,
    )
    prepared = prepare(spec, request, key, require_key=False)
    async with contextlib.aclosing(engine.send(prepared)) as events:
        async for _event in events:
            pass

"""`parley ask`, `parley providers` and `parley models`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from parley.commands.common import (
    EXIT_OK,
    _catalog,
    _echo,
    _echo_retry,
    _fail,
    _key_for,
    _model_dict,
    _parse_params,
    _provider,
    _read_prompt,
    _report_unsaved,
    _settings,
    finish_answer_output,
    terminal_text,
)
from parley.core.protocol.errors import EXIT_CODES, ErrorKind, ParleyError
from parley.core.providers.catalog import Catalog, ProviderSpec


async def _ask(args: argparse.Namespace, catalog: Catalog, spec: ProviderSpec) -> int:
    from parley.core.chat.prepared import prepare
    from parley.core.chat.result import ChatResult
    from parley.core.chat.session import RunConfig
    from parley.core.protocol.request import ChatRequest, Message
    from parley.net.engine import Engine

    settings = _settings()
    fallback = spec.models.fallback[0] if spec.models.fallback else ""
    advanced = json.loads(args.advanced) if args.advanced else {}
    if not isinstance(advanced, dict):
        raise ParleyError(ErrorKind.CONFIG, "--advanced must be a JSON object, like '{\"x\": 1}'.")
    config = RunConfig(
        provider=spec.id,
        model=args.model or settings.models.get(spec.id) or fallback,
        params=_parse_params(args.param),
        advanced=advanced,
        base_url=args.base_url or settings.base_urls.get(spec.id) or None,
        stream=not args.no_stream,
    )
    prompt = _read_prompt(args.prompt)
    echo = None if args.json else _echo
    deadlines = {} if args.deadline is None else {"deadline": args.deadline}
    if args.deadline is not None:
        deadlines["reasoning_deadline"] = args.deadline
    engine = Engine(proxy=settings.proxy, read_timeout=args.timeout, **deadlines)
    conversation_id: int | None = None
    answer_id: int | None = None
    try:
        if args.save:
            result, conversation_id, answer_id = await _ask_saved(
                engine, catalog, config, args.system, prompt, echo
            )
        else:
            messages = [Message(role="system", content=args.system)] if args.system else []
            messages.append(Message(role="user", content=prompt))
            request = ChatRequest(
                provider=spec.id,
                model=config.model,
                messages=messages,
                params=config.params,
                advanced=config.advanced,
                stream=config.stream,
                base_url=config.base_url,
            )
            prepared = prepare(spec, request, _key_for(spec))
            result = ChatResult(provider=spec.id, model=config.model)
            await _stream(engine, prepared, result, echo)
    finally:
        await engine.aclose()
    extra = (
        {}
        if conversation_id is None
        else {
            "conversation_id": conversation_id,
            "answer_id": answer_id,
        }
    )
    return finish_answer_output(result, as_json=args.json, extra=extra)


async def _stream(engine: Any, prepared: Any, result: Any, echo: Any) -> Any:
    """The one stream loop, echoing as it goes; a Ctrl+C keeps what arrived (stopped)."""
    from parley.core.chat.loop import stream

    with contextlib.suppress(asyncio.CancelledError):
        return await stream(engine, prepared, result, on_event=echo, on_retry=echo)
    return None


async def _ask_saved(
    engine: Any, catalog: Catalog, config: Any, system: str | None, prompt: str, echo: Any
) -> tuple[Any, int, int]:
    """`ask --save`: the window's own session path, so the exchange is stored as it streams."""
    from parley.core.app.secrets import KeyStore
    from parley.core.chat.session import ChatSession, NullListener, check_ready
    from parley.core.store import Store, StoreError

    class Done(NullListener):
        turn: Any = None

        def on_turn_done(self, turn: Any) -> None:
            self.turn = turn

    class Echo(Done):
        def on_event(self, turn: Any, event: Any) -> None:
            _echo(event)

        def on_retry(self, turn: Any, attempt: int, delay: float, error: ParleyError) -> None:
            _echo_retry(attempt, delay, error)

    keys = KeyStore()
    # A refused prompt (nothing typed, a bad parameter, no key) must leave nothing behind:
    # checked before the history, let alone a conversation, is created.
    check_ready(catalog, lambda pid: keys.get(pid).key, prompt, config)
    try:
        store = Store.open()
    except StoreError as err:
        raise ParleyError(ErrorKind.CONFIG, f"The history cannot be opened: {err}") from None
    listener = Echo() if echo else Done()
    try:
        session = ChatSession(store, engine, lambda pid: keys.get(pid).key, catalog, listener)
        conversation_id = session.new_conversation(config, system or "")
        turn = await session.send(conversation_id, prompt, config)
        return turn.result, conversation_id, turn.answer_id
    except StoreError as err:
        if listener.turn is None:  # nothing was answered yet
            raise ParleyError(ErrorKind.CONFIG, f"The history cannot be written: {err}") from None
        # The answer arrived (and was printed); the store keeps it and writes it on close,
        # or into a rescue file it writes later.
        return listener.turn.result, conversation_id, listener.turn.answer_id
    finally:
        store.close()
        _report_unsaved(store)


def cmd_ask(args: argparse.Namespace) -> int:
    try:
        catalog = _catalog()
        provider_id = args.provider or _settings().last_provider
        if not provider_id:
            raise ParleyError(
                ErrorKind.CONFIG, "Choose a provider with --provider (see `parley providers`)."
            )
        spec = _provider(catalog, provider_id)
        return asyncio.run(_ask(args, catalog, spec))
    except ParleyError as err:
        return _fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        return EXIT_CODES[ErrorKind.CANCELLED]
    except json.JSONDecodeError as err:
        return _fail(f"--advanced is not valid JSON: {err}", EXIT_CODES[ErrorKind.CONFIG])


# ---------------------------------------------------------------- providers / models


def cmd_providers(args: argparse.Namespace) -> int:
    catalog = _catalog()
    for problem in catalog.problems:
        print(f"parley: skipped a provider file: {problem}", file=sys.stderr)
    saved = _settings().base_urls  # what `ask` and the window use
    rows = [
        {
            "id": p.id,
            "name": p.name,
            "base_url": saved.get(p.id) or p.base_url or p.base_url_hint or "",
            "auth": p.auth.scheme.value if p.auth.required else "none",
            "local": p.local,
            "user": p.id in catalog.user_ids,
        }
        for p in catalog
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(r["id"]) for r in rows) if rows else 0
    for r in rows:
        extra = " (yours)" if r["user"] else ""
        print(f"{r['id']:<{width}}  {r['name']}{extra}  {r['base_url']}")
    return EXIT_OK


async def _models(spec: ProviderSpec, base_url: str | None) -> list[Any]:
    from parley.net.engine import Engine

    engine = Engine(proxy=_settings().proxy)
    try:
        return await engine.list_models(spec, _key_for(spec), base_url)
    finally:
        await engine.aclose()


def cmd_models(args: argparse.Namespace) -> int:
    try:
        spec = _provider(_catalog(), args.provider)
        base_url = args.base_url or _settings().base_urls.get(spec.id) or None
        models = asyncio.run(_models(spec, base_url))
    except ParleyError as err:
        return _fail(str(err), err.exit_code)
    if args.json:
        print(json.dumps([_model_dict(m) for m in models], indent=2))
        return EXIT_OK
    for m in models:
        details = []
        if m.context_length:
            details.append(f"{m.context_length:,} ctx")
        if m.prompt_price is not None and m.completion_price is not None:
            cur = m.currency or "USD"
            details.append(f"{m.prompt_price:g}/{m.completion_price:g} {cur} per 1M in/out")
        print(terminal_text(m.id, sys.stdout) + (f"  ({', '.join(details)})" if details else ""))
    return EXIT_OK

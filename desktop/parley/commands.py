"""The `parley` scripting commands: `ask`, `providers`, `models`, `history`, `export` and
`import` (and `--help` / `--version`); `sweep` lives in `parley.commands_lab`. `parley.cli`
sends everything else to the window. Nothing here imports Qt, so scripting stays light."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from parley import __version__
from parley.core.catalog import Catalog, ProviderSpec, load_catalog
from parley.core.errors import EXIT_CODES, ErrorKind, ParleyError
from parley.core.paths import database_path, user_providers_dir

EXIT_OK = 0
EXIT_UNEXPECTED = 1

_EXIT_MEANINGS = {
    ErrorKind.CONFIG: "bad input: unknown provider, invalid parameter, no key",
    ErrorKind.AUTH: "the key was refused (401) or access is forbidden (403)",
    ErrorKind.QUOTA: "quota or budget exhausted (EURI 403 quota, 402)",
    ErrorKind.RATE_LIMIT: "rate limited (429), still after retries",
    ErrorKind.BAD_REQUEST: "the provider rejected the request (400, 404, 422)",
    ErrorKind.SERVER: "the provider failed (5xx), still after retries",
    ErrorKind.NETWORK: "the provider could not be reached (refused, DNS, TLS)",
    ErrorKind.TIMEOUT: "the provider did not answer in time",
    ErrorKind.PROTOCOL: "a malformed or cut-off response; the partial answer was printed",
    ErrorKind.CANCELLED: "interrupted (Ctrl+C); the partial answer was printed",
}

ASK_EPILOG = (
    "exit codes:\n  0    the answer arrived in full\n  1    an unexpected internal error\n"
    + "".join(f"  {EXIT_CODES[k]:<4} {text}\n" for k, text in _EXIT_MEANINGS.items())
    + """
Values given with --param parse as JSON where they can (--param stop='["\\n"]',
--param temperature=0.2); otherwise they are taken as strings. PROMPT may be - for stdin.
The key comes from the OS keyring (set it in the window) or PARLEY_API_KEY_<ID>.
"""
)


def _catalog() -> Catalog:
    return load_catalog(user_dirs=[user_providers_dir()])


def _fail(message: str, code: int, out: TextIO | None = None) -> int:
    stream = out or sys.stderr
    print(f"parley: {terminal_text(message, stream)}", file=stream)
    return code


def _provider(catalog: Catalog, provider_id: str) -> ProviderSpec:
    spec = catalog.get(provider_id)
    if spec is None:
        known = ", ".join(sorted(catalog.providers))
        raise ParleyError(
            ErrorKind.CONFIG, f"There is no provider {provider_id!r}. Known providers: {known}."
        )
    return spec


def _settings() -> Any:
    from parley.core.settings import load_settings

    settings = load_settings()
    for problem in settings.problems:  # a broken file was set aside: say so, go on
        print(f"parley: {problem}", file=sys.stderr)
    return settings


def _key_for(spec: ProviderSpec) -> str | None:
    from parley.core.secrets import KeyStore

    return KeyStore().get(spec.id).key


def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    from parley.core.limits import LimitError
    from parley.core.params import parse_cli_value

    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise ParleyError(
                ErrorKind.CONFIG,
                f"--param takes NAME=VALUE, like temperature=0.2 (got {_shown(item)}).",
            )
        try:
            params[name.strip()] = parse_cli_value(raw)
        except LimitError as err:
            raise ParleyError(ErrorKind.CONFIG, f"--param {_shown(name)}: {err}.") from None
    return params


def _shown(text: str, limit: int = 60) -> str:
    """A value the user typed, quoted and cut short for a message."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 1]) + "…"


# Argument types: argparse reports a bad value as `argument --x: <message>` and exits 2.


def _seconds(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"takes a positive number of seconds, like 30 (got {_shown(text)})"
        )
    return value


def _positive_int(text: str) -> int:
    """A conversation id or a count: a whole number SQLite can hold."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value < 2**63:
        raise argparse.ArgumentTypeError(f"takes a whole number from 1 up (got {_shown(text)})")
    return value


def _json_object(text: str) -> str:
    """--advanced: checked here (a JSON object, bounded, finite numbers); given back as text,
    which `ask` parses."""
    from parley.core.limits import LimitError, finite_numbers, loads_json

    try:
        value = loads_json(text, "the JSON")
    except LimitError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, like '{\"x\": 1}'")
    if not finite_numbers(value):
        raise argparse.ArgumentTypeError("holds a number too large for JSON (like 1e400)")
    return text


def _read_prompt(prompt: str) -> str:
    if prompt == "-":
        return sys.stdin.read()
    return prompt


# ---------------------------------------------------------------- ask


async def _ask(args: argparse.Namespace, catalog: Catalog, spec: ProviderSpec) -> int:
    from parley.core.chat.prepared import prepare
    from parley.core.request import ChatRequest, Message
    from parley.core.result import ChatResult
    from parley.core.session import RunConfig
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


def finish_answer_output(result: Any, *, as_json: bool, extra: dict[str, Any]) -> int:
    """After an answer streamed (ask, replay): the JSON object or the closing newline and the
    error line, and the exit code."""
    if as_json:
        print(json.dumps({**result.to_dict(), **extra}, ensure_ascii=False))
    else:
        if result.text and not result.text.endswith("\n"):
            sys.stdout.write("\n")
        if result.error is not None:
            print(f"parley: {terminal_text(str(result.error), sys.stderr)}", file=sys.stderr)
    sys.stdout.flush()
    if result.error is not None:
        code: int = result.error.exit_code
        return code
    if result.status == "stopped":
        return EXIT_CODES[ErrorKind.CANCELLED]
    return EXIT_OK


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
    from parley.core.secrets import KeyStore
    from parley.core.session import ChatSession, NullListener, check_ready
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


def _report_unsaved(store: Any) -> None:
    problem = store.unsaved
    if problem is None:
        return
    if store.rescue_file is not None:
        where = (
            f"It was kept in {store.rescue_file} and goes into the history the next time "
            "Parley opens it for writing."
        )
    else:
        where = "It could not be kept anywhere else either; the printed answer is all there is."
    print(
        f"parley: the answer is not in the history yet: {problem.message} {where}", file=sys.stderr
    )


# Control characters a terminal acts on (escape sequences start with ESC or C1 CSI/OSC):
# everything below space except tab and newline, DEL, and the C1 range.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str, stream: TextIO) -> str:
    """`text` as it may be written to `stream`: on a terminal, without the control characters
    a provider could use to move the cursor, retitle the window or hide text (the raw text
    stays in --json and the history)."""
    if not _is_terminal(stream):
        return text
    return _TERMINAL_CONTROLS.sub("", text)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _echo(event: object) -> None:
    from parley.core.events import ReasoningDelta, RefusalDelta, Retrying, TextDelta

    if isinstance(event, TextDelta) and event.choice == 0:
        sys.stdout.write(terminal_text(event.text, sys.stdout))
        sys.stdout.flush()
    elif isinstance(event, ReasoningDelta | RefusalDelta) and event.choice == 0:
        sys.stderr.write(terminal_text(event.text, sys.stderr))
        sys.stderr.flush()
    elif isinstance(event, Retrying):
        _echo_retry(event.attempt, event.delay, event.error)


def _echo_retry(attempt: int, delay: float, error: object) -> None:
    said = terminal_text(str(error), sys.stderr)
    print(f"parley: {said} Retrying in {delay:.1f} s (attempt {attempt}).", file=sys.stderr)


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


def _model_dict(m: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(m) and not isinstance(m, type):
        return dataclasses.asdict(m)
    dump = getattr(m, "model_dump", None)
    return dump() if callable(dump) else dict(vars(m))


# ---------------------------------------------------------------- history / export / import


def _open_store(read_only: bool = False) -> Any:
    from parley.core.store import Store

    return Store.open(read_only=read_only)


def cmd_history(args: argparse.Namespace) -> int:
    from parley.commands_lab import history_json, history_lines
    from parley.core.store import StoreError, StoreErrorKind

    if args.conversation is not None:
        return _history_of(args)
    convs: list[Any] = []
    lab: list[Any] = []
    if database_path().exists():
        try:
            with _open_store(read_only=True) as store:
                if not args.experiments:
                    convs = store.list_conversations(limit=args.limit)
                if args.experiments or not args.json:
                    lab = (history_json if args.json else history_lines)(store, args.limit)
        except StoreError as err:
            if err.kind is not StoreErrorKind.NOT_FOUND:  # an empty file: nothing saved yet
                return _fail(str(err), EXIT_UNEXPECTED)
            convs = []
    if args.json:
        rows = lab if args.experiments else [_model_dict(c) for c in convs]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for c in convs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated_at))
        pin = "*" if c.pinned else " "
        print(f"{pin} {c.id:>6}  {when}  {c.title or '(untitled)'}")
    if lab:
        print("Experiments (parley export --experiment ID):")
        print("\n".join(lab))
    return EXIT_OK


def _history_of(args: argparse.Namespace) -> int:
    """One conversation's shown branch, a message a line, with the ids inspect/replay take."""
    from parley.core.store import StoreError

    if not database_path().exists():
        return _fail("There are no conversations yet.", EXIT_CODES[ErrorKind.CONFIG])
    try:
        with _open_store(read_only=True) as store:
            path = store.current_path(args.conversation)
    except StoreError as err:
        return _fail(str(err), EXIT_CODES[ErrorKind.CONFIG])
    if args.json:
        rows = [
            {
                "id": m.id,
                "parent_id": m.parent_id,
                "role": m.role,
                "status": m.status,
                "provider": m.provider,
                "model": m.model_used or m.model,
                "text": m.text,
            }
            for m in path
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for m in path:
        first = (m.text.strip().splitlines() or [""])[0]
        first = first if len(first) <= 70 else first[:69] + "…"
        model = f" [{m.model_used or m.model}]" if m.role == "assistant" else ""
        print(f"{m.id:>7}  {m.role:<9}{model} {first}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from parley.core.export import ExportWriteError, export_conversation, write_export
    from parley.core.store import StoreError

    if not database_path().exists():
        return _fail("There are no conversations yet.", EXIT_CODES[ErrorKind.CONFIG])
    if args.experiment is not None:
        from parley.commands_lab import cmd_export_experiment

        return cmd_export_experiment(args)
    args.format = args.format or "md"
    if args.format not in ("md", "json"):
        return _fail("A conversation exports as md or json.", EXIT_CODES[ErrorKind.CONFIG])
    try:
        with _open_store(read_only=True) as store:
            conv_id = args.id
            if args.last or conv_id is None:
                conv_id = store.latest_conversation_id()
                if conv_id is None:
                    return _fail(
                        "There are no conversations to export.", EXIT_CODES[ErrorKind.CONFIG]
                    )
            text = export_conversation(store, conv_id, args.format, secrets=_all_keys())
    except StoreError as err:
        return _fail(str(err), EXIT_CODES[ErrorKind.CONFIG])
    if args.output:
        try:
            write_export(args.output, text)
        except ExportWriteError as err:
            return _fail(err.message, EXIT_CODES[ErrorKind.CONFIG])
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _all_keys() -> list[str]:
    """Every key Parley can find (environment and keyring, for every provider it knows), to
    scrub from an export: a key pasted into a chat for another provider is still a key."""
    from parley.core.export import env_secrets
    from parley.core.secrets import KeyStore

    keys = list(env_secrets())
    try:
        store = KeyStore()
        for spec in _catalog():
            with contextlib.suppress(Exception):  # a locked or absent keyring: env only
                key = store.get(spec.id).key
                if key:
                    keys.append(key)
    except Exception:
        pass
    return keys


MAX_IMPORT_BYTES = 100 * 1024 * 1024  # an export with many images is still far smaller


def cmd_import(args: argparse.Namespace) -> int:
    from parley.core.export import import_json
    from parley.core.limits import LimitError, read_capped
    from parley.core.store import StoreError

    try:
        data = read_capped(Path(args.file), MAX_IMPORT_BYTES, regular_only=False)
    except LimitError as err:
        return _fail(f"Cannot import {args.file}: {err}.", EXIT_CODES[ErrorKind.CONFIG])
    except OSError as err:
        reason = err.strerror or str(err)
        return _fail(f"Cannot read {args.file}: {reason}.", EXIT_CODES[ErrorKind.CONFIG])
    try:
        with _open_store() as store:
            conv_id = import_json(store, data)
    except StoreError as err:
        return _fail(f"{args.file}: {err}", EXIT_CODES[ErrorKind.CONFIG])
    print(conv_id)
    return EXIT_OK


# ---------------------------------------------------------------- entry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: a desktop chat client for LLM chat-completion APIs. "
        "Without a command it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    parser.add_argument(
        "--self-test", action="store_true", help="start the window, report readiness, exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser(
        "ask",
        help="stream one answer to stdout",
        description="Stream one answer to stdout (reasoning to stderr).",
        epilog=ASK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ask.add_argument("--provider", "-p", metavar="ID", help="provider id (see `parley providers`)")
    ask.add_argument("--base-url", metavar="URL", help="override the provider's base URL")
    ask.add_argument("--model", "-m", metavar="M", help="model id")
    ask.add_argument(
        "--param", metavar="NAME=VALUE", action="append", default=[], help="set a parameter"
    )
    ask.add_argument(
        "--advanced",
        metavar="JSON",
        type=_json_object,
        help="a JSON object merged into the body last",
    )
    ask.add_argument("--system", metavar="TEXT", help="system prompt")
    ask.add_argument("--no-stream", action="store_true", help="ask for one non-streamed response")
    ask.add_argument("--json", action="store_true", help="print one JSON object at the end")
    ask.add_argument("--save", action="store_true", help="store the exchange in the history")
    ask.add_argument(
        "--timeout", type=_seconds, default=120.0, metavar="S", help="read timeout (default 120)"
    )
    ask.add_argument(
        "--deadline",
        type=_seconds,
        default=None,
        metavar="S",
        help="the longest one attempt may take, start to end (default 600; 1800 for reasoning)",
    )
    ask.add_argument("prompt", metavar="PROMPT", help="the prompt, or - to read stdin")
    ask.set_defaults(func=cmd_ask)

    providers = sub.add_parser("providers", help="list the providers")
    providers.add_argument("--json", action="store_true")
    providers.set_defaults(func=cmd_providers)

    models = sub.add_parser("models", help="list a provider's models")
    models.add_argument("provider", metavar="ID")
    models.add_argument("--base-url", metavar="URL")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)

    history = sub.add_parser(
        "history",
        help="list conversations and experiments, newest first (or one conversation's messages)",
        description="List conversations, newest first; with CONVERSATION, that conversation's "
        "messages on the shown branch with their ids (for `inspect` and `replay`).",
    )
    history.add_argument("conversation", nargs="?", type=_positive_int, metavar="CONVERSATION")
    history.add_argument("--limit", type=_positive_int, default=50)
    history.add_argument("--json", action="store_true")
    history.add_argument("--experiments", action="store_true", help="list only experiments")
    history.set_defaults(func=cmd_history)

    export = sub.add_parser("export", help="write a conversation (or an experiment) to a file")
    export.add_argument("id", nargs="?", type=_positive_int, metavar="ID")
    export.add_argument("--last", action="store_true", help="the most recent conversation")
    export.add_argument(
        "--experiment",
        type=_positive_int,
        metavar="ID",
        help="an experiment (see `parley history`)",
    )
    export.add_argument(
        "--format",
        choices=["md", "json", "csv", "jsonl", "yaml"],
        help="md (default) or json; an experiment also csv, jsonl or yaml (a promptfoo config)",
    )
    export.add_argument("-o", "--output", metavar="FILE")
    export.set_defaults(func=cmd_export)

    imp = sub.add_parser("import", help="import a conversation exported as JSON")
    imp.add_argument("file", metavar="FILE")
    imp.set_defaults(func=cmd_import)

    from parley.commands_inspect import add_parsers

    add_parsers(sub)

    from parley.commands_lab import add_parser as add_sweep_parser

    add_sweep_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        from parley.app import main as window_main

        return window_main(["--self-test"] if args.self_test else [])
    try:
        code: int = args.func(args)
    except BrokenPipeError:
        return EXIT_OK
    except ParleyError as err:  # e.g. the data folder is unusable (PARLEY_HOME is a file)
        return _fail(str(err), err.exit_code)
    except Exception as exc:
        if os.environ.get("PARLEY_DEBUG"):
            raise
        return _fail(
            f"An unexpected internal error stopped this command ({type(exc).__name__}: {exc}). "
            "Please report it; set PARLEY_DEBUG=1 to see the details.",
            EXIT_UNEXPECTED,
        )
    return code

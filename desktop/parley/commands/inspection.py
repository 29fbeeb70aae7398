"""`parley inspect` and `parley replay`: one stored answer's exchange, printed or sent again.

An answer is named by its id (`parley ask --save --json` prints it as `answer_id`, `parley
history CONVERSATION` lists a conversation's messages with theirs) or `--last`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from parley.core.app.paths import database_path
from parley.core.protocol.errors import EXIT_CODES, ErrorKind, ParleyError

FORMATS = ("request", "response", "events", "curl", "python", "js", "json")

INSPECT_EPILOG = """formats:
  request   method, URL, headers (key redacted) and the pretty-printed body (default)
  response  status and headers of the response (each attempt)
  events    one raw stream line per line, prefixed by its offset: +123.4 data: {...}
  curl, python, js
            a snippet that sends the same request; it reads the key from
            PARLEY_API_KEY_<ID> and never contains it
  json      the exact request body
"""


def _fail(message: str, code: int) -> int:
    from parley.commands.common import terminal_text

    print(f"parley: {terminal_text(message, sys.stderr)}", file=sys.stderr)
    return code


def _answer_id(store: Any, answer_id: int | None, last: bool) -> int:
    from parley.core.store import StoreError

    if last or answer_id is None:
        found = store.latest_answer_id()
        if found is None:
            raise ParleyError(ErrorKind.CONFIG, "There are no answers in the history yet.")
        return int(found)
    try:
        msg = store.get_message(answer_id)
    except StoreError:
        raise ParleyError(ErrorKind.CONFIG, f"There is no message {answer_id}.") from None
    if msg.role != "assistant":
        raise ParleyError(
            ErrorKind.CONFIG,
            f"Message {answer_id} is not an answer (it is the {msg.role}'s); "
            "`parley history CONVERSATION` lists the answers.",
        )
    return answer_id


def _secrets() -> list[str]:
    from parley.core.store.export import env_secrets

    return env_secrets()


def cmd_inspect(args: argparse.Namespace) -> int:
    from parley.core.lab.snippets import SNIPPETS, json_snippet
    from parley.core.protocol.errors import redact
    from parley.core.store import Store, StoreError

    if not database_path().exists():
        return _fail("There are no answers in the history yet.", EXIT_CODES[ErrorKind.CONFIG])
    try:
        with Store.open(read_only=True) as store:
            answer_id = _answer_id(store, args.id, args.last)
            answer = store.get_message(answer_id)
            attempts = store.exchanges(answer_id)
    except StoreError as err:
        return _fail(str(err), EXIT_CODES[ErrorKind.CONFIG])
    except ParleyError as err:
        return _fail(str(err), err.exit_code)
    secrets = _secrets()
    body = answer.request_body_text or ""
    last = attempts[-1] if attempts else None
    fmt = args.format
    out: list[str] = []
    if fmt == "json":
        # The exact bytes (no newline added), so `parley inspect --format json > body.json`
        # can be sent as it is; a terminal gets a newline after it.
        sys.stdout.write(json_snippet(body, secrets) + ("\n" if sys.stdout.isatty() else ""))
        return 0
    if fmt in SNIPPETS:
        if last is None:
            return _fail(
                f"Answer {answer_id} was stored before exchanges were recorded: no URL or "
                "headers to build a snippet from (`--format json` prints its body).",
                EXIT_CODES[ErrorKind.CONFIG],
            )
        provider = answer.provider or ""
        out.append(SNIPPETS[fmt](last.url, last.request_headers, body, provider, secrets))
    elif fmt == "request":
        if last is not None:
            out.append(f"{last.method} {last.url}")
            out += [f"{k}: {v}" for k, v in last.request_headers.items()]
            out.append("")
        out.append(_pretty(redact(body, secrets)))
    elif fmt == "response":
        if not attempts:
            out.append(f"(no exchange was recorded for answer {answer_id})")
        for a in attempts:
            took = f" in {a.duration_ms:.1f} ms" if a.duration_ms is not None else ""
            out.append(f"attempt {a.attempt}: HTTP {a.status if a.status else '-'}{took}")
            out += [f"{k}: {v}" for k, v in a.response_headers.items()]
            if a.error:
                out.append(f"error: {a.error.get('message', '')}")
            out.append("")
    else:  # events
        for a in attempts:
            if len(attempts) > 1:
                out.append(f"# attempt {a.attempt}: HTTP {a.status if a.status else '-'}")
            out += [f"+{line.offset_ms:.1f} {line.text}" for line in a.events]
            if a.truncated:
                out.append("# (cut here: the raw stream was longer than the 5 MB kept)")
    text = "\n".join(out)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def cmd_replay(args: argparse.Namespace) -> int:
    from parley.core.store import StoreError

    if not database_path().exists():
        return _fail("There are no answers in the history yet.", EXIT_CODES[ErrorKind.CONFIG])
    try:
        return asyncio.run(_replay(args))
    except ParleyError as err:
        return _fail(str(err), err.exit_code)
    except StoreError as err:
        return _fail(str(err), EXIT_CODES[ErrorKind.CONFIG])
    except KeyboardInterrupt:
        return EXIT_CODES[ErrorKind.CANCELLED]


async def _replay(args: argparse.Namespace) -> int:
    from parley.commands.ask import _stream
    from parley.commands.common import (
        _catalog,
        _echo,
        _key_for,
        _settings,
        finish_answer_output,
    )
    from parley.core.app.secrets import KeyStore
    from parley.core.chat.prepared import stored_request
    from parley.core.chat.result import ChatResult
    from parley.core.chat.session import ChatSession, RunConfig, chat_url
    from parley.core.store import Store
    from parley.net.engine import Engine

    catalog = _catalog()
    settings = _settings()
    store = Store.open(read_only=not args.save)
    engine = Engine(proxy=settings.proxy, read_timeout=args.timeout)
    try:
        answer_id = _answer_id(store, args.id, args.last)
        answer = store.get_message(answer_id)
        spec = catalog.get(answer.provider or "")
        if spec is None:
            raise ParleyError(
                ErrorKind.CONFIG, f"Answer {answer_id} came from {answer.provider!r}, not known."
            )
        body = answer.request_body_text
        if not body:
            raise ParleyError(ErrorKind.CONFIG, f"Answer {answer_id} has no stored request.")
        config = RunConfig(
            provider=spec.id,
            model=answer.model or "",
            base_url=settings.base_urls.get(spec.id) or None,
        )
        if args.save:
            keys = KeyStore()
            session = ChatSession(store, engine, lambda pid: keys.get(pid).key, catalog)
            if not args.json:
                session.listener = _EchoListener()
            turn = await session.replay(answer.conversation_id, answer_id, config)
            result = turn.result
            extra: dict[str, Any] = {"answer_id": turn.answer_id}
        else:
            url = store.request_url(answer_id) or chat_url(spec, config)
            prepared = stored_request(spec, url, body, _key_for(spec))
            result = ChatResult(provider=spec.id, model=answer.model)
            await _stream(engine, prepared, result, None if args.json else _echo)
            extra = {}
    finally:
        await engine.aclose()
        store.close()
    return finish_answer_output(result, as_json=args.json, extra=extra)


class _EchoListener:
    def on_turn_started(self, turn: Any) -> None:
        pass

    def on_event(self, turn: Any, event: Any) -> None:
        from parley.commands.common import _echo

        _echo(event)

    def on_retry(self, turn: Any, attempt: int, delay: float, error: ParleyError) -> None:
        from parley.commands.common import _echo_retry

        _echo_retry(attempt, delay, error)

    def on_turn_done(self, turn: Any) -> None:
        pass


def add_parsers(sub: Any) -> None:
    from parley.commands.common import (  # bounded values: exit 2, clear words
        _positive_int,
        _seconds,
    )

    inspect = sub.add_parser(
        "inspect",
        help="print what was sent and received for one answer",
        description="Print one stored answer's exchange: the exact request (key redacted), "
        "the response, the raw stream lines with their offsets, or a snippet that sends it.",
        epilog=INSPECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("id", nargs="?", type=_positive_int, metavar="ID", help="the answer's id")
    inspect.add_argument("--last", action="store_true", help="the last answer in the history")
    inspect.add_argument("--format", choices=FORMATS, default="request")
    inspect.set_defaults(func=cmd_inspect)

    replay = sub.add_parser(
        "replay",
        help="send a stored answer's exact request again",
        description="Send a stored answer's request body again, byte for byte, and stream the "
        "answer as `ask` does (with --save, as a new sibling of that answer in the history).",
    )
    replay.add_argument("id", nargs="?", type=_positive_int, metavar="ID", help="the answer's id")
    replay.add_argument("--last", action="store_true", help="the last answer in the history")
    replay.add_argument("--save", action="store_true", help="store the new answer")
    replay.add_argument("--json", action="store_true", help="print one JSON object at the end")
    replay.add_argument("--timeout", type=_seconds, default=120.0, metavar="S")
    replay.set_defaults(func=cmd_replay)

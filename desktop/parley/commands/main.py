"""The `parley` command line: the parser and the entry point."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from parley import __version__
from parley.commands.ask import cmd_ask, cmd_models, cmd_providers
from parley.commands.common import (
    _EXIT_MEANINGS,
    EXIT_OK,
    EXIT_UNEXPECTED,
    _fail,
    _json_object,
    _positive_int,
    _seconds,
)
from parley.commands.history import cmd_export, cmd_history, cmd_import
from parley.core.protocol.errors import EXIT_CODES, ParleyError

ASK_EPILOG = (
    "exit codes:\n  0    the answer arrived in full\n  1    an unexpected internal error\n"
    + "".join(f"  {EXIT_CODES[k]:<4} {text}\n" for k, text in _EXIT_MEANINGS.items())
    + """
Values given with --param parse as JSON where they can (--param stop='["\\n"]',
--param temperature=0.2); otherwise they are taken as strings. PROMPT may be - for stdin.
The key comes from the OS keyring (set it in the window) or PARLEY_API_KEY_<ID>.
"""
)


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

    from parley.commands.inspection import add_parsers

    add_parsers(sub)

    from parley.commands.lab import add_parser as add_sweep_parser

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

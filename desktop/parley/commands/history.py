"""`parley history`, `parley export` and `parley import`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from parley.commands.common import (
    EXIT_OK,
    EXIT_UNEXPECTED,
    _all_keys,
    _fail,
    _model_dict,
    _open_store,
)
from parley.core.app.paths import database_path
from parley.core.protocol.errors import EXIT_CODES, ErrorKind


def cmd_history(args: argparse.Namespace) -> int:
    from parley.commands.lab import history_json, history_lines
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
    from parley.core.store import StoreError
    from parley.core.store.export import ExportWriteError, export_conversation, write_export

    if not database_path().exists():
        return _fail("There are no conversations yet.", EXIT_CODES[ErrorKind.CONFIG])
    if args.experiment is not None:
        from parley.commands.lab import cmd_export_experiment

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


MAX_IMPORT_BYTES = 100 * 1024 * 1024  # an export with many images is still far smaller


def cmd_import(args: argparse.Namespace) -> int:
    from parley.core.protocol.limits import LimitError, read_capped
    from parley.core.store import StoreError
    from parley.core.store.export import import_json

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

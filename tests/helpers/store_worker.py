"""A separate process using the history store, for the kill and second-instance tests.

python -m tests.helpers.store_worker stream DB [--interval S] [--burst N] [--pause S]
    Creates a conversation and streams tokens "t0 t1 t2 ..." into one answer through
    begin_answer/save_partial, forever. Prints "READY <conv> <msg>", then after each
    save_partial "TOK <i> <time.monotonic()>", and "PAUSE <t>" before each pause of
    `--pause` seconds taken every `--burst` tokens (a stream that stalls).

python -m tests.helpers.store_worker write DB --count N --tag TAG
    Creates N conversations titled "TAG i", each with a prompt and an answer; prints "DONE".

python -m tests.helpers.store_worker hold DB SECONDS
    Takes the write lock (BEGIN IMMEDIATE), prints "LOCKED", keeps it SECONDS, then commits
    and prints "RELEASED": another program in the middle of a long write.

python -m tests.helpers.store_worker first-open DIR --rounds N
    Prints "READY"; then for each round i reads a line from stdin (the starting signal, so
    several workers start together), opens DIR/history-i.sqlite3 (brand-new for the first of
    them), adds a conversation and prints "OK <i>" or "ERR <i> <kind> <message>".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from parley.core.store import Store

STREAM_TOKENS = 20_000


def stream_text(n: int = STREAM_TOKENS) -> str:
    """What the stream says in full: "t0 t1 t2 ... "."""
    return "".join(f"t{i} " for i in range(n))


def stream(db: str, interval: float, burst: int, pause: float) -> None:
    store = Store.open(db)
    conv = store.create_conversation(provider="emulated", model="m")
    user = store.add_message(conv, None, "user", "Count for me")
    msg = store.begin_answer(conv, user, {"model": "m", "stream": True}, "emulated", "m")
    print(f"READY {conv} {msg}", flush=True)
    text = ""
    i = 0
    while True:
        text += f"t{i} "
        store.save_partial(msg, text, reasoning=f"r{i}")
        print(f"TOK {i} {time.monotonic():.6f} {len(text)}", flush=True)
        i += 1
        if burst and i % burst == 0:
            print(f"PAUSE {time.monotonic():.6f}", flush=True)
            time.sleep(pause)
        else:
            time.sleep(interval)


async def _engine_stream(db: str, chunk_delay: float) -> None:
    # Imported here: the other commands start faster without the engine and the emulator.
    from parley.core.chat.result import ChatResult
    from parley.core.protocol.events import TextDelta
    from parley.core.protocol.request import ChatRequest, Message
    from parley.core.providers.catalog import load_catalog
    from parley.core.providers.wire import build_wire_request
    from parley.net.engine import Engine
    from tests.helpers.emulator import Behavior, Emulator

    spec = load_catalog().providers["euri"]
    with Emulator(
        default=Behavior(text=stream_text(), chunk_chars=6, chunk_delay=chunk_delay)
    ) as emu:
        request = ChatRequest(
            provider="euri",
            model="gpt-4.1-mini",
            messages=[Message(role="user", content="Count for me")],
            base_url=emu.base_url("euri"),
        )
        store = Store.open(db)
        conv, parent = store.start_from_request(request)
        body = build_wire_request(spec, request).body
        msg = store.begin_answer(conv, parent, body, "euri", request.model)
        print(f"READY {conv} {msg}", flush=True)
        result = ChatResult(provider="euri", model=request.model)
        engine = Engine()
        i = 0
        async with contextlib.aclosing(engine.run(spec, request, emu.key("euri"))) as events:
            async for event in events:
                result.apply(event)
                if isinstance(event, TextDelta):
                    store.save_partial(msg, result.text, result.reasoning)
                    print(f"TOK {i} {time.monotonic():.6f} {len(result.text)}", flush=True)
                    i += 1
        await engine.aclose()


def write(db: str, count: int, tag: str) -> None:
    with Store.open(db, busy_timeout=10.0) as store:
        for i in range(count):
            conv = store.create_conversation()
            user = store.add_message(conv, None, "user", f"{tag} {i}")
            answer = store.begin_answer(conv, user, {}, "p", "m")
            store.save_partial(answer, "partial")
            store.finish_answer(answer, text=f"answer {tag} {i}")
    print("DONE", flush=True)


def hold(db: str, seconds: float) -> None:
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    print("LOCKED", flush=True)
    time.sleep(seconds)
    conn.execute("COMMIT")
    print("RELEASED", flush=True)


def first_open(folder: str, rounds: int) -> None:
    from parley.core.store import StoreError

    print("READY", flush=True)
    for i in range(rounds):
        sys.stdin.readline()
        try:
            with Store.open(f"{folder}/history-{i}.sqlite3", busy_timeout=10.0) as store:
                store.create_conversation(title=f"round {i}")
            print(f"OK {i}", flush=True)
        except StoreError as exc:
            print(f"ERR {i} {exc.kind.value} {exc.message}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stream")
    s.add_argument("db")
    s.add_argument("--interval", type=float, default=0.02)
    s.add_argument("--burst", type=int, default=0)
    s.add_argument("--pause", type=float, default=0.0)
    e = sub.add_parser("engine")
    e.add_argument("db")
    e.add_argument("--chunk-delay", type=float, default=0.01)
    w = sub.add_parser("write")
    w.add_argument("db")
    w.add_argument("--count", type=int, default=50)
    w.add_argument("--tag", default="w")
    h = sub.add_parser("hold")
    h.add_argument("db")
    h.add_argument("seconds", type=float)
    f = sub.add_parser("first-open")
    f.add_argument("folder")
    f.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "stream":
        stream(args.db, args.interval, args.burst, args.pause)
    elif args.command == "engine":
        asyncio.run(_engine_stream(args.db, args.chunk_delay))
    elif args.command == "hold":
        hold(args.db, args.seconds)
    elif args.command == "first-open":
        first_open(args.folder, args.rounds)
    else:
        write(args.db, args.count, args.tag)


if __name__ == "__main__":
    main(sys.argv[1:])

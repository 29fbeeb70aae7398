"""Run the emulator by hand: `python -m tests.helpers.emulator --port 8765 [--chunk-delay S]`."""

from __future__ import annotations

import argparse
import time

from . import PROVIDERS, Behavior, Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.helpers.emulator",
        description="Serve the five providers' chat APIs (plus generic OpenAI) on loopback.",
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--chunk-chars", type=int, default=4, help="characters per chunk")
    parser.add_argument("--first-byte-delay", type=float, default=0.0)
    parser.add_argument("--reasoning", default=None, help="reasoning text to stream first")
    parser.add_argument(
        "--sampled", action="store_true", help="short replies drawn from the request's seed"
    )
    args = parser.parse_args(argv)
    default = Behavior(
        chunk_delay=args.chunk_delay,
        chunk_chars=args.chunk_chars,
        first_byte_delay=args.first_byte_delay,
        reasoning=args.reasoning,
        sampled=args.sampled,
    )
    emu = Emulator(args.port, args.host, default=default)
    emu.start()
    print(f"Provider emulator on http://{args.host}:{emu.port}  (Ctrl-C stops it)")
    for provider in (*PROVIDERS, "ollama"):
        key = "(no key needed)" if provider in emu.no_auth else emu.key(provider)
        print(f"  {provider:16} {emu.base_url(provider):45} {key}")
    print(
        "Any other id speaks generic OpenAI; its key: "
        f"curl 'http://{args.host}:{emu.port}/?id=<id>'",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

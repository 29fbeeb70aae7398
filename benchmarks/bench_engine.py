"""Streaming engine figures against the loopback provider emulator, in one run:

- client overhead on time to first token: Engine.run vs a bare httpx + httpx-sse request to the
  same server (median over many runs; target: overhead <= 5 ms);
- decode throughput (tokens/s) of Engine.run vs a bare httpx-sse loop over one long stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from tests.helpers.emulator import Behavior, Emulator

from parley.core.catalog import ProviderSpec, load_catalog
from parley.core.events import TextDelta
from parley.core.request import ChatRequest, Message
from parley.net.engine import Engine, RetryPolicy

ROUTE = "openai"
TTFT_RUNS = 300
OVERHEAD_TARGET_MS = 5.0
LONG_CHARS = 200_000  # 50,000 chunks of 4 characters
THROUGHPUT_RUNS = 3


def _spec() -> ProviderSpec:
    spec = load_catalog().get("openai-compatible")
    if spec is None:
        raise RuntimeError("the openai-compatible provider file is missing")
    return spec


def _request(emu: Emulator) -> ChatRequest:
    return ChatRequest(
        provider="openai-compatible",
        model="bench",
        messages=[Message(role="user", content="benchmark")],
        base_url=emu.base_url(ROUTE),
    )


async def _bare_stream(
    client: httpx.AsyncClient, emu: Emulator, *, first_only: bool
) -> tuple[float, int]:
    """Seconds to the first content token (or to the end), and content chunks seen."""
    body = {
        "model": "bench",
        "messages": [{"role": "user", "content": "benchmark"}],
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {emu.key(ROUTE)}"}
    start = time.perf_counter()
    count = 0
    first = 0.0
    async with aconnect_sse(
        client, "POST", emu.base_url(ROUTE) + "/chat/completions", json=body, headers=headers
    ) as source:
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                break
            chunk: Any = json.loads(sse.data)
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    count += 1
                    if count == 1:
                        first = time.perf_counter() - start
                        if first_only:
                            return first, count
    return (first if first_only else time.perf_counter() - start), count


async def _engine_stream(engine: Engine, emu: Emulator, *, first_only: bool) -> tuple[float, int]:
    spec = _spec()
    start = time.perf_counter()
    count = 0
    async with contextlib.aclosing(engine.run(spec, _request(emu), emu.key(ROUTE))) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                count += 1
                if count == 1 and first_only:
                    return time.perf_counter() - start, count
    return time.perf_counter() - start, count


async def _measure(emu: Emulator) -> dict[str, float]:
    engine = Engine(retry=RetryPolicy(max_attempts=1))
    client = httpx.AsyncClient(timeout=httpx.Timeout(30.0))
    try:
        emu.default = Behavior(text="The quick brown fox jumps over the lazy dog. " * 4)
        for _ in range(20):  # warm up both pools and code paths
            await _bare_stream(client, emu, first_only=True)
            await _engine_stream(engine, emu, first_only=True)
        bare: list[float] = []
        ours: list[float] = []
        for _ in range(TTFT_RUNS):  # interleaved, so drift hits both equally
            bare.append((await _bare_stream(client, emu, first_only=True))[0])
            ours.append((await _engine_stream(engine, emu, first_only=True))[0])

        emu.default = Behavior(text="word " * (LONG_CHARS // 5), chunk_chars=4)
        bare_rates: list[float] = []
        our_rates: list[float] = []
        tokens = 0
        for _ in range(THROUGHPUT_RUNS):
            seconds, tokens = await _bare_stream(client, emu, first_only=False)
            bare_rates.append(tokens / seconds)
            seconds, tokens = await _engine_stream(engine, emu, first_only=False)
            our_rates.append(tokens / seconds)
    finally:
        await client.aclose()
        await engine.aclose()
    return {
        "bare_ttft_ms": statistics.median(bare) * 1000,
        "engine_ttft_ms": statistics.median(ours) * 1000,
        "bare_tps": statistics.median(bare_rates),
        "engine_tps": statistics.median(our_rates),
        "tokens": float(tokens),
    }


def main() -> int:
    with Emulator() as emu:
        figures = asyncio.run(_measure(emu))
    overhead = figures["engine_ttft_ms"] - figures["bare_ttft_ms"]
    ratio = figures["engine_tps"] / figures["bare_tps"]
    verdict = "ok" if overhead <= OVERHEAD_TARGET_MS else "MISSED"
    rows = [
        ("TTFT, bare httpx + httpx-sse (median)", f"{figures['bare_ttft_ms']:.2f} ms", ""),
        ("TTFT, Engine.run (median)", f"{figures['engine_ttft_ms']:.2f} ms", ""),
        (
            "client overhead on TTFT",
            f"{overhead:.2f} ms",
            f"target <= {OVERHEAD_TARGET_MS:g} ms: {verdict}",
        ),
        (
            f"decode, bare httpx-sse loop ({int(figures['tokens'])} chunks)",
            f"{figures['bare_tps']:,.0f} tok/s",
            "",
        ),
        ("decode, Engine.run", f"{figures['engine_tps']:,.0f} tok/s", ""),
        ("Engine / bare throughput", f"{ratio:.2f}x", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'engine figure':<{width}}  {'value':>16}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")
    print(f"({TTFT_RUNS} TTFT runs each, interleaved; emulator on loopback in the same process)")
    return 0 if overhead <= OVERHEAD_TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())

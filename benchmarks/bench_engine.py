"""Streaming engine figures against the loopback provider emulator, in one run:

- client overhead on time to first token: Engine.run vs a bare httpx + httpx-sse request to the
  same server (median over many runs; target: overhead <= 5 ms);
- decode throughput (tokens/s) of Engine.run vs a bare httpx-sse loop over one long stream;
- the cost of recording the exchange: the one stream loop over that long stream with the
  exchange recorded vs not (target: <= 3 % slower), and the time to turn it into records.
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

from parley.core.chat.loop import stream
from parley.core.chat.prepared import prepare
from parley.core.chat.result import ChatResult
from parley.core.protocol.events import TextDelta
from parley.core.protocol.exchange import Exchange
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import ProviderSpec, load_catalog
from parley.net.engine import Engine, RetryPolicy

ROUTE = "openai"
TTFT_RUNS = 300
OVERHEAD_TARGET_MS = 5.0
LONG_CHARS = 200_000  # 50,000 chunks of 4 characters
THROUGHPUT_RUNS = 3
RECORDING_RUNS = 7
RECORDING_TARGET = 0.03


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


async def _loop_stream(engine: Engine, emu: Emulator, record: bool) -> tuple[float, Exchange]:
    """Tokens/s through the one stream loop, with or without the exchange recorded."""
    prepared = prepare(_spec(), _request(emu), emu.key(ROUTE))
    result = ChatResult()
    start = time.perf_counter()
    exchange = await stream(engine, prepared, result, record=record)
    seconds = time.perf_counter() - start
    return result.deltas / seconds, exchange


async def _measure_recording(emu: Emulator) -> dict[str, float]:
    engine = Engine(retry=RetryPolicy(max_attempts=1))
    emu.default = Behavior(text="word " * (LONG_CHARS // 5), chunk_chars=4)
    off: list[float] = []
    on: list[float] = []
    records_ms: list[float] = []
    try:
        await _loop_stream(engine, emu, False)  # warm up
        for _ in range(RECORDING_RUNS):  # interleaved
            off.append((await _loop_stream(engine, emu, False))[0])
            rate, exchange = await _loop_stream(engine, emu, True)
            on.append(rate)
            start = time.perf_counter()
            exchange.to_records()
            records_ms.append((time.perf_counter() - start) * 1000)
            raw_kb = sum(a.size for a in exchange.attempts) / 1024
    finally:
        await engine.aclose()
    return {
        "off_tps": statistics.median(off),
        "on_tps": statistics.median(on),
        "records_ms": statistics.median(records_ms),
        "raw_kb": raw_kb,
    }


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
        figures.update(asyncio.run(_measure_recording(emu)))
    slower = 1 - figures["on_tps"] / figures["off_tps"]
    recording_ok = slower <= RECORDING_TARGET
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
        ("decode, the stream loop, exchange not recorded", f"{figures['off_tps']:,.0f} tok/s", ""),
        ("decode, the stream loop, exchange recorded", f"{figures['on_tps']:,.0f} tok/s", ""),
        (
            "slower with recording",
            f"{slower * 100:.1f} %",
            f"target <= {RECORDING_TARGET * 100:g} %: {'ok' if recording_ok else 'MISSED'}",
        ),
        (
            f"exchange to records ({figures['raw_kb']:,.0f} kB raw; worker thread)",
            f"{figures['records_ms']:.0f} ms",
            "",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'engine figure':<{width}}  {'value':>16}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")
    print(f"({TTFT_RUNS} TTFT runs each, interleaved; emulator on loopback in the same process)")
    print(f"(recording: medians of {RECORDING_RUNS} interleaved runs of each)")
    return 0 if overhead <= OVERHEAD_TARGET_MS and recording_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

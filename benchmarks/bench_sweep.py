"""Sweep throughput: 1,000 runs against the loopback emulator at concurrency 32, through the
Lab's runner (the one request path, checks, every run and its exchange stored in SQLite as it
finishes) vs a bare httpx loop sending the same 1,000 requests at the same concurrency and
reading their streams, in the same run.

The emulator runs in its own process (so it does not share this process's GIL with either
client) and answers each request as a stream of ~50 chunks, 2 ms apart (about 0.1 s a
request, a fast model). Figures: wall time and throughput of each, the ratio (target >= 90 %),
the overhead per run (wall and CPU), and this process's resident memory after (<= 300 MB).
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from parley.core.lab.experiment import parse_experiment
from parley.core.lab.sweep import Sweep
from parley.core.providers.catalog import load_catalog
from parley.core.store import Store
from parley.net.engine import Engine, RetryPolicy

RUNS = 1000
CONCURRENCY = 32
CHUNK_DELAY = 0.002
ROUTE = "local"  # a route that needs no key
TARGET_RATIO = 0.90
TARGET_RSS_MB = 300.0
REPO = Path(__file__).resolve().parents[1]


def _start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.helpers.emulator",
            "--port",
            "0",
            "--chunk-delay",
            str(CHUNK_DELAY),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return proc, f"http://127.0.0.1:{found.group(1)}/{ROUTE}/v1"


def _body(i: int) -> dict[str, Any]:
    return {
        "model": "bench",
        "messages": [{"role": "user", "content": "Write one sentence about a fox."}],
        "stream": True,
        "temperature": 0.5,
    }


async def _bare(base_url: str, runs: int) -> float:
    """Seconds for `runs` streamed requests, CONCURRENCY at a time, each read to its end."""
    limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(i: int) -> int:
            async with gate:
                chars = 0
                async with client.stream(
                    "POST", base_url + "/chat/completions", json=_body(i)
                ) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data: ") and line != "data: [DONE]":
                            event = json.loads(line[6:])
                            for choice in event.get("choices") or []:
                                chars += len(choice.get("delta", {}).get("content") or "")
                return chars

        start = time.perf_counter()
        got = await asyncio.gather(*(one(i) for i in range(runs)))
        elapsed = time.perf_counter() - start
    if min(got) == 0:
        raise RuntimeError("a bare request got no text")
    return elapsed


def _experiment_text(base_url: str, runs: int) -> str:
    return f"""
name = "bench"
prompt = "Write one sentence about a fox."
repeat = {runs}
concurrency = {CONCURRENCY}
[limits]
openai-compatible = {CONCURRENCY}
[[variants]]
provider = "openai-compatible"
base_url = "{base_url}"
model = "bench"
params = {{ temperature = 0.5 }}
[[checks]]
type = "contains"
value = "You said"
"""


async def _sweep(base_url: str, runs: int, db: Path) -> tuple[float, int]:
    catalog = load_catalog()
    experiment = parse_experiment(_experiment_text(base_url, runs), catalog, source="bench.toml")
    engine = Engine(
        retry=RetryPolicy(max_attempts=1),
        max_connections=CONCURRENCY * 2,
        max_keepalive_connections=CONCURRENCY,
    )
    with Store.open(db) as store:
        sweep = Sweep(experiment, catalog, store, engine, lambda spec: None)
        start = time.perf_counter()
        outcome = await sweep.run()
        elapsed = time.perf_counter() - start
        await engine.aclose()
    passed = sum(1 for r in outcome.records if r.passed)
    if len(outcome.records) != runs or passed != runs:
        raise RuntimeError(f"the sweep finished {len(outcome.records)} runs, {passed} passed")
    return elapsed, passed


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    emulator, base_url = _start_emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_bare(base_url, 64))  # warm up both paths (imports, connections)
            asyncio.run(_sweep(base_url, 64, Path(tmp) / "warm.sqlite3"))
            cpu0 = time.process_time()
            bare = asyncio.run(_bare(base_url, RUNS))
            cpu1 = time.process_time()
            swept, _ = asyncio.run(_sweep(base_url, RUNS, Path(tmp) / "bench.sqlite3"))
            cpu2 = time.process_time()
            bare_again = asyncio.run(_bare(base_url, RUNS))
    finally:
        emulator.kill()
        emulator.wait()
    bare_best = min(bare, bare_again)
    ratio = bare_best / swept
    rss = _rss_mb()
    rows = [
        ("bare httpx loop", f"{bare_best:.2f} s", f"{RUNS / bare_best:.0f} runs/s (best of 2)"),
        ("sweep (runner + store)", f"{swept:.2f} s", f"{RUNS / swept:.0f} runs/s"),
        ("throughput ratio", f"{ratio:.1%}", f"target >= {TARGET_RATIO:.0%}"),
        ("overhead per run (wall)", f"{(swept - bare_best) / RUNS * 1000:.2f} ms", "at 32 at once"),
        (
            "client CPU per run",
            f"{(cpu2 - cpu1) / RUNS * 1000:.2f} ms",
            f"bare {(cpu1 - cpu0) / RUNS * 1000:.2f} ms",
        ),
        ("resident memory after", f"{rss:.0f} MB", f"target <= {TARGET_RSS_MB:.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'sweep figure':<{width}}  {'value':>10}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print(
        f"({RUNS} runs at concurrency {CONCURRENCY}; emulator in its own process, "
        f"~50 chunks {CHUNK_DELAY * 1000:.0f} ms apart per reply)"
    )
    ok = ratio >= TARGET_RATIO and rss <= TARGET_RSS_MB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""History store figures: open a 2,000-message conversation, list 10,000 conversations, search
them (target: search ≤ 100 ms); import a chain given in reverse order at two sizes (target:
linear, 4x the messages take at most about 6x the time, not 16x). Builds a throwaway database
in a temporary folder."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parley.core.store import Store

CONVERSATIONS = 10_000
LONG_CONVERSATION = 2_000
SEARCH_TARGET_MS = 100.0

_VOCABULARY = """
    python rust sqlite window branch answer model token stream kernel cache latency prompt
    garden otter river mountain recipe bread coffee travel lisbon porto museum history
    quantum physics algebra matrix vector graph network server client socket protocol
    poetry novel chapter summary translate german french spanish budget invoice report
"""
WORDS = _VOCABULARY.split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _timed(fn: Callable[[], Any], runs: int = 7) -> tuple[float, Any]:
    """Median wall time in ms over `runs`, and the last result."""
    times = []
    result: Any = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def _build(path: Path) -> int:
    rng = random.Random(4)
    with Store.open(path) as store, store.batch():
        for i in range(CONVERSATIONS):
            cid = store.create_conversation(provider="euri", model="gpt-4.1-mini")
            u = store.add_message(cid, None, "user", f"{_sentence(rng, 8)} #{i}")
            a = store.begin_answer(cid, u, {"model": "gpt-4.1-mini"}, "euri", "gpt-4.1-mini")
            store.finish_answer(a, text=_sentence(rng, 60), usage={"completion_tokens": 60})
        long_id = store.create_conversation(title="The long one")
        parent = None
        for i in range(LONG_CONVERSATION):
            role = "user" if i % 2 == 0 else "assistant"
            parent = store.add_message(long_id, parent, role, _sentence(rng, 40))
    return long_id


def _reverse_chain_import_ms(n: int) -> float:
    from parley.core.store.export import import_json

    chain = [
        {"id": i, "parent_id": i - 1 if i else None, "role": "user", "text": f"m {i}"}
        for i in range(n)
    ]
    data = {
        "format": "parley.conversation",
        "version": 1,
        "conversation": {"title": "reversed"},
        "messages": chain[::-1],
    }
    with Store.open(":memory:") as store:
        ms, _ = _timed(lambda: import_json(store, data), runs=3)
    return ms


def import_scaling() -> bool:
    small, large = 2_000, 8_000
    small_ms, large_ms = _reverse_chain_import_ms(small), _reverse_chain_import_ms(large)
    ratio = large_ms / small_ms
    ok = ratio <= 6.0
    print(
        f"import a chain in reverse order: {small:,} messages {small_ms:.0f} ms, "
        f"{large:,} messages {large_ms:.0f} ms; x{ratio:.1f} for x4 the messages "
        f"(linear ≈ 4, quadratic ≈ 16): {'linear' if ok else 'NOT LINEAR'}"
    )
    return ok


def main() -> int:
    linear = import_scaling()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "parley.sqlite3"
        start = time.perf_counter()
        long_id = _build(path)
        build_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        print(
            f"built {CONVERSATIONS:,} conversations + one of {LONG_CONVERSATION:,} messages "
            f"in {build_s:.1f} s ({size_mb:.1f} MB)"
        )

        open_ms, store = _timed(lambda: Store.open(path), runs=1)
        print(f"open the database: {open_ms:.1f} ms")
        try:
            ms, path_msgs = _timed(lambda: store.current_path(long_id))
            print(f"open a {len(path_msgs):,}-message conversation (load its path): {ms:.1f} ms")
            ms, page = _timed(lambda: store.list_conversations(limit=100))
            print(f"list the first {len(page)} of {store.count_conversations():,}: {ms:.1f} ms")
            ms, everything = _timed(lambda: store.list_conversations(limit=None), runs=3)
            print(f"list all {len(everything):,} conversations: {ms:.1f} ms")
            worst = 0.0
            for query in ("otter", "lisbon museum", "quan", "protocol server client", "#9999"):
                ms, hits = _timed(lambda q=query: store.search(q, limit=50))
                worst = max(worst, ms)
                print(f"search {query!r}: {ms:.1f} ms ({len(hits)} hits shown)")
        finally:
            store.close()
    ok = worst <= SEARCH_TARGET_MS
    print(
        f"search worst case {worst:.1f} ms, target ≤ {SEARCH_TARGET_MS:.0f} ms: "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok and linear else 1


if __name__ == "__main__":
    raise SystemExit(main())

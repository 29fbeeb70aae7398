"""Compare: six panes streaming at once, at full speed, into the real Lab window.

The emulator (in its own process, as in bench_ui) streams every pane's answer as fast as it
can in 4-character chunks; the Lab's Compare page runs the six panes through the chat's stream
loop and paints each in its own streaming Markdown view. Measured, against PRODUCT.md's
targets ("compare: 6 panes streaming at once: the loop targets still hold"):

- aggregate tokens/s (every pane's completion tokens over the time from the send until every
  pane is stored and the window idle);
- the event loop's stalls while they stream, as a 5 ms QTimer's lateness (p99 <= 16 ms,
  max <= 50 ms);
- the process's resident memory afterwards.

Run: `QT_QPA_PLATFORM=offscreen python -m benchmarks compare` (or `make bench`).
PARLEY_BENCH_PANES=2 measures fewer panes; PARLEY_BENCH_CHUNK_DELAY=0.002 paces the emulator
(seconds between chunks) instead of full speed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_ui import ServerProcess, StallMeter, _reply, _rss_mb

PANES = int(os.environ.get("PARLEY_BENCH_PANES", "6"))
PANE_CHARS = 40_000  # 10,000 chunks of 4 characters per pane

EMULATOR = """
import sys
from tests.helpers.emulator import Behavior, Emulator
from benchmarks.bench_compare import PANE_CHARS
from benchmarks.bench_ui import _reply
delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
emu = Emulator(0, default=Behavior(text=_reply(PANE_CHARS), chunk_chars=4, chunk_delay=delay))
emu.start()
print(emu.port, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
emu.stop()
"""


Row = tuple[str, str, str, bool | None]


async def _bench(app: Any) -> list[Row]:
    from tests.helpers.emulator.dialects import key_for

    from parley.app import _wait_idle
    from parley.core.app.secrets import KeyStore
    from parley.core.app.settings import Settings
    from parley.core.lab.experiment import Variant
    from parley.core.providers.catalog import load_catalog
    from parley.core.store import Store
    from parley.ui.gc_guard import freeze_start_up
    from parley.ui.mainwindow import Services, open_main_window

    rows: list[Row] = []
    with ServerProcess(EMULATOR, os.environ.get("PARLEY_BENCH_CHUNK_DELAY", "0")) as emu:
        keys = KeyStore()
        keys.set("euri", key_for("euri"), session_only=True)
        settings = Settings(
            first_run_done=True,
            last_provider="euri",
            last_model="bench",
            base_urls={"euri": emu.base_url("euri")},
        )
        services = Services(load_catalog(), settings, Store.open(), keys=keys)
        window = await open_main_window(app, services, first_run=False)
        await window.wait_started()
        freeze_start_up()
        page = window.lab.compare
        page.set_variants(
            [
                Variant(i, f"pane {i + 1}", "euri", "bench", base_url=emu.base_url("euri"))
                for i in range(PANES)
            ]
        )
        window.lab.resize(1440, 900)
        window.lab.present()
        await _wait_idle()
        try:
            expected = _reply(PANE_CHARS)
            meter = StallMeter()
            meter.start()
            t0 = time.perf_counter()
            window.composer.set_draft("Stream as fast as you can")
            window.composer.request_compare()
            while not (page.comparison and page.comparison.finished and not page.running):
                await asyncio.sleep(0.005)
            await _wait_idle()
            elapsed = time.perf_counter() - t0
            meter.stop()
            c = page.comparison
            assert c is not None
            tokens = 0.0
            for p in c.panes:
                stored = services.store.get_message(p.answer_id or 0)
                if stored.text != expected or p.state != "complete":
                    raise RuntimeError(f"pane {p.index + 1} did not arrive whole ({p.state})")
                shown = page.panes[p.index].answer
                if shown is None or shown.text() != expected:
                    raise RuntimeError(f"pane {p.index + 1} does not show the whole answer")
                tokens += (stored.usage or {}).get("completion_tokens") or len(expected) / 4
            rate = tokens / elapsed
            rows.append(
                (
                    f"compare, {PANES} panes: tokens/s, all panes",
                    f"{rate:,.0f}",
                    "(>= 5,000 for one)",
                    None,
                )
            )
            rows.append(
                (
                    f"compare, {PANES} panes: time to the last pane stored",
                    f"{elapsed:.2f} s",
                    "",
                    None,
                )
            )
            rows.append(
                (
                    f"compare, {PANES} panes: loop stall p99",
                    f"{meter.p99():.1f} ms",
                    "<= 16 ms",
                    meter.p99() <= 16,
                )
            )
            rows.append(
                (
                    f"compare, {PANES} panes: loop stall max",
                    f"{meter.max():.1f} ms",
                    "<= 50 ms",
                    meter.max() <= 50,
                )
            )
            rss = _rss_mb()
            rows.append(
                (
                    f"compare, {PANES} panes: resident memory after",
                    f"{rss:.0f} MB",
                    "<= 300 MB",
                    rss <= 300,
                )
            )
        finally:
            window.close()
            await window.wait_closed()
            await window.shutdown()
    return rows


def bench_compare() -> list[Row]:
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    os.environ["PARLEY_HOME"] = tempfile.mkdtemp(prefix="parley-bench-compare-")
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    from parley.ui.gc_guard import MainThreadCollector

    collector = MainThreadCollector(app)
    collector.start()
    try:
        with asyncio.Runner(loop_factory=lambda: QEventLoop(app)) as runner:
            return runner.run(_bench(app))
    finally:
        collector.stop()


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    rows = bench_compare()
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'measured':>12}  {'target':>18}  result")
    for what, measured, target, ok in rows:
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"{what:<{width}}  {measured:>12}  {target:>18}  {verdict}")
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

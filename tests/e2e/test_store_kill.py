"""A process killed with SIGKILL mid-stream loses at most the last second of the answer.

tests/helpers/store_worker.py streams "t0 t1 t2 ..." into the store (directly, or for real: the
Engine reading the provider emulator over loopback) and prints, after each `save_partial`, the
time and the length of the text handed over. We kill it, reopen the store, and check that the
answer is "interrupted", holds an exact prefix of the stream, and that prefix reaches at least
the text handed to the store more than a second before the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from parley.core.store import Store
from tests.helpers.store_worker import stream_text

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

ROOT = Path(__file__).resolve().parents[2]
MAX_LOSS_S = 1.0


def _start(mode: str, db: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.store_worker", mode, str(db), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


# token index -> (time handed to the store, length of the text then)
Tokens = dict[int, tuple[float, int]]
Ready = Callable[[Tokens, list[float]], bool]


def _kill_when(
    proc: subprocess.Popen[str], ready: Ready | None, *, after_pause_s: float | None = None
) -> tuple[int, Tokens, float]:
    """Read the worker's progress; SIGKILL it when `ready(tokens, pauses)` says so."""
    assert proc.stdout is not None
    tokens: Tokens = {}
    pauses: list[float] = []
    msg_id = -1
    for line in proc.stdout:
        kind, *rest = line.split()
        if kind == "READY":
            msg_id = int(rest[1])
        elif kind == "TOK":
            tokens[int(rest[0])] = (float(rest[1]), int(rest[2]))
        elif kind == "PAUSE":
            pauses.append(float(rest[0]))
            if after_pause_s is not None:
                time.sleep(after_pause_s)  # the worker is stalled: no token arrives meanwhile
                break
        if ready is not None and ready(tokens, pauses):
            break
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    rest_out, _ = proc.communicate(timeout=10)  # also reaps it, so its pid is really gone
    for line in rest_out.splitlines():
        kind, *rest = line.split()
        if kind == "TOK":
            tokens[int(rest[0])] = (float(rest[1]), int(rest[2]))
    assert proc.returncode == -signal.SIGKILL
    return msg_id, tokens, killed_at


def _check(db: Path, msg_id: int, tokens: Tokens, killed_at: float) -> int:
    """Assert the promise; return how many characters were saved."""
    with Store.open(db) as store:
        msg = store.get_message(msg_id)
    assert msg.status == "interrupted"
    assert stream_text().startswith(msg.text), "the saved text is an exact prefix of the stream"
    old_enough = [size for t, size in tokens.values() if t <= killed_at - MAX_LOSS_S]
    assert old_enough, "the test streamed for too short a time to check anything"
    assert len(msg.text) >= max(old_enough), (
        f"lost text older than {MAX_LOSS_S}s: saved {len(msg.text)} characters, "
        f"{max(old_enough)} were handed over by then"
    )
    return len(msg.text)


def _streamed_for(seconds: float) -> Ready:
    def ready(tokens: Tokens, pauses: list[float]) -> bool:
        times = [t for t, _ in tokens.values()]
        return bool(times) and max(times) - min(times) >= seconds

    return ready


def test_sigkill_mid_stream_loses_at_most_the_last_second(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    proc = _start("stream", db, "--interval", "0.01")
    msg_id, tokens, killed_at = _kill_when(proc, _streamed_for(1.5))
    saved = _check(db, msg_id, tokens, killed_at)
    assert saved <= max(size for _, size in tokens.values()) + len(f"t{len(tokens)} ")
    with Store.open(db) as store:
        assert store.get_message(msg_id).reasoning == f"r{len(stream_text()[:saved].split()) - 1}"


def test_sigkill_while_the_stream_stalls_keeps_the_tokens_before_the_stall(
    tmp_path: Path,
) -> None:
    """The tokens just before a pause are saved even though no later token triggers a save."""
    db = tmp_path / "history.sqlite3"
    proc = _start("stream", db, "--interval", "0.01", "--burst", "40", "--pause", "30")
    msg_id, tokens, killed_at = _kill_when(proc, None, after_pause_s=1.3)
    saved = _check(db, msg_id, tokens, killed_at)
    assert saved == len(stream_text(40))  # all before the stall, which began 1.3 s before


def test_sigkill_while_the_engine_streams_from_the_emulator(tmp_path: Path) -> None:
    """The real path: Engine -> SSE over loopback -> decoder -> ChatResult -> save_partial."""
    db = tmp_path / "history.sqlite3"
    proc = _start("engine", db, "--chunk-delay", "0.01")
    msg_id, tokens, killed_at = _kill_when(proc, _streamed_for(1.5))
    saved = _check(db, msg_id, tokens, killed_at)
    assert 0 < saved < len(stream_text())
    with Store.open(db) as store:
        answer = store.get_message(msg_id)
    assert answer.request_body is not None and answer.request_body["model"] == "gpt-4.1-mini"
    assert answer.provider == "euri"

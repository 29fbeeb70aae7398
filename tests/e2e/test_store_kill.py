"""A process killed with SIGKILL mid-stream loses at most the last second of the answer.

tests/helpers/store_worker.py streams numbered tokens into the store and prints, after each
`save_partial`, the token's index and time. We kill it, reopen the store, and check that the
answer is "interrupted", holds an exact prefix of the stream, and that prefix reaches at least
every token handed to the store more than a second before the kill.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from parley.core.store import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

ROOT = Path(__file__).resolve().parents[2]
MAX_LOSS_S = 1.0


def _start(db: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.store_worker", "stream", str(db), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


Ready = Callable[[dict[int, float], list[float]], bool]


def _kill_when(
    proc: subprocess.Popen[str], ready: Ready | None, *, after_pause_s: float | None = None
) -> tuple[int, dict[int, float], float]:
    """Read the worker's progress; SIGKILL it when `ready(tokens, pauses)` says so."""
    assert proc.stdout is not None
    tokens: dict[int, float] = {}
    pauses: list[float] = []
    msg_id = -1
    for line in proc.stdout:
        kind, *rest = line.split()
        if kind == "READY":
            msg_id = int(rest[1])
        elif kind == "TOK":
            tokens[int(rest[0])] = float(rest[1])
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
            tokens[int(rest[0])] = float(rest[1])
    assert proc.returncode == -signal.SIGKILL
    return msg_id, tokens, killed_at


def _check(db: Path, msg_id: int, tokens: dict[int, float], killed_at: float) -> int:
    with Store.open(db) as store:
        msg = store.get_message(msg_id)
    assert msg.status == "interrupted"
    match = re.fullmatch(r"((?:t\d+ )*)", msg.text)
    assert match is not None, msg.text[:80]
    saved = [int(t[1:]) for t in msg.text.split()]
    assert saved == list(range(len(saved))), "the saved text is an exact prefix of the stream"
    must_have = [i for i, t in tokens.items() if t <= killed_at - MAX_LOSS_S]
    assert must_have, "the test streamed for too short a time to check anything"
    assert len(saved) >= max(must_have) + 1, (
        f"lost tokens older than {MAX_LOSS_S}s: saved {len(saved)}, needed {max(must_have) + 1}"
    )
    assert msg.reasoning == f"r{len(saved) - 1}"  # text and reasoning saved together
    return len(saved)


def test_sigkill_mid_stream_loses_at_most_the_last_second(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    proc = _start(db, "--interval", "0.01")

    def ready(tokens: dict[int, float], pauses: list[float]) -> bool:
        return bool(tokens) and max(tokens.values()) - min(tokens.values()) >= 2.0

    msg_id, tokens, killed_at = _kill_when(proc, ready)
    saved = _check(db, msg_id, tokens, killed_at)
    assert saved <= len(tokens) + 1  # at most the token being printed when killed


def test_sigkill_while_the_stream_stalls_keeps_the_tokens_before_the_stall(
    tmp_path: Path,
) -> None:
    """The tokens just before a pause are saved even though no later token triggers a save."""
    db = tmp_path / "history.sqlite3"
    proc = _start(db, "--interval", "0.01", "--burst", "40", "--pause", "30")
    msg_id, tokens, killed_at = _kill_when(proc, None, after_pause_s=1.3)
    saved = _check(db, msg_id, tokens, killed_at)
    assert saved == 40  # everything streamed before the stall, which began 1.3 s before the kill

"""`parley sweep` as a real subprocess against the provider emulator: pre-flight and caps, exit
codes, the exports read back, a kill mid-run then --resume, Ctrl+C, history and export."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.helpers.emulator import Behavior, Emulator


def env(emu: Emulator) -> dict[str, str]:
    out = dict(os.environ)
    out["PARLEY_API_KEY_OPENAI_COMPATIBLE"] = emu.key("openai")
    out["PARLEY_API_KEY_EURI"] = emu.key("euri")
    return out


def parley(emu: Emulator, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        env=env(emu),
        timeout=90,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def experiment(tmp_path: Path, emu: Emulator, body: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        'name = "cli"\nprompt = "Write about a fox."\n'
        + body
        + f'\n[[variants]]\nlabel = "a"\nprovider = "openai-compatible"\n'
        f'base_url = "{emu.base_url("openai")}"\nmodel = "m"\n',
        encoding="utf-8",
    )
    return path


def db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'parley.sqlite3'}?mode=ro", uri=True)


def stored_runs(parley_home: Path) -> int:
    try:
        conn = db(parley_home)
        try:
            return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_dry_run_caps_and_a_bad_file_send_nothing(emu: Emulator, tmp_path: Path) -> None:
    path = experiment(tmp_path, emu, "repeat = 3\n[grid]\ntemperature = [0.1, 0.2]\n")
    proc = parley(emu, "sweep", str(path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "requests: 6" in proc.stderr and "estimated cost: unknown" in proc.stderr
    assert "Dry run: nothing was sent." in proc.stderr
    proc = parley(emu, "sweep", str(path), "--max-requests", "5", "--yes")
    assert proc.returncode == 4, proc.stderr
    assert "6 requests, more than max_requests = 5" in proc.stderr
    bad = experiment(tmp_path, emu, "repeat = 3\n[grid]\ntemperature = [0.1, 9]\n", "bad.toml")
    proc = parley(emu, "sweep", str(bad), "--yes")
    assert proc.returncode == 2
    assert f"{bad}:5: grid.temperature: temperature must be between 0 and 2" in proc.stderr
    assert emu.chat_requests() == []
    assert "  11   every run finished, but some failed" in parley(emu, "sweep", "--help").stdout


def test_results_and_exports_read_back(emu: Emulator, tmp_path: Path) -> None:
    emu.default = Behavior(sampled=True)
    path = experiment(
        tmp_path,
        emu,
        "repeat = 2\n[grid]\nseed = [1, 2]\ntemperature = [0.0, 0.5, 1.0]\n"
        '[[checks]]\ntype = "contains"\nvalue = "The"\n'
        '[[checks]]\ntype = "max-latency-ms"\nvalue = 60000\n',
    )
    outs = [tmp_path / f"r.{ext}" for ext in ("csv", "json", "jsonl", "md", "yaml")]
    args = [a for out in outs for a in ("--out", str(out))]
    proc = parley(emu, "sweep", str(path), "--yes", *args)
    assert proc.returncode == 0, proc.stderr
    assert "[########################] 12/12" in proc.stderr

    rows = list(csv.DictReader(io.StringIO(outs[0].read_text())))
    assert len(rows) == 12
    assert list(rows[0])[:10] == [
        "run", "variant", "provider", "model", "seed", "temperature",
        "prompt", "repeat", "status", "finish_reason",
    ]  # fmt: skip
    for column in ("text", "prompt_tokens", "completion_tokens", "ttft_ms", "tokens_per_s",
                   "total_ms", "cost_usd", "passed", "error"):  # fmt: skip
        assert column in rows[0]
    assert {(r["seed"], r["temperature"]) for r in rows} == {
        (s, t) for s in ("1", "2") for t in ("0.0", "0.5", "1.0")
    }
    assert {r["passed"] for r in rows} == {"true"} and {r["status"] for r in rows} == {"complete"}
    # The same seed and temperature gave the same text (the emulator samples by seed).
    texts: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        texts.setdefault((r["seed"], r["temperature"]), set()).add(r["text"])
    assert all(len(v) == 1 for v in texts.values())

    data = json.loads(outs[1].read_text())
    assert [r["run"] for r in data["runs"]] == list(range(1, 13))
    by_run = {r["run"]: r for r in data["runs"]}
    for row in rows:
        full = by_run[int(row["run"])]
        assert full["text"] == row["text"]
        assert full["cell"] == {"seed": int(row["seed"]), "temperature": float(row["temperature"])}
        assert full["params"]["seed"] == int(row["seed"])
        assert [c["type"] for c in full["checks"]] == ["contains", "max-latency-ms"]
        assert isinstance(full["exchange_id"], int)
    lines = [json.loads(x) for x in outs[2].read_text().splitlines()]
    assert [x["run"] for x in lines] == list(range(1, 13))
    assert "| a | pass 2/2" in outs[3].read_text()

    config = yaml.safe_load(outs[4].read_text())
    assert len(config["prompts"]) == 1
    assert len(config["providers"]) == 6  # one per variant x grid cell
    assert {(p["config"]["seed"], p["config"]["temperature"]) for p in config["providers"]} == {
        (s, t) for s in (1, 2) for t in (0.0, 0.5, 1.0)
    }
    assert config["providers"][0]["config"]["apiBaseUrl"] == emu.base_url("openai")
    assert config["evaluateOptions"]["repeat"] == 2
    assert config["tests"][0]["assert"] == [
        {"type": "contains", "value": "The"},
        {"type": "latency", "threshold": 60000},
    ]
    messages = json.loads(config["prompts"][0]["raw"])
    assert messages == [{"role": "user", "content": "Write about a fox."}]

    history = parley(emu, "history")
    assert "cli  (12/12 runs, finished)" in history.stdout
    listed = json.loads(parley(emu, "history", "--experiments", "--json").stdout)
    assert listed[0]["runs"] == 12
    again = parley(emu, "export", "--experiment", str(listed[0]["id"]), "--format", "csv")
    assert again.returncode == 0, again.stderr
    assert list(csv.DictReader(io.StringIO(again.stdout))) == rows


def test_exit_codes_for_failed_checks_and_failed_runs(emu: Emulator, tmp_path: Path) -> None:
    emu.default = Behavior(text="no animals here")
    path = experiment(tmp_path, emu, '[[checks]]\ntype = "contains"\nvalue = "fox"\n')
    proc = parley(emu, "sweep", str(path), "--yes")
    assert proc.returncode == 11, proc.stderr
    assert "| a | pass 0/1" in proc.stdout
    emu.push(Behavior(status=400, message="bad model"))
    proc = parley(emu, "sweep", str(path), "--yes", "--out", str(tmp_path / "x.csv"))
    assert proc.returncode == 12, proc.stderr
    (row,) = csv.DictReader(io.StringIO((tmp_path / "x.csv").read_text()))
    assert row["status"] == "failed" and "bad model" in row["error"]


def test_a_key_the_model_echoes_is_scrubbed_from_every_export(
    emu: Emulator, tmp_path: Path
) -> None:
    key = emu.key("openai")
    emu.default = Behavior(text=f"Your key is {key}, a fox.")
    path = experiment(tmp_path, emu, "")
    outs = [tmp_path / f"k.{ext}" for ext in ("csv", "json", "jsonl", "md")]
    proc = parley(emu, "sweep", str(path), "--yes", *[a for o in outs for a in ("-o", str(o))])
    assert proc.returncode == 0, proc.stderr
    for out in outs:
        text = out.read_text()
        assert key not in text and key[4:20] not in text
        assert "[redacted]" in text or out.suffix == ".md"
    again = parley(emu, "export", "--experiment", "1", "--format", "json")
    assert again.returncode == 0 and key not in again.stdout and "Your key is" in again.stdout


def wait_for_runs(home: Path, proc: subprocess.Popen[str], at_least: int) -> None:
    deadline = time.monotonic() + 30
    while stored_runs(home) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep stored too few runs"
        time.sleep(0.02)


def test_a_kill_mid_run_then_resume_sends_only_the_missing(
    emu: Emulator, tmp_path: Path, parley_home: Path
) -> None:
    emu.default = Behavior(text="slow " * 20, chunk_delay=0.01)
    path = experiment(tmp_path, emu, "repeat = 30\nconcurrency = 2\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "parley", "sweep", str(path), "--yes"],
        env=env(emu),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_runs(parley_home, proc, 5)
    proc.kill()
    proc.communicate()
    kept = stored_runs(parley_home)
    assert 5 <= kept < 30
    emu.wait_idle()
    emu.clear()
    resumed = parley(emu, "sweep", str(path), "--resume", "--yes", "--concurrency", "8")
    assert resumed.returncode == 0, resumed.stderr
    assert f"requests: {30 - kept}" in resumed.stderr
    assert len(emu.chat_requests()) == 30 - kept
    conn = db(parley_home)
    runs = [r for (r,) in conn.execute("SELECT run FROM runs ORDER BY run")]
    status = conn.execute("SELECT status FROM experiments").fetchone()[0]
    conn.close()
    assert runs == list(range(1, 31)) and status == "finished"
    nothing = parley(emu, "sweep", str(path), "--resume", "--yes")
    assert nothing.returncode == 2 and "no unfinished experiment" in nothing.stderr


def test_ctrl_c_keeps_what_finished_and_says_how_to_resume(
    emu: Emulator, tmp_path: Path, parley_home: Path
) -> None:
    emu.default = Behavior(text="slow " * 20, chunk_delay=0.01)
    path = experiment(tmp_path, emu, "repeat = 40\nconcurrency = 2\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "parley", "sweep", str(path), "--yes"],
        env=env(emu),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_runs(parley_home, proc, 3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    kept = stored_runs(parley_home)
    assert f"{kept} of 40 runs of experiment 1 are kept" in stderr
    assert f"Resume with: parley sweep {path} --resume 1" in stderr
    assert "Traceback" not in stderr
    conn = db(parley_home)
    assert conn.execute("SELECT status FROM experiments").fetchone()[0] == "cancelled"
    conn.close()

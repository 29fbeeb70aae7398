"""`parley inspect` and `parley replay` against the emulator, and the snippets they print run
for real (curl, Python httpx, Node's fetch) with the key only in the environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_cli import REPLY, ask, parley
from tests.helpers.emulator import Behavior, Emulator

PROVIDER = "eurouter"
MODEL = "mistral/mistral-small"


def saved_answer(emu: Emulator, text: str = REPLY) -> dict[str, object]:
    emu.push(Behavior(text=text), provider=PROVIDER)
    proc = ask(emu, PROVIDER, "--model", MODEL, "--save", "--json", "Hello?")
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    assert out["text"] == text and isinstance(out["answer_id"], int)
    return out


def inspect(*args: str, emu: Emulator | None = None) -> subprocess.CompletedProcess[str]:
    proc = parley("inspect", *args, emu=emu)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_events_are_the_raw_lines_and_the_first_content_offset_is_the_ttft(
    emu: Emulator,
) -> None:
    out = saved_answer(emu)
    events = inspect("--last", "--format", "events").stdout.splitlines()
    assert events[-1].endswith(" data: [DONE]")
    offsets = [float(line.split(" ", 1)[0]) for line in events]
    assert all(line.startswith("+") for line in events) and offsets == sorted(offsets)
    content = [
        (offset, line)
        for offset, line in zip(offsets, events, strict=True)
        if '"content":"' in line.replace(" ", "") and '"content":""' not in line.replace(" ", "")
    ]
    assert content, events
    metrics = out["metrics"]
    assert isinstance(metrics, dict)
    # The footer's TTFT is the offset of the line that carried the first content delta.
    assert content[0][0] == pytest.approx(metrics["ttft_ms"], abs=0.051)


def test_request_and_response_formats_show_everything_but_the_key(emu: Emulator) -> None:
    out = saved_answer(emu)
    request = inspect(str(out["answer_id"]), emu=emu).stdout
    assert request.startswith(f"POST {emu.base_url(PROVIDER)}/chat/completions")
    assert "Authorization: Bearer [key redacted]" in request
    assert json.loads(request.split("\n\n", 1)[1])["model"] == MODEL
    response = inspect("--last", "--format", "response", emu=emu).stdout
    assert response.startswith("attempt 1: HTTP 200")
    assert "content-type: text/event-stream" in response.lower()
    body = inspect("--last", "--format", "json").stdout
    sent = emu.chat_requests(PROVIDER)[-1].body
    assert body.encode() == sent
    for fmt in ("request", "response", "events", "curl", "python", "js", "json"):
        text = inspect("--last", "--format", fmt, emu=emu).stdout
        assert emu.key(PROVIDER) not in text, fmt


def _run_snippet(
    emu: Emulator, fmt: str, tmp_path: Path, *, with_key: bool
) -> subprocess.CompletedProcess[str]:
    snippet = inspect("--last", "--format", fmt).stdout
    assert emu.key(PROVIDER) not in snippet
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_API_KEY_")}
    if with_key:
        env["PARLEY_API_KEY_EUROUTER"] = emu.key(PROVIDER)
    emu.push(Behavior(text=REPLY), provider=PROVIDER)
    if fmt == "curl":
        cmd = ["bash", "-c", snippet]
    elif fmt == "python":
        cmd = [sys.executable, "-c", snippet]
    else:
        script = tmp_path / "snippet.mjs"
        script.write_text(snippet, encoding="utf-8")
        cmd = ["node", str(script)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def _streamed_text(stdout: str) -> str:
    text = ""
    for line in stdout.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                text += (choice.get("delta") or {}).get("content") or ""
    return text


@pytest.mark.parametrize("fmt", ["curl", "python", "js"])
def test_snippets_send_the_same_request_with_the_key_from_the_environment(
    emu: Emulator, tmp_path: Path, fmt: str
) -> None:
    tool = {"curl": "curl", "python": sys.executable, "js": "node"}[fmt]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    saved_answer(emu)
    first = emu.chat_requests(PROVIDER)[-1]
    proc = _run_snippet(emu, fmt, tmp_path, with_key=True)
    assert proc.returncode == 0, proc.stderr
    assert _streamed_text(proc.stdout) == REPLY
    again = emu.chat_requests(PROVIDER)[-1]
    assert json.loads(again.body) == json.loads(first.body)
    assert again.headers["authorization"] == f"Bearer {emu.key(PROVIDER)}"

    proc = _run_snippet(emu, fmt, tmp_path, with_key=False)
    assert proc.returncode != 0
    assert "401" in proc.stdout + proc.stderr


def test_replay_sends_the_stored_body_byte_for_byte(emu: Emulator) -> None:
    out = saved_answer(emu)
    first = emu.chat_requests(PROVIDER)[-1]
    emu.push(Behavior(text="Again."), provider=PROVIDER)
    proc = parley("replay", "--last", emu=emu)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Again.\n"
    assert emu.chat_requests(PROVIDER)[-1].body == first.body

    emu.push(Behavior(text="Kept."), provider=PROVIDER)
    proc = parley("replay", str(out["answer_id"]), "--save", "--json", emu=emu)
    assert proc.returncode == 0, proc.stderr
    replayed = json.loads(proc.stdout)
    assert replayed["text"] == "Kept." and replayed["answer_id"] != out["answer_id"]
    assert emu.chat_requests(PROVIDER)[-1].body == first.body
    listed = json.loads(parley("history", str(out["conversation_id"]), "--json").stdout)
    assert [m["role"] for m in listed] == ["user", "assistant"]
    assert listed[-1]["id"] == replayed["answer_id"]  # the shown branch is the new sibling


def test_replay_without_a_key_is_refused_before_sending(emu: Emulator) -> None:
    saved_answer(emu)
    before = len(emu.chat_requests(PROVIDER))
    proc = parley("replay", "--last")
    assert proc.returncode == 2 and "PARLEY_API_KEY_EUROUTER" in proc.stderr
    assert len(emu.chat_requests(PROVIDER)) == before


def test_inspect_names_what_is_missing() -> None:
    proc = parley("inspect", "--last")
    assert proc.returncode == 2 and "no answers" in proc.stderr
    assert "Traceback" not in proc.stderr

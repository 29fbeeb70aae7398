"""`parley` on the command line, run as a real subprocess against the provider emulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from parley import __version__
from tests.helpers.emulator import Behavior, Emulator

REPLY = "Streaming works: here is the answer, in several small chunks."


def parley(
    *args: str, emu: Emulator | None = None, stdin: str | None = None, key: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if emu is not None and key:
        for provider in ("euri", "eurouter", "eigenai", "nordlys", "adaptive-engine"):
            env["PARLEY_API_KEY_" + provider.upper().replace("-", "_")] = emu.key(provider)
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def ask(emu: Emulator, provider: str, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    base = ["ask", "--provider", provider, "--base-url", emu.base_url(provider)]
    return parley(*base, *args, emu=emu, **kw)  # type: ignore[arg-type]


def last_body(emu: Emulator) -> dict[str, object]:
    chats = [r for r in emu.requests if r.path.endswith("/chat/completions")]
    assert chats, "no chat request reached the emulator"
    body = chats[-1].json
    assert isinstance(body, dict)
    return body


def test_version_and_help() -> None:
    assert parley("--version").stdout.strip() == f"parley {__version__}"
    helptext = parley("ask", "--help").stdout
    for code in ("3 ", "4 ", "5 ", "8 ", "10 "):
        assert f"  {code}" in helptext


def test_ask_streams_the_answer_to_stdout_and_reasoning_to_stderr(emu: Emulator) -> None:
    emu.push(Behavior(text=REPLY, reasoning="Let me think about it."), provider="eurouter")
    proc = ask(emu, "eurouter", "--model", "mistral/mistral-small", "Hello?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == REPLY + "\n"
    assert "Let me think about it." in proc.stderr
    assert last_body(emu)["stream"] is True


def test_prompt_from_stdin_system_prompt_and_params_parsed_as_json(emu: Emulator) -> None:
    emu.push(Behavior(text=REPLY), provider="euri")
    proc = ask(
        emu,
        "euri",
        "--model",
        "gpt-4o-mini",
        "--system",
        "Be brief.",
        "--param",
        "temperature=0.2",
        "--param",
        'stop=["\\n", "END"]',
        "--param",
        "seed=7",
        "-",
        stdin="What is two plus two?",
    )
    assert proc.returncode == 0, proc.stderr
    body = last_body(emu)
    assert body["temperature"] == 0.2
    assert body["stop"] == ["\n", "END"]
    assert body["seed"] == 7
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is two plus two?"},
    ]


def test_json_output_has_text_usage_metrics_model_and_finish_reason(emu: Emulator) -> None:
    emu.push(Behavior(text=REPLY, model="routed-model-7b"), provider="nordlys")
    proc = ask(emu, "nordlys", "--model", "claude-opus-4-5", "--json", "Hi")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["text"] == REPLY
    assert out["finish_reason"] == "stop"
    assert out["model_used"] == "routed-model-7b"
    assert out["usage"]["completion_tokens"] > 0
    assert out["metrics"]["ttft_ms"] >= 0
    assert out["status"] == "complete"


def test_no_stream_asks_for_one_response(emu: Emulator) -> None:
    emu.push(Behavior(text=REPLY), provider="eigenai")
    proc = ask(emu, "eigenai", "--model", "gpt-oss-120b", "--no-stream", "Hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == REPLY + "\n"
    assert last_body(emu)["stream"] is False


@pytest.mark.parametrize(
    ("provider", "behavior", "code", "words"),
    [
        (
            "euri",
            Behavior(
                status=403,
                body={
                    "error": {
                        "message": "Daily token limit reached",
                        "type": "forbidden_error",
                        "code": "token_limit_exceeded",
                    }
                },
            ),
            4,
            "Daily token limit reached",
        ),
        ("nordlys", Behavior(status=402, body={"error": "Budget limit exceeded"}), 4, "Budget"),
        ("eurouter", Behavior(status=429, headers={"Retry-After": "0"}, repeat=5), 5, "429"),
        (
            "eurouter",
            Behavior(status=400, message="messages must not be empty"),
            6,
            "messages must not be empty",
        ),
        ("adaptive-engine", Behavior(status=503, headers={"Retry-After": "0"}, repeat=5), 7, "503"),
        ("euri", Behavior(text=REPLY, malformed_after=3, chunk_chars=4), 10, "not valid JSON"),
    ],
)
def test_each_error_class_has_its_exit_code_and_a_message(
    emu: Emulator, provider: str, behavior: Behavior, code: int, words: str
) -> None:
    emu.push(behavior, provider=provider)
    model = "project-a" if provider == "adaptive-engine" else "some-model"
    proc = ask(emu, provider, "--model", model, "Hi")
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert words.lower() in proc.stderr.lower()
    assert emu.key(provider) not in proc.stderr + proc.stdout


def test_a_broken_stream_keeps_the_partial_answer_on_stdout(emu: Emulator) -> None:
    emu.push(Behavior(text=REPLY, disconnect_after=4, chunk_chars=4), provider="eigenai")
    proc = ask(emu, "eigenai", "--model", "gpt-oss-120b", "Hi")
    assert proc.returncode in (8, 10), proc.stderr
    partial = proc.stdout.rstrip("\n")
    assert partial and REPLY.startswith(partial) and partial != REPLY


def test_a_refused_key_exits_3_and_never_prints_the_key(emu: Emulator) -> None:
    env_key = "sk-this-is-a-wrong-key-0123456789"
    proc = subprocess.run(
        [sys.executable, "-m", "parley", "ask", "--provider", "euri", "--base-url",
         emu.base_url("euri"), "--model", "gpt-4o-mini", "Hi"],
        capture_output=True,
        text=True,
        env={**os.environ, "PARLEY_API_KEY_EURI": env_key},
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "key" in proc.stderr.lower()
    assert env_key not in proc.stderr and env_key[:12] not in proc.stderr


def test_unreachable_server_exits_8() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PARLEY_API_KEY_EURI": "sk-test-0000"}
    proc = subprocess.run(
        [sys.executable, "-m", "parley", "ask", "-p", "euri", "--base-url",
         f"http://127.0.0.1:{port}/v1", "-m", "gpt-4o-mini", "Hi"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 8, proc.stderr
    assert "euri" in proc.stderr.lower()


def test_a_slow_first_byte_times_out_with_exit_9(emu: Emulator) -> None:
    emu.push(Behavior(first_byte_delay=3.0, repeat=5), provider="euri")
    proc = ask(emu, "euri", "--model", "gpt-4o-mini", "--timeout", "0.3", "Hi")
    assert proc.returncode == 9, proc.stderr


def test_bad_input_exits_2_with_a_clear_message(emu: Emulator) -> None:
    proc = ask(emu, "euri", "--model", "gpt-4o-mini", "--param", "temperature=5", "Hi")
    assert proc.returncode == 2
    assert "temperature" in proc.stderr and "2" in proc.stderr
    proc = parley("ask", "--provider", "nope", "Hi")
    assert proc.returncode == 2 and "nope" in proc.stderr
    assert not [r for r in emu.requests if r.path.endswith("/chat/completions")]


def test_missing_key_exits_2_and_names_the_variable(emu: Emulator) -> None:
    proc = ask(emu, "eurouter", "--model", "m", "Hi", key=False)
    assert proc.returncode == 2, proc.stderr
    assert "PARLEY_API_KEY_EUROUTER" in proc.stderr


def test_providers_and_models(emu: Emulator) -> None:
    listed = parley("providers").stdout
    for provider in ("euri", "eurouter", "eigenai", "nordlys", "adaptive-engine", "ollama"):
        assert provider in listed
    proc = parley("models", "eurouter", "--base-url", emu.base_url("eurouter"), emu=emu)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "no models listed"
    proc = parley("models", "eigenai", "--json", emu=emu)
    assert proc.returncode == 0, proc.stderr
    assert any(m["id"] == "gpt-oss-120b" for m in json.loads(proc.stdout))


def test_save_history_export_and_import_round_trip(emu: Emulator, tmp_path: Path) -> None:
    emu.push(Behavior(text=REPLY), provider="eurouter")
    proc = ask(emu, "eurouter", "--model", "m1", "--save", "--json", "Remember this")
    assert proc.returncode == 0, proc.stderr
    conv_id = json.loads(proc.stdout)["conversation_id"]

    history = parley("history").stdout
    assert "Remember this" in history and str(conv_id) in history

    markdown = parley("export", "--last", "--format", "md").stdout
    assert "Remember this" in markdown and REPLY in markdown

    exported = tmp_path / "conv.json"
    proc = parley("export", str(conv_id), "--format", "json", "-o", str(exported))
    assert proc.returncode == 0, proc.stderr
    assert emu.key("eurouter") not in exported.read_text()
    new_id = parley("import", str(exported)).stdout.strip()
    assert new_id and new_id != str(conv_id)
    again = json.loads(parley("export", new_id, "--format", "json").stdout)
    first = json.loads(exported.read_text())
    texts = lambda d: sorted(m.get("text", "") for m in d["messages"])  # noqa: E731
    assert texts(again) == texts(first)


def test_providers_lists_the_base_urls_the_user_saved(emu: Emulator) -> None:
    from parley.core.app.settings import load_settings, save_settings

    settings = load_settings()
    settings.base_urls["llamacpp"] = "http://127.0.0.1:9999/v1"
    save_settings(settings)
    rows = {r["id"]: r for r in json.loads(parley("providers", "--json").stdout)}
    assert rows["llamacpp"]["base_url"] == "http://127.0.0.1:9999/v1"
    assert rows["euri"]["base_url"] == "https://api.euron.one/api/v1/euri"
    text = parley("providers").stdout
    assert "http://127.0.0.1:9999/v1" in text


def test_an_unreachable_local_server_is_named_once(emu: Emulator) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    proc = parley("ask", "-p", "llamacpp", "-m", "m", "--base-url", base, "Hi")
    assert proc.returncode == 8
    assert "server (local) server" not in proc.stderr and "connection refused" in proc.stderr

"""`parley` against hostile places and files: a data folder that is a file, a history on
read-only media, exports to where they cannot go. Real processes, real files, real mounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parley.core.store import Store
from tests.helpers.emulator import Behavior, Emulator
from tests.helpers.mounts import read_only, run_mounted, shell_quote, small_disk

PARLEY = [sys.executable, "-m", "parley"]
ROOT = Path(__file__).resolve().parents[2]


def parley(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if home is not None:
        env["PARLEY_HOME"] = str(home)
    return subprocess.run([*PARLEY, *args], capture_output=True, text=True, env=env, timeout=60)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream and "unexpected internal error" not in stream, stream


def _history(home: Path) -> int:
    home.mkdir(parents=True, exist_ok=True)
    with Store.open(home / "parley.sqlite3") as store:
        conv = store.create_conversation(title="kept safe", provider="euri", model="m")
        user = store.add_message(conv, None, "user", "What is on the read-only disk?")
        answer = store.begin_answer(conv, user, {}, "euri", "m")
        store.finish_answer(answer, text="Everything you saved.")
        return conv


@pytest.mark.parametrize("under", [False, True])
def test_parley_home_that_is_a_file_or_under_one_gets_a_clear_message(
    tmp_path: Path, under: bool
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("I am a file")
    home = blocker / "parley" if under else blocker
    for args in (
        ["history"],
        ["export", "--last"],
        ["import", str(blocker)],
        ["providers"],
        ["models", "euri"],
        ["ask", "-p", "euri", "-m", "m", "--save", "Hi"],
    ):
        proc = parley(*args, home=home)
        no_traceback(proc)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "PARLEY_HOME" in proc.stderr and str(blocker) in proc.stderr, proc.stderr
    assert blocker.read_text() == "I am a file"


def test_a_history_on_read_only_media_is_listed_and_exported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    conv = _history(home)
    before = sorted(p.name for p in home.iterdir())
    out = tmp_path / "out"
    out.mkdir()
    script = " && ".join(
        [
            shell_quote([*PARLEY, "history", "--json"]) + f" > '{out}/history.json'",
            shell_quote([*PARLEY, "export", str(conv), "--format", "md"]) + f" > '{out}/c.md'",
            shell_quote([*PARLEY, "export", "--last", "--format", "json"]) + f" > '{out}/c.json'",
            # writing is refused with a clear message, nothing else
            "(set +e; "
            + shell_quote([*PARLEY, "import", f"{out}/c.json"])
            + f" 2> '{out}/import.err'; echo $? > '{out}/import.rc')",
        ]
    )
    proc = run_mounted(read_only(home), script, env={**os.environ, "PARLEY_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert [c["title"] for c in json.loads((out / "history.json").read_text())] == ["kept safe"]
    assert "Everything you saved." in (out / "c.md").read_text()
    exported = json.loads((out / "c.json").read_text())
    assert [m["text"] for m in exported["messages"]][-1] == "Everything you saved."
    assert (out / "import.rc").read_text().strip() != "0"
    error = (out / "import.err").read_text()
    assert "read-only" in error and "Traceback" not in error
    assert sorted(p.name for p in home.iterdir()) == before


def test_export_to_a_folder_or_a_missing_folder_is_refused_clearly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _history(home)
    for target, words in (
        (tmp_path, "is a folder"),
        (tmp_path / "missing" / "c.md", "does not exist"),
        (home / "parley.sqlite3" / "c.md", "is not a folder"),
    ):
        proc = parley("export", "--last", "-o", str(target), home=home)
        no_traceback(proc)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert not (tmp_path / "missing").exists()


def test_export_on_a_full_disk_leaves_the_existing_file_untouched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with Store.open(home / "parley.sqlite3") as store:
        conv = store.create_conversation(title="long")
        store.add_message(conv, None, "user", "a long conversation " * 30_000)  # ~600 KB
    disk = tmp_path / "disk"
    disk.mkdir()
    target = disk / "conversation.md"
    script = " && ".join(
        [
            f"printf 'the previous export' > '{target}'",
            # fill the 256 KB disk: the new export cannot fit beside the old one
            f"(dd if=/dev/zero of='{disk}/filler' bs=1k count=1024 2>/dev/null || true)",
            "(set +e; "
            + shell_quote([*PARLEY, "export", str(conv), "-o", str(target)])
            + f" 2> '{tmp_path}/export.err'; echo $? > '{tmp_path}/export.rc')",
            f"cat '{target}' > '{tmp_path}/after.md'",
            f"ls -A '{disk}' > '{tmp_path}/files'",
        ]
    )
    env = {**os.environ, "PARLEY_HOME": str(home)}
    proc = run_mounted(small_disk(disk, 256), script, env=env)
    assert proc.returncode == 0, proc.stderr
    error = (tmp_path / "export.err").read_text()
    assert (tmp_path / "export.rc").read_text().strip() == "2", error
    assert "disk is full" in error and "unchanged" in error and "Traceback" not in error
    assert (tmp_path / "after.md").read_text() == "the previous export"
    assert (tmp_path / "files").read_text().split() == ["conversation.md", "filler"]


@pytest.mark.parametrize("existing", [False, True])
def test_a_refused_ask_save_leaves_nothing_behind(tmp_path: Path, existing: bool) -> None:
    home = tmp_path / "home"
    if existing:
        _history(home)
    db = home / "parley.sqlite3"
    before = db.read_bytes() if existing else None
    env = {**os.environ, "PARLEY_HOME": str(home), "PARLEY_API_KEY_EURI": "sk-test-0000"}
    base = [*PARLEY, "ask", "--save", "-m", "gpt-4o-mini"]
    for args in (
        ["-p", "euri", ""],
        ["-p", "euri", "   "],
        ["-p", "euri", "--param", "nope=1", "Hi"],
        ["-p", "euri", "--param", "temperature=9", "Hi"],
        ["-p", "euri", "--param", "stop=" + "[" * 3000 + "]" * 3000, "Hi"],
        ["-p", "euri", "--advanced", '{"a": 1e400}', "Hi"],
        ["-p", "eurouter", "Hi"],  # no key
        ["-p", "no-such-provider", "Hi"],
    ):
        proc = subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=60)
        no_traceback(proc)
        assert proc.returncode == 2, (args, proc.stderr)
        if existing:
            assert db.read_bytes() == before
        else:
            assert not db.exists(), args


# --- ask --save when the history cannot be written for a while --------------------------

LONG = "".join(f"word{i} " for i in range(9_000))  # ~75 KB, streamed over a few seconds


def ask_save_args(emu: Emulator, prompt: str) -> list[str]:
    return [*PARLEY, "ask", "--save", "-p", "euri", "--base-url", emu.base_url("euri"),
            "-m", "gpt-4o-mini", prompt]  # fmt: skip


def last_answer(home: Path) -> tuple[str, str]:
    with Store.open(home / "parley.sqlite3", read_only=True) as store:
        conv = store.latest_conversation_id()
        assert conv is not None
        answer = store.current_path(conv)[-1]
        return answer.status, answer.text


def test_ask_save_waits_out_another_program_holding_the_write_lock(
    tmp_path: Path, emulator: Emulator
) -> None:
    home = tmp_path / "home"
    _history(home)
    emulator.clear()
    emulator.push(Behavior(text=LONG, chunk_chars=300, chunk_delay=0.01), provider="euri")
    env = {**os.environ, "PARLEY_HOME": str(home), "PARLEY_API_KEY_EURI": emulator.key("euri")}
    ask = subprocess.Popen(
        ask_save_args(emulator, "Count"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=0,  # nothing read ahead: communicate() gets the rest
    )
    assert ask.stdout is not None
    first = ask.stdout.read(200)  # streaming has begun
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.store_worker", "hold",
         str(home / "parley.sqlite3"), "7"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "LOCKED"
    rest, err = ask.communicate(timeout=60)
    holder.communicate(timeout=30)
    assert ask.returncode == 0, err
    assert (first + rest).decode() == LONG + "\n"
    assert b"Traceback" not in err
    assert last_answer(home) == ("complete", LONG)


def test_ask_save_on_a_disk_that_fills_mid_answer_keeps_it_and_adds_it_later(
    tmp_path: Path, emulator: Emulator
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    emulator.clear()
    emulator.push(Behavior(text=LONG, chunk_chars=5000), provider="euri")  # warm up
    # the disk fills during the pause
    emulator.push(Behavior(text=LONG, chunk_chars=1000, pause_after=3, pause=1.5), provider="euri")
    emulator.push(Behavior(text=LONG, chunk_chars=5000), provider="euri")  # again
    env = {**os.environ, "PARLEY_HOME": str(home), "PARLEY_API_KEY_EURI": emulator.key("euri")}
    out = tmp_path / "out"
    out.mkdir()
    ask = shell_quote(ask_save_args(emulator, "Count"))
    script = "\n".join(
        [
            shell_quote(ask_save_args(emulator, "Warm up")) + " > /dev/null",
            f"({ask} > '{out}/answer.txt' 2> '{out}/ask.err'; echo $? > '{out}/ask.rc') &",
            f"while [ ! -s '{out}/answer.txt' ]; do sleep 0.02; done",
            f"dd if=/dev/zero of='{home}/filler' bs=4k 2>/dev/null || true",  # the disk is full
            "wait",
            shell_quote([*PARLEY, "history", "--json"]) + f" > '{out}/history-full.json'",
            f"rm '{home}/filler'",  # space again
            shell_quote(ask_save_args(emulator, "Again")) + " > /dev/null",  # the next writer
            shell_quote([*PARLEY, "history", "--json"]) + f" > '{out}/history.json'",
            f"cp '{home}/parley.sqlite3' '{out}/copy.sqlite3'",
        ]
    )
    proc = run_mounted(small_disk(home, 8 * 1024), script, env=env)
    try:
        assert proc.returncode == 0, proc.stderr
        err = (out / "ask.err").read_text()
        assert (out / "ask.rc").read_text().strip() == "0", err
        assert "Traceback" not in err + proc.stderr
        assert (out / "answer.txt").read_text() == LONG + "\n"  # all of it was printed
        assert "not in the history yet" in err and "full" in err and "kept in" in err
        rescue = Path(err.split("kept in ")[1].split(" and goes")[0])
        assert not rescue.exists()  # written into the history, then removed
        with Store.open(out / "copy.sqlite3", read_only=True) as store:
            counted = [
                m for c in store.list_conversations() for m in store.messages(c.id)
                if m.role == "assistant" and m.text == LONG and m.status == "complete"
            ]  # fmt: skip
            assert len(counted) == 3  # warm-up, the one the disk refused, and "again"
    finally:
        emulator.clear()


def test_an_export_without_a_keyring_says_which_keys_it_could_not_look_for(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    _history(home)
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env.update(PARLEY_HOME=str(home), DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/bus")
    env["PARLEY_API_KEY_EURI"] = "euri-env-key-1234567890"
    proc = subprocess.run(
        [*PARLEY, "export", "--last"], capture_output=True, text=True, env=env, timeout=60
    )
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "Everything you saved." in proc.stdout
    assert "keyring could not be read" in proc.stderr
    assert "PARLEY_API_KEY_* variables were" in proc.stderr

"""Every `parley` command against hostile files, environment and arguments: whatever it is
given, a result or a clear message, never a traceback (and never the catch-all "unexpected
internal error" line, which would mean a case nobody handled). Real processes, real files,
the provider emulator on loopback."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from parley.core.store import Store
from parley.core.store.export import export_json
from tests.helpers.emulator import Emulator
from tests.helpers.images import PNG_BASE64

PROVIDER = 'id = "{id}"\nname = "Hostile {id}"\nbase_url = "http://127.0.0.1:1/v1"\n'


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def healthy_history(home: Path) -> dict[str, object]:
    home.mkdir(parents=True, exist_ok=True)
    with Store.open(home / "parley.sqlite3") as store:
        conv = store.create_conversation(title="Hostile test", provider="euri", model="m")
        user = store.add_message(conv, None, "user", "Hello")
        answer = store.begin_answer(conv, user, {}, "euri", "m")
        store.finish_answer(answer, text="Hi there", usage={"completion_tokens": 2})
        return export_json(store, conv)


def hostile_files(home: Path) -> None:
    """A home where every file Parley reads, except the history, is broken in some way."""
    healthy_history(home)
    (home / "settings.json").write_text('{"presets": ' + '{"a":' * 30_000 + "1" + "}" * 30_000)
    providers = home / "providers"
    providers.mkdir()
    (providers / "deep.toml").write_text(PROVIDER.format(id="deep") + "x = " + "[" * 30_000)
    (providers / "zero.toml").symlink_to("/dev/zero")
    os.mkfifo(providers / "pipe.toml")
    (providers / "binary.toml").write_bytes(b'id = "bin"\n\xff\xfe\x00\x80')
    (providers / "huge.toml").write_text(PROVIDER.format(id="huge") + "#" * 3_000_000)
    params = ",".join(f'{{name = "p{i}", type = "number", help = "h"}}' for i in range(20_000))
    (providers / "many.toml").write_text(PROVIDER.format(id="many") + f"params = [{params}]\n")
    (providers / "regex.toml").write_text(
        PROVIDER.format(id="regex")
        + '[[params]]\nname = "s"\ntype = "string"\nhelp = "h"\npattern = "^(a+)+$"\n'
    )
    (providers / "folder.toml").mkdir()
    cache = home / "cache"
    cache.mkdir()
    (cache / "providers.json").write_text("[" * 100_000)
    (home / "parley-unsaved-000000000000-1-1.json").write_bytes(b"\xff{")


def garbage_db(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "parley.sqlite3").write_bytes(os.urandom(8192))
    (home / "settings.json").write_bytes(os.urandom(300))


def foreign_db(home: Path) -> None:
    home.mkdir(parents=True)
    conn = sqlite3.connect(home / "parley.sqlite3")
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()


def folder_db(home: Path) -> None:
    (home / "parley.sqlite3").mkdir(parents=True)


def empty_db(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "parley.sqlite3").write_bytes(b"")
    (home / "settings.json").symlink_to("/dev/zero")


def newer_db(home: Path) -> None:
    healthy_history(home)
    conn = sqlite3.connect(home / "parley.sqlite3")
    conn.execute("PRAGMA user_version = 999")
    conn.close()


def import_files(folder: Path, sample: dict[str, object]) -> dict[str, Path]:
    """Files given to `parley import`: each broken in its own way."""
    folder.mkdir()
    files: dict[str, Path] = {}

    def add(name: str, body: str | bytes) -> None:
        files[name] = folder / name
        if isinstance(body, bytes):
            files[name].write_bytes(body)
        else:
            files[name].write_text(body)

    def changed(change: Callable[[dict[str, object]], None]) -> str:
        data = json.loads(json.dumps(sample))
        change(data)
        return json.dumps(data)

    def message(field: str, value: object) -> Callable[[dict[str, object]], None]:
        def change(data: dict[str, object]) -> None:
            data["messages"][1][field] = value  # type: ignore[index]

        return change

    add("deep.json", '{"format": "parley.conversation", "messages": ' + "[" * 50_000)
    add("not-utf8.json", json.dumps(sample).encode()[:60] + b"\xff\xfe\x80" + b"}")
    add("usage-string.json", changed(message("usage", "lots")))
    add("error-string.json", changed(message("error", "it broke")))
    add("metrics-text.json", changed(message("metrics", {"ttft_ms": "fast"})))
    add("params-string.json", changed(lambda d: d["conversation"].update(params="x")))  # type: ignore[attr-defined]
    add("time-1e300.json", changed(message("created_at", 1e300)))
    add("bad-base64.json", changed(message("content", [{"type": "image", "data": "%%%"}])))
    add("good-image.json", changed(message("content", [{"type": "image", "data": PNG_BASE64}])))
    add("huge-int.json", changed(message("cost", 0)).replace('"cost": 0', '"cost": ' + "9" * 5000))
    add("not-json.json", "hello")
    add("empty.json", "")
    add("array.json", "[]")
    add("version-huge.json", changed(lambda d: d.update(version=10**30)))
    add("loop.json", changed(message("parent_id", sample["messages"][1]["id"])))  # type: ignore[index]
    files["dev-zero"] = Path("/dev/zero")
    files["a-folder"] = folder
    files["missing"] = folder / "missing.json"
    return files


def run(args: list[str], home: Path, emu: Emulator) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PARLEY_HOME=str(home), PARLEY_API_KEY_EURI=emu.key("euri"))
    env.pop("PARLEY_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow  # about 70 short processes
def test_no_command_ever_shows_a_traceback(tmp_path: Path, emu: Emulator) -> None:
    url = emu.base_url("euri")
    ask = ["ask", "-p", "euri", "--base-url", url, "-m", "gpt-4o-mini"]
    out = tmp_path / "out"
    out.mkdir()
    every_command = [
        [*ask, "Hi"],
        [*ask, "--save", "--json", "Hi"],
        ["providers"],
        ["providers", "--json"],
        ["models", "euri", "--base-url", url],
        ["history"],
        ["history", "--json"],
        ["export", "--last"],
        ["export", "--last", "--format", "json", "-o", str(out / "c.json")],
        ["history", "1"],
        ["inspect", "--last"],
    ]
    store_commands = [
        [*ask, "--save", "Hi"],
        ["history", "--json"],
        ["export", "--last", "--format", "md"],
        ["export", "1", "--format", "json"],
        ["inspect", "--last", "--format", "curl"],
    ]
    cases: list[tuple[str, list[str], Path]] = []
    for name, build, commands in (
        ("hostile-files", hostile_files, every_command),
        ("garbage-db", garbage_db, store_commands),
        ("foreign-db", foreign_db, store_commands),
        ("folder-db", folder_db, store_commands),
        ("empty-db", empty_db, [*store_commands, ["providers"]]),
        ("newer-db", newer_db, store_commands),
    ):
        home = tmp_path / name
        build(home)
        cases += [(name, command, home) for command in commands]

    healthy = tmp_path / "healthy"
    sample = healthy_history(healthy)
    for name, path in import_files(tmp_path / "imports", sample).items():
        cases.append((f"import {name}", ["import", str(path)], healthy))
    deep = "[" * 20_000 + "]" * 20_000
    for args in (
        [*ask, "--timeout", "nan", "Hi"],
        [*ask, "--timeout=-1", "Hi"],
        [*ask, "--timeout", "1e999", "Hi"],
        [*ask, "--advanced", "{" + '"a":' * 1 + deep + "}", "Hi"],
        [*ask, "--advanced", '{"a": ' + "9" * 5000 + "}", "Hi"],
        [*ask, "--advanced", '{"a": NaN}', "Hi"],
        [*ask, "--param", "stop=" + deep, "Hi"],
        [*ask, "--param", "seed=" + "9" * 5000, "Hi"],
        [*ask, "--param", "=1", "Hi"],
        [*ask, "--param", "temperature=1e400", "--save", "Hi"],
        [*ask, "--save", ""],
        ["ask", "-p", "euri", "--base-url", "not a url", "-m", "m", "Hi"],
        ["models", "no-such-provider"],
        ["export", "99999999999999999999"],
        ["export", "--last", "-o", str(tmp_path)],
        ["export", "--last", "-o", str(tmp_path / "missing" / "x.md")],
        ["history", "--limit", "1e9999"],
        ["history", "99999999999999999999"],
        ["inspect", "99999999999999999999"],
        ["replay", "99999999999999999999"],
        [*ask, "--deadline", "nan", "Hi"],
    ):
        cases.append(("arguments", args, healthy))
    cases.append(("home is a file", ["history"], tmp_path / "imports" / "deep.json"))
    cases.append(("home under a file", [*ask, "--save", "Hi"], tmp_path / "empty-db" / "x" / "y"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: run(c[1], c[2], emu), cases))
    failures = []
    for (name, args, _), proc in zip(cases, results, strict=True):
        shown = " ".join(a if len(a) < 40 else a[:37] + "..." for a in args)
        text = proc.stdout + proc.stderr
        if "Traceback" in text or "unexpected internal error" in text:
            failures.append(f"{name}: parley {shown}\n{text[-1500:]}")
        elif proc.returncode != 0 and not proc.stderr.strip():
            failures.append(f"{name}: parley {shown} failed ({proc.returncode}) without a word")
    assert not failures, "\n\n".join(failures)

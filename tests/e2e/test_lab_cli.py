"""`parley leaderboard` and `parley FILE.toml` as real subprocesses: the leaderboard over a
history holding known votes (the table, CSV and JSON figures, --tag, --votes, clear messages for
bad options and an empty history), and an experiment file opened in the Lab (--self-test)."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from parley.core.lab.leaderboard import ELO_SCALE
from parley.core.store import Store
from parley.core.store import compare as compare_store


def parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def votes(parley_home: Path) -> None:
    with Store.open() as store:
        for _ in range(3):
            compare_store.add_vote(
                store, None, "better", ["p/a", "p/b"], winner="p/a", tags=["code"]
            )
        compare_store.add_vote(store, None, "better", ["p/a", "p/b"], winner="p/b", tags=["prose"])
        compare_store.add_vote(store, None, "tie", ["p/b", "p/c"], tags=["prose"])


def test_rankings_as_json_match_the_closed_form(votes: None) -> None:
    done = parley("leaderboard", "--format", "json", "--prior", "0", "--tag", "code")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    # Only a beat b (3 games), never lost: no finite strength without a prior; the order holds.
    assert [r["model"] for r in data["ranks"]] == ["p/a", "p/b"] and data["votes"] == 3
    overall = json.loads(parley("leaderboard", "--format", "json", "--prior", "0").stdout)
    ranks = {r["model"]: r for r in overall["ranks"]}
    assert overall["votes"] == 5 and set(ranks) == {"p/a", "p/b", "p/c"}
    # a: 3 of 4 against b; b-c one tie. Score equations: a vs b only -> θa - θb = ln 3.
    assert ranks["p/a"]["theta"] - ranks["p/b"]["theta"] == pytest.approx(math.log(3), abs=1e-6)
    assert ranks["p/b"]["theta"] == pytest.approx(ranks["p/c"]["theta"], abs=1e-6)
    assert ranks["p/a"]["rating"] - ranks["p/b"]["rating"] == pytest.approx(
        ELO_SCALE * math.log(3), abs=0.2
    )


def test_table_and_csv(votes: None) -> None:
    table = parley("leaderboard")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "model", "rating"]
    assert lines[1].split()[:2] == ["1", "p/a"] and "5 votes" in lines[-1]
    rows = list(csv.DictReader(io.StringIO(parley("leaderboard", "--format", "csv").stdout)))
    assert next(r["model"] for r in rows) == "p/a" and len(rows) == 3
    assert float(rows[0]["low"]) < float(rows[0]["rating"]) < float(rows[0]["high"])


def test_votes_export(votes: None) -> None:
    data = json.loads(parley("leaderboard", "--votes", "--format", "json").stdout)
    assert [v["outcome"] for v in data] == ["better"] * 4 + ["tie"]
    assert data[3]["winner"] == "p/b" and data[4]["tags"] == ["prose"]
    rows = list(
        csv.DictReader(io.StringIO(parley("leaderboard", "--votes", "--format", "csv").stdout))
    )
    assert rows[0]["models"] == "p/a | p/b" and rows[0]["tags"] == "code"
    prose = parley("leaderboard", "--votes", "--tag", "Prose")
    assert prose.stdout.count("\n") == 2 and "p/b is better" in prose.stdout


def test_no_votes_and_bad_options(parley_home: Path) -> None:
    empty = parley("leaderboard")
    assert empty.returncode == 0 and "No votes yet" in empty.stdout
    bad = parley("leaderboard", "--prior", "-1")
    assert bad.returncode == 2 and "--prior" in bad.stderr and "Traceback" not in bad.stderr
    wrong = parley("leaderboard", "--format", "xml")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


def test_parley_toml_that_is_not_there(tmp_path: Path) -> None:
    done = parley(str(tmp_path / "missing.toml"))
    assert done.returncode == 2
    assert "missing.toml: there is no such file." in done.stderr and "Traceback" not in done.stderr


def _self_test(path: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "parley", str(path), "--self-test"],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def test_parley_toml_opens_the_experiment_in_the_lab(tmp_path: Path) -> None:
    good = tmp_path / "pair.toml"
    good.write_text(
        'name = "pair"\nprompt = "Say hi."\n'
        + '[[variants]]\nprovider = "euri"\nmodel = "gpt-4o-mini"\n' * 2,
        encoding="utf-8",
    )
    done = _self_test(good)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test ok" in done.stdout and "lab: pair: 2 panes ready to run" in done.stdout


def test_parley_toml_of_a_sweep_opens_it_in_the_labs_sweep_page() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "temperature-x-seed.toml"
    done = _self_test(example)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lab: temperature x seed: a sweep of 24 runs ready to check" in done.stdout


def test_parley_toml_with_problems_says_so_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('prompt = "x"\n[[variants]]\nprovider = "nope"\n', encoding="utf-8")
    done = _self_test(bad)
    assert "Traceback" not in done.stdout + done.stderr
    assert "lab: could not open" in done.stdout
    assert "there is no provider 'nope'" in done.stderr and "bad.toml:3" in done.stderr

"""Bradley–Terry leaderboard of blind votes (core.lab.leaderboard) on votes whose figures are
known: closed forms for two models, the score equations of the maximum-likelihood fit for more,
and the Fisher-information standard errors."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from parley.core.lab.leaderboard import (
    ELO_SCALE,
    Vote,
    bradley_terry,
    parse_tags,
    ranks_csv,
    ranks_json,
    ranks_table,
    votes_csv,
    votes_json,
)


def better(winner: str, *others: str, tags: tuple[str, ...] = ()) -> Vote:
    return Vote((winner, *others), "better", winner, tags)


def tie(*models: str, tags: tuple[str, ...] = ()) -> Vote:
    return Vote(tuple(models), "tie", None, tags)


def by_model(board: object) -> dict[str, object]:
    return {r.model: r for r in board.ranks}  # type: ignore[attr-defined]


def test_two_models_three_to_one_closed_form() -> None:
    votes = [better("A", "B")] * 3 + [better("B", "A")]
    board = bradley_terry(votes, prior=0)
    r = by_model(board)
    a, b = r["A"], r["B"]
    # p_A / p_B = wins ratio = 3; normalised to a geometric mean of 1.
    assert a.theta - b.theta == pytest.approx(math.log(3), abs=1e-9)  # type: ignore[attr-defined]
    assert a.theta == pytest.approx(math.log(3) / 2, abs=1e-9)  # type: ignore[attr-defined]
    # Fisher: n π (1-π) = 4 * 3/4 * 1/4 = 0.75; Var θ_A under Σθ = 0 is 1 / (4 * 0.75) = 1/3.
    assert a.se == pytest.approx(math.sqrt(1 / 3), abs=1e-9)  # type: ignore[attr-defined]
    assert a.rating == pytest.approx(1000 + ELO_SCALE * math.log(3) / 2)  # type: ignore[attr-defined]
    assert a.rating == pytest.approx(1095.4, abs=0.05)  # type: ignore[attr-defined]
    half = 1.959963984540054 * ELO_SCALE * math.sqrt(1 / 3)
    assert a.low == pytest.approx(a.rating - half)  # type: ignore[attr-defined]
    assert [x.model for x in board.ranks] == ["A", "B"] and board.votes == 4
    assert a.games == 4 and a.wins == 3  # type: ignore[attr-defined]


def test_ties_count_as_half_wins() -> None:
    # A: one win and two ties = 2 of 3 games -> p_A / p_B = 2.
    board = bradley_terry([better("A", "B"), tie("A", "B"), tie("B", "A")], prior=0)
    r = by_model(board)
    assert r["A"].theta - r["B"].theta == pytest.approx(math.log(2), abs=1e-9)  # type: ignore[attr-defined]
    assert r["A"].wins == 2.0  # type: ignore[attr-defined]


def test_all_bad_is_a_tie_of_every_pair() -> None:
    board = bradley_terry([Vote(("A", "B", "C"), "all_bad")], prior=0)
    assert {r.model for r in board.ranks} == {"A", "B", "C"}
    assert all(r.theta == pytest.approx(0, abs=1e-9) for r in board.ranks)
    assert all(r.games == 2 for r in board.ranks)


def test_a_cycle_gives_equal_strengths() -> None:
    board = bradley_terry([better("A", "B"), better("B", "C"), better("C", "A")], prior=0)
    assert all(r.strength == pytest.approx(1.0, abs=1e-8) for r in board.ranks)


def test_three_models_satisfy_the_score_equations() -> None:
    games = {("A", "B"): (2, 1), ("B", "C"): (2, 1), ("A", "C"): (3, 1)}
    votes = []
    for (i, j), (wi, wj) in games.items():
        votes += [better(i, j)] * wi + [better(j, i)] * wj
    board = bradley_terry(votes, prior=0)
    p = {r.model: r.strength for r in board.ranks}
    wins = {"A": 5, "B": 3, "C": 2}
    for i in p:
        expected = 0.0
        for (a, b), (wa, wb) in games.items():
            if i in (a, b):
                j = b if i == a else a
                expected += (wa + wb) * p[i] / (p[i] + p[j])
        assert expected == pytest.approx(wins[i], abs=1e-8)
    assert [r.model for r in board.ranks] == ["A", "B", "C"]
    assert math.prod(p.values()) == pytest.approx(1.0)


def test_a_multi_pane_vote_beats_each_other_model() -> None:
    board = bradley_terry([better("A", "B", "C", "D")], prior=0)
    r = by_model(board)
    assert r["A"].wins == 3 and r["A"].games == 3  # type: ignore[attr-defined]
    assert r["B"].games == 1 and r["B"].wins == 0  # type: ignore[attr-defined]


def test_the_same_model_twice_is_one_player() -> None:
    assert Vote(("A", "A", "B"), "better", "A").pairs() == [("A", "B", 1.0)]
    board = bradley_terry([Vote(("A", "A"), "better", "A")])
    assert board.ranks == () and board.skipped == 1


def test_the_prior_keeps_an_undefeated_model_finite() -> None:
    board = bradley_terry([better("A", "B")], prior=1.0)
    r = by_model(board)
    pa = r["A"].strength  # type: ignore[attr-defined]
    # Symmetric: p_B = 1 / p_A; the score equation of A (1 win + half the virtual tie)
    # 1.5 = p² / (p² + 1) + p / (p + 1), solved here by bisection.
    lo, hi = 1.0, 100.0
    for _ in range(200):
        mid = (lo + hi) / 2
        f = mid * mid / (mid * mid + 1) + mid / (mid + 1) - 1.5
        lo, hi = (mid, hi) if f < 0 else (lo, mid)
    assert pa == pytest.approx(lo, rel=1e-8)
    assert r["B"].strength == pytest.approx(1 / lo, rel=1e-8)  # type: ignore[attr-defined]
    assert math.isfinite(r["A"].high) and board.converged  # type: ignore[attr-defined]


def test_more_votes_narrow_the_interval() -> None:
    few = by_model(bradley_terry([better("A", "B"), better("B", "A")] * 2))
    many = by_model(bradley_terry([better("A", "B"), better("B", "A")] * 50))
    assert many["A"].high - many["A"].low < few["A"].high - few["A"].low  # type: ignore[attr-defined]


def test_by_tag() -> None:
    votes = [better("A", "B", tags=("code",))] * 3 + [better("B", "A", tags=("prose",))] * 3
    code = bradley_terry(votes, tag="code")
    prose = bradley_terry(votes, tag="prose")
    assert code.ranks[0].model == "A" and prose.ranks[0].model == "B"
    assert code.votes == 3 and bradley_terry(votes).votes == 6
    assert bradley_terry(votes, tag="none").ranks == ()


def test_exports_read_back() -> None:
    votes = [better("A", "B", tags=("code", "x"))] * 3 + [tie("A", "B")]
    board = bradley_terry(votes)
    rows = list(csv.DictReader(io.StringIO(ranks_csv(board))))
    assert [r["model"] for r in rows] == ["A", "B"]
    assert float(rows[0]["rating"]) == pytest.approx(board.ranks[0].rating, abs=0.1)
    data = json.loads(ranks_json(board))
    assert data["votes"] == 4 and data["ranks"][0]["model"] == "A"
    vrows = list(csv.DictReader(io.StringIO(votes_csv(votes))))
    assert vrows[0]["outcome"] == "better" and vrows[0]["tags"] == "code, x"
    assert json.loads(votes_json(votes))[3]["outcome"] == "tie"
    table = ranks_table(board)
    assert "A" in table.splitlines()[1] and "4 votes" in table


def test_json_says_null_for_an_interval_it_cannot_give() -> None:
    board = bradley_terry([better("A", "B")] * 3, prior=0)  # never lost: no finite MLE
    assert not board.converged and "A" in board.notes[0]
    data = json.loads(ranks_json(board))  # valid JSON whatever the figures
    assert data["ranks"][0]["model"] == "A" and data["ranks"][0]["low"] is None


def test_parse_tags() -> None:
    assert parse_tags("code, Math ,, code") == ("code", "math")
    assert parse_tags("") == ()

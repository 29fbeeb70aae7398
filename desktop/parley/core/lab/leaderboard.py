"""The leaderboard of blind votes: Bradley–Terry strengths with Fisher-information intervals.

A vote is over the models of one comparison: "this one is better" (the winner beats each of
the others), "tie" or "all bad" (every pair ties; as in Chatbot Arena, both count as a tie).
Ties count as half a win each way. Pairs of panes holding the same model are left out.

The strengths are the maximum-likelihood Bradley–Terry fit, found by Hunter's MM iteration
(Hunter 2004, "MM algorithms for generalized Bradley–Terry models"): with W_i the wins of i and
n_ij the games of i against j, repeat p_i = W_i / Σ_j n_ij / (p_i + p_j). Unregularised, a model
that won every game has no finite strength, so by default every model also plays `prior`
virtual tied games against a fixed anchor of strength 1 (θ = 0): with a few votes it pulls the
strengths towards the anchor, with many it hardly matters. `prior=0` gives the plain MLE
(strengths then normalised to a geometric mean of 1).

Intervals: θ_i = ln p_i has the inverse of the Fisher information as its covariance, with
I_ii = Σ_j n_ij π_ij (1 - π_ij) and I_ij = -n_ij π_ij (1 - π_ij), π_ij = p_i / (p_i + p_j)
(the anchor's games on the diagonal; without an anchor the pseudo-inverse under Σθ = 0).
A rating is θ on the Elo scale: 1000 + 400 θ / ln 10, with its 95 % interval.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["better", "tie", "all_bad"]
OUTCOMES: tuple[Outcome, ...] = ("better", "tie", "all_bad")
ELO_BASE = 1000.0
ELO_SCALE = 400.0 / math.log(10.0)
Z95 = 1.959963984540054
DEFAULT_PRIOR = 1.0


@dataclass(frozen=True)
class Vote:
    models: tuple[str, ...]  # every model in the comparison (a model twice counts once)
    outcome: Outcome
    winner: str | None = None  # for "better"
    tags: tuple[str, ...] = ()
    id: int | None = None
    created_at: float | None = None
    comparison_id: int | None = None

    def pairs(self) -> list[tuple[str, str, float]]:
        """(i, j, score of i) for each pair this vote decides: 1 a win, 0.5 a tie."""
        models = list(dict.fromkeys(self.models))
        out: list[tuple[str, str, float]] = []
        if self.outcome == "better":
            if self.winner is None or self.winner not in models:
                return []
            return [(self.winner, m, 1.0) for m in models if m != self.winner]
        for a in range(len(models)):
            for b in range(a + 1, len(models)):
                out.append((models[a], models[b], 0.5))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "comparison_id": self.comparison_id,
            "created_at": self.created_at,
            "outcome": self.outcome,
            "winner": self.winner,
            "models": list(self.models),
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Rank:
    model: str
    rank: int
    strength: float  # p_i
    theta: float  # ln p_i
    se: float  # standard error of theta
    rating: float  # Elo scale
    low: float  # 95 % interval of the rating
    high: float
    games: float  # pairwise games (a tie counts as one game)
    wins: float  # ties as half wins

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "model": self.model,
            "rating": _finite(round(self.rating, 1)),
            "low": _finite(round(self.low, 1)),
            "high": _finite(round(self.high, 1)),
            "strength": _finite(self.strength),
            "theta": _finite(self.theta),
            "se": _finite(self.se),
            "games": self.games,
            "wins": self.wins,
        }


@dataclass(frozen=True)
class Leaderboard:
    ranks: tuple[Rank, ...]
    votes: int  # votes counted
    tag: str | None = None
    prior: float = DEFAULT_PRIOR
    iterations: int = 0
    converged: bool = True
    skipped: int = 0  # votes that decided no pair (one model only)
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "votes": self.votes,
            "prior": self.prior,
            "method": "Bradley-Terry (MM), ties as half wins; 95% Fisher-information intervals",
            "ranks": [r.to_dict() for r in self.ranks],
        }


def bradley_terry(
    votes: Iterable[Vote],
    *,
    prior: float = DEFAULT_PRIOR,
    tag: str | None = None,
    tolerance: float = 1e-10,
    max_iterations: int = 10_000,
) -> Leaderboard:
    """Rank the models in `votes` (only those tagged `tag`, when given)."""
    chosen = [v for v in votes if tag is None or tag in v.tags]
    wins: dict[str, float] = {}
    games: dict[tuple[str, str], float] = {}
    counted = skipped = 0
    for vote in chosen:
        pairs = vote.pairs()
        if not pairs:
            skipped += 1
            continue
        counted += 1
        for first, second, score in pairs:
            wins[first] = wins.get(first, 0.0) + score
            wins[second] = wins.get(second, 0.0) + (1.0 - score)
            key = (first, second) if first < second else (second, first)
            games[key] = games.get(key, 0.0) + 1.0
    models = sorted(wins)
    if not models:
        return Leaderboard((), 0, tag, prior, skipped=skipped)
    index = {m: k for k, m in enumerate(models)}
    k = len(models)
    n = [[0.0] * k for _ in range(k)]
    for (a, b), g in games.items():
        n[index[a]][index[b]] += g
        n[index[b]][index[a]] += g
    w = [wins[m] + prior / 2 for m in models]
    p = [1.0] * k
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        new = []
        for i in range(k):
            denominator = prior / (p[i] + 1.0) if prior else 0.0
            for j in range(k):
                if n[i][j]:
                    denominator += n[i][j] / (p[i] + p[j])
            new.append(w[i] / denominator if denominator and w[i] > 0 else 1e-12)
        if not prior:
            mean = math.exp(sum(math.log(x) for x in new) / k)
            new = [x / mean for x in new]
        change = max(abs(math.log(a) - math.log(b)) for a, b in zip(new, p, strict=True))
        p = new
        if change < tolerance:
            converged = True
            break
    cov = _covariance(p, n, prior)
    ranks = []
    order = sorted(range(k), key=lambda i: (-p[i], models[i]))
    for place, i in enumerate(order, start=1):
        theta = math.log(p[i])
        se = math.sqrt(cov[i][i]) if cov is not None and cov[i][i] > 0 else math.inf
        rating = ELO_BASE + ELO_SCALE * theta
        half = Z95 * ELO_SCALE * se
        ranks.append(
            Rank(
                model=models[i],
                rank=place,
                strength=p[i],
                theta=theta,
                se=se,
                rating=rating,
                low=rating - half,
                high=rating + half,
                games=sum(n[i]),
                wins=wins[models[i]],
            )
        )
    notes: tuple[str, ...] = ()
    extreme = [m for m in models if not prior and wins[m] in (0.0, sum(n[index[m]]))]
    if extreme:
        # No finite maximum-likelihood strength exists: the order holds, the figures do not.
        converged = False
        notes = (
            f"No finite strength without a prior for: {', '.join(extreme)} "
            "(never lost or never won).",
        )
    elif not converged:
        notes = ("The fit did not settle within the iteration limit.",)
    return Leaderboard(
        tuple(ranks), counted, tag, prior, iterations, converged, skipped=skipped, notes=notes
    )


def _covariance(p: Sequence[float], n: Sequence[Sequence[float]], prior: float) -> Any:
    k = len(p)
    info = [[0.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(k):
            if i != j and n[i][j]:
                pi = p[i] / (p[i] + p[j])
                v = n[i][j] * pi * (1.0 - pi)
                info[i][j] -= v
                info[i][i] += v
        if prior:
            pa = p[i] / (p[i] + 1.0)
            info[i][i] += prior * pa * (1.0 - pa)
    if prior:
        return _inverse(info)
    # Σθ = 0: the pseudo-inverse of a Laplacian is (L + J/k)^-1 - J/k (for a connected graph).
    shifted = [[info[i][j] + 1.0 / k for j in range(k)] for i in range(k)]
    inv = _inverse(shifted)
    if inv is None:
        return None
    return [[inv[i][j] - 1.0 / k for j in range(k)] for i in range(k)]


def _inverse(m: Sequence[Sequence[float]]) -> list[list[float]] | None:
    """Gauss–Jordan with partial pivoting; None for a singular matrix."""
    k = len(m)
    a = [list(row) + [1.0 if i == j else 0.0 for j in range(k)] for i, row in enumerate(m)]
    for col in range(k):
        pivot = max(range(col, k), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        div = a[col][col]
        a[col] = [x / div for x in a[col]]
        for r in range(k):
            if r != col and a[r][col]:
                f = a[r][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    return [row[k:] for row in a]


# ---------------------------------------------------------------- exports

RANK_COLUMNS = ("rank", "model", "rating", "low", "high", "games", "wins", "theta", "se")
VOTE_COLUMNS = ("id", "created_at", "comparison_id", "outcome", "winner", "models", "tags")


def ranks_csv(board: Leaderboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RANK_COLUMNS)
    for r in board.ranks:
        d = r.to_dict()
        writer.writerow([_cell(d[c]) for c in RANK_COLUMNS])
    return out.getvalue()


def ranks_json(board: Leaderboard) -> str:
    return json.dumps(board.to_dict(), indent=2, allow_nan=False) + "\n"


def votes_csv(votes: Iterable[Vote]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(VOTE_COLUMNS)
    for v in votes:
        d = v.to_dict()
        d["models"] = " | ".join(v.models)
        d["tags"] = ", ".join(v.tags)
        writer.writerow([_cell(d[c]) for c in VOTE_COLUMNS])
    return out.getvalue()


def votes_json(votes: Iterable[Vote]) -> str:
    return json.dumps([v.to_dict() for v in votes], indent=2) + "\n"


def ranks_table(board: Leaderboard) -> str:
    """The leaderboard as a plain-text table (the command line's default)."""
    if not board.ranks:
        what = f" tagged {board.tag!r}" if board.tag else ""
        return f"No votes{what} yet: vote in a blind comparison in the Lab.\n"
    head = ("#", "model", "rating", "95% interval", "games", "wins")
    rows = [
        (
            str(r.rank),
            r.model,
            f"{r.rating:.0f}",
            _interval(r),
            _num(r.games),
            _num(r.wins),
        )
        for r in board.ranks
    ]
    widths = [max(len(head[c]), *(len(row[c]) for row in rows)) for c in range(len(head))]
    lines = []
    for row in (head, *rows):
        cells = [
            row[c].ljust(widths[c]) if c == 1 else row[c].rjust(widths[c]) for c in range(len(row))
        ]
        lines.append("  ".join(cells).rstrip())
    tag = f", tag {board.tag!r}" if board.tag else ""
    lines.append(f"({board.votes} votes{tag}; Bradley-Terry, ties as half wins)")
    return "\n".join(lines) + "\n"


def votes_table(votes: Sequence[Vote]) -> str:
    if not votes:
        return "No votes yet: vote in a blind comparison in the Lab.\n"
    lines = []
    for v in votes:
        what = f"{v.winner} is better" if v.outcome == "better" else v.outcome.replace("_", " ")
        tags = f"  [{', '.join(v.tags)}]" if v.tags else ""
        lines.append(f"#{v.id}  {what}  ({' vs '.join(v.models)}){tags}")
    return "\n".join(lines) + "\n"


def _interval(r: Rank) -> str:
    if not math.isfinite(r.low):
        return "?"
    return f"{r.low:.0f} to {r.high:.0f}"


def _num(x: float) -> str:
    return f"{x:g}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


def _finite(value: float) -> float | None:
    """JSON has no infinity: an interval that cannot be given is null."""
    return value if math.isfinite(value) else None


def parse_tags(text: str) -> tuple[str, ...]:
    """ "code, math ,, Code" -> ("code", "math"): trimmed, lower-case, each once."""
    seen: dict[str, None] = {}
    for part in text.split(","):
        tag = part.strip().lower()
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)

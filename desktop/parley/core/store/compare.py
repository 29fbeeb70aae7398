"""Compare turns and blind votes in the history.

A comparison is one turn of a conversation answered by several panes: its user message
(`prompt_id`) has one answer per pane (ordinary assistant messages, siblings of one another,
each with its request body and exchange as any answer has), and the comparison row keeps the
layout: each pane's variant and answer id in pane order, blind or not, the shuffled order it
was shown in, the vote, and the answer the chat went on with (`chosen_id`). Reopened, it shows
as it was.

A vote row keeps the models it was over, so the leaderboard survives the conversation being
deleted (the comparison is then gone; its votes stay, unlinked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .db import Store
from .errors import StoreError, StoreErrorKind
from .models import from_json, to_json
from .schema import now

OUTCOMES = ("better", "tie", "all_bad")


@dataclass(frozen=True)
class ComparisonRow:
    id: int
    conversation_id: int
    prompt_id: int
    blind: bool
    layout: dict[str, Any]
    chosen_id: int | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class VoteRow:
    id: int
    comparison_id: int | None
    outcome: str
    winner: str | None
    models: tuple[str, ...]
    tags: tuple[str, ...]
    created_at: float


_SELECT = (
    "SELECT id, conversation_id, prompt_id, blind, layout, chosen_id, created_at, updated_at "
    "FROM comparisons"
)


def _comparison(row: Sequence[Any]) -> ComparisonRow:
    layout = from_json(row[4])
    return ComparisonRow(
        id=int(row[0]),
        conversation_id=int(row[1]),
        prompt_id=int(row[2]),
        blind=bool(row[3]),
        layout=layout if isinstance(layout, dict) else {},
        chosen_id=None if row[5] is None else int(row[5]),
        created_at=float(row[6]),
        updated_at=float(row[7]),
    )


def create_comparison(
    store: Store,
    conversation_id: int,
    prompt_id: int,
    layout: Mapping[str, Any],
    *,
    blind: bool = False,
) -> int:
    t = now()
    with store.batch() as conn:
        cur = conn.execute(
            "INSERT INTO comparisons (conversation_id, prompt_id, blind, layout, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (conversation_id, prompt_id, int(blind), to_json(dict(layout)), t, t),
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)


def update_layout(store: Store, comparison_id: int, layout: Mapping[str, Any]) -> None:
    with store.batch() as conn:
        cur = conn.execute(
            "UPDATE comparisons SET layout = ?, updated_at = ? WHERE id = ?",
            (to_json(dict(layout)), now(), comparison_id),
        )
        if cur.rowcount == 0:
            raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no comparison {comparison_id}.")


def choose(store: Store, comparison_id: int, answer_id: int) -> None:
    """The chat goes on with `answer_id`: it becomes the conversation's shown answer."""
    with store.batch() as conn:
        row = conn.execute(
            "SELECT conversation_id, prompt_id FROM comparisons WHERE id = ?", (comparison_id,)
        ).fetchone()
        if row is None:
            raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no comparison {comparison_id}.")
        parent = conn.execute(
            "SELECT parent_id FROM messages WHERE id = ?", (answer_id,)
        ).fetchone()
        if parent is None or parent[0] != row[1]:
            raise StoreError(
                StoreErrorKind.INVALID, "That answer is not one of this comparison's panes."
            )
        conn.execute(
            "UPDATE comparisons SET chosen_id = ?, updated_at = ? WHERE id = ?",
            (answer_id, now(), comparison_id),
        )
        store.set_current_leaf(int(row[0]), answer_id)


def get_comparison(store: Store, comparison_id: int) -> ComparisonRow:
    with store._read() as conn:
        row = conn.execute(_SELECT + " WHERE id = ?", (comparison_id,)).fetchone()
    if row is None:
        raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no comparison {comparison_id}.")
    return _comparison(row)


def comparison_for_prompt(store: Store, prompt_id: int) -> ComparisonRow | None:
    """The latest comparison answering user message `prompt_id` (None: it was not compared)."""
    with store._read() as conn:
        row = conn.execute(
            _SELECT + " WHERE prompt_id = ? ORDER BY id DESC LIMIT 1", (prompt_id,)
        ).fetchone()
    return None if row is None else _comparison(row)


def comparisons(store: Store, conversation_id: int) -> list[ComparisonRow]:
    with store._read() as conn:
        rows = conn.execute(
            _SELECT + " WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        ).fetchall()
    return [_comparison(r) for r in rows]


def recent_comparisons(store: Store, limit: int = 50) -> list[ComparisonRow]:
    with store._read() as conn:
        rows = conn.execute(
            _SELECT + " c WHERE EXISTS (SELECT 1 FROM conversations v WHERE "
            "v.id = c.conversation_id AND v.deleted_at IS NULL) ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return [_comparison(r) for r in rows]


def drop_answer(store: Store, answer_id: int) -> None:
    """A pane's answer replaced by its retry: removed (with its exchange) unless it streams."""
    with store.batch() as conn:
        conn.execute(
            "DELETE FROM messages WHERE id = ? AND role = 'assistant' AND status != 'streaming'",
            (answer_id,),
        )


# ---------------------------------------------------------------- votes


def add_vote(
    store: Store,
    comparison_id: int | None,
    outcome: str,
    models: Sequence[str],
    *,
    winner: str | None = None,
    tags: Sequence[str] = (),
) -> int:
    if outcome not in OUTCOMES:
        raise StoreError(StoreErrorKind.INVALID, f"Unknown vote {outcome!r}.")
    if outcome == "better" and (winner is None or winner not in models):
        raise StoreError(StoreErrorKind.INVALID, "A 'better' vote names one of its models.")
    with store.batch() as conn:
        cur = conn.execute(
            "INSERT INTO votes (comparison_id, outcome, winner, models, tags, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                comparison_id,
                outcome,
                winner if outcome == "better" else None,
                to_json(list(models)),
                to_json(list(tags)),
                now(),
            ),
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)


def vote_for(store: Store, comparison_id: int) -> VoteRow | None:
    with store._read() as conn:
        row = conn.execute(
            "SELECT id, comparison_id, outcome, winner, models, tags, created_at FROM votes "
            "WHERE comparison_id = ? ORDER BY id DESC LIMIT 1",
            (comparison_id,),
        ).fetchone()
    return None if row is None else _vote(row)


def votes(store: Store, *, tag: str | None = None) -> list[VoteRow]:
    """Every vote, oldest first (those tagged `tag`, when given)."""
    with store._read() as conn:
        rows = conn.execute(
            "SELECT id, comparison_id, outcome, winner, models, tags, created_at FROM votes "
            "ORDER BY created_at, id"
        ).fetchall()
    out = [_vote(r) for r in rows]
    return out if tag is None else [v for v in out if tag in v.tags]


def _vote(row: Sequence[Any]) -> VoteRow:
    models = from_json(row[4])
    tags = from_json(row[5])
    return VoteRow(
        id=int(row[0]),
        comparison_id=None if row[1] is None else int(row[1]),
        outcome=str(row[2]),
        winner=row[3],
        models=tuple(str(m) for m in models) if isinstance(models, list) else (),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        created_at=float(row[6]),
    )

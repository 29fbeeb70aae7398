"""The Lab's tables in the history: experiments, their runs, and each run's exchange.

An experiment row keeps the file's text as it was run, so a resume plans exactly the same runs;
a run row keeps its place in the plan (`run`, from 1) and its record as JSON; its exchange (the
attempts, headers redacted) goes into `exchanges` with `run_id` set. One transaction per run,
so a crash loses only the runs in flight.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parley.core.protocol.exchange import ExchangeRecord

from .db import Store
from .errors import StoreError, StoreErrorKind
from .models import from_json, to_json
from .schema import now

EXPERIMENT_STATUSES = ("running", "finished", "cancelled", "interrupted")


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    name: str
    source: str | None
    definition: str
    plan_size: int
    status: str
    created_at: float
    updated_at: float
    runs: int  # stored runs
    failed: int  # stored runs that did not complete

    @property
    def missing(self) -> int:
        return max(0, self.plan_size - self.runs)


_EXPERIMENT_SELECT = """
SELECT e.id, e.name, e.source, e.definition, e.plan_size, e.status, e.created_at, e.updated_at,
       (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id),
       (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.status != 'complete')
FROM experiments e
"""


def _row(row: Sequence[Any]) -> ExperimentRow:
    return ExperimentRow(
        id=int(row[0]),
        name=str(row[1] or ""),
        source=row[2],
        definition=str(row[3]),
        plan_size=int(row[4]),
        status=str(row[5]),
        created_at=float(row[6]),
        updated_at=float(row[7]),
        runs=int(row[8]),
        failed=int(row[9]),
    )


def create_experiment(
    store: Store, *, name: str, source: str | None, definition: str, plan_size: int
) -> int:
    t = now()
    with store.batch() as conn:
        cur = conn.execute(
            "INSERT INTO experiments (name, source, definition, plan_size, status, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 'running', ?, ?)",
            (name, source, definition, plan_size, t, t),
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)


def set_status(store: Store, experiment_id: int, status: str) -> None:
    if status not in EXPERIMENT_STATUSES:
        raise StoreError(StoreErrorKind.INVALID, f"Unknown experiment status {status!r}.")
    with store.batch() as conn:
        conn.execute(
            "UPDATE experiments SET status = ?, updated_at = ? WHERE id = ?",
            (status, now(), experiment_id),
        )


def get_experiment(store: Store, experiment_id: int) -> ExperimentRow:
    with store._read() as conn:
        row = conn.execute(_EXPERIMENT_SELECT + " WHERE e.id = ?", (experiment_id,)).fetchone()
    if row is None:
        raise StoreError(StoreErrorKind.NOT_FOUND, f"There is no experiment {experiment_id}.")
    return _row(row)


def list_experiments(store: Store, *, limit: int | None = 100) -> list[ExperimentRow]:
    with store._read() as conn:
        rows = conn.execute(
            _EXPERIMENT_SELECT + " ORDER BY e.updated_at DESC, e.id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
    return [_row(r) for r in rows]


def latest_unfinished(store: Store, source: str | None = None) -> ExperimentRow | None:
    """The most recent experiment (from `source`, when given) with runs still to do."""
    for row in list_experiments(store, limit=None):
        if row.missing and (source is None or row.source == source):
            return row
    return None


def save_run(
    store: Store,
    experiment_id: int,
    run: int,
    status: str,
    data: Mapping[str, Any],
    exchange: Sequence[Mapping[str, Any]] = (),
) -> int:
    """Store run `run` (replacing an earlier try of it) and its exchange; returns its row id."""
    t = now()
    with store.batch() as conn:
        old = conn.execute(
            "SELECT id FROM runs WHERE experiment_id = ? AND run = ?", (experiment_id, run)
        ).fetchone()
        if old is not None:
            conn.execute("DELETE FROM runs WHERE id = ?", (old[0],))
        cur = conn.execute(
            "INSERT INTO runs (experiment_id, run, status, data, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (experiment_id, run, status, to_json(dict(data)), t),
        )
        run_id = cur.lastrowid
        assert run_id is not None
        if exchange:
            conn.executemany(
                "INSERT INTO exchanges (message_id, run_id, attempt, url, data) "
                "VALUES (NULL, ?, ?, ?, ?)",
                [
                    (run_id, int(r.get("attempt") or i + 1), str(r.get("url") or ""), to_json(r))
                    for i, r in enumerate(exchange)
                ],
            )
        conn.execute("UPDATE experiments SET updated_at = ? WHERE id = ?", (t, experiment_id))
        return int(run_id)


def run_rows(store: Store, experiment_id: int) -> list[dict[str, Any]]:
    """Each stored run's record (as saved), in plan order, with `exchange_id` its row id."""
    with store._read() as conn:
        rows = conn.execute(
            "SELECT id, data FROM runs WHERE experiment_id = ? ORDER BY run", (experiment_id,)
        ).fetchall()
    out = []
    for row_id, data in rows:
        record = from_json(data)
        if isinstance(record, dict):
            record["exchange_id"] = int(row_id)
            out.append(record)
    return out


def run_exchange(store: Store, run_row_id: int) -> list[ExchangeRecord]:
    with store._read() as conn:
        rows = conn.execute(
            "SELECT data FROM exchanges WHERE run_id = ? ORDER BY attempt, id", (run_row_id,)
        ).fetchall()
    out = []
    for (data,) in rows:
        try:
            parsed = json.loads(data)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            out.append(ExchangeRecord.from_dict(parsed))
    return out

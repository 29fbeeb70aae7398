"""The Lab's Leaderboard page over a history holding known votes: the table's figures (the same
Bradley-Terry fit as `parley leaderboard`), the tag filter, and the CSV and JSON exports."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from parley.core.lab.leaderboard import ELO_SCALE, Vote, bradley_terry
from parley.core.store import Store
from parley.core.store import compare as compare_store
from parley.ui.lab.leaderboard_page import LeaderboardPage


def test_rankings_by_tag_and_exports(qapp: QApplication, tmp_path: Path) -> None:
    with Store.open(tmp_path / "h.sqlite3") as store:
        for _ in range(3):
            compare_store.add_vote(
                store, None, "better", ["p/a", "p/b"], winner="p/a", tags=["code"]
            )
        compare_store.add_vote(store, None, "better", ["p/a", "p/b"], winner="p/b", tags=["code"])
        compare_store.add_vote(store, None, "tie", ["p/b", "p/c"], tags=["prose"])
        page = LeaderboardPage(lambda: store)
        page.refresh()
        table = page.table
        assert table.rowCount() == 3
        models = [table.item(r, 1).text() for r in range(3)]
        assert models[0] == "p/a"
        expected = bradley_terry(
            [Vote(("p/a", "p/b"), "better", "p/a")] * 3
            + [Vote(("p/a", "p/b"), "better", "p/b"), Vote(("p/b", "p/c"), "tie")]
        )
        assert [table.item(r, 2).text() for r in range(3)] == [
            f"{r.rating:.0f}" for r in expected.ranks
        ]
        assert table.item(0, 5).text() == "4" and table.item(0, 6).text() == "3"
        low, rating, high = table.item(0, 4).data(Qt.ItemDataRole.UserRole + 1)
        assert low < rating < high and rating == expected.ranks[0].rating
        assert "5 votes" in page.note.text()
        items = [page.tag_combo.itemText(i) for i in range(page.tag_combo.count())]
        assert items == ["All votes", "code", "prose"]

        page.tag_combo.setCurrentIndex(1)  # code only: a against b, 3 to 1
        assert table.rowCount() == 2 and page.board.votes == 4
        a, b = page.board.ranks
        assert a.model == "p/a" and b.model == "p/b"
        # With the prior (one virtual tie each against the anchor) the gap is below ln 3.
        assert 0 < a.theta - b.theta < math.log(3)
        assert a.rating - b.rating < ELO_SCALE * math.log(3)

        out = tmp_path / "ranks.csv"
        assert page.export("rankings", out)
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
        assert [r["model"] for r in rows] == ["p/a", "p/b"]
        votes_json = tmp_path / "votes.json"
        assert page.export("votes", votes_json)
        data = json.loads(votes_json.read_text())
        assert len(data) == 4 and all(v["tags"] == ["code"] for v in data)
        ranks_json = tmp_path / "ranks.json"
        assert page.export("rankings", ranks_json)
        assert json.loads(ranks_json.read_text())["tag"] == "code"
        assert not page.export("rankings", tmp_path / "missing-dir" / "x.csv")
        assert "could not be written" in page.note.text()
        page.deleteLater()


def test_no_votes_yet(qapp: QApplication, tmp_path: Path) -> None:
    with Store.open(tmp_path / "h.sqlite3") as store:
        page = LeaderboardPage(lambda: store)
        page.refresh()
        assert page.table.rowCount() == 0 and "No votes yet" in page.note.text()
        page.deleteLater()

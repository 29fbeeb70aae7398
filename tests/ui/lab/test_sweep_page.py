"""The sweep page through the loopback emulator: a sweep made in the editor runs to finished
results; problems are shown where they belong with the CLI's words; cancel and resume; retry
the failed; a matrix cell opens its runs, a run its answer and the inspector; exports."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox
from pytestqt.qtbot import QtBot

from parley.core.lab.experiment import ExperimentError, parse_experiment
from parley.core.lab.export import render
from parley.core.protocol.errors import REDACTED
from parley.core.providers.catalog import ProviderSpec, load_catalog
from parley.core.store import Store
from parley.core.store import lab as lab_store
from parley.net.engine import Engine, RetryPolicy
from parley.ui.inspect.dialog import InspectorDialog
from parley.ui.lab.results_run import RunDialog
from parley.ui.lab.sweep_page import SweepPage
from parley.ui.tasks import TaskRegistry
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import wait_for

CATALOG = load_catalog()
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "temperature-x-seed.toml"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "history.sqlite3") as s:
        yield s


@pytest.fixture
def page(qtbot: QtBot, qloop: Any, emu: Emulator, store: Store) -> Iterator[SweepPage]:
    tasks = TaskRegistry()
    engine = Engine(retry=RetryPolicy(max_attempts=1))

    def key_for(spec: ProviderSpec) -> str:
        return emu.key("openai")

    p = SweepPage(CATALOG, store, engine, key_for, tasks=tasks)
    qtbot.addWidget(p)
    p.resize(1400, 860)
    p.show()
    yield p

    async def close() -> None:
        await p.shutdown()
        await tasks.shutdown()
        await engine.aclose()

    qloop.run_until_complete(close())


def fill(page: SweepPage, emu: Emulator, *, repeat: int = 2, grid: str = "0, 1", **kw: str) -> None:
    """What a user types: a name, a prompt, two variants of one model, a grid, a check."""
    ed = page.editor
    ed.name_edit.setText(kw.get("name", "editor sweep"))
    ed.prompts_edit.setPlainText(kw.get("prompt", "Say something about a fox."))
    ed.repeat_spin.setValue(repeat)
    ed.concurrency_spin.setValue(4)
    ed.variants.setRowCount(0)
    for label, params in (
        ("cold", "max_tokens = 40"),
        ("warm", kw.get("params", "max_tokens = 80")),
    ):
        row = ed.add_variant({"provider": "openai-compatible"})
        ed.variants.item(row, 0).setText(label)
        ed.variants.item(row, 2).setText("m")
        ed.variants.item(row, 4).setText(emu.base_url("openai"))
        ed.variants.item(row, 3).setText(params)
    ed.grid.setRowCount(0)
    row = ed.add_axis()
    combo = ed.grid.cellWidget(row, 0)
    assert isinstance(combo, QComboBox)
    combo.setCurrentText("temperature")
    ed.grid.item(row, 1).setText(grid)
    ed.checks.setRowCount(0)
    row = ed.add_check()
    ed.checks.item(row, 1).setText(kw.get("check", "You said"))


async def checked(page: SweepPage) -> bool:
    task = page.check()
    assert task is not None
    return await task


async def run_to_end(page: SweepPage) -> None:
    task = page.start()
    assert task is not None
    await asyncio.wait_for(task, 30)
    await wait_for(lambda: page.state == "idle", what="the sweep to end")


def test_a_sweep_made_in_the_editor_runs_to_finished_results(
    page: SweepPage, emu: Emulator, store: Store, arun: Callable[..., Any]
) -> None:
    fill(page, emu)

    async def scenario() -> None:
        assert await checked(page)
        text = page.preflight_label.text()
        assert "requests: 8" in text and "estimated time" in text
        assert emu.chat_requests() == []  # the pre-flight sends nothing
        await run_to_end(page)

    arun(scenario())
    bodies = [r.json for r in emu.chat_requests("openai")]
    assert len(bodies) == 8
    assert sorted(b["temperature"] for b in bodies) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert sorted(b["max_tokens"] for b in bodies) == [40] * 4 + [80] * 4
    model = page.results.table.model
    assert model.rowCount() == 8 and {r.status for r in model.records()} == {"complete"}
    assert all(r.passed for r in model.records())
    assert page.progress_bar.value() == 8 and page.progress_label.text().startswith("8/8")
    (row,) = lab_store.list_experiments(store)
    assert row.status == "finished" and row.runs == 8
    assert page.selected_experiment() == row.id
    assert "Finished: 8 runs stored as experiment" in page.note_label.text()
    assert "cold: pass 100%, pass^2 2/2" in page.results.summary.text()
    # The matrix: variant x temperature, 2 runs a cell, every check passed.
    m = page.results.matrix.model.matrix
    assert m is not None and (m.row_axis, m.column_axis) == ("variant", "temperature")
    assert m.metric.name == "pass rate"
    assert {len(c.runs) for c in m.cells.values()} == {2} and len(m.cells) == 4
    assert page.results.matrix.model.index(0, 0).data().startswith("100%")
    # The plot has a line per variant over the two temperatures.
    lines = page.results.plot.canvas.series
    assert [s.label for s in lines] == ["cold", "warm"]
    assert all([x for x, _y in s.line] == [0.0, 1.0] for s in lines)


def test_problems_are_shown_where_they_belong_in_the_clis_words(
    page: SweepPage, emu: Emulator, arun: Callable[..., Any]
) -> None:
    fill(page, emu, grid="0, 9", params="temperature 0.5")
    arun(checked(page))
    assert page.state == "idle" and "problems" in page.preflight_label.text()
    assert "variants[2].params: cannot be read" in page.editor.variant_problems.text()
    assert page.editor.variants.item(1, 3).toolTip().startswith("cannot be read")

    ed = page.editor
    ed.variants.item(1, 3).setText("max_tokens = 80")
    arun(checked(page))
    data, _cells = ed.document()
    from parley.core.lab.document import document_text

    with pytest.raises(ExperimentError) as cli:
        parse_experiment(document_text(data), CATALOG, source=page.source())
    problems = cli.value.problems
    assert {p.key for p in problems} == {"grid.temperature"}  # one per variant
    shown = ed.grid_problems.text()
    assert shown == "\n".join(f"{p.key}: {p.message}" for p in problems)
    assert ed.grid_problems.isVisible() and "9" in shown
    assert ed.grid.item(0, 1).toolTip() in [p.message for p in problems]
    assert not ed.variant_problems.isVisible()
    ed.grid.item(0, 1).setText("0, 1")
    arun(checked(page))
    assert page.state == "ready" and not ed.grid_problems.isVisible()
    assert emu.chat_requests() == []


def test_a_range_axis_and_its_problems(
    page: SweepPage, emu: Emulator, arun: Callable[..., Any]
) -> None:
    fill(page, emu, repeat=1)
    ed = page.editor
    for column, value in ((1, ""), (2, "0"), (3, "1"), (4, "0.25")):
        ed.grid.item(0, column).setText(value)
    assert arun(checked(page))
    assert "requests: 10" in page.preflight_label.text()  # 2 variants x 5 temperatures
    assert page.sweep is not None
    assert page.sweep.experiment.grid[0].values == (0.0, 0.25, 0.5, 0.75, 1.0)
    ed.grid.item(0, 4).setText("0")
    assert not arun(checked(page))
    assert ed.grid_problems.text() == "grid.temperature.step: must be greater than 0 (it is 0)"
    assert ed.grid.item(0, 4).toolTip() == "must be greater than 0 (it is 0)"
    assert emu.chat_requests() == []


def test_caps_refuse_before_anything_is_sent(
    page: SweepPage, emu: Emulator, arun: Callable[..., Any]
) -> None:
    fill(page, emu, repeat=5)
    page.editor.max_requests_edit.setText("10")
    arun(checked(page))
    assert page.state == "idle"
    assert "The plan has 20 requests, more than max_requests = 10" in page.refused_label.text()
    assert emu.chat_requests() == []


def test_cancel_keeps_what_finished_and_resume_runs_the_rest(
    page: SweepPage, emu: Emulator, store: Store, arun: Callable[..., Any]
) -> None:
    emu.default = Behavior(text="slow " * 10, chunk_delay=0.02)
    fill(page, emu, repeat=6)  # 2 variants x 2 temperatures x 6 = 24 runs

    async def scenario() -> None:
        task = page.start()
        assert task is not None
        await wait_for(lambda: page.results.table.model.total() >= 3, what="3 runs")
        QTest.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
        await asyncio.wait_for(task, 20)

    arun(scenario())
    (row,) = lab_store.list_experiments(store)
    kept = row.runs
    assert row.status == "cancelled" and 3 <= kept < 24
    assert "Stopped:" in page.note_label.text() and f"{24 - kept} to go" in page.note_label.text()
    assert page.progress_label.text().startswith(f"{kept}/24")
    assert "ETA" not in page.progress_label.text()  # stopped: no time left to estimate
    assert page.resume_button.isEnabled() and page.selected_experiment() == row.id
    sent_before = len(emu.chat_requests())
    emu.default = Behavior()

    async def resume() -> None:
        QTest.mouseClick(page.resume_button, Qt.MouseButton.LeftButton)
        await wait_for(lambda: page.state == "ready", what="the resume's pre-flight")
        assert f"requests: {24 - kept}" in page.preflight_label.text()
        # The stored runs are shown before anything is sent.
        assert page.results.table.model.total() == kept
        await run_to_end(page)

    arun(resume())
    assert len(emu.chat_requests()) - sent_before == 24 - kept
    (row,) = lab_store.list_experiments(store)
    assert row.status == "finished" and row.runs == 24
    assert [r["run"] for r in lab_store.run_rows(store, row.id)] == list(range(1, 25))
    assert page.results.table.model.total() == 24


def test_a_429_is_said_and_only_slows_its_lane(
    page: SweepPage, emu: Emulator, store: Store, arun: Callable[..., Any]
) -> None:
    emu.push(Behavior(status=429, headers={"Retry-After": "1"}), provider="openai")
    fill(page, emu, repeat=1)
    notes: list[str] = []
    page.bridge.lane_paused.connect(lambda _p: notes.append(page.note_label.text()))
    arun(run_to_end(page))
    assert notes == ["openai-compatible is rate limited (429): its runs wait 1.0 s."]
    assert {r.status for r in page.results.table.model.records()} == {"complete"}
    assert len(emu.chat_requests()) == 5  # the limited run went again after its wait


def test_retry_failed_runs_only_the_failed(
    page: SweepPage, emu: Emulator, store: Store, arun: Callable[..., Any]
) -> None:
    emu.push(Behavior(status=400, message="bad seed"), provider="openai")
    fill(page, emu, repeat=1)
    page.editor.concurrency_spin.setValue(1)
    arun(run_to_end(page))
    (row,) = lab_store.list_experiments(store)
    assert row.failed == 1 and row.runs == 4
    failed = [r for r in page.results.table.model.records() if r.failed]
    assert len(failed) == 1 and "bad seed" in failed[0].error_message
    assert page.retry_button.isEnabled()

    async def retry() -> None:
        QTest.mouseClick(page.retry_button, Qt.MouseButton.LeftButton)
        await wait_for(lambda: page.state == "ready", what="the retry's pre-flight")
        assert "requests: 1" in page.preflight_label.text()
        assert "the failed and missing runs" in page.preflight_label.text()
        await run_to_end(page)

    arun(retry())
    assert len(emu.chat_requests()) == 5
    (row,) = lab_store.list_experiments(store)
    assert row.failed == 0 and row.runs == 4
    assert {r.status for r in page.results.table.model.records()} == {"complete"}


def test_a_matrix_cell_opens_its_runs_and_a_run_its_answer_and_inspector(
    page: SweepPage, emu: Emulator, qtbot: QtBot, arun: Callable[..., Any]
) -> None:
    fill(page, emu)
    arun(run_to_end(page))
    results = page.results
    results.tabs.setCurrentWidget(results.matrix)
    results.matrix.set_axes("temperature", "variant", "TTFT p50")
    cell = results.matrix.model.cell(1, 0)
    assert cell is not None and cell.ttft_ms.p95 is not None
    text = results.matrix.model.index(1, 0).data()
    assert text == f"{cell.ttft_ms.p50:,.0f} ms\np95 {cell.ttft_ms.p95:,.0f} ms · 2 runs"
    view = results.matrix.view
    index = results.matrix.model.index(1, 0)  # temperature 1 x cold
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center()
    )
    assert results.tabs.currentWidget() is results.table
    shown = results.table.model.records()
    assert len(shown) == 2
    assert all(r.cell["temperature"] == 1 and r.variant_label == "cold" for r in shown)
    assert results.table.cell_button.isVisible()
    assert results.table.count_label.text() == "2 of 8"

    table = results.table.view
    first = table.model().index(0, 0)
    at = table.visualRect(first).center()
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=at)  # as a real double
    QTest.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=at)  # click starts
    dialogs = [d for d in results.dialogs if isinstance(d, RunDialog)]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    record = dialog.record
    assert dialog.answer.text() == record.text and record.text.startswith("You said")
    assert dialog.fields["Grid cell"].text() == "temperature = 1"
    assert dialog.fields["Fingerprint"].text() == "(none reported)"
    assert "✓ contains You said" in dialog.fields["Checks"].text()
    assert dialog.answer.inspect_button.isVisible()
    QTest.mouseClick(dialog.answer.inspect_button, Qt.MouseButton.LeftButton)
    inspectors = [d for d in results.dialogs if isinstance(d, InspectorDialog)]
    assert len(inspectors) == 1
    inspector = inspectors[0]
    assert inspector.status_label.text() == "Status: 200"
    assert '"temperature": 1' in inspector.request_body.toPlainText()
    assert emu.key("openai") not in inspector.request_headers.toPlainText()
    assert "[key redacted]" in inspector.request_headers.toPlainText()
    assert "data:" in inspector.timeline.toPlainText()
    assert not inspector.reproduce_button.isVisible()
    inspector.close()
    dialog.close()
    QTest.mouseClick(results.table.cell_button, Qt.MouseButton.LeftButton)
    assert results.table.model.rowCount() == 8


def test_export_writes_what_parley_sweep_out_writes(
    page: SweepPage, emu: Emulator, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    fill(page, emu)
    arun(run_to_end(page))
    results = page.results
    eid = page.selected_experiment()
    for ext in ("csv", "json", "jsonl", "md", "yaml"):
        out = tmp_path / f"out.{ext}"
        assert results.export_to(out)
        assert out.read_text(encoding="utf-8") == render(results.results, ext, eid)  # type: ignore[arg-type]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 8 and list(rows[0])[:6] == [
        "run",
        "variant",
        "provider",
        "model",
        "temperature",
        "prompt",
    ]
    assert [r["run"] for r in rows] == [str(n) for n in range(1, 9)]
    assert {r["passed"] for r in rows} == {"true"}
    assert f'"id": {eid}' in (tmp_path / "out.json").read_text(encoding="utf-8")
    assert emu.key("openai") not in "".join(p.read_text() for p in tmp_path.glob("out.*"))
    assert not results.export_to(tmp_path / "out.txt")
    assert "say the format by the extension" in page.note_label.text()


def test_an_export_is_scrubbed_of_every_key_parley_can_find(
    page: SweepPage, emu: Emulator, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    # The key of a provider this sweep never used (in the key store, never read by the sweep),
    # pasted into the prompt and said back: the export looks for every key, as
    # `parley sweep --out` does.
    other = "sk-q8Zt3mV0xLw7Rk2PnY5cBd"
    page.key_for = lambda spec: other if spec.id == "euri" else emu.key("openai")
    fill(page, emu, repeat=1, prompt=f"My key is {other}, keep it.")
    arun(run_to_end(page))
    assert any(other in r.text for r in page.results.table.model.records())
    out = tmp_path / "scrubbed.jsonl"
    assert arun(page.results.export(out))
    text = out.read_text(encoding="utf-8")
    assert other not in text
    assert text.count(REDACTED) >= 2  # in the prompt and in the answer


def test_a_file_opened_saved_and_opened_again_is_the_same_experiment(
    page: SweepPage, tmp_path: Path
) -> None:
    assert page.load_file(EXAMPLE)
    ed = page.editor
    assert ed.name_edit.text() == "temperature x seed"
    assert ed.variants.rowCount() == 2 and ed.grid.rowCount() == 2 and ed.checks.rowCount() == 3
    assert ed.variants.item(1, 3).text() == "max_tokens = 200, presence_penalty = 0.5"
    assert ed.grid.item(0, 1).text() == "0.0, 0.5, 1.0"
    saved = tmp_path / "again.toml"
    assert page.save_to(saved)
    first = parse_experiment(
        EXAMPLE.read_text(encoding="utf-8"), CATALOG, source=str(EXAMPLE.resolve())
    )
    again = parse_experiment(saved.read_text(encoding="utf-8"), CATALOG)
    for name in ("name", "prompts", "system", "repeat", "concurrency", "limits", "max_requests"):
        assert getattr(first, name) == getattr(again, name)
    assert first.variants == again.variants and first.grid == again.grid
    assert first.checks == again.checks
    # An experiment already read (the Lab's `parley FILE.toml`) opens the same way.
    page.new_experiment()
    assert page.open_experiment(first)
    assert ed.name_edit.text() == "temperature x seed" and page.path == EXAMPLE.resolve()
    # Not TOML: the editor keeps what it had, and says why as the CLI does.
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ", encoding="utf-8")
    assert not page.load_file(bad)
    assert ed.name_edit.text() == "temperature x seed"
    assert "(file): is not valid TOML" in ed.file_problems.text()
    QApplication.processEvents()


def test_the_progress_line_has_done_total_errors_eta_spend_and_waiting_lanes() -> None:
    from parley.core.lab.runner import Progress
    from parley.ui.lab.sweep_page import progress_text

    p = Progress(
        total=240,
        done=60,
        failed=2,
        checks_failed=5,
        in_flight=3,
        spent=0.0123,
        elapsed=30.0,
        eta=95.0,
        paused=("euri",),
    )
    assert progress_text(p) == (
        "60/240 · errors 2 · checks failed 5 · in flight 3 · ETA 1:35 · spent 0.0123 · "
        "waiting (rate limited): euri"
    )
    assert progress_text(p, running=False) == "60/240 · errors 2 · checks failed 5 · spent 0.0123"

"""The Lab's sweep page: the editor, the pre-flight, Start / Cancel, progress with ETA, Resume
and Retry failed from the history of experiments, and the results as they come in.

It runs the same `core.lab.sweep.Sweep` as `parley sweep`, on the window's event loop: the
core's Qt-free signals are re-emitted as Qt signals (`SweepBridge`), every request is built
(and every key read) in a worker thread before anything is sent, and the sweep's task is held
in a `TaskRegistry` slot, so closing the page or the app cancels it (finished runs are kept:
each is stored as it finishes).

    page = SweepPage(catalog, store, engine, key_for, tasks=window.tasks)
    page.load_file(path) / page.check() / page.start() / page.cancel()
    page.resume(experiment_id, retry_failed=False)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.document import document_text, read_document
from parley.core.lab.experiment import Experiment, ExperimentError, Problem, parse_experiment
from parley.core.lab.plan import PlanRefused, Preflight, make_plan
from parley.core.lab.results import Results, RunRecord
from parley.core.lab.runner import LanePause, Progress
from parley.core.lab.sweep import Engine, KeyFor, Sweep
from parley.core.protocol.errors import ParleyError
from parley.core.providers.catalog import Catalog
from parley.core.store import Store, StoreError
from parley.core.store import lab as lab_store
from parley.core.store.export import env_secrets
from parley.ui import theme
from parley.ui.lab.results_view import ResultsPane
from parley.ui.lab.sweep_editor import SweepEditor
from parley.ui.tasks import TaskRegistry

log = logging.getLogger("parley.ui.lab")

UNSAVED = "(unsaved experiment)"
PROGRESS_MS = 200  # the progress bar and line redrawn at most this often
TOML_FILTER = "Experiment files (*.toml);;All files (*)"


def clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_text(p: Progress, *, running: bool = True) -> str:
    """done/total, errors, checks failed, ETA, spend and waiting lanes, as `parley sweep`'s
    progress line has them (no ETA once the sweep has stopped)."""
    parts = [f"{p.done:,}/{p.total:,}"]
    if p.failed:
        parts.append(f"errors {p.failed}")
    if p.checks_failed:
        parts.append(f"checks failed {p.checks_failed}")
    if running and p.in_flight:
        parts.append(f"in flight {p.in_flight}")
    if running and p.eta is not None and p.done < p.total:
        parts.append(f"ETA {clock(p.eta)}")
    if p.spent:
        parts.append(f"spent {p.spent:.4f}")
    if running and p.paused:
        parts.append("waiting (rate limited): " + ", ".join(p.paused))
    return " · ".join(parts)


class SweepBridge(QObject):
    """A sweep's core signals as Qt signals (emitted on the loop's thread, the GUI thread)."""

    run_finished = Signal(object)  # RunRecord
    progress = Signal(object)  # Progress
    lane_paused = Signal(object)  # LanePause

    def attach(self, sweep: Sweep) -> None:
        sweep.runner.run_finished.connect(self.run_finished.emit)
        sweep.runner.progress.connect(self.progress.emit)
        sweep.runner.lane_paused.connect(self.lane_paused.emit)

    def detach(self, sweep: Sweep) -> None:
        sweep.runner.run_finished.disconnect(self.run_finished.emit)
        sweep.runner.progress.disconnect(self.progress.emit)
        sweep.runner.lane_paused.disconnect(self.lane_paused.emit)


class SweepPage(QWidget):
    finished = Signal(object)  # the Sweep, when a run ends (finished, cancelled or failed)
    state_changed = Signal(str)  # "idle", "checking", "ready", "running"

    def __init__(
        self,
        catalog: Catalog,
        store: Store | Callable[[], Store | None] | None,
        engine: Engine | Callable[[], Engine],
        key_for: KeyFor,
        parent: QWidget | None = None,
        *,
        tasks: TaskRegistry | None = None,
        base_urls: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        # The history, or how to get it (the window's store can be replaced by a recovery).
        self._store = store
        self._engine = engine  # or how to get it (the window's can be remade)
        self.key_for = key_for
        self.tasks = tasks or TaskRegistry(on_error=self._task_failed)
        self._base_urls = base_urls or dict
        self.path: Path | None = None
        self.sweep: Sweep | None = None
        self.preflight_result: Preflight | None = None
        self._prepared_text: str | None = None  # the editor's text the prepared sweep is of
        self.state = "idle"
        self.last_outcome: Any = None
        self.bridge = SweepBridge(self)
        self._last_progress: Progress | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_MS)
        self._progress_timer.timeout.connect(lambda: self._show_progress())
        self.setAccessibleName("Sweep")
        self._build()
        self.bridge.run_finished.connect(self._run_finished)
        self.bridge.progress.connect(self._progress)
        self.bridge.lane_paused.connect(self._lane_paused)
        self.editor.changed.connect(self._edited)
        self.refresh_history()
        self._set_state("idle")

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.new_button = QPushButton("New", self)
        self.open_button = QPushButton("Open…", self)
        self.open_button.setAccessibleName("Open an experiment file")
        self.save_button = QPushButton("Save", self)
        self.save_button.setAccessibleName("Save the experiment file")
        self.save_as_button = QPushButton("Save as…", self)
        for b in (self.new_button, self.open_button, self.save_button, self.save_as_button):
            bar.addWidget(b)
        self.file_label = QLabel(UNSAVED, self)
        self.file_label.setAccessibleName("Experiment file")
        theme.tag(self.file_label, text="muted")
        bar.addWidget(self.file_label, 1)
        history_label = QLabel("History:", self)
        bar.addWidget(history_label)
        self.history_combo = QComboBox(self)
        self.history_combo.setAccessibleName("Experiments in the history")
        self.history_combo.setMinimumWidth(300)
        history_label.setBuddy(self.history_combo)
        bar.addWidget(self.history_combo)
        self.show_button = QPushButton("Show results", self)
        self.show_button.setAccessibleName("Show the experiment's results")
        self.resume_button = QPushButton("Resume", self)
        self.resume_button.setAccessibleName("Resume the experiment")
        self.resume_button.setToolTip(
            "Run what is missing of this experiment (finished runs are kept)"
        )
        self.retry_button = QPushButton("Retry failed", self)
        self.retry_button.setAccessibleName("Retry the failed runs")
        self.retry_button.setToolTip(
            "Run the failed runs of this experiment again (and any missing)"
        )
        for b in (self.show_button, self.resume_button, self.retry_button):
            bar.addWidget(b)
        outer.addLayout(bar)

        split = self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        scroll = QScrollArea(split)
        scroll.setWidgetResizable(True)
        self.editor = SweepEditor(self.catalog, scroll)
        scroll.setWidget(self.editor)
        split.addWidget(scroll)

        right = QWidget(split)
        rlay = QVBoxLayout(right)
        rlay.setContentsMargins(0, 0, 0, 0)
        run_box = QGroupBox("Run", right)
        blay = QVBoxLayout(run_box)
        self.preflight_label = QLabel(run_box)
        self.preflight_label.setAccessibleName("Pre-flight")
        self.preflight_label.setWordWrap(True)
        self.preflight_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        blay.addWidget(self.preflight_label)
        self.refused_label = QLabel(run_box)
        self.refused_label.setAccessibleName("Why the plan cannot start")
        self.refused_label.setWordWrap(True)
        self.refused_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.tag(self.refused_label, text="error_text")
        self.refused_label.hide()
        blay.addWidget(self.refused_label)
        row = QHBoxLayout()
        self.check_button = QPushButton("Check plan", run_box)
        self.check_button.setAccessibleName("Check the plan (pre-flight)")
        self.check_button.setToolTip(
            "Validate the file and estimate requests, cost and time; nothing is sent"
        )
        self.start_button = QPushButton("Start", run_box)
        self.start_button.setAccessibleName("Start the sweep")
        self.cancel_button = QPushButton("Cancel", run_box)
        self.cancel_button.setAccessibleName("Cancel the sweep")
        self.cancel_button.setToolTip("Stop: finished runs are kept; Resume finishes the rest")
        row.addWidget(self.check_button)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        self.progress_bar = QProgressBar(run_box)
        self.progress_bar.setAccessibleName("Sweep progress")
        self.progress_bar.setFormat("%v / %m")
        row.addWidget(self.progress_bar, 1)
        blay.addLayout(row)
        self.progress_label = QLabel(run_box)
        self.progress_label.setAccessibleName("Progress")
        self.progress_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        blay.addWidget(self.progress_label)
        self.note_label = QLabel(run_box)
        self.note_label.setAccessibleName("Sweep notes")
        self.note_label.setWordWrap(True)
        theme.tag(self.note_label, text="muted")
        blay.addWidget(self.note_label)
        rlay.addWidget(run_box)
        self.results = ResultsPane(self.catalog, lambda: self.store, right, all_keys=self.all_keys)
        rlay.addWidget(self.results, 1)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([640, 800])
        outer.addWidget(split, 1)

        self.new_button.clicked.connect(self.new_experiment)
        self.open_button.clicked.connect(self.choose_file)
        self.save_button.clicked.connect(self.save)
        self.save_as_button.clicked.connect(self.choose_save_path)
        self.check_button.clicked.connect(self.check)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.show_button.clicked.connect(lambda: self.show_experiment(self.selected_experiment()))
        self.resume_button.clicked.connect(lambda: self.resume(self.selected_experiment()))
        self.retry_button.clicked.connect(
            lambda: self.resume(self.selected_experiment(), retry_failed=True)
        )
        self.history_combo.currentIndexChanged.connect(lambda _i: self._history_buttons())
        self.results.message.connect(self.note)
        self.results.exported.connect(lambda path: self.note(f"Wrote {path}."))

    def all_keys(self) -> list[str]:
        """Every provider's key (and the environment's), to scrub from an export as
        `parley sweep --out` does. Reads the keyring: call it in a worker thread."""
        keys = list(env_secrets())
        for spec in self.catalog.providers.values():
            key = self.key_for(spec)
            if key:
                keys.append(key)
        return keys

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if callable(engine) and not hasattr(engine, "send"):
            return engine()
        return engine  # type: ignore[return-value]

    @property
    def store(self) -> Store | None:
        store = self._store
        return store() if callable(store) else store

    # ------------------------------------------------------------------ state

    def _set_state(self, state: str) -> None:
        self.state = state
        running = state == "running"
        busy = state in ("running", "checking")
        self.check_button.setEnabled(not busy)
        self.start_button.setEnabled(state in ("idle", "ready"))
        self.cancel_button.setEnabled(running)
        for b in (self.new_button, self.open_button):
            b.setEnabled(not busy)
        self.editor.setEnabled(not running)
        self._history_buttons()
        self.state_changed.emit(state)

    def _history_buttons(self) -> None:
        row = self.history_combo.currentData()
        free = self.state not in ("running", "checking") and self.store is not None
        self.show_button.setEnabled(free and row is not None)
        self.resume_button.setEnabled(free and row is not None and row.missing > 0)
        self.retry_button.setEnabled(free and row is not None and row.failed > 0)

    def note(self, text: str) -> None:
        self.note_label.setText(text)

    def _task_failed(self, _slot: object, exc: BaseException) -> None:
        log.error("a sweep task failed", exc_info=exc)
        self.note(f"Something went wrong: {type(exc).__name__}: {exc}")
        self._set_state("idle")

    def _edited(self) -> None:
        if self.state == "running":
            return
        if self._prepared_text is not None and self.editor_text() != self._prepared_text:
            self._drop_prepared()
            self.preflight_label.setText("The plan changed: Check plan (or Start) to see it again.")
            self._set_state("idle")

    def _drop_prepared(self) -> None:
        self.sweep = None
        self.preflight_result = None
        self._prepared_text = None

    # ------------------------------------------------------------------ the file

    def editor_text(self) -> str:
        return document_text(self.editor.document()[0])

    def source(self) -> str:
        return str(self.path.resolve()) if self.path is not None else UNSAVED

    def new_experiment(self) -> None:
        self.path = None
        self.file_label.setText(UNSAVED)
        self.editor.new_experiment()
        self._drop_prepared()
        self.preflight_label.setText("")
        self.refused_label.hide()

    def load_text(self, text: str, source: str = UNSAVED) -> bool:
        """Fill the editor from an experiment file's text; False (and the problem shown) when
        it is not TOML (the editor keeps what it had)."""
        try:
            data = read_document(text, source)
        except ExperimentError as err:
            self.editor.show_problems(err.problems)
            return False
        self.editor.load_document(data)
        self._drop_prepared()
        self.preflight_label.setText("")
        self.refused_label.hide()
        return True

    def open_experiment(self, experiment: Experiment) -> bool:
        """An experiment file already read (the Lab's `parley FILE.toml`): into the editor,
        ready to check and start."""
        if self.state in ("running", "checking"):
            return False
        if not self.load_text(experiment.text, experiment.source):
            return False
        path = Path(experiment.source)
        self.path = path if path.is_file() else None
        self.file_label.setText(str(self.path) if self.path else experiment.source)
        return True

    def load_file(self, path: str | Path) -> bool:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.editor.show_problems([Problem("(file)", f"cannot be read: {exc}")])
            return False
        if not self.load_text(text, str(path)):
            return False
        self.path = path
        self.file_label.setText(str(path))
        return True

    def save_to(self, path: str | Path) -> bool:
        path = Path(path)
        try:
            path.write_text(self.editor_text(), encoding="utf-8")
        except OSError as exc:
            self.note(f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.path = path
        self.file_label.setText(str(path))
        self.note(f"Saved {path}.")
        return True

    def save(self) -> None:
        if self.path is None:
            self.choose_save_path()
        else:
            self.save_to(self.path)

    def choose_file(self) -> QFileDialog:
        dialog = QFileDialog(self, "Open an experiment file")
        dialog.setNameFilters(TOML_FILTER.split(";;"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.load_file)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def choose_save_path(self) -> QFileDialog:
        dialog = QFileDialog(self, "Save the experiment file")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(TOML_FILTER.split(";;"))
        dialog.setDefaultSuffix("toml")
        name = self.editor.name_edit.text().strip() or "experiment"
        dialog.selectFile(str(self.path) if self.path else f"{name}.toml")
        dialog.fileSelected.connect(self.save_to)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # ------------------------------------------------------------------ pre-flight

    def check(self) -> asyncio.Task[bool] | None:
        """Validate the editor's experiment and show its pre-flight (nothing is sent)."""
        if self.state in ("running", "checking"):
            return None
        return self.tasks.start(("sweep-check", id(self)), self._check())

    def _experiment(self) -> Experiment | None:
        data, cell_problems = self.editor.document()
        text = document_text(data)
        try:
            experiment = parse_experiment(
                text, self.catalog, source=self.source(), base_urls=self._base_urls()
            )
        except ExperimentError as err:
            self.editor.show_problems([*cell_problems, *err.problems])
            return None
        if cell_problems:
            self.editor.show_problems(cell_problems)
            return None
        self.editor.show_problems([])
        return experiment

    async def _check(self) -> bool:
        self._drop_prepared()
        self.refused_label.hide()
        experiment = self._experiment()
        if experiment is None:
            self.preflight_label.setText(
                "The experiment has problems (shown in the editor): nothing was sent."
            )
            self._set_state("idle")
            return False
        text = self.editor_text()

        def make() -> Sweep:
            return Sweep(experiment, self.catalog, self.store, self.engine, self.key_for)

        return await self._prepare(make, text)

    async def _prepare(self, make: Callable[[], Sweep], text: str, what: str = "") -> bool:
        self._set_state("checking")
        self.preflight_label.setText("Checking the plan…")
        try:
            # Every request is built and every key read here, off the GUI thread.
            sweep = await asyncio.to_thread(make)
            await sweep.fetch_prices()
        except (ParleyError, StoreError) as err:
            self._refuse(err.message if isinstance(err, StoreError) else str(err))
            return False
        check = sweep.preflight()
        lines = [what] if what else []
        lines += check.describe()
        if sweep.experiment.max_cost is not None and check.cost is None and check.requests:
            lines.append("max_cost cannot be checked before sending: no prices known.")
        self.preflight_label.setText("\n".join(lines))
        try:
            sweep.check_caps(check)
        except PlanRefused as refused:
            self._refuse(str(refused), keep_preflight=True)
            return False
        self.sweep = sweep
        self.preflight_result = check
        self._prepared_text = text
        self.results.set_results(sweep.results, sweep.experiment_id)
        self.progress_bar.setRange(0, max(1, len(sweep.plan)))
        self.progress_bar.setValue(len(sweep.results))
        self.progress_label.setText("")
        self._set_state("ready")
        return True

    def _refuse(self, message: str, *, keep_preflight: bool = False) -> None:
        if not keep_preflight:
            self.preflight_label.setText("")
        self.refused_label.setText(message)
        self.refused_label.show()
        self._set_state("idle")

    # ------------------------------------------------------------------ running

    def start(self) -> asyncio.Task[None] | None:
        if self.state not in ("idle", "ready"):
            return None
        return self.tasks.start(("sweep", id(self)), self._start())

    async def _start(self) -> None:
        fresh = self.sweep is not None and self._prepared_text == self.editor_text()
        if not fresh and not await self._check():
            return
        sweep = self.sweep
        assert sweep is not None
        if sweep.experiment_id is None and not sweep.todo:
            self.note("Nothing to run.")
            return
        self.bridge.attach(sweep)
        self._set_state("running")
        self.note("")
        self.progress_bar.setRange(0, max(1, len(sweep.plan)))
        outcome = None
        try:
            outcome = await sweep.run()
        except (ParleyError, StoreError) as err:
            self.note(f"The sweep stopped: {err.message if isinstance(err, StoreError) else err}")
        finally:
            self.bridge.detach(sweep)
            self.last_outcome = outcome
            self._finish(sweep, outcome)
        self.finished.emit(sweep)

    def _finish(self, sweep: Sweep, outcome: Any) -> None:
        self._progress_timer.stop()
        self._show_progress(sweep.runner.snapshot(), running=False)
        self.results.experiment_id = sweep.experiment_id
        self.results.flush()
        results = sweep.results
        missing = len(results.missing())
        where = f"experiment E{sweep.experiment_id}" if sweep.experiment_id else "this sweep"
        if outcome is None or outcome.cancelled or outcome.capped:
            why = (
                "Stopped"
                if outcome is None or outcome.cancelled
                else (f"Stopped at max_cost = {sweep.experiment.max_cost:g}")
            )
            self.note(
                f"{why}: {len(results)} of {len(results.plan)} runs of {where} are kept; "
                f"{missing} to go: Resume finishes them."
            )
        else:
            failed = (
                f"; {results.failed} failed (Retry failed runs them again)"
                if results.failed
                else ""
            )
            self.note(f"Finished: {len(results)} runs stored as {where}{failed}.")
        # The sweep that ran is spent: Start again means a new experiment.
        self._drop_prepared()
        self.refresh_history(select=sweep.experiment_id)
        self._set_state("idle")

    def cancel(self) -> None:
        if self.sweep is not None and self.state == "running":
            self.note("Stopping: runs in flight are dropped, finished ones kept…")
            self.sweep.cancel()

    def _run_finished(self, record: RunRecord) -> None:
        self.results.add_record(record)

    def _progress(self, p: Progress) -> None:
        # Shown at most every PROGRESS_MS (a progress bar repaints at once on each change).
        self._last_progress = p
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _show_progress(self, p: Progress | None = None, *, running: bool = True) -> None:
        p = p or self._last_progress
        if p is None:
            return
        self.progress_bar.setRange(0, max(1, p.total))
        self.progress_bar.setValue(p.done)
        self.progress_label.setText(progress_text(p, running=running))

    def _lane_paused(self, pause: LanePause) -> None:
        self.note(f"{pause.lane} is rate limited (429): its runs wait {pause.seconds:.1f} s.")

    async def shutdown(self) -> None:
        """Cancel a sweep under way (finished runs are kept) and wait for it."""
        if self.sweep is not None and self.state == "running":
            self.sweep.cancel()
        for slot in (("sweep", id(self)), ("sweep-check", id(self))):
            task = self.tasks.get(slot)
            if task is not None:
                await asyncio.wait([task], timeout=10)

    # ------------------------------------------------------------------ the history

    def refresh_history(self, select: int | None = None) -> None:
        keep = select if select is not None else self.selected_experiment()
        self.history_combo.blockSignals(True)
        self.history_combo.clear()
        rows = []
        if self.store is not None:
            try:
                rows = lab_store.list_experiments(self.store, limit=200)
            except StoreError as err:
                self.note(f"The experiments in the history cannot be listed: {err.message}")
        for row in rows:
            failed = f", {row.failed} failed" if row.failed else ""
            self.history_combo.addItem(
                f"E{row.id} · {row.name} ({row.runs}/{row.plan_size} runs{failed}, {row.status})",
                row,
            )
        if not rows:
            self.history_combo.addItem("(no experiments yet)", None)
        for i in range(self.history_combo.count()):
            data = self.history_combo.itemData(i)
            if data is not None and data.id == keep:
                self.history_combo.setCurrentIndex(i)
        self.history_combo.blockSignals(False)
        self._history_buttons()

    def selected_experiment(self) -> int | None:
        row = self.history_combo.currentData()
        return None if row is None else int(row.id)

    def select_experiment(self, experiment_id: int) -> None:
        self.refresh_history(select=experiment_id)

    def show_experiment(self, experiment_id: int | None) -> asyncio.Task[bool] | None:
        """Load a stored experiment's file into the editor and its results into the views."""
        if experiment_id is None or self.store is None:
            return None
        return self.tasks.start(("sweep-check", id(self)), self._show(experiment_id))

    async def _show(self, experiment_id: int) -> bool:
        store = self.store
        assert store is not None
        try:
            row = await asyncio.to_thread(lab_store.get_experiment, store, experiment_id)
            records = await asyncio.to_thread(lab_store.run_rows, store, experiment_id)
            experiment = parse_experiment(
                row.definition, self.catalog, source=row.source or row.name
            )
        except (StoreError, ParleyError) as err:
            why = err.message if isinstance(err, StoreError) else str(err)
            self.note(f"Experiment E{experiment_id} cannot be shown: {why}")
            return False
        self._load_stored(row.definition, row.source)
        results = Results(make_plan(experiment), [RunRecord.from_dict(r) for r in records])
        self.results.set_results(results, experiment_id)
        self.progress_bar.setRange(0, max(1, len(results.plan)))
        self.progress_bar.setValue(len(results))
        self.progress_label.setText(f"{len(results):,}/{len(results.plan):,} · {row.status}")
        return True

    def _load_stored(self, definition: str, source: str | None) -> None:
        self.load_text(definition, source or UNSAVED)
        path = Path(source) if source and source != UNSAVED else None
        self.path = path if path is not None and path.exists() else None
        self.file_label.setText(
            str(self.path) if self.path else f"{source or UNSAVED} (from the history)"
        )

    def resume(
        self, experiment_id: int | None, *, retry_failed: bool = False
    ) -> asyncio.Task[bool] | None:
        """Prepare what is missing of a stored experiment (and its failed runs, with
        `retry_failed`) and show its pre-flight; Start runs it."""
        if experiment_id is None or self.store is None or self.state in ("running", "checking"):
            return None
        return self.tasks.start(
            ("sweep-check", id(self)), self._resume(experiment_id, retry_failed)
        )

    async def _resume(self, experiment_id: int, retry_failed: bool) -> bool:
        store = self.store
        assert store is not None
        try:
            row = await asyncio.to_thread(lab_store.get_experiment, store, experiment_id)
        except StoreError as err:
            self._refuse(err.message)
            return False
        self._load_stored(row.definition, row.source)
        text = self.editor_text()

        def make() -> Sweep:
            return Sweep.resume(
                experiment_id,
                self.catalog,
                store,
                self.engine,
                self.key_for,
                retry_failed=retry_failed,
            )

        what = f"Experiment E{experiment_id}: " + (
            "the failed and missing runs" if retry_failed else "the missing runs"
        )
        ok = await self._prepare(make, text, what)
        if ok and self.sweep is not None and not self.sweep.todo:
            self.note(f"Experiment E{experiment_id} has nothing left to run.")
            self._drop_prepared()
            self._set_state("idle")
            return False
        return ok

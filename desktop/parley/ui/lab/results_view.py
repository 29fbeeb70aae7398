"""A sweep's results: the table, the matrix and the plot in tabs, a summary line (pass rate and
pass^K per variant), a run's dialog (its full answer and the inspector), and Export (the
files `parley sweep --out` writes, by `core.lab.export.render`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.export import format_for, render
from parley.core.lab.results import Results, RunRecord
from parley.core.providers.catalog import Catalog
from parley.core.store import Store
from parley.ui.lab.results_matrix import MatrixPane
from parley.ui.lab.results_plot import PlotPane
from parley.ui.lab.results_run import RunDialog, open_inspector
from parley.ui.lab.results_table import ResultsTable

log = logging.getLogger("parley.ui.lab")

EXPORT_FILTERS = (
    "CSV (*.csv);;JSON (*.json);;JSON Lines (*.jsonl);;Markdown (*.md);;promptfoo config (*.yaml)"
)
LIVE_REFRESH_MS = 1000  # the matrix and plot redrawn at most this often while runs come in
LIVE_ROWS_MS = 250  # new runs go into the table at most this often


class ResultsPane(QWidget):
    exported = Signal(str)  # the path written
    message = Signal(str)  # something to tell the user (a failed export)

    def __init__(
        self,
        catalog: Catalog,
        store: Store | Callable[[], Store | None] | None,
        parent: QWidget | None = None,
        *,
        secrets: Iterable[str] = (),
        all_keys: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self._store = store
        self.secrets = list(secrets)
        self.all_keys = all_keys
        self._exports: set[asyncio.Future[bool]] = set()
        self.results: Results | None = None
        self.experiment_id: int | None = None
        self.dialogs: list[QWidget] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.summary = QLabel("No results yet: check the plan, then Start.", self)
        self.summary.setAccessibleName("Results summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head.addWidget(self.summary, 1)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setAccessibleName("Export the results")
        self.export_button.setToolTip(
            "CSV, JSON, JSONL, Markdown, or a promptfoo config (.yaml): as parley sweep --out"
        )
        self.export_button.setEnabled(False)
        head.addWidget(self.export_button)
        lay.addLayout(head)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.table = ResultsTable(self)
        self.matrix = MatrixPane(self)
        self.plot = PlotPane(self)
        self.tabs.addTab(self.table, "Table")
        self.tabs.addTab(self.matrix, "Matrix")
        self.tabs.addTab(self.plot, "Plot")
        lay.addWidget(self.tabs, 1)
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_REFRESH_MS)
        self._live.timeout.connect(self._refresh_figures)
        self._pending: list[RunRecord] = []
        self._rows_timer = QTimer(self)
        self._rows_timer.setSingleShot(True)
        self._rows_timer.setInterval(LIVE_ROWS_MS)
        self._rows_timer.timeout.connect(self._add_pending)
        self._stale: set[QWidget] = set()
        self.tabs.currentChanged.connect(self._tab_shown)
        self.table.run_activated.connect(self.open_run)
        self.matrix.cell_activated.connect(self.show_cell)
        self.export_button.clicked.connect(self.choose_export)

    @property
    def store(self) -> Store | None:
        store = self._store
        return store() if callable(store) else store

    # ------------------------------------------------------------------ content

    def set_results(self, results: Results | None, experiment_id: int | None = None) -> None:
        self._pending = []
        self.results = results
        self.experiment_id = experiment_id
        if results is not None:
            experiment = results.plan.experiment
            self.table.set_columns(experiment.grid_names, len(experiment.prompts) > 1)
            self.table.set_records(results.records())
        else:
            self.table.set_records([])
        self.table.show_runs(None)
        self.matrix.set_results(results)
        self.plot.set_results(results)
        self._summarise()

    def add_record(self, record: RunRecord) -> None:
        """A run that just finished: into the table within LIVE_ROWS_MS (runs that finish
        together go in as one batch, so a fast sweep does not repaint the table per run)."""
        self._pending.append(record)
        if not self._rows_timer.isActive():
            self._rows_timer.start()
        if not self._live.isActive():
            self._live.start()

    def _add_pending(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self.table.add_records(batch)

    def _refresh_figures(self, *, all_tabs: bool = False) -> None:
        # While runs come in, only the figure in view is redrawn; the other when it is shown.
        for pane in (self.matrix, self.plot):
            if all_tabs or self.tabs.currentWidget() is pane:
                pane.refresh()
                self._stale.discard(pane)
            else:
                self._stale.add(pane)
        self._summarise()

    def _tab_shown(self, _index: int) -> None:
        pane = self.tabs.currentWidget()
        if pane in self._stale:
            self._stale.discard(pane)
            pane.refresh()  # type: ignore[attr-defined]

    def flush(self) -> None:
        """Redraw the matrix, the plot and the summary now (at the end of a sweep)."""
        self._live.stop()
        self._rows_timer.stop()
        self._add_pending()
        self.table.model.settle()
        self._refresh_figures(all_tabs=True)

    def _summarise(self) -> None:
        results = self.results
        self.export_button.setEnabled(results is not None and len(results) > 0)
        if results is None:
            self.summary.setText("No results yet: check the plan, then Start.")
            return
        experiment = results.plan.experiment
        parts = [f"{len(results):,} of {len(results.plan):,} runs"]
        if results.failed:
            parts.append(f"{results.failed} failed")
        if results.checks_failed:
            parts.append(f"{results.checks_failed} failed their checks")
        if results.spent:
            parts.append(f"spent {results.spent:.4f}")
        line = " · ".join(parts)
        if experiment.checks and len(results):
            rates = []
            for v in results.variant_stats():
                rate = "–" if v.pass_rate is None else f"{v.pass_rate:.0%}"
                k = (
                    f", pass^{experiment.repeat} {v.pass_k}/{v.cells}"
                    if experiment.repeat > 1
                    else ""
                )
                rates.append(f"{v.label}: pass {rate}{k}")
            line += "\n" + "; ".join(rates)
        self.summary.setText(line)

    # ------------------------------------------------------------------ runs and cells

    def show_cell(self, runs: tuple[int, ...], what: str) -> None:
        """A matrix cell's runs: the table narrowed to them (or the run itself, if only one)."""
        if len(runs) == 1 and self.results is not None:
            record = self.results.get(runs[0])
            if record is not None:
                self.open_run(record)
                return
        self.table.show_runs(runs, what)
        self.tabs.setCurrentWidget(self.table)

    def open_run(self, record: RunRecord) -> RunDialog:
        dialog = RunDialog(record, self.inspect_run if self.store is not None else None, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._keep(dialog)
        dialog.open()
        return dialog

    def inspect_run(self, record: RunRecord) -> QWidget | None:
        if self.results is None:
            return None
        dialog = open_inspector(
            self.store, self.results.plan, self.catalog, record, self, self.secrets
        )
        if dialog is None:
            self.message.emit(f"Run {record.run} cannot be inspected: its exchange is not stored.")
            return None
        self._keep(dialog)
        return dialog

    def _keep(self, dialog: QWidget) -> None:
        self.dialogs.append(dialog)
        dialog.destroyed.connect(
            lambda *_: self.dialogs.remove(dialog) if dialog in self.dialogs else None
        )

    # ------------------------------------------------------------------ export

    def choose_export(self) -> QFileDialog:
        dialog = QFileDialog(self, "Export the results")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(EXPORT_FILTERS.split(";;"))
        name = (self.results.plan.experiment.name if self.results else "results") or "results"
        dialog.selectFile(f"{name}.csv")
        dialog.fileSelected.connect(self._export_chosen)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _export_chosen(self, path: str) -> None:
        if format_for(path) is None:
            path += ".csv"
        self.export(path)

    def export(self, path: str | Path) -> asyncio.Task[bool]:
        """As `parley sweep --out` writes it: scrubbed of every key Parley can find (each
        provider's, read in a worker thread, and the environment's), not only those this
        window has used."""

        async def run() -> bool:
            keys: list[str] = []
            if self.all_keys is not None:
                try:
                    keys = list(await asyncio.to_thread(self.all_keys))
                except Exception as exc:  # a broken keyring: the keys known so far only
                    log.warning("reading the keys to scrub an export failed: %s", exc)
                    self.message.emit(
                        "The keyring could not be read: keys kept there were not looked for "
                        "in the export (keys this window used and PARLEY_API_KEY_* were)."
                    )
            return self.export_to(path, keys)

        task = asyncio.ensure_future(run())
        self._exports.add(task)
        task.add_done_callback(self._exports.discard)
        return task

    def export_to(self, path: str | Path, secrets: Iterable[str] = ()) -> bool:
        """Write the results to `path` in the format its extension says; False (and a
        message) when it cannot be written."""
        if self.results is None:
            return False
        fmt = format_for(str(path))
        if fmt is None:
            self.message.emit(
                f"{path}: say the format by the extension: .csv, .json, .jsonl, .md or .yaml."
            )
            return False
        text = render(self.results, fmt, self.experiment_id, [*self.secrets, *secrets])
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            self.message.emit(f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.exported.emit(str(path))
        return True

"""The Lab window: one page per tool (Compare, Leaderboard, Sweep; other tools add theirs with
`add_page`), a line for messages about files, and the recent comparisons to reopen.

A page that can open an experiment file has `open_experiment(experiment) -> bool`; the Lab
offers a file to Compare first (2–6 variants, one prompt, no grid, no repeats) and then to
the other pages in the order they were added.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.compare import experiment_panes
from parley.core.lab.experiment import ExperimentError, load_experiment
from parley.core.store import StoreError
from parley.core.store import compare as compare_store
from parley.ui import theme
from parley.ui.lab.compare import ComparePage, LabContext
from parley.ui.lab.leaderboard_page import LeaderboardPage
from parley.ui.lab.sweep_tab import SweepTab

log = logging.getLogger("parley.ui.lab")

TITLE = "Parley Lab"


class LabWindow(QMainWindow):
    """Signals (the main window connects them): `chat_changed(int)`, `inspect_requested(str)`,
    `keys_requested(str)`, `chat_continued(int)`, `prompt_taken()`."""

    chat_changed = Signal(int)
    chat_continued = Signal(int)
    inspect_requested = Signal(str)
    keys_requested = Signal(str)
    prompt_taken = Signal()  # the composer's prompt went to the panes (the composer clears)

    def __init__(self, context: LabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle(TITLE)
        self.setAccessibleName(TITLE)
        self.resize(1320, 820)
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(6, 6, 6, 6)

        head = QHBoxLayout()
        self.message = QLabel(central)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAccessibleName("Lab message")
        theme.tag(self.message, text="error_text")
        self.message.hide()
        self.recent = QComboBox(central)
        self.recent.setAccessibleName("Recent comparisons")
        self.recent.setMinimumWidth(280)
        self.recent.activated.connect(self._recent_chosen)
        self.open_button = QPushButton("Open experiment…", central)
        self.open_button.setAccessibleName("Open an experiment file")
        self.open_button.setToolTip("An experiment file (.toml, as `parley sweep` runs) in the Lab")
        self.open_button.clicked.connect(self.ask_experiment_file)
        self._file_dialog: QFileDialog | None = None
        self.dismiss = QPushButton("Dismiss", central)
        self.dismiss.clicked.connect(self.clear_message)
        self.dismiss.hide()
        head.addWidget(self.message, 1)
        head.addWidget(self.dismiss)
        head.addStretch(0)
        head.addWidget(self.open_button)
        head.addWidget(QLabel("Reopen:", central))
        head.addWidget(self.recent)
        lay.addLayout(head)

        self.tabs = QTabWidget(central)
        self.tabs.setDocumentMode(True)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.pages: dict[str, QWidget] = {}
        self._decorated = False

        self.compare = ComparePage(context, self.tabs)
        self.leaderboard = LeaderboardPage(context.store, self.tabs)
        self.add_page("compare", "Compare", self.compare)
        self.add_page("leaderboard", "Leaderboard", self.leaderboard)
        self.sweep = SweepTab(context, self.tabs)  # the page is built when first shown
        self.add_page("sweep", "Sweep", self.sweep)

        self.compare.chat_changed.connect(self.chat_changed)
        self.compare.chat_continued.connect(self.chat_continued)
        self.compare.chat_changed.connect(lambda _c: self.refresh_recent())
        self.compare.title_changed.connect(
            lambda title: self.tabs.setTabText(self.tabs.indexOf(self.compare), title)
        )
        self.compare.inspect_requested.connect(self.inspect_requested)
        self.compare.keys_requested.connect(self.keys_requested)
        self.compare.voted.connect(self.leaderboard.refresh)
        self.compare.voted.connect(self.refresh_recent)
        theme.notifier().changed.connect(self._on_theme_changed)
        close = QShortcut(QKeySequence("Ctrl+W"), self)
        close.activated.connect(self.close)
        stop = QShortcut(QKeySequence("Esc"), self)
        stop.activated.connect(self.compare.stop_all)  # as Esc stops the chat's stream

    # ------------------------------------------------------------------ pages

    def add_page(self, key: str, title: str, widget: QWidget) -> None:
        """A tool's page (its tab), by a key other parts use to show it."""
        self.pages[key] = widget
        self.tabs.addTab(widget, title)

    def show_page(self, key: str) -> QWidget:
        page = self.pages[key]
        self.tabs.setCurrentWidget(page)
        self.present()
        return page

    def present(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    # ------------------------------------------------------------------ what the window asks

    def compare_prompt(self, text: str, attachments: list[Any] | None = None) -> bool:
        """The composer's Compare: the prompt to every pane of the Compare page, now."""
        self.show_page("compare")
        if attachments:  # refused rather than dropped: the composer keeps them
            self.compare.status.setText(
                "Compare sends text only: remove the attached images, or send in the chat."
            )
            return False
        if self.compare.compare_prompt(text):
            self.prompt_taken.emit()
            return True
        return False

    def open_comparison(self, comparison_id: int) -> bool:
        self.show_page("compare")
        return self.compare.reopen(comparison_id)

    def open_experiment_file(self, path: str | Path) -> bool:
        """`parley FILE.toml`: the experiment loaded where it runs, ready (its problems said
        here, in words, when it cannot be)."""
        self.show_page("compare")
        try:
            experiment = load_experiment(path, self.context.catalog(), self.context.base_urls())
        except ExperimentError as err:
            self.show_message(str(err))
            return False
        panes, why = experiment_panes(experiment)
        if why is None:
            self.clear_message()
            self.compare.load_experiment(experiment, panes)
            return True
        for key, page in self.pages.items():
            opener: Any = getattr(page, "open_experiment", None)
            if key != "compare" and callable(opener) and opener(experiment):
                self.clear_message()
                self.show_page(key)
                return True
        self.show_message(f"{why} Run it with: parley sweep {Path(path).name}")
        return False

    def summary(self) -> str:
        """One line on what the Lab holds (the self-test reports it)."""
        if self.tabs.currentWidget() is self.sweep and self.sweep.built:
            return self.sweep.summary()
        page = self.compare
        return (
            f"{page.experiment_name}: {len(page.variants)} panes ready to run"
            if page.variants
            else "no panes"
        )

    def ask_experiment_file(self) -> QFileDialog:
        dialog = QFileDialog(self, "Open an experiment file")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter("Experiment files (*.toml)")
        dialog.fileSelected.connect(self.open_experiment_file)
        dialog.finished.connect(dialog.deleteLater)
        self._file_dialog = dialog
        dialog.open()
        return dialog

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()
        self.dismiss.show()

    def clear_message(self) -> None:
        self.message.clear()
        self.message.hide()
        self.dismiss.hide()

    # ------------------------------------------------------------------ recent comparisons

    def refresh_recent(self) -> None:
        try:
            rows = compare_store.recent_comparisons(self.context.store(), 30)
        except StoreError as err:
            log.info("recent comparisons could not be read: %s", err.message)
            return
        self.recent.blockSignals(True)
        self.recent.clear()
        self.recent.addItem("Recent comparisons…", None)
        for row in rows:
            prompt = " ".join(str(row.layout.get("prompt", "")).split())
            prompt = prompt if len(prompt) <= 48 else prompt[:47] + "…"
            panes = len(row.layout.get("panes", []))
            blind = ", blind" if row.blind else ""
            self.recent.addItem(f"#{row.id} · {prompt} ({panes} panes{blind})", row.id)
        self.recent.blockSignals(False)

    def _recent_chosen(self, index: int) -> None:
        cid = self.recent.itemData(index)
        if cid is not None:
            self.open_comparison(int(cid))
        self.recent.setCurrentIndex(0)

    def _on_theme_changed(self, _dark: bool) -> None:
        theme.retint_tree(self)
        if self._decorated:
            from parley.ui import icons

            icons.retint(self)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._decorated:  # icons drawn when the Lab is first shown, not at start-up
            self._decorated = True
            from parley.ui import icons

            page = self.compare
            for button, name in (
                (page.run_button, "play"),
                (page.stop_button, "square"),
                (page.diff_button, "scan-search"),
                (page.save_button, "download"),
                (self.open_button, "upload"),
                (self.leaderboard.export_ranks_button, "download"),
                (self.leaderboard.export_votes_button, "download"),
                (self.leaderboard.refresh_button, "refresh-cw"),
            ):
                icons.set_icon(button, name)
        self.refresh_recent()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing the Lab hides it: a comparison under way goes on (and is stored).
        event.accept()

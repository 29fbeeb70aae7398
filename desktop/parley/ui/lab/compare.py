"""The Lab's Compare page: one prompt to 2–6 panes at once (core.lab.compare does the work).

The page holds the pane layout (a list of variants: the chat's settings with overrides), runs a
`Comparison` in the task slot ("lab", "compare"), paints each pane from its events as they
arrive and from the answer view-model when it ends, and keeps the vote bar, the diff and the
experiment file. It talks to the rest of the window by signals only:

- `chat_changed(int)`: a conversation's turns changed (a compare stored, a pane retried)
- `chat_continued(int)`: a pane was chosen: the chat goes on with it (and its settings)
- `inspect_requested(str)`: open the inspector on an answer
- `keys_requested(str)`: open the key settings for a provider
- `voted()`: a vote was stored (the leaderboard follows)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from parley.core.chat.waiting import retry_reason
from parley.core.lab.compare import (
    MAX_PANES,
    MIN_PANES,
    Comparison,
    PaneRetry,
    Waiting,
    marks_from_figures,
    unique_labels,
    variant_from_config,
)
from parley.core.lab.experiment import Experiment, Variant, experiment_toml
from parley.core.lab.leaderboard import Outcome, parse_tags
from parley.core.protocol.errors import ParleyError
from parley.core.protocol.events import Event, ReasoningDelta, TextDelta
from parley.core.store import StoreError
from parley.ui.chat.answer import MessageView
from parley.ui.lab.pane import ComparePane, FlushPacer
from parley.ui.lab.pane_settings import PaneSettingsDialog

log = logging.getLogger("parley.ui.lab")

COMPARE_SLOT = ("lab", "compare")
COLUMNS = 3


@dataclass
class LabContext:
    """What the Lab needs from the window, as callables (the window's objects can be
    replaced: the engine by a proxy change, the store by a recovery)."""

    store: Callable[[], Any]
    engine: Callable[[], Any]
    keys: Callable[[str], str | None]
    catalog: Callable[[], Any]
    tasks: Any  # ui.tasks.TaskRegistry
    chat_config: Callable[[], Any]  # -> RunConfig (the chat's provider, model, parameters)
    chat_system: Callable[[], str]
    ensure_conversation: Callable[[], int | None]  # the open chat's id (made when new)
    base_url_for: Callable[[str], str | None]
    model_info: Callable[[str, str], Any] = lambda _p, _m: None
    base_urls: Callable[[], dict[str, str]] = dict
    presets: Callable[[], dict[str, Any]] = dict  # name -> Preset (params, advanced, provider)
    sweep_engine: Callable[[], Any] | None = None  # sweeps': sends once (the runner retries)


def _name(variant: Variant) -> str:
    return variant.label or f"{variant.provider}/{variant.model}"


class ComparePage(QWidget):
    chat_changed = Signal(int)
    chat_continued = Signal(int)  # a pane became the chat's answer (its settings the chat's)
    inspect_requested = Signal(str)
    keys_requested = Signal(str)
    voted = Signal()
    title_changed = Signal(str)

    def __init__(self, context: LabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.variants: list[Variant] = []
        self.limits: dict[str, int] = {}
        self.comparison: Comparison | None = None
        self.panes: list[ComparePane] = []  # by pane index
        self._settings: PaneSettingsDialog | None = None
        self._file_dialog: QFileDialog | None = None
        self.experiment_name = "compare"
        self.closing = False  # the window is shutting down: no more painting
        self.pacer = FlushPacer(self)
        self._build()
        self._relayout()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)

        top = QHBoxLayout()
        self.prompt_edit = QPlainTextEdit(self)
        self.prompt_edit.setAccessibleName("Compare prompt")
        self.prompt_edit.setPlaceholderText("The prompt every pane answers… (Ctrl+Enter runs)")
        self.prompt_edit.setFixedHeight(64)
        self.prompt_edit.setTabChangesFocus(True)
        buttons = QVBoxLayout()
        self.run_button = QPushButton("Run", self)
        self.run_button.setAccessibleName("Run the comparison")
        self.run_button.setToolTip("Send the prompt to every pane at once (Ctrl+Enter)")
        self.run_button.clicked.connect(self.run_prompt)
        self.stop_button = QPushButton("Stop all", self)
        self.stop_button.setAccessibleName("Stop every pane")
        self.stop_button.clicked.connect(self.stop_all)
        self.stop_button.hide()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        top.addWidget(self.prompt_edit, 1)
        top.addLayout(buttons)
        lay.addLayout(top)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            sc = QShortcut(QKeySequence(keys), self.prompt_edit)
            sc.setContext(Qt.ShortcutContext.WidgetShortcut)
            sc.activated.connect(self.run_prompt)

        bar = QHBoxLayout()
        self.add_button = QPushButton("Add pane", self)
        self.add_button.setAccessibleName("Add a pane")
        self.add_button.setToolTip("A pane with the chat's settings (up to six)")
        self.add_button.clicked.connect(self.add_pane)
        self.blind_check = QCheckBox("Blind", self)
        self.blind_check.setAccessibleName("Blind mode")
        self.blind_check.setToolTip(
            "Hide which model wrote which answer and shuffle the panes until you vote"
        )
        self.blind_check.toggled.connect(lambda _on: self._relayout())
        self.sync_check = QCheckBox("Sync settings", self)
        self.sync_check.setAccessibleName("Sync settings")
        self.sync_check.setToolTip("A parameter changed in one pane is changed in every pane")
        self.tags_edit = QLineEdit(self)
        self.tags_edit.setPlaceholderText("tags, for the leaderboard (e.g. code, math)")
        self.tags_edit.setAccessibleName("Tags")
        self.tags_edit.setMaximumWidth(260)
        self.save_button = QPushButton("Save as experiment…", self)
        self.save_button.setAccessibleName("Save the panes as an experiment file")
        self.save_button.clicked.connect(self.ask_save_path)
        self.diff_left = QComboBox(self)
        self.diff_left.setAccessibleName("Diff: first pane")
        self.diff_right = QComboBox(self)
        self.diff_right.setAccessibleName("Diff: second pane")
        self.diff_button = QPushButton("Diff", self)
        self.diff_button.setAccessibleName("Word diff of the two panes")
        self.diff_button.clicked.connect(self.open_diff)
        bar.addWidget(self.add_button)
        bar.addWidget(self.blind_check)
        bar.addWidget(self.sync_check)
        bar.addWidget(self.tags_edit)
        bar.addStretch(1)
        bar.addWidget(self.diff_left)
        bar.addWidget(QLabel("↔", self))
        bar.addWidget(self.diff_right)
        bar.addWidget(self.diff_button)
        bar.addWidget(self.save_button)
        lay.addLayout(bar)

        vote = QHBoxLayout()
        self.vote_label = QLabel(self)
        self.vote_label.setWordWrap(True)
        self.vote_label.setTextFormat(Qt.TextFormat.PlainText)
        self.tie_button = QPushButton("Tie", self)
        self.tie_button.setAccessibleName("Vote: a tie")
        self.tie_button.clicked.connect(lambda: self.vote("tie"))
        self.bad_button = QPushButton("All bad", self)
        self.bad_button.setAccessibleName("Vote: all answers are bad")
        self.bad_button.clicked.connect(lambda: self.vote("all_bad"))
        vote.addWidget(self.vote_label, 1)
        vote.addWidget(self.tie_button)
        vote.addWidget(self.bad_button)
        self.vote_bar = QWidget(self)
        self.vote_bar.setLayout(vote)
        self.vote_bar.hide()
        lay.addWidget(self.vote_bar)

        self.grid_host = QWidget(self)
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.grid_host.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        lay.addWidget(self.grid_host, 1)

        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setAccessibleName("Compare status")
        lay.addWidget(self.status)

    # ------------------------------------------------------------------ the layout

    @property
    def blind(self) -> bool:
        return self.blind_check.isChecked()

    @property
    def running(self) -> bool:
        return bool(self.context.tasks.running(COMPARE_SLOT)) or any(
            self.context.tasks.running(("lab", "retry", i)) for i in range(MAX_PANES)
        )

    def chat_variant(self, index: int = 0) -> Variant:
        config = self.context.chat_config()
        return variant_from_config(config, index=index)

    def ensure_panes(self) -> None:
        """At least two panes: the chat's settings (the user makes them differ)."""
        while len(self.variants) < MIN_PANES:
            self.variants.append(self.chat_variant(len(self.variants)))
        self.variants = unique_labels(self.variants)
        self._detach()
        self._relayout()

    def set_variants(self, variants: list[Variant], limits: dict[str, int] | None = None) -> None:
        if not MIN_PANES <= len(variants) <= MAX_PANES:
            raise ValueError(f"a compare has {MIN_PANES} to {MAX_PANES} panes")
        self.variants = unique_labels(variants)
        self.limits = dict(limits or {})
        self._detach()
        self._relayout()

    def add_pane(self) -> None:
        if len(self.variants) >= MAX_PANES or self.running:
            return
        source = self.variants[-1] if self.variants else self.chat_variant()
        base = source.label.split(" #")[0]
        self.variants = unique_labels([*self.variants, replace(source, label=base)])
        self._detach()
        self._relayout()

    def remove_pane(self, index: int) -> None:
        if self.running:
            return
        if len(self.variants) <= MIN_PANES:
            self.status.setText(f"A comparison has at least {MIN_PANES} panes.")
            return
        del self.variants[index]
        self.variants = [replace(v, index=i) for i, v in enumerate(self.variants)]
        self._detach()
        self._relayout()

    def move_pane(self, index: int, step: int) -> None:
        other = index + step
        if self.running or not 0 <= other < len(self.variants):
            return
        v = self.variants
        v[index], v[other] = v[other], v[index]
        self.variants = [replace(x, index=i) for i, x in enumerate(v)]
        self._detach()
        self._relayout()

    def set_pane_variant(self, index: int, variant: Variant) -> None:
        old = self.variants[index]
        self.variants[index] = replace(variant, index=index)
        if self.sync_check.isChecked():
            changed = {
                k: variant.params[k]
                for k in variant.params
                if old.params.get(k, object()) != variant.params[k]
            }
            removed = set(old.params) - set(variant.params)
            for i, other in enumerate(self.variants):
                if i == index:
                    continue
                params = {k: x for k, x in other.params.items() if k not in removed}
                params.update(changed)
                self.variants[i] = replace(other, params=params)
        self._detach()
        self._relayout()

    def open_settings(self, index: int) -> PaneSettingsDialog | None:
        if self.running or (self.blind and self.comparison is not None and not self.revealed):
            return None
        if self._settings is not None:
            self._settings.close()
        dialog = PaneSettingsDialog(
            index,
            self.variants[index],
            self.context.chat_config().params,
            self.context.catalog(),
            self.context.base_url_for,
            self,
            presets=self.context.presets(),
        )
        dialog.chosen.connect(self.set_pane_variant)
        dialog.finished.connect(dialog.deleteLater)
        self._settings = dialog
        dialog.show()
        return dialog

    def _detach(self) -> None:
        """The layout changed: the shown comparison (if any) is over; its panes clear."""
        if self.comparison is not None and not self.running:
            self.comparison = None

    @property
    def revealed(self) -> bool:
        return self.comparison is None or self.comparison.revealed

    def _order(self) -> list[int]:
        if self.comparison is not None:
            return list(self.comparison.order)
        return list(range(len(self.variants)))

    def pane_title(self, index: int) -> str:
        if self.comparison is not None:
            return self.comparison.shown_name(index)
        return _name(self.variants[index])

    def _relayout(self) -> None:
        """Make the pane widgets for the current layout (or comparison), in shown order."""
        for pane in self.panes:
            self.grid.removeWidget(pane)
            pane.deleteLater()
        self.panes = []
        blind_now = self.comparison is not None and not self.comparison.revealed
        if self.comparison is None and self.blind and self._settings is not None:
            self._settings.close()
        variants = [p.variant for p in self.comparison.panes] if self.comparison else self.variants
        base = self.context.chat_config().params if variants else {}
        for i, variant in enumerate(variants):
            pane = ComparePane(i, self.grid_host, pacer=self.pacer)
            pane.set_variant(variant, base, title=self.pane_title(i), blind=blind_now)
            pane.stop_requested.connect(self.stop_pane)
            pane.retry_requested.connect(self.retry_pane)
            pane.continue_requested.connect(self.continue_with)
            pane.better_requested.connect(lambda i: self.vote("better", i))
            pane.settings_requested.connect(self.open_settings)
            pane.remove_requested.connect(self.remove_pane)
            pane.move_requested.connect(self.move_pane)
            pane.inspect_requested.connect(self.inspect_requested)
            pane.keys_requested.connect(self.keys_requested)
            self.panes.append(pane)
        for place, i in enumerate(self._order()):
            self.grid.addWidget(self.panes[i], place // COLUMNS, place % COLUMNS)
        columns = min(COLUMNS, max(1, len(self.panes)))
        rows = (len(self.panes) + COLUMNS - 1) // COLUMNS
        for c in range(COLUMNS):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        for r in range(2):
            self.grid.setRowStretch(r, 1 if r < rows else 0)
        self._paint_stored()
        self._refresh_controls()
        self.title_changed.emit(self._title())

    def _paint_stored(self) -> None:
        """Panes of a comparison whose answers are in the history (ended, or reopened)."""
        c = self.comparison
        if c is None:
            return
        store = self.context.store()
        for p in c.panes:
            pane = self.panes[p.index]
            if p.state == "invalid":
                pane.failed_unsent(str(p.error) if p.error else "This pane could not be sent.")
            elif p.answer_id is not None and p.finished:
                try:
                    stored = store.get_message(p.answer_id)
                except StoreError:
                    continue
                pane.paint(MessageView.from_stored(stored))
            elif p.state == "waiting":
                pane.new_answer(p.answer_id)

    def _refresh_controls(self) -> None:
        c = self.comparison
        running = self.running
        n = len(self.panes)
        self.run_button.setVisible(not running)
        self.stop_button.setVisible(running)
        voting = c is not None and c.blind and not c.revealed and c.finished and not running
        self.add_button.setEnabled(not running and not voting and len(self.variants) < MAX_PANES)
        self.blind_check.setEnabled(not running and not voting)
        editable = not running and (c is None or c.revealed)
        order = self._order()
        for place, i in enumerate(order):
            self.panes[i].set_editable(editable, first=place == 0, last=place == n - 1)
        answered = [p.index for p in c.panes if p.state == "complete"] if c else []
        for pane in self.panes:
            pane.better_button.setVisible(voting and pane.index in answered)
            can_continue = (
                c is not None
                and c.finished
                and c.revealed
                and c.panes[pane.index].answer_id is not None
                and not running
            )
            pane.continue_button.setVisible(can_continue)
            chosen = c is not None and c.chosen == pane.index
            pane.continue_button.setText(
                "Continued with this one" if chosen else "Continue with this one"
            )
            pane.continue_button.setEnabled(not chosen)
        self.vote_bar.setVisible(voting)
        if voting:
            self.vote_label.setText(
                "Which answer is better? The names are shown after you vote."
                if len(answered) > 1
                else "Vote to see which model wrote which answer."
            )
        self._fill_diff_choices()
        self._update_marks()

    def _fill_diff_choices(self) -> None:
        order = self._order()
        for place, combo in enumerate((self.diff_left, self.diff_right)):
            current = combo.currentData() if combo.count() == len(order) else None
            if current is None and len(order) > place:
                current = order[place]
            combo.blockSignals(True)
            combo.clear()
            for i in order:
                combo.addItem(self.pane_title(i), i)
            found = combo.findData(current)
            if found >= 0:
                combo.setCurrentIndex(found)
            combo.blockSignals(False)
        if self.diff_left.currentIndex() == self.diff_right.currentIndex() and len(self.panes) > 1:
            self.diff_right.setCurrentIndex(1 if self.diff_left.currentIndex() == 0 else 0)
        has_text = self.comparison is not None
        self.diff_button.setEnabled(has_text)

    def _update_marks(self) -> None:
        c = self.comparison
        if c is None or not c.finished:
            for pane in self.panes:
                pane.set_marks(set())
            return
        figures: dict[int, dict[str, Any]] = {}
        for p in c.panes:
            view = self.panes[p.index].view
            if p.state == "complete" and view is not None:
                figures[p.index] = dict(view.metrics or {})
        marks = marks_from_figures(figures)
        for pane in self.panes:
            pane.set_marks({m for m, who in marks.items() if pane.index in who})

    # ------------------------------------------------------------------ running

    def compare_prompt(self, text: str) -> bool:
        """The composer's Compare: `text` to every pane now (False: it could not go)."""
        self.prompt_edit.setPlainText(text)
        return self.run_prompt()

    def run_prompt(self) -> bool:
        text = self.prompt_edit.toPlainText()
        if not text.strip():
            self.status.setText("Type the prompt every pane answers first.")
            return False
        if self.running:
            self.status.setText("A comparison is running: stop it first.")
            return False
        if len(self.variants) < MIN_PANES:
            self.ensure_panes()
        conversation = self.context.ensure_conversation()
        if conversation is None:
            self.status.setText("The chat could not be stored, so nothing was sent.")
            return False
        c = Comparison(
            self.context.store(),
            self.context.engine(),
            self.context.keys,
            self.context.catalog(),
            self.variants,
            prompt=text,
            conversation_id=conversation,
            system_prompt=self.context.chat_system(),
            blind=self.blind,
            tags=parse_tags(self.tags_edit.text()),
            limits=self.limits,
            model_info=lambda v: self.context.model_info(v.provider, v.model),
        )
        self.show_comparison(c)
        task = self.context.tasks.start(COMPARE_SLOT, self._run(c))
        task.add_done_callback(self._task_done)
        self._refresh_controls()
        self.status.setText(f"Sending to {len(c.panes)} panes…")
        return True

    def show_comparison(self, c: Comparison) -> None:
        if self.comparison is not None and self.comparison is not c:
            self._disconnect(self.comparison)
        self.comparison = c
        self.variants = [p.variant for p in c.panes]
        self.diff_left.clear()  # chosen again in the shown order
        self.diff_right.clear()
        self.blind_check.blockSignals(True)
        self.blind_check.setChecked(c.blind)
        self.blind_check.blockSignals(False)
        self.tags_edit.setText(", ".join(c.tags))
        if c.prompt and self.prompt_edit.toPlainText() != c.prompt:
            self.prompt_edit.setPlainText(c.prompt)
        c.pane_waiting.connect(self._on_waiting)
        c.pane_started.connect(self._on_started)
        c.pane_event.connect(self._on_event)
        c.pane_retrying.connect(self._on_retrying)
        c.pane_finished.connect(self._on_finished)
        c.stored.connect(self._on_stored)
        self._relayout()

    def _disconnect(self, c: Comparison) -> None:
        c.pane_waiting.disconnect(self._on_waiting)
        c.pane_started.disconnect(self._on_started)
        c.pane_event.disconnect(self._on_event)
        c.pane_retrying.disconnect(self._on_retrying)
        c.pane_finished.disconnect(self._on_finished)
        c.stored.disconnect(self._on_stored)

    def _title(self) -> str:
        c = self.comparison
        if c is None:
            return "Compare"
        return "Compare (blind)" if c.blind and not c.revealed else "Compare"

    async def _run(self, c: Comparison) -> None:
        try:
            await c.start()
        except StoreError as err:
            self.status.setText(f"The comparison could not be stored: {err.message}")
            return
        except ParleyError as err:
            self.status.setText(str(err))
            return
        self.status.setText(self._summary(c))

    def _task_done(self, _task: Any) -> None:
        """A run or a retry ended (its task is done): the controls follow."""
        if not self.closing:
            self._refresh_controls()

    def _summary(self, c: Comparison) -> str:
        done = sum(p.state == "complete" for p in c.panes)
        failed = sum(p.state in ("failed", "invalid") for p in c.panes)
        stopped = sum(p.state == "stopped" for p in c.panes)
        parts = [f"{done} of {len(c.panes)} panes answered"]
        if failed:
            parts.append(f"{failed} failed")
        if stopped:
            parts.append(f"{stopped} stopped")
        text = ", ".join(parts) + "."
        if c.blind and not c.revealed:
            text += " Vote to see the names."
        elif c.chosen is None:
            text += " “Continue with this one” makes a pane the chat's answer."
        return text

    def stop_all(self) -> None:
        if self.comparison is not None:
            self.comparison.stop()

    def stop_pane(self, index: int) -> None:
        if self.comparison is not None:
            self.comparison.stop(index)

    def retry_pane(self, index: int) -> None:
        c = self.comparison
        if c is None or not c.panes[index].finished:
            return
        self.panes[index].new_answer(None)
        self.panes[index].set_status("Sending again…")
        task = self.context.tasks.start(("lab", "retry", index), self._retry(c, index))
        task.add_done_callback(self._task_done)
        self._refresh_controls()

    async def _retry(self, c: Comparison, index: int) -> None:
        try:
            await c.retry(index)
        except StoreError as err:
            self.status.setText(f"The retry could not be stored: {err.message}")
            return
        self.status.setText(self._summary(c))

    # ------------------------------------------------------------------ the comparison's events

    def _pane(self, index: int) -> ComparePane | None:
        return self.panes[index] if 0 <= index < len(self.panes) else None

    def _on_stored(self, _comparison_id: int) -> None:
        if self.comparison is not None:
            self.chat_changed.emit(self.comparison.conversation_id)

    def _on_waiting(self, w: Waiting) -> None:
        pane = self._pane(w.pane)
        if pane is None or self.comparison is None:
            return
        if pane.answer is None:  # its Stop button, while it waits
            pane.new_answer(self.comparison.panes[w.pane].answer_id).status = "streaming"
        ahead = ", ".join(self.comparison.shown_name(i) for i in w.ahead) or "another pane"
        if self.comparison.revealed:
            spec = self.context.catalog().get(w.provider)
            who = spec.name if spec is not None else w.provider
            at_once = "one request" if w.limit == 1 else f"{w.limit} requests"
            pane.set_status(f"Waiting its turn: {who} answers {at_once} at a time ({ahead} first).")
        else:
            pane.set_status(
                f"Waiting its turn: this server answers one request at a time ({ahead} first)."
            )

    def _on_started(self, index: int) -> None:
        pane = self._pane(index)
        if pane is None or self.comparison is None:
            return
        pane.set_status("")
        w = pane.new_answer(self.comparison.panes[index].answer_id)
        w.status = "streaming"
        w.start_waiting()  # until its first token, as a chat answer does

    def _on_event(self, item: tuple[int, Event]) -> None:
        index, event = item
        pane = self._pane(index)
        if pane is None or pane.answer is None:
            return
        if isinstance(event, TextDelta):
            if event.choice == 0:
                pane.answer.append_text(event.text)
        elif isinstance(event, ReasoningDelta) and event.choice == 0:
            pane.answer.append_reasoning(event.text)

    def _on_retrying(self, r: PaneRetry) -> None:
        pane = self._pane(r.pane)
        if pane is not None and pane.answer is not None:
            policy = getattr(self.context.engine(), "retry", None)
            # `attempt` failed; the badge counts down to the next one, saying why (in words
            # that name no provider: the reason is the error's kind).
            pane.answer.set_retrying(
                r.attempt + 1, r.delay, retry_reason(r.error), getattr(policy, "max_attempts", None)
            )

    def _on_finished(self, index: int) -> None:
        pane = self._pane(index)
        c = self.comparison
        if pane is None or c is None:
            return
        p = c.panes[index]
        pane.set_status("")
        if p.state == "invalid":
            pane.failed_unsent(str(p.error) if p.error else "This pane could not be sent.")
        elif p.turn is not None:
            pane.paint(MessageView.from_turn(p.turn))
        if c.finished:
            self._refresh_controls()

    # ------------------------------------------------------------------ deciding

    def vote(self, outcome: Outcome, winner: int | None = None) -> None:
        c = self.comparison
        if c is None or not c.finished or c.vote_outcome is not None:
            return
        try:
            c.vote(outcome, winner)
        except (ParleyError, StoreError) as err:
            self.status.setText(str(getattr(err, "message", err)))
            return
        self._reveal()
        self.voted.emit()
        if outcome == "better" and winner is not None:
            what = f"{_name(c.panes[winner].variant)} was better"
        else:
            what = "a tie" if outcome == "tie" else "all bad"
        self.status.setText(f"Vote stored: {what}. The names are shown now.")

    def _reveal(self) -> None:
        c = self.comparison
        if c is None:
            return
        base = self.context.chat_config().params
        for p in c.panes:
            pane = self.panes[p.index]
            pane.set_variant(p.variant, base, title=c.shown_name(p.index), blind=False)
            pane.set_blind(False)
            if p.state == "invalid":
                pane.failed_unsent(str(p.error) if p.error else "This pane could not be sent.")
        self._refresh_controls()
        self.title_changed.emit(self._title())

    def continue_with(self, index: int) -> None:
        c = self.comparison
        if c is None:
            return
        try:
            c.choose(index)
        except (ParleyError, StoreError) as err:
            self.status.setText(str(getattr(err, "message", err)))
            return
        self.chat_continued.emit(c.conversation_id)
        self._refresh_controls()
        self.status.setText(
            f"The chat goes on with {_name(c.panes[index].variant)}; the other answers are its "
            "sibling branches."
        )

    # ------------------------------------------------------------------ reopening

    def reopen(self, comparison_id: int) -> bool:
        """Show a stored comparison as it was (False: it is not in the history)."""
        if self.running:
            self.status.setText("A comparison is running: stop it first.")
            return False
        try:
            c = Comparison.reopen(
                self.context.store(),
                self.context.engine(),
                self.context.keys,
                self.context.catalog(),
                comparison_id,
                model_info=lambda v: self.context.model_info(v.provider, v.model),
            )
        except StoreError as err:
            self.status.setText(err.message)
            return False
        self.show_comparison(c)
        self.status.setText(self._summary(c))
        return True

    # ------------------------------------------------------------------ diff

    def open_diff(self) -> QWidget | None:
        left, right = self.diff_left.currentData(), self.diff_right.currentData()
        if left is None or right is None or left == right:
            self.status.setText("Choose two different panes to diff.")
            return None
        return self.diff(int(left), int(right))

    def diff(self, left: int, right: int) -> QWidget | None:
        from parley.ui.lab.diff_view import DiffDialog

        c = self.comparison
        if c is None:
            return None
        texts = []
        for i in (left, right):
            view = self.panes[i].view
            texts.append(view.text if view is not None else "")
        dialog = DiffDialog(
            (c.shown_name(left), c.shown_name(right)),
            (texts[0], texts[1]),
            (c.panes[left].variant, c.panes[right].variant),
            revealed=c.revealed,
            parent=self,
        )
        dialog.show()
        return dialog

    # ------------------------------------------------------------------ experiment files

    def experiment_text(self) -> str:
        return experiment_toml(
            name=self.experiment_name,
            prompt=self.prompt_edit.toPlainText() or "Write your prompt here.",
            variants=self.variants,
            system=self.context.chat_system() or None,
            limits=self.limits,
        )

    def save_experiment(self, path: str | Path) -> bool:
        if self.comparison is not None and not self.comparison.revealed:
            self.status.setText("Vote first: the file would name the models.")
            return False
        target = Path(path)
        try:
            tmp = target.with_name(target.name + ".part")
            tmp.write_text(self.experiment_text(), encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:
            self.status.setText(f"The experiment could not be saved: {exc.strerror or exc}")
            return False
        self.status.setText(f"Saved {target.name}: `parley sweep {target.name}` runs it too.")
        return True

    def ask_save_path(self) -> QFileDialog:
        dialog = QFileDialog(self, "Save the panes as an experiment file")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("Experiment files (*.toml)")
        dialog.setDefaultSuffix("toml")
        dialog.fileSelected.connect(self.save_experiment)
        dialog.finished.connect(dialog.deleteLater)
        self._file_dialog = dialog
        dialog.open()
        return dialog

    def load_experiment(self, experiment: Experiment, panes: list[Variant]) -> None:
        """An experiment file's panes and prompt, ready to run."""
        if self.running:
            self.stop_all()
        self.experiment_name = experiment.name
        self.comparison = None
        self.set_variants(panes, dict(experiment.limits))
        self.prompt_edit.setPlainText(experiment.prompts[0] if experiment.prompts else "")
        self.status.setText(
            f"{experiment.name}: {len(panes)} panes, ready to run (Run, or Ctrl+Enter)."
        )

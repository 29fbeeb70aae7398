"""One pane of a compare: its variant's summary and controls above the chat's own answer widget.

The answer is an `AssistantMessageWidget` (the chat's: the streaming Markdown view, reasoning,
error card, metrics) painted from the answer view-model (`ui.chat.answer.MessageView`), so a
pane and a chat answer look and behave alike. The pane adds what a compare needs: its title
(the variant's label, or "Answer B" while blind), the settings it sends with (overrides of the
chat's parameters marked), the fastest/cheapest marks, a waiting line, and the pane's buttons.
While blind, nothing in the pane names a provider or a model: not its text, tooltips or
accessible names (the answer's metrics leave out the model that answered, and a failed pane's
error is told after the vote).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from parley.core.lab.experiment import Variant
from parley.ui import theme
from parley.ui.chat.answer import MessageView
from parley.ui.chat.markdown_view import MarkdownView
from parley.ui.message_widgets import AssistantMessageWidget

MARK_TEXT = {
    "ttft": "first to answer",
    "tokens_per_s": "fastest",
    "cost": "cheapest",
}
BLIND_FAILURE = "This answer failed. What went wrong is shown after the vote."


def overrides(variant: Variant, base: Mapping[str, Any]) -> set[str]:
    """The pane's parameters that differ from the chat's (or that the chat does not set)."""
    return {k for k, v in variant.params.items() if k not in base or base[k] != v}


def settings_summary(variant: Variant, base: Mapping[str, Any]) -> str:
    """ "euri · gpt-4o-mini · temperature 0.9 ● · seed 1" (● an override of the chat's)."""
    over = overrides(variant, base)
    parts = [variant.provider, variant.model or "(no model)"]
    for name, value in sorted(variant.params.items()):
        shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        parts.append(f"{name} {shown}{' ●' if name in over else ''}")
    if variant.advanced:
        parts.append("advanced JSON ●")
    return " · ".join(parts)


def blind_view(view: MessageView) -> MessageView:
    """The answer as shown while blind: no model name in the metrics, no provider's error."""
    metrics = {k: v for k, v in (view.metrics or {}).items() if k != "model_used"}
    error = view.error
    if error is not None:
        error = {"kind": error.get("kind", ""), "message": BLIND_FAILURE}
    return dataclasses.replace(view, metrics=metrics or None, error=error)


PACE_MS = 30


class FlushPacer(QObject):
    """Paints the streaming panes in turn, at most one every `PACE_MS`. Each pane's Markdown
    view asks to paint every 40 ms; six of them painting (and Qt laying out and drawing each
    document) that often would keep the loop busy all the time. In turn, each pane still shows
    its text several times a second, and between two paints the loop reads the network and
    runs its timers."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: deque[MarkdownView] = deque()
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._next)

    def request(self, view: MarkdownView) -> None:
        if view not in self._queue:
            self._queue.append(view)
        if not self._timer.isActive():
            wait = PACE_MS - (time.monotonic() - self._last) * 1000
            if wait <= 0:
                self._next()
            else:
                self._timer.start(int(wait) + 1)

    def _next(self) -> None:
        while self._queue:
            view = self._queue.popleft()
            if isValid(view):
                view.flush()
                self._last = time.monotonic()
                break
        if self._queue and not self._timer.isActive():
            self._timer.start(PACE_MS)

    def drop(self, view: MarkdownView) -> None:
        if view in self._queue:
            self._queue.remove(view)


def _tool(text: str, accessible: str, tip: str, parent: QWidget) -> QToolButton:
    button = QToolButton(parent)
    button.setText(text)
    button.setAccessibleName(accessible)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    return button


class ComparePane(QFrame):
    """Signals carry the pane's index in the comparison (its place in the layout)."""

    stop_requested = Signal(int)
    retry_requested = Signal(int)
    continue_requested = Signal(int)
    better_requested = Signal(int)
    settings_requested = Signal(int)
    remove_requested = Signal(int)
    move_requested = Signal(int, int)  # pane, -1 / +1
    inspect_requested = Signal(str)  # answer id
    keys_requested = Signal(str)  # provider id

    def __init__(
        self, index: int, parent: QWidget | None = None, *, pacer: FlushPacer | None = None
    ) -> None:
        super().__init__(parent)
        self.index = index
        self.pacer = pacer
        self.setObjectName("comparePane")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # Ignored: the grid shares its space out evenly, whatever a pane holds. A pane whose
        # text grew would otherwise widen its column a little, and every pane's document would
        # be laid out again from the start.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(260, 220)
        self._blind = False
        self.view: MessageView | None = None  # what the answer shows (live or stored)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(4)

        head = QHBoxLayout()
        self.title = QLabel(self)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.marks = QLabel(self)
        self.marks.setTextFormat(Qt.TextFormat.PlainText)
        theme.tag(self.marks, text="accent")
        self.marks.setAccessibleName("Marks")
        self.marks.setToolTip(
            "Marked when every pane has ended: the lowest time to first token, the most "
            "tokens per second, the lowest cost"
        )
        self.move_left = _tool("◀", "Move pane left", "Move this pane left", self)
        self.move_right = _tool("▶", "Move pane right", "Move this pane right", self)
        self.remove_button = _tool("✕", "Remove pane", "Remove this pane", self)
        self.move_left.clicked.connect(lambda: self.move_requested.emit(self.index, -1))
        self.move_right.clicked.connect(lambda: self.move_requested.emit(self.index, 1))
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self.index))
        head.addWidget(self.title)
        head.addWidget(self.marks, 1)
        head.addWidget(self.move_left)
        head.addWidget(self.move_right)
        head.addWidget(self.remove_button)
        lay.addLayout(head)

        row = QHBoxLayout()
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.tag(self.summary, text="muted")
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.settings_button = QPushButton("Settings…", self)
        self.settings_button.setAccessibleName("Pane settings")
        self.settings_button.setToolTip("Provider, model and parameters of this pane")
        self.settings_button.clicked.connect(lambda: self.settings_requested.emit(self.index))
        row.addWidget(self.summary, 1)
        row.addWidget(self.settings_button)
        lay.addLayout(row)

        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setAccessibleName("Pane status")
        theme.tag(self.status, text="muted")
        self.status.hide()
        lay.addWidget(self.status)

        self.answer_area = QScrollArea(self)
        self.answer_area.setWidgetResizable(True)
        self.answer_area.setFrameShape(QFrame.Shape.NoFrame)
        self.answer_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.answer: AssistantMessageWidget | None = None
        lay.addWidget(self.answer_area, 1)

        actions = QHBoxLayout()
        self.better_button = QPushButton("This one is better", self)
        self.better_button.setAccessibleName("Vote: this answer is better")
        self.better_button.clicked.connect(lambda: self.better_requested.emit(self.index))
        self.better_button.hide()
        self.continue_button = QPushButton("Continue with this one", self)
        self.continue_button.setAccessibleName("Continue the chat with this answer")
        self.continue_button.setToolTip(
            "Make this the chat's answer; the other panes stay as its sibling branches"
        )
        self.continue_button.clicked.connect(lambda: self.continue_requested.emit(self.index))
        self.continue_button.hide()
        actions.addWidget(self.better_button)
        actions.addStretch(1)
        actions.addWidget(self.continue_button)
        lay.addLayout(actions)

    # ------------------------------------------------------------------ setting up

    def set_variant(
        self, variant: Variant, base: Mapping[str, Any], *, title: str, blind: bool
    ) -> None:
        """What the pane sends with. While blind the summary says nothing."""
        self.title.setText(title)
        self.title.setAccessibleName(f"Pane {title}")
        self.summary.setText("" if blind else settings_summary(variant, base))
        self.summary.setToolTip(
            "" if blind else "● marks a parameter this pane sets differently from the chat"
        )
        self.summary.setVisible(not blind)
        self.settings_button.setVisible(not blind)
        self.set_blind(blind)  # the answer painted again when that changed

    def set_editable(self, editable: bool, *, first: bool, last: bool) -> None:
        for w in (self.move_left, self.move_right, self.remove_button, self.settings_button):
            w.setEnabled(editable)
        for w in (self.move_left, self.move_right, self.remove_button):
            w.setVisible(editable)  # not while it streams, nor under a blind vote
        self.move_left.setEnabled(editable and not first)
        self.move_right.setEnabled(editable and not last)

    def set_marks(self, marks: set[str]) -> None:
        text = " · ".join(MARK_TEXT[m] for m in ("ttft", "tokens_per_s", "cost") if m in marks)
        self.marks.setText(text)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    # ------------------------------------------------------------------ the answer

    def new_answer(self, answer_id: int | None) -> AssistantMessageWidget:
        """A fresh answer widget (a run or a retry starts)."""
        old = self.answer_area.takeWidget()
        if old is not None:
            if self.pacer is not None and self.answer is not None:
                self.pacer.drop(self.answer.body)
            old.deleteLater()
        w = AssistantMessageWidget(str(answer_id or ""), parent=None, role_text=self.title.text())
        if self.pacer is not None:
            body, pacer = w.body, self.pacer
            body.render_timer.timeout.disconnect(body.flush)
            body.render_timer.timeout.connect(lambda: pacer.request(body))
        w.role_label.hide()  # the pane's title says whose answer it is
        w.regenerate_button.setText("Retry")
        w.regenerate_button.setAccessibleName("Retry this pane")
        w.regenerate_requested.connect(lambda _id: self.retry_requested.emit(self.index))
        w.retry_requested.connect(lambda _id: self.retry_requested.emit(self.index))
        w.stop_requested.connect(lambda: self.stop_requested.emit(self.index))
        w.inspect_requested.connect(self.inspect_requested)
        w.open_keys_requested.connect(self.keys_requested)
        holder = QWidget()  # the answer at the top of its area, however short
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(w)
        column.addStretch(1)
        self.answer_area.setWidget(holder)
        self.answer = w
        self.view = None
        self._sync_chrome()
        return w

    def paint(self, view: MessageView) -> None:
        """Draw the answer from the view-model (an ended live answer or a stored one)."""
        self.view = view
        w = self.answer if self.answer is not None else self.new_answer(int(view.id or 0))
        (blind_view(view) if self._blind else view).paint(w)
        self._sync_chrome()

    def set_blind(self, blind: bool) -> None:
        """Hide (or show again, after the vote) what would name the model."""
        changed = blind != self._blind
        self._blind = blind
        if changed and self.view is not None and self.answer is not None:
            (blind_view(self.view) if blind else self.view).paint(self.answer)
        self._sync_chrome()

    def _sync_chrome(self) -> None:
        w = self.answer
        if w is None:
            return
        w.role_label.setText(self.title.text())
        w.inspect_button.setVisible(not self._blind and w.status != "streaming")
        w.inspect_error_button.setVisible(not self._blind)
        w.more_button.hide()  # fork and delete are the chat's, once a pane is chosen
        w.setToolTip("")

    def failed_unsent(self, message: str) -> None:
        """The pane's request could not be made (a bad parameter, no key): nothing was sent."""
        w = self.new_answer(None)
        w.set_error("config", BLIND_FAILURE if self._blind else message)
        w.inspect_button.hide()
        w.inspect_error_button.hide()  # nothing was sent: nothing to inspect

"""The instruments on one answer widget: candidate tabs above it, and below it the token
probabilities (the answer shown as a heatmap on demand) and the structured-output check.

Built only for answers that have something to show, and painted from the answer's view-model
(`parley.ui.chat.answer.MessageView`), so a live answer and the same answer reopened from the
history look alike. The host is an `AssistantMessageWidget`: it gives the two layouts around its
answer (`instruments_top`, `instruments_bottom`), its `body`, `set_text`, `badge` and the
`candidate_chosen` signal. A Lab pane that shows a `ChatResult` some other way can use the
widgets themselves (`CandidateTabs`, `LogprobsView`, `VerdictView`) with
`parley.core.chat.candidates.from_result` and `parley.core.chat.structured.validate_reply`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from parley.core.chat import logprobs as lp
from parley.core.chat import structured
from parley.core.chat.candidates import Candidate, CandidateSet
from parley.core.protocol.events import TokenLogprob
from parley.ui import theme
from parley.ui.instruments.candidates import CandidateTabs
from parley.ui.instruments.heatmap import LogprobsView, legend_html
from parley.ui.instruments.verdict import VerdictView
from parley.ui.message_widgets import FINISH_BADGES

if TYPE_CHECKING:
    from parley.ui.message_widgets import AssistantMessageWidget


def wants_instruments(cands: CandidateSet | None, response_format: Any) -> bool:
    """Whether an answer has anything for the instruments to show."""
    if structured.mode_of(response_format) != "none":
        return True
    if cands is None:
        return False
    return len(cands) > 1 or any(c.logprobs for c in cands.candidates)


class AnswerInstruments(QObject):
    """Attached to an answer widget (`w.instruments`); `show(cands, response_format)` paints."""

    def __init__(self, w: AssistantMessageWidget) -> None:
        super().__init__(w)
        self.w = w
        self.cands: CandidateSet | None = None
        self.response_format: Any = None
        self.shown: Candidate | None = None
        self._tabs: CandidateTabs | None = None
        self._probs_row: QWidget | None = None
        self._logprobs: LogprobsView | None = None
        self._verdict: VerdictView | None = None
        self._heat_on = False
        self.live = False
        self._tokens: tuple[TokenLogprob, ...] = ()
        self._painted_tokens = False
        theme.notifier().changed.connect(self._on_theme)

    # --- built when first needed -----------------------------------------------------------

    @property
    def tabs(self) -> CandidateTabs:
        if self._tabs is None:
            self._tabs = CandidateTabs(self.w)
            self._tabs.chosen.connect(self._on_chosen)
            self.w.instruments_top.addWidget(self._tabs)
        return self._tabs

    @property
    def logprobs(self) -> LogprobsView:
        if self._logprobs is None:
            row = QWidget(self.w)
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(6)
            toggle = QToolButton(row)
            toggle.setToolTip("Show the answer as its tokens, tinted by how likely each was")
            theme.style_link_button(toggle)
            toggle.clicked.connect(lambda: self._toggle_heatmap(not self._heat_on))
            self.probs_toggle = toggle
            self.probs_line = QLabel(row)
            self.probs_line.setTextFormat(Qt.TextFormat.PlainText)
            self.probs_line.setWordWrap(True)
            self.probs_line.setAccessibleName("Token probability summary line")
            theme.tag(self.probs_line, text="muted")
            self.legend = QLabel(row)
            self.legend.setTextFormat(Qt.TextFormat.RichText)
            self.legend.setAccessibleName("Heatmap key: from likely to unlikely tokens")
            self.legend.setToolTip("The tint of a token the model gave this probability")
            self.legend.hide()
            lay.addWidget(toggle)
            lay.addWidget(self.probs_line, 1)
            lay.addWidget(self.legend)
            self._probs_row = row
            self._logprobs = LogprobsView(self.w)
            self._logprobs.summary_label.hide()  # the row above says it
            self._logprobs.hide()
            self.w.instruments_bottom.addWidget(row)
            self.w.instruments_bottom.addWidget(self._logprobs)
        return self._logprobs

    @property
    def verdict(self) -> VerdictView:
        if self._verdict is None:
            self._verdict = VerdictView(self.w)
            self.w.instruments_bottom.addWidget(self._verdict)
        return self._verdict

    # --- painting --------------------------------------------------------------------------

    def show(self, cands: CandidateSet | None, response_format: Any) -> None:
        self.live = False
        self.cands = cands
        self.response_format = response_format
        if cands is not None and len(cands) > 1:
            self.tabs.set_candidates(cands)
            self.tabs.show()
        elif self._tabs is not None:
            self._tabs.hide()
        chosen = cands.chosen_candidate if cands is not None else None
        shown = chosen is None or (chosen.text == self.w.text())
        self._paint_candidate(chosen, text_shown=shown)

    def _paint_candidate(self, c: Candidate | None, *, text_shown: bool) -> None:
        self.shown = c
        if c is not None and not text_shown:
            self.w.set_text(c.text, c.reasoning)
            label = "failed" if c.status == "failed" else FINISH_BADGES.get(c.finish_reason or "")
            self.w.badge.setText(label or "")
            self.w.badge.setToolTip(c.error or "")
            self.w.badge.setVisible(bool(label))
        tokens = c.logprobs if c is not None else ()
        self._tokens = tokens
        self._painted_tokens = False
        if tokens:
            self.logprobs  # noqa: B018 - built now: the row shows the summary
            self.probs_line.setText(lp.summarize(tokens).describe(tokens))
            assert self._probs_row is not None
            self._probs_row.show()
            self._toggle_heatmap(self._heat_on)
        elif self._logprobs is not None and self._probs_row is not None:
            self._probs_row.hide()
            self._logprobs.hide()
            self.w.body.show()
        # Only a finished reply is checked: a stopped or failed one is not the model's answer.
        finished = self.w.status == "complete" and (c is None or c.status == "complete")
        verdict = None
        if finished:
            text = c.text if c is not None else self.w.text()
            verdict = structured.validate_reply(text, self.response_format)
        if verdict is not None:
            self.verdict.set_verdict(verdict)
            self.verdict.show()
        elif self._verdict is not None:
            self._verdict.hide()

    def show_live(self, count: int, fan_out: int, shown: int = 0) -> None:
        """Tabs for an answer still streaming its `count` candidates (`fan_out` > 1: as
        separate requests); the controller streams the one shown."""
        self.live = True
        self.cands = CandidateSet(
            tuple(Candidate(i, "", status="streaming") for i in range(count)),
            shown,
            fan_out if fan_out > 1 else 0,
        )
        self.tabs.set_candidates(self.cands)
        self.tabs.show()

    def _on_chosen(self, index: int) -> None:
        if self.cands is None:
            return
        if self.live and self.w.status == "streaming":
            self.cands = CandidateSet(self.cands.candidates, index, self.cands.fan_out)
            self.w.candidate_chosen.emit(self.w.msg_id, index)
            return
        c = self.cands.get(index)
        if c is None:
            return
        self.cands = CandidateSet(self.cands.candidates, index, self.cands.fan_out)
        self._paint_candidate(c, text_shown=False)
        self.w.candidate_chosen.emit(self.w.msg_id, index)

    def choose(self, index: int) -> None:
        """Show candidate `index`, as a click on its tab does."""
        self.tabs.show_candidate(index)

    def _toggle_heatmap(self, on: bool) -> None:
        """Show the answer as its tokens (on) or as its text."""
        if self._logprobs is None:
            return
        self._heat_on = on
        if on and not self._painted_tokens:
            # Laid out when first shown: most answers' probabilities are never looked at.
            self._logprobs.set_tokens(self._tokens)
            self._painted_tokens = True
        self._logprobs.setVisible(on)
        self.w.body.setVisible(not on and bool(self.w.text()))
        text = "Show text" if on else "Show token probabilities"
        self.probs_toggle.setText(text)
        self.probs_toggle.setAccessibleName(text)
        self.legend.setText(legend_html() if on else "")
        self.legend.setVisible(on)

    def heatmap_shown(self) -> bool:
        return self._logprobs is not None and not self._logprobs.isHidden()

    def _on_theme(self, _dark: bool) -> None:
        if self._logprobs is not None and self._painted_tokens:
            self._logprobs.repaint_theme()
            self._toggle_heatmap(self._heat_on)

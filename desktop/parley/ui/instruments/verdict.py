"""A reply checked against its response format: a pass badge, or the problems with their JSON
pointers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from parley.core.chat.structured import Verdict
from parley.ui import theme
from parley.ui.message_widgets import Card, Pill


class VerdictView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Structured output check")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.setSpacing(2)
        self.badge = Pill("badge", self)
        self.badge.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignLeft)
        self.problems_card = Card("error", self)
        theme.tag(self.problems_card, text="error_text")
        card_lay = QVBoxLayout(self.problems_card)
        card_lay.setContentsMargins(8, 6, 8, 6)
        self.problems_label = QLabel(self.problems_card)
        self.problems_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problems_label.setWordWrap(True)
        self.problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems_label.setAccessibleName("Structured output problems")
        card_lay.addWidget(self.problems_label)
        lay.addWidget(self.problems_card)
        self.problems_card.hide()
        self.verdict: Verdict | None = None

    def set_verdict(self, verdict: Verdict) -> None:
        self.verdict = verdict
        mark = "\u2713" if verdict.passed else "\u2717"
        self.badge.card_kind = "badge" if verdict.passed else "warn"
        theme.tag(self.badge, text="badge_text" if verdict.passed else "warn_text")
        self.badge.setText(f"{mark} {verdict.summary()}")
        self.badge.setAccessibleName(f"Structured output: {verdict.summary()}")
        lines = [str(p) for p in verdict.problems]
        more = verdict.total - len(verdict.problems)
        if more > 0:
            lines.append(f"… and {more} more")
        self.problems_label.setText("\n".join(lines))
        self.problems_card.setVisible(not verdict.passed and bool(lines))
        self.badge.update()

    def problem_lines(self) -> list[str]:
        text = self.problems_label.text()
        return text.splitlines() if self.problems_card.isVisibleTo(self) else []

"""One view-model draws an answer; the error card's tables come from core's error kinds."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from parley.core.protocol.errors import RETRYABLE, ErrorKind
from parley.ui.chat.answer import MessageView
from parley.ui.message_widgets import ERROR_TITLES, RETRY_KINDS, AssistantMessageWidget


def test_every_error_kind_has_a_title_and_retryable_kinds_offer_retry() -> None:
    assert set(ERROR_TITLES) == set(ErrorKind)
    assert RETRYABLE <= RETRY_KINDS


def test_a_stored_row_and_its_view_paint_the_same(qtbot: QtBot) -> None:
    row = {
        "id": "7",
        "role": "assistant",
        "content": "Partial",
        "status": "failed",
        "error": {"kind": "rate_limit", "message": "Slow down", "provider_id": "euri"},
        "metrics": {"ttft_ms": 120.0, "completion_tokens": 3},
    }
    widgets = []
    for source in (row, MessageView.from_row(row)):
        w = AssistantMessageWidget("7")
        qtbot.addWidget(w)
        MessageView.from_row(source).paint(w)
        widgets.append(w)
    for w in widgets:
        assert w.status == "failed"
        assert w.text() == "Partial"
        assert w.error_title.text() == "Rate limited (euri)"
        assert not w.retry_button.isHidden()
        assert w.metrics_label.text() == "TTFT 120 ms  ·  3 out"

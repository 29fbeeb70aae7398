"""The instruments' widgets on their own: the heatmap's hover, the structured-output editor and
the parameter panel's Instruments section on providers with and without n."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from parley.core.chat import logprobs as lp
from parley.core.protocol.events import TokenLogprob, TopLogprob
from parley.core.providers.catalog import load_catalog
from parley.ui.instruments.heatmap import LogprobsView
from parley.ui.instruments.response_format import ResponseFormatEditor
from parley.ui.params_panel import ParamsPanel


def test_hovering_a_token_shows_its_alternatives(qtbot: QtBot, qapp: QApplication) -> None:
    view = LogprobsView()
    qtbot.addWidget(view)
    tokens = [
        TokenLogprob("Hello", math.log(0.9), (TopLogprob("Hello", math.log(0.9)),)),
        TokenLogprob(" world", math.log(0.05), (TopLogprob(" there", math.log(0.7)),)),
    ]
    view.set_tokens(tokens)
    assert view.detail_label.text().startswith("Point at a token")  # none focused yet
    view.resize(400, 120)
    view.show()
    qtbot.waitExposed(view)
    heat = view.heatmap
    center = heat.token_rect(1).center()
    assert heat.token_at(center) == 1
    assert heat.token_at(heat.token_rect(0).center()) == 0
    assert heat.token_at(heat.token_rect(1).topRight() + QPoint(-1, 1)) == 1
    event = QHelpEvent(QEvent.Type.ToolTip, center, heat.viewport().mapToGlobal(center))
    heat.event(event)
    qtbot.waitUntil(QToolTip.isVisible)
    assert "\u201c there\u201d  70%" in QToolTip.text() and "5.0%" in QToolTip.text()
    assert view.detail_label.text().startswith(
        "\u201c world\u201d 5.0% · instead: \u201c there\u201d 70%"
    )
    assert "2 tokens" in view.summary_label.text()
    # Keyboard users: the text cursor on a token shows its details too.
    cursor = heat.textCursor()
    cursor.setPosition(1)
    heat.setTextCursor(cursor)
    assert view.detail_label.text().startswith("\u201cHello\u201d 90%")
    assert heat.colors_for(1)[0] != heat.colors_for(0)[0]
    QToolTip.hideText()


def test_response_format_editor_checks_as_you_type(qtbot: QtBot) -> None:
    ed = ResponseFormatEditor()
    qtbot.addWidget(ed)
    seen: list[int] = []
    ed.changed.connect(lambda: seen.append(1))
    assert ed.value() is None and ed.error() is None
    ed.set_mode("json_object")
    assert ed.value() == {"type": "json_object"} and seen
    ed.set_mode("json_schema")
    assert ed.error() is not None  # nothing typed yet
    ed.schema_editor.text_edit.setPlainText('{"type": "object", "required": "name"}')
    assert "/required" in ed.problems_label.text() and ed.value() is None
    ed.schema_editor.text_edit.setPlainText('{"type": "object"}')
    ed.name_edit.setText("bad name")
    assert ed.error() is not None and ed.error().startswith("Name:")
    ed.name_edit.setText("reply")
    ed.strict_check.setChecked(True)
    value = ed.value()
    assert value == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "strict": True, "schema": {"type": "object"}},
    }
    other = ResponseFormatEditor()
    qtbot.addWidget(other)
    other.set_value(value)
    assert other.value() == value and other.mode() == "json_schema"


def test_instruments_section_on_providers_with_and_without_n(qtbot: QtBot) -> None:
    catalog = load_catalog()
    panel = ParamsPanel(catalog.providers["vllm"])
    qtbot.addWidget(panel)
    box = panel.instruments()
    box.candidates_spin.setValue(4)
    assert panel.values()["n"] == 4 and panel.candidates() == 1
    panel.set_values({"n": 2})  # a restored chat's n shows in the control
    assert box.candidates_spin.value() == 2
    panel.field("n").reset_button.click()  # and so does a reset of the field by hand
    assert box.candidates_spin.value() == 1 and "n" not in panel.values()
    panel.set_provider(catalog.providers["eurouter"])
    assert "n" not in panel.values()
    box.candidates_spin.setValue(3)
    assert panel.candidates() == 3 and "3 separate requests" in panel.summary.text()
    box.logprobs_check.setChecked(True)
    assert panel.values()["logprobs"] is True and panel.values()["top_logprobs"] == 5
    assert panel.instruments_section.header.text().endswith("(3 requests, probabilities)")
    box.logprobs_check.setChecked(False)
    assert "logprobs" not in panel.values() and "top_logprobs" not in panel.values()
    panel.set_provider(catalog.providers["ollama"])
    assert not box.logprobs_check.isEnabled()
    assert lp.logprobs_unsupported(catalog.providers["ollama"]) == box.logprobs_note.text()
    panel.set_provider(catalog.providers["eigenai"])
    assert not box.format_editor.isEnabled() or box.format_note.text()


def test_heatmap_follows_the_theme_and_keeps_the_text_hidden(qtbot: QtBot) -> None:
    from parley.core.chat.candidates import Candidate, CandidateSet
    from parley.ui import theme
    from parley.ui.chat.answer import MessageView
    from parley.ui.chatview import ChatView

    view = ChatView(open_links=False)
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    tokens = (TokenLogprob("Sure", math.log(0.95)), TokenLogprob(" maybe", math.log(0.1)))
    row = MessageView(
        id="7",
        role="assistant",
        content="Sure maybe",
        candidates=CandidateSet((Candidate(0, "Sure maybe", logprobs=tokens),)),
    )
    view.load_messages([row])
    w = view.assistant_widget("7")
    assert w is not None and w.instruments is not None
    w.instruments.probs_toggle.click()
    heat = w.instruments.logprobs.heatmap
    light = heat.colors_for(1)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        theme.apply_theme(app, "dark")
        dark = heat.colors_for(1)
        assert dark != light and dark[1] == theme.DARK.text
        assert lp.contrast_ratio(*dark) >= 4.5
        assert w.instruments.heatmap_shown() and not w.body.isVisibleTo(w)
    finally:
        theme.apply_theme(app, "light")
    assert heat.colors_for(1) == light


def test_a_stored_answer_reads_its_candidates_only_when_painted(tmp_path: Path) -> None:
    from parley.core.chat import candidates as cands
    from parley.core.store import Store
    from parley.ui.chat.answer import MessageView

    tokens = tuple(TokenLogprob(f" t{i}", -0.01 * i) for i in range(50))
    extra = cands.to_extra(cands.CandidateSet((cands.Candidate(0, "x", logprobs=tokens),)))
    with Store.open(tmp_path / "h.sqlite3") as store:
        conv = store.create_conversation()
        user = store.add_message(conv, None, "user", "q")
        answer = store.begin_answer(conv, user, "{}", "eurouter", "m")
        store.finish_answer(answer, text="x", extra=extra)
        plain = store.begin_answer(conv, user, "{}", "eurouter", "m")
        store.finish_answer(plain, text="y")
        view = MessageView.from_stored(store.get_message(answer))
        assert view.candidates is None  # not decoded while the chat's rows are made
        got = view.candidate_set()
        assert got is not None and got.candidates[0].logprobs == tokens
        assert MessageView.from_stored(store.get_message(plain)).candidate_set() is None


def test_only_a_finished_reply_is_checked_against_the_schema(qtbot: QtBot) -> None:
    from parley.ui.chat.answer import MessageView
    from parley.ui.message_widgets import AssistantMessageWidget

    fmt = {"type": "json_object"}
    for status, expect in (("failed", None), ("stopped", None), ("complete", False)):
        w = AssistantMessageWidget("1")
        qtbot.addWidget(w)
        error = {"kind": "server", "message": "boom"} if status == "failed" else None
        MessageView(
            id="1",
            role="assistant",
            content='{"half',
            status=status,
            error=error,
            response_format=fmt,
        ).paint(w)
        v = w.instruments._verdict if w.instruments is not None else None
        shown = v.verdict.passed if v is not None and not v.isHidden() and v.verdict else None
        assert shown is expect, status

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QPalette,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel
from pytestqt.qtbot import QtBot

from parley.core.render.markdown import MathSource, code_colors, math_source, render_markdown
from parley.ui import chatview as chatview_module
from parley.ui import theme
from parley.ui.chatview import ChatView
from parley.ui.math_images import math_images
from parley.ui.message_widgets import AssistantMessageWidget, SafeTextBrowser, UserMessageWidget

LONG_ANSWER = (
    "# Plan\n\nSome **bold** text with `code` and a [link](https://example.com).\n\n"
    "| col | n |\n|---|--:|\n| a | 1 |\n| b | 2 |\n\n"
    "```python\nfor i in range(3):\n    print(i)\n```\n\n"
    "- first\n- second\n\n"
) * 30 + "Final paragraph without newline"


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    v = ChatView(open_links=False)
    qtbot.addWidget(v)
    v.resize(700, 600)
    v.show()
    return v


def _plain(html: str) -> str:
    """What a fresh document shows for `html` (the view drops the final newline, as here)."""
    doc = QTextDocument()
    doc.setHtml(html.rstrip("\n"))
    return doc.toPlainText()


def _squash(text: str) -> str:
    return "".join(text.split())


def _layout_signature(doc: QTextDocument) -> list[tuple[object, ...]]:
    """What a reader sees, block by block: text, block kind and spacing, and inline formats."""
    out: list[tuple[object, ...]] = []
    block = doc.begin()
    while block.isValid():
        fmt = block.blockFormat()
        lst = block.textList()
        frags = []
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            cf = frag.charFormat()
            frags.append(
                (
                    frag.text(),
                    cf.fontWeight(),
                    cf.fontItalic(),
                    cf.anchorHref(),
                    cf.foreground().color().name(),
                )
            )
            it += 1
        out.append(
            (
                block.text(),
                fmt.headingLevel(),
                fmt.hasProperty(QTextFormat.Property.BlockTrailingHorizontalRulerWidth),
                lst.format().style() if lst else None,
                # The number (or bullet) shown and the nesting: a list streamed in pieces must
                # read as one list.
                (lst.itemText(block), lst.format().indent()) if lst else None,
                fmt.marker(),
                QTextCursor(block).currentTable() is not None,
                fmt.nonBreakableLines(),
                fmt.background().color().name(),
                round(fmt.topMargin()),
                round(fmt.bottomMargin()),
                tuple(frags),
            )
        )
        block = block.next()
    return out


MD_LINES = st.sampled_from(
    [
        "",
        "",
        "para text",
        "*emph* and `code`",
        "**bold**",
        "# heading",
        "===",
        "---",
        "- item",
        "  continued",
        "1. first",
        "2) second",
        "> quote",
        "```",
        "```py",
        "    indented",
        "| a | b |",
        "|---|---|",
        "| 1 | 2 |",
        "see [x](https://e.com)",
        "- item",
        "- item",
        "3. third",
        "  para in item",
        "  - nested",
        "- [ ] task",
        "- [x] done",
        "$x^2$ and $$y$$",
        "$$",
        "a https://example.com/x link",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(MD_LINES, min_size=1, max_size=14), st.integers(min_value=1, max_value=9))
def test_streamed_document_matches_a_one_shot_render(
    qtbot: QtBot, lines: list[str], step: int
) -> None:
    """Streaming appends finished blocks and re-renders only the tail, with no full re-render at
    the end: the result must look exactly like rendering the whole answer at once."""
    text = "\n".join(lines)
    w = AssistantMessageWidget("m")
    qtbot.addWidget(w)
    for i in range(0, len(text), step):
        w.append_text(text[i : i + step])
        w.flush()
    w.set_finished("stop")
    reference = QTextDocument()
    reference.setHtml(render_markdown(text).html.rstrip("\n"))
    assert _layout_signature(w.body.document()) == _layout_signature(reference)
    assert w.code_blocks() == render_markdown(text).code_blocks


def _click_text(qtbot: QtBot, browser: SafeTextBrowser, needle: str, occurrence: int = 0) -> None:
    doc = browser.document()
    cur = QTextCursor(doc)
    for _ in range(occurrence + 1):
        cur = doc.find(needle, cur)
        assert not cur.isNull(), needle
    probe = QTextCursor(doc)
    probe.setPosition(cur.selectionStart() + 1)
    rect = browser.cursorRect(probe)
    qtbot.mouseClick(
        browser.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 1, rect.center().y())
    )


def test_streaming_2000_deltas_renders_the_full_text(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    rng = random.Random(7)
    deltas: list[str] = []
    pos = 0
    while pos < len(LONG_ANSWER) and len(deltas) < 1999:
        n = rng.randint(1, 4)
        deltas.append(LONG_ANSWER[pos : pos + n])
        pos += n
    deltas.append(LONG_ANSWER[pos:])
    assert len(deltas) == 2000
    for d in deltas:
        w.append_text(d)
    # Deltas are coalesced: nothing was painted per delta, the throttle timer paints later.
    assert w.body.document().isEmpty()
    qtbot.waitUntil(lambda: not w.body.document().isEmpty(), timeout=2000)
    expected = render_markdown(LONG_ANSWER).html
    # The first paint already shows everything that arrived, as a one-shot render would.
    assert w.body.toPlainText() == _plain(expected)
    w.set_finished("stop")
    assert w.text() == "".join(deltas)
    assert w.body.toPlainText() == _plain(expected)
    reference = QTextDocument()
    reference.setHtml(expected.rstrip("\n"))
    assert _layout_signature(w.body.document()) == _layout_signature(reference)
    assert not w.badge.isVisible()
    assert w.code_blocks() == ["for i in range(3):\n    print(i)\n"] * 30


def test_partial_renders_at_intervals_match_full_render(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    for i in range(0, len(LONG_ANSWER), 37):
        w.append_text(LONG_ANSWER[i : i + 37])
        if i % 5 == 0:
            w.flush()
            assert _squash(w.body.toPlainText()) == _squash(_plain(render_markdown(w.text()).html))


def test_stop_keeps_partial_text_and_marks_it(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.append_text("Half an ans")
    w.append_text("wer")
    assert w.stop_button.isVisible()
    with qtbot.waitSignal(view.stop_requested):
        qtbot.mouseClick(w.stop_button, Qt.MouseButton.LeftButton)
    w.set_stopped()
    assert w.body.toPlainText() == "Half an answer"
    assert w.badge.isVisible() and w.badge.text() == "stopped"
    assert w.status == "stopped"
    assert not w.stop_button.isVisible() and w.regenerate_button.isVisible()


@pytest.mark.parametrize(
    ("reason", "badge", "continue_shown"),
    [
        ("stop", None, False),
        ("length", "truncated", True),
        ("content_filter", "filtered", False),
        ("tool_calls", "tool call", False),
    ],
)
def test_finish_badges(
    qtbot: QtBot, view: ChatView, reason: str, badge: str | None, continue_shown: bool
) -> None:
    w = view.add_assistant_message("m")
    w.append_text("text")
    w.set_finished(reason)
    assert w.badge.isVisible() == (badge is not None)
    if badge:
        assert w.badge.text() == badge
    assert w.continue_button.isVisible() == continue_shown
    if continue_shown:
        with qtbot.waitSignal(view.continue_requested) as sig:
            qtbot.mouseClick(w.continue_button, Qt.MouseButton.LeftButton)
        assert sig.args == ["m"]


def test_auth_error_card_shows_provider_words_and_key_action(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("m1")
    w.set_error("auth", "The API key was rejected.", "Invalid API key provided", "nordlys")
    assert w.error_card.isVisible()
    assert "nordlys" in w.error_title.text()
    assert w.error_message.text() == "The API key was rejected."
    assert "Invalid API key provided" in w.error_provider.text()
    assert w.keys_button.isVisible() and not w.retry_button.isVisible()
    with qtbot.waitSignal(view.open_keys_requested) as sig:
        qtbot.mouseClick(w.keys_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["nordlys"]


@pytest.mark.parametrize("kind", ["server", "network", "timeout"])
def test_retryable_error_card_has_retry_now(qtbot: QtBot, view: ChatView, kind: str) -> None:
    w = view.add_assistant_message("m2")
    w.append_text("partial")
    w.set_error(kind, "Something failed.", None, "euri")
    assert w.body.toPlainText() == "partial"  # the partial answer stays
    assert w.retry_button.isVisible() and not w.keys_button.isVisible()
    assert not w.error_provider.isVisible()
    with qtbot.waitSignal(view.retry_requested) as sig:
        qtbot.mouseClick(w.retry_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["m2"]


def test_rate_limit_countdown_ticks_and_retries(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("m3")
    w.countdown_interval_ms = 30
    w.set_error("rate_limit", "Too many requests.", "slow down", "euri", retry_after=3)
    assert w.countdown_label.text() == "Retrying in 3 s…"
    with qtbot.waitSignal(view.retry_requested, timeout=2000) as sig:
        qtbot.waitUntil(lambda: w.countdown_label.text() == "Retrying in 1 s…", timeout=2000)
    assert sig.args == ["m3"]
    assert w.countdown_remaining() is None
    assert not w.countdown_label.isVisible()


def test_rate_limit_countdown_can_be_cancelled(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("m4")
    w.countdown_interval_ms = 20
    w.set_error("rate_limit", "Too many requests.", None, "euri", retry_after=2)
    assert w.cancel_retry_button.isVisible()
    qtbot.mouseClick(w.cancel_retry_button, Qt.MouseButton.LeftButton)
    assert w.countdown_remaining() is None
    with qtbot.assertNotEmitted(view.retry_requested, wait=150):
        pass
    assert w.retry_button.isVisible()  # the manual action stays


def test_engine_retrying_badge_counts_down_and_clears_on_text(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("m5")
    w.countdown_interval_ms = 20
    w.set_retrying(2, 2, "503 from the server", 3)
    assert w.badge.text() == "503 from the server, retrying in 2 s (attempt 2 of 3)"
    qtbot.waitUntil(
        lambda: w.badge.text() == "503 from the server; trying again (attempt 2 of 3)",
        timeout=2000,
    )
    w.append_text("hello")
    assert not w.badge.isVisible()


def test_the_waiting_line_counts_seconds_until_the_first_token(
    qtbot: QtBot, view: ChatView
) -> None:
    import time

    w = view.add_assistant_message("m6")
    assert w.waiting is None  # nothing is built for answers that do not wait
    w.start_waiting(time.monotonic() - 4.2)  # sent four seconds ago
    line = w.waiting
    assert line is not None and line.isVisible()
    assert line.text() == "Waiting for the first token… 4 s"
    qtbot.waitUntil(lambda: line.text() == "Waiting for the first token… 5 s", timeout=2000)
    w.append_reasoning("hmm")  # thinking is an answer beginning too
    assert not line.isVisible() and not line.is_waiting()
    w2 = view.add_assistant_message("m7")
    w2.start_waiting()
    assert w2.waiting is not None and w2.waiting.text() == "Waiting for the first token…"
    w2.set_error("server", "The server failed.")
    assert not w2.waiting.isVisible()


def test_branch_switcher_emits_and_hides_for_single(qtbot: QtBot, view: ChatView) -> None:
    u = view.add_user_message("u1", "hi", branch=(1, 3))
    a = view.add_assistant_message("a1", branch=(0, 1))
    assert u.branch_switcher.isVisible() and u.branch_switcher.label.text() == "2/3"
    assert not a.branch_switcher.isVisible()
    with qtbot.waitSignal(view.branch_requested) as sig:
        qtbot.mouseClick(u.branch_switcher.prev_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["u1", -1]
    with qtbot.waitSignal(view.branch_requested) as sig:
        qtbot.mouseClick(u.branch_switcher.next_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["u1", 1]
    u.set_branch(2, 3)
    assert not u.branch_switcher.next_button.isEnabled()


def test_copy_link_of_a_code_block_copies_that_blocks_code(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.append_text("One:\n\n```sh\necho one\n```\n\nTwo:\n\n```python\nprint('two')\n```\n")
    w.set_finished("stop")
    QGuiApplication.clipboard().clear()
    _click_text(qtbot, w.body, "Copy", occurrence=1)
    assert QGuiApplication.clipboard().text() == "print('two')\n"
    _click_text(qtbot, w.body, "Copy", occurrence=0)
    assert QGuiApplication.clipboard().text() == "echo one\n"


def test_copy_message_button_copies_the_raw_markdown(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.append_text("**bold** text")
    w.set_finished("stop")
    qtbot.mouseClick(w.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "**bold** text"


def test_links_are_reported_on_click_and_never_followed(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.append_text("Go [here](https://example.com/page) now.")
    w.set_finished("stop")
    with qtbot.waitSignal(view.link_clicked) as sig:
        _click_text(qtbot, w.body, "here")
    assert sig.args[0] == QUrl("https://example.com/page")
    assert w.body.source().isEmpty()  # the browser did not navigate
    assert "Go here now." in w.body.toPlainText()


def test_untrusted_html_and_remote_images_are_inert(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.append_text('<img src="http://127.0.0.1:9/x.png"> ![pic](http://127.0.0.1:9/y.png)')
    w.set_finished("stop")
    text = w.body.toPlainText()
    assert '<img src="http://127.0.0.1:9/x.png">' in text
    assert "[image: pic](http://127.0.0.1:9/y.png)" in text
    assert w.body.loadResource(2, QUrl("http://127.0.0.1:9/y.png")) is None
    assert "<img" not in w.body.toHtml()


def test_reasoning_is_collapsed_and_streams(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.append_reasoning("Let me ")
    w.append_reasoning("think.")
    qtbot.waitUntil(lambda: w.reasoning_body.toPlainText() == "Let me think.", timeout=2000)
    assert w.reasoning_toggle.isVisible() and not w.reasoning_body.isVisible()
    qtbot.mouseClick(w.reasoning_toggle, Qt.MouseButton.LeftButton)
    assert w.reasoning_body.isVisible()
    w.append_text("Answer")
    w.set_finished("stop")
    assert w.reasoning() == "Let me think." and w.body.toPlainText() == "Answer"


def test_tool_calls_refusal_and_metrics(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.set_tool_calls([{"id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'}])
    w.set_refusal("I can't help with that.")
    w.set_metrics("m-used", 231.4, 84.56, 120, 3500, 40, 16, 0.00123, total_ms=4300)
    w.set_finished("tool_calls")
    assert len(w.tool_cards) == 1
    labels = [lbl.text() for lbl in w.tool_cards[0].findChildren(QLabel)]
    assert "Tool call: get_weather" in labels
    assert '{\n  "city": "Paris"\n}' in labels
    assert w.refusal_label.isVisible() and "I can't help with that." in w.refusal_label.text()
    footer = w.metrics_label.text()
    for part in (
        "m-used",
        "TTFT 231 ms",
        "84.6 tok/s",
        "120 in",
        "3,500 out",
        "40 reasoning",
        "16 cached",
        "$0.0012",
        "total 4.30 s",
    ):
        assert part in footer, part


def test_edit_user_message_emits_new_text(qtbot: QtBot, view: ChatView) -> None:
    u = view.add_user_message("u1", "old text")
    qtbot.mouseClick(u.edit_button, Qt.MouseButton.LeftButton)
    assert u.editor is not None and u.editor.toPlainText() == "old text"
    u.editor.setPlainText("new text")
    with qtbot.waitSignal(view.edit_requested) as sig:
        qtbot.keyClick(u.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["u1", "new text"]
    assert u.editor is None and u.body.isVisible()
    assert u.message_text() == "old text"  # the window decides what the new branch shows


def test_edit_can_be_cancelled_with_escape(qtbot: QtBot, view: ChatView) -> None:
    u = view.add_user_message("u1", "keep")
    u.start_edit()
    assert u.editor is not None
    with qtbot.assertNotEmitted(view.edit_requested):
        qtbot.keyClick(u.editor, Qt.Key.Key_Escape)
    assert u.editor is None


def test_load_messages_builds_only_the_newest_page(qtbot: QtBot, view: ChatView) -> None:
    rows = []
    for i in range(1000):
        rows.append({"id": f"u{i}", "role": "user", "content": f"question {i}"})
        rows.append({"id": f"a{i}", "role": "assistant", "content": f"answer **{i}**"})
    view.load_messages(rows)
    page = chatview_module.PAGE
    assert view.loaded_count() == page
    msgs = view.messages()
    assert msgs[-1].msg_id == "a999" and msgs[0].msg_id == f"u{1000 - page // 2}"
    assert isinstance(msgs[-1], AssistantMessageWidget)
    assert msgs[-1].body.toPlainText() == "answer 999"
    qtbot.mouseClick(view._earlier, Qt.MouseButton.LeftButton)
    assert view.loaded_count() == 2 * page
    assert view.messages()[0].msg_id == f"u{1000 - page}"
    # Scrolling to the top builds a few more (as many as fit in the time budget, at least one).
    QApplication.processEvents()
    view.scroll.verticalScrollBar().setValue(0)
    qtbot.waitUntil(lambda: view.loaded_count() > 2 * page, timeout=2000)
    loaded = view.loaded_count()
    assert loaded <= 2 * page + chatview_module.SCROLL_PAGE
    first = 2000 - loaded  # the earliest message built, in the order the rows came
    assert view.messages()[0].msg_id == f"{'ua'[first % 2]}{first // 2}"


def test_scrolling_up_builds_within_a_time_budget(
    qtbot: QtBot, view: ChatView, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"id": f"a{i}", "role": "assistant", "content": f"answer {i}"} for i in range(100)]
    view.resize(600, 400)
    view.show()
    view.load_messages(rows)
    page = chatview_module.PAGE
    monkeypatch.setattr(chatview_module, "SCROLL_BUDGET_MS", 0.0)  # spent after one message
    for reached in range(1, 4):
        QApplication.processEvents()
        view.scroll.verticalScrollBar().setValue(0)
        qtbot.waitUntil(lambda n=reached: view.loaded_count() == page + n, timeout=2000)
        assert view.messages()[0].msg_id == f"a{100 - page - reached}"
    assert [w.msg_id for w in view.messages()] == [f"a{i}" for i in range(100 - page - 3, 100)]


def test_load_messages_restores_states(qtbot: QtBot, view: ChatView) -> None:
    view.load_messages(
        [
            {"id": "s", "role": "system", "content": "be nice"},
            {
                "id": "u",
                "role": "user",
                "content": [{"type": "text", "text": "look"}],
                "branch": (1, 2),
            },
            {"id": "a", "role": "assistant", "content": "part", "status": "stopped"},
            {
                "id": "b",
                "role": "assistant",
                "content": "",
                "status": "failed",
                "error": {
                    "kind": "auth",
                    "message": "Key rejected.",
                    "provider_message": "bad key",
                    "provider_id": "euri",
                },
            },
            {
                "id": "c",
                "role": "assistant",
                "content": "long",
                "reasoning": "hmm",
                "finish_reason": "length",
                "metrics": {"model_used": "x-1", "ttft_ms": 12},
            },
        ]
    )
    msgs = view.messages()
    assert [m.msg_id for m in msgs] == ["u", "a", "b", "c"]
    u, a, b, c = msgs
    assert isinstance(u, UserMessageWidget) and u.branch_switcher.label.text() == "2/2"
    assert isinstance(a, AssistantMessageWidget) and a.badge.text() == "stopped"
    assert isinstance(b, AssistantMessageWidget) and b.keys_button.isVisible()
    assert b.countdown_remaining() is None
    assert isinstance(c, AssistantMessageWidget) and c.badge.text() == "truncated"
    assert c.reasoning() == "hmm" and "x-1" in c.metrics_label.text()


def test_clear_removes_everything(qtbot: QtBot, view: ChatView) -> None:
    view.add_user_message("u", "x")
    view.add_assistant_message("a")
    view.clear()
    QApplication.processEvents()
    assert view.messages() == [] and view.widget("u") is None


def test_theme_change_recolours_code_blocks(qtbot: QtBot, view: ChatView) -> None:
    done = view.add_assistant_message("a1")
    done.append_text("```python\nimport os\n```\n")
    done.set_finished("stop")
    live = view.add_assistant_message("a2")
    live.append_text("```python\nimport sys\n```\n\nmore")
    live.flush()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        theme.apply_theme(app, "dark")
        assert theme.is_dark()
        assert "#161b22" in done.body.toHtml()
        muted = done.role_label.palette().color(QPalette.ColorRole.WindowText).name()
        assert muted == theme.DARK.muted
        qtbot.waitUntil(lambda: "#161b22" in live.body.toHtml(), timeout=2000)
        assert "#f6f8fa" not in done.body.toHtml()
        live.append_text(" text")
        live.set_finished("stop")
        assert live.body.toPlainText().endswith("more text")
    finally:
        theme.apply_theme(app, "light")
    assert "#f6f8fa" in done.body.toHtml()


def test_every_control_has_an_accessible_name_and_takes_focus(qtbot: QtBot, view: ChatView) -> None:
    view.add_user_message("u", "hi", branch=(0, 2))
    w = view.add_assistant_message("a", branch=(1, 2))
    w.append_reasoning("hmm")
    w.append_text("text")
    w.set_error("rate_limit", "Too many requests.", "slow down", "euri", retry_after=30)
    controls = view.findChildren(QAbstractButton)
    assert len(controls) >= 12
    for c in controls:
        assert c.accessibleName(), c.text()
        assert c.focusPolicy() != Qt.FocusPolicy.NoFocus, c.text()
    for browser in view.findChildren(SafeTextBrowser):
        assert browser.accessibleName()
    w.cancel_countdown()


def test_reveal_message_builds_earlier_pages_and_scrolls_there(
    qtbot: QtBot, view: ChatView
) -> None:
    rows = [{"id": f"m{i}", "role": "user", "content": f"message {i}"} for i in range(200)]
    view.load_messages(rows)
    assert view.widget("m5") is None
    assert not view.reveal_message("nope")
    assert view.reveal_message("m5")
    target = view.widget("m5")
    assert target is not None
    bar = view.scroll.verticalScrollBar()

    def target_on_screen() -> bool:
        top = target.mapTo(view.scroll.viewport(), target.rect().topLeft()).y()
        return 0 <= top < view.scroll.viewport().height() and bar.value() < bar.maximum()

    qtbot.waitUntil(target_on_screen, timeout=2000)


def test_confirming_a_streamed_answer_does_not_render_it_again(
    qtbot: QtBot, view: ChatView
) -> None:
    w = view.add_assistant_message("a1")
    w.append_text("# Title\n\nfirst\n\nsecond\n\nthird")
    w.flush()
    w.append_text(" and the rest")  # pending, not painted yet
    first_block = w.body.document().begin()
    w.set_text("# Title\n\nfirst\n\nsecond\n\nthird and the rest", "")
    w.set_finished("stop")
    # The settled blocks are the same QTextBlock objects: painted once, never re-rendered.
    assert w.body.document().begin() == first_block
    assert w.body.toPlainText().endswith("third and the rest")


def test_unknown_token_counts_are_left_out_not_shown_as_zero(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.set_metrics("m", 20.0, 1000.0, None, 21, estimated=True)
    footer = w.metrics_label.text()
    assert "~21 out" in footer and " in" not in footer.replace("~21 out", "")


def test_an_answer_cut_by_a_crash_is_marked_interrupted(qtbot: QtBot, view: ChatView) -> None:
    view.load_messages(
        [
            {"id": "u1", "role": "user", "content": "Hi", "status": "complete"},
            {"id": "a1", "role": "assistant", "content": "Half an ans", "status": "interrupted"},
        ]
    )
    w = view.widget("a1")
    assert w is not None and w.badge.text() == "interrupted"
    assert w.text() == "Half an ans"


def test_a_code_block_still_streaming_is_painted_on_the_code_background(
    qtbot: QtBot, view: ChatView
) -> None:
    view.resize(700, 500)
    view.show()
    w = view.add_assistant_message("a1")
    text = (
        "Here is code:\n\n```python\nimport time\nimport httpx\n\ndef wait():\n    time.sleep(1)\n"
    )
    for i in range(0, len(text), 6):  # as it streams: the open block grows by appends
        w.append_text(text[i : i + 6])
        w.flush()
        QApplication.processEvents()  # painted between chunks, as in the app
    qtbot.waitUntil(lambda: w.body.isVisible())
    doc = w.body.document()
    image = w.body.viewport().grab().toImage()
    shade = QColor(code_colors(theme.is_dark()).background)

    def colour_beside(line: str) -> QColor:
        block = doc.find(line).block()
        rect = doc.documentLayout().blockBoundingRect(block)
        return image.pixelColor(int(rect.right()) - 4, int(rect.center().y()))

    for line in ("import time", "import httpx", "def wait():", "    time.sleep(1)"):
        assert colour_beside(line) == shade, line
    assert colour_beside("Here is code:") != shade


def _formula_images(doc: QTextDocument) -> list[tuple[str, QImage]]:
    found, out = QTextCursor(doc), []
    while not (found := doc.find("\ufffc", found)).isNull():
        name = found.charFormat().toImageFormat().name()
        out.append((name, doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(name))))
    return out


def _is_tex_placeholder(image: QImage, dark: bool = False) -> bool:
    # The TeX is drawn on the inline-code background; a typeset formula is on transparency.
    ratio = image.devicePixelRatio()
    mid = image.pixelColor(1, int(image.height() / 2))
    return mid.name() == code_colors(dark).inline_background and ratio > 0


def test_math_shows_its_tex_until_typeset_then_the_formula(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.set_text("Area $\\pi r^2$ of a circle.\n\n$$\n\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}\n$$\n")
    w.set_finished("stop")
    shown = _formula_images(w.body.document())
    assert [math_source(name) for name, _ in shown] == [
        MathSource("\\pi r^2", False, False),
        MathSource("\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}", True, False),
    ]
    # Typesetting is not done on the GUI thread: until it is, each formula is its TeX as code
    # (unless this process typeset it before: then the image comes at once).
    assert all(isinstance(image, QImage) and not image.isNull() for _, image in shown)
    math_images().wait_idle()
    qtbot.waitUntil(
        lambda: not any(_is_tex_placeholder(i) for _, i in _formula_images(w.body.document())),
        timeout=5000,
    )
    done = _formula_images(w.body.document())
    display = done[1][1]
    assert display.height() / display.devicePixelRatio() > w.body.fontMetrics().height() * 1.5
    assert w.body.height() >= display.height() / display.devicePixelRatio()


def test_a_formula_that_cannot_be_typeset_stays_its_tex(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    w.set_text("Broken: $\\frac{1}{$ and fine text.")
    w.set_finished("stop")
    math_images().wait_idle()
    qtbot.wait(50)  # the (failed) result comes through the event loop
    ((_, image),) = _formula_images(w.body.document())
    assert _is_tex_placeholder(image)


def test_code_blocks_and_long_words_wrap_inside_the_bubble(qtbot: QtBot, view: ChatView) -> None:
    w = view.add_assistant_message("a1")
    long_line = "x = compute(" + ", ".join(f"argument_{i}" for i in range(40)) + ")"
    w.set_text(f"```python\n{long_line}\n```\n\nA very long word: {'y' * 400}\n")
    w.set_finished("stop")
    qtbot.waitUntil(lambda: w.body.viewport().width() > 0)
    # Nothing is wider than the view, so there is nothing to scroll sideways out of the bubble.
    assert w.body.document().size().width() <= w.body.viewport().width() + 1
    assert w.body.horizontalScrollBar().maximum() == 0
    assert "argument_39)" in w.body.toPlainText()

"""Defect 10 of issue 12: a search hit opens its chat scrolled to the message, highlighted, on
the branch that holds it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

from parley.ui.mainwindow import Services
from tests.ui.conftest import close, opened, wait_for


def test_a_search_hit_scrolls_to_its_message_and_highlights_it_on_its_branch(
    qapp: QApplication, arun: Any, services: Services
) -> None:
    store = services.store
    conv = store.create_conversation(title="Long trip")
    parent = None
    target_answer = None
    first_user = None
    for i in range(14):
        u = store.add_message(conv, parent, "user", f"Question {i}: " + "words " * 40)
        first_user = first_user or u
        a = store.begin_answer(conv, u, {}, "euri", "m")
        hit = " zanzibar" if i == 3 else ""
        store.finish_answer(a, text=f"Answer {i}. " + "more text " * 60 + hit)
        if i == 3:
            target_answer = a  # the hit: early in a long chat, on the first branch
        parent = a
    assert target_answer is not None
    # A second branch from the first question, shown: the hit is not on it.
    b = store.begin_answer(conv, first_user, {}, "euri", "m")
    store.finish_answer(b, text="A short other branch.")

    async def scenario() -> None:
        window = await opened(qapp, services)
        window.resize(1100, 700)
        sb = window.sidebar
        try:
            sb.focus_search()
            sb.search.setText("zanzibar")
            await wait_for(lambda: "1 match" in sb.status.text(), what="the search hit")
            sb.list.itemActivated.emit(sb.list.item(0))
            await wait_for(lambda: window.conversation_id == conv, what="the conversation")
            view = window.chat
            await wait_for(
                lambda: view.assistant_widget(str(target_answer)) is not None, what="the hit"
            )
            w = view.assistant_widget(str(target_answer))
            assert w is not None
            viewport = view.scroll.viewport()

            def visible() -> bool:
                top = w.mapTo(viewport, QPoint(0, 0)).y()
                return 0 <= top < viewport.height() - 20

            bar = view.scroll.verticalScrollBar()
            # Neither the top nor the end of the chat: where the hit is.
            await wait_for(
                lambda: visible() and 0 < bar.value() < bar.maximum(),
                what="the hit scrolled into view",
            )
            assert w.property("highlighted") is True
            texts = [m.message_text() for m in view.messages()]
            assert "zanzibar" in texts[7]  # the branch holding the hit (14 exchanges)
            await wait_for(
                lambda: w.property("highlighted") is False, what="the outline to go", timeout=6
            )
        finally:
            await close(window)

    arun(scenario())

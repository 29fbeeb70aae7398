"""The request preview of a long history: its text shows the first and last messages and says how
many it leaves out; the body it stands for (`preview_body()`, Copy body) is still the whole exact
body, which is what a send then stores with its answer. The preview is built off the GUI thread.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from parley.core.chat.prepared import PreparedRequest, prepare
from parley.core.protocol.request import ChatRequest, Message
from parley.core.providers.catalog import ProviderSpec, load_catalog
from parley.core.providers.wire import build_wire_request
from parley.ui.mainwindow import Services
from parley.ui.params.preview import PREVIEW_HEAD_MESSAGES, PREVIEW_TAIL_MESSAGES
from parley.ui.params_panel import ParamsPanel
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import answers, close, opened, wait_for

HEAD, TAIL = PREVIEW_HEAD_MESSAGES, PREVIEW_TAIL_MESSAGES


def _history(n: int) -> list[Message]:
    return [
        Message(role="user" if i % 2 == 0 else "assistant", content=f"message {i}")
        for i in range(n)
    ]


@pytest.fixture
def spec() -> ProviderSpec:
    spec = load_catalog().get("euri")
    assert spec is not None
    return spec


@pytest.fixture
def panel(qtbot: QtBot, spec: ProviderSpec) -> ParamsPanel:
    p = ParamsPanel(spec)
    qtbot.addWidget(p)
    return p


def _wire_body(
    spec: ProviderSpec, messages: list[Message], advanced: dict[str, Any] | None = None
) -> dict[str, Any]:
    request = ChatRequest(provider=spec.id, model="m", messages=messages, advanced=advanced or {})
    return build_wire_request(spec, request).body


def _show(
    panel: ParamsPanel,
    spec: ProviderSpec,
    messages: list[Message],
    advanced: dict[str, Any] | None = None,
) -> PreparedRequest:
    request = ChatRequest(provider=spec.id, model="m", messages=messages, advanced=advanced or {})
    prepared = prepare(spec, request, None, require_key=False)
    panel.show_request(prepared)
    return prepared


def test_a_long_history_shows_its_ends_and_the_whole_body_is_kept(
    panel: ParamsPanel, spec: ProviderSpec
) -> None:
    n = HEAD + TAIL + 60
    history = _history(n)
    prepared = _show(panel, spec, history)
    shown = json.loads(panel.preview_text())["messages"]
    assert [m["content"] for m in shown[:HEAD]] == [f"message {i}" for i in range(HEAD)]
    assert shown[HEAD] == "… 60 more messages, sent but not shown here …"
    assert [m["content"] for m in shown[HEAD + 1 :]] == [f"message {i}" for i in range(n - TAIL, n)]
    assert "60 messages in the middle of the history are sent but not shown" in (
        panel.preview_target.text()
    )

    expected = _wire_body(spec, history)
    assert panel.preview_body() == expected  # every message, as a send builds it
    panel.copy_preview_button.click()
    assert QGuiApplication.clipboard().text().encode() == prepared.body  # the exact bytes
    assert json.loads(QGuiApplication.clipboard().text()) == expected


def test_a_history_up_to_the_limit_or_replaced_by_advanced_json_is_shown_whole(
    panel: ParamsPanel, spec: ProviderSpec
) -> None:
    history = _history(HEAD + TAIL + 1)
    _show(panel, spec, history)
    expected = _wire_body(spec, history)
    assert json.loads(panel.preview_text()) == expected
    assert panel.preview_body() == expected
    assert "not shown" not in panel.preview_target.text()

    # The Advanced JSON replaces the messages: the text shows what is sent, whatever the length.
    long_history = _history(HEAD + TAIL + 30)
    advanced = {"messages": [{"role": "user", "content": "x"}]}
    _show(panel, spec, long_history, advanced)
    expected = _wire_body(spec, long_history, advanced)
    assert json.loads(panel.preview_text()) == expected
    assert panel.preview_body() == expected


# --- in the window ----------------------------------------------------------------------------


def test_the_window_preview_is_what_a_send_in_a_long_conversation_stores(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    store = services.store
    conv = store.create_conversation(title="long", system_prompt="Be brief.")
    parent = None
    for i in range(60):
        parent = store.add_message(conv, parent, "user", f"question {i}")
        answer = store.begin_answer(conv, parent, {"model": "m"}, "euri", "gpt-4o-mini")
        # An answer that failed before any token is not sent back.
        store.finish_answer(answer, text="" if i == 7 else f"answer {i}", finish_reason="stop")
        parent = answer
    emu.push(Behavior(text="The last answer."), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.open_conversation(conv)
            panel = window.panel
            assert panel.isVisible()
            await window.preview.wait_idle()
            before = panel.preview_body()
            assert before is not None
            text = json.loads(panel.preview_text())
            assert isinstance(text["messages"][HEAD], str)  # the note where messages are left out
            assert text["messages"][-1] == {"role": "user", "content": "…"}

            window.composer.set_draft("One more question")
            window.composer.request_send()
            await wait_for(
                lambda: (
                    answers(window)
                    and answers(window)[-1].text() == "The last answer."
                    and not window.is_streaming()
                ),
                what="the answer",
            )
            stored = store.current_path(conv)[-1]
            sent = stored.request_body
            assert sent is not None
            assert sent == emu.chat_requests("euri")[-1].json
            # The preview was the body sent, but for the message not typed yet.
            assert sent["messages"][:-1] == before["messages"][:-1]
            assert sent["messages"][-1] == {"role": "user", "content": "One more question"}
            assert len(sent["messages"]) == 1 + 60 * 2 - 1 + 1

            # After the turn the preview has it, then the next message.
            await wait_for(
                lambda: (
                    (panel.preview_body() or {}).get("messages", [])[-3:]
                    == [
                        {"role": "user", "content": "One more question"},
                        {"role": "assistant", "content": "The last answer."},
                        {"role": "user", "content": "…"},
                    ]
                ),
                what="the preview to follow the turn",
            )
        finally:
            await close(window)

    arun(scenario())

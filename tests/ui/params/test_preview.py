"""The window's request preview is the request of the next send: after a regenerate, an edit, a
branch switch and a model change, its body is what the emulator then receives (but for the
message typed), byte for byte."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QApplication

from parley.ui.mainwindow import MainWindow, Services
from parley.ui.params.preview import PLACEHOLDER
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import answers, chat, close, opened, wait_for


async def _preview(window: MainWindow) -> bytes:
    await window.preview.wait_idle()
    assert not window.panel.preview_stale()
    prepared = window.panel.prepared()
    assert prepared is not None
    return prepared.body


def _with(body: bytes, text: str) -> bytes:
    """`body` (the preview's) with the placeholder message as `text`, as the send builds it."""
    typed = json.dumps(text, ensure_ascii=False)
    placeholder = json.dumps(PLACEHOLDER, ensure_ascii=False)
    head, sep, tail = body.rpartition(f'"content":{placeholder}'.encode())
    assert sep, "the placeholder message is the preview's last"
    return head + f'"content":{typed}'.encode() + tail


async def _send_and_compare(window: MainWindow, emu: Emulator, text: str) -> None:
    before = await _preview(window)
    await chat(window, text)
    assert emu.chat_requests("euri")[-1].body == _with(before, text)


def test_the_preview_is_the_next_send_after_each_action(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.system_prompt.edit.setPlainText("Be brief.")  # as typed
            await _send_and_compare(window, emu, "first")  # a new chat, its system prompt
            body = json.loads(await _preview(window))
            assert body["messages"][0] == {"role": "system", "content": "Be brief."}

            # Regenerate: the preview has the new answer (it used to keep the old one).
            emu.push(Behavior(text="A regenerated answer."), provider="euri")
            window.regenerate(answers(window)[-1].msg_id)
            await wait_for(lambda: not window.is_streaming(), what="the regenerated answer")
            await wait_for(lambda: answers(window)[-1].text() == "A regenerated answer.")
            body = json.loads(await _preview(window))
            assert body["messages"][-2] == {"role": "assistant", "content": "A regenerated answer."}
            await _send_and_compare(window, emu, "second")

            # Edit & resend the first question: a new branch.
            first = window.chat.messages()[0]
            window.chats.edit_and_resend(first.msg_id, "first, edited")
            await wait_for(lambda: not window.is_streaming(), what="the edited branch")
            await wait_for(lambda: len(answers(window)) == 1 and answers(window)[0].text())
            await _send_and_compare(window, emu, "third")

            # Back to the first branch.
            window.chats.switch_branch(window.chat.messages()[0].msg_id, -1)
            await _send_and_compare(window, emu, "fourth")

            # Another model.
            window.model_combo.setEditText("gpt-4o")
            await _send_and_compare(window, emu, "fifth")
            assert json.loads(emu.chat_requests("euri")[-1].body)["model"] == "gpt-4o"
        finally:
            await close(window)

    arun(scenario())

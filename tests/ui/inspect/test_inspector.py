"""The inspector on a real answer from the emulator: request, response, timeline, parsed result;
Reproduce sends the stored body byte for byte, Edit & replay the edited body as it is; the key
is nowhere in what it shows."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any

from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit

from parley.ui.inspect.dialog import InspectorDialog
from parley.ui.mainwindow import MainWindow, Services
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import answers, chat, close, opened, wait_for


def _texts(dialog: InspectorDialog) -> str:
    parts = [w.toPlainText() for w in dialog.findChildren(QPlainTextEdit)]
    parts += [w.text() for w in dialog.findChildren(QLabel)]
    return "\n".join(parts)


def _inspector(window: MainWindow) -> InspectorDialog:
    found = [d for d in window._dialogs if isinstance(d, InspectorDialog)]
    assert found, "no inspector open"
    return found[-1]


def test_inspecting_an_answer_shows_its_exchange_and_reproduces_it(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    key = emu.key("euri")
    reply = Behavior(text="Four words, no more.", chunk_chars=3, include_usage=True)
    emu.push(reply, provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            answer = await chat(window, "Say four words")
            assert answer.inspect_button.isVisible()
            answer.inspect_button.click()
            dialog = _inspector(window)
            sent = emu.chat_requests("euri")[-1].body
            stored = window.store.get_message(int(answer.msg_id))

            # Request: the exact body sent, pretty; the headers with the key redacted.
            assert stored.request_body_text is not None
            assert stored.request_body_text.encode() == sent
            assert json.loads(dialog.request_body.toPlainText()) == json.loads(sent)
            headers = dialog.request_headers.toPlainText()
            assert "Authorization: Bearer [key redacted]" in headers
            # Response: the status and headers the emulator sent.
            assert dialog.status_label.text() == "Status: 200"
            response_headers = dialog.response_headers.toPlainText().lower()
            assert "content-type: text/event-stream" in response_headers
            # Timeline: every raw line with its offset; the first content delta's offset is
            # the footer's TTFT.
            lines = dialog.timeline.toPlainText().splitlines()
            assert lines and all(line.lstrip().startswith("+") for line in lines)
            assert lines[-1].endswith("data: [DONE]")
            record = dialog.attempt()
            assert record is not None and record.first_content_ms is not None
            ttft = (stored.metrics or {})["ttft_ms"]
            assert abs(record.first_content_ms - ttft) < 0.1
            assert f"TTFT {ttft:,.0f} ms" in answer.metrics_label.text()
            marked = dialog.timeline.extraSelections()
            assert len(marked) == 1
            first = lines[marked[0].cursor.blockNumber()]
            assert '"content":"Fou' in first.replace(" ", "")
            assert f"+{record.first_content_ms:,.1f} ms" in dialog.timeline_note.text()
            # Parsed result.
            parsed = dialog.parsed_labels
            assert parsed["Finish reason"].text() == "stop"
            assert "Model used" not in parsed  # EURI's chunks do not say
            assert parsed["Model asked for"].text() == "gpt-4o-mini"
            assert "Completion tokens" in parsed
            # JSON copy is the exact body; the curl copy runs as it is, the key from the
            # environment (and a 401 without it).
            assert dialog.copy("JSON body").encode() == sent
            curl = dialog.copy("curl")
            assert "$PARLEY_API_KEY_EURI" in curl and key not in curl
            emu.push(Behavior(text="Four words from curl."), provider="euri")
            env = {**os.environ, "PARLEY_API_KEY_EURI": key}
            ran = await asyncio.to_thread(
                subprocess.run, ["bash", "-c", curl], env=env, capture_output=True, text=True
            )
            assert ran.returncode == 0 and '"content":"Four' in ran.stdout.replace(" ", "")
            env.pop("PARLEY_API_KEY_EURI")
            ran = await asyncio.to_thread(
                subprocess.run, ["bash", "-c", curl], env=env, capture_output=True, text=True
            )
            assert ran.returncode != 0 and "401" in ran.stderr + ran.stdout
            assert key not in _texts(dialog)
            assert key not in QApplication.clipboard().text()

            # Reproduce: the same bytes again, as a new sibling answer.
            emu.push(Behavior(text="Again, four words."), provider="euri")
            dialog.reproduce_button.click()
            await wait_for(
                lambda: len(emu.chat_requests("euri")) == 4 and not window.is_streaming(),
                what="the reproduced request",
            )
            assert emu.chat_requests("euri")[-1].body == sent
            await wait_for(lambda: answers(window)[-1].text() == "Again, four words.")
            siblings = window.store.siblings(int(answers(window)[-1].msg_id))
            assert siblings.total == 2

            # Edit & replay: the edited text is sent exactly as it is.
            editor = dialog.open_edit_replay()
            edited = json.loads(sent)
            edited["temperature"] = 0.25
            text = json.dumps(edited, indent=1)
            editor.editor.text_edit.setPlainText(text)
            emu.push(Behavior(text="Edited."), provider="euri")
            assert editor.send_button.isEnabled()
            editor.send_button.click()
            await wait_for(
                lambda: len(emu.chat_requests("euri")) == 5 and not window.is_streaming(),
                what="the edited request",
            )
            assert emu.chat_requests("euri")[-1].body == text.encode()
            await wait_for(lambda: answers(window)[-1].text() == "Edited.")
            editor.editor.text_edit.setPlainText("{not json")
            assert not editor.send_button.isEnabled()
        finally:
            await close(window)

    arun(scenario())


def test_an_error_card_has_inspect_showing_the_failed_response(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator
) -> None:
    emu.push(Behavior(status=400, message="max_tokens is too large"), provider="euri")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            answer = await chat(window, "Fail please")
            assert answer.status == "failed"
            assert answer.inspect_error_button.isVisible()
            answer.inspect_error_button.click()
            dialog = _inspector(window)
            assert dialog.status_label.text() == "Status: 400"
            assert "max_tokens is too large" in dialog.timeline.toPlainText()
            assert "bad_request" in dialog.parsed_labels["Error"].text()
            assert emu.key("euri") not in _texts(dialog)
        finally:
            await close(window)

    arun(scenario())

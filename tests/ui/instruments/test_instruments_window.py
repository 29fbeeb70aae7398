"""The instruments in the real window, through the loopback emulator: candidates as tabs (n and
fanned out), the token heatmap from the emulator's log-probabilities, and replies checked
against a JSON schema; each reopens from the history as it was."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from parley.core.app.secrets import KeyStore
from parley.core.app.settings import Settings
from parley.core.chat import logprobs as lp
from parley.core.providers.catalog import load_catalog
from parley.core.store import Store
from parley.net.engine import Engine, RetryPolicy
from parley.ui.instruments.answer import AnswerInstruments
from parley.ui.instruments.controls import InstrumentsBox
from parley.ui.mainwindow import MainWindow, Services
from parley.ui.message_widgets import AssistantMessageWidget
from tests.helpers.emulator import Behavior, Emulator
from tests.helpers.emulator.replies import logprob_at
from tests.ui.conftest import answers, chat, close, opened, wait_for

PROVIDERS = ("euri", "eurouter", "vllm")

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}


@pytest.fixture
def services(emu: Emulator) -> Iterator[Services]:
    keys = KeyStore()
    for pid in PROVIDERS:
        keys.set(pid, emu.key(pid), session_only=True)
    settings = Settings(
        first_run_done=True,
        last_provider="eurouter",
        last_model="openai/gpt-4.1-mini",
        base_urls={pid: emu.base_url(pid) for pid in PROVIDERS},
    )
    engine = Engine(retry=RetryPolicy(max_attempts=2, base_delay=0.05, max_delay=1.0))
    yield Services(load_catalog(), settings, Store.open(), engine=engine, keys=keys)
    for pid in PROVIDERS:
        keys.delete(pid)


def box(window: MainWindow) -> InstrumentsBox:
    window.panel.instruments_section.set_expanded(True)
    return window.panel.instruments()


def inst(w: AssistantMessageWidget) -> AnswerInstruments:
    assert isinstance(w.instruments, AnswerInstruments), "the answer has no instruments"
    return w.instruments


async def reopened(window: MainWindow) -> AssistantMessageWidget:
    conv = window.chats.conversation_id
    assert conv is not None
    window.chats.new_chat()
    assert window.chats.open_conversation(conv)
    await wait_for(lambda: bool(answers(window)), what="the reopened answers")
    return answers(window)[0]


def test_n_three_gives_three_tabs_and_the_chosen_one_carries_on(
    qapp: QApplication, services: Services, emu: Emulator, arun: Callable[..., Any]
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.set_provider("vllm", "qwen3")
            b = box(window)
            b.candidates_spin.setValue(3)
            assert window.panel.values()["n"] == 3  # asked through the provider's own n
            assert "one request" in b.candidates_note.text()
            w = await chat(window, "Three please")
            sent = emu.chat_requests("vllm")
            assert len(sent) == 1 and sent[0].json["n"] == 3
            t = inst(w).tabs
            assert t.tabs.count() == 3 and t.isVisibleTo(w)
            assert t.label.text().startswith("3 candidates (n = 3)")
            first = w.text()
            t.tabs.setCurrentIndex(2)
            assert w.text().startswith("Choice 3:") and w.text() != first
            # The conversation goes on from the candidate shown.
            stored = window.services.store.get_message(int(w.msg_id))
            assert stored.text == w.text() and stored.extra and stored.extra["chosen"] == 2
            again = await reopened(window)
            t2 = inst(again).tabs
            assert t2.tabs.count() == 3 and t2.current() == 2
            assert again.text().startswith("Choice 3:")
            await chat(window, "And next?")
            last = emu.chat_requests("vllm")[-1].json["messages"]
            assert last[-2] == {"role": "assistant", "content": stored.text}
        finally:
            await close(window)

    arun(scenario())


def test_fan_out_on_a_provider_without_n_is_labelled_so(
    qapp: QApplication, services: Services, emu: Emulator, arun: Callable[..., Any]
) -> None:
    for text in ("alpha", "beta", "gamma"):
        emu.push(Behavior(text=text), provider="eurouter")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.set_provider("eurouter", "openai/gpt-4.1-mini")
            b = box(window)
            b.candidates_spin.setValue(3)
            assert "n" not in window.panel.values()
            assert "separate requests" in b.candidates_note.text()
            w = await chat(window, "Fan out")
            sent = emu.chat_requests("eurouter")
            assert len(sent) == 3 and all("n" not in r.json for r in sent)
            t = inst(w).tabs
            assert t.tabs.count() == 3
            assert t.label.text().startswith("3 separate requests")
            seen = set()
            for i in range(3):
                t.tabs.setCurrentIndex(i)
                seen.add(w.text())
            assert seen == {"alpha", "beta", "gamma"}
            again = await reopened(window)
            assert inst(again).tabs.label.text().startswith("3 separate requests")
            assert inst(again).tabs.tabs.count() == 3
        finally:
            await close(window)

    arun(scenario())


def test_logprobs_heatmap_from_the_emulator(
    qapp: QApplication, services: Services, emu: Emulator, arun: Callable[..., Any]
) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice over."
    emu.push(Behavior(text=text, chunk_chars=4), provider="eurouter")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.set_provider("eurouter", "openai/gpt-4.1-mini")
            b = box(window)
            assert b.logprobs_check.isEnabled() and not b.logprobs_note.isVisibleTo(b)
            b.logprobs_check.setChecked(True)
            b.top_spin.setValue(3)
            assert window.panel.values()["logprobs"] is True
            assert window.panel.values()["top_logprobs"] == 3
            w = await chat(window, "Probabilities")
            body = emu.chat_requests("eurouter")[-1].json
            assert body["logprobs"] is True and body["top_logprobs"] == 3
            await check_heatmap(w, text)
            again = await reopened(window)
            await check_heatmap(again, text)
            # EURI's file says it returns none: the toggle is off and says why.
            window.set_provider("euri", "gpt-4o-mini")
            assert not b.logprobs_check.isEnabled()
            assert "EURI does not return token probabilities" in b.logprobs_note.text()
            assert "logprobs" not in window.panel.values()
        finally:
            await close(window)

    arun(scenario())


async def check_heatmap(w: AssistantMessageWidget, text: str) -> None:
    i = inst(w)
    assert i.probs_line.isVisibleTo(w)
    i.probs_toggle.click()
    assert i.heatmap_shown() and not w.body.isVisibleTo(w)
    heat = i.logprobs.heatmap
    tokens = heat.tokens()
    assert "".join(t.token for t in tokens) == text
    assert [t.logprob for t in tokens] == [logprob_at(k) for k in range(len(tokens))]
    expected = sum(t.logprob for t in tokens) / len(tokens)
    shown = f"{expected:.3f}".replace("-", "\u2212")
    assert f"mean log-prob {shown}" in i.probs_line.text()
    assert f"perplexity {math.exp(-expected):,.2f}" in i.probs_line.text()
    sure, unsure = 0, 9  # the emulator's -0.01 and -2.5
    assert tokens[sure].logprob > tokens[unsure].logprob
    base = lp._rgb(heat.colors_for(sure)[0])
    hot = lp._rgb(heat.colors_for(unsure)[0])
    from parley.ui import theme

    card = lp._rgb(theme.colors().assistant_card)
    assert sum(abs(a - b) for a, b in zip(hot, card, strict=True)) > 3 * sum(
        abs(a - b) for a, b in zip(base, card, strict=True)
    )
    bg, fg = heat.colors_for(unsure)
    assert lp.contrast_ratio(bg, fg) >= 4.5
    tip = heat.tooltip_for(unsure)
    assert tokens[unsure].token in tip and "8.2%" in tip and "Top alternatives" in tip
    assert len(tokens[unsure].top) == 3
    assert all(lp.shown_token(alt.token) in tip for alt in tokens[unsure].top)
    i.probs_toggle.click()
    assert not i.heatmap_shown() and w.body.isVisibleTo(w)


def test_schema_errors_with_pointers_and_a_pass_badge(
    qapp: QApplication, services: Services, emu: Emulator, arun: Callable[..., Any]
) -> None:
    emu.push(Behavior(json_reply={"name": 7, "age": -3}), provider="eurouter")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.set_provider("eurouter", "openai/gpt-4.1-mini")
            editor = box(window).format_editor
            editor.set_mode("json_schema")
            editor.name_edit.setText("person")
            editor.schema_editor.set_text(
                '{"type": "object", "properties": {"age": {"type": "integr"}}}'
            )
            editor._edited()
            assert "/properties/age/type" in editor.problems_label.text()
            assert "response_format" in window.panel.errors()
            editor.schema_editor.set_text('{"type": "object",')
            editor._edited()
            assert editor.schema_editor.error_label.isVisibleTo(editor)
            editor.schema_editor.set_text(json.dumps(PERSON))
            editor._edited()
            assert not editor.problems_label.isVisibleTo(editor)
            assert window.panel.values()["response_format"]["json_schema"]["schema"] == PERSON

            bad = await chat(window, "Who?")
            v = inst(bad).verdict
            assert v.verdict is not None and not v.verdict.passed
            lines = v.problem_lines()
            assert any(line.startswith("/name: 7 is not of type 'string'") for line in lines)
            assert any(line.startswith("/age: -3 is less than the minimum") for line in lines)
            assert "2 problems" in v.badge.text()

            good = await chat(window, "Again")  # the emulator answers from the schema itself
            v2 = inst(good).verdict
            assert v2.verdict is not None and v2.verdict.passed
            assert v2.badge.text() == "\u2713 Matches the JSON schema" and not v2.problem_lines()

            first = await reopened(window)
            assert not inst(first).verdict.verdict.passed  # type: ignore[union-attr]
            assert inst(first).verdict.problem_lines() == lines
            assert inst(answers(window)[1]).verdict.verdict.passed  # type: ignore[union-attr]
        finally:
            await close(window)

    arun(scenario())


def test_candidates_stream_into_their_tabs(
    qapp: QApplication, services: Services, emu: Emulator, arun: Callable[..., Any]
) -> None:
    emu.push(Behavior(text="streaming words " * 12, chunk_chars=6, chunk_delay=0.03), "vllm")

    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.set_provider("vllm", "qwen3")
            box(window).candidates_spin.setValue(3)
            window.composer.set_draft("Stream three")
            window.composer.request_send()
            await wait_for(lambda: bool(answers(window)), what="the answer to start")
            w = answers(window)[-1]
            await wait_for(lambda: w.instruments is not None, what="the live tabs")
            t = inst(w).tabs
            assert t.tabs.count() == 3 and w.status == "streaming"
            await wait_for(lambda: len(w.text()) > 12, what="some text")
            t.tabs.setCurrentIndex(1)
            await wait_for(lambda: w.text().startswith("Choice 2:"), what="candidate 2 shown")
            so_far = len(w.text())
            await wait_for(lambda: len(w.text()) > so_far, what="candidate 2 to grow")
            assert w.status == "streaming"
            await wait_for(lambda: not window.is_streaming(), what="the end")
            await wait_for(lambda: w.status != "streaming", what="the answer to settle")
            assert inst(w).tabs.current() == 1 and w.text().startswith("Choice 2:")
            stored = window.services.store.get_message(int(w.msg_id))
            assert stored.extra is not None and stored.extra["chosen"] == 1
            assert stored.text == w.text()
        finally:
            await close(window)

    arun(scenario())

"""The Lab's Compare in the real main window, streaming from the loopback emulator: six panes
at once with one failing, Retry of one pane, Continue making sibling branches that reopen from
the history, blind mode hiding every name until the vote (searched in every widget), the
word diff of two 20 kB answers, and `parley FILE.toml` opening an experiment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget

from parley.core.app.settings import Preset
from parley.core.lab.experiment import Variant
from parley.core.store import Store
from parley.core.store import compare as compare_store
from parley.ui.lab.compare import ComparePage
from parley.ui.mainwindow import MainWindow, Services
from tests.helpers.emulator import Behavior, Emulator
from tests.ui.conftest import close, opened, wait_for

ROUTES = {"euri": "euri", "openai-compatible": "openai", "eurouter": "eurouter"}


@pytest.fixture
def lab_services(services: Services, emu: Emulator) -> Iterator[Services]:
    keys = services.keys
    keys.set("openai-compatible", emu.key("openai"), session_only=True)
    keys.set("eurouter", emu.key("eurouter"), session_only=True)
    services.settings.base_urls.update(
        {"openai-compatible": emu.base_url("openai"), "eurouter": emu.base_url("eurouter")}
    )
    yield services
    keys.delete("openai-compatible")
    keys.delete("eurouter")


def v(emu: Emulator, provider: str, model: str, label: str = "", **params: Any) -> Variant:
    return Variant(
        0,
        label or f"{provider}/{model}",
        provider,
        model,
        base_url=emu.base_url(ROUTES[provider]),
        params=params,
    )


def page(window: MainWindow) -> ComparePage:
    return window.lab.compare


def done(window: MainWindow) -> bool:
    """Every pane ended and the page's controls say so (Run is back)."""
    p = page(window)
    c = p.comparison
    return c is not None and c.finished and not p.running and p.run_button.isVisibleTo(p)


async def compare(window: MainWindow, text: str, variants: list[Variant]) -> ComparePage:
    p = page(window)
    p.set_variants(variants)
    window.composer.set_draft(text)
    window.composer.request_compare()
    await wait_for(lambda: done(window), timeout=30, what="every pane to end")
    return p


def test_six_panes_stream_at_once_and_one_failing_shows_its_error(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    emu.default = Behavior(text="A steady answer with several words in it. " * 8, chunk_delay=0.002)
    lab_services.keys.set("eurouter", "wrong-key-0123456789", session_only=True)
    variants = [v(emu, "euri", "gpt-4o-mini", f"euri {i}", temperature=0.1 * i) for i in range(4)]
    variants.insert(2, v(emu, "eurouter", "some/model"))  # a refused key: 401
    variants.append(v(emu, "openai-compatible", "m-local"))

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            streamed: set[int] = set()
            p = page(window)
            p.set_variants(variants)
            window.composer.set_draft("Tell me something.")
            window.composer.request_compare()
            assert window.composer.draft() == ""  # the prompt went to the panes

            def streaming() -> bool:
                for pane in p.panes:
                    answer = pane.answer
                    if answer is not None and answer.status == "streaming" and answer.text():
                        streamed.add(pane.index)
                return done(window)

            await wait_for(streaming, timeout=30, what="every pane to end")
            c = p.comparison
            assert c is not None and window.lab.isVisible()
            assert [x.state for x in c.panes] == ["complete"] * 2 + ["failed"] + ["complete"] * 3
            assert len(streamed) >= 2, "panes streamed live, not only at the end"
            failed = p.panes[2].answer
            assert failed is not None and failed.error_card.isVisibleTo(failed)
            assert failed.status == "failed" and "key" in failed.error_title.text().lower()
            for i in (0, 1, 3, 4, 5):
                answer = p.panes[i].answer
                assert answer is not None and answer.text().startswith("A steady answer")
                assert answer.metrics_label.text()
            marked = [pane for pane in p.panes if pane.marks.text()]
            assert marked and all(pane.index != 2 for pane in marked)
            assert len(emu.chat_requests()) == 6
            assert "5 of 6 panes answered, 1 failed" in p.status.text()
            # The chat shows the prompt (no pane is its answer yet) and where its answers are.
            assert window.store.current_leaf(c.conversation_id) == c.prompt_id
            assert "compared in the Lab (6 answers)" in window.banner.label.text()
            window.lab.compare.comparison = None
            window.banner._buttons[0].click()  # "Open the comparison"
            assert page(window).comparison is not None
            assert page(window).comparison.comparison_id == c.comparison_id
        finally:
            await close(window)

    arun(scenario())


def test_retry_one_pane(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    emu.default = Behavior(text="works now")
    lab_services.keys.set("eurouter", "wrong-key-0123456789", session_only=True)

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            p = await compare(
                window, "Hi", [v(emu, "euri", "gpt-4o-mini"), v(emu, "eurouter", "r/m")]
            )
            c = p.comparison
            assert c is not None and c.panes[1].state == "failed"
            first = c.panes[1].answer_id
            lab_services.keys.set("eurouter", emu.key("eurouter"), session_only=True)
            answer = p.panes[1].answer
            assert answer is not None
            answer.regenerate_button.click()  # "Retry" on the pane
            await wait_for(lambda: c.panes[1].state == "complete" and done(window), timeout=20)
            answer = p.panes[1].answer
            assert answer is not None and answer.text() == "works now"
            assert c.panes[1].answer_id != first
            assert [m.id for m in window.store.children(c.prompt_id)] == [
                c.panes[0].answer_id,
                c.panes[1].answer_id,
            ]
            assert c.panes[0].state == "complete"  # the other pane was left alone
        finally:
            await close(window)

    arun(scenario())


def test_continue_makes_branches_that_reopen_from_the_history(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    texts = ["first pane answer", "second pane answer", "third pane answer"]
    for text, provider in zip(texts, ("euri", "openai", "eurouter"), strict=True):
        emu.push(Behavior(text=text), provider=provider)
    variants = [
        v(emu, "euri", "gpt-4o-mini"),
        v(emu, "openai-compatible", "m"),
        v(emu, "eurouter", "r/m"),
    ]

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            p = await compare(window, "Which?", variants)
            c = p.comparison
            assert c is not None
            assert window.banner.isVisible()  # "This prompt was compared in the Lab…"
            p.panes[1].continue_button.click()
            assert not window.banner.isVisible()
            conv = c.conversation_id
            assert window.conversation_id == conv
            await wait_for(
                lambda: window.chat.assistant_widget(str(c.panes[1].answer_id)) is not None
            )
            shown = window.chat.assistant_widget(str(c.panes[1].answer_id))
            assert shown is not None and shown.text() == "second pane answer"
            assert shown.branch_switcher.label.text() == "2/3"
            assert (window.pickers.provider_id(), window.model()) == ("openai-compatible", "m")
            # The other panes are its siblings: < moves to the first.
            shown.branch_switcher.prev_button.click()
            await wait_for(
                lambda: window.chat.assistant_widget(str(c.panes[0].answer_id)) is not None
            )
            # Reopened from the history: a new chat, then the conversation and the comparison.
            window.new_chat()
            window.open_conversation(conv)
            again = window.chat.assistant_widget(str(c.panes[0].answer_id))
            assert again is not None and again.branch_switcher.label.text() == "1/3"
            window.lab.compare.comparison = None
            assert window.lab.open_comparison(c.comparison_id)
            r = page(window).comparison
            assert r is not None and r is not c and r.chosen == 1
            assert [pane.answer.text() for pane in page(window).panes if pane.answer] == texts
            assert page(window).panes[1].continue_button.text() == "Continued with this one"
        finally:
            await close(window)

    arun(scenario())


def _texts(root: QWidget) -> list[str]:
    """Everything a widget tree says: text, tooltip, accessible name, window title, documents."""
    out: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        out += [w.toolTip(), w.accessibleName(), w.windowTitle(), w.accessibleDescription()]
        if isinstance(w, QLabel | QAbstractButton):
            out.append(w.text())
        text = getattr(w, "toPlainText", None)
        if callable(text):
            out.append(str(text()))
        placeholder = getattr(w, "placeholderText", None)
        if callable(placeholder):
            out.append(str(placeholder()))
        current = getattr(w, "currentText", None)
        if callable(current):
            out.append(str(current()))
        count = getattr(w, "count", None)
        item = getattr(w, "itemText", None)
        if callable(count) and callable(item):
            out += [str(item(i)) for i in range(int(count()))]
    for doc in root.findChildren(QTextDocument):
        out.append(doc.toPlainText())
    return out


def test_blind_mode_hides_every_name_until_the_vote(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    emu.default = Behavior(text="An answer that names nobody.", model="served-by-emulator")
    variants = [
        v(emu, "euri", "gpt-4o-mini", "Cold zebra"),
        v(emu, "openai-compatible", "quokka-7b", "Warm quokka"),
        v(emu, "eurouter", "narwhal/pro", "Narwhal pro"),
    ]
    catalog = lab_services.catalog
    names = {"Cold zebra", "Warm quokka", "Narwhal pro", "gpt-4o-mini", "quokka-7b", "narwhal/pro"}
    names |= {"served-by-emulator", "euri", "openai-compatible", "eurouter"}
    names |= {catalog.get(x.provider).name for x in variants}

    def leaks(root: QWidget) -> set[str]:
        said = "\n".join(_texts(root)).lower()
        return {n for n in names if n.lower() in said}

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            p = page(window)
            p.blind_check.setChecked(True)
            p.set_variants(variants)
            window.composer.set_draft("Who is better?")
            window.composer.request_compare()
            await wait_for(lambda: any(pane.answer and pane.answer.text() for pane in p.panes))
            assert leaks(window.lab) == set(), "a name shows while streaming"
            await wait_for(lambda: done(window), timeout=20)
            c = p.comparison
            assert c is not None and c.blind and not c.revealed
            assert leaks(window.lab) == set(), "a name shows before the vote"
            assert p.vote_bar.isVisible()
            # The layout cannot change under a vote (moving a pane would tell which is which).
            assert not any(x.remove_button.isEnabled() for x in p.panes)
            assert p.open_settings(0) is None
            shown = [p.panes[i].title.text() for i in c.order]
            assert shown == ["Answer A", "Answer B", "Answer C"]
            dialog = p.diff(0, 1)
            assert dialog is not None and leaks(window.lab) == set(), "the diff names a model"
            dialog.close()
            assert not p.save_experiment(Path(window.store.path).parent / "x.toml")
            p.panes[2].better_button.click()  # "Narwhal pro" is better
            assert c.revealed and not p.vote_bar.isVisible()
            revealed = leaks(window.lab)
            assert {"Cold zebra", "Warm quokka", "Narwhal pro"} <= revealed
            assert "Narwhal pro was better" in p.status.text()
            vote = compare_store.vote_for(window.store, c.comparison_id)
            assert vote is not None and vote.winner == "eurouter/narwhal/pro"
        finally:
            await close(window)

    arun(scenario())


def _big_text(seed: int, words: int = 3600) -> str:
    import random

    rng = random.Random(seed)
    vocab = [f"word{i}" for i in range(500)]
    lines = [" ".join(rng.choice(vocab) for _ in range(12)) for _ in range(words // 12)]
    return "\n".join(lines)


def test_word_diff_of_two_20_kb_answers_renders_in_full(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    left = _big_text(1)
    right_lines = left.split("\n")
    for i in range(0, len(right_lines), 9):
        right_lines[i] = right_lines[i].replace("word1", "CHANGED", 1) + " extra tail"
    right = "\n".join(right_lines)
    assert len(left) > 20_000 and len(right) > 20_000
    emu.push(Behavior(text=left, chunk_chars=400), provider="euri")
    emu.push(Behavior(text=right, chunk_chars=400), provider="openai")
    variants = [
        v(emu, "euri", "gpt-4o-mini", temperature=0.2),
        v(emu, "openai-compatible", "m", temperature=0.9, seed=3),
    ]

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            p = await compare(window, "Write a lot.", variants)
            p.diff_left.setCurrentIndex(0)
            p.diff_right.setCurrentIndex(1)
            dialog = p.open_diff()
            assert dialog is not None
            assert dialog.left.toPlainText() == left  # uncapped: every character
            assert dialog.right.toPlainText() == right
            changed = [o for o in dialog.ops if o.kind != "equal"]
            assert sum(o.right.count("extra tail") for o in changed) == right.count("extra tail")
            params = dialog.params.toPlainText()
            assert "temperature: 0.2 → 0.9" in params and "seed: (not set) → 3" in params
            assert 'provider: "euri" → "openai-compatible"' in params
            dialog.close()
        finally:
            await close(window)

    arun(scenario())


def test_an_experiment_file_opens_in_the_lab_ready_to_run(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator, tmp_path: Path
) -> None:
    good = tmp_path / "pair.toml"
    good.write_text(
        'name = "pair"\nprompt = "Say hi."\n'
        + "".join(
            f'[[variants]]\nlabel = "{label}"\nprovider = "euri"\nmodel = "gpt-4o-mini"\n'
            f"params = {{ temperature = {t} }}\n"
            for label, t in (("cold", 0.1), ("hot", 1.2))
        ),
        encoding="utf-8",
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('prompt = "x"\n[[variants]]\nprovider = "nope"\n', encoding="utf-8")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(good.read_text() + "[grid]\nseed = [1, 2]\n", encoding="utf-8")

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            assert not window.open_experiment_file(str(bad))
            message = window.lab.message.text()
            assert "bad.toml" in message and "nope" in message and "Traceback" not in message
            # A file Compare cannot run (a grid) opens in the Lab's Sweep page instead.
            assert window.open_experiment_file(str(sweep))
            assert window.lab.tabs.currentWidget() is window.lab.sweep
            assert window.lab.sweep.page.editor.grid.rowCount() == 1
            assert window.open_experiment_file(str(good))
            p = page(window)
            assert not window.lab.message.isVisible()
            assert [pane.title.text() for pane in p.panes] == ["cold", "hot"]
            assert p.prompt_edit.toPlainText() == "Say hi."
            assert "temperature 1.2 ●" in p.panes[1].summary.text()
            assert p.run_prompt()
            await wait_for(lambda: done(window), timeout=20)
            bodies = [r.json["temperature"] for r in emu.chat_requests()]
            assert sorted(bodies) == [0.1, 1.2]
            # Saved back as an experiment file: it loads to the same panes.
            out = tmp_path / "saved.toml"
            assert p.save_experiment(out)
            assert window.open_experiment_file(str(out))
            assert [pane.title.text() for pane in page(window).panes] == ["cold", "hot"]
        finally:
            await close(window)

    arun(scenario())


def test_panes_are_added_removed_reordered_and_synced(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            p = page(window)
            p.ensure_panes()
            assert len(p.panes) == 2
            # Both start from the chat's settings; their titles still tell them apart.
            assert [x.title.text() for x in p.panes] == ["euri/gpt-4o-mini", "euri/gpt-4o-mini #2"]
            for _ in range(5):
                p.add_button.click()
            assert len(p.panes) == 6 and not p.add_button.isEnabled()
            p.set_variants(
                [
                    v(emu, "euri", "gpt-4o-mini", "a"),
                    v(emu, "euri", "gpt-4o-mini", "b"),
                    v(emu, "euri", "gpt-4o-mini", "c"),
                ]
            )
            p.panes[0].move_right.click()
            assert [x.label for x in p.variants] == ["b", "a", "c"]
            p.panes[2].remove_button.click()
            assert [x.label for x in p.variants] == ["b", "a"]
            p.panes[0].remove_button.click()  # two is the least
            assert len(p.variants) == 2
            p.sync_check.setChecked(True)
            p.set_pane_variant(0, v(emu, "euri", "gpt-4o-mini", "b", temperature=0.7))
            assert all(x.params.get("temperature") == 0.7 for x in p.variants)
            dialog = p.open_settings(1)
            assert dialog is not None
            field = dialog.panel.field("temperature")
            assert field.label.text().endswith("●")  # set differently from the chat
            dialog.close()
            # A pane can start from a preset instead.
            lab_services.settings.presets["precise"] = Preset(params={"temperature": 0.05})
            dialog = p.open_settings(1)
            assert dialog is not None
            dialog.preset_combo.setCurrentIndex(dialog.preset_combo.findData("precise"))
            dialog.preset_combo.activated.emit(dialog.preset_combo.currentIndex())
            dialog.buttons.accepted.emit()
            assert p.variants[1].params == {"temperature": 0.05}
            assert p.variants[1].label == "precise"
        finally:
            await close(window)

    arun(scenario())


def test_stop_one_pane_while_the_others_finish(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    emu.push(Behavior(text="slow words " * 300, chunk_delay=0.01), provider="openai")
    emu.default = Behavior(text="a quick answer")
    variants = [v(emu, "openai-compatible", "slow"), v(emu, "euri", "gpt-4o-mini")]

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            p = page(window)
            p.set_variants(variants)
            window.composer.set_draft("Go.")
            window.composer.request_compare()
            await wait_for(lambda: p.panes[0].answer is not None and p.panes[0].answer.text())
            slow = p.panes[0].answer
            assert slow is not None and slow.stop_button.isVisibleTo(slow)
            slow.stop_button.click()
            await wait_for(lambda: done(window), timeout=20)
            c = p.comparison
            assert c is not None and [x.state for x in c.panes] == ["stopped", "complete"]
            stored = window.store.get_message(c.panes[0].answer_id)
            assert (
                stored.status == "stopped"
                and stored.text
                and "slow words".startswith(stored.text[:10])
            )
            shown = p.panes[0].answer
            assert shown is not None and shown.badge.text() == "stopped"
            assert shown.text() == stored.text  # the partial answer is kept, shown and stored
            assert "1 stopped" in p.status.text()
        finally:
            await close(window)

    arun(scenario())


def test_closing_the_window_mid_compare_keeps_every_pane(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    emu.default = Behavior(text="long answer " * 400, chunk_delay=0.005)
    variants = [v(emu, "openai-compatible", "m"), v(emu, "euri", "gpt-4o-mini")]

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        p = page(window)
        p.set_variants(variants)
        window.composer.set_draft("Go on.")
        window.composer.request_compare()
        await wait_for(lambda: all(x.answer and x.answer.text() for x in p.panes))
        c = p.comparison
        assert c is not None
        await close(window)  # the orderly shutdown: streams first, then the history
        assert [x.state for x in c.panes] == ["stopped", "stopped"]

    arun(scenario())
    with Store.open() as store:
        conv = store.list_conversations()[0]
        answers = [m for m in store.messages(conv.id) if m.role == "assistant"]
        assert [m.status for m in answers] == ["stopped", "stopped"]
        assert all(m.text and ("long answer " * 400).startswith(m.text) for m in answers), [
            m.text[:30] for m in answers
        ]


def test_a_failed_pane_says_what_went_wrong_only_after_a_blind_vote(
    qapp: QApplication, arun: Any, lab_services: Services, emu: Emulator
) -> None:
    from parley.ui.lab.pane import BLIND_FAILURE

    emu.default = Behavior(text="fine")
    lab_services.keys.set("eurouter", "wrong-key-0123456789", session_only=True)
    variants = [
        v(emu, "euri", "gpt-4o-mini", "Zebra"),
        v(emu, "openai-compatible", "m", "Quokka"),
        v(emu, "eurouter", "narwhal/pro", "Narwhal"),
    ]
    names = {"Zebra", "Quokka", "Narwhal", "narwhal/pro", "eurouter", "EUrouter"}

    async def scenario() -> None:
        window = await opened(qapp, lab_services)
        try:
            p = page(window)
            p.blind_check.setChecked(True)
            await compare(window, "Hi", variants)
            failed = p.panes[2].answer
            assert failed is not None and failed.status == "failed"
            assert failed.error_message.text() == BLIND_FAILURE
            said = "\n".join(_texts(window.lab))
            assert not {n for n in names if n in said}
            assert not p.panes[2].better_button.isVisible()  # a failed pane cannot win
            p.tie_button.click()
            assert failed.error_message.text() != BLIND_FAILURE
            assert "eurouter" in failed.error_title.text().lower()
            vote = compare_store.vote_for(window.store, p.comparison.comparison_id)
            assert vote is not None and set(vote.models) == {
                "euri/gpt-4o-mini",
                "openai-compatible/m",
            }
        finally:
            await close(window)

    arun(scenario())

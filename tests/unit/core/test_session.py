"""ChatSession with the real Engine against the loopback emulator and a real store in tmp."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.core.chat.session import CONTINUE_PROMPT, ChatSession, RunConfig, Turn
from parley.core.protocol.errors import MISSING_KEY_CODE, ErrorKind, ParleyError
from parley.core.protocol.events import Event, TextDelta
from parley.core.protocol.request import ImagePart, TextPart
from parley.core.providers.catalog import Catalog, load_catalog
from parley.core.store import Store
from parley.net.engine import Engine, RetryPolicy
from tests.helpers.emulator import Behavior, Emulator

PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)


class Recorder:
    def __init__(self) -> None:
        self.started: list[Turn] = []
        self.events: list[Event] = []
        self.retries: list[tuple[int, float, ErrorKind]] = []
        self.done: list[Turn] = []

    def on_turn_started(self, turn: Turn) -> None:
        self.started.append(turn)

    def on_event(self, turn: Turn, event: Event) -> None:
        self.events.append(event)

    def on_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        self.retries.append((attempt, delay, error.kind))

    def on_turn_done(self, turn: Turn) -> None:
        self.done.append(turn)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def catalog() -> Catalog:
    cat = load_catalog()
    assert "euri" in cat.providers and "adaptive-engine" in cat.providers
    return cat


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "history.sqlite3", flush_interval=0.05)
    yield s
    s.close()


def make_session(
    store: Store, emu: Emulator, catalog: Catalog, engine: Engine, rec: Recorder
) -> ChatSession:
    return ChatSession(store, engine, lambda pid: emu.key(pid), catalog, rec, save_interval=0.0)


def config(emu: Emulator, provider: str = "euri", **params: Any) -> RunConfig:
    return RunConfig(
        provider=provider, model="gpt-4.1-nano", params=params, base_url=emu.base_url(provider)
    )


async def with_engine(coro_fn: Any) -> Any:
    engine = Engine(retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=2.0))
    try:
        return await coro_fn(engine)
    finally:
        await engine.aclose()


def test_send_streams_saves_and_sends_system_prompt_then_the_path(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    emu.push(Behavior(text="Hello there, friend."), provider="euri")
    emu.push(Behavior(text="Second answer."), provider="euri")
    rec = Recorder()

    async def scenario(engine: Engine) -> None:
        session = make_session(store, emu, catalog, engine, rec)
        conv = session.new_conversation(config(emu), system_prompt="Be brief.")
        first = await session.send(conv, "Hi!", config(emu, temperature=0.3))
        assert first.result.status == "complete"
        await session.send(conv, "And again?", config(emu))

    asyncio.run(with_engine(scenario))

    path = store.current_path(store.latest_conversation_id() or 0)
    assert [(m.role, m.text, m.status) for m in path] == [
        ("user", "Hi!", "complete"),
        ("assistant", "Hello there, friend.", "complete"),
        ("user", "And again?", "complete"),
        ("assistant", "Second answer.", "complete"),
    ]
    answer = path[1]
    sent = emu.chat_requests("euri")
    # The stored body is exactly what went over the wire, and it carries no key.
    assert answer.request_body == sent[0].json
    assert sent[0].json["temperature"] == 0.3
    assert emu.key("euri") not in str(answer.request_body)
    assert sent[0].json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [m["content"] for m in sent[1].json["messages"]] == [
        "Be brief.",
        "Hi!",
        "Hello there, friend.",
        "And again?",
    ]
    assert answer.metrics is not None and answer.metrics["ttft_ms"] is not None
    assert answer.finish_reason == "stop"
    assert "".join(e.text for e in rec.events if isinstance(e, TextDelta)).startswith("Hello")
    assert len(rec.started) == len(rec.done) == 2


def test_regenerate_and_edit_make_branches_and_send_the_branch_path(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    for text in ("Answer one.", "Answer two.", "Answer to the edit."):
        emu.push(Behavior(text=text), provider="euri")
    rec = Recorder()

    async def scenario(engine: Engine) -> tuple[int, Turn, Turn, Turn]:
        session = make_session(store, emu, catalog, engine, rec)
        conv = session.new_conversation(config(emu))
        t1 = await session.send(conv, "Question?", config(emu))
        t2 = await session.regenerate(conv, t1.answer_id, config(emu))
        t3 = await session.edit_and_resend(conv, t1.parent_id, "Better question?", config(emu))
        return conv, t1, t2, t3

    conv, t1, t2, t3 = asyncio.run(with_engine(scenario))

    assert store.siblings(t2.answer_id) == (1, 2)
    assert store.get_message(t2.answer_id).parent_id == t1.parent_id
    assert store.siblings(t3.parent_id) == (1, 2)
    assert [m.text for m in store.current_path(conv)] == ["Better question?", "Answer to the edit."]
    sent = emu.chat_requests("euri")
    # Regenerating sends the question only, not the answer it replaces.
    assert [m["content"] for m in sent[1].json["messages"]] == ["Question?"]
    assert [m["content"] for m in sent[2].json["messages"]] == ["Better question?"]
    # Switching back to the first branch shows (and would send) the first path again.
    store.select_sibling(t3.parent_id, -1)
    assert [m.text for m in store.current_path(conv)] == ["Question?", "Answer two."]


def test_stop_mid_stream_keeps_the_partial_answer_marked_stopped(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    emu.push(Behavior(text="word " * 400, chunk_chars=5, chunk_delay=0.01), provider="euri")
    rec = Recorder()

    async def scenario(engine: Engine) -> Turn:
        session = make_session(store, emu, catalog, engine, rec)
        conv = session.new_conversation(config(emu))
        task = asyncio.create_task(session.send(conv, "Talk a lot", config(emu)))
        while len(rec.events) < 20:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return rec.done[0]

    turn = asyncio.run(with_engine(scenario))
    stored = store.get_message(turn.answer_id)
    assert stored.status == "stopped"
    assert stored.text.startswith("word word")
    assert 0 < len(stored.text) < len("word " * 400)
    assert stored.text == turn.result.text


def test_partial_text_reaches_the_database_while_streaming(
    store: Store, emu: Emulator, catalog: Catalog, tmp_path: Path
) -> None:
    emu.push(
        Behavior(text="alpha beta gamma delta", chunk_chars=6, pause_after=2, pause=1.0),
        provider="euri",
    )
    rec = Recorder()
    seen_during_pause: list[str] = []
    received: list[str] = []

    async def scenario(engine: Engine) -> None:
        session = make_session(store, emu, catalog, engine, rec)
        conv = session.new_conversation(config(emu))
        task = asyncio.create_task(session.send(conv, "Go", config(emu)))
        while not rec.started or not rec.started[0].result.text:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)  # the store commits partials within its flush interval
        received.append(rec.started[0].result.text)
        other = Store.open(tmp_path / "history.sqlite3", read_only=True)
        try:
            answer = other.current_path(conv)[-1]
            seen_during_pause.append(f"{answer.status}:{answer.text}")
        finally:
            other.close()
        await task

    asyncio.run(with_engine(scenario))
    assert received[0] and len(received[0]) < len("alpha beta gamma delta")
    assert seen_during_pause == [f"streaming:{received[0]}"]


def test_a_key_the_provider_echoes_mid_stream_is_not_in_the_saved_partial(
    store: Store, emu: Emulator, catalog: Catalog, tmp_path: Path
) -> None:
    key = emu.key("euri")
    emu.push(
        Behavior(
            text=f"your key is {key} and more",
            chunk_chars=len(key) + 12,
            pause_after=2,  # after the role event and the piece that holds the key
            pause=1.0,
        ),
        provider="euri",
    )
    rec = Recorder()
    saved: list[str] = []

    async def scenario(engine: Engine) -> None:
        session = make_session(store, emu, catalog, engine, rec)
        conv = session.new_conversation(config(emu))
        task = asyncio.create_task(session.send(conv, "Go", config(emu)))
        async with asyncio.timeout(5):
            while not rec.started or key not in rec.started[0].result.text:
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)  # the store commits partials within its flush interval
        other = Store.open(tmp_path / "history.sqlite3", read_only=True)
        try:
            saved.append(other.current_path(conv)[-1].text)
        finally:
            other.close()
        await task

    asyncio.run(with_engine(scenario))
    assert saved[0].startswith("your key is ") and "[" in saved[0]
    assert key not in saved[0] and key[:12] not in saved[0]


def test_continue_after_length_asks_for_more_on_the_same_branch(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    emu.push(Behavior(text="The first half", finish_reason="length"), provider="euri")
    emu.push(Behavior(text=" and the rest."), provider="euri")

    async def scenario(engine: Engine) -> tuple[Turn, Turn]:
        session = make_session(store, emu, catalog, engine, Recorder())
        conv = session.new_conversation(config(emu))
        first = await session.send(conv, "Write", config(emu))
        assert first.result.finish_reason == "length"
        second = await session.continue_answer(conv, first.answer_id, config(emu))
        return first, second

    first, second = asyncio.run(with_engine(scenario))
    assert store.get_message(first.answer_id).finish_reason == "length"
    sent = emu.chat_requests("euri")[1].json["messages"]
    assert [m["content"] for m in sent] == ["Write", "The first half", CONTINUE_PROMPT]
    assert store.get_message(second.answer_id).text == " and the rest."


@pytest.mark.parametrize(
    ("provider", "extra"),
    [
        ("llamacpp", {}),
        ("vllm", {"continue_final_message": True, "add_generation_prompt": False}),
    ],
)
def test_continue_extends_the_answer_where_the_server_continues_an_assistant_message(
    store: Store, emu: Emulator, catalog: Catalog, provider: str, extra: dict[str, Any]
) -> None:
    emu.push(Behavior(text="The first half", finish_reason="length"), provider="openai")
    emu.push(Behavior(text=" and the rest."), provider="openai")
    cfg = RunConfig(provider=provider, model="m", base_url=emu.base_url("openai"))

    async def scenario(engine: Engine) -> tuple[Turn, Turn, bool]:
        session = ChatSession(store, engine, lambda pid: emu.key("openai"), catalog)
        conv = session.new_conversation(cfg)
        first = await session.send(conv, "Write", cfg)
        second = await session.continue_answer(conv, first.answer_id, cfg)
        return first, second, session.continues_in_place(provider)

    first, second, in_place = asyncio.run(with_engine(scenario))
    assert in_place
    body = emu.chat_requests("openai")[1].json
    assert body["messages"][-1] == {"role": "assistant", "content": "The first half"}
    assert {k: body[k] for k in extra} == extra
    continued = store.get_message(second.answer_id)
    assert continued.text == "The first half and the rest."
    assert continued.parent_id == store.get_message(first.answer_id).parent_id  # a sibling
    assert store.siblings(second.answer_id).total == 2


def test_401_is_stored_as_a_failed_answer_with_the_error(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    rec = Recorder()

    async def scenario(engine: Engine) -> Turn:
        session = ChatSession(store, engine, lambda pid: "wrong-key-123456789", catalog, rec)
        conv = session.new_conversation(config(emu))
        return await session.send(conv, "Hello", config(emu))

    turn = asyncio.run(with_engine(scenario))
    assert turn.result.status == "failed"
    assert turn.result.error is not None and turn.result.error.kind is ErrorKind.AUTH
    stored = store.get_message(turn.answer_id)
    assert stored.status == "failed" and stored.error is not None
    assert stored.error["kind"] == "auth"
    assert "wrong-key-123456789" not in str(stored.error)
    assert store.get_message(turn.parent_id).text == "Hello"  # the prompt is kept


def test_429_retry_after_is_reported_then_the_retry_succeeds(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    emu.push(Behavior(status=429, headers={"Retry-After": "1"}), provider="euri")
    emu.push(Behavior(text="Made it."), provider="euri")
    rec = Recorder()

    async def scenario(engine: Engine) -> Turn:
        session = make_session(store, emu, catalog, engine, rec)
        conv = session.new_conversation(config(emu))
        return await session.send(conv, "Hello", config(emu))

    turn = asyncio.run(with_engine(scenario))
    assert rec.retries and rec.retries[0][0] == 1 and rec.retries[0][2] is ErrorKind.RATE_LIMIT
    assert rec.retries[0][1] == pytest.approx(1.0, abs=0.01)
    assert turn.result.status == "complete" and turn.result.text == "Made it."
    stored = store.get_message(turn.answer_id)
    assert stored.extra == {"retries": 1}
    # Both attempts are in the history: the refused one with its 429 and the body it sent.
    first, second = store.exchanges(turn.answer_id)
    assert (first.attempt, first.status, second.attempt, second.status) == (1, 429, 2, 200)
    assert first.error is not None and first.error["kind"] == "rate_limit"
    assert first.response_headers.get("retry-after") == "1"
    assert first.events and "rate" in first.events[0].text.lower()
    assert second.request_headers["Authorization"] == "Bearer [key redacted]"
    assert second.first_content_ms == pytest.approx(turn.result.metrics.ttft_ms, abs=0.051)
    received = emu.chat_requests("euri")
    assert received[0].body == received[1].body == stored.request_body_text.encode()
    assert emu.key("euri") not in str([a.to_dict() for a in (first, second)])


def test_adaptive_engine_session_id_is_kept_and_sent_back(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    cfg = RunConfig(
        provider="adaptive-engine", model="proj", base_url=emu.base_url("adaptive-engine")
    )

    async def scenario(engine: Engine) -> int:
        session = make_session(store, emu, catalog, engine, Recorder())
        conv = session.new_conversation(cfg)
        await session.send(conv, "one", cfg)
        await session.send(conv, "two", cfg)
        return conv

    conv = asyncio.run(with_engine(scenario))
    sent = emu.chat_requests("adaptive-engine")
    assert "session_id" not in sent[0].json
    session_id = store.get_conversation(conv).session_id
    assert session_id
    assert sent[1].json["session_id"] == session_id


def test_image_attachment_goes_out_as_a_data_uri(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    cfg = RunConfig(
        provider="adaptive-engine", model="proj", base_url=emu.base_url("adaptive-engine")
    )

    async def scenario(engine: Engine) -> Turn:
        session = make_session(store, emu, catalog, engine, Recorder())
        conv = session.new_conversation(cfg)
        parts = [TextPart(text="What is this?"), ImagePart(mime="image/png", data=PNG_1PX)]
        return await session.send(conv, parts, cfg)

    turn = asyncio.run(with_engine(scenario))
    body = emu.chat_requests("adaptive-engine")[0].json
    assert f"data:image/png;base64,{PNG_1PX}" in str(body["messages"][-1]["content"])
    user = store.get_message(turn.parent_id)
    assert isinstance(user.content, list) and user.content[1] == ImagePart(data=PNG_1PX)


def test_bad_input_stores_nothing_and_says_what_to_do(
    store: Store, emu: Emulator, catalog: Catalog
) -> None:
    async def scenario(engine: Engine) -> tuple[int, list[ParleyError]]:
        errors: list[ParleyError] = []
        no_key = ChatSession(store, engine, lambda pid: None, catalog)
        conv = no_key.new_conversation(config(emu))
        for session, cfg, text in (
            (no_key, config(emu), "hello"),
            (
                make_session(store, emu, catalog, engine, Recorder()),
                config(emu, temperature=9),
                "x",
            ),
            (make_session(store, emu, catalog, engine, Recorder()), config(emu), "   "),
        ):
            with pytest.raises(ParleyError) as info:
                await session.send(conv, text, cfg)
            errors.append(info.value)
        return conv, errors

    conv, errors = asyncio.run(with_engine(scenario))
    assert errors[0].kind is ErrorKind.CONFIG and errors[0].code == MISSING_KEY_CODE
    assert "PARLEY_API_KEY_EURI" in errors[0].message
    assert errors[1].kind is ErrorKind.CONFIG and "temperature" in errors[1].message
    assert errors[2].kind is ErrorKind.CONFIG
    assert store.messages(conv) == []
    assert emu.chat_requests() == []


class ExplodingEngine:
    """An engine whose stream breaks with a bug after one token (not a ParleyError)."""

    def send(self, prepared: Any, exchange: Any = None) -> AsyncGenerator[Event, None]:
        async def gen() -> AsyncGenerator[Event, None]:
            yield TextDelta("partial ")
            raise RuntimeError("decoder bug")

        return gen()


def test_an_unexpected_exception_still_stores_what_arrived(store: Store, catalog: Catalog) -> None:
    async def scenario() -> Turn:
        session = ChatSession(store, ExplodingEngine(), lambda pid: "k" * 20, catalog)
        cfg = RunConfig(provider="euri", model="m")
        conv = session.new_conversation(cfg)
        return await session.send(conv, "hi", cfg)

    turn = asyncio.run(scenario())
    stored = store.get_message(turn.answer_id)
    assert stored.status == "failed" and stored.text == "partial "
    assert stored.error is not None and "decoder bug" in stored.error["message"]


def test_tokens_just_before_a_stall_are_saved_during_the_stall(
    store: Store, emu: Emulator, catalog: Catalog, tmp_path: Path
) -> None:
    # The first tokens arrive well inside one save interval, then the stream goes quiet: they
    # must still reach the database during the stall (a kill then loses at most ~1 s).
    emu.push(
        Behavior(text="alpha beta gamma delta", chunk_chars=6, pause_after=2, pause=2.0),
        provider="euri",
    )
    rec = Recorder()
    seen: list[str] = []

    async def scenario(engine: Engine) -> None:
        session = ChatSession(
            store, engine, lambda pid: emu.key(pid), catalog, rec, save_interval=0.5
        )
        conv = session.new_conversation(config(emu))
        task = asyncio.create_task(session.send(conv, "Go", config(emu)))
        while not rec.started or not rec.started[0].result.text:
            await asyncio.sleep(0.005)
        await asyncio.sleep(1.0)  # one save interval + the store's flush, well inside the stall
        other = Store.open(tmp_path / "history.sqlite3", read_only=True)
        try:
            seen.append(other.current_path(conv)[-1].text)
        finally:
            other.close()
        seen.append(rec.started[0].result.text)
        await task

    asyncio.run(with_engine(scenario))
    in_db, received = seen
    assert received and len(received) < len("alpha beta gamma delta")
    assert in_db == received

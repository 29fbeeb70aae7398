"""The request preview is the request the next send makes, byte for byte, whatever came before:
random sequences of sends, regenerations, edits, branch switches, provider, model and parameter
changes, each send checked against the body the emulator received."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.core.chat.session import ChatSession, RunConfig
from parley.core.providers.catalog import load_catalog
from parley.core.store import Store
from parley.net.engine import Engine, RetryPolicy
from tests.helpers.emulator import Behavior, Emulator

CATALOG = load_catalog()

Action = tuple[str, int]

actions = st.lists(
    st.tuples(
        st.sampled_from(
            ["send", "send", "regenerate", "edit", "switch", "model", "param", "provider"]
        ),
        st.integers(min_value=0, max_value=50),
    ),
    min_size=1,
    max_size=7,
)


def _config(emu: Emulator, provider: str, model: str, temperature: float | None) -> RunConfig:
    params = {} if temperature is None else {"temperature": temperature}
    return RunConfig(provider=provider, model=model, params=params, base_url=emu.base_url(provider))


async def _play(emu: Emulator, store: Store, steps: list[Action]) -> int:
    """Run `steps`; before every send, the preview; after it, the body received. Returns the
    number of sends checked."""
    engine = Engine(retry=RetryPolicy(max_attempts=1))
    session = ChatSession(store, engine, emu.key, CATALOG, save_interval=0.0)
    provider, model, temperature = "euri", "gpt-4.1-nano", None
    config = _config(emu, provider, model, temperature)
    conv = session.new_conversation(config, system_prompt="Be brief.")
    checked = 0

    async def send(text: str) -> None:
        nonlocal checked
        preview = session.preview(conv, text, config)
        emu.push(Behavior(text=f"answer to {text}"), provider=config.provider)
        before = len(emu.chat_requests())
        await session.send(conv, text, config)
        received = emu.chat_requests()
        assert len(received) == before + 1
        assert received[-1].body == preview.body
        assert received[-1].path == "/" + preview.url.split("/", 3)[3]
        checked += 1

    try:
        await send("first")
        for i, (action, n) in enumerate(steps):
            path = store.current_path(conv)
            answers = [m for m in path if m.role == "assistant"]
            questions = [m for m in path if m.role == "user"]
            if action == "send":
                await send(f"message {i}")
            elif action == "regenerate" and answers:
                emu.push(Behavior(text=f"again {i}"), provider=config.provider)
                await session.regenerate(conv, answers[n % len(answers)].id, config)
            elif action == "edit" and questions:
                emu.push(Behavior(text=f"edited {i}"), provider=config.provider)
                await session.edit_and_resend(
                    conv, questions[n % len(questions)].id, f"edit {i}", config
                )
            elif action == "switch" and answers:
                store.select_sibling(answers[n % len(answers)].id, 1 if n % 2 else -1)
            elif action == "model":
                model = ["gpt-4.1-nano", "gpt-4.1-mini", "llama-4"][n % 3]
            elif action == "param":
                temperature = None if n % 4 == 0 else round(n / 50, 2)
            elif action == "provider":
                provider = ["euri", "eurouter", "openai-compatible"][n % 3]
            config = replace(_config(emu, provider, model, temperature))
        await send("last")
    finally:
        await engine.aclose()
    return checked


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=actions)
def test_the_preview_is_what_the_next_send_sends(tmp_path: Path, steps: list[Action]) -> None:
    with Emulator() as emu:
        store = Store.open(tmp_path / f"h{abs(hash(tuple(steps)))}.sqlite3", flush_interval=0.05)
        try:
            checked = asyncio.run(_play(emu, store, steps))
        finally:
            store.close()
    assert checked >= 2

"""Engine.list_models through the emulator: each listing shape, auth, cache, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.providers.catalog import ProviderSpec, load_catalog
from parley.core.providers.modellist import ModelInfo
from parley.net.engine import Engine
from tests.helpers.emulator import Emulator

CATALOG = load_catalog()


def spec(provider_id: str) -> ProviderSpec:
    found = CATALOG.get(provider_id)
    assert found is not None
    return found


def list_models(
    emu: Emulator, provider_id: str, route: str, key: str | None, **kw: object
) -> list[ModelInfo]:
    async def scenario() -> list[ModelInfo]:
        engine = Engine()
        try:
            return await engine.list_models(spec(provider_id), key, emu.base_url(route), **kw)  # type: ignore[arg-type]
        finally:
            await engine.aclose()

    return asyncio.run(scenario())


def model_requests(emu: Emulator, route: str) -> int:
    return sum(1 for r in emu.requests if r.path.startswith(f"/{route}/v1/models"))


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def test_eurouter_prices_per_token_become_per_million_without_a_key(emu: Emulator) -> None:
    models = list_models(emu, "eurouter", "eurouter", None)
    small = next(m for m in models if m.id == "mistral/mistral-small-3.2")
    assert small.name == "Mistral Small 3.2"
    assert small.context_length == 128000
    assert small.prompt_price == pytest.approx(0.1) and small.completion_price == pytest.approx(0.3)
    assert small.currency == "EUR"
    assert small.supported_parameters is not None and "tools" in small.supported_parameters


def test_nordlys_bare_array_both_schema_versions(emu: Emulator) -> None:
    models = list_models(emu, "nordlys", "nordlys", emu.key("nordlys"))
    by_id = {m.id: m for m in models}
    opus = by_id["anthropic/claude-opus-4-5"]
    assert opus.name == "Claude Opus 4.5"
    assert opus.prompt_price == pytest.approx(5.0) and opus.completion_price == pytest.approx(25.0)
    assert opus.supported_parameters == ["temperature", "max_tokens", "tools"]
    mini = by_id["openai/gpt-5-mini"]
    assert mini.prompt_price == pytest.approx(0.25)
    assert mini.supported_parameters == ["max_completion_tokens", "reasoning_effort", "tools"]


def test_euri_premium_flag(emu: Emulator) -> None:
    models = list_models(emu, "euri", "euri", emu.key("euri"))
    premium = {m.id: m.premium for m in models}
    assert premium["gpt-4o-mini"] is False and premium["gpt-5"] is True


@pytest.mark.parametrize("provider_id", ["eigenai", "adaptive-engine"])
def test_no_listing_gives_the_provider_files_list_without_a_request(
    emu: Emulator, provider_id: str
) -> None:
    before = len(emu.requests)
    models = list_models(emu, provider_id, provider_id, "k")
    assert [m.id for m in models] == list(dict.fromkeys(spec(provider_id).models.fallback))
    assert len(emu.requests) == before


def test_cache_per_provider_and_base_url(emu: Emulator) -> None:
    async def scenario() -> tuple[int, int, int]:
        engine = Engine(models_ttl=600)
        try:
            s = spec("euri")
            key = emu.key("euri")
            first = model_requests(emu, "euri")
            a = await engine.list_models(s, key, emu.base_url("euri"))
            b = await engine.list_models(s, key, emu.base_url("euri"))
            after_two = model_requests(emu, "euri")
            await engine.list_models(s, key, emu.base_url("euri"), refresh=True)
            after_refresh = model_requests(emu, "euri")
            assert a == b
            return first, after_two, after_refresh
        finally:
            await engine.aclose()

    first, after_two, after_refresh = asyncio.run(scenario())
    assert after_two == first + 1  # the second call came from the cache
    assert after_refresh == first + 2


def test_wrong_key_and_odd_payloads(emu: Emulator) -> None:
    with pytest.raises(ParleyError) as info:
        list_models(emu, "euri", "euri", "sk-wrong-key-000000000000")
    assert info.value.kind is ErrorKind.AUTH
    assert "sk-wrong-key" not in str(info.value)

    emu.set_models("eurouter", {"data": "nonsense"})
    fallback = spec("eurouter").models.fallback
    assert [m.id for m in list_models(emu, "eurouter", "eurouter", None)] == fallback
    emu.set_models("eurouter", {"error": {"message": "down"}}, status=503)
    with pytest.raises(ParleyError) as info:
        list_models(emu, "eurouter", "eurouter", None)
    assert info.value.kind is ErrorKind.SERVER and info.value.provider_message == "down"
    emu.clear()


def test_a_listing_marked_keyless_still_sends_the_key_where_there_is_one(emu: Emulator) -> None:
    # openai-compatible lists without a key for local servers, but a hosted endpoint wants it.
    assert not spec("openai-compatible").models.needs_auth
    models = list_models(emu, "openai-compatible", "openai", emu.key("openai"))
    assert models, "the key was not sent, so the endpoint refused the listing"
    sent = [r for r in emu.requests if r.path.startswith("/openai/v1/models")][-1]
    assert sent.headers.get("authorization") == f"Bearer {emu.key('openai')}"

"""parse_models never crashes and reads every listing shape the providers use."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.providers.catalog import ModelListing, ModelsSpec
from parley.core.providers.modellist import ModelInfo, fallback_models, parse_models


def test_openai_data_shape_with_eurouter_pricing() -> None:
    payload = {
        "data": [
            {
                "id": "mistral/small",
                "name": "Mistral Small",
                "context_length": 128000,
                "pricing": {"prompt": "0.0000001", "completion": "0.0000003", "currency": "EUR"},
                "supported_parameters": ["tools", "temperature"],
            },
            {"id": "plain"},
        ]
    }
    small, plain = parse_models(ModelListing.OPENAI, payload)
    assert small.prompt_price == pytest.approx(0.1) and small.completion_price == pytest.approx(0.3)
    assert small.currency == "EUR" and small.context_length == 128000
    assert small.supported_parameters == ["tools", "temperature"]
    assert plain == ModelInfo("plain")


def test_nordlys_array_with_cost_fields_and_parameter_objects() -> None:
    payload = [
        {
            "id": "a/b",
            "display_name": "B",
            "top_provider": {"context_length": 9000},
            "pricing": {"prompt_cost": "0.000005", "completion_cost": 25},
            "supported_parameters": [{"parameter_name": "tools"}, {"x": 1}, "seed"],
        }
    ]
    (m,) = parse_models(ModelListing.ARRAY, payload)
    assert m.name == "B" and m.context_length == 9000
    # A per-token figure is scaled; a figure already per 1M tokens is kept.
    assert m.prompt_price == pytest.approx(5.0) and m.completion_price == 25.0
    assert m.currency == "USD"
    assert m.supported_parameters == ["tools", "seed"]


def test_euri_premium_and_duplicates_and_strings() -> None:
    payload = {
        "data": [{"id": "gpt-5", "premium": True}, {"id": "gpt-5"}, "bare-id", {"premium": False}]
    }
    models = parse_models(ModelListing.OPENAI, payload)
    assert [m.id for m in models] == ["gpt-5", "bare-id"]
    assert models[0].premium is True and models[1].premium is None


@pytest.mark.parametrize(
    "payload", [None, 3, "x", {"data": None}, {"data": {"id": "x"}}, {"models": "x"}, [None, 1, []]]
)
def test_odd_shapes_give_no_models(payload: Any) -> None:
    assert parse_models(ModelListing.OPENAI, payload) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "data",
                    "pricing",
                    "prompt",
                    "prompt_cost",
                    "name",
                    "context_length",
                    "supported_parameters",
                    "parameter_name",
                    "premium",
                    "top_provider",
                    "models",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@given(json_values)
def test_never_crashes(payload: Any) -> None:
    for listing in ModelListing:
        for m in parse_models(listing, payload):
            assert isinstance(m.id, str) and m.id
            assert m.prompt_price is None or m.prompt_price >= 0


def test_fallback_models() -> None:
    spec = ModelsSpec(listing=ModelListing.NONE, fallback=["a", "b", "a", " "])
    assert [m.id for m in fallback_models(spec)] == ["a", "b"]


def test_an_empty_model_list_says_why() -> None:
    from parley.core.protocol.errors import ErrorKind, ParleyError
    from parley.core.providers.modellist import why_no_models

    no_key = why_no_models("Box", missing_key=True)
    assert "add a key" in no_key.short and "only with a key" in no_key.long
    none = why_no_models("Box")
    assert none.short == "No models: server listed none" and "Box" in none.long
    down = ParleyError(ErrorKind.NETWORK, "Could not connect to Box at http://x/v1.")
    reason = why_no_models("Box", error=down)
    assert reason.short == "No models: server unreachable"
    assert "Could not connect to Box at http://x/v1. Or type" in reason.long  # one full stop
    refused = why_no_models("Box", error=ParleyError(ErrorKind.AUTH, "Bad key"))
    assert refused.short == "No models: key refused"
    other = why_no_models("Box", error=ParleyError(ErrorKind.PROTOCOL, "not JSON"))
    assert other.short == "No models: listing failed" and "not JSON" in other.long

"""Parameter validation messages, CLI values, carrying values across providers, model support."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.core.providers.catalog import Catalog, ParamSpec, ProviderSpec, load_catalog
from parley.core.providers.params import (
    carry_over,
    parse_cli_value,
    resolve_name,
    unsupported_params,
    validate_params,
    validate_value,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def spec(catalog: Catalog, provider_id: str) -> ProviderSpec:
    found = catalog.get(provider_id)
    assert found is not None
    return found


def param(catalog: Catalog, provider_id: str, name: str) -> ParamSpec:
    found = spec(catalog, provider_id).param(name)
    assert found is not None
    return found


# --- validate_value: the messages a person reads -----------------------------------------


@pytest.mark.parametrize(
    ("provider_id", "name", "value", "message"),
    [
        ("eurouter", "temperature", 3.5, "temperature must be between 0 and 2 (you entered 3.5)"),
        ("eurouter", "temperature", "hot", 'temperature must be a number (you entered "hot")'),
        ("eurouter", "temperature", True, "temperature must be a number (you entered true)"),
        ("eigenai", "top_k", 2.5, "top_k must be a whole number (you entered 2.5)"),
        ("eigenai", "top_k", 101, "top_k must be between 0 and 100 (you entered 101)"),
        ("adaptive-engine", "max_ttft_ms", -1, "max_ttft_ms must be at least 0 (you entered -1)"),
        (
            "euri",
            "stop",
            ["a", "b", "c", "d", "e"],
            "stop takes at most 4 sequences (you entered 5)",
        ),
        (
            "adaptive-engine",
            "user",
            "bob",
            'user must be a UUID, like 3c90c3cc-0d44-4b50-8888-8dd25736052a (you entered "bob")',
        ),
        (
            "eurouter",
            "rule_id",
            "not-a-uuid",
            "rule_id must be a UUID, like 3c90c3cc-0d44-4b50-8888-8dd25736052a"
            ' (you entered "not-a-uuid")',
        ),
        ("eurouter", "logprobs", "yes", 'logprobs must be true or false (you entered "yes")'),
        ("eurouter", "logprobs", 1, "logprobs must be true or false (you entered 1)"),
        (
            "eurouter",
            "reasoning_effort",
            "xhigh",
            "reasoning.effort must be one of: none, minimal, low, medium, high"
            ' (you entered "xhigh")',
        ),
        (
            "eurouter",
            "provider_quantizations",
            ["fp8", "q4_k_m"],
            "provider.quantizations may contain only int4, int8, fp4, fp6, fp8, fp16, bf16, fp32"
            ' (you entered "q4_k_m")',
        ),
        (
            "euri",
            "response_format",
            "json",
            'response_format must be a JSON object, like {"type": "json_object"}'
            ' (you entered "json")',
        ),
        ("adaptive-engine", "labels", {"team": 7}, "labels takes only text values; 'team' is 7"),
        (
            "adaptive-engine",
            "tags",
            "one",
            'tags must be a list of text values (you entered "one")',
        ),
    ],
)
def test_validation_messages(
    catalog: Catalog, provider_id: str, name: str, value: Any, message: str
) -> None:
    assert validate_value(param(catalog, provider_id, name), value) == message


@pytest.mark.parametrize(
    ("provider_id", "name", "value"),
    [
        ("eurouter", "temperature", 0),
        ("eurouter", "temperature", 2),
        ("eurouter", "temperature", 0.7),
        ("eigenai", "top_k", 40),
        ("eigenai", "top_k", 40.0),  # a whole number typed as 40.0
        ("euri", "stop", "END"),  # one string where a list is allowed
        ("euri", "stop", ["a", "b", "c", "d"]),
        ("adaptive-engine", "user", "3c90c3cc-0d44-4b50-8888-8dd25736052a"),
        ("eurouter", "rule_id", "00000000-0000-0000-0000-000000000000"),
        ("eurouter", "rule_id", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ("eurouter", "logprobs", False),
        ("eigenai", "reasoning_effort", "xhigh"),
        ("euri", "tool_choice", "auto"),  # JSON of any shape
        ("euri", "tools", [{"type": "function", "function": {"name": "f"}}]),
        ("adaptive-engine", "labels", {"team": "search"}),
    ],
)
def test_valid_values_pass(catalog: Catalog, provider_id: str, name: str, value: Any) -> None:
    assert validate_value(param(catalog, provider_id, name), value) is None


def test_json_must_be_serialisable_and_finite(catalog: Catalog) -> None:
    p = param(catalog, "eurouter", "metadata")
    assert validate_value(p, {"when": object()}) is not None
    assert validate_value(p, {"x": math.nan}) is not None
    assert "must be plain JSON" in (validate_value(p, {"s": {1, 2}}) or "")


def test_numbers_must_be_finite(catalog: Catalog) -> None:
    p = param(catalog, "nordlys", "provider_max_prompt_price")
    assert (
        validate_value(p, math.inf)
        == "provider_max_prompt_price must be a finite number (you entered inf)"
    )


def test_enum_rejects_non_strings_listing_choices(catalog: Catalog) -> None:
    msg = validate_value(param(catalog, "eurouter", "provider_sort"), 1)
    assert msg == "provider.sort must be one of: price, latency, throughput (you entered 1)"


def test_none_means_unset_and_is_valid(catalog: Catalog) -> None:
    assert validate_value(param(catalog, "eurouter", "temperature"), None) is None


# --- validate_params ---------------------------------------------------------------------


def test_validate_params_lists_every_problem_and_unknown_names(catalog: Catalog) -> None:
    eurouter = spec(catalog, "eurouter")
    errors = validate_params(
        eurouter,
        {"temperature": 9, "top_k": 5, "seed": 1, "reasoning_effort": "max", "stop": ["x"]},
    )
    assert set(errors) == {"temperature", "top_k", "reasoning_effort"}
    assert errors["top_k"] == "top_k is not a parameter of EUrouter; put it in Advanced JSON"


def test_validate_params_points_from_a_wire_name_to_the_parameter(catalog: Catalog) -> None:
    eurouter = spec(catalog, "eurouter")
    errors = validate_params(eurouter, {"max_completion_tokens": 10, "provider.sort": "price"})
    assert "it is called max_tokens here" in errors["max_completion_tokens"]
    assert "it is called provider_sort here" in errors["provider.sort"]
    assert resolve_name(eurouter, "reasoning.effort") == "reasoning_effort"
    assert resolve_name(eurouter, "temperature") == "temperature"
    assert resolve_name(eurouter, "top_k") is None


# --- parse_cli_value ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("0.7", 0.7),
        ("40", 40),
        ("true", True),
        ("false", False),
        ('["a", "b"]', ["a", "b"]),
        ('{"type": "json_object"}', {"type": "json_object"}),
        ("auto", "auto"),
        ("price", "price"),
        ('"42"', "42"),
        ("NaN", "NaN"),  # not a JSON number: kept as text, then refused by validation
        ("", ""),
    ],
)
def test_parse_cli_value(raw: str, value: Any) -> None:
    parsed = parse_cli_value(raw)
    assert parsed == value and type(parsed) is type(value)


# --- carry_over --------------------------------------------------------------------------


def test_carry_over_keeps_what_still_applies(catalog: Catalog) -> None:
    eigenai, eurouter = spec(catalog, "eigenai"), spec(catalog, "eurouter")
    values = {
        "temperature": 0.4,
        "top_k": 20,  # EUrouter has no top_k
        "reasoning_effort": "xhigh",  # EUrouter's reasoning.effort stops at high
        "max_tokens": 300,
        "thinking": True,
    }
    assert carry_over(eigenai, eurouter, values) == {"temperature": 0.4, "max_tokens": 300}
    values["reasoning_effort"] = "low"
    kept = carry_over(eigenai, eurouter, values)
    assert kept["reasoning_effort"] == "low"


def test_carry_over_routing_preferences_between_routers(catalog: Catalog) -> None:
    eurouter, nordlys = spec(catalog, "eurouter"), spec(catalog, "nordlys")
    values = {"provider_sort": "latency", "provider_data_collection": "deny", "rule_id": None}
    assert carry_over(eurouter, nordlys, values) == {
        "provider_sort": "latency",
        "provider_data_collection": "deny",
    }


def test_carry_over_drops_values_that_break_the_new_rules(catalog: Catalog) -> None:
    nordlys, adaptive = spec(catalog, "nordlys"), spec(catalog, "adaptive-engine")
    values = {"user": "alice", "stop": "END", "n": 2}
    # Adaptive Engine wants a UUID user and stop as a list.
    assert carry_over(nordlys, adaptive, values) == {"n": 2}


# --- unsupported_params ------------------------------------------------------------------


def test_unsupported_params_from_a_models_list(catalog: Catalog) -> None:
    eurouter = spec(catalog, "eurouter")
    supported = ["max_tokens", "temperature", "top_p", "stop", "reasoning", "tools"]
    flagged = unsupported_params(eurouter, supported)
    assert "temperature" not in flagged and "stop" not in flagged
    assert "reasoning_effort" not in flagged  # wire root `reasoning` is listed
    assert "max_tokens" not in flagged  # listed under its logical name
    assert {"seed", "logprobs", "top_logprobs", "response_format", "tool_choice"} <= flagged
    # Routing and privacy settings are per request, never per model.
    assert not flagged & {"provider_sort", "provider_eu_owned", "rule_id", "include_usage"}


def test_unsupported_params_without_a_list_flags_nothing(catalog: Catalog) -> None:
    assert unsupported_params(spec(catalog, "eurouter"), None) == set()


# --- any value a person or a file can produce gets a verdict, never a crash ----------------

ALL_PARAMS = [p for provider in load_catalog() for p in provider.params]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_validate_value_gives_a_verdict_for_anything(value: Any) -> None:
    for p in ALL_PARAMS:
        verdict = validate_value(p, value)
        assert verdict is None or p.display_name in verdict

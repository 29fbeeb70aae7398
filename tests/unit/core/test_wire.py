"""From a ChatRequest to each provider's wire request: the translations the provider files drive."""

from __future__ import annotations

import json
from typing import Any

import pytest

from parley import __version__
from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.protocol.request import (
    ChatRequest,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    VideoPart,
)
from parley.core.providers.catalog import Catalog, ParamSpec, ParamType, ProviderSpec, load_catalog
from parley.core.providers.wire import WireRequest, auth_headers, build_wire_request

PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
SESSION = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
ADAPTIVE_URL = "https://adaptive.example.com/api/v1"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def spec(catalog: Catalog, provider_id: str) -> ProviderSpec:
    found = catalog.get(provider_id)
    assert found is not None
    return found


def build(
    catalog: Catalog,
    provider_id: str,
    *,
    model: str = "some-model",
    params: dict[str, Any] | None = None,
    advanced: dict[str, Any] | None = None,
    messages: list[Message] | None = None,
    stream: bool = True,
    base_url: str | None = None,
    session_id: str | None = None,
) -> WireRequest:
    if provider_id == "adaptive-engine" and base_url is None:
        base_url = ADAPTIVE_URL
    req = ChatRequest(
        provider=provider_id,
        model=model,
        messages=messages or [Message(role="user", content="Hello")],
        params=params or {},
        advanced=advanced or {},
        stream=stream,
        base_url=base_url,
        session_id=session_id,
    )
    return build_wire_request(spec(catalog, provider_id), req)


def config_error(catalog: Catalog, provider_id: str, **kwargs: Any) -> ParleyError:
    with pytest.raises(ParleyError) as caught:
        build(catalog, provider_id, **kwargs)
    assert caught.value.kind is ErrorKind.CONFIG
    return caught.value


# --- unset params, URL and headers --------------------------------------------------------


def test_unset_params_are_not_sent(catalog: Catalog) -> None:
    wire = build(catalog, "euri", params={"temperature": None})
    assert wire.body == {
        "model": "some-model",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": True,
    }
    json.dumps(wire.body)  # always serialisable as is


def test_set_params_are_sent_exactly_including_false_and_zero(catalog: Catalog) -> None:
    wire = build(
        catalog,
        "eurouter",
        params={"temperature": 0, "logprobs": False, "stop": "END"},
        stream=False,
    )
    assert wire.body["temperature"] == 0
    assert wire.body["logprobs"] is False
    assert wire.body["stop"] == "END"
    assert "top_p" not in wire.body


def test_whole_number_floats_go_out_as_integers(catalog: Catalog) -> None:
    wire = build(catalog, "eigenai", params={"top_k": 40.0})
    assert wire.body["top_k"] == 40 and isinstance(wire.body["top_k"], int)


def test_url_headers_and_no_auth_in_headers(catalog: Catalog) -> None:
    wire = build(catalog, "eurouter")
    assert wire.url == "https://api.eurouter.ai/api/v1/chat/completions"
    assert wire.headers == {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "User-Agent": f"Parley/{__version__}",
    }
    assert wire.stream is True
    plain = build(catalog, "nordlys", stream=False, base_url="http://127.0.0.1:9/nordlys/v1/")
    assert plain.url == "http://127.0.0.1:9/nordlys/v1/chat/completions"
    assert plain.headers["Accept"] == "application/json" and plain.stream is False


def test_missing_base_url_says_what_to_give(catalog: Catalog) -> None:
    err = config_error(catalog, "adaptive-engine", base_url="", model="proj")
    assert err.message.startswith("Adaptive Engine needs your deployment's URL")
    assert "https://<your deployment>/api/v1" in err.message
    err = config_error(catalog, "openai-compatible")
    assert "OpenAI-compatible needs" in err.message
    err = config_error(catalog, "euri", base_url="api.example.com/v1")
    assert "must start with http:// or https://" in err.message


# --- max_completion_tokens vs max_tokens ---------------------------------------------------


def test_max_tokens_translation(catalog: Catalog) -> None:
    eurouter = build(catalog, "eurouter", params={"max_tokens": 256}).body
    assert eurouter["max_completion_tokens"] == 256 and "max_tokens" not in eurouter
    legacy = build(catalog, "eurouter", params={"legacy_max_tokens": 64}).body
    assert legacy["max_tokens"] == 64 and "max_completion_tokens" not in legacy
    for provider_id in ("euri", "eigenai", "adaptive-engine"):
        model = "proj" if provider_id == "adaptive-engine" else "m"
        body = build(catalog, provider_id, model=model, params={"max_tokens": 256}).body
        assert body["max_tokens"] == 256 and "max_completion_tokens" not in body


# --- reasoning ------------------------------------------------------------------------------


def test_reasoning_is_an_object_for_eurouter(catalog: Catalog) -> None:
    body = build(
        catalog, "eurouter", params={"reasoning_effort": "low", "reasoning_summary": "concise"}
    ).body
    assert body["reasoning"] == {"effort": "low", "summary": "concise"}
    assert "reasoning_effort" not in body


@pytest.mark.parametrize("provider_id", ["eigenai", "nordlys"])
def test_reasoning_effort_is_flat_for_eigenai_and_nordlys(
    catalog: Catalog, provider_id: str
) -> None:
    body = build(catalog, provider_id, params={"reasoning_effort": "high"}).body
    assert body["reasoning_effort"] == "high" and "reasoning" not in body


def test_chat_template_kwargs_is_nested(catalog: Catalog) -> None:
    body = build(catalog, "eigenai", params={"thinking": False, "separate_reasoning": True}).body
    assert body["chat_template_kwargs"] == {"thinking": False}
    assert body["separate_reasoning"] is True
    assert "thinking" not in body


# --- routing: provider object vs flat provider_* ---------------------------------------------


ROUTING = {
    "provider_order": ["scaleway", "ionos"],
    "provider_ignore": ["openai"],
    "provider_sort": "price",
    "provider_allow_fallbacks": False,
    "provider_data_collection": "deny",
}


def test_eurouter_provider_preferences_form_one_object(catalog: Catalog) -> None:
    params = {**ROUTING, "provider_max_retention_days": 0, "provider_eu_owned": True}
    params["provider_data_residency"] = "eu"
    params["provider_quantizations"] = ["fp8", "bf16"]
    params["provider_require_parameters"] = True
    params["provider_only"] = ["mistral"]
    body = build(catalog, "eurouter", params=params).body
    assert body["provider"] == {
        "order": ["scaleway", "ionos"],
        "only": ["mistral"],
        "ignore": ["openai"],
        "allow_fallbacks": False,
        "sort": "price",
        "require_parameters": True,
        "quantizations": ["fp8", "bf16"],
        "data_collection": "deny",
        "data_residency": "eu",
        "max_retention_days": 0,
        "eu_owned": True,
    }
    assert not any(key.startswith("provider_") for key in body)


def test_nordlys_provider_preferences_stay_flat(catalog: Catalog) -> None:
    params = {k: v for k, v in ROUTING.items() if k != "provider_allow_fallbacks"}
    params["provider_zdr"] = True
    params["provider_max_prompt_price"] = 1.5
    body = build(catalog, "nordlys", params=params).body
    assert "provider" not in body
    for name, value in params.items():
        assert body[name] == value


# --- model rules ------------------------------------------------------------------------------


def test_empty_model_is_refused(catalog: Catalog) -> None:
    err = config_error(catalog, "euri", model="  ")
    assert err.message == "Choose a model for Euron EURI"
    err = config_error(catalog, "eurouter", model="")
    assert "or set models, rule_id, rule_name" in err.message


@pytest.mark.parametrize(
    "params",
    [
        {"rule_name": "gdpr-strict"},
        {"rule_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"},
        {"models": ["mistral-large", "gpt-4o"]},
    ],
)
def test_eurouter_model_may_come_from_routing(catalog: Catalog, params: dict[str, Any]) -> None:
    body = build(catalog, "eurouter", model="", params=params).body
    assert "model" not in body
    assert set(params) <= set(body)


@pytest.mark.parametrize("model", ["support-bot", "support-bot/llama-3-8b"])
def test_adaptive_project_naming(catalog: Catalog, model: str) -> None:
    assert build(catalog, "adaptive-engine", model=model).body["model"] == model


@pytest.mark.parametrize("model", ["", "support-bot/", "/llama", "support bot"])
def test_adaptive_refuses_a_model_that_is_not_a_project(catalog: Catalog, model: str) -> None:
    err = config_error(catalog, "adaptive-engine", model=model)
    assert '"project" or "project/model"' in err.message


def test_adaptive_user_must_be_a_uuid(catalog: Catalog) -> None:
    err = config_error(catalog, "adaptive-engine", model="proj", params={"user": "alice"})
    assert "user must be a UUID" in err.message
    body = build(catalog, "adaptive-engine", model="proj", params={"user": SESSION}).body
    assert body["user"] == SESSION


def test_adaptive_session_id_is_sent_back(catalog: Catalog) -> None:
    body = build(catalog, "adaptive-engine", model="proj", session_id=SESSION).body
    assert body["session_id"] == SESSION
    assert "session_id" not in build(catalog, "adaptive-engine", model="proj").body
    # Other providers never get it.
    assert "session_id" not in build(catalog, "eurouter", session_id=SESSION).body


def test_adaptive_server_tools_go_to_tools(catalog: Catalog) -> None:
    tools = [{"id": "search", "enabled": False}]
    body = build(
        catalog, "adaptive-engine", model="p", params={"server_tools": tools, "store": False}
    ).body
    assert body["tools"] == tools and body["store"] is False


# --- stream usage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider_id", "asks"),
    [
        ("eurouter", True),
        ("nordlys", True),
        ("adaptive-engine", True),
        ("eigenai", True),
        ("vllm", True),
        ("euri", False),
        ("lmstudio", False),
        ("openai-compatible", False),
    ],
)
def test_include_usage_only_where_supported(catalog: Catalog, provider_id: str, asks: bool) -> None:
    base = "http://127.0.0.1:9/v1" if provider_id == "openai-compatible" else None
    body = build(catalog, provider_id, model="proj", base_url=base).body
    assert ("stream_options" in body) is asks
    if asks:
        assert body["stream_options"] == {"include_usage": True}
    not_streamed = build(catalog, provider_id, model="proj", base_url=base, stream=False).body
    assert "stream_options" not in not_streamed


def test_user_stream_options_win(catalog: Catalog) -> None:
    off = build(catalog, "eurouter", params={"include_usage": False}).body
    assert off["stream_options"] == {"include_usage": False}
    both = build(catalog, "nordlys", params={"include_obfuscation": True}).body
    assert both["stream_options"] == {"include_obfuscation": True, "include_usage": True}
    advanced = build(catalog, "eurouter", advanced={"stream_options": {"include_usage": False}})
    assert advanced.body["stream_options"] == {"include_usage": False}


def test_stream_option_params_are_not_sent_without_streaming(catalog: Catalog) -> None:
    body = build(catalog, "nordlys", params={"include_obfuscation": True}, stream=False).body
    assert "stream_options" not in body


# --- advanced JSON ------------------------------------------------------------------------


def test_advanced_json_is_merged_last_and_overrides(catalog: Catalog) -> None:
    wire = build(
        catalog,
        "eurouter",
        params={"temperature": 0.2, "provider_sort": "price", "provider_eu_owned": True},
        advanced={
            "temperature": 0.9,
            "provider": {"sort": "latency", "order": ["ionos"]},
            "transforms": ["middle-out"],
            "stream": False,
        },
    )
    assert wire.body["temperature"] == 0.9
    assert wire.body["provider"] == {"sort": "latency", "eu_owned": True, "order": ["ionos"]}
    assert wire.body["transforms"] == ["middle-out"]
    assert wire.stream is False and wire.headers["Accept"] == "application/json"


def test_advanced_json_is_not_shared_with_the_request(catalog: Catalog) -> None:
    advanced = {"provider": {"order": ["ionos"]}}
    wire = build(catalog, "eurouter", advanced=advanced)
    wire.body["provider"]["order"].append("mistral")
    assert advanced == {"provider": {"order": ["ionos"]}}


# --- validation -------------------------------------------------------------------------


def test_invalid_params_raise_one_config_error_listing_every_field(catalog: Catalog) -> None:
    err = config_error(
        catalog,
        "eigenai",
        params={"temperature": 3.5, "top_k": 2.5, "reasoning_effort": "max", "seed": 1},
    )
    assert err.provider == "EigenAI"
    assert "temperature must be between 0 and 2 (you entered 3.5)" in err.message
    assert "top_k must be a whole number (you entered 2.5)" in err.message
    assert "reasoning_effort must be one of: none, minimal, low, medium, high, xhigh" in (
        err.message
    )
    assert "seed is not a parameter of EigenAI; put it in Advanced JSON" in err.message


# --- messages -------------------------------------------------------------------------------


def test_string_content_stays_a_string_and_tool_calls_pass_through(catalog: Catalog) -> None:
    messages = [
        Message(role="system", content="Be brief."),
        Message(role="user", content="Time?", name="ana"),
        Message(
            role="assistant",
            content="",
            tool_calls=[ToolCall(id="call_1", name="get_time", arguments='{"tz":"UTC"}')],
        ),
        Message(role="tool", content="12:00", tool_call_id="call_1"),
    ]
    body = build(catalog, "nordlys", messages=messages).body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Time?", "name": "ana"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"tz":"UTC"}'},
                }
            ],
        },
        {"role": "tool", "content": "12:00", "tool_call_id": "call_1"},
    ]


def image_message(image: ImagePart) -> list[Message]:
    return [Message(role="user", content=[TextPart(text="What is this?"), image])]


def test_images_go_as_base64_data_uri_parts(catalog: Catalog) -> None:
    messages = image_message(ImagePart(mime="image/png", data=PNG_B64, name="dot.png"))
    for provider_id in ("eigenai", "eurouter", "adaptive-engine", "ollama"):
        body = build(catalog, provider_id, model="proj", messages=messages).body
        assert body["messages"][0]["content"] == [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        ]


def test_image_links_only_where_the_provider_takes_them(catalog: Catalog) -> None:
    messages = image_message(ImagePart(url="https://example.com/cat.png"))
    body = build(catalog, "eigenai", messages=messages).body
    assert body["messages"][0]["content"][1]["image_url"] == {"url": "https://example.com/cat.png"}
    err = config_error(catalog, "adaptive-engine", model="proj", messages=messages)
    assert "only as attached files (base64), not links" in err.message
    assert "message 1 (user)" in err.message


def test_images_to_a_provider_that_reads_none_are_refused(catalog: Catalog) -> None:
    messages = image_message(ImagePart(data=PNG_B64, name="dot.png"))
    err = config_error(catalog, "euri", messages=messages)
    assert err.message.startswith("Euron EURI accepts only text messages")
    assert "'dot.png'" in err.message
    no_vision = spec(catalog, "lmstudio").model_copy(
        update={
            "capabilities": spec(catalog, "lmstudio").capabilities.model_copy(
                update={"vision": False}
            )
        }
    )
    req = ChatRequest(provider="lmstudio", model="m", messages=messages)
    with pytest.raises(ParleyError) as caught:
        build_wire_request(no_vision, req)
    assert "LM Studio (local) does not read images" in caught.value.message


def test_string_only_providers_get_text_parts_joined(catalog: Catalog) -> None:
    messages = [Message(role="user", content=[TextPart(text="One."), TextPart(text="Two.")])]
    body = build(catalog, "euri", messages=messages).body
    assert body["messages"] == [{"role": "user", "content": "One.\n\nTwo."}]


def test_video_only_where_supported(catalog: Catalog) -> None:
    messages = [Message(role="user", content=[VideoPart(url="https://example.com/v.mp4")])]
    body = build(catalog, "eigenai", messages=messages).body
    assert body["messages"][0]["content"] == [
        {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}}
    ]
    err = config_error(catalog, "eurouter", messages=messages)
    assert "EUrouter does not take video" in err.message


# --- auth ---------------------------------------------------------------------------------


def test_auth_headers_per_provider(catalog: Catalog) -> None:
    key = "eur_abc.secret-value"
    assert auth_headers(spec(catalog, "eurouter"), key) == {"Authorization": f"Bearer {key}"}
    assert auth_headers(spec(catalog, "nordlys"), "apk_123") == {"X-API-Key": "apk_123"}
    assert auth_headers(spec(catalog, "ollama"), "ignored") == {}
    assert auth_headers(spec(catalog, "vllm"), None) == {}  # optional key, not given
    assert auth_headers(spec(catalog, "vllm"), "tok") == {"Authorization": "Bearer tok"}


def test_custom_auth_header(catalog: Catalog) -> None:
    custom = ProviderSpec.model_validate(
        {
            "id": "azure-like",
            "name": "Azure-like",
            "base_url": "https://example.com/v1",
            "auth": {"scheme": "header", "header": "api-key"},
        }
    )
    assert auth_headers(custom, " k-123 ") == {"api-key": "k-123"}


def test_missing_key_names_where_to_put_one(catalog: Catalog) -> None:
    with pytest.raises(ParleyError) as caught:
        auth_headers(spec(catalog, "eurouter"), "")
    assert caught.value.kind is ErrorKind.CONFIG
    assert caught.value.message == (
        "There is no API key for EUrouter yet. Add one in the key settings "
        "(or set PARLEY_API_KEY_EUROUTER)."
    )
    with pytest.raises(ParleyError) as caught:
        auth_headers(spec(catalog, "adaptive-engine"), None)
    assert "PARLEY_API_KEY_ADAPTIVE_ENGINE" in caught.value.message


def test_a_broken_key_is_refused_without_showing_it(catalog: Catalog) -> None:
    key = "sk-secret\nX-Injected: 1"
    with pytest.raises(ParleyError) as caught:
        auth_headers(spec(catalog, "eurouter"), key)
    assert "line break" in caught.value.message
    assert "sk-secret" not in str(caught.value)


# --- every parameter of every built-in provider reaches its wire path ---------------------


def sample_value(p: ParamSpec) -> Any:
    """A valid value for `p`, chosen from its own rules."""
    if p.default is not None:
        return p.default
    match p.type:
        case ParamType.NUMBER | ParamType.INTEGER:
            return p.min if p.min is not None else (p.max if p.max is not None else 1)
        case ParamType.BOOLEAN:
            return True
        case ParamType.ENUM:
            return (p.choices or [""])[-1]
        case ParamType.STRING_LIST:
            return [(p.item_choices or ["x"])[0]]
        case ParamType.STRING:
            return SESSION if p.pattern else "x"
        case _:
            return [] if p.json_shape == "array" else {"k": "v"}


@pytest.mark.parametrize(
    "provider_id",
    [
        "euri",
        "eurouter",
        "eigenai",
        "nordlys",
        "adaptive-engine",
        "openai-compatible",
        "ollama",
        "lmstudio",
        "llamacpp",
        "vllm",
    ],
)
def test_every_parameter_reaches_its_wire_path(catalog: Catalog, provider_id: str) -> None:
    provider = spec(catalog, provider_id)
    values = {p.name: sample_value(p) for p in provider.params}
    base = "http://127.0.0.1:9/v1" if not provider.base_url else None
    body = build(catalog, provider_id, model="proj", params=values, base_url=base).body
    for p in provider.params:
        node: Any = body
        for key in p.wire_path.split("."):
            assert isinstance(node, dict) and key in node, f"{p.name} missing at {p.wire_path}"
            node = node[key]
        assert node == values[p.name], p.name

"""The provider files: every built-in loads, matches its API page, and broken files are reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parley.core.providers.catalog import (
    AuthScheme,
    Catalog,
    ModelListing,
    ParamGroup,
    ParamType,
    ProviderSpec,
    builtin_providers_dir,
    load_catalog,
)
from parley.core.providers.params import validate_value

BUILTIN_IDS = {
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
}
LOCAL_URLS = {
    "ollama": "http://localhost:11434/v1",
    "lmstudio": "http://localhost:1234/v1",
    "llamacpp": "http://localhost:8080/v1",
    "vllm": "http://localhost:8000/v1",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def spec_of(catalog: Catalog, provider_id: str) -> ProviderSpec:
    spec = catalog.get(provider_id)
    assert spec is not None, f"{provider_id} is missing from the built-in catalog"
    return spec


def top_level_wire_keys(spec: ProviderSpec) -> set[str]:
    return {p.wire_path.split(".", 1)[0] for p in spec.params}


# --- every built-in file -------------------------------------------------------------------


def test_every_builtin_file_loads_without_problems(catalog: Catalog) -> None:
    assert catalog.problems == []
    assert set(catalog.providers) == BUILTIN_IDS
    files = {p.stem for p in builtin_providers_dir().glob("*.toml")}
    assert files == BUILTIN_IDS  # one file per provider, named by its id


@pytest.mark.parametrize("provider_id", sorted(BUILTIN_IDS))
def test_every_param_is_described_for_a_person(catalog: Catalog, provider_id: str) -> None:
    spec = spec_of(catalog, provider_id)
    assert spec.params, f"{provider_id} has no parameters"
    for p in spec.params:
        assert p.help.strip() and "\n" not in p.help and len(p.help) <= 120, p.name
        assert isinstance(p.group, ParamGroup)
        if p.type is ParamType.ENUM:
            assert p.choices and len(set(p.choices)) == len(p.choices), p.name
            if p.default is not None:
                assert p.default in p.choices, p.name
        if p.type in (ParamType.NUMBER, ParamType.INTEGER) and p.default is not None:
            assert p.min is None or p.default >= p.min, p.name
            assert p.max is None or p.default <= p.max, p.name
        if p.pattern is not None:
            assert p.pattern_help, f"{p.name} has a pattern but no words for it"
        assert validate_value(p, p.default) is None, f"{p.name}'s default breaks its own rules"


@pytest.mark.parametrize("provider_id", sorted(BUILTIN_IDS))
def test_hosted_providers_have_docs_and_valid_base_urls(catalog: Catalog, provider_id: str) -> None:
    spec = spec_of(catalog, provider_id)
    assert spec.docs_url and spec.docs_url.startswith("https://")
    if spec.base_url:
        assert re.match(r"^https?://[^/]+", spec.base_url) and not spec.base_url.endswith("/")
    else:
        assert spec.base_url_hint, "a provider without a base URL must hint at one"


def test_stream_usage_is_claimed_only_where_supported(catalog: Catalog) -> None:
    with_usage = {s.id for s in catalog if s.capabilities.stream_usage}
    assert with_usage == {"eurouter", "nordlys", "adaptive-engine", "eigenai"} | {
        "ollama",
        "llamacpp",
        "vllm",
    }


def test_local_presets(catalog: Catalog) -> None:
    for provider_id, url in LOCAL_URLS.items():
        spec = spec_of(catalog, provider_id)
        assert spec.local and spec.base_url == url
        assert not spec.auth.required
        assert spec.models.listing is ModelListing.OPENAI and not spec.models.needs_auth
    assert not any(s.local for s in catalog if s.id not in LOCAL_URLS)


def test_openai_compatible_is_user_given_with_the_standard_set(catalog: Catalog) -> None:
    spec = spec_of(catalog, "openai-compatible")
    assert spec.base_url == "" and spec.base_url_hint
    assert spec.auth.scheme is AuthScheme.BEARER
    standard = {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "n",
        "seed",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "user",
    }
    assert standard <= {p.name for p in spec.params}


# --- each provider against its API page ---------------------------------------------------
# Body fields listed on each page (shared/providers/00*.txt), less model, messages and stream.


def test_euri_matches_its_api_page(catalog: Catalog) -> None:
    spec = spec_of(catalog, "euri")
    page = {"max_tokens", "temperature", "top_p", "frequency_penalty", "presence_penalty"}
    page |= {"stop", "n", "tools", "tool_choice", "response_format", "seed"}
    assert top_level_wire_keys(spec) == page
    temperature = spec.param("temperature")
    assert temperature and temperature.default == 0.7
    assert (temperature.min, temperature.max) == (0, 2)
    stop = spec.param("stop")
    assert stop and stop.type is ParamType.STRING_LIST and stop.max_items == 4 and stop.allow_single
    for name in ("response_format", "tools", "tool_choice"):
        p = spec.param(name)
        assert p and p.type is ParamType.JSON
    assert spec.quirks.string_content_only and not spec.capabilities.stream_usage
    assert spec.models.listing is ModelListing.OPENAI and spec.models.path == "/models"
    assert {"gpt-4o-mini", "gemini-2.5-flash", "claude-sonnet-4-6"} <= set(spec.models.fallback)
    assert spec.base_url == "https://api.euron.one/api/v1/euri"


def test_eurouter_matches_its_api_page(catalog: Catalog) -> None:
    spec = spec_of(catalog, "eurouter")
    page = {"models", "rule_id", "rule_name", "stream_options", "max_tokens"}
    page |= {"max_completion_tokens", "temperature", "top_p", "frequency_penalty"}
    page |= {"presence_penalty", "logit_bias", "logprobs", "top_logprobs", "seed", "stop"}
    page |= {"reasoning", "response_format", "tool_choice", "tools", "user", "metadata"}
    page |= {"provider"}
    assert top_level_wire_keys(spec) == page

    wires = {p.wire_path: p for p in spec.params}
    provider_fields = {w.split(".", 1)[1] for w in wires if w.startswith("provider.")}
    assert provider_fields == {
        "order",
        "only",
        "ignore",
        "allow_fallbacks",
        "sort",
        "require_parameters",
        "quantizations",
        "data_collection",
        "data_residency",
        "max_retention_days",
        "eu_owned",
    }
    assert wires["provider.allow_fallbacks"].default is True
    assert wires["provider.sort"].choices == ["price", "latency", "throughput"]
    assert wires["provider.data_collection"].choices == ["allow", "deny"]
    assert wires["reasoning.effort"].choices == ["none", "minimal", "low", "medium", "high"]
    assert wires["reasoning.summary"].choices == ["auto", "concise", "detailed"]
    assert (wires["top_logprobs"].min, wires["top_logprobs"].max) == (0, 20)
    assert wires["max_tokens"].deprecated and not wires["max_completion_tokens"].deprecated
    assert spec.param("max_tokens") is wires["max_completion_tokens"]  # the logical name
    assert set(spec.models.optional_when) == {"models", "rule_id", "rule_name"}
    assert not spec.models.needs_auth


def test_eigenai_matches_its_api_page(catalog: Catalog) -> None:
    spec = spec_of(catalog, "eigenai")
    wires = {p.wire_path: p for p in spec.params}
    page = {"temperature", "max_tokens", "top_p", "top_k", "min_p", "repetition_penalty"}
    page |= {"reasoning_effort", "separate_reasoning", "chat_template_kwargs.thinking"}
    assert set(wires) == page
    assert wires["top_k"].type is ParamType.INTEGER
    assert (wires["top_k"].min, wires["top_k"].max) == (0, 100)
    assert (wires["min_p"].min, wires["min_p"].max) == (0, 1)
    rp = wires["repetition_penalty"]
    assert (rp.min, rp.max, rp.default) == (0, 100, 1)
    effort = wires["reasoning_effort"]
    assert effort.choices == ["none", "minimal", "low", "medium", "high", "xhigh"]
    assert effort.default == "medium"
    assert wires["chat_template_kwargs.thinking"].type is ParamType.BOOLEAN
    assert spec.capabilities.vision and spec.capabilities.video
    assert spec.models.listing is ModelListing.NONE and "gpt-oss-120b" in spec.models.fallback


def test_nordlys_matches_its_api_page(catalog: Catalog) -> None:
    spec = spec_of(catalog, "nordlys")
    page = {
        "audio",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "models",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "provider_configs",
        "provider_data_collection",
        "provider_enforce_distillable_text",
        "provider_ignore",
        "provider_max_completion_price",
        "provider_max_image_price",
        "provider_max_prompt_price",
        "provider_max_request_price",
        "provider_only",
        "provider_order",
        "provider_quantizations",
        "provider_require_parameters",
        "provider_sort",
        "provider_zdr",
        "reasoning_effort",
        "response_format",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "web_search_options",
    }
    assert top_level_wire_keys(spec) == page
    assert not any("." in p.wire_path for p in spec.params if p.name.startswith("provider_"))
    assert spec.auth.scheme is AuthScheme.HEADER and spec.auth.header == "X-API-Key"
    assert spec.models.listing is ModelListing.ARRAY
    assert spec.base_url == "https://api.nordlyslabs.com/v1"


def test_adaptive_engine_matches_its_api_page(catalog: Catalog) -> None:
    spec = spec_of(catalog, "adaptive-engine")
    page = {"stop", "max_tokens", "temperature", "top_p", "max_ttft_ms", "stream_options"}
    page |= {"user", "ab_campaign", "n", "labels", "metadata", "system_prompt_args", "tags"}
    page |= {"use_tools", "tools", "store"}
    # session_id is on the page too; it is not a parameter but the session_id quirk.
    assert top_level_wire_keys(spec) == page
    assert spec.quirks.session_id and spec.quirks.image_data_uri_only
    assert spec.models.naming == "project" and spec.models.listing is ModelListing.NONE
    assert spec.base_url == "" and spec.base_url_hint == "https://<your deployment>/api/v1"
    store = spec.param("store")
    assert store and store.group is ParamGroup.PRIVACY and store.default is True
    user = spec.param("user")
    assert user and user.pattern and user.pattern_help and "UUID" in user.pattern_help
    # Its `tools` switch server-side tools; a different thing from OpenAI function tools.
    assert spec.param("tools") is None and spec.param("server_tools") is not None


# --- user files and broken files ---------------------------------------------------------

GOOD_USER_FILE = """
id = "my-server"
name = "My server"
base_url = "http://10.0.0.5:9000/v1"

[[params]]
name = "temperature"
type = "number"
help = "Sampling temperature."
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_files_add_providers_and_override_builtins(tmp_path: Path) -> None:
    user = tmp_path / "providers"
    write(user, "my-server.toml", GOOD_USER_FILE)
    override = (builtin_providers_dir() / "euri.toml").read_text(encoding="utf-8")
    override = override.replace('name = "Euron EURI"', 'name = "EURI (mine)"')
    write(user, "euri.toml", override)

    catalog = load_catalog(user_dirs=[user])
    assert catalog.problems == []
    assert spec_of(catalog, "my-server").base_url == "http://10.0.0.5:9000/v1"
    assert spec_of(catalog, "euri").name == "EURI (mine)"
    assert catalog.user_ids == {"my-server", "euri"}
    assert set(catalog.providers) >= BUILTIN_IDS


BROKEN = {
    "bad-toml.toml": ('id = "x"\nname = "unterminated', "", "not valid TOML"),
    "wrong-type.toml": (
        GOOD_USER_FILE.replace('"my-server"', '"wrong-type"').replace(
            'help = "Sampling temperature."', 'help = "t"\nmin = "zero"'
        ),
        "params['temperature'].min",
        "number",
    ),
    "missing-field.toml": ('id = "missing"\nbase_url = ""\n', "name", "required"),
    "duplicate.toml": (
        GOOD_USER_FILE.replace('"my-server"', '"duplicate"')
        + '\n[[params]]\nname = "temperature"\ntype = "number"\nhelp = "again"\n',
        "params",
        "listed twice",
    ),
    "enum-no-choices.toml": (
        'id = "enum"\nname = "E"\nbase_url = ""\n'
        '[[params]]\nname = "mode"\ntype = "enum"\nhelp = "A mode."\n',
        "params['mode']",
        "choices",
    ),
    "wire-clash.toml": (
        'id = "clash"\nname = "C"\nbase_url = ""\n'
        '[[params]]\nname = "provider"\ntype = "json"\nhelp = "All of it."\n'
        '[[params]]\nname = "sort"\ntype = "string"\nwire = "provider.sort"\nhelp = "One."\n',
        "params",
        "overwrite",
    ),
    "bad-pattern.toml": (
        'id = "pat"\nname = "P"\nbase_url = ""\n'
        '[[params]]\nname = "user"\ntype = "string"\npattern = "([a-z"\nhelp = "Who."\n',
        "params['user']",
        "regular expression",
    ),
}


def test_broken_files_are_reported_by_file_and_field_and_the_rest_load(tmp_path: Path) -> None:
    user = tmp_path / "providers"
    write(user, "my-server.toml", GOOD_USER_FILE)
    for name, (text, _, _) in BROKEN.items():
        write(user, name, text)

    catalog = load_catalog(user_dirs=[user])

    problems = {p.path.name: p for p in catalog.problems}
    assert set(problems) == set(BROKEN)
    for name, (_, field, words) in BROKEN.items():
        problem = problems[name]
        assert problem.field == field, (name, problem)
        assert words in problem.message, (name, problem.message)
        assert name in str(problem)
    assert catalog.get("my-server") is not None
    assert set(catalog.providers) >= BUILTIN_IDS


def test_optional_when_must_name_a_parameter(tmp_path: Path) -> None:
    models = '[models]\noptional_when = ["rule_id"]\n\n'
    text = GOOD_USER_FILE.replace("[[params]]", models + "[[params]]")
    path = write(tmp_path / "p", "x.toml", text)
    catalog = load_catalog(builtin_dir=tmp_path / "none", user_dirs=[path.parent])
    assert [p.path.name for p in catalog.problems] == ["x.toml"]
    assert "rule_id" in catalog.problems[0].message

"""The five providers' wire dialects (plus generic OpenAI): auth, chunks, responses, errors, models.

Shapes follow /work/shared/providers/NOTES.md; where that file says [I] or [?] we pick the
plausible variant that is hardest on a client (missing fields, extra fields, odd error shapes).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from .behavior import Behavior

# Providers that return no log-probabilities, asked or not (their files: logprobs = false).
NO_LOGPROBS = frozenset({"euri", "eigenai", "adaptive-engine", "ollama", "lmstudio", "lm-studio"})

LOCAL_PROVIDERS = frozenset(
    {"ollama", "lmstudio", "lm-studio", "llamacpp", "llama-cpp", "llama.cpp", "vllm", "local"}
)


def key_for(provider: str) -> str:
    """The key the emulator accepts for a provider: long, deterministic, unique per provider."""
    digest = hashlib.sha256(f"parley-emulator:{provider}".encode()).hexdigest()
    return f"emu-{provider}-{digest[:24]}"


def mask_key(presented: str) -> str:
    return f"{presented[:5]}***"


@dataclass
class ChoiceOut:
    """What one choice says, independent of dialect."""

    index: int
    reasoning: str | None
    text: str | None
    refusal: str | None
    tool_calls: list[tuple[str, str, str]]  # (id, name, arguments JSON text)
    finish_reason: str | None


@dataclass
class Ctx:
    """One chat request being answered."""

    provider: str
    body: dict[str, Any]
    behavior: Behavior
    seq: int
    created: int
    request_id: str
    completion_id: str = ""
    session_id: str = ""

    @property
    def request_model(self) -> str:
        model = self.body.get("model")
        return model if isinstance(model, str) else ""

    @property
    def wants_logprobs(self) -> bool:
        # Only where the provider returns them (its provider file says logprobs = true).
        return self.body.get("logprobs") is True and self.provider not in NO_LOGPROBS

    @property
    def top_logprobs(self) -> int:
        k = self.body.get("top_logprobs")
        return k if isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 20 else 0

    @property
    def wants_usage(self) -> bool:
        if self.behavior.include_usage is not None:
            return self.behavior.include_usage
        opts = self.body.get("stream_options")
        return isinstance(opts, dict) and opts.get("include_usage") is True


def tokens(text: str | None) -> int:
    return (len(text) + 3) // 4 if text else 0


def _guess_upstream(model: str) -> str:
    low = model.lower()
    for needle, name in (
        ("claude", "anthropic"),
        ("gpt", "openai"),
        ("o3", "openai"),
        ("gemini", "google"),
        ("mistral", "mistral"),
        ("llama", "meta"),
        ("qwen", "alibaba"),
    ):
        if needle in low:
            return name
    return "openai"


class Dialect:
    """Generic OpenAI chat completions (also openai-compatible and local servers)."""

    name = "openai"
    reasoning_field: str | None = "reasoning_content"
    models_status = 200
    done_after_stream_error = False
    client_tools = True  # OpenAI function calling

    # --- auth ----------------------------------------------------------------------------
    def presented_key(self, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization")
        if auth is None:
            return None
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else auth

    def missing_key_message(self) -> str:
        return (
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )

    def wrong_key_message(self, shown: str) -> str:
        return f"Incorrect API key provided: {shown}. You can find your API key in your account."

    # --- errors --------------------------------------------------------------------------
    def error_body(self, status: int, message: str | None, request_id: str) -> Any:
        kind, code = {
            400: ("invalid_request_error", None),
            401: ("invalid_request_error", "invalid_api_key"),
            403: ("permission_error", "forbidden"),
            404: ("invalid_request_error", "not_found"),
            429: ("rate_limit_error", "rate_limit_exceeded"),
        }.get(status, ("server_error", "server_error"))
        return {
            "error": {
                "message": message or default_message(status),
                "type": kind,
                "param": None,
                "code": code,
            }
        }

    def in_stream_error(self, ctx: Ctx, message: str) -> list[Any]:
        return [
            {
                "error": {
                    "message": message,
                    "type": "server_error",
                    "param": None,
                    "code": "internal_error",
                }
            }
        ]

    # --- replies -------------------------------------------------------------------------
    def reported_model(self, ctx: Ctx) -> str:
        return ctx.behavior.model or ctx.request_model or "emulator-model"

    def response_headers(self, ctx: Ctx) -> dict[str, str]:
        return {"x-request-id": ctx.request_id}

    def chunk_base(self, ctx: Ctx) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ctx.completion_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": self.reported_model(ctx),
        }
        if ctx.behavior.system_fingerprint:
            out["system_fingerprint"] = ctx.behavior.system_fingerprint
        return out

    def chunk(
        self,
        ctx: Ctx,
        index: int,
        delta: dict[str, Any],
        logprobs: dict[str, Any] | None,
        finish_reason: str | None,
    ) -> dict[str, Any]:
        out = self.chunk_base(ctx)
        choice: dict[str, Any] = {"index": index, "delta": delta}
        if ctx.wants_logprobs:
            choice["logprobs"] = logprobs
        choice["finish_reason"] = finish_reason
        out["choices"] = [choice]
        return out

    def usage_chunk(self, ctx: Ctx, usage: dict[str, Any]) -> dict[str, Any]:
        out = self.chunk_base(ctx)
        out["choices"] = []
        out["usage"] = usage
        return out

    def stream_extras(self, ctx: Ctx, events: list[Any]) -> list[Any]:
        return events

    def message(self, ctx: Ctx, ch: ChoiceOut) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": ch.text}
        if ch.reasoning is not None and self.reasoning_field:
            msg[self.reasoning_field] = ch.reasoning
        if ch.tool_calls:
            msg["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in ch.tool_calls
            ]
        msg["refusal"] = ch.refusal
        return msg

    def response(
        self,
        ctx: Ctx,
        choices: list[ChoiceOut],
        usage: dict[str, Any],
        logprobs: dict[int, dict[str, Any]],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ctx.completion_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": self.reported_model(ctx),
            "choices": [],
            "usage": usage,
        }
        if ctx.behavior.system_fingerprint:
            out["system_fingerprint"] = ctx.behavior.system_fingerprint
        for ch in choices:
            c: dict[str, Any] = {"index": ch.index, "message": self.message(ctx, ch)}
            c["logprobs"] = logprobs.get(ch.index) if ctx.wants_logprobs else None
            c["finish_reason"] = ch.finish_reason
            out["choices"].append(c)
        return out

    def usage(self, prompt: int, completion: int, reasoning: int, cached: int) -> dict[str, Any]:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
            "prompt_tokens_details": {"cached_tokens": cached},
        }

    # --- model list ----------------------------------------------------------------------
    def models_needs_auth(self) -> bool:
        return True

    def models(self) -> Any:
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "emulator"}
                for m in ("emu-small", "emu-large", "emu-reasoner")
            ],
        }


def default_message(status: int) -> str:
    return {
        400: "Invalid request parameters",
        401: "Invalid or missing API key",
        402: "Insufficient quota",
        403: "Forbidden",
        404: "Not found",
        408: "Request timed out",
        429: "Rate limit exceeded, please retry later",
        500: "The upstream model failed",
        502: "Bad gateway",
        503: "Service temporarily unavailable",
        504: "Gateway timeout",
    }.get(status, f"Error {status}")


class Euri(Dialect):
    """Euron EURI: chunks carry only id and choices (no object/model/created)."""

    name = "euri"

    def error_body(self, status: int, message: str | None, request_id: str) -> Any:
        kind, code, text = {
            400: ("invalid_request_error", "bad_request", "Missing messages or model"),
            401: ("authentication_error", "invalid_api_key", "Invalid API key"),
            403: (
                "forbidden_error",
                "token_limit_exceeded",
                "Daily token limit reached. Upgrade to Euron Plus or wait for the reset "
                "at midnight UTC.",
            ),
            429: ("rate_limit_error", "rate_limit_exceeded", "Too many requests"),
            500: ("server_error", "upstream_error", "Upstream model error"),
        }.get(status, ("server_error", "server_error", default_message(status)))
        return {"error": {"message": message or text, "type": kind, "code": code}}

    def chunk_base(self, ctx: Ctx) -> dict[str, Any]:
        return {"id": ctx.completion_id}

    def chunk(
        self,
        ctx: Ctx,
        index: int,
        delta: dict[str, Any],
        logprobs: dict[str, Any] | None,
        finish_reason: str | None,
    ) -> dict[str, Any]:
        choice: dict[str, Any] = {"delta": delta, "index": index}
        if ctx.wants_logprobs and logprobs is not None:
            choice["logprobs"] = logprobs
        if finish_reason is not None:
            choice["finish_reason"] = finish_reason
        return {"id": ctx.completion_id, "choices": [choice]}

    def models(self) -> Any:
        return {
            "data": [
                {"id": "gpt-4o-mini", "premium": False},
                {"id": "gemini-2.5-flash", "premium": False},
                {"id": "llama-4-scout-17b-16e-instruct", "premium": False},
                {"id": "claude-sonnet-4-6", "premium": True},
                {"id": "gpt-5", "premium": True},
            ]
        }


class EUrouter(Dialect):
    """EUrouter: OpenRouter-like; `reasoning` deltas, routing headers, UPPER_SNAKE errors."""

    name = "eurouter"
    reasoning_field = "reasoning"
    done_after_stream_error = True

    def presented_key(self, headers: dict[str, str]) -> str | None:
        return super().presented_key(headers) or headers.get("x-api-key")

    def missing_key_message(self) -> str:
        return "Missing API key. Send Authorization: Bearer eur_... or x-api-key."

    def wrong_key_message(self, shown: str) -> str:
        return f"Invalid API key: {shown}"

    def error_body(self, status: int, message: str | None, request_id: str) -> Any:
        code = {
            400: "BAD_REQUEST",
            401: "UNAUTHORIZED",
            402: "INSUFFICIENT_QUOTA",
            403: "FORBIDDEN",
            404: "NOT_FOUND",
            429: "RATE_LIMITED",
            503: "SERVICE_UNAVAILABLE",
        }.get(status, "INTERNAL_SERVER_ERROR")
        return {
            "error": {"code": code, "message": message or default_message(status)},
            "requestId": request_id,
        }

    def in_stream_error(self, ctx: Ctx, message: str) -> list[Any]:
        out = self.chunk(ctx, 0, {"content": ""}, None, "error")
        out["error"] = {"code": "UPSTREAM_ERROR", "message": message}
        return [out]

    def reported_model(self, ctx: Ctx) -> str:
        return ctx.behavior.model or ctx.request_model or "mistral/mistral-small-3.2"

    def response_headers(self, ctx: Ctx) -> dict[str, str]:
        model = self.reported_model(ctx)
        slug = ctx.behavior.provider_name or (
            model.split("/", 1)[0] if "/" in model else _guess_upstream(model)
        )
        return {
            "x-request-id": ctx.request_id,
            "x-provider-id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{slug}.eurouter.emu")),
            "x-provider-slug": slug,
            "x-routing-strategy": "price",
            "x-model-used": model,
            "x-model-variant": "default",
            "x-fallback-count": "0",
            "x-model-fallback-count": "0",
        }

    def models_needs_auth(self) -> bool:
        return False

    def models(self) -> Any:
        def entry(mid: str, name: str, ctx_len: int, p: str, c: str, params: list[str]) -> Any:
            return {
                "id": mid,
                "name": name,
                "description": f"{name} served from the EU",
                "context_length": ctx_len,
                "pricing": {
                    "prompt": p,
                    "completion": c,
                    "request": "0",
                    "image": "0",
                    "currency": "EUR",
                    "discount": 0,
                },
                "architecture": {
                    "modality": "text->text",
                    "input_modalities": ["text"],
                    "output_modalities": ["text"],
                    "tokenizer": "Other",
                    "instruct_type": None,
                },
                "top_provider": {
                    "context_length": ctx_len,
                    "max_completion_tokens": 16384,
                    "is_moderated": False,
                },
                "supported_parameters": params,
                "supported_api_endpoints": ["chat.completions"],
                "providers": [{"name": mid.split("/")[0].title(), "slug": mid.split("/")[0]}],
            }

        # Prices per token as strings, the OpenRouter convention EUrouter follows.
        common = ["temperature", "top_p", "max_completion_tokens", "stop", "seed"]
        return {
            "data": [
                entry(
                    "mistral/mistral-small-3.2",
                    "Mistral Small 3.2",
                    128000,
                    "0.0000001",
                    "0.0000003",
                    [*common, "tools", "tool_choice", "response_format"],
                ),
                entry(
                    "openai/gpt-4.1-mini",
                    "GPT-4.1 mini",
                    1047576,
                    "0.0000004",
                    "0.0000016",
                    [*common, "tools", "logprobs", "top_logprobs", "response_format"],
                ),
                entry(
                    "openai/o4-mini",
                    "o4-mini",
                    200000,
                    "0.0000011",
                    "0.0000044",
                    ["max_completion_tokens", "reasoning", "tools", "seed"],
                ),
            ]
        }


class EigenAI(Dialect):
    """EigenAI: probably SGLang underneath; `reasoning_content`; SGLang error objects."""

    name = "eigenai"
    models_status = 404
    done_after_stream_error = True

    def error_body(self, status: int, message: str | None, request_id: str) -> Any:
        kind = {
            400: "BadRequestError",
            401: "AuthenticationError",
            404: "NotFoundError",
            429: "RateLimitError",
        }.get(status, "InternalServerError")
        return {
            "object": "error",
            "message": message or default_message(status),
            "type": kind,
            "param": None,
            "code": status,
        }

    def in_stream_error(self, ctx: Ctx, message: str) -> list[Any]:
        return [
            {
                "error": {
                    "object": "error",
                    "message": message,
                    "type": "InternalServerError",
                    "param": None,
                    "code": 500,
                }
            }
        ]

    def models(self) -> Any:
        return {"detail": "Not Found"}


class Nordlys(Dialect):
    """Nordlys: X-API-Key (or Bearer), top-level `provider`, `reasoning_content`, string errors."""

    name = "nordlys"

    def presented_key(self, headers: dict[str, str]) -> str | None:
        return headers.get("x-api-key") or super().presented_key(headers)

    def missing_key_message(self) -> str:
        return "API key required. Send it in the X-API-Key header."

    def wrong_key_message(self, shown: str) -> str:
        return f"Invalid API key: {shown}"

    def error_body(self, status: int, message: str | None, request_id: str) -> Any:
        if status == 429:
            return {"error": message or "Rate limit exceeded"}
        if status == 402:
            return {"error": message or "Budget limit exceeded"}
        kind, code = {
            400: ("invalid_request_error", "bad_request"),
            401: ("authentication_error", "unauthorized"),
        }.get(status, ("internal_error", "completion_failed"))
        return {
            "error": {"message": message or default_message(status), "type": kind, "code": code}
        }

    def in_stream_error(self, ctx: Ctx, message: str) -> list[Any]:
        return [
            {
                "error": {
                    "message": message,
                    "type": "internal_error",
                    "param": None,
                    "code": "stream_failed",
                },
                "provider": self.upstream(ctx),
            }
        ]

    def reported_model(self, ctx: Ctx) -> str:
        return ctx.behavior.model or ctx.request_model or "claude-sonnet-4-5"

    def upstream(self, ctx: Ctx) -> str:
        return ctx.behavior.provider_name or _guess_upstream(self.reported_model(ctx))

    def chunk_base(self, ctx: Ctx) -> dict[str, Any]:
        out = super().chunk_base(ctx)
        out["provider"] = self.upstream(ctx)
        return out

    def response(
        self,
        ctx: Ctx,
        choices: list[ChoiceOut],
        usage: dict[str, Any],
        logprobs: dict[int, dict[str, Any]],
    ) -> dict[str, Any]:
        out = super().response(ctx, choices, usage, logprobs)
        out["provider"] = self.upstream(ctx)
        out["service_tier"] = "default"
        out["system_fingerprint"] = "fp_emulator"
        return out

    def usage(self, prompt: int, completion: int, reasoning: int, cached: int) -> dict[str, Any]:
        out = super().usage(prompt, completion, reasoning, cached)
        out["cached_input_tokens"] = cached
        out["reasoning_tokens"] = reasoning
        return out

    def models(self) -> Any:
        # Both schema versions seen in the wild; prices per token as strings (OpenRouter style).
        return [
            {
                "id": "anthropic/claude-opus-4-5",
                "author": "anthropic",
                "model_name": "claude-opus-4-5",
                "display_name": "Claude Opus 4.5",
                "context_length": 200000,
                "pricing": {"prompt_cost": "0.000005", "completion_cost": "0.000025"},
                "supported_parameters": [
                    {"parameter_name": "temperature"},
                    {"parameter_name": "max_tokens"},
                    {"parameter_name": "tools"},
                ],
                "created_at": "2025-11-24T00:00:00Z",
            },
            {
                "id": "openai/gpt-5-mini",
                "provider": "openai",
                "model_name": "gpt-5-mini",
                "display_name": "GPT-5 mini",
                "context_length": 400000,
                "pricing": {"prompt": "0.00000025", "completion": "0.000002"},
                "supported_parameters": ["max_completion_tokens", "reasoning_effort", "tools"],
            },
        ]


class AdaptiveEngine(Dialect):
    """Adaptive ML's engine: not OpenAI-shaped in the details (see NOTES.md §3, §5)."""

    name = "adaptive-engine"
    reasoning_field = None
    models_status = 404
    client_tools = False  # its `tools` only switch server-side tools on and off

    def missing_key_message(self) -> str:
        return "Unauthorized: missing API key"

    def wrong_key_message(self, shown: str) -> str:
        return f"Unauthorized: invalid API key {shown}"

    def error_body(self, status: int, message: str | None, request_id: str) -> Any:
        return {"error": message or default_message(status)}

    def in_stream_error(self, ctx: Ctx, message: str) -> list[Any]:
        return [{"error": message}]

    def models(self) -> Any:
        return {"error": "Not Found"}

    def choice_model(self, ctx: Ctx) -> str:
        if ctx.behavior.model:
            return ctx.behavior.model
        project, _, model = ctx.request_model.partition("/")
        return model or f"{project or 'project'}-default-model"

    def completion_id(self, ctx: Ctx, index: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.completion_id}/{index}"))

    def chunk(
        self,
        ctx: Ctx,
        index: int,
        delta: dict[str, Any],
        logprobs: dict[str, Any] | None,
        finish_reason: str | None,
    ) -> dict[str, Any]:
        choice: dict[str, Any] = {
            "delta": {
                "id": self.completion_id(ctx, index),
                "role": "assistant",
                "content": delta.get("content", ""),
            },
            "index": index,
            "completion_id": self.completion_id(ctx, index),
        }
        if finish_reason is not None:
            choice["finish_reason"] = finish_reason
        return {
            "id": ctx.completion_id,
            "created": ctx.created,
            "session_id": ctx.session_id,
            "choices": [choice],
        }

    def usage_chunk(self, ctx: Ctx, usage: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": ctx.completion_id,
            "created": ctx.created,
            "session_id": ctx.session_id,
            "choices": None,
            "usage": usage,
        }

    def stream_extras(self, ctx: Ctx, events: list[Any]) -> list[Any]:
        # Metric events the official SDK skips: TTFT after the first chunk, a summary at the end.
        out = list(events)
        out.insert(min(2, len(out)), {"TTFT": 42.5})
        out.append({"finish_reason": "stop", "TotalRequestDuration": 321.0})
        if not ctx.wants_usage:
            out.append(
                {
                    "id": ctx.completion_id,
                    "created": ctx.created,
                    "session_id": ctx.session_id,
                    "choices": None,
                }
            )
        return out

    def usage(self, prompt: int, completion: int, reasoning: int, cached: int) -> dict[str, Any]:
        return {
            "completion_tokens": completion,
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
        }

    def response(
        self,
        ctx: Ctx,
        choices: list[ChoiceOut],
        usage: dict[str, Any],
        logprobs: dict[int, dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "id": ctx.completion_id,
            "created": ctx.created,
            "choices": [
                {
                    "index": ch.index,
                    "message": {
                        "id": self.completion_id(ctx, ch.index),
                        "role": "assistant",
                        "content": ch.text or "",
                    },
                    "completion_id": self.completion_id(ctx, ch.index),
                    "model": self.choice_model(ctx),
                    "finish_reason": ch.finish_reason,
                }
                for ch in choices
            ],
            "session_id": ctx.session_id,
            "usage": usage,
        }


DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (Dialect(), Euri(), EUrouter(), EigenAI(), Nordlys(), AdaptiveEngine())
}
PROVIDERS = ("euri", "eurouter", "eigenai", "nordlys", "adaptive-engine", "openai")


def dialect_for(provider: str) -> Dialect:
    return DIALECTS.get(provider, DIALECTS["openai"])

"""Model listings in the shapes the providers use, read defensively into `ModelInfo`.

Prices are kept per 1M tokens. EUrouter (OpenRouter style) gives prices per token as strings;
Nordlys's schema has been seen with `prompt` and with `prompt_cost`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from parley.core.protocol.errors import ErrorKind, ParleyError
from parley.core.providers.catalog import ModelListing, ModelsSpec

# A price per token is always tiny (the dearest models cost well under $0.001 per token);
# a figure above this is already per 1M tokens.
_PER_TOKEN_CEILING = 0.001


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    name: str | None = None
    context_length: int | None = None
    prompt_price: float | None = None  # per 1M tokens, in `currency`
    completion_price: float | None = None
    currency: str | None = None
    supported_parameters: list[str] | None = None
    premium: bool | None = None  # EURI: premium models draw from the wallet

    @property
    def label(self) -> str:
        return self.name or self.id


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if number != number or number < 0 or number == float("inf"):
        return None
    return number


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() and number > 0 else None


def _per_million(value: Any, *, per_token: bool | None) -> float | None:
    number = _number(value)
    if number is None:
        return None
    if per_token is None:
        per_token = number <= _PER_TOKEN_CEILING
    result = round(number * 1_000_000, 9) if per_token else number
    return result if math.isfinite(result) else None  # a price of 1e303 per token is no price


def _prices(item: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
    pricing = item.get("pricing")
    if not isinstance(pricing, dict):
        return None, None, None
    currency = pricing.get("currency") if isinstance(pricing.get("currency"), str) else None
    if "prompt" in pricing or "completion" in pricing:
        # OpenRouter convention: USD per token, as strings.
        prompt = _per_million(pricing.get("prompt"), per_token=True)
        completion = _per_million(pricing.get("completion"), per_token=True)
    else:
        prompt = _per_million(pricing.get("prompt_cost", pricing.get("input_cost")), per_token=None)
        completion = _per_million(
            pricing.get("completion_cost", pricing.get("output_cost")), per_token=None
        )
    if currency is None and (prompt is not None or completion is not None):
        currency = "USD"
    return prompt, completion, currency


def _supported(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    names: list[str] = []
    for entry in value:
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, dict):
            name = entry.get("parameter_name", entry.get("name"))
            if isinstance(name, str):
                names.append(name)
    return names


def _context(item: dict[str, Any]) -> int | None:
    for candidate in (
        item.get("context_length"),
        item.get("context_window"),
        item.get("max_context_length"),
        (item.get("top_provider") or {}).get("context_length")
        if isinstance(item.get("top_provider"), dict)
        else None,
    ):
        found = _int(candidate)
        if found is not None:
            return found
    return None


def _model(item: Any) -> ModelInfo | None:
    if isinstance(item, str):
        return ModelInfo(id=item) if item.strip() else None
    if not isinstance(item, dict):
        return None
    model_id = item.get("id", item.get("model", item.get("model_name")))
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    name = next(
        (
            item[k]
            for k in ("name", "display_name", "model_name")
            if isinstance(item.get(k), str) and item[k].strip()
        ),
        None,
    )
    prompt, completion, currency = _prices(item)
    premium = item.get("premium", item.get("is_premium"))
    return ModelInfo(
        id=model_id,
        name=name if name != model_id else None,
        context_length=_context(item),
        prompt_price=prompt,
        completion_price=completion,
        currency=currency,
        supported_parameters=_supported(item.get("supported_parameters")),
        premium=premium if isinstance(premium, bool) else None,
    )


def parse_models(listing: ModelListing, payload: Any) -> list[ModelInfo]:
    """Models in a listing reply. Odd shapes give fewer models, never an exception.

    Either shape is accepted whatever `listing` says (`{data:[...]}`, `{models:[...]}` or a bare
    array), since servers behind one dialect do not always agree.
    """
    items: Any
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict):
        items = payload.get("data", payload.get("models"))
    else:
        items = None
    if not isinstance(items, list):
        return []
    seen: set[str] = set()
    models: list[ModelInfo] = []
    for item in items:
        model = _model(item)
        if model is not None and model.id not in seen:
            seen.add(model.id)
            models.append(model)
    return models


def fallback_models(models: ModelsSpec) -> list[ModelInfo]:
    """The provider file's own list, for providers without a listing endpoint."""
    return [ModelInfo(id=m) for m in dict.fromkeys(models.fallback) if m.strip()]


@dataclass(frozen=True, slots=True)
class EmptyListReason:
    """Why a provider's model list is empty: `short` fits the model field, `long` says it all."""

    short: str
    long: str


def why_no_models(
    provider: str, *, missing_key: bool = False, error: Exception | None = None
) -> EmptyListReason:
    """The words for an empty model list: no key, the server failed or unreachable, or it
    answered with no model. `error` is what listing raised (a ParleyError, read by its kind)."""
    typed = "type a model id to use one anyway"
    if missing_key:
        return EmptyListReason(
            "No models: add a key (Keys…)",
            f"No models listed: {provider} lists its models only with a key. Add one in "
            f"Keys…, or {typed}.",
        )
    if error is None:
        return EmptyListReason(
            "No models: server listed none",
            f"{provider} answered with an empty model list; {typed}.",
        )
    kind = error.kind if isinstance(error, ParleyError) else None
    if kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
        short = "No models: server unreachable"
    elif kind is ErrorKind.AUTH:
        short = "No models: key refused"
    else:
        short = "No models: listing failed"
    said = str(error).rstrip(". ")
    return EmptyListReason(short, f"Could not list the models of {provider}: {said}. Or {typed}.")

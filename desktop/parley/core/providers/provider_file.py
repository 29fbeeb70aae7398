"""A user's own OpenAI-compatible provider, written as a provider file (never with its key).

`write_user_provider` checks what the form gave, writes the TOML (`provider_toml`: the small
subset provider files use) and loads it back; a file that does not load is put back as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from parley.core.app import paths
from parley.core.app.settings import looks_like_secret_name, looks_like_secret_value
from parley.core.providers.catalog import (
    AuthScheme,
    CatalogProblem,
    ProviderSpec,
    load_provider_file,
)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def provider_toml(data: dict[str, Any]) -> str:
    """A provider dict (as `ProviderSpec.model_dump`) as TOML text."""
    lines = ["# Added in Parley's Keys dialog. The API key is kept in the OS keyring, not here."]
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, table in tables:
        lines += ["", f"[{_toml_key(key)}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    for key, items in arrays:
        for item in items:
            lines += ["", f"[[{_toml_key(key)}]]"]
            lines += [
                f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items() if v is not None
            ]
    return "\n".join(lines) + "\n"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "custom"


class ProviderFileError(ValueError):
    """The custom provider could not be saved; the message says why in plain words."""


def write_user_provider(
    *,
    provider_id: str,
    name: str,
    base_url: str,
    auth: str,
    header: str = "",
    models: Iterable[str] = (),
    has_model_list: bool = True,
    template: ProviderSpec | None = None,
    directory: Path | None = None,
    reserved_ids: Iterable[str] = (),
) -> tuple[ProviderSpec, Path]:
    """Write an OpenAI-compatible provider file and load it back to check it.

    `template` (the built-in openai-compatible provider) gives the parameter list and
    capabilities. Raises ProviderFileError with a message a person understands.
    """
    name = name.strip()
    provider_id = provider_id.strip()
    base_url = base_url.strip().rstrip("/")
    if not name:
        raise ProviderFileError("Give the provider a name.")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", provider_id):
        raise ProviderFileError(
            "The id may contain only lower-case letters, digits and dashes, like my-server."
        )
    if provider_id in set(reserved_ids):
        raise ProviderFileError(
            f"{provider_id} is the id of a built-in provider; choose another name or id."
        )
    if not base_url.startswith(("http://", "https://")):
        raise ProviderFileError("The base URL must start with http:// or https://.")
    query = base_url.partition("?")[2]
    if looks_like_secret_value(base_url) or any(
        looks_like_secret_name(part.partition("=")[0]) for part in query.split("&") if part
    ):
        raise ProviderFileError(
            "The base URL seems to carry a key. Remove it: keys go in the key field and are "
            "kept in the keyring, never in the provider file."
        )
    scheme = AuthScheme(auth)
    header = header.strip()
    if scheme is AuthScheme.HEADER and not re.fullmatch(r"[A-Za-z0-9-]+", header):
        raise ProviderFileError("Give the header name for the key, like X-API-Key.")
    model_list = [m.strip() for m in models if m.strip()]
    data: dict[str, Any] = {
        "id": provider_id,
        "name": name,
        "description": f"Added by you: an OpenAI-compatible endpoint at {base_url}.",
        "base_url": base_url,
        "chat_path": "/chat/completions",
        "local": base_url.startswith(("http://localhost", "http://127.0.0.1")),
        # The form's key is optional: the key goes with every request when there is one, and
        # a server that wants one and gets none answers 401 (which offers the key settings).
        # A required key would refuse every send of a keyless server added with Auth left at
        # its default.
        "auth": {
            "scheme": scheme.value,
            "header": header if scheme is AuthScheme.HEADER else "Authorization",
            "required": False,
        },
        "models": {
            "listing": "openai" if has_model_list else "none",
            "path": "/models",
            "needs_auth": False,
            "fallback": model_list,
        },
    }
    if template is not None:
        data["capabilities"] = template.capabilities.model_dump(mode="json")
        data["params"] = [
            p.model_dump(mode="json", exclude_defaults=True)
            | {"name": p.name, "type": p.type.value}
            for p in template.params
        ]
    directory = directory if directory is not None else paths.user_providers_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{provider_id}.toml"
    previous = path.read_bytes() if path.exists() else None
    path.write_text(provider_toml(data), encoding="utf-8")
    loaded = load_provider_file(path)
    if isinstance(loaded, CatalogProblem):
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(previous)
        raise ProviderFileError(f"The provider could not be saved: {loaded.message}")
    return loaded, path

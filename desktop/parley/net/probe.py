"""Find OpenAI-compatible servers running on this computer (Ollama, LM Studio, llama.cpp, vLLM).

Only loopback addresses are probed, all ports at once, with short timeouts; a port that does
not answer like a model server is simply not reported.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from parley.core.protocol import safejson

DEFAULT_PORTS: Mapping[str, int] = {
    "ollama": 11434,
    "lmstudio": 1234,
    "llamacpp": 8080,
    "vllm": 8000,
}

_LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A model server found on this computer: which preset, its OpenAI base URL, its models."""

    provider_id: str
    base_url: str
    models: list[str] = field(default_factory=list)


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _ids_from_openai(payload: Any) -> list[str] | None:
    """`{"data": [{"id": ...}]}` (or a bare list of such objects) -> ids; None if not that."""
    items = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        return None
    return [str(m["id"]) for m in items if isinstance(m, dict) and m.get("id")]


def _ids_from_ollama_tags(payload: Any) -> list[str] | None:
    """Ollama's `/api/tags`: `{"models": [{"name": ...}]}`."""
    items = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return None
    return [str(m.get("name") or m.get("model")) for m in items if isinstance(m, dict)]


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    try:
        response = await client.get(url)
    except (httpx.HTTPError, OSError):
        return None
    if response.status_code != 200:
        return None
    try:
        return safejson.loads(response.content)
    except ValueError:
        return None


async def _probe_one(
    client: httpx.AsyncClient, provider_id: str, host: str, port: int
) -> LocalServer | None:
    root = f"http://{_url_host(host)}:{port}"
    base_url = f"{root}/v1"
    if provider_id == "ollama":
        models = _ids_from_ollama_tags(await _get_json(client, f"{root}/api/tags"))
        if models is not None:
            return LocalServer(provider_id, base_url, models)
    models = _ids_from_openai(await _get_json(client, f"{base_url}/models"))
    if models is None:
        return None
    return LocalServer(provider_id, base_url, models)


async def find_local_servers(
    ports: Mapping[str, int] = DEFAULT_PORTS,
    host: str = "127.0.0.1",
    timeout: float = 0.3,
) -> list[LocalServer]:
    """Probe each `provider_id -> port` on `host` concurrently; return the servers that answer.

    Raises ValueError if `host` is not a loopback address: this never scans the network.
    """
    if not is_loopback(host):
        raise ValueError(
            f"{host} is not this computer; local servers are only looked for on 127.0.0.1."
        )
    # trust_env=False: a proxy from the environment must not see (or swallow) loopback probes.
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), trust_env=False, follow_redirects=False
    ) as client:
        found = await asyncio.gather(
            *(_probe_one(client, pid, host, port) for pid, port in ports.items())
        )
    return [server for server in found if server is not None]

"""Fetch the release manifest and say whether a newer version is out (see parley.core.app.updates).

Every failure — no network, a timeout, an error status, a manifest too large, unsigned, forged,
malformed or announcing an older version — ends in `None` and at most one log line: an update
notice is a courtesy, never an error the user has to deal with.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from parley import __version__
from parley.core.app.updates import (
    MAX_MANIFEST_BYTES,
    PUBLIC_KEY,
    Release,
    UpdateError,
    newer_release,
)

log = logging.getLogger(__name__)


async def fetch_manifest(url: str, *, timeout: float = 10.0, proxy: str | None = None) -> bytes:
    """The manifest's bytes (at most MAX_MANIFEST_BYTES); httpx errors, TimeoutError or
    UpdateError otherwise."""
    # The read timeout restarts with every byte, so a server dripping bytes is cut off by the
    # overall deadline instead.
    async with (
        asyncio.timeout(timeout),
        httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            proxy=proxy,
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": f"Parley/{__version__} (update check)"},
        ) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_MANIFEST_BYTES:
                raise UpdateError("the manifest is too large")
        return bytes(body)


async def check_for_update(
    url: str,
    *,
    current: str = __version__,
    public_key: bytes = PUBLIC_KEY,
    timeout: float = 10.0,
    proxy: str | None = None,
) -> Release | None:
    """The newer release the manifest at `url` announces, or None (whatever went wrong)."""
    try:
        raw = await fetch_manifest(url, timeout=timeout, proxy=proxy)
        release = newer_release(raw, current, public_key)
    except UpdateError as exc:
        log.info("update check: no notice, %s", exc)
        return None
    except TimeoutError:
        log.info("update check: no answer within %g s", timeout)
        return None
    except httpx.HTTPStatusError as exc:
        log.info("update check: the server answered %d", exc.response.status_code)
        return None
    except (httpx.HTTPError, OSError, ValueError) as exc:
        log.info("update check: %s", type(exc).__name__)
        return None
    if release is None:
        log.debug("update check: %s is the newest version", current)
    return release

"""Update notices: the signed release manifest, checked against a key built into the app.

The release workflow publishes ``update-manifest.json``::

    {"manifest": "<base64 of the signed JSON>", "signature": "<base64 Ed25519 signature>"}

where the signed JSON is ``{"app": APP_ID, "version": "0.2.0", "url": "https://..."}``. The bytes
signed are the bytes shipped (no re-serialising, so nothing depends on how JSON is formatted).
Parley only ever *tells* the user that a newer version exists, with the release page's link; it
never downloads or runs anything. Fetching is `parley.net.updates`; this module has no network.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
from dataclasses import dataclass

from parley import APP_ID

# The release manifest's public key (raw Ed25519, 32 bytes). Its private half is the release
# workflow's `PARLEY_UPDATE_KEY` secret; packaging/SIGNING.md says how the pair is made and
# rotated (a new key means a release carrying the new public key, signed with the old one).
PUBLIC_KEY = bytes.fromhex("3628765d2fac3339337fd7c617064fb568c9bb866d90f60eac4c606f5c29aec1")

# Where installed builds look; `PARLEY_UPDATE_URL` overrides it (tests, a staging channel).
MANIFEST_URL = "https://github.com/parley-chat/parley/releases/latest/download/update-manifest.json"
MAX_MANIFEST_BYTES = 64 * 1024

_VERSION = re.compile(r"^\d{1,6}(\.\d{1,6}){0,3}$")


class UpdateError(Exception):
    """A manifest that must not give a notice: unsigned, forged, malformed, for another app."""


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    url: str


def parse_version(text: str) -> tuple[int, ...]:
    """'1.2.10' -> (1, 2, 10), trailing zeros dropped so that 1.2 == 1.2.0; ValueError if not
    a plain dotted version."""
    if not _VERSION.match(text):
        raise ValueError(f"not a version: {text[:40]!r}")
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def manifest_url() -> str | None:
    """The manifest's URL, or None where there is nothing to update (a source checkout, which is
    updated with git, unless `PARLEY_UPDATE_URL` says otherwise)."""
    override = os.environ.get("PARLEY_UPDATE_URL", "").strip()
    if override:
        return override
    return MANIFEST_URL if getattr(sys, "frozen", False) else None


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise UpdateError(f"the manifest has no {what}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UpdateError(f"the manifest's {what} is not base64") from None


def verify_manifest(raw: bytes, public_key: bytes = PUBLIC_KEY) -> Release:
    """The release a manifest announces, if its signature is good; UpdateError otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if len(raw) > MAX_MANIFEST_BYTES:
        raise UpdateError("the manifest is too large")
    try:
        outer = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UpdateError("the manifest is not JSON") from None
    if not isinstance(outer, dict):
        raise UpdateError("the manifest is not a JSON object")
    signed = _b64(outer.get("manifest"), "signed part")
    signature = _b64(outer.get("signature"), "signature")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signed)
    except (InvalidSignature, ValueError):
        raise UpdateError("the manifest's signature does not verify") from None
    try:
        body = json.loads(signed)
    except (ValueError, UnicodeDecodeError):
        raise UpdateError("the signed part is not JSON") from None
    if not isinstance(body, dict) or body.get("app") != APP_ID:
        raise UpdateError("the manifest is not for this app")
    version, url = body.get("version"), body.get("url")
    if not isinstance(version, str) or not isinstance(url, str):
        raise UpdateError("the manifest has no version or link")
    try:
        parse_version(version)
    except ValueError as exc:
        raise UpdateError(str(exc)) from None
    if not url.startswith("https://") or any(ch.isspace() for ch in url) or len(url) > 500:
        raise UpdateError("the manifest's link is not an https URL")
    return Release(version, url)


def newer_release(raw: bytes, current: str, public_key: bytes = PUBLIC_KEY) -> Release | None:
    """The announced release if it is newer than `current`; None if it is not (the same
    version, or an older one: a replayed old manifest never prompts a downgrade)."""
    release = verify_manifest(raw, public_key)
    if parse_version(release.version) <= parse_version(current):
        return None
    return release


def sign_manifest(release: Release, private_key: bytes) -> bytes:
    """The manifest file for `release`, signed with a raw 32-byte Ed25519 private key (the
    release workflow's tool, packaging/sign_manifest.py, and the tests use this)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signed = json.dumps(
        {"app": APP_ID, "version": release.version, "url": release.url}, sort_keys=True
    ).encode()
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(signed)
    return json.dumps(
        {
            "manifest": base64.b64encode(signed).decode(),
            "signature": base64.b64encode(signature).decode(),
        },
        indent=1,
    ).encode()

"""The release manifest: Ed25519 signatures, app id, versions, links."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from parley import APP_ID
from parley.core.app.updates import (
    Release,
    UpdateError,
    manifest_url,
    newer_release,
    parse_version,
    sign_manifest,
    verify_manifest,
)

PRIVATE = Ed25519PrivateKey.generate()
SECRET = PRIVATE.private_bytes_raw()
PUBLIC = PRIVATE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
RELEASE = Release("0.2.0", "https://example.org/parley/releases/0.2.0")


def _signed(body: dict[str, object], key: Ed25519PrivateKey = PRIVATE) -> bytes:
    signed = json.dumps(body).encode()
    return json.dumps(
        {
            "manifest": base64.b64encode(signed).decode(),
            "signature": base64.b64encode(key.sign(signed)).decode(),
        }
    ).encode()


def test_a_signed_manifest_round_trips() -> None:
    raw = sign_manifest(RELEASE, SECRET)
    assert verify_manifest(raw, PUBLIC) == RELEASE
    assert newer_release(raw, "0.1.0", PUBLIC) == RELEASE


@pytest.mark.parametrize("current", ["0.2.0", "0.2", "0.3.0", "1.0"])
def test_the_same_or_an_older_version_gives_no_notice(current: str) -> None:
    assert newer_release(sign_manifest(RELEASE, SECRET), current, PUBLIC) is None


def test_versions_compare_as_numbers() -> None:
    assert parse_version("0.10.0") > parse_version("0.9.9")
    assert parse_version("1.2") == parse_version("1.2.0")
    for bad in ("", "v1.2", "1..2", "1.2-rc1", "1.2.3.4.5", "1e3"):
        with pytest.raises(ValueError):
            parse_version(bad)


def test_another_key_a_changed_body_or_no_signature_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    body = {"app": APP_ID, "version": "9.0", "url": "https://example.org/"}
    with pytest.raises(UpdateError, match="signature"):
        verify_manifest(_signed(body, other), PUBLIC)

    outer = json.loads(sign_manifest(RELEASE, SECRET))
    tampered = json.loads(base64.b64decode(outer["manifest"]))
    tampered["version"] = "9.9.9"
    outer["manifest"] = base64.b64encode(json.dumps(tampered).encode()).decode()
    with pytest.raises(UpdateError, match="signature"):
        verify_manifest(json.dumps(outer).encode(), PUBLIC)

    outer.pop("signature")
    with pytest.raises(UpdateError, match="no signature"):
        verify_manifest(json.dumps(outer).encode(), PUBLIC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"app": "org.example.Other", "version": "9.0", "url": "https://x.org/"}, "not for this"),
        ({"app": APP_ID, "version": "latest", "url": "https://x.org/"}, "not a version"),
        ({"app": APP_ID, "version": "9.0", "url": "javascript:alert(1)"}, "https"),
        ({"app": APP_ID, "version": "9.0", "url": "http://x.org/"}, "https"),
        ({"app": APP_ID, "version": 9, "url": "https://x.org/"}, "no version"),
    ],
)
def test_a_signed_but_unusable_manifest_is_refused(body: dict[str, object], reason: str) -> None:
    with pytest.raises(UpdateError, match=reason):
        verify_manifest(_signed(body), PUBLIC)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"manifest": 1}',
        b'{"manifest": "!!", "signature": ""}',
        b"{" * 70_000,
    ],
)
def test_garbage_is_refused_with_update_error(raw: bytes) -> None:
    with pytest.raises(UpdateError):
        verify_manifest(raw, PUBLIC)


def test_only_installed_builds_or_an_explicit_url_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_UPDATE_URL", raising=False)
    assert manifest_url() is None  # a source checkout: updated with git
    monkeypatch.setenv("PARLEY_UPDATE_URL", "http://127.0.0.1:1/m.json")
    assert manifest_url() == "http://127.0.0.1:1/m.json"


def test_the_built_in_key_is_a_key_and_refuses_other_signers() -> None:
    from parley.core.app.updates import PUBLIC_KEY

    assert len(PUBLIC_KEY) == 32 and PUBLIC_KEY != PUBLIC
    with pytest.raises(UpdateError, match="signature"):
        verify_manifest(sign_manifest(RELEASE, SECRET))

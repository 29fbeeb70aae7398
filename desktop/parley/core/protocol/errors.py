"""Typed errors with messages a person understands.

A ParleyError never holds an API key: every text that may echo one passes through `redact`
before it is stored, and `__repr__` shows only kind, status and provider.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import StrEnum


class ErrorKind(StrEnum):
    AUTH = "auth"  # 401, or a 403 that means "bad key"
    QUOTA = "quota"  # EURI 403 daily token limit / wallet
    BUDGET = "budget"  # 402
    FORBIDDEN = "forbidden"  # other 403
    RATE_LIMIT = "rate_limit"  # 429
    BAD_REQUEST = "bad_request"  # 400, 404, 413, 422 ...
    SERVER = "server"  # 5xx
    NETWORK = "network"  # refused, DNS, TLS, reset
    TIMEOUT = "timeout"
    PROTOCOL = "protocol"  # malformed SSE/JSON, in-stream error, stream ended without finishing
    CONFIG = "config"  # bad input on our side: unknown provider, invalid parameter, no key
    CANCELLED = "cancelled"


# `parley ask` exit codes, one per error class (documented in `parley ask --help`).
EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.CONFIG: 2,
    ErrorKind.AUTH: 3,
    ErrorKind.QUOTA: 4,
    ErrorKind.BUDGET: 4,
    ErrorKind.FORBIDDEN: 3,
    ErrorKind.RATE_LIMIT: 5,
    ErrorKind.BAD_REQUEST: 6,
    ErrorKind.SERVER: 7,
    ErrorKind.NETWORK: 8,
    ErrorKind.TIMEOUT: 9,
    ErrorKind.PROTOCOL: 10,
    ErrorKind.CANCELLED: 130,
}

RETRYABLE = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.SERVER, ErrorKind.NETWORK, ErrorKind.TIMEOUT}
)

REDACTED = "[redacted]"


_MIN_ECHO = 8  # a run this long copied from a key is treated as the key

_remembered: set[str] = set()


def remember_secret(key: str | None) -> None:
    """Note a key this process has read (from the keyring, a session, the environment), so
    that whatever a provider sends back is scrubbed of it too, not only of its own key."""
    if key and len(key) >= 4:
        _remembered.add(key)


def known_secrets() -> list[str]:
    """Every key Parley knows in this process: the environment's and those it has read."""
    import os

    env = [v for k, v in os.environ.items() if k.startswith("PARLEY_API_KEY_") and v]
    return sorted({*env, *_remembered})


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace each secret in `text`, and any run of 8+ characters copied from one.

    Providers often echo a truncated key ("sk-abc12345...", "key eur_ab12cd34 is invalid"), so a
    prefix, suffix or middle part of the key is hidden as well as the whole key.
    """
    # Longest first: a shorter key that shares a stretch with a longer one would otherwise cut
    # the longer one into pieces and leave its ends showing.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) < 4:
            continue
        text = text.replace(secret, REDACTED)
        if len(secret) < _MIN_ECHO or not any(a in text for a in _anchors(secret)):
            continue
        text = _redact_fragments(text, secret)
    return text


def may_echo(text: str, secrets: Iterable[str | None]) -> bool:
    """Whether `text` may hold a secret or a piece of one (what `redact` would change)."""
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        if secret in text or (
            len(secret) >= _MIN_ECHO and any(a in text for a in _anchors(secret))
        ):
            return True
    return False


@functools.lru_cache(maxsize=32)
def _anchors(secret: str) -> frozenset[str]:
    """Every run of 8 characters of `secret`: a text none of them is in (found by C-level
    substring search) has no echo, and skips the character-by-character scan."""
    return frozenset(secret[j : j + _MIN_ECHO] for j in range(len(secret) - _MIN_ECHO + 1))


def _redact_fragments(text: str, secret: str) -> str:
    out: list[str] = []
    i = 0
    anchors = _anchors(secret)
    while i <= len(text) - _MIN_ECHO:
        if text[i : i + _MIN_ECHO] in anchors:
            # Extend the match as far as it keeps following some stretch of the secret.
            end = i + _MIN_ECHO
            while end < len(text) and text[i : end + 1] in secret:
                end += 1
            out.append(REDACTED)
            i = end
        else:
            out.append(text[i])
            i += 1
    out.append(text[i:])
    return "".join(out)


MISSING_KEY_CODE = "missing_key"


def missing_key_error(provider_name: str, env_name: str) -> ParleyError:
    """The one error for a provider that needs a key and has none (bad input on our side, as
    for `parley ask`'s exit code; `code` tells the window to offer the key settings)."""
    return ParleyError(
        ErrorKind.CONFIG,
        f"There is no API key for {provider_name} yet. Add one in the key settings "
        f"(or set {env_name}).",
        provider=provider_name,
        code=MISSING_KEY_CODE,
    )


class ParleyError(Exception):
    """An error a person can act on.

    `message` says what happened and what to do; `provider_message` is the provider's own words
    (already redacted). `partial` is True when tokens had arrived before the failure.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        provider_message: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        partial: bool = False,
        final: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.provider = provider
        self.status = status
        self.provider_message = provider_message
        self.code = code
        self.retry_after = retry_after
        self.request_id = request_id
        self.partial = partial
        self.final = final  # trying again would only repeat it (e.g. a deadline reached)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE and not self.final

    def scrub(self, secrets: Iterable[str | None]) -> ParleyError:
        """Redact `secrets` from every text this error carries (they may come from a
        provider: its message, error code, type and request id)."""
        secrets = [s for s in secrets if s]
        if not secrets:
            return self
        self.message = redact(self.message, secrets)
        self.args = (self.message,)
        for name in ("provider_message", "code", "request_id"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, redact(value, secrets))
        return self

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    def __str__(self) -> str:
        parts = [self.message]
        if self.provider_message and self.provider_message not in self.message:
            who = self.provider or "The provider"
            parts.append(f'{who} said: "{self.provider_message}"')
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"ParleyError(kind={self.kind.value!r}, status={self.status!r}, "
            f"provider={self.provider!r}, code={self.code!r})"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "provider": self.provider,
            "status": self.status,
            "provider_message": self.provider_message,
            "code": self.code,
            "retry_after": self.retry_after,
            "request_id": self.request_id,
            "partial": self.partial,
        }

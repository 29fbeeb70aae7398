"""API keys: the OS keyring, an environment override, or memory for this session only.

Order of precedence when reading a key: the environment variable ``PARLEY_API_KEY_<ID>``
(read-only), then a key kept for this session, then the keyring entry (service ``parley``,
username = provider id, one entry per provider). Nothing here ever writes a key to a file, and
no repr, message or exception raised from here contains one.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Literal

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from parley.core.protocol.errors import ErrorKind, ParleyError, redact, remember_secret

Origin = Literal["env", "keyring", "session"]

SERVICE = "parley"
ENV_PREFIX = "PARLEY_API_KEY_"

NO_KEYRING_MESSAGE = (
    "No keyring is available on this system, so Parley cannot store the key permanently. "
    "You can keep it for this session only."
)

# Backends that keep secrets in a plain file (keyrings.alt) are refused like having none.
_FILE_BACKEND_MODULE_PREFIX = "keyrings.alt"

_FRIENDLY_NAMES = {
    ("keyring.backends.SecretService", "Keyring"): "Secret Service",
    ("keyring.backends.libsecret", "Keyring"): "Secret Service (libsecret)",
    ("keyring.backends.macOS", "Keyring"): "macOS Keychain",
    ("keyring.backends.Windows", "WinVaultKeyring"): "Windows Credential Manager",
    ("keyring.backends.kwallet", "DBusKeyring"): "KWallet",
    ("keyring.backends.kwallet", "DBusKeyringKWallet4"): "KWallet",
}

_PREFIX = re.compile(r"^[A-Za-z]{1,4}[-_]")


def mask(key: str | None) -> str:
    """A key as it may be shown: a short scheme prefix and at most the last 4 characters.

    >>> mask("sk-0123456789abcdefa1b2")
    'sk-…a1b2'
    """
    if not key:
        return ""
    if len(key) < 8:
        return "…"
    tail = key[-4:] if len(key) >= 16 else key[-2:]
    prefix_match = _PREFIX.match(key)
    prefix = prefix_match.group(0) if prefix_match else ""
    return f"{prefix}…{tail}"


def env_var(provider_id: str) -> str:
    """The environment variable that overrides the key of `provider_id`."""
    return ENV_PREFIX + provider_id.upper().replace("-", "_")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A provider's key and where it came from; `key` is None when there is none."""

    key: str | None
    origin: Origin | None

    def __repr__(self) -> str:
        return f"KeyInfo(key={mask(self.key)!r}, origin={self.origin!r})"

    __str__ = __repr__

    @property
    def masked(self) -> str:
        return mask(self.key)

    @property
    def read_only(self) -> bool:
        """True when the key comes from the environment and cannot be changed from Parley."""
        return self.origin == "env"


class KeyringError(ParleyError):
    """The keyring failed (locked, refused, D-Bus trouble). The message never holds a key."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.CONFIG, message)


class KeyringUnavailable(KeyringError):
    """There is no usable keyring backend; a key can only be kept for this session."""

    def __init__(self, message: str = NO_KEYRING_MESSAGE) -> None:
        super().__init__(message)


class KeyringLockedError(KeyringError):
    """The keyring exists but is locked (or the unlock prompt was dismissed)."""


# Exceptions that mean "locked": keyring's own, and SecretStorage's when they slip through.
_LOCKED_NAMES = frozenset({"KeyringLocked", "LockedException", "PromptDismissedException"})


def _is_locked(exc: BaseException) -> bool:
    return any(cls.__name__ in _LOCKED_NAMES for cls in type(exc).__mro__)


def _identity(backend: KeyringBackend) -> tuple[str, str]:
    cls = type(backend)
    return cls.__module__, cls.__name__


def _chained(backend: KeyringBackend) -> list[KeyringBackend] | None:
    """The backends a ChainerBackend delegates to, or None for any other backend."""
    if not isinstance(backend, chainer.ChainerBackend):
        return None
    return list(backend.backends)


def _describe_failure(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> str:
    detail = redact(str(exc), secrets).strip()
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name


class KeyStore:
    """Reads and stores API keys, one keyring entry per provider.

    `backend` defaults to keyring's current backend (``keyring.get_keyring()``, which honours
    ``PYTHON_KEYRING_BACKEND`` and ``keyring.set_keyring``), looked up at each use.
    """

    def __init__(self, service: str = SERVICE, backend: KeyringBackend | None = None) -> None:
        self.service = service
        self._backend = backend
        self._session: dict[str, str] = {}
        self._lock = threading.Lock()
        # The probe result for one backend object: (backend, problem or None).
        self._probe: tuple[KeyringBackend, str | None] | None = None

    def __repr__(self) -> str:
        return (
            f"KeyStore(service={self.service!r}, backend={self.backend_name()!r}, "
            f"session_keys={sorted(self._session)!r})"
        )

    # -- backend ------------------------------------------------------------------------------

    @property
    def backend(self) -> KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    def backend_name(self) -> str:
        """A person's name for the keyring in use, e.g. "Secret Service"."""
        backend = self.backend
        chained = _chained(backend)
        if chained is not None:
            if not chained:
                return "No keyring"
            backend = chained[0]
        if isinstance(backend, fail.Keyring | null.Keyring):
            return "No keyring"
        identity = _identity(backend)
        return _FRIENDLY_NAMES.get(identity, identity[1])

    def backend_available(self) -> bool:
        """True when keys can be stored permanently. Probes the backend once and remembers."""
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        """Why the keyring cannot be used (for the details of a message), or None if it can."""
        backend = self.backend
        static = self._static_problem(backend)
        if static is not None:
            return static
        with self._lock:
            if self._probe is not None and self._probe[0] is backend:
                return self._probe[1]
        problem: str | None = None
        try:
            backend.get_password(self.service, "parley-availability-probe")
        except Exception as exc:
            # A locked keyring is there: using it asks to unlock, or fails with a clear error.
            if not _is_locked(exc):
                problem = f"The keyring ({self.backend_name()}) does not answer: " + (
                    _describe_failure(exc)
                )
        with self._lock:
            self._probe = (backend, problem)
        return problem

    def recheck(self) -> bool:
        """Forget the remembered probe (e.g. after the user started or unlocked a keyring)."""
        with self._lock:
            self._probe = None
        return self.backend_available()

    def _static_problem(self, backend: KeyringBackend) -> str | None:
        chained = _chained(backend)
        if chained is not None:
            if not chained:
                return "No keyring backend is installed or running."
            # The chainer writes to the first backend that accepts; judge by that one.
            return self._static_problem(chained[0])
        if isinstance(backend, fail.Keyring | null.Keyring):
            return "No keyring backend is installed or running."
        identity = _identity(backend)
        if identity[0].startswith(_FILE_BACKEND_MODULE_PREFIX):
            return f"The keyring backend {identity[1]} keeps keys in a file, which Parley refuses."
        return None

    def _mark_unavailable(self, backend: KeyringBackend, exc: BaseException) -> None:
        with self._lock:
            self._probe = (backend, _describe_failure(exc))

    # -- keys ---------------------------------------------------------------------------------

    def env_var(self, provider_id: str) -> str:
        return env_var(provider_id)

    def get(self, provider_id: str) -> KeyInfo:
        """The key to use for `provider_id`: environment, then session, then keyring."""
        _check_provider_id(provider_id)
        from_env = os.environ.get(env_var(provider_id), "").strip()
        if from_env:
            remember_secret(from_env)
            return KeyInfo(from_env, "env")
        with self._lock:
            session_key = self._session.get(provider_id)
        if session_key is not None:
            remember_secret(session_key)
            return KeyInfo(session_key, "session")
        if not self.backend_available():
            return KeyInfo(None, None)
        backend = self.backend
        failure: KeyringError | None = None
        stored: str | None = None
        try:
            stored = backend.get_password(self.service, provider_id)
        except keyring.errors.NoKeyringError as exc:
            self._mark_unavailable(backend, exc)
            return KeyInfo(None, None)
        except Exception as exc:
            failure = self._failure("read", provider_id, exc)
        # Raised outside the except blocks so no exception context rides along.
        if failure is not None:
            raise failure
        if stored:
            remember_secret(stored)
            return KeyInfo(stored, "keyring")
        return KeyInfo(None, None)

    def set(self, provider_id: str, key: str, session_only: bool = False) -> KeyInfo:
        """Store `key` for `provider_id` in the keyring, or in memory when `session_only`.

        Returns what `get` will now report (an environment override still wins).
        Raises KeyringUnavailable when there is no keyring and `session_only` is False,
        KeyringError when the keyring refuses, ValueError when the key cannot be a key.
        """
        _check_provider_id(provider_id)
        key = _clean_key(key)
        if session_only:
            with self._lock:
                self._session[provider_id] = key
            return self.get(provider_id)
        if not self.backend_available():
            raise KeyringUnavailable()
        backend = self.backend
        failure: KeyringError | None = None
        try:
            backend.set_password(self.service, provider_id, key)
        except keyring.errors.NoKeyringError as exc:
            self._mark_unavailable(backend, exc)
            failure = KeyringUnavailable()
        except Exception as exc:
            failure = self._failure("save", provider_id, exc, key)
        # Raised outside the except blocks so no exception context can carry the key along.
        if failure is not None:
            raise failure
        with self._lock:
            self._session.pop(provider_id, None)
        return self.get(provider_id)

    def delete(self, provider_id: str) -> None:
        """Forget the session key and remove the keyring entry (missing entries are fine).

        An environment variable cannot be removed from here; `get` keeps reporting it.
        """
        _check_provider_id(provider_id)
        with self._lock:
            self._session.pop(provider_id, None)
        if not self.backend_available():
            return
        backend = self.backend
        failure: KeyringError | None = None
        try:
            backend.delete_password(self.service, provider_id)
        except keyring.errors.PasswordDeleteError:
            return  # nothing stored
        except keyring.errors.NoKeyringError as exc:
            self._mark_unavailable(backend, exc)
        except Exception as exc:
            failure = self._failure("remove", provider_id, exc)
        if failure is not None:
            raise failure

    def _failure(
        self,
        action: Literal["read", "save", "remove"],
        provider_id: str,
        exc: BaseException,
        key: str | None = None,
    ) -> KeyringError:
        """A clear error for a failed keyring call; the key is redacted from any detail."""
        what = f"{action} the key for {provider_id}"
        instead = {
            "read": ", or enter the key for this session only",
            "save": ", or keep the key for this session only",
            "remove": "",
        }[action]
        if _is_locked(exc):
            return KeyringLockedError(
                f"The keyring ({self.backend_name()}) is locked, so Parley could not {what}. "
                f"Unlock it (in your system's password manager, or by logging in again) and "
                f"try again{instead}."
            )
        return KeyringError(
            f"Parley could not {what}: the keyring ({self.backend_name()}) reported "
            f"{_describe_failure(exc, (key,))}. Try again{instead}."
        )

    def session_providers(self) -> list[str]:
        """Provider ids whose key is kept for this session only."""
        with self._lock:
            return sorted(self._session)


def _check_provider_id(provider_id: str) -> None:
    if not provider_id or not provider_id.strip():
        raise ValueError("A provider id is needed to look up its key.")


def _clean_key(key: str) -> str:
    cleaned = key.strip()
    if not cleaned:
        raise ValueError("The key is empty. Paste the key from the provider's dashboard.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in cleaned):
        raise ValueError(
            "The key contains a line break or another control character. Paste only the key itself."
        )
    return cleaned

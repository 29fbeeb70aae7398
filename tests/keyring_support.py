"""Keyring backends and checks for tests.

`MemoryKeyring` and `BrokenKeyring` are real keyring backends (subclasses of keyring's
`KeyringBackend`), selected with `keyring.set_keyring()` or ``PYTHON_KEYRING_BACKEND``.
Tests marked ``@pytest.mark.keyring`` need a real Secret Service; run them with
``scripts/with-keyring.sh``. Outside such a session they skip, except when ``CI=true``, where a
missing Secret Service fails them (a CI that silently skips the keyring proves nothing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.compat import properties


class MemoryKeyring(KeyringBackend):
    """Keeps passwords in a dict (per instance); `entries` shows exactly what was stored."""

    @properties.classproperty
    def priority(cls) -> float:
        # Below keyring's null backend: never picked automatically, only when selected.
        return -2

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.calls.append("get")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls.append("set")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls.append("delete")
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("No such password!") from None


class BrokenKeyring(KeyringBackend):
    """A backend that fails on use, like a Secret Service whose daemon is gone or locked.

    `fail_on` names the operations that raise `error`; `echo_password` makes the error text
    repeat the password, as a badly behaved backend might.
    """

    @properties.classproperty
    def priority(cls) -> float:
        # Below keyring's null backend: never picked automatically, only when selected.
        return -2

    def __init__(
        self,
        error: type[Exception] = keyring.errors.KeyringLocked,
        fail_on: tuple[str, ...] = ("get", "set", "delete"),
        echo_password: bool = False,
    ) -> None:
        super().__init__()
        self.error = error
        self.fail_on = fail_on
        self.echo_password = echo_password
        self.calls: list[str] = []

    def _maybe_fail(self, op: str, password: str | None = None) -> None:
        self.calls.append(op)
        if op in self.fail_on:
            detail = f" while storing {password}" if self.echo_password and password else ""
            raise self.error(f"Failed to unlock the collection{detail}")

    def get_password(self, service: str, username: str) -> str | None:
        self._maybe_fail("get")
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self._maybe_fail("set", password)

    def delete_password(self, service: str, username: str) -> None:
        self._maybe_fail("delete")
        raise keyring.errors.PasswordDeleteError("No such password!")


@contextmanager
def using_keyring(backend: KeyringBackend) -> Iterator[KeyringBackend]:
    """Make `backend` keyring's current backend for the block, then restore the previous one."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def secret_service_problem() -> str | None:
    """Why no real Secret Service can be used here, or None when one answers."""
    from keyring.backends import SecretService

    try:
        SecretService.Keyring.priority  # noqa: B018  (raises when there is no daemon)
    except Exception as exc:
        return f"no Secret Service on the session bus ({exc})"
    try:
        SecretService.Keyring().get_password("parley-test-probe", "probe")
    except Exception as exc:
        return f"the Secret Service does not answer ({type(exc).__name__}: {exc})"
    return None


def require_secret_service() -> None:
    """Skip (or, when CI=true, fail) unless a real Secret Service is reachable."""
    problem = secret_service_problem()
    if problem is None:
        return
    reason = f"{problem}; run under scripts/with-keyring.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the keyring tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def purge_service(service: str) -> None:
    """Remove every Secret Service item stored under `service` (test cleanup)."""
    import secretstorage

    with suppress(Exception):
        connection = secretstorage.dbus_init()
        try:
            for item in secretstorage.get_default_collection(connection).search_items(
                {"service": service}
            ):
                item.delete()
        finally:
            connection.close()


def secret_service_items(service: str) -> list[tuple[str, str]]:
    """(username, secret) of every Secret Service item stored under `service`."""
    import secretstorage

    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        return sorted(
            (item.get_attributes().get("username", ""), item.get_secret().decode())
            for item in collection.search_items({"service": service})
        )
    finally:
        connection.close()


# The password scripts/with-keyring.sh gives the throwaway login keyring (`echo ""` on stdin).
THROWAWAY_KEYRING_PASSWORD = b"\n"


def require_throwaway_keyring() -> None:
    """Skip unless the Secret Service is the disposable one from scripts/with-keyring.sh."""
    if os.environ.get("PARLEY_THROWAWAY_KEYRING") != "1":
        reason = "locks the keyring, so it runs only under scripts/with-keyring.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)


@contextmanager
def default_collection_locked() -> Iterator[None]:
    """Lock the default Secret Service collection for the block, then unlock it again."""
    import secretstorage
    from secretstorage.defines import SS_PATH
    from secretstorage.util import DBusAddressWrapper, format_secret, open_session

    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        collection.lock()
        assert collection.is_locked()
        try:
            yield
        finally:
            # gnome-keyring's own unlock-with-password call: no prompt needed.
            internal = DBusAddressWrapper(
                SS_PATH, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface", connection
            )
            internal.call(
                "UnlockWithMasterPassword",
                "o(oayays)",
                collection.collection_path,
                format_secret(open_session(connection), THROWAWAY_KEYRING_PASSWORD, "text/plain"),
            )
            assert not collection.is_locked()
    finally:
        connection.close()

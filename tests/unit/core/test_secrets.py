"""KeyStore: keyring backends (keyring's own fail/null/chainer, an in-memory one, a real Secret
Service under scripts/with-keyring.sh), the environment override and session-only keys."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backends import chainer, fail, null

from parley.core.app.secrets import (
    NO_KEYRING_MESSAGE,
    KeyInfo,
    KeyringError,
    KeyringLockedError,
    KeyringUnavailable,
    KeyStore,
    env_var,
    mask,
)
from parley.core.app.settings import Preset, Settings, load_settings, save_settings
from parley.core.protocol.errors import ErrorKind, ParleyError
from tests.keyring_support import (
    BrokenKeyring,
    MemoryKeyring,
    default_collection_locked,
    purge_service,
    require_throwaway_keyring,
    secret_service_items,
)

REPO = Path(__file__).resolve().parents[3]
KEY = "sk-test-0123456789abcdefA1b2"
OTHER_KEY = "sk-other-9876543210zyxwvuC3d4"


@pytest.fixture(autouse=True)
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


def files_containing(folder: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    if not folder.exists():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


# -- mask, env var names, KeyInfo ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("sk-0123456789abcdefa1b2", "sk-…a1b2"),
        ("0123456789abcdefghijXYZW", "…XYZW"),
        ("eu_abcdefghij", "eu_…ij"),
        ("abcdefgh", "…gh"),
        ("short", "…"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_shows_at_most_the_last_four_characters(key: str | None, shown: str) -> None:
    assert mask(key) == shown
    if key:
        visible_tail = shown.split("…")[1]
        assert len(visible_tail) <= 4
        assert key not in shown


@pytest.mark.parametrize(
    ("provider", "name"),
    [
        ("euri", "PARLEY_API_KEY_EURI"),
        ("adaptive-engine", "PARLEY_API_KEY_ADAPTIVE_ENGINE"),
        ("openai-compatible", "PARLEY_API_KEY_OPENAI_COMPATIBLE"),
    ],
)
def test_env_var_name(provider: str, name: str) -> None:
    assert env_var(provider) == name
    assert KeyStore().env_var(provider) == name


def test_keyinfo_repr_and_str_mask_the_key() -> None:
    info = KeyInfo(KEY, "keyring")
    for text in (repr(info), str(info), f"{info}", repr([info]), repr({"k": info})):
        assert KEY not in text
        assert "sk-…A1b2" in text
        assert "keyring" in text
    assert info.masked == "sk-…A1b2"
    assert not info.read_only
    assert KeyInfo(KEY, "env").read_only


def test_default_service_is_parley() -> None:
    backend = MemoryKeyring()
    KeyStore(backend=backend).set("euri", KEY)
    assert backend.entries == {("parley", "euri"): KEY}


# -- no keyring: keyring's own fail and null backends, an empty chainer ------------------------


def test_fail_backend_is_unavailable_and_set_raises_a_plain_message() -> None:
    keyring.set_keyring(fail.Keyring())
    store = KeyStore()
    assert store.backend_available() is False
    assert store.backend_name() == "No keyring"
    with pytest.raises(KeyringUnavailable) as caught:
        store.set("euri", KEY)
    assert str(caught.value) == NO_KEYRING_MESSAGE
    assert isinstance(caught.value, ParleyError)
    assert caught.value.kind is ErrorKind.CONFIG
    assert KEY not in repr(caught.value)
    assert store.get("euri") == KeyInfo(None, None)


def test_fail_backend_session_only_key_works_in_memory(parley_home: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    store = KeyStore()
    info = store.set("euri", KEY, session_only=True)
    assert info == KeyInfo(KEY, "session")
    assert store.get("euri") == KeyInfo(KEY, "session")
    assert store.get("nordlys") == KeyInfo(None, None)
    assert store.session_providers() == ["euri"]
    assert KEY not in repr(store)
    # A fresh store (a restarted app) does not know the session key.
    assert KeyStore().get("euri") == KeyInfo(None, None)
    store.delete("euri")
    assert store.get("euri") == KeyInfo(None, None)
    assert files_containing(parley_home, KEY) == []


def test_null_backend_is_unavailable() -> None:
    store = KeyStore(backend=null.Keyring())
    assert store.backend_available() is False
    with pytest.raises(KeyringUnavailable):
        store.set("euri", KEY)


def test_chainer_without_backends_is_unavailable() -> None:
    class EmptyChainer(chainer.ChainerBackend):
        backends: list[object] = []  # noqa: RUF012  (keyring declares it as a class property)

    store = KeyStore(backend=EmptyChainer())
    assert store.backend_available() is False
    assert store.backend_name() == "No keyring"
    with pytest.raises(KeyringUnavailable):
        store.set("euri", KEY)


def test_chainer_is_judged_by_its_first_backend() -> None:
    memory = MemoryKeyring()

    class OneChainer(chainer.ChainerBackend):
        backends = [memory]  # noqa: RUF012

    store = KeyStore(backend=OneChainer())
    assert store.backend_available() is True
    assert store.backend_name() == "MemoryKeyring"
    store.set("euri", KEY)
    assert memory.entries == {("parley", "euri"): KEY}


def test_python_keyring_backend_env_selects_the_fail_backend() -> None:
    code = (
        "from parley.core.app.secrets import KeyStore, KeyringUnavailable\n"
        "s = KeyStore()\n"
        "print(s.backend_name(), s.backend_available())\n"
        "try:\n"
        "    s.set('euri', 'sk-never-stored-0123456789')\n"
        "except KeyringUnavailable as e:\n"
        "    print('unavailable:', e)\n"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[0] == "No keyring False"
    assert out.splitlines()[1] == f"unavailable: {NO_KEYRING_MESSAGE}"


def test_python_keyring_backend_env_selects_a_working_backend() -> None:
    code = (
        "from parley.core.app.secrets import KeyStore\n"
        "s = KeyStore()\n"
        "print(s.backend_name(), s.backend_available())\n"
        "s.set('euri', 'sk-memory-0123456789abcd')\n"
        "print(s.get('euri').origin, s.get('euri').key == 'sk-memory-0123456789abcd')\n"
    )
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "tests.keyring_support.MemoryKeyring",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["MemoryKeyring True", "keyring True"]


# -- a working backend (in memory) --------------------------------------------------------------


def test_set_get_delete_round_trip_one_entry_per_provider(parley_home: Path) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    store = KeyStore()
    assert store.backend_available() is True

    assert store.set("euri", KEY) == KeyInfo(KEY, "keyring")
    store.set("nordlys", OTHER_KEY)
    store.set("euri", KEY + "new")  # replaces, does not add
    assert backend.entries == {("parley", "euri"): KEY + "new", ("parley", "nordlys"): OTHER_KEY}
    assert store.get("euri") == KeyInfo(KEY + "new", "keyring")

    store.delete("euri")
    assert store.get("euri") == KeyInfo(None, None)
    assert backend.entries == {("parley", "nordlys"): OTHER_KEY}
    store.delete("euri")  # deleting what is not there is fine
    assert files_containing(parley_home, OTHER_KEY) == []


def test_env_overrides_keyring_and_session_and_is_read_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = MemoryKeyring()
    store = KeyStore(backend=backend)
    store.set("adaptive-engine", KEY)
    monkeypatch.setenv("PARLEY_API_KEY_ADAPTIVE_ENGINE", f"  {OTHER_KEY}\n")
    assert store.get("adaptive-engine") == KeyInfo(OTHER_KEY, "env")
    store.set("adaptive-engine", "sk-session-0123456789abcdef", session_only=True)
    assert store.get("adaptive-engine") == KeyInfo(OTHER_KEY, "env")
    # Deleting cannot remove the environment variable; the keyring entry does go.
    store.delete("adaptive-engine")
    assert store.get("adaptive-engine").origin == "env"
    assert backend.entries == {}
    monkeypatch.setenv("PARLEY_API_KEY_ADAPTIVE_ENGINE", "   ")  # blank counts as unset
    assert store.get("adaptive-engine") == KeyInfo(None, None)


def test_session_key_wins_over_keyring_until_a_permanent_key_is_set() -> None:
    backend = MemoryKeyring()
    store = KeyStore(backend=backend)
    store.set("euri", KEY)
    store.set("euri", OTHER_KEY, session_only=True)
    assert store.get("euri") == KeyInfo(OTHER_KEY, "session")
    assert backend.entries == {("parley", "euri"): KEY}  # the session key never reached it
    store.set("euri", KEY + "2")
    assert store.get("euri") == KeyInfo(KEY + "2", "keyring")
    assert store.session_providers() == []


def test_keys_are_cleaned_and_bad_ones_refused() -> None:
    backend = MemoryKeyring()
    store = KeyStore(backend=backend)
    assert store.set("euri", f"  {KEY}\n").key == KEY
    with pytest.raises(ValueError, match="empty"):
        store.set("euri", " \n ")
    with pytest.raises(ValueError, match="line break") as caught:
        store.set("euri", "sk-abc\ndef0123456789")
    assert "sk-abc" not in str(caught.value)
    with pytest.raises(ValueError, match="provider id"):
        store.set("", KEY)
    assert backend.entries == {("parley", "euri"): KEY}


# -- a backend that fails on use ----------------------------------------------------------------


def test_backend_that_raises_on_use_is_unavailable_and_the_probe_is_cached() -> None:
    broken = BrokenKeyring(error=keyring.errors.InitError)
    store = KeyStore(backend=broken)
    assert store.backend_available() is False
    reason = store.unavailable_reason()
    assert reason is not None
    assert "InitError" in reason
    assert store.backend_available() is False
    assert broken.calls == ["get"]  # probed once, remembered
    with pytest.raises(KeyringUnavailable):
        store.set("euri", KEY)
    assert store.set("euri", KEY, session_only=True).origin == "session"
    # recheck() probes again (e.g. after the user started their keyring).
    broken.fail_on = ()
    assert store.recheck() is True
    assert broken.calls == ["get", "get"]


def test_a_locked_keyring_is_available_and_saving_says_it_is_locked() -> None:
    broken = BrokenKeyring(error=keyring.errors.KeyringLocked, echo_password=True)
    store = KeyStore(backend=broken)
    assert store.backend_available() is True  # it exists; using it asks to unlock
    with pytest.raises(KeyringLockedError) as caught:
        store.set("euri", KEY)
    message = str(caught.value)
    assert "is locked" in message
    assert "could not save the key for euri" in message
    assert "Unlock it" in message
    assert "for this session only" in message
    assert KEY not in message
    assert caught.value.__context__ is None
    with pytest.raises(KeyringLockedError, match="could not read the key for euri"):
        store.get("euri")
    assert store.set("euri", KEY, session_only=True).origin == "session"


def test_keyring_failure_on_save_gives_a_clear_error_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    broken = BrokenKeyring(
        error=keyring.errors.PasswordSetError, fail_on=("set",), echo_password=True
    )
    store = KeyStore(backend=broken)
    assert store.backend_available() is True
    with pytest.raises(KeyringError) as caught:
        store.set("euri", KEY)
    err = caught.value
    assert not isinstance(err, KeyringUnavailable | KeyringLockedError)
    assert "could not save the key for euri" in str(err)
    assert "PasswordSetError" in str(err)
    assert "[redacted]" in str(err)  # the backend echoed the key; it was taken out
    assert "for this session only" in str(err)
    formatted = "".join(traceback.format_exception(err))
    for text in (str(err), repr(err), formatted, caplog.text):
        assert KEY not in text
        assert KEY[: len(KEY) // 2] not in text
    assert err.__cause__ is None
    assert err.__context__ is None


def test_keyring_errors_on_read_and_delete_are_clear() -> None:
    broken = BrokenKeyring(error=keyring.errors.KeyringLocked, fail_on=())
    store = KeyStore(backend=broken)
    assert store.backend_available() is True
    broken.fail_on = ("get", "delete")
    with pytest.raises(KeyringError, match="could not read the key for euri"):
        store.get("euri")
    with pytest.raises(KeyringError, match="could not remove the key for euri"):
        store.delete("euri")


def test_no_keyring_error_mid_use_turns_into_unavailable() -> None:
    broken = BrokenKeyring(error=keyring.errors.NoKeyringError, fail_on=())
    store = KeyStore(backend=broken)
    assert store.backend_available() is True
    broken.fail_on = ("set",)
    with pytest.raises(KeyringUnavailable):
        store.set("euri", KEY)
    assert store.backend_available() is False


@pytest.mark.parametrize(
    ("module", "name", "shown"),
    [
        ("keyring.backends.SecretService", "Keyring", "Secret Service"),
        ("keyring.backends.macOS", "Keyring", "macOS Keychain"),
        ("keyring.backends.Windows", "WinVaultKeyring", "Windows Credential Manager"),
        ("somewhere.else", "FancyVault", "FancyVault"),
    ],
)
def test_backend_names(module: str, name: str, shown: str) -> None:
    cls = type(name, (MemoryKeyring,), {"__module__": module})
    assert KeyStore(backend=cls()).backend_name() == shown


def test_plain_file_backends_are_refused() -> None:
    cls = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"})
    store = KeyStore(backend=cls())
    assert store.backend_available() is False
    assert "file" in (store.unavailable_reason() or "")
    with pytest.raises(KeyringUnavailable):
        store.set("euri", KEY)


# -- a real Secret Service (gnome-keyring under dbus-run-session) -------------------------------


@pytest.fixture
def secret_service() -> Iterator[str]:
    """A unique service name on the real Secret Service, purged afterwards.

    Unique so that running these tests in a developer's desktop session never touches the
    real "parley" entries.
    """
    from keyring.backends import SecretService

    keyring.set_keyring(SecretService.Keyring())
    service = f"parley-test-{uuid.uuid4().hex[:8]}"
    yield service
    purge_service(service)


@pytest.mark.keyring
def test_secret_service_is_the_default_backend_in_the_session() -> None:
    code = (
        "from parley.core.app.secrets import KeyStore\n"
        "s = KeyStore()\n"
        "print(s.backend_name(), s.backend_available())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "Secret Service True"


@pytest.mark.keyring
def test_secret_service_round_trip_one_entry_per_provider(secret_service: str) -> None:
    store = KeyStore(service=secret_service)
    assert store.backend_name() == "Secret Service"
    assert store.backend_available() is True

    assert store.set("euri", KEY) == KeyInfo(KEY, "keyring")
    store.set("nordlys", OTHER_KEY)
    store.set("euri", KEY + "v2")
    assert secret_service_items(secret_service) == [("euri", KEY + "v2"), ("nordlys", OTHER_KEY)]

    # A second store (a restarted app) reads what the first wrote.
    again = KeyStore(service=secret_service)
    assert again.get("euri") == KeyInfo(KEY + "v2", "keyring")
    assert again.get("eigenai") == KeyInfo(None, None)

    again.delete("euri")
    again.delete("euri")
    assert store.get("euri") == KeyInfo(None, None)
    assert secret_service_items(secret_service) == [("nordlys", OTHER_KEY)]


@pytest.mark.keyring
def test_secret_service_env_override_wins(
    secret_service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(service=secret_service)
    store.set("adaptive-engine", KEY)
    monkeypatch.setenv("PARLEY_API_KEY_ADAPTIVE_ENGINE", OTHER_KEY)
    assert store.get("adaptive-engine") == KeyInfo(OTHER_KEY, "env")
    monkeypatch.delenv("PARLEY_API_KEY_ADAPTIVE_ENGINE")
    assert store.get("adaptive-engine") == KeyInfo(KEY, "keyring")
    assert secret_service_items(secret_service) == [("adaptive-engine", KEY)]


@pytest.mark.keyring
def test_secret_service_key_is_in_no_file_under_parley_home(
    secret_service: str, parley_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = KeyStore(service=secret_service)
    store.set("euri", KEY)
    store.set("nordlys", OTHER_KEY, session_only=True)
    # What the app does around a key: remember the provider, a preset, save the settings.
    settings = Settings(last_provider="euri", last_model="gpt-4.1-mini")
    settings.presets["cold"] = Preset(params={"temperature": 0}, provider="euri")
    save_settings(settings)
    assert load_settings().last_provider == "euri"
    assert store.get("euri").key == KEY

    assert (parley_home / "settings.json").is_file()
    grep = subprocess.run(
        ["grep", "-rlF", "-e", KEY, "-e", OTHER_KEY, str(parley_home)],
        capture_output=True,
        text=True,
    )
    assert grep.returncode == 1, f"a key was found in {grep.stdout}"
    assert files_containing(parley_home, KEY) == []
    assert KEY not in caplog.text
    assert OTHER_KEY not in caplog.text


@pytest.mark.keyring
def test_secret_service_locked_collection_gives_a_locked_error(secret_service: str) -> None:
    require_throwaway_keyring()
    store = KeyStore(service=secret_service)
    store.set("euri", KEY)
    with default_collection_locked():
        assert KeyStore(service=secret_service).backend_available() is True
        with pytest.raises(KeyringLockedError) as caught:
            store.set("nordlys", OTHER_KEY)
        assert "Secret Service" in str(caught.value)
        assert "is locked" in str(caught.value)
        assert OTHER_KEY not in str(caught.value)
        with pytest.raises(KeyringLockedError, match="could not read the key for euri"):
            store.get("euri")
        assert store.set("nordlys", OTHER_KEY, session_only=True).origin == "session"
    # Unlocked again: the stored key is still there and saving works.
    assert store.get("euri") == KeyInfo(KEY, "keyring")
    store.set("nordlys", OTHER_KEY)
    assert secret_service_items(secret_service) == [("euri", KEY), ("nordlys", OTHER_KEY)]

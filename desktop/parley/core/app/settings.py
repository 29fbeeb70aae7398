"""User settings: a validated JSON file in the data folder, with a schema version.

A missing file gives the defaults. A file that cannot be read or validated never stops Parley:
the defaults (or whatever could be salvaged) are used, the file is moved aside as
``settings.json.bad-<timestamp>`` and `Settings.problems` says what happened. Saving is
atomic (temporary file + ``os.replace``). Keys have no place here: no field is meant for one,
and anything that looks like a key (a key-named entry, a bearer token, credentials in a URL) is
refused on load and on save.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from parley.core.app import paths
from parley.core.protocol.limits import LimitError, loads_json, read_capped

SCHEMA_VERSION = 1
MAX_SETTINGS_BYTES = 1024 * 1024  # a settings file is a few KB, even with many presets

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    # Version 0 is a file written before the schema carried a version.
    return {**data, "schema_version": 1}


# MIGRATIONS[n] turns a version-n dict into a version-(n + 1) dict.
MIGRATIONS: dict[int, Migration] = {0: _v0_to_v1}


# -- what looks like a key ---------------------------------------------------------------------

_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "secret",
        "secrets",
        "password",
        "passwd",
        "authorization",
        "auth",
        "bearer",
        "credential",
        "credentials",
        "cookie",
    }
)
# Names that contain such a word but carry no secret (send_key is the Enter/Ctrl+Enter choice).
KNOWN_NON_SECRET_NAMES = frozenset({"send_key", "prompt_cache_key", "idempotency_key", "sort_key"})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_BEARER_VALUE = re.compile(r"^\s*bearer\s+\S{8,}\s*$", re.IGNORECASE)
# "sk-..." style keys: the prefix, then a long run of letters and digits (both present).
_KEY_VALUE = re.compile(r"^\s*(sk|rk)[-_](?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}\s*$")
# Inside a JSON schema (structured output, tool parameters) names are the user's data fields.
_SCHEMA_NAME_KEYS = frozenset({"properties", "patternProperties", "$defs", "definitions"})


def looks_like_secret_name(name: str) -> bool:
    """True for names such as api_key, X-API-Key, token, access_token, client_secret."""
    lowered = name.strip().lower()
    if lowered in KNOWN_NON_SECRET_NAMES:
        return False
    words = [w for w in _NON_WORD.split(_CAMEL.sub(r"\1_\2", name).lower()) if w]
    if not words:
        return False
    if any(w in _SECRET_WORDS for w in words) or "apikey" in "".join(words):
        return True
    # "token" as the last word names a credential (access_token); "max_tokens" does not.
    return words[-1] == "token"


def looks_like_secret_value(value: str) -> bool:
    """True for strings shaped like an API key or a bearer token."""
    return bool(_BEARER_VALUE.match(value) or _KEY_VALUE.match(value))


def _secret_paths(value: Any, where: str, check_names: bool = True) -> list[str]:
    """Where inside `value` something looks like a key (names and locations only, never values)."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for name, item in value.items():
            here = f"{where}.{name}"
            if check_names and isinstance(name, str) and looks_like_secret_name(name):
                found.append(here)
            else:
                found.extend(_secret_paths(item, here, check_names=name not in _SCHEMA_NAME_KEYS))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(_secret_paths(item, f"{where}[{index}]"))
    elif isinstance(value, str) and looks_like_secret_value(value):
        found.append(where)
    return found


def _refuse_secrets(value: Any, where: str) -> None:
    found = _secret_paths(value, where)
    if found:
        raise ValueError(
            f"{', '.join(found)} looks like an API key or token. Keys are never kept in the "
            "settings file; store them in the key settings (the system keyring) instead."
        )


def _check_url(value: str, what: str, schemes: tuple[str, ...], allow_userinfo: bool) -> str:
    url = value.strip()
    if not url or any(ch.isspace() for ch in url):
        raise ValueError(f"{what} must be a URL without spaces, like {schemes[0]}://host:port")
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"{what} must start with {' or '.join(s + '://' for s in schemes)}")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"{what} has an invalid port number") from None
    if not host:
        raise ValueError(f"{what} needs a host name, like {schemes[0]}://example.com")
    if parts.password is not None or (parts.username is not None and not allow_userinfo):
        raise ValueError(
            f"{what} contains a user name or password. Parley keeps no credentials in its "
            "settings; set them in the environment (e.g. HTTPS_PROXY) or the key settings."
        )
    if any(looks_like_secret_name(name) for name, _ in parse_qsl(parts.query)):
        raise ValueError(
            f"{what} carries a key in its query string. Remove it and store the key in the "
            "key settings instead."
        )
    return url


# -- the model ----------------------------------------------------------------------------------


def _base_url(value: str) -> str:
    return _check_url(value, "A base URL", ("https", "http"), allow_userinfo=False).rstrip("/")


# Validated one by one, so a bad URL names its provider and the others survive it.
BaseUrl = Annotated[str, AfterValidator(_base_url)]


class Preset(BaseModel):
    """A named parameter set: parameter values by name, advanced JSON, and optionally a provider."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)
    advanced: dict[str, Any] = Field(default_factory=dict)
    provider: str | None = None

    @model_validator(mode="after")
    def _no_secrets(self) -> Preset:
        _refuse_secrets(self.params, "params")
        _refuse_secrets(self.advanced, "advanced")
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    theme: Literal["system", "light", "dark"] = "system"
    send_key: Literal["enter", "ctrl_enter"] = "enter"
    font_size: int = Field(default=11, ge=8, le=32)
    proxy: str | None = None
    # Seconds a provider may stay silent (before the first token, or between two) before the
    # answer fails as timed out.
    read_timeout: float = Field(default=120.0, ge=5.0, le=3600.0)
    last_provider: str | None = None
    last_model: str | None = None
    base_urls: dict[str, BaseUrl] = Field(default_factory=dict)
    models: dict[str, str] = Field(default_factory=dict)
    presets: dict[str, Preset] = Field(default_factory=dict)
    first_run_done: bool = False
    panel_visible: bool = True
    # Look for a newer version at start (installed builds): None until the user has answered.
    update_check: bool | None = None

    _problems: list[str] = PrivateAttr(default_factory=list)

    def __eq__(self, other: object) -> bool:
        # Equal when the settings are; what went wrong while loading does not count.
        if not isinstance(other, Settings):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    @property
    def problems(self) -> list[str]:
        """What went wrong while loading (plain sentences; empty when the file was fine)."""
        return self._problems

    @field_validator("proxy", mode="before")
    @classmethod
    def _proxy_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            return _check_url(
                value, "The proxy", ("http", "https", "socks5", "socks5h"), allow_userinfo=False
            )
        return value

    @field_validator("last_provider", "last_model", "models")
    @classmethod
    def _no_key_shaped_values(cls, value: Any, info: ValidationInfo) -> Any:
        _refuse_secrets(value, info.field_name or "value")
        return value


# -- load and save ------------------------------------------------------------------------------


def migrate(
    data: dict[str, Any],
    migrations: Mapping[int, Migration] = MIGRATIONS,
    target: int = SCHEMA_VERSION,
) -> dict[str, Any]:
    """Bring a settings dict of any older schema version up to `target`."""
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError("schema_version must be a whole number")
    while version < target:
        step = migrations.get(version)
        if step is None:
            raise ValueError(f"there is no migration from settings version {version}")
        data = step(dict(data))
        version = data.get("schema_version", version + 1)
    return data


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _set_aside(path: Path, suffix: str, *, copy: bool = False) -> Path | None:
    """Move (or copy) `path` to `<name>.<suffix>-<timestamp>`; None if that failed."""
    base = path.with_name(f"{path.name}.{suffix}-{_timestamp()}")
    target, n = base, 1
    while target.exists():
        target = base.with_name(f"{base.name}-{n}")
        n += 1
    try:
        if copy:
            shutil.copy2(path, target)
        else:
            os.replace(path, target)
    except OSError:
        return None
    return target


def _describe(error: ValidationError) -> str:
    # Built from locations and messages only: pydantic's str() would echo the input values.
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "the file"
        if item["type"] == "extra_forbidden":
            name = str(item["loc"][-1]) if item["loc"] else ""
            text = (
                "looks like an API key, which is never kept in the settings file"
                if looks_like_secret_name(name)
                else "is not a setting Parley knows"
            )
        else:
            text = item["msg"].removeprefix("Value error, ").rstrip(".")
        parts.append(f"{where}: {text}")
    return "; ".join(parts)


_COLLECTIONS = ("base_urls", "models", "presets")


def _salvage(data: dict[str, Any], error: ValidationError) -> Settings | None:
    """Keep every setting that is valid (down to single presets and URLs); drop the rest."""
    kept = {k: v for k, v in data.items() if k in Settings.model_fields}
    for item in error.errors(include_input=False, include_url=False):
        loc = item["loc"]
        if not loc:
            return None
        field = loc[0]
        entries = kept.get(str(field))
        if field in _COLLECTIONS and len(loc) >= 2 and isinstance(entries, dict):
            kept[str(field)] = {k: v for k, v in entries.items() if k != loc[1]}
        else:
            kept.pop(str(field), None)
    try:
        return Settings.model_validate(kept)
    except ValidationError:
        return None


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings; never raises. See `Settings.problems` for what went wrong."""
    path = path if path is not None else paths.settings_path()
    try:
        raw_text = read_capped(path, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return Settings()
    except LimitError as exc:
        return _broken(path, str(exc), None)
    except OSError as exc:
        settings = Settings()
        settings.problems.append(
            f"Parley could not read its settings file {path} ({exc.strerror or exc}); "
            "it uses the default settings for now."
        )
        return settings

    try:
        data = loads_json(raw_text.decode("utf-8"), "it")
        if not isinstance(data, dict):
            raise ValueError("the file does not hold a JSON object")
    except LimitError as exc:
        return _broken(path, str(exc), None)
    except (UnicodeDecodeError, ValueError) as exc:
        return _broken(path, f"it is not valid JSON ({_plain(exc)})", None)

    version = data.get("schema_version", 0)
    newer = isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION
    try:
        if newer:
            known = {k: v for k, v in data.items() if k in Settings.model_fields}
            data = {**known, "schema_version": SCHEMA_VERSION}
        else:
            data = migrate(data)
    except ValueError as exc:
        return _broken(path, f"it could not be upgraded ({_plain(exc)})", None)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        return _broken(path, f"some settings are invalid ({_describe(exc)})", _salvage(data, exc))

    if newer:
        backup = _set_aside(path, f"v{version}", copy=True)
        kept_as = f" A copy was kept as {backup.name}." if backup else ""
        settings.problems.append(
            f"The settings file was written by a newer Parley (version {version}). Settings "
            f"this version does not know are ignored and will not be saved.{kept_as}"
        )
    return settings


def _plain(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0]


def _broken(path: Path, reason: str, salvaged: Settings | None) -> Settings:
    moved = _set_aside(path, "bad")
    where = f" The old file was kept as {moved.name}." if moved else ""
    using = "the settings that could be read" if salvaged is not None else "default settings"
    settings = salvaged if salvaged is not None else Settings()
    settings.problems.append(
        f"Parley could not use its settings file because {reason}. It started with {using}.{where}"
    )
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Validate and write the settings atomically; returns the path written.

    Raises ValueError (a pydantic ValidationError) when something in them looks like a key
    or is otherwise invalid — nested dicts can be changed without validation, so they are
    checked again here.
    """
    path = path if path is not None else paths.settings_path()
    data = settings.model_dump(mode="json")
    data["schema_version"] = SCHEMA_VERSION
    checked = Settings.model_validate(data)
    text = json.dumps(checked.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return path

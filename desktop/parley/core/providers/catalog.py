"""Providers as data: the schema of a provider file and the loader of the catalog.

Built-in provider files live in `resources/providers/*.toml`; a user's own files in
`<data dir>/providers/*.toml` add providers or override built-ins with the same id. A broken
file yields a `CatalogProblem` naming the file and the field; the other files still load.

Parsing TOML is most of the loading time (validating is a fifth of it), so `load_catalog` can
keep the parsed files in a cache keyed by each file's SHA-256: a file whose bytes changed is
parsed again, and every file, cached or not, is validated on every load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from parley.core.app.paths import resources_dir
from parley.core.protocol.limits import (
    MAX_DEPTH,
    LimitError,
    check_depth,
    pattern_risk,
    read_capped,
)

MAX_PROVIDER_FILE_BYTES = 1024 * 1024  # the built-in files are under 20 KB
MAX_PARAMS = 500  # the built-in providers have under 60


class ParamType(StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"
    STRING_LIST = "string_list"
    ENUM = "enum"
    JSON = "json"


class ParamGroup(StrEnum):
    SAMPLING = "sampling"
    LENGTH = "length"
    OUTPUT = "output"
    REASONING = "reasoning"
    ROUTING = "routing"
    PRIVACY = "privacy"
    ADVANCED = "advanced"


class AuthScheme(StrEnum):
    BEARER = "bearer"  # Authorization: Bearer <key>
    HEADER = "header"  # <auth.header>: <key>, e.g. X-API-Key
    NONE = "none"


class ModelListing(StrEnum):
    OPENAI = "openai"  # {"data": [{"id": ...}, ...]}
    ARRAY = "array"  # [{"id": ...}, ...]
    NONE = "none"  # no endpoint: the file's list plus free text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamSpec(_Strict):
    name: str = Field(min_length=1)
    type: ParamType
    help: str = Field(min_length=1)
    group: ParamGroup = ParamGroup.ADVANCED
    # Dotted path in the request body; defaults to `name`. e.g. "reasoning.effort".
    wire: str | None = None
    label: str | None = None
    default: Any = None  # the provider's documented default, shown greyed; never sent
    min: float | None = None
    max: float | None = None
    choices: list[str] | None = None  # for enum
    max_items: int | None = None  # for string_list
    item_noun: str = (
        "values"  # what a string_list holds, for messages: "stop takes at most 4 sequences"
    )
    pattern: str | None = None  # regex a string (or each list item) must match
    pattern_help: str | None = None  # how to describe the pattern to a person, e.g. "a UUID"
    # string_list params that the wire also accepts as a single string (OpenAI `stop`).
    allow_single: bool = False
    item_choices: list[str] | None = None  # string_list: every item must be one of these
    suggestions: list[str] | None = None  # known values to offer; not enforced
    # json: what the value must be. "string_map" = an object whose values are all strings.
    json_shape: Literal["any", "object", "array", "string_map"] = "any"
    example: str | None = None  # a short example value, shown as a placeholder / in errors
    deprecated: bool = False  # still accepted by the provider, but superseded

    @property
    def wire_path(self) -> str:
        return self.wire or self.name

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type is ParamType.ENUM and not self.choices:
            raise ValueError("an enum parameter needs `choices`")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` is greater than `max`")
        numeric = self.type in (ParamType.NUMBER, ParamType.INTEGER)
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError(f"`min`/`max` apply only to number or integer, not {self.type.value}")
        if self.choices and self.type is not ParamType.ENUM:
            raise ValueError("`choices` apply only to enum; use `suggestions` for hints")
        if self.item_choices and self.type is not ParamType.STRING_LIST:
            raise ValueError("`item_choices` apply only to string_list")
        if self.pattern is not None:
            risk = pattern_risk(self.pattern)
            if risk is not None:
                raise ValueError(f"`pattern` {risk}")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a valid regular expression: {exc}") from exc
        if self.wire is not None and not all(self.wire.split(".")):
            raise ValueError(f"`wire` {self.wire!r} has an empty part")
        return self


class AuthSpec(_Strict):
    scheme: AuthScheme = AuthScheme.BEARER
    header: str = "Authorization"  # used when scheme == header
    key_hint: str | None = None  # e.g. "eur_..." to help a person recognise the key
    required: bool = True  # False for local servers


class ModelsSpec(_Strict):
    listing: ModelListing = ModelListing.OPENAI
    path: str = "/models"
    needs_auth: bool = True
    fallback: list[str] = Field(default_factory=list)
    # Adaptive Engine: a model is "project" or "project/model".
    naming: Literal["plain", "project"] = "plain"
    # Parameters that can stand in for the model (EUrouter: models, rule_id, rule_name); when
    # one is set the model may be left empty and is then not sent.
    optional_when: list[str] = Field(default_factory=list)


class Capabilities(_Strict):
    vision: bool = False
    video: bool = False
    tools: bool = False
    reasoning: bool = False
    logprobs: bool = False
    stream_usage: bool = False  # accepts stream_options.include_usage
    json_schema: bool = False


class Quirks(_Strict):
    # Adaptive Engine returns a session_id to be sent back on the next turn.
    session_id: bool = False
    # Images only as base64 data URIs (no http URLs).
    image_data_uri_only: bool = False
    # Strip <think>...</think> from content into reasoning.
    think_tags: bool = True
    # Messages must be plain strings (EURI documents string content only).
    string_content_only: bool = False
    # Continue a cut-off answer in place: the server goes on from a final assistant message.
    # The body fields that ask for it ({} when the server does it by itself, as llama.cpp's
    # does; vLLM wants continue_final_message). None: Continue asks in a new user turn.
    continue_final: dict[str, Any] | None = None


class ProviderSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    description: str = ""
    base_url: str  # may be "" where the user must give one (self-hosted, custom)
    base_url_hint: str | None = None  # e.g. "https://<your deployment>/api/v1"
    chat_path: str = "/chat/completions"
    docs_url: str | None = None
    local: bool = False  # a server on localhost (Ollama, LM Studio, ...)
    auth: AuthSpec = AuthSpec()
    models: ModelsSpec = ModelsSpec()
    capabilities: Capabilities = Capabilities()
    quirks: Quirks = Quirks()
    params: list[ParamSpec] = Field(default_factory=list)

    @field_validator("params", mode="before")
    @classmethod
    def _not_too_many(cls, params: Any) -> Any:
        if isinstance(params, list) and len(params) > MAX_PARAMS:
            raise ValueError(
                f"lists {len(params):,} parameters; a provider has at most {MAX_PARAMS}"
            )
        return params

    @field_validator("params")
    @classmethod
    def _unique_params(cls, params: list[ParamSpec]) -> list[ParamSpec]:
        names: set[str] = set()
        wires: dict[str, str] = {}
        for p in params:
            if p.name in names:
                raise ValueError(f"parameter {p.name!r} is listed twice")
            names.add(p.name)
            if p.wire_path in wires:
                other = wires[p.wire_path]
                raise ValueError(f"parameters {other!r} and {p.name!r} both go to {p.wire_path!r}")
            wires[p.wire_path] = p.name
        for other_path, other_name in wires.items():
            parts = other_path.split(".")
            for cut in range(1, len(parts)):  # every shorter dotted prefix, looked up
                path = ".".join(parts[:cut])
                if path in wires:
                    raise ValueError(
                        f"parameter {wires[path]!r} ({path!r}) would overwrite "
                        f"{other_name!r} ({other_path!r})"
                    )
        return params

    @model_validator(mode="after")
    def _known_optional_when(self) -> ProviderSpec:
        for name in self.models.optional_when:
            if self.param(name) is None:
                raise ValueError(f"models.optional_when names {name!r}, which is not a parameter")
        return self

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def env_key_name(self) -> str:
        return "PARLEY_API_KEY_" + self.id.upper().replace("-", "_")


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    """A provider file that could not be loaded: which file, which field, what is wrong."""

    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.path}{where}: {self.message}"


def _field_of(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            name = node.get("name") if isinstance(node, dict) else None
            parts.append(f"[{name!r}]" if name else f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


class ParseCache:
    """Parsed provider files (what `tomllib` made of them) by the SHA-256 of their bytes, kept
    in one JSON file. A missing, unreadable or corrupt cache file is treated as empty; one that
    cannot be written is skipped. Only parsing is saved: the data is validated as always."""

    VERSION = 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Any] = {}
        self._used: set[str] = set()
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, RecursionError):
            stored = json.loads(path.read_bytes())
            if isinstance(stored, dict) and stored.get("version") == self.VERSION:
                entries = stored.get("files")
                if isinstance(entries, dict):
                    self._entries = entries

    def parse(self, raw: bytes) -> dict[str, Any]:
        """What `tomllib.loads` makes of the file's text (raises as it does)."""
        digest = hashlib.sha256(raw).hexdigest()
        self._used.add(digest)
        cached = self._entries.get(digest)
        if isinstance(cached, dict):
            return cached
        data = parse_toml(raw)
        try:
            json.dumps(data)  # TOML dates and times have no JSON form: such files are not kept
        except (TypeError, ValueError):
            return data
        self._entries[digest] = data
        self._dirty = True
        return data

    def save(self) -> None:
        """Write the entries used since loading (if anything changed), atomically."""
        if not self._dirty and self._used == set(self._entries):
            return
        entries = {k: v for k, v in self._entries.items() if k in self._used}
        body = json.dumps({"version": self.VERSION, "files": entries}, separators=(",", ":"))
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".providers-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
            os.replace(tmp, self.path)
            tmp = None
        except OSError:
            pass  # a cache that cannot be written only means parsing again next time
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def parse_toml(raw: bytes) -> dict[str, Any]:
    """A provider file's bytes as `tomllib` reads its text (UTF-8, universal newlines, as
    `Path.read_text` gives it). Raises UnicodeDecodeError, or ValueError (TOMLDecodeError)."""
    import tomllib  # only for files not in the parse cache

    return tomllib.loads(raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"))


def load_provider_file(
    path: Path, cache: ParseCache | None = None
) -> ProviderSpec | CatalogProblem:
    try:
        raw = read_capped(path, MAX_PROVIDER_FILE_BYTES)
        data = cache.parse(raw) if cache is not None else parse_toml(raw)
        check_depth(data, "it")
    except LimitError as exc:
        return CatalogProblem(path, "", f"cannot be read: {exc}")
    except OSError as exc:
        return CatalogProblem(path, "", f"cannot be read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        return CatalogProblem(path, "", f"cannot be read: it is not UTF-8 text ({exc.reason})")
    except RecursionError:
        return CatalogProblem(
            path, "", f"cannot be read: it is nested more than {MAX_DEPTH} levels deep"
        )
    except ValueError as exc:  # tomllib.TOMLDecodeError
        return CatalogProblem(path, "", f"is not valid TOML: {exc}")
    try:
        return ProviderSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        message = err["msg"].removeprefix("Value error, ")
        return CatalogProblem(path, _field_of(tuple(err["loc"]), data), message + more)


def builtin_providers_dir() -> Path:
    """The built-in provider files: `resources/providers` in a checkout, packaged otherwise."""
    return resources_dir() / "providers"


@dataclass
class Catalog:
    providers: dict[str, ProviderSpec]
    problems: list[CatalogProblem]
    user_ids: frozenset[str] = frozenset()  # ids defined or overridden by the user's files

    def get(self, provider_id: str) -> ProviderSpec | None:
        return self.providers.get(provider_id)

    def __iter__(self) -> Any:
        return iter(self.providers.values())


def load_catalog(
    builtin_dir: Path | None = None,
    user_dirs: Iterable[Path] = (),
    *,
    cache_path: Path | None = None,
) -> Catalog:
    """Load built-in providers, then the user's files (which add or override by id).

    With `cache_path`, parsed files are kept there (see `ParseCache`) for the next load.
    """
    cache = ParseCache(cache_path) if cache_path is not None else None
    providers: dict[str, ProviderSpec] = {}
    problems: list[CatalogProblem] = []
    user_ids: set[str] = set()
    dirs: list[tuple[Path, bool]] = [(builtin_dir or builtin_providers_dir(), False)]
    dirs += [(d, True) for d in user_dirs]
    for directory, is_user in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            result = load_provider_file(path, cache)
            if isinstance(result, CatalogProblem):
                problems.append(result)
                continue
            providers[result.id] = result
            if is_user:
                user_ids.add(result.id)
    if cache is not None:
        cache.save()
    return Catalog(providers, problems, frozenset(user_ids))


def is_configured(spec: ProviderSpec, *, has_key: bool, saved_base_url: bool, listed: bool) -> bool:
    """Whether a provider is set up to be used: its key where it needs one (and an address),
    else something that shows its server is there (a saved address, a model list fetched)."""
    if spec.auth.required and spec.auth.scheme is not AuthScheme.NONE:
        return has_key and bool(spec.base_url or saved_base_url)
    return has_key or saved_base_url or listed

"""What the commands share: the catalog, settings and keys, argument types, the answer's
output and the exit codes."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from parley.core.app.paths import user_providers_dir
from parley.core.protocol.errors import EXIT_CODES, ErrorKind, ParleyError
from parley.core.providers.catalog import Catalog, ProviderSpec, load_catalog

if TYPE_CHECKING:
    from parley.core.store import Store

EXIT_OK = 0
EXIT_UNEXPECTED = 1

_EXIT_MEANINGS = {
    ErrorKind.CONFIG: "bad input: unknown provider, invalid parameter, no key",
    ErrorKind.AUTH: "the key was refused (401) or access is forbidden (403)",
    ErrorKind.QUOTA: "quota or budget exhausted (EURI 403 quota, 402)",
    ErrorKind.RATE_LIMIT: "rate limited (429), still after retries",
    ErrorKind.BAD_REQUEST: "the provider rejected the request (400, 404, 422)",
    ErrorKind.SERVER: "the provider failed (5xx), still after retries",
    ErrorKind.NETWORK: "the provider could not be reached (refused, DNS, TLS)",
    ErrorKind.TIMEOUT: "the provider did not answer in time",
    ErrorKind.PROTOCOL: "a malformed or cut-off response; the partial answer was printed",
    ErrorKind.CANCELLED: "interrupted (Ctrl+C); the partial answer was printed",
}


def _catalog() -> Catalog:
    return load_catalog(user_dirs=[user_providers_dir()])


def _fail(message: str, code: int, out: TextIO | None = None) -> int:
    stream = out or sys.stderr
    print(f"parley: {terminal_text(message, stream)}", file=stream)
    return code


def _provider(catalog: Catalog, provider_id: str) -> ProviderSpec:
    spec = catalog.get(provider_id)
    if spec is None:
        known = ", ".join(sorted(catalog.providers))
        raise ParleyError(
            ErrorKind.CONFIG, f"There is no provider {provider_id!r}. Known providers: {known}."
        )
    return spec


def _settings() -> Any:
    from parley.core.app.settings import load_settings

    settings = load_settings()
    for problem in settings.problems:  # a broken file was set aside: say so, go on
        print(f"parley: {problem}", file=sys.stderr)
    return settings


def _key_for(spec: ProviderSpec) -> str | None:
    from parley.core.app.secrets import KeyStore

    return KeyStore().get(spec.id).key


def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    from parley.core.protocol.limits import LimitError
    from parley.core.providers.params import parse_cli_value

    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise ParleyError(
                ErrorKind.CONFIG,
                f"--param takes NAME=VALUE, like temperature=0.2 (got {_shown(item)}).",
            )
        try:
            params[name.strip()] = parse_cli_value(raw)
        except LimitError as err:
            raise ParleyError(ErrorKind.CONFIG, f"--param {_shown(name)}: {err}.") from None
    return params


def _shown(text: str, limit: int = 60) -> str:
    """A value the user typed, quoted and cut short for a message."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 1]) + "…"


# Argument types: argparse reports a bad value as `argument --x: <message>` and exits 2.


def _seconds(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"takes a positive number of seconds, like 30 (got {_shown(text)})"
        )
    return value


def _positive_int(text: str) -> int:
    """A conversation id or a count: a whole number SQLite can hold."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value < 2**63:
        raise argparse.ArgumentTypeError(f"takes a whole number from 1 up (got {_shown(text)})")
    return value


def _json_object(text: str) -> str:
    """--advanced: checked here (a JSON object, bounded, finite numbers); given back as text,
    which `ask` parses."""
    from parley.core.protocol.limits import LimitError, finite_numbers, loads_json

    try:
        value = loads_json(text, "the JSON")
    except LimitError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, like '{\"x\": 1}'")
    if not finite_numbers(value):
        raise argparse.ArgumentTypeError("holds a number too large for JSON (like 1e400)")
    return text


def _read_prompt(prompt: str) -> str:
    if prompt == "-":
        return sys.stdin.read()
    return prompt


def finish_answer_output(result: Any, *, as_json: bool, extra: dict[str, Any]) -> int:
    """After an answer streamed (ask, replay): the JSON object or the closing newline and the
    error line, and the exit code."""
    if as_json:
        print(json.dumps({**result.to_dict(), **extra}, ensure_ascii=False))
    else:
        if result.text and not result.text.endswith("\n"):
            sys.stdout.write("\n")
        if result.error is not None:
            print(f"parley: {terminal_text(str(result.error), sys.stderr)}", file=sys.stderr)
    sys.stdout.flush()
    if result.error is not None:
        code: int = result.error.exit_code
        return code
    if result.status == "stopped":
        return EXIT_CODES[ErrorKind.CANCELLED]
    return EXIT_OK


def _report_unsaved(store: Any) -> None:
    problem = store.unsaved
    if problem is None:
        return
    if store.rescue_file is not None:
        where = (
            f"It was kept in {store.rescue_file} and goes into the history the next time "
            "Parley opens it for writing."
        )
    else:
        where = "It could not be kept anywhere else either; the printed answer is all there is."
    print(
        f"parley: the answer is not in the history yet: {problem.message} {where}", file=sys.stderr
    )


# Control characters a terminal acts on (escape sequences start with ESC or C1 CSI/OSC):
# everything below space except tab and newline, DEL, and the C1 range.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str, stream: TextIO) -> str:
    """`text` as it may be written to `stream`: on a terminal, without the control characters
    a provider could use to move the cursor, retitle the window or hide text (the raw text
    stays in --json and the history)."""
    if not _is_terminal(stream):
        return text
    return _TERMINAL_CONTROLS.sub("", text)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _echo(event: object) -> None:
    from parley.core.protocol.events import ReasoningDelta, RefusalDelta, Retrying, TextDelta

    if isinstance(event, TextDelta) and event.choice == 0:
        sys.stdout.write(terminal_text(event.text, sys.stdout))
        sys.stdout.flush()
    elif isinstance(event, ReasoningDelta | RefusalDelta) and event.choice == 0:
        sys.stderr.write(terminal_text(event.text, sys.stderr))
        sys.stderr.flush()
    elif isinstance(event, Retrying):
        _echo_retry(event.attempt, event.delay, event.error)


def _echo_retry(attempt: int, delay: float, error: object) -> None:
    said = terminal_text(str(error), sys.stderr)
    print(f"parley: {said} Retrying in {delay:.1f} s (attempt {attempt}).", file=sys.stderr)


def _open_store(read_only: bool = False) -> Store:
    from parley.core.store import Store

    return Store.open(read_only=read_only)


def _all_keys() -> list[str]:
    """Every key Parley can find (environment and keyring, for every provider it knows), to
    scrub from an export: a key pasted into a chat for another provider is still a key."""
    from parley.core.app.secrets import KeyStore
    from parley.core.store.export import env_secrets

    keys = list(env_secrets())
    failed: list[str] = []
    try:
        store = KeyStore()
        if not store.backend_available():
            failed.append("any provider (no keyring is available)")
        for spec in _catalog():
            try:
                key = store.get(spec.id).key
            except Exception as exc:  # a locked or absent keyring: the environment's keys only
                failed.append(f"{spec.id} ({type(exc).__name__})")
                continue
            if key:
                keys.append(key)
    except Exception as exc:
        failed.append(f"the keyring ({type(exc).__name__})")
    if failed:
        print(
            "parley: the keyring could not be read for "
            + ", ".join(failed[:3])
            + (" and others" if len(failed) > 3 else "")
            + ": a key kept there and pasted into a chat would not be scrubbed; "
            "keys in PARLEY_API_KEY_* variables were.",
            file=sys.stderr,
        )
    return keys


def _model_dict(m: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(m) and not isinstance(m, type):
        return dataclasses.asdict(m)
    dump = getattr(m, "model_dump", None)
    return dump() if callable(dump) else dict(vars(m))

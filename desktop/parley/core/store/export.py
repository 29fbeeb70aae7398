"""Export a conversation as Markdown (readable: the shown branch) or JSON (lossless: every
branch and every stored field), and import such JSON back as a new conversation.

JSON round trip: `export_json(import_json(export_json(c)))` equals `export_json(c)` except for
`exported_at`, the ids (conversation and message ids are new; `parent_id` and
`current_leaf_id` keep pointing at the same messages) and the conversation's `updated_at`
(the import time, so an imported conversation shows at the top of the list). An answer
exported while still "streaming" is imported as "interrupted".

No key is ever written: request bodies are stored without headers, and every export is
scrubbed of the keys in the environment (PARLEY_API_KEY_*) and of any `secrets` given.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from parley.core.protocol.errors import known_secrets, redact
from parley.core.protocol.limits import LimitError, check_depth, loads_json
from parley.core.protocol.request import ImagePart, TextPart, VideoPart
from parley.core.store import Store, StoredMessage
from parley.core.store.errors import StoreError, StoreErrorKind

FORMAT = "parley.conversation"
FORMAT_VERSION = 1

ExportFormat = Literal["md", "json"]

_CONVERSATION_FIELDS = (
    "id",
    "title",
    "title_set",
    "system_prompt",
    "provider",
    "model",
    "params",
    "advanced",
    "preset",
    "pinned",
    "session_id",
    "draft",
    "current_leaf_id",
    "created_at",
    "updated_at",
)
_MESSAGE_FIELDS = (
    "id",
    "parent_id",
    "role",
    "text",
    "content",
    "reasoning",
    "refusal",
    "tool_calls",
    "tool_call_id",
    "name",
    "status",
    "error",
    "finish_reason",
    "request_body",
    "provider",
    "model",
    "model_used",
    "meta",
    "usage",
    "metrics",
    "cost",
    "extra",
    "created_at",
    "updated_at",
)


def env_secrets() -> list[str]:
    """The API keys set in the environment: never to appear in an export."""
    return [v for k, v in os.environ.items() if k.startswith("PARLEY_API_KEY_") and v]


def _scrub(text: str, secrets: Iterable[str]) -> str:
    return redact(text, [*known_secrets(), *secrets])


# -- JSON --------------------------------------------------------------------------------


def export_json(store: Store, conv_id: int, *, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The whole conversation, every branch, every stored field, as plain JSON data."""
    text = export_json_text(store, conv_id, secrets=secrets)
    data: dict[str, Any] = json.loads(text)
    return data


def export_json_text(store: Store, conv_id: int, *, secrets: Iterable[str] = ()) -> str:
    conv = store.get_conversation(conv_id)
    data = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "conversation": {f: getattr(conv, f) for f in _CONVERSATION_FIELDS},
        "messages": [_message_record(m, store) for m in store.messages(conv_id)],
    }
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _scrub(text, secrets) + "\n"


def _message_record(m: StoredMessage, store: Store) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for f in _MESSAGE_FIELDS:
        value = getattr(m, f)
        if f == "content" and not isinstance(value, str):
            value = [p.model_dump(mode="json", exclude_none=True) for p in value]
        elif f == "tool_calls" and value is not None:
            value = [c.model_dump(mode="json") for c in value]
        record[f] = value
    if m.role == "assistant":
        exchange = store.exchanges(m.id)
        if exchange:
            record["exchange"] = [a.to_dict() for a in exchange]
    return record


def import_json(store: Store, data: str | bytes | Mapping[str, Any]) -> int:
    """Add a conversation exported by `export_json`; return its new id.

    Raises StoreError(INVALID) with a readable message for anything that is not such an
    export: not UTF-8 or not JSON, nested too deep, another format or a newer version, fields
    of the wrong type (checked with the store's own record models), broken message links.
    Nothing is stored then.
    """
    if isinstance(data, (str, bytes)):
        try:
            parsed = loads_json(data, "The file")
        except LimitError as exc:
            raise StoreError(
                StoreErrorKind.INVALID, f"{exc}: this is not a Parley export."
            ) from None
        except UnicodeDecodeError:
            raise StoreError(
                StoreErrorKind.INVALID, "This file is not text (UTF-8), so not a Parley export."
            ) from None
        except ValueError as exc:
            raise StoreError(
                StoreErrorKind.INVALID, f"This is not a JSON file ({_plain(exc)})."
            ) from None
    else:
        parsed = data
        check_depth(parsed, "The export")
    if not isinstance(parsed, Mapping) or parsed.get("format") != FORMAT:
        raise StoreError(
            StoreErrorKind.INVALID,
            'This JSON is not a Parley conversation export (no "format": "parley.conversation").',
        )
    version = parsed.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        shown = version if isinstance(version, int) and abs(version) < 10**9 else "unknown"
        raise StoreError(
            StoreErrorKind.INVALID,
            f"This export has format version {shown!r}; this Parley reads up to "
            f"{FORMAT_VERSION}. Update Parley to import it.",
        )
    conversation = parsed.get("conversation")
    messages = parsed.get("messages")
    if not isinstance(conversation, Mapping) or not isinstance(messages, list):
        raise StoreError(
            StoreErrorKind.INVALID, 'The export has no "conversation" or "messages" section.'
        )
    return store.import_records(conversation, messages)


def _plain(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0][:200]


# -- Markdown ----------------------------------------------------------------------------


def export_markdown(store: Store, conv_id: int, *, secrets: Iterable[str] = ()) -> str:
    """The conversation as it is shown (the current branch), readable as Markdown."""
    conv = store.get_conversation(conv_id)
    path = store.current_path(conv_id)
    out: list[str] = [f"# {conv.title or 'Untitled conversation'}", ""]
    facts = []
    if conv.provider or conv.model:
        facts.append(" · ".join(x for x in (conv.provider, conv.model) if x))
    facts.append(f"started {_when(conv.created_at)}")
    facts.append(f"exported {_when(datetime.now(UTC).timestamp())}")
    out += [f"*{' · '.join(facts)}*", ""]
    if conv.params:
        settings = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in conv.params.items()
        )
        out += [f"Parameters: `{settings}`", ""]
    if len(path) < len(store.messages(conv_id)):
        out += ["*This conversation has other branches; the JSON export holds them all.*", ""]
    if conv.system_prompt:
        out += ["## System prompt", "", _quote(conv.system_prompt), ""]
    for m in path:
        out += _message_markdown(m)
    return _scrub("\n".join(out).rstrip() + "\n", secrets)


def _message_markdown(m: StoredMessage) -> list[str]:
    heading = {
        "user": "User",
        "assistant": "Assistant",
        "system": "System",
        "developer": "Developer",
        "tool": "Tool",
    }.get(m.role, m.role.title())
    if m.role == "tool" and m.name:
        heading += f" ({m.name})"
    out = [f"## {heading}", ""]
    if m.reasoning:
        out += [
            "<details>",
            "<summary>Reasoning</summary>",
            "",
            m.reasoning.strip(),
            "",
            "</details>",
            "",
        ]
    if isinstance(m.content, str):
        if m.content:
            out += [m.content.rstrip(), ""]
    else:
        for part in m.content:
            if isinstance(part, TextPart):
                out.append(part.text)
            elif isinstance(part, ImagePart):
                label = part.name or "image"
                out.append(
                    f"![{label}]({part.url})" if part.url else f"*[image: {label}, {part.mime}]*"
                )
            elif isinstance(part, VideoPart):
                out.append(f"[video]({part.url})")
        out.append("")
    if m.refusal:
        out += [f"> **Refused:** {m.refusal}", ""]
    for call in m.tool_calls or []:
        out += [f"Tool call `{call.name}` ({call.id}):", "", "```json", call.arguments, "```", ""]
    if m.error:
        out += [f"> **Failed:** {m.error.get('message', '')}", ""]
    if m.role == "assistant":
        line = _answer_facts(m)
        if line:
            out += [f"*{line}*", ""]
    return out


def _answer_facts(m: StoredMessage) -> str:
    facts: list[str] = []
    if m.model_used and m.model and m.model_used != m.model:
        facts.append(f"{m.model_used} (asked for {m.model})")
    elif m.model_used or m.model:
        facts.append(str(m.model_used or m.model))
    if m.provider:
        facts.append(m.provider)
    usage = m.usage or {}
    tokens_in, tokens_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if tokens_in is not None or tokens_out is not None:
        facts.append(f"{_or_q(tokens_in)} in / {_or_q(tokens_out)} out tokens")
    metrics = m.metrics or {}
    if isinstance(metrics.get("total_ms"), (int, float)):
        facts.append(f"{metrics['total_ms'] / 1000:.1f} s")
    if isinstance(metrics.get("tokens_per_s"), (int, float)):
        facts.append(f"{metrics['tokens_per_s']:.0f} tok/s")
    if m.cost is not None:
        facts.append(f"${m.cost:.4f}")
    if m.status != "complete":
        facts.append(m.status)
    return " · ".join(facts)


def _or_q(value: Any) -> str:
    return "?" if value is None else str(value)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def export_conversation(
    store: Store, conv_id: int, fmt: ExportFormat, *, secrets: Iterable[str] = ()
) -> str:
    """The export text in `fmt` ("md" or "json"), for `parley export`."""
    if fmt == "json":
        return export_json_text(store, conv_id, secrets=secrets)
    return export_markdown(store, conv_id, secrets=secrets)


class ExportWriteError(Exception):
    """An export file could not be written; `message` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def write_export(path: Path | str, text: str) -> Path:
    """Write `text` to `path` atomically: into a temporary file beside it, then renamed over
    it, so a full disk or a crash leaves an existing file as it was and never half a file.

    Raises ExportWriteError: the path is a folder, its folder is missing, the disk is full,
    no permission.
    """
    path = Path(path)
    if path.is_dir():
        raise ExportWriteError(
            f"{path} is a folder. Give a file name, like {path / 'conversation.md'}."
        )
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ExportWriteError(f"Cannot write {path}: the folder {folder} {what}.")
    data = text.encode("utf-8")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ExportWriteError(_write_problem(path, exc)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


def _mode_for(path: Path) -> int:
    """The file's own permissions when it exists, else what a new file gets (umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_problem(path: Path, exc: OSError) -> str:
    unchanged = " An existing file there is unchanged." if path.exists() else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"The disk is full: {path} could not be written.{unchanged} Free some space."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"Parley may not write {path} ({exc.strerror}).{unchanged}"
    return f"Cannot write {path}: {exc.strerror or exc}.{unchanged}"

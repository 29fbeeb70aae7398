"""The request preview: the PreparedRequest the next send would make, shown in the panel.

`ChatSession.preview` builds it with the builder the send uses, so the preview is what is sent
(after a regenerate, an edit, a branch switch, a provider or model change alike). In a long
conversation building it and its text takes long enough to stall the window, so the
`PreviewController` builds both in a worker thread, a moment after the last change; only the
newest build is shown.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from parley.core.chat.prepared import PreparedRequest, needs_key
from parley.core.protocol.errors import ParleyError
from parley.core.store import StoreError

if TYPE_CHECKING:
    from parley.core.chat.session import ChatSession, RunConfig
    from parley.ui.tasks import TaskRegistry

PLACEHOLDER = "…"  # the message not typed yet
# Strings longer than this (base64 images) are shortened in the preview text only.
PREVIEW_STRING_LIMIT = 4000
# A longer history shows its first and last messages in the preview text, with a note saying how
# many are left out between them (they are sent; `preview_body()` and Copy body have them all):
# building and laying out the JSON of 2,000 messages stalled the window on every turn.
PREVIEW_HEAD_MESSAGES = 4
PREVIEW_TAIL_MESSAGES = 40
DEBOUNCE_MS = 40
MISSING_BASE_URL = "https://base-url-not-set"


@dataclass(frozen=True)
class PreviewView:
    """What the panel shows: the request line and headers, the body text, and the request."""

    target: str
    body: str
    prepared: PreparedRequest | None = field(default=None, repr=False)
    elided: int = 0  # messages left out of `body` (sent, and in `prepared`)


@dataclass(frozen=True)
class PreviewContext:
    """What the next send would be made from (read on the GUI thread)."""

    conversation_id: int | None
    config: RunConfig
    system_prompt: str = ""  # a new chat's, not stored yet


def _elide_long_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > PREVIEW_STRING_LIMIT:
        return value[:120] + f"… [{len(value):,} characters]"
    if isinstance(value, dict):
        return {k: _elide_long_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_elide_long_strings(v) for v in value]
    return value


def render_preview(prepared: PreparedRequest, *, missing_base: bool = False) -> PreviewView:
    """The preview's text for `prepared` (no Qt: runs in a worker thread)."""
    body = prepared.body_json
    messages = body.get("messages") if isinstance(body, dict) else None
    elided = 0
    if isinstance(messages, list):
        n = len(messages)
        if n > PREVIEW_HEAD_MESSAGES + PREVIEW_TAIL_MESSAGES + 1:
            elided = n - PREVIEW_HEAD_MESSAGES - PREVIEW_TAIL_MESSAGES
    lines = [
        f"{prepared.method} {prepared.url}"
        + ("  (set a base URL for this provider)" if missing_base else "")
    ]
    lines += [f"{k}: {v}" for k, v in prepared.redacted_headers().items()]
    if not prepared.has_key and needs_key(prepared.spec):
        lines.append("(no key set for this provider: its key header is added once there is one)")
    if elided:
        lines.append(
            f"({elided:,} messages in the middle of the history are sent but not shown "
            "below; Copy body copies them all)"
        )
    if elided:
        assert isinstance(messages, list) and isinstance(body, dict)
        head = PREVIEW_HEAD_MESSAGES
        note = f"… {elided:,} more messages, sent but not shown here …"
        shown: Any = {**body, "messages": [*messages[:head], note, *messages[head + elided :]]}
    else:
        shown = body
    text = json.dumps(_elide_long_strings(shown), indent=2, ensure_ascii=False)
    return PreviewView("\n".join(lines), text, prepared, elided)


def build_preview(session: ChatSession, context: PreviewContext, key: str | None) -> PreviewView:
    """The PreparedRequest of the next send and its text; raises ParleyError, StoreError."""
    config = context.config
    spec = session.spec(config.provider)
    missing_base = not (config.base_url or spec.base_url)
    if missing_base:
        # Still show the body; say plainly that the URL is missing.
        config = replace(config, base_url=spec.base_url_hint or MISSING_BASE_URL)
    prepared = session.preview(
        context.conversation_id,
        PLACEHOLDER,
        config,
        key=key,
        system_prompt=context.system_prompt if context.conversation_id is None else "",
    )
    return render_preview(prepared, missing_base=missing_base)


class PreviewController(QObject):
    """Keeps the panel's preview the request of the next send.

    `schedule()` after anything that changes it; the build runs a moment later in a worker
    thread (`context()` is read then, on the GUI thread; None: nothing to show). Until
    `enable()` (the chat session is importable once the window has warmed up) it only
    remembers that a build is due.
    """

    def __init__(
        self,
        panel: Any,  # parley.ui.params_panel.ParamsPanel
        tasks: TaskRegistry,
        session: Callable[[], ChatSession],
        context: Callable[[], PreviewContext | None],
        key: Callable[[str], str | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self._tasks = tasks
        self._session = session
        self._context = context
        self._key = key
        self._enabled = False
        self._due = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._build)
        panel.preview_wanted.connect(self.schedule)

    def enable(self) -> None:
        self._enabled = True
        if self._due:
            self.schedule()

    def stop(self) -> None:
        """No more builds (the window is closing)."""
        self._enabled = False
        self._timer.stop()

    def schedule(self) -> None:
        self._due = True
        self.panel.mark_preview_stale()
        if self._enabled and self.panel.wants_preview():
            self._timer.start()

    def _build(self) -> None:
        if not self._enabled or not self.panel.wants_preview():
            return
        context = self._context()
        if context is None:
            return
        self._due = False
        self._tasks.start(("preview",), self._run(context))

    async def _run(self, context: PreviewContext) -> None:
        session = self._session()

        def work() -> PreviewView:
            spec = session.spec(context.config.provider)
            key = self._key(spec.id) if needs_key(spec) else None
            return build_preview(session, context, key)

        try:
            view = await asyncio.to_thread(work)
        except ParleyError as exc:
            self.panel.show_preview_error(f"Cannot build the request: {exc}")
            return
        except StoreError as exc:
            self.panel.show_preview_error(f"Cannot read the conversation: {exc.message}")
            return
        self.panel.show_preview(view)

    async def wait_idle(self) -> None:
        """Return once no build is due or running (for tests and benchmarks)."""
        while self._timer.isActive() or self._tasks.running(("preview",)):
            task = self._tasks.get(("preview",))
            if task is not None and not task.done():
                await asyncio.wait([task])
            else:
                await asyncio.sleep(DEBOUNCE_MS / 1000)

"""The composer's token estimate: what the next send would take against the model's context
length, updated while typing (`parley.core.chat.tokens` estimates; this part only feeds it).

The branch's share is computed once per shown branch (it changes on a send, an answer, a
branch switch); each keystroke then costs only the draft's estimate, after a short pause.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from parley.core.chat.tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    TokenEstimate,
    estimate_history,
)
from parley.core.chat.tokens import estimate_text_tokens as _tokens
from parley.core.store import Store, StoreError
from parley.ui import theme
from parley.ui.composer import Composer
from parley.ui.layout import SystemPromptBox

DELAY_MS = 150


class TokenMeter(QObject):
    def __init__(
        self,
        composer: Composer,
        system_prompt: SystemPromptBox,
        store: Callable[[], Store],
        conversation_id: Callable[[], int | None],
        context_length: Callable[[], int | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._composer = composer
        self._system = system_prompt
        self._store = store
        self._conversation_id = conversation_id
        self._context_length = context_length
        self._history_key: tuple[int, int | None] | None = None
        self._history_tokens = 0
        self.estimate: TokenEstimate | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self.update_now)
        composer.edit.textChanged.connect(self._timer.start)
        composer.attachments_changed.connect(self._timer.start)
        system_prompt.edit.textChanged.connect(self._timer.start)

    def schedule(self) -> None:
        """The branch, the model or the system prompt changed."""
        self._history_key = None
        self._timer.start()

    def _history(self) -> int:
        cid = self._conversation_id()
        if cid is None:
            return 0
        try:
            leaf = self._store().current_leaf(cid)
            key = (cid, leaf)
            if key != self._history_key:
                path = self._store().current_path(cid)
                self._history_tokens = estimate_history([m.text for m in path])
                self._history_key = key
        except StoreError:
            return 0
        return self._history_tokens

    def update_now(self) -> TokenEstimate:
        draft = self._composer.draft()
        system = self._system.text()
        tokens = self._history() + _tokens(draft) + MESSAGE_OVERHEAD
        if system:
            tokens += _tokens(system) + MESSAGE_OVERHEAD
        tokens += IMAGE_TOKENS * len(self._composer.attachments())
        estimate = TokenEstimate(tokens, self._context_length())
        self.estimate = estimate
        label = self._composer.token_label
        label.setText(estimate.text())
        label.setToolTip(
            "What the next send would take: the system prompt, this branch's messages and your "
            "message. Estimated (about 4 characters a token); the provider's count may differ."
        )
        theme.tag(label, text="error_text" if estimate.over else "muted")
        return estimate

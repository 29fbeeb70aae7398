"""The open conversation and its turns: send, regenerate, retry, continue, edit, replay, stop.

`ChatController` owns the chat session (made on first use), which conversation is open, its
draft and attachments, the branch the chat view shows, and every stream's events. Every stream
runs in the task slot `("stream", conversation)`, so a new send in a chat cancels that chat's
previous stream. It drives the chat view, the composer, the system prompt and the banner it is
given, and tells the rest of the window what happened by signals; it never calls the window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from parley.core.chat.waiting import retry_reason
from parley.core.protocol.errors import MISSING_KEY_CODE, ErrorKind, ParleyError
from parley.core.protocol.request import ContentPart, ImagePart, TextPart
from parley.core.store import Conversation, Store, StoredMessage, StoreError, StoreErrorKind
from parley.ui.chat.answer import MessageView

if TYPE_CHECKING:
    from parley.core.chat.attachments import TextFile
    from parley.core.chat.session import ChatSession, RunConfig, Turn
    from parley.core.protocol.events import Event
    from parley.ui.chatview import ChatView
    from parley.ui.composer import Composer
    from parley.ui.layout import Banner, SystemPromptBox
    from parley.ui.message_widgets import AssistantMessageWidget
    from parley.ui.tasks import TaskRegistry

log = logging.getLogger("parley.ui.chat")


def log_unsaved(what: str, err: StoreError) -> None:
    """A write the user does not wait for failed: logged (a read-only history is expected)."""
    level = logging.INFO if err.kind is StoreErrorKind.READ_ONLY else logging.WARNING
    log.log(level, "%s was not saved: %s", what, err.message)


SYSTEM_SAVE_MS = 400


class _LazyEngine:
    """Hands the session's requests to whatever engine `engine()` gives at that moment (the
    proxy setting can replace it)."""

    def __init__(self, engine: Callable[[], Any]) -> None:
        self._engine = engine

    def send(self, *args: Any, **kwargs: Any) -> Any:
        return self._engine().send(*args, **kwargs)


class ChatController(QObject):
    """The chat of the window. Signals:

    - `current_changed(object)`: the open conversation (an int, or None for a new chat)
    - `conversation_changed(int)`: a conversation's title or recency changed (a send, an answer)
    - `title_changed(str)`: the window title for what is open
    - `opening(object)`: a stored conversation is about to be shown (its settings to restore)
    - `streaming_changed(bool)`: whether the open conversation streams
    - `request_changed()`: what the next send would be changed (the preview follows)
    - `keys_wanted(str)`: a send failed for want of a valid key for that provider
    - `comparison_wanted(int)`: open that Lab comparison (the shown prompt was compared)
    """

    current_changed = Signal(object)
    conversation_changed = Signal(int)
    title_changed = Signal(str)
    opening = Signal(object)
    streaming_changed = Signal(bool)
    request_changed = Signal()
    keys_wanted = Signal(str)
    comparison_wanted = Signal(int)

    def __init__(
        self,
        *,
        store: Store,
        tasks: TaskRegistry,
        view: ChatView,
        composer: Composer,
        system_prompt: SystemPromptBox,
        banner: Banner,
        engine: Callable[[], Any],
        keys: Callable[[str], str | None],
        catalog: Any,
        config: Callable[[], RunConfig],
        precheck: Callable[[RunConfig], str | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self.view = view
        self.composer = composer
        self.system_prompt = system_prompt
        self.banner = banner
        self.catalog = catalog
        self._engine = engine
        self._keys = keys
        self._config = config
        self._precheck = precheck
        self.conversation_id: int | None = None
        self.is_opening = False  # a stored conversation's settings are being restored
        self.closing = False
        self._session: ChatSession | None = None
        self._event_handlers: dict[type, Callable[[Turn, Any], None]] = {}
        self._turns: dict[int, Turn] = {}  # streaming turns by conversation
        self._pending_send: dict[int, bool] = {}  # conversation -> the composer text in flight
        self._new_draft = ""
        self._new_system = ""
        self._attachments: dict[int | None, list[ImagePart | TextFile]] = {}
        self._shown_leaf: int | None = None  # the last message the view shows
        self._tool_call_counts: dict[int, int] = {}
        self._live_choice: dict[int, int] = {}  # streaming answer -> the candidate its tabs show
        self._comparison_offered = False  # the banner says where a compared prompt's answers are

        self._system_timer = QTimer(self)
        self._system_timer.setSingleShot(True)
        self._system_timer.setInterval(SYSTEM_SAVE_MS)
        self._system_timer.timeout.connect(self.save_system_prompt)
        system_prompt.edit.textChanged.connect(self._system_timer.start)
        system_prompt.edit.textChanged.connect(self.request_changed)

        composer.send_requested.connect(self.send)
        composer.stop_requested.connect(self.stop)
        view.stop_requested.connect(self.stop)
        view.regenerate_requested.connect(self.regenerate)
        view.edit_requested.connect(self.edit_and_resend)
        view.branch_requested.connect(self.switch_branch)
        view.continue_requested.connect(self.continue_answer)
        view.retry_requested.connect(self.retry)
        view.candidate_chosen.connect(self.choose_candidate)

    @property
    def session(self) -> ChatSession:
        """The chat session, made on first use: importing it (and the event types) is left to
        the warm-up thread, so the window shows without waiting for it."""
        if self._session is None:
            from parley.core.chat.session import ChatSession
            from parley.core.protocol.events import (
                ReasoningDelta,
                RefusalDelta,
                TextDelta,
                ToolCallDelta,
            )

            self._event_handlers = {
                TextDelta: self._on_text,
                ReasoningDelta: self._on_reasoning,
                RefusalDelta: self._on_refusal,
                ToolCallDelta: self._on_tool_calls,
            }
            self._session = ChatSession(
                self.store, _LazyEngine(self._engine), self._keys, self.catalog, self
            )
        return self._session

    def set_store(self, store: Store) -> None:
        """The history was swapped (store recovery): streams are stopped, a new chat shown."""
        for cid in list(self._turns):
            self.tasks.cancel(("stream", cid))
        self.store = store
        if self._session is not None:
            self._session.store = store
        self.conversation_id = None
        self.clear_view()
        self.new_chat()

    def set_catalog(self, catalog: Any) -> None:
        self.catalog = catalog
        if self._session is not None:
            self._session.catalog = catalog

    # --- the open conversation --------------------------------------------------------------

    def leave_conversation(self) -> None:
        """Keep what was typed (and attached) in the chat being left."""
        draft = self.composer.draft()
        self._attachments[self.conversation_id] = self.composer.pending()
        if self.conversation_id is None:
            self._new_draft = draft
            self._new_system = self.system_prompt.text()
            return
        if self._pending_send.get(self.conversation_id):
            return
        try:
            self.store.save_draft(self.conversation_id, draft)
        except StoreError as err:
            log_unsaved(f"the draft of conversation {self.conversation_id}", err)
        self.save_system_prompt()

    def new_chat(self) -> None:
        if self.conversation_id is None and self.view.loaded_count() == 0:
            self.composer.focus_input()
            return
        self.leave_conversation()
        self.conversation_id = None
        self.clear_view()
        self.system_prompt.set_text(self._new_system)
        self.composer.set_draft(self._new_draft)
        self.composer.set_attachments(self._attachments.get(None, []))
        self.update_streaming_state()
        self.current_changed.emit(None)
        self.request_changed.emit()
        self.title_changed.emit("Parley")
        self.composer.focus_input()

    def open_conversation(self, conversation_id: int, *, scroll_to: int | None = None) -> bool:
        """Show a stored conversation (False: it could not be read; the banner says why)."""
        if conversation_id == self.conversation_id and scroll_to is None:
            return True
        try:
            conv = self.store.get_conversation(conversation_id)
        except StoreError as err:
            self.banner.show_message(err.message)
            return False
        self.leave_conversation()
        self.conversation_id = conversation_id
        self.is_opening = True
        try:
            self.opening.emit(conv)
            self.system_prompt.set_text(conv.system_prompt)
        finally:
            self.is_opening = False
        self.render()
        self.composer.set_draft(conv.draft)
        self.composer.set_attachments(self._attachments.get(conversation_id, []))
        self.update_streaming_state()
        self.current_changed.emit(conversation_id)
        self.title_changed.emit(f"{conv.title or 'New chat'} — Parley")
        if scroll_to is not None:
            self.view.reveal_message(str(scroll_to))
        self.composer.focus_input()
        return True

    def conversation_deleted(self, conversation_id: int) -> None:
        self.tasks.cancel(("stream", conversation_id))
        if self.conversation_id == conversation_id:
            self.conversation_id = None
            self.clear_view()
            self.new_chat()

    def clear_view(self) -> None:
        self.view.clear()
        self._shown_leaf = None

    def render(self) -> None:
        """Show the current branch of the open conversation (with `< i/n >` per message)."""
        if self.conversation_id is None:
            self.clear_view()
            return
        try:
            rows, path = self._branch_rows(self.conversation_id)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        self.view.load_messages(rows)
        self._shown_leaf = path[-1].id if path else None
        offered = path[-1].role == "user" and self._offer_comparison(path[-1].id) if path else False
        if self._comparison_offered and not offered:
            self.banner.hide()  # its answer was chosen (or another branch is shown)
        self._comparison_offered = offered
        turn = self._turns.get(self.conversation_id)
        if turn is not None:
            w = self.view.assistant_widget(str(turn.answer_id))
            if w is not None:
                w.status = "streaming"
                shown = turn.result.choice(self._live_choice.get(turn.answer_id, 0))
                w.set_text(shown.text, shown.reasoning)
                self._show_live_tabs(turn, w)
                self._show_waiting(turn)
        self.request_changed.emit()

    def _show_waiting(self, turn: Turn) -> None:
        """An answer with nothing in it yet says that it waits, counted from the send."""
        w = self._answer_widget(turn)
        result = turn.result
        if w is not None and not (result.text or result.reasoning or result.tool_calls):
            w.start_waiting(result.started_at)

    def _offer_comparison(self, prompt_id: int) -> bool:
        """The branch ends at a prompt the Lab compared, with no pane chosen yet: say where
        its answers are."""
        from parley.core.store import compare as compare_store

        try:
            row = compare_store.comparison_for_prompt(self.store, prompt_id)
        except StoreError:
            return False
        if row is None or row.chosen_id is not None:
            return False
        panes = len(row.layout.get("panes", []))
        self.banner.show_message(
            f"This prompt was compared in the Lab ({panes} answers): choose one there to go on.",
            [("Open the comparison", lambda: self.comparison_wanted.emit(row.id))],
        )
        return True

    def _branch_rows(self, conversation_id: int) -> tuple[list[MessageView], list[StoredMessage]]:
        messages = self.store.messages(conversation_id)
        by_id = {m.id: m for m in messages}
        children: dict[int | None, list[int]] = {}
        for m in messages:
            children.setdefault(m.parent_id, []).append(m.id)
        leaf = self.store.current_leaf(conversation_id)
        path: list[StoredMessage] = []
        node = by_id.get(leaf) if leaf is not None else None
        while node is not None:
            path.append(node)
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
        path.reverse()
        rows = []
        for m in path:
            siblings = children.get(m.parent_id, [m.id])
            rows.append(MessageView.from_stored(m, (siblings.index(m.id), len(siblings))))
        return rows, path

    def jump_to_message(self, conversation_id: int, message_id: int) -> None:
        """Open the conversation on the branch holding `message_id` and scroll to it."""
        try:
            leaf = self.store.leaf_under(message_id)
            self.store.set_current_leaf(conversation_id, leaf)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        if conversation_id == self.conversation_id:
            self.render()
            self.view.reveal_message(str(message_id))
        else:
            self.open_conversation(conversation_id, scroll_to=message_id)

    def switch_branch(self, message_id: str, offset: int) -> None:
        if self.conversation_id is None:
            return
        try:
            self.store.select_sibling(int(message_id), offset)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        self.render()

    def save_system_prompt(self) -> None:
        self._system_timer.stop()
        if self.conversation_id is None:
            self._new_system = self.system_prompt.text()
            return
        try:
            conv = self.store.get_conversation(self.conversation_id)
            if conv.system_prompt != self.system_prompt.text():
                self.store.update_conversation(
                    self.conversation_id, system_prompt=self.system_prompt.text()
                )
        except StoreError as err:
            log_unsaved(f"the system prompt of conversation {self.conversation_id}", err)
        self.request_changed.emit()

    def set_preset(self, name: str | None) -> None:
        """The open conversation records the preset chosen for it."""
        if self.conversation_id is None:
            return
        try:
            self.store.update_conversation(self.conversation_id, preset=name)
        except StoreError as err:
            log_unsaved(f"the preset of conversation {self.conversation_id}", err)

    def conversation(self) -> Conversation | None:
        if self.conversation_id is None:
            return None
        return self.store.get_conversation(self.conversation_id)

    def ensure_conversation(self) -> int | None:
        """The open conversation, stored first when it is a new chat (a Lab compare answers
        in it); None when it cannot be stored (the composer says why)."""
        if self.conversation_id is not None:
            return self.conversation_id
        try:
            conv_id = self.session.new_conversation(self._config(), self.system_prompt.text())
        except StoreError as err:
            self.notice(err.message)
            return None
        self.conversation_id = conv_id
        self._new_draft = ""
        self._new_system = ""
        self.current_changed.emit(conv_id)
        self.conversation_changed.emit(conv_id)
        return conv_id

    def conversation_updated(self, conversation_id: int) -> None:
        """Turns were added or chosen elsewhere (the Lab): show them when it is open."""
        if conversation_id == self.conversation_id and conversation_id not in self._turns:
            self.render()
            self.view.scroll_to_bottom()
        self.conversation_changed.emit(conversation_id)

    def conversation_continued(self, conversation_id: int) -> None:
        """A Lab pane became the conversation's answer: the chat goes on with its settings."""
        if conversation_id == self.conversation_id:
            try:
                conv = self.store.get_conversation(conversation_id)
            except StoreError as err:
                self.banner.show_message(err.message)
                return
            self.is_opening = True
            try:
                self.opening.emit(conv)
            finally:
                self.is_opening = False
        self.conversation_updated(conversation_id)

    # --- turns ------------------------------------------------------------------------------

    def _content(self, text: str, attachments: Sequence[ImagePart]) -> str | list[ContentPart]:
        if not attachments:
            return text
        return [TextPart(text=text), *attachments]

    def send(self, text: str, attachments: list[ImagePart] | None = None) -> None:
        attachments = list(attachments or [])
        config = self._config()
        problem = self._precheck(config)
        content = self._content(text, attachments)
        if problem is None:
            try:
                self.session.check_ready(self.conversation_id, content, config)
            except ParleyError as err:
                self._show_send_error(err, config.provider)
                return
            except StoreError as err:
                problem = err.message
        if problem is not None:
            self.notice(problem)
            return
        if self.conversation_id is None:
            try:
                conv_id = self.session.new_conversation(config, self.system_prompt.text())
            except StoreError as err:
                self.notice(err.message)
                return
            self.conversation_id = conv_id
            self._new_draft = ""
            self._new_system = ""
            self._attachments.pop(None, None)
            self.current_changed.emit(conv_id)
            self.conversation_changed.emit(conv_id)
        conv = self.conversation_id
        self._pending_send[conv] = True
        self._start_turn(conv, self.session.send(conv, content, config))

    def regenerate(self, message_id: str) -> None:
        if self.conversation_id is None:
            return
        config = self._config()
        if (problem := self._precheck(config)) is not None:
            self.notice(problem)
            return
        conv = self.conversation_id
        self._start_turn(conv, self.session.regenerate(conv, int(message_id), config))

    def retry(self, message_id: str) -> None:
        if self.conversation_id is None:
            return
        conv = self.conversation_id
        self._start_turn(conv, self.session.retry(conv, int(message_id), self._config()))

    def continue_answer(self, message_id: str) -> None:
        if self.conversation_id is None:
            return
        conv = self.conversation_id
        config = self._config()
        self._start_turn(conv, self.session.continue_answer(conv, int(message_id), config))

    def edit_and_resend(self, message_id: str, text: str) -> None:
        if self.conversation_id is None or not text.strip():
            return
        conv = self.conversation_id
        config = self._config()
        if (problem := self._precheck(config)) is not None:
            self.notice(problem)
            return
        try:
            original = self.store.get_message(int(message_id))
        except StoreError as err:
            self.notice(err.message)
            return
        content: str | list[ContentPart] = text
        if isinstance(original.content, list):
            images = [p for p in original.content if not isinstance(p, TextPart)]
            content = [TextPart(text=text), *images] if images else text
        self._start_turn(conv, self.session.edit_and_resend(conv, int(message_id), content, config))

    def replay(self, answer_id: int, body: bytes | None = None) -> None:
        """Send a stored answer's exact body again (or `body`, edited): a new sibling answer."""
        try:
            conv = self.store.get_message(answer_id).conversation_id
        except StoreError as err:
            self.notice(err.message)
            return
        if conv != self.conversation_id and not self.open_conversation(conv):
            return
        config = self._config()
        self._start_turn(conv, self.session.replay(conv, answer_id, config, body))

    def choose_candidate(self, message_id: str, index: int) -> None:
        """The conversation goes on from candidate `index` of that answer (its tabs show it)."""
        live = next((t for t in self._turns.values() if str(t.answer_id) == message_id), None)
        if live is not None:
            self._switch_live(live, index)  # chosen in the history once it has ended
            return
        try:
            self.session.choose_candidate(int(message_id), index)
        except ParleyError as err:
            self.notice(str(err))
            return
        except StoreError as err:
            self.banner.show_message(f"The choice was not saved: {err.message}")
            return
        self.request_changed.emit()

    def stop(self) -> None:
        if self.conversation_id is not None:
            self.tasks.cancel(("stream", self.conversation_id))

    def is_streaming(self, conversation_id: int | None = None) -> bool:
        cid = self.conversation_id if conversation_id is None else conversation_id
        return cid is not None and self.tasks.running(("stream", cid))

    def streaming_conversations(self) -> list[int]:
        return list(self._turns)

    def _start_turn(self, conv: int, coro: Coroutine[Any, Any, Turn]) -> None:
        self.tasks.start(("stream", conv), self._run_turn(conv, coro))
        self.update_streaming_state()

    async def _run_turn(self, conv: int, coro: Coroutine[Any, Any, Turn]) -> None:
        try:
            await coro
        except ParleyError as err:  # refused before anything was stored: the prompt stays
            if conv == self.conversation_id:
                self._show_send_error(err, self._config().provider)
        except StoreError as err:
            self.banner.show_message(f"The history could not be written: {err.message}")
        finally:
            self._pending_send.pop(conv, None)
            self._turns.pop(conv, None)
            if not self.closing:
                QTimer.singleShot(0, self.update_streaming_state)

    def update_streaming_state(self) -> None:
        streaming = self.is_streaming()
        self.composer.set_streaming(streaming)
        self.streaming_changed.emit(streaming)

    def notice(self, text: str) -> None:
        self.composer.notice.setText(text)
        self.composer.notice.show()

    def _show_send_error(self, err: ParleyError, provider_id: str) -> None:
        # Said once: where the key settings are offered (the banner), else under the composer.
        if err.kind is ErrorKind.AUTH or err.code == MISSING_KEY_CODE:
            self.composer.notice.hide()
            self.banner.show_message(
                str(err), [("Open key settings", lambda: self.keys_wanted.emit(provider_id))]
            )
        else:
            self.notice(str(err))

    # --- the session's listener ---------------------------------------------------------------

    def on_turn_started(self, turn: Turn) -> None:
        self._turns[turn.conversation_id] = turn
        if self._pending_send.pop(turn.conversation_id, False):
            if turn.conversation_id == self.conversation_id:
                self.composer.clear_after_send()
            else:
                try:
                    self.store.save_draft(turn.conversation_id, "")
                except StoreError as err:
                    log_unsaved(f"the cleared draft of conversation {turn.conversation_id}", err)
            self._attachments.pop(turn.conversation_id, None)
        if turn.conversation_id == self.conversation_id:
            if not self._append_turn(turn):
                self.render()
            elif (w := self._answer_widget(turn)) is not None:
                self._show_live_tabs(turn, w)
            self._show_waiting(turn)
            self.view.scroll_to_bottom()
        self.conversation_changed.emit(turn.conversation_id)  # titled by its first prompt
        self.update_streaming_state()

    def _append_turn(self, turn: Turn) -> bool:
        """A send after the last shown message: add its two messages instead of re-rendering
        the branch (which in a long chat rebuilds a page of widgets)."""
        try:
            user = self.store.get_message(turn.parent_id)
        except StoreError:
            return False  # rendered from the store instead
        shown_user = self.view.widget(str(user.id)) is not None
        if shown_user or user.parent_id != self._shown_leaf:
            return False
        if user.parent_id is not None and self.view.widget(str(user.parent_id)) is None:
            return False
        text, images = user.content, []
        if isinstance(text, list):
            images = [p for p in text if isinstance(p, ImagePart)]
            text = "".join(p.text for p in text if isinstance(p, TextPart))
        self.view.add_user_message(str(user.id), text, images)
        self.view.add_assistant_message(str(turn.answer_id))
        self._shown_leaf = turn.answer_id
        return True

    def _answer_widget(self, turn: Turn) -> AssistantMessageWidget | None:
        if turn.conversation_id != self.conversation_id:
            return None
        return self.view.assistant_widget(str(turn.answer_id))

    def on_event(self, turn: Turn, event: Event) -> None:
        handler = self._event_handlers.get(type(event))
        if handler is not None:
            handler(turn, event)

    def _on_text(self, turn: Turn, event: Any) -> None:
        shown = self._live_choice.get(turn.answer_id, 0)
        if event.choice == shown and (w := self._answer_widget(turn)) is not None:
            w.body.secrets = turn.exchange.secrets  # an echoed key is never on screen
            w.append_text(event.text)

    def _on_reasoning(self, turn: Turn, event: Any) -> None:
        shown = self._live_choice.get(turn.answer_id, 0)
        if event.choice == shown and (w := self._answer_widget(turn)) is not None:
            w.append_reasoning(event.text)

    def _show_live_tabs(self, turn: Turn, w: AssistantMessageWidget) -> None:
        """An answer asking for several candidates streams with its tabs: the one shown
        streams in, another tab shows what its candidate has so far."""
        count = turn.fan_out
        if count <= 1 and b'"n"' in turn.prepared.body:
            n = turn.prepared.body_json.get("n")
            count = n if isinstance(n, int) and not isinstance(n, bool) else 1
        if count <= 1:
            return
        from parley.ui.instruments.answer import AnswerInstruments

        if w.instruments is None:
            w.instruments = AnswerInstruments(w)
        w.instruments.show_live(count, turn.fan_out, self._live_choice.get(turn.answer_id, 0))

    def _switch_live(self, turn: Turn, index: int) -> None:
        self._live_choice[turn.answer_id] = index
        if (w := self._answer_widget(turn)) is not None:
            shown = turn.result.choice(index)
            w.set_text(shown.text, shown.reasoning)

    def _on_refusal(self, turn: Turn, _event: Any) -> None:
        if (w := self._answer_widget(turn)) is not None:
            w.set_refusal(turn.result.refusal)

    def _on_tool_calls(self, turn: Turn, _event: Any) -> None:
        if (w := self._answer_widget(turn)) is None:
            return
        calls = turn.result.tool_calls
        if self._tool_call_counts.get(turn.answer_id) != len(calls):
            self._tool_call_counts[turn.answer_id] = len(calls)
            w.set_tool_calls([c.to_dict() for c in calls])

    def on_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        w = self._answer_widget(turn)
        if w is not None:
            policy = getattr(self._engine(), "retry", None)
            # `attempt` failed; the badge counts down to the next one.
            w.set_retrying(
                attempt + 1, delay, retry_reason(error), getattr(policy, "max_attempts", None)
            )
            w.badge.setToolTip(str(error))

    def on_turn_done(self, turn: Turn) -> None:
        self._tool_call_counts.pop(turn.answer_id, None)
        live = self._live_choice.pop(turn.answer_id, 0)
        if self.closing:
            return
        view = MessageView.from_turn(turn)
        if live and view.candidates is not None and view.candidates.get(live) is not None:
            # The tab shown while it streamed is the one the conversation goes on from.
            try:
                self.session.choose_candidate(turn.answer_id, live)
                view = view.with_chosen(live)
            except (ParleyError, StoreError) as err:
                log.warning("the candidate shown was not saved as chosen: %s", err)
        w = self._answer_widget(turn)
        if w is not None:
            view.paint(w)
        self.conversation_changed.emit(turn.conversation_id)
        if turn.conversation_id == self.conversation_id:
            self.request_changed.emit()

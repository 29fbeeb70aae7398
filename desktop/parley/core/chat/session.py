"""A chat session: a conversation's turns, from the typed prompt to the stored answer.

Qt-free and httpx-free. The window (or a test) gives it the history store, something with the
Engine's `run` signature, a key lookup and the catalog; it tells a `SessionListener` what happens.
The context sent is always the *shown branch*: the system prompt, then the path from the root to
the message being answered.

An answer is saved as it streams (the store commits partial text within a fraction of a second)
and always ends in the store as complete, stopped (cancelled: the partial text is kept) or failed
(with the error), whatever happens. Nothing is stored before the request has been validated, so a
bad parameter or a missing key leaves the typed prompt where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar, overload

from parley.core.chat import candidates as cands
from parley.core.chat.loop import Sender, stream, stream_many
from parley.core.chat.prepared import PreparedRequest, needs_key, prepare
from parley.core.chat.result import ChatResult
from parley.core.protocol.errors import ErrorKind, ParleyError, missing_key_error, redact
from parley.core.protocol.events import Event, Retrying
from parley.core.protocol.exchange import Exchange
from parley.core.protocol.request import ChatRequest, ContentPart, Message, TextPart
from parley.core.providers.catalog import Catalog, ProviderSpec
from parley.core.providers.modellist import ModelInfo
from parley.core.providers.wire import deep_merge
from parley.core.store import Conversation, Store, StoredMessage, StoreError, StoreErrorKind

CONTINUE_PROMPT = "Continue exactly where you stopped, without repeating anything."

Content = str | Sequence[ContentPart]
T = TypeVar("T")


EngineLike = Sender  # what a session needs of `parley.net.engine.Engine`

KeyLookup = Callable[[str], str | None]


@dataclass
class RunConfig:
    """What to ask with: provider, model and the parameters the user set (only those)."""

    provider: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    advanced: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    stream: bool = True
    model_info: ModelInfo | None = None  # for the cost, where the model list gives prices
    # Candidates to ask for: sent as `n` where the provider lists it, else as that many
    # separate requests (see `parley.core.chat.candidates`).
    candidates: int = 1


@dataclass
class Turn:
    """One answer being produced. `result` grows as events arrive."""

    conversation_id: int
    parent_id: int  # the user message answered
    answer_id: int
    spec: ProviderSpec
    prepared: PreparedRequest
    result: ChatResult
    model_info: ModelInfo | None = None
    retry_delay: float | None = None  # set while waiting to retry (429, 5xx, network)
    exchange: Exchange = field(default_factory=Exchange)
    fan_out: int = 1  # separate requests for the candidates (a provider without `n`)
    # Each fanned-out request's own result and exchange, once they have ended.
    parts: list[tuple[ChatResult, Exchange]] = field(default_factory=list)

    @property
    def request(self) -> ChatRequest | None:
        return self.prepared.request

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.prepared.body_json
        return body


class SessionListener(Protocol):
    def on_turn_started(self, turn: Turn) -> None:
        """The user message and an empty answer are stored; show them."""

    def on_event(self, turn: Turn, event: Event) -> None:
        """`event` was applied to `turn.result`."""

    def on_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        """The request failed before any token and is tried again after `delay` seconds."""

    def on_turn_done(self, turn: Turn) -> None:
        """The answer ended (complete, stopped or failed) and is stored."""


class NullListener:
    def on_turn_started(self, turn: Turn) -> None:
        pass

    def on_event(self, turn: Turn, event: Event) -> None:
        pass

    def on_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        pass

    def on_turn_done(self, turn: Turn) -> None:
        pass


def in_context(stored: StoredMessage) -> bool:
    """Whether `stored` is sent as context (an empty answer, failed before any token, is not)."""
    return stored.role != "assistant" or bool(stored.text)


def context_message(stored: StoredMessage) -> Message | None:
    """A stored message as context for the next request; None for what is not sent.

    Answers go back as their text only: an empty answer (failed before any token) is left out,
    and tool calls are dropped because Parley runs no tools, so no tool result could follow them.
    """
    if not in_context(stored):
        return None
    if stored.role == "assistant":
        return Message(role="assistant", content=stored.text)
    return stored.to_message()


class ContextMessages(Sequence[Message]):
    """The messages a request would carry (system prompt, a branch, the new message), each made
    when first read: a request preview that shows only the start and end of a 2,000-message
    branch then costs what it shows, not the whole branch."""

    def __init__(
        self,
        path: Sequence[StoredMessage],
        *,
        system: Message | None = None,
        last: Message | None = None,
    ) -> None:
        self._stored = [s for s in path if in_context(s)]
        self._first = [system] if system is not None else []
        self._last = [last] if last is not None else []
        self._made: dict[int, Message] = {}

    def __len__(self) -> int:
        return len(self._first) + len(self._stored) + len(self._last)

    @overload
    def __getitem__(self, index: int) -> Message: ...

    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...

    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(index)
        if i < len(self._first):
            return self._first[i]
        i -= len(self._first)
        if i >= len(self._stored):
            return self._last[i - len(self._stored)]
        made = self._made.get(i)
        if made is None:
            made = context_message(self._stored[i])
            assert made is not None  # in_context() kept only what is sent
            self._made[i] = made
        return made


def has_text(content: Content) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    return any(not isinstance(p, TextPart) or p.text.strip() for p in content)


class ChatSession:
    def __init__(
        self,
        store: Store,
        engine: EngineLike,
        keys: KeyLookup,
        catalog: Catalog,
        listener: SessionListener | None = None,
        *,
        save_interval: float = 0.2,
        yield_interval: float = 0.003,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.engine = engine
        self.keys = keys
        self.catalog = catalog
        self.listener: SessionListener = listener or NullListener()
        self.save_interval = save_interval
        self.yield_interval = yield_interval  # longest stretch of event handling between yields
        self.clock = clock

    # --- conversations ------------------------------------------------------------------

    def new_conversation(self, config: RunConfig, system_prompt: str = "") -> int:
        return self.store.create_conversation(
            system_prompt=system_prompt,
            provider=config.provider,
            model=config.model,
            params=config.params,
            advanced=config.advanced,
        )

    # --- what the user does -------------------------------------------------------------

    async def send(self, conversation_id: int, content: Content, config: RunConfig) -> Turn:
        """Add a user message after the shown branch's last message and answer it."""
        leaf = self.store.current_leaf(conversation_id)
        return await self._ask(conversation_id, leaf, content, config)

    async def regenerate(self, conversation_id: int, message_id: int, config: RunConfig) -> Turn:
        """A new answer beside `message_id` (an answer), or to `message_id` (a user message)."""
        msg = self.store.get_message(message_id)
        if msg.role == "user":
            return await self._answer(conversation_id, msg.id, config)
        if msg.parent_id is None:
            raise ParleyError(ErrorKind.CONFIG, "This message has nothing to answer again.")
        return await self._answer(conversation_id, msg.parent_id, config)

    async def retry(self, conversation_id: int, answer_id: int, config: RunConfig) -> Turn:
        """Try a failed answer again: a new sibling (the failed one stays in the history)."""
        return await self.regenerate(conversation_id, answer_id, config)

    async def edit_and_resend(
        self, conversation_id: int, user_message_id: int, content: Content, config: RunConfig
    ) -> Turn:
        """A new user message beside the edited one (a sibling branch), then its answer."""
        original = self.store.get_message(user_message_id)
        if original.role != "user":
            raise ParleyError(ErrorKind.CONFIG, "Only your own messages can be edited.")
        return await self._ask(conversation_id, original.parent_id, content, config)

    def continues_in_place(self, provider_id: str) -> bool:
        """Whether Continue extends a cut-off answer itself (the provider goes on from a final
        assistant message), rather than asking the model to go on in a new user turn."""
        return self.spec(provider_id).quirks.continue_final is not None

    async def continue_answer(
        self, conversation_id: int, answer_id: int, config: RunConfig
    ) -> Turn:
        """After a truncated answer (finish_reason `length`): go on. Where the provider can
        continue an assistant message, the answer itself is extended (a new sibling holding
        the whole text); elsewhere the model is asked to go on, in a new user turn."""
        spec = self.spec(config.provider)
        if spec.quirks.continue_final is None:
            return await self._ask(conversation_id, answer_id, CONTINUE_PROMPT, config)
        answer = self.store.get_message(answer_id)
        if answer.role != "assistant" or answer.parent_id is None or not answer.text:
            raise ParleyError(ErrorKind.CONFIG, "Only an answer with text can be continued.")
        extended = replace(config, advanced=deep_merge(config.advanced, spec.quirks.continue_final))
        so_far = Message(role="assistant", content=answer.text)
        prepared = await self._prepare(conversation_id, answer.parent_id, extended, so_far)
        return await self._start(
            conversation_id, answer.parent_id, config, prepared, None, prefix=answer.text
        )

    # --- building the request -----------------------------------------------------------

    def build_request(
        self,
        conversation_id: int,
        parent_id: int | None,
        config: RunConfig,
        extra: Message | None = None,
    ) -> ChatRequest:
        """The request answering `parent_id`: the system prompt, then that branch's path."""
        conv = self.store.get_conversation(conversation_id)
        messages: list[Message] = []
        if conv.system_prompt.strip():
            messages.append(Message(role="system", content=conv.system_prompt))
        if parent_id is not None:
            for stored in self.store.path_to(parent_id):
                m = context_message(stored)
                if m is not None:
                    messages.append(m)
        if extra is not None:
            messages.append(extra)
        spec = self.spec(config.provider)
        return ChatRequest(
            provider=config.provider,
            model=config.model,
            messages=messages,
            params=request_params(spec, config),
            advanced=dict(config.advanced),
            stream=config.stream,
            base_url=config.base_url or None,
            session_id=conv.session_id if spec.quirks.session_id else None,
        )

    def prepare_request(
        self,
        conversation_id: int | None,
        parent_id: int | None,
        config: RunConfig,
        extra: Message | None = None,
        *,
        key: str | None = None,
        require_key: bool = True,
        system_prompt: str = "",
    ) -> PreparedRequest:
        """The one builder: the exact request answering `parent_id` (with `extra` after it).
        `system_prompt` is for a chat not stored yet (`conversation_id` None)."""
        if conversation_id is None:
            first = [Message(role="system", content=system_prompt)] if system_prompt.strip() else []
            request = ChatRequest(
                provider=config.provider,
                model=config.model,
                messages=[*first, extra] if extra is not None else first,
                params=request_params(self.spec(config.provider), config),
                advanced=dict(config.advanced),
                stream=config.stream,
                base_url=config.base_url or None,
            )
        else:
            request = self.build_request(conversation_id, parent_id, config, extra)
        return prepare(self.spec(config.provider), request, key, require_key=require_key)

    def preview(
        self,
        conversation_id: int | None,
        content: Content,
        config: RunConfig,
        *,
        key: str | None = None,
        system_prompt: str = "",
    ) -> PreparedRequest:
        """The request the next send of `content` would make now, on the shown branch: the
        same builder the send uses. No key is read (pass one to show its header redacted).
        `system_prompt`: a new chat's (not stored yet), which its first send stores."""
        user = Message(role="user", content=_message_content(content))
        leaf = None if conversation_id is None else self.store.current_leaf(conversation_id)
        return self.prepare_request(
            conversation_id,
            leaf,
            config,
            user,
            key=key,
            require_key=False,
            system_prompt=system_prompt,
        )

    def preview_body(
        self, conversation_id: int | None, content: Content, config: RunConfig
    ) -> dict[str, Any]:
        """The exact JSON body a send would use now."""
        body: dict[str, Any] = self.preview(conversation_id, content, config).body_json
        return body

    def check_ready(self, conversation_id: int | None, content: Content, config: RunConfig) -> None:
        """Raise the ParleyError a send would raise before storing anything (bad parameter,
        missing base URL, nothing typed); return quietly when it can go. The key is checked
        when the send reads it (in a worker thread)."""
        if not has_text(content):
            raise ParleyError(ErrorKind.CONFIG, "There is nothing to send: type a message first.")
        # The history was valid when it was sent: checking the new message alone is enough,
        # and costs nothing in a long conversation.
        self.preview(None, content, config)

    def spec(self, provider_id: str) -> ProviderSpec:
        spec = self.catalog.get(provider_id)
        if spec is None:
            raise ParleyError(ErrorKind.CONFIG, f"There is no provider called {provider_id!r}.")
        return spec

    # --- internals ----------------------------------------------------------------------

    async def _prepare(
        self,
        conversation_id: int,
        parent_id: int | None,
        config: RunConfig,
        extra: Message | None,
    ) -> PreparedRequest:
        """The send's request, made once in a worker thread: in a long conversation reading the
        branch and building its body takes long enough to stall the window, and the key store
        may block. It only reads, so a cancelled send leaves nothing behind."""
        spec = self.spec(config.provider)

        def build() -> PreparedRequest:
            key = self._key(spec)
            return self.prepare_request(conversation_id, parent_id, config, extra, key=key)

        return await asyncio.to_thread(build)

    async def _ask(
        self, conversation_id: int, parent_id: int | None, content: Content, config: RunConfig
    ) -> Turn:
        if not has_text(content):
            raise ParleyError(ErrorKind.CONFIG, "There is nothing to send: type a message first.")
        user = Message(role="user", content=_message_content(content))
        # Validate before storing anything: a bad parameter keeps the prompt where it was typed.
        prepared = await self._prepare(conversation_id, parent_id, config, user)
        return await self._answer(
            conversation_id, parent_id, config, prepared, _message_content(content)
        )

    async def _answer(
        self,
        conversation_id: int,
        parent_id: int | None,
        config: RunConfig,
        prepared: PreparedRequest | None = None,
        question: str | list[ContentPart] | None = None,
    ) -> Turn:
        """Answer `parent_id`, or `question` (stored first, under `parent_id`) when given;
        `prepared` is the request when the caller already made it."""
        if prepared is None:
            prepared = await self._prepare(conversation_id, parent_id, config, None)
        return await self._start(conversation_id, parent_id, config, prepared, question)

    async def replay(
        self,
        conversation_id: int,
        answer_id: int,
        config: RunConfig,
        body: bytes | None = None,
    ) -> Turn:
        """Send a stored answer's exact request body again (or `body`, edited, as it is): a
        new sibling of that answer. The URL and body are the stored ones; the key is today's."""
        from parley.core.chat.prepared import stored_request

        answer = self.store.get_message(answer_id)
        if answer.role != "assistant" or answer.parent_id is None:
            raise ParleyError(ErrorKind.CONFIG, "Only an answer's request can be sent again.")
        spec = self.spec(answer.provider or config.provider)
        sent = body if body is not None else (answer.request_body_text or "").encode()
        if not sent:
            raise ParleyError(ErrorKind.CONFIG, "This answer has no stored request to send.")
        url = self.store.request_url(answer_id) or chat_url(spec, config)

        def build() -> PreparedRequest:
            return stored_request(spec, url, sent, self._key(spec))

        prepared = await asyncio.to_thread(build)
        run = RunConfig(
            provider=spec.id,
            model=str(prepared.body_json.get("model") or answer.model or config.model)
            if isinstance(prepared.body_json, dict)
            else config.model,
            params=config.params,
            advanced=config.advanced,
            base_url=config.base_url,
            stream=prepared.stream,
            model_info=config.model_info,
        )
        return await self._start(conversation_id, answer.parent_id, run, prepared, None)

    async def _start(
        self,
        conversation_id: int,
        parent_id: int | None,
        config: RunConfig,
        prepared: PreparedRequest,
        question: str | list[ContentPart] | None,
        *,
        prefix: str = "",
    ) -> Turn:
        spec = prepared.spec
        (user_id, answer_id), cancelled = await _settle(
            asyncio.to_thread(
                self._begin, conversation_id, parent_id, question, config, spec, prepared
            )
        )
        turn = Turn(
            conversation_id=conversation_id,
            parent_id=user_id,
            answer_id=answer_id,
            spec=spec,
            prepared=prepared,
            result=ChatResult(provider=spec.id, model=config.model),
            model_info=config.model_info,
        )
        if prefix:
            turn.result.choice(0)._text.append(prefix)  # the answer goes on from here
        elif prepared.request is not None:
            turn.fan_out = cands.fan_out_count(spec, config.candidates)
        self.listener.on_turn_started(turn)
        if cancelled:
            # Stopped while the answer was being stored: it ends as any answer stopped before
            # its first token does.
            turn.result.mark_started(self.clock())
            turn.result.mark_stopped(self.clock())
            self._finish(turn)
            raise asyncio.CancelledError
        await self._stream(turn)
        return turn

    async def stream_turn(self, turn: Turn) -> None:
        """Stream `turn`, whose answer is already stored as begun (`Store.begin_answer`): one
        pane of a Lab comparison. It ends as every answer does (complete, stopped or failed)
        and is stored, with the listener told."""
        await self._stream(turn)

    def end_unsent(self, turn: Turn) -> None:
        """A begun answer that was never sent (stopped while it waited its turn): stored as
        stopped, with nothing in it."""
        turn.result.mark_started(self.clock())
        turn.result.mark_stopped(self.clock())
        self._finish(turn)

    def _begin(
        self,
        conversation_id: int,
        parent_id: int | None,
        question: str | list[ContentPart] | None,
        config: RunConfig,
        spec: ProviderSpec,
        prepared: PreparedRequest,
    ) -> tuple[int, int]:
        """Store the question (when given) and an empty answer with the exact body sent, in one
        transaction; runs in a worker thread, as serialising a long conversation's body takes
        long enough to stall the window. Returns (the message answered, the answer)."""
        with self.store.batch():
            if question is not None:
                parent_id = self.store.add_message(conversation_id, parent_id, "user", question)
            if parent_id is None:
                raise StoreError(StoreErrorKind.INVALID, "An answer needs a message to answer.")
            self.store.update_conversation(
                conversation_id,
                provider=config.provider,
                model=config.model,
                params=config.params,
                advanced=config.advanced,
            )
            answer_id = self.store.begin_answer(
                conversation_id, parent_id, prepared.body_text, spec.id, config.model
            )
        return parent_id, answer_id

    async def _stream(self, turn: Turn) -> None:
        result = turn.result
        last_save = self.clock()
        saved_size = 0
        trailing: asyncio.TimerHandle | None = None

        def save() -> None:
            nonlocal last_save, saved_size, trailing
            trailing = None
            if result.deltas != saved_size:
                # Scrubbed as the finished answer is: a kill now must not leave an echoed key.
                secrets = _turn_secrets(turn)
                self.store.save_partial(
                    turn.answer_id, redact(result.text, secrets), redact(result.reasoning, secrets)
                )
                last_save, saved_size = self.clock(), result.deltas

        def save_later() -> None:
            # The stream went quiet right after tokens that were not saved yet: save them now,
            # or a kill during the stall would lose more than the last second.
            with contextlib.suppress(StoreError):  # the store keeps the text and says so later
                save()

        def on_event(event: Event) -> None:
            nonlocal trailing
            turn.retry_delay = None
            self.listener.on_event(turn, event)
            now = self.clock()
            if now - last_save >= self.save_interval:
                save()
            elif trailing is None and result.deltas != saved_size:
                trailing = asyncio.get_running_loop().call_later(self.save_interval, save_later)

        def on_retry(event: Retrying) -> None:
            turn.retry_delay = event.delay
            if isinstance(event.error, ParleyError):
                self.listener.on_retry(turn, event.attempt, event.delay, event.error)

        try:
            if turn.fan_out > 1:
                await stream_many(
                    self.engine,
                    [turn.prepared] * turn.fan_out,
                    result,
                    on_event=on_event,
                    on_retry=on_retry,
                    yield_interval=self.yield_interval,
                    parts=turn.parts,
                )
                turn.exchange = turn.parts[0][1]
            else:
                await stream(
                    self.engine,
                    turn.prepared,
                    result,
                    exchange=turn.exchange,
                    on_event=on_event,
                    on_retry=on_retry,
                    yield_interval=self.yield_interval,
                )
        except asyncio.CancelledError:
            if trailing is not None:
                trailing.cancel()
            self._finish(turn)
            raise
        if trailing is not None:
            trailing.cancel()
        # The exchange's records and the final write (which serialises every raw line) in a
        # worker thread: for a long answer it takes tens of milliseconds, and several Lab panes
        # end at once. The listener is told on this thread, once it is stored.
        try:
            _, cancelled = await _settle(asyncio.to_thread(self._store_final, turn))
        finally:
            self.listener.on_turn_done(turn)
        if cancelled:
            raise asyncio.CancelledError

    def _finish(self, turn: Turn, records: list[dict[str, Any]] | None = None) -> None:
        try:
            self._store_final(turn, records)
        finally:
            self.listener.on_turn_done(turn)

    def _store_final(self, turn: Turn, records: list[dict[str, Any]] | None = None) -> None:
        result = turn.result
        if records is None:
            records = _records(turn)
        turn.retry_delay = None
        extra: dict[str, Any] = {}
        if result.retries:
            extra["retries"] = result.retries
        if result.meta.routed_provider:
            extra["routed_provider"] = result.meta.routed_provider
        extra.update(cands.to_extra(turn_candidates(turn)))
        self.store.finish_answer(
            turn.answer_id,
            text=result.text,
            reasoning=result.reasoning,
            refusal=result.refusal,
            tool_calls=[c.to_tool_call() for c in result.tool_calls] or None,
            status=result.status if result.status != "pending" else "failed",
            finish_reason=result.finish_reason,
            usage=result.usage,
            metrics=result.metrics,
            meta=result.meta,
            cost=result.cost(turn.model_info),
            error=result.error,
            model_used=result.model_used,
            extra=extra or None,
            exchange=records,
        )

    def choose_candidate(self, answer_id: int, index: int) -> StoredMessage:
        """Make candidate `index` the answer the conversation goes on from (its text becomes
        the answer's, so the next request sends it as context)."""
        answer = self.store.get_message(answer_id)
        try:
            extra, chosen = cands.choose(answer.extra, index)
        except ValueError as exc:
            raise ParleyError(ErrorKind.CONFIG, str(exc)) from None
        self.store.choose_candidate(
            answer_id,
            text=chosen.text,
            reasoning=chosen.reasoning,
            finish_reason=chosen.finish_reason,
            extra=extra,
        )
        return self.store.get_message(answer_id)

    def _key(self, spec: ProviderSpec) -> str | None:
        key = self.keys(spec.id)
        if needs_key(spec) and not (key or "").strip():
            raise missing_key_error(spec.name, spec.env_key_name)
        return key


def request_params(spec: ProviderSpec, config: RunConfig) -> dict[str, Any]:
    """The parameters a request carries: the ones set, with `n` for the candidates where the
    provider takes it (a value set for `n` itself wins)."""
    params = dict(config.params)
    if config.candidates > 1 and cands.sends_n(spec) and params.get("n") is None:
        params["n"] = min(config.candidates, cands.MAX_CANDIDATES)
    return params


def turn_candidates(turn: Turn) -> cands.CandidateSet:
    """The candidates a turn produced (one for an ordinary answer)."""
    statuses = [(sub.status, sub.error.message if sub.error else None) for sub, _ in turn.parts]
    return cands.from_result(turn.result, statuses, turn.fan_out if turn.fan_out > 1 else 0)


def _turn_secrets(turn: Turn) -> list[str]:
    """Every key the turn's requests were given (a fan-out's are in its parts' exchanges)."""
    found = [s for s in turn.exchange.secrets if s]
    for _, exchange in turn.parts:
        found += [s for s in exchange.secrets if s and s not in found]
    return found


def _records(turn: Turn) -> list[dict[str, Any]]:
    if not turn.parts:
        return turn.exchange.to_records()
    # One request per candidate: numbered on, each saying which request it belongs to.
    records: list[dict[str, Any]] = []
    for request, (_, exchange) in enumerate(turn.parts, start=1):
        for record in exchange.to_records():
            records.append({**record, "attempt": len(records) + 1, "request": request})
    return records


def check_ready(catalog: Catalog, keys: KeyLookup, content: Content, config: RunConfig) -> None:
    """Raise the ParleyError that sending `content` as a new conversation's first message
    would raise before anything is stored (nothing typed, unknown provider, bad parameter or
    Advanced JSON, bad base URL, no key). Needs no history: `ask --save` checks with it
    before a conversation, or even the history file, is created."""
    if not has_text(content):
        raise ParleyError(ErrorKind.CONFIG, "There is nothing to send: type a message first.")
    spec = catalog.get(config.provider)
    if spec is None:
        raise ParleyError(ErrorKind.CONFIG, f"There is no provider called {config.provider!r}.")
    request = ChatRequest(
        provider=config.provider,
        model=config.model,
        messages=[Message(role="user", content=_message_content(content))],
        params=dict(config.params),
        advanced=dict(config.advanced),
        stream=config.stream,
        base_url=config.base_url or None,
    )
    key = keys(spec.id)
    if needs_key(spec) and not (key or "").strip():
        raise missing_key_error(spec.name, spec.env_key_name)
    prepare(spec, request, key)


async def _settle(work: Awaitable[T]) -> tuple[T, bool]:
    """`work`'s result, and whether the task was cancelled while it ran. Work that writes (in a
    worker thread, which a cancel cannot stop) is waited for, so what it stored is known."""
    future = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            return await asyncio.shield(future), cancelled
        except asyncio.CancelledError:
            if future.cancelled():
                raise
            cancelled = True


def _message_content(content: Content) -> str | list[ContentPart]:
    return content if isinstance(content, str) else list(content)


def chat_url(spec: ProviderSpec, config: RunConfig) -> str:
    """The chat URL `config` would send to (for a stored answer that predates exchanges)."""
    probe = ChatRequest(
        provider=spec.id,
        model=config.model or "m",
        messages=[Message(role="user", content="-")],
        base_url=config.base_url or None,
    )
    return prepare(spec, probe, None, require_key=False).url


def conversation_config(conv: Conversation, fallback: RunConfig) -> RunConfig:
    """The settings a conversation was last used with (falling back where it has none)."""
    return RunConfig(
        provider=conv.provider or fallback.provider,
        model=conv.model or fallback.model,
        params=dict(conv.params) if conv.provider else dict(fallback.params),
        advanced=dict(conv.advanced) if conv.provider else dict(fallback.advanced),
        base_url=fallback.base_url,
        stream=fallback.stream,
    )

"""The main window: sidebar, chat, parameter panel and the pickers, tied to a ChatSession.

The window owns the app's long-lived objects (`Services`: catalog, settings, key store, history
store, engine) and one `TaskRegistry`. Every stream runs in the slot `("stream", conversation)`,
so a new send in a chat cancels that chat's previous stream; `shutdown()` stops everything in
order (streams first, saving their partial answers as stopped; then the HTTP client; then the
history) and is what closing the window leads to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, QStringListModel, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPaintEvent, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCompleter,
    QLabel,
    QMainWindow,
    QWidget,
)

from parley.core.catalog import Catalog, ModelListing, ProviderSpec, load_catalog
from parley.core.errors import MISSING_KEY_CODE, ErrorKind, ParleyError
from parley.core.modellist import ModelInfo, fallback_models
from parley.core.paths import provider_cache_path, user_providers_dir
from parley.core.request import ContentPart, ImagePart, TextPart
from parley.core.settings import Preset, Settings, load_settings, save_settings
from parley.core.store import (
    Conversation,
    Store,
    StoredMessage,
    StoreError,
    move_aside_and_start_fresh,
)
from parley.ui import chatview, theme
from parley.ui.layout import apply_local_style, build_layout
from parley.ui.params.preview import PreviewContext, PreviewController
from parley.ui.params_panel import ParamsPanel
from parley.ui.sidebar import ConversationRow, SearchHit
from parley.ui.tasks import TaskRegistry

if TYPE_CHECKING:
    from parley.core.events import Event
    from parley.core.secrets import KeyStore
    from parley.core.session import ChatSession, RunConfig, Turn
    from parley.ui.message_widgets import AssistantMessageWidget

log = logging.getLogger(__name__)

PRESET_NONE = "No preset"
PRESET_SAVE = "Save current as preset…"
DEFAULT_PROVIDER = "euri"
STARTUP_FALLBACK_MS = 1000
SIDEBAR_LIMIT = 500  # conversations listed (search reaches the rest)
SIDEBAR_FIRST_PAGE = 50  # listed before the window first shows (pinned, then most recent)


# --- the app's long-lived objects ---------------------------------------------------------


class Services:
    """The app's long-lived objects. The engine (httpx) and the key store (keyring) are made on
    first use, so the window can show before those imports; `warm_up()` makes them right after.
    """

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        store: Store,
        *,
        engine: Any = None,
        keys: KeyStore | None = None,
        store_error: StoreError | None = None,
        problems: Sequence[str] = (),
        save_settings: Callable[[Settings], object] = save_settings,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.store = store
        self.store_error = store_error  # the history could not be opened: `store` is temporary
        self.problems = list(problems)
        self.save_settings = save_settings
        self._engine = engine
        self._keys = keys

    @property
    def engine(self) -> Any:
        """The `parley.net.engine.Engine` (anything with run / list_models / aclose)."""
        if self._engine is None:
            from parley.net.engine import Engine

            self._engine = Engine(proxy=self.settings.proxy)
        return self._engine

    @engine.setter
    def engine(self, engine: Any) -> None:
        self._engine = engine

    @property
    def has_engine(self) -> bool:
        return self._engine is not None

    @property
    def keys(self) -> KeyStore:
        if self._keys is None:
            from parley.core.secrets import KeyStore

            self._keys = KeyStore()
        return self._keys

    def warm_up(self) -> None:
        """Make what the first send needs (runs in a worker thread after the window is up)."""
        self.engine  # noqa: B018 - made now rather than on the first send
        # The keyring's backend is found and probed on first use (about 0.1 s): here, rather than
        # on the UI thread when the model list first asks for a key. A failure is met again (and
        # handled) there.
        keys = self.keys
        with contextlib.suppress(Exception):
            keys.backend_available()
        # What a send needs (the window makes its session on first use, by then imported).
        import parley.core.session  # noqa: F401

        # The first code block would otherwise import Markdown rules and lexers mid-stream.
        from parley.core import markdown

        markdown.warm_up()

    def key(self, provider_id: str) -> str | None:
        try:
            return self.keys.get(provider_id).key
        except Exception as exc:  # a broken keyring must not stop the window
            log.warning("reading the key for %s failed: %s", provider_id, type(exc).__name__)
            return None


class _LazyEngine:
    """Hands the session's requests to whatever engine the services hold at that moment."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def send(self, *args: Any, **kwargs: Any) -> Any:
        return self._services.engine.send(*args, **kwargs)


def open_store() -> tuple[Store, StoreError | None]:
    """The history; on failure a temporary in-memory one plus the error to show."""
    try:
        return Store.open(), None
    except StoreError as err:
        return Store.open(":memory:"), err


def load_services() -> Services:
    catalog = load_catalog(user_dirs=[user_providers_dir()], cache_path=provider_cache_path())
    settings = load_settings()
    problems = [str(p) for p in catalog.problems] + list(settings.problems)
    store, store_error = open_store()
    return Services(catalog, settings, store, store_error=store_error, problems=problems)


@dataclass
class SelfTestReport:
    providers: int
    problems: list[str]
    keyring: str
    fatal: str | None = None


async def open_main_window(
    app: QApplication, services: Services | None = None, *, first_run: bool = True
) -> MainWindow:
    """Create, theme and show the main window (and the first-run guide when it is due)."""
    services = services or load_services()
    theme.apply_theme(app, services.settings.theme)
    theme.apply_font_size(app, services.settings.font_size)
    window = MainWindow(services)
    window.resize(1280, 820)
    window.show()
    # The engine and the key store (httpx, keyring imports) are made once the window has painted
    # (see `paintEvent`); this is for a window that is not painted (e.g. started minimised).
    QTimer.singleShot(STARTUP_FALLBACK_MS, window.finish_startup)
    if first_run and not services.settings.first_run_done:
        QTimer.singleShot(0, window.open_first_run)
    return window


def model_details(info: ModelInfo | None) -> str:
    """ "128k context · $0.15 / $0.60 per 1M tokens" — what is known about a model."""
    if info is None:
        return ""
    parts: list[str] = []
    if info.context_length:
        n = info.context_length
        parts.append(f"{n // 1000}k context" if n >= 10_000 else f"{n:,} context")
    if info.prompt_price is not None or info.completion_price is not None:
        cur = info.currency or "USD"
        sym = "$" if cur == "USD" else ""
        suffix = "" if sym else f" {cur}"

        def p(x: float | None) -> str:
            return "?" if x is None else f"{sym}{x:g}"

        parts.append(
            f"{p(info.prompt_price)} in / {p(info.completion_price)} out{suffix} per 1M tokens"
        )
    if info.premium:
        parts.append("premium")
    return " · ".join(parts)


class ElidedText(QObject):
    """Keeps a one-line label's text ending in "…" where it does not fit, again whenever the
    label is resized; the tooltip holds the whole text unless another is given."""

    def __init__(self, label: QLabel) -> None:
        super().__init__(label)
        self.label = label
        self.full = ""
        label.installEventFilter(self)

    def set(self, text: str, tooltip: str | None = None) -> None:
        self.full = text
        self.label.setToolTip(text if tooltip is None else tooltip)
        self._elide()

    def _elide(self) -> None:
        width = self.label.contentsRect().width()
        metrics = self.label.fontMetrics()
        if width > 0 and metrics.horizontalAdvance(self.full) > width:
            self.label.setText(metrics.elidedText(self.full, Qt.TextElideMode.ElideRight, width))
        else:
            self.label.setText(self.full)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.label and event.type() == QEvent.Type.Resize:
            self._elide()
        return False


# --- the session listener, adapted to the window ------------------------------------------


class _ViewListener:
    def __init__(self, window: MainWindow) -> None:
        self.w = window

    def on_turn_started(self, turn: Turn) -> None:
        self.w._turn_started(turn)

    def on_event(self, turn: Turn, event: Event) -> None:
        self.w._turn_event(turn, event)

    def on_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        self.w._turn_retry(turn, attempt, delay, error)

    def on_turn_done(self, turn: Turn) -> None:
        self.w._turn_done(turn)


# --- the window -----------------------------------------------------------------------------


class MainWindow(QMainWindow):
    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.catalog = services.catalog
        self.settings = services.settings
        self.store = services.store
        self._started = False
        self._painted = False
        self._opening = False
        self._shown_leaf: int | None = None  # the last message the view shows
        self._warm_up: asyncio.Task[None] | None = None
        self._old_engines: list[Any] = []
        self.tasks = TaskRegistry(on_error=self._task_failed)
        self._session: ChatSession | None = None
        self._event_handlers: dict[type, Callable[[Turn, Any], None]] = {}
        self.conversation_id: int | None = None
        self._turns: dict[int, Turn] = {}  # streaming turns by conversation
        self._pending_send: dict[int, bool] = {}  # conversation -> the composer text is in flight
        self._new_draft = ""
        self._new_system = ""
        self._attachments: dict[int | None, list[ImagePart]] = {}
        self._models: dict[str, list[ModelInfo]] = {}
        self._delete_tokens: dict[str, str] = {}
        self._closed: asyncio.Future[None] | None = None
        self._shutdown_task: asyncio.Future[None] | None = None
        self._closing = False
        self._close_requested = False
        self._shut_down = False
        self._dialogs: list[QWidget] = []
        self._tool_call_counts: dict[int, int] = {}

        self.setWindowTitle("Parley")
        self.setAccessibleName("Parley")
        self._build()
        self.preview = PreviewController(
            self.panel, self.tasks, lambda: self.session, self.preview_context, services.key, self
        )
        self._wire()
        self._apply_local_style()
        # A bound method, not a lambda: Qt drops the connection when this window is destroyed
        # (a lambda would outlive it and be called on a deleted window).
        theme.notifier().changed.connect(self._on_theme_changed)

        self._purge_deleted()
        # The first screenful now; the rest once the window has painted (`finish_startup`).
        self.refresh_sidebar(limit=SIDEBAR_FIRST_PAGE)
        self._choose_initial_provider()
        self.new_chat()
        if services.store_error is not None:
            self.show_store_error(services.store_error)

    @property
    def session(self) -> ChatSession:
        """The chat session, made on first use: importing it (and the event types) is left to
        the warm-up thread, so the window shows without waiting for it."""
        if self._session is None:
            from parley.core.events import ReasoningDelta, RefusalDelta, TextDelta, ToolCallDelta
            from parley.core.session import ChatSession

            self._event_handlers = {
                TextDelta: self._on_text,
                ReasoningDelta: self._on_reasoning,
                RefusalDelta: self._on_refusal,
                ToolCallDelta: self._on_tool_calls,
            }
            self._session = ChatSession(
                self.store,
                _LazyEngine(self.services),
                self.services.key,
                self.catalog,
                _ViewListener(self),
            )
        return self._session

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.panel = ParamsPanel(None, self)
        parts = build_layout(self, self.panel, panel_visible=self.settings.panel_visible)
        self._parts = parts
        top = self.top_bar = parts.top_bar
        self.top_rule = parts.top_rule
        self.provider_combo = top.provider_combo
        self.model_combo = top.model_combo
        self.refresh_models_button = top.refresh_models_button
        self.model_info = top.model_info
        self._model_info = ElidedText(self.model_info)
        self.preset_combo = top.preset_combo
        self.keys_button = top.keys_button
        self.settings_button = top.settings_button
        self.panel_button = top.panel_button
        self.sidebar = parts.sidebar
        self.sidebar.enable_keys()
        self.system_prompt = parts.system_prompt
        self.banner = parts.banner
        self.chat = parts.chat
        self.composer = parts.composer
        self.splitter = parts.splitter
        self.system_prompt.toggle.setCursor(Qt.CursorShape.PointingHandCursor)

        self._model_names = QStringListModel(self)
        completer = QCompleter(self._model_names, self.model_combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.model_combo.setCompleter(completer)

        self.composer.set_send_key(self.settings.send_key)

        self._system_timer = QTimer(self)
        self._system_timer.setSingleShot(True)
        self._system_timer.setInterval(400)
        self._system_timer.timeout.connect(self._save_system_prompt)

        self.shortcuts: dict[str, QShortcut] = {}
        for keys, slot in (
            ("Ctrl+N", self.new_chat),
            ("Ctrl+K", self.open_switcher),
            ("Ctrl+F", self.sidebar.focus_search),
            ("Esc", self._escape),
            ("Ctrl+Q", self.close),
            ("Ctrl+,", self.open_settings),
        ):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            self.shortcuts[keys] = sc
        self.shortcuts["Esc"].setEnabled(False)  # only while this chat streams
        # Ctrl+Enter sends from anywhere but the chat (whose inline editors use it to save);
        # the composer handles it itself.
        for i, area in enumerate((top, self.sidebar, self.panel, self.system_prompt)):
            for keys in ("Ctrl+Return", "Ctrl+Enter"):
                sc = QShortcut(QKeySequence(keys), area)
                sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                sc.activated.connect(self._send_shortcut)
                self.shortcuts[f"{keys}#{i}"] = sc
        quit_action = QAction("Quit", self)
        quit_action.triggered.connect(self.close)
        self.addAction(quit_action)

    def _wire(self) -> None:
        self.provider_combo.currentIndexChanged.connect(self._provider_chosen)
        self.model_combo.currentTextChanged.connect(self._model_changed)
        self.refresh_models_button.clicked.connect(lambda: self.load_models(refresh=True))
        self.preset_combo.activated.connect(self._preset_chosen)
        self.keys_button.clicked.connect(lambda: self.open_keys())
        self.settings_button.clicked.connect(self.open_settings)
        self.panel_button.toggled.connect(self._toggle_panel)
        self.panel.changed.connect(self._params_changed)
        self.system_prompt.edit.textChanged.connect(self._system_timer.start)
        self.system_prompt.edit.textChanged.connect(self.preview.schedule)

        self.composer.send_requested.connect(self.send)
        self.composer.stop_requested.connect(self.stop)
        self.chat.stop_requested.connect(self.stop)
        self.chat.regenerate_requested.connect(self.regenerate)
        self.chat.edit_requested.connect(self.edit_and_resend)
        self.chat.branch_requested.connect(self.switch_branch)
        self.chat.continue_requested.connect(self.continue_answer)
        self.chat.retry_requested.connect(self.retry)
        self.chat.open_keys_requested.connect(lambda pid: self.open_keys(pid or None))
        self.chat.inspect_requested.connect(self.open_inspector)

        sb = self.sidebar
        sb.new_chat_requested.connect(self.new_chat)
        sb.conversation_selected.connect(lambda cid: self.open_conversation(int(cid)))
        sb.message_selected.connect(lambda cid, mid: self.jump_to_message(int(cid), int(mid)))
        sb.rename_requested.connect(self._rename)
        sb.pin_requested.connect(self._pin)
        sb.delete_requested.connect(self._delete)
        sb.delete_undone.connect(self._undo_delete)
        sb.delete_committed.connect(lambda _cid: self._purge_deleted())
        sb.search_changed.connect(self._search)

    def _on_theme_changed(self, _dark: bool) -> None:
        self._apply_local_style()

    def _apply_local_style(self) -> None:
        apply_local_style(self._parts)

    # --- providers and models ---------------------------------------------------------------------

    def _choose_initial_provider(self) -> None:
        specs = sorted(self.catalog.providers.values(), key=lambda s: (s.local, s.name.lower()))
        with QSignalBlocker(self.provider_combo):
            self.provider_combo.clear()
            for spec in specs:
                self.provider_combo.addItem(spec.name, spec.id)
                i = self.provider_combo.count() - 1
                self.provider_combo.setItemData(
                    i, spec.description or spec.name, Qt.ItemDataRole.ToolTipRole
                )
        wanted = self.settings.last_provider or DEFAULT_PROVIDER
        index = self.provider_combo.findData(wanted)
        if index < 0:
            index = 0
        if self.provider_combo.count():
            self.set_provider(self.provider_combo.itemData(index), self.settings.last_model)
        self._fill_presets()

    def provider_id(self) -> str | None:
        data = self.provider_combo.currentData()
        return str(data) if data is not None else None

    def spec(self) -> ProviderSpec | None:
        pid = self.provider_id()
        return self.catalog.get(pid) if pid else None

    def model(self) -> str:
        return self.model_combo.currentText().strip()

    def set_provider(self, provider_id: str, model: str | None = None) -> None:
        """Switch provider (and model); parameters that still apply are kept."""
        index = self.provider_combo.findData(provider_id)
        if index < 0:
            return
        if index == self.provider_combo.currentIndex() and self.panel.spec() is not None:
            if model and model != self.model():
                self.model_combo.setEditText(model)
            return
        with QSignalBlocker(self.provider_combo):
            self.provider_combo.setCurrentIndex(index)
        self._provider_changed(model)

    def _provider_chosen(self, _index: int) -> None:
        self._provider_changed(None)

    def _provider_changed(self, model: str | None) -> None:
        spec = self.spec()
        if spec is None:
            return
        self.panel.set_provider(spec)
        self.composer.set_images_allowed(
            spec.capabilities.vision,
            f"{spec.name} does not take images here (its provider file lists no vision support).",
        )
        wanted = model or self.settings.models.get(spec.id) or ""
        known = self._models.get(spec.id) or fallback_models(spec.models)
        self._fill_models(known, wanted or (known[0].id if known else ""))
        self.settings.last_provider = spec.id
        self.load_models()
        self.preview.schedule()

    def _fill_models(self, models: Sequence[ModelInfo], current: str) -> None:
        with QSignalBlocker(self.model_combo):
            self.model_combo.clear()
            for m in models:
                self.model_combo.addItem(m.id, m.id)
                tip = m.id + (f"\n{d}" if (d := model_details(m)) else "")
                self.model_combo.setItemData(
                    self.model_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole
                )
            self.model_combo.setEditText(current)
        self._model_names.setStringList([m.id for m in models])
        self._model_changed(current)

    def finish_startup(self) -> None:
        """After the first paint: make the engine and key store (importing httpx and keyring in
        a worker thread, so the window stays responsive meanwhile), then fetch the model list."""
        if self._warm_up is not None or self._closing:
            return
        if self.sidebar.list.count() >= SIDEBAR_FIRST_PAGE:
            self.refresh_sidebar()  # the conversations after the first page
        self.preview.schedule()  # the panel was not visible while the window was being built
        self._warm_up = self.tasks.spawn(self._warm_up_services(), name="parley:warm-up")

    async def _warm_up_services(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.services.warm_up)
        except Exception as exc:  # e.g. a keyring backend that fails to load: say so, go on
            log.warning("starting the engine or key store failed: %s", exc)
            self.banner.show_message(f"Part of Parley failed to start: {exc}")
        self._started = True
        self.preview.enable()
        # Qt classes are made on this thread: the message widgets, for the first answer.
        chatview.widgets()
        self.load_models()
        from parley.ui import update_notice

        update_notice.start(self)

    async def wait_started(self) -> None:
        """Return once the engine and the key store are made (see `finish_startup`)."""
        self.finish_startup()
        if self._warm_up is not None:
            await asyncio.wait([self._warm_up])

    def load_models(self, refresh: bool = False) -> None:
        if not self._started:
            return
        spec = self.spec()
        if spec is None or spec.models.listing is ModelListing.NONE:
            return
        base_url = self.base_url(spec.id)
        if not (base_url or spec.base_url):
            self._model_info.set(
                "Set a base URL (Keys…)",
                "Set this provider's base URL in Keys… to list its models.",
            )
            return
        key = self.services.key(spec.id)
        if spec.models.needs_auth and spec.auth.required and not key:
            self._model_info.set("Add a key (Keys…) to list the models.")
            return
        self.tasks.start(("models", spec.id), self._load_models(spec, key, base_url, refresh))

    async def _load_models(
        self, spec: ProviderSpec, key: str | None, base_url: str | None, refresh: bool
    ) -> None:
        try:
            models = await self.services.engine.list_models(spec, key, base_url, refresh=refresh)
        except ParleyError as err:
            if self.provider_id() == spec.id:
                self._model_info.set(
                    "Model list unavailable (hover for why)", f"Could not list the models: {err}"
                )
            return
        self._models[spec.id] = list(models)
        if self.provider_id() == spec.id:
            self._fill_models(models, self.model() or (models[0].id if models else ""))

    def model_info_for(self, provider_id: str, model: str) -> ModelInfo | None:
        return next((m for m in self._models.get(provider_id, []) if m.id == model), None)

    def _model_changed(self, text: str) -> None:
        pid = self.provider_id()
        if pid is None:
            return
        info = self.model_info_for(pid, text.strip())
        self._model_info.set(model_details(info))
        self.panel.set_supported_parameters(info.supported_parameters if info else None)
        if text.strip():
            self.settings.last_model = text.strip()
            self.settings.models[pid] = text.strip()
        self.preview.schedule()

    def base_url(self, provider_id: str) -> str | None:
        return self.settings.base_urls.get(provider_id) or None

    def run_config(self) -> RunConfig:
        from parley.core.session import RunConfig

        pid = self.provider_id() or ""
        model = self.model()
        return RunConfig(
            provider=pid,
            model=model,
            params=self.panel.values(),
            advanced=self.panel.advanced(),
            base_url=self.base_url(pid),
            model_info=self.model_info_for(pid, model),
        )

    # --- presets ----------------------------------------------------------------------------------

    def _fill_presets(self, current: str | None = None) -> None:
        with QSignalBlocker(self.preset_combo):
            self.preset_combo.clear()
            self.preset_combo.addItem(PRESET_NONE, None)
            for name in sorted(self.settings.presets):
                self.preset_combo.addItem(name, name)
            self.preset_combo.insertSeparator(self.preset_combo.count())
            self.preset_combo.addItem(PRESET_SAVE, PRESET_SAVE)
            index = self.preset_combo.findData(current) if current else 0
            self.preset_combo.setCurrentIndex(max(0, index))

    def _preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name == PRESET_SAVE:
            self._fill_presets(None)
            self.save_preset_interactive()
            return
        if name is None:
            self._set_conversation_preset(None)
            return
        self.apply_preset(str(name))

    def apply_preset(self, name: str) -> None:
        preset = self.settings.presets.get(name)
        if preset is None:
            return
        if preset.provider and preset.provider != self.provider_id():
            self.set_provider(preset.provider)
        self.panel.apply_preset(dict(preset.params), dict(preset.advanced))
        self._fill_presets(name)
        self._set_conversation_preset(name)

    def _set_conversation_preset(self, name: str | None) -> None:
        if self.conversation_id is not None:
            with contextlib.suppress(StoreError):
                self.store.update_conversation(self.conversation_id, preset=name)

    def save_preset(self, name: str) -> None:
        name = name.strip()
        if not name:
            return
        try:
            preset = Preset(
                params=self.panel.values(), advanced=self.panel.advanced(), provider=None
            )
        except ValueError as exc:
            self.banner.show_message(f"The preset was not saved: {exc}")
            return
        self.settings.presets = {**self.settings.presets, name: preset}
        self._save_settings()
        self._fill_presets(name)

    def save_preset_interactive(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        dialog = QInputDialog(self)
        dialog.setWindowTitle("Save preset")
        dialog.setLabelText("Name for the current parameters:")
        dialog.setAccessibleName("Save preset")
        dialog.finished.connect(lambda code: self.save_preset(dialog.textValue()) if code else None)
        self._keep_dialog(dialog)
        dialog.open()

    # --- conversations ----------------------------------------------------------------------------

    def refresh_sidebar(self, limit: int = SIDEBAR_LIMIT) -> None:
        try:
            convs = self.store.list_conversations(limit=limit)
        except StoreError as err:
            self.sidebar.show_error(err.message)
            return
        self.sidebar.set_conversations(
            [
                ConversationRow(str(c.id), c.title or "New chat", c.pinned, c.updated_at)
                for c in convs
                if str(c.id) not in self.sidebar.pending_deletes()
            ]
        )
        self.sidebar.set_current(
            str(self.conversation_id) if self.conversation_id is not None else None
        )

    def _update_sidebar_row(self, conversation_id: int) -> None:
        """Show one conversation's title and recency (after a send or an answer) by moving its
        row, not re-listing them all: with 500 listed that stalled the window on every turn."""
        try:
            c = self.store.get_conversation(conversation_id)
        except StoreError:
            return  # deleted meanwhile: the delete re-lists the sidebar
        self.sidebar.update_row(
            ConversationRow(str(c.id), c.title or "New chat", c.pinned, c.updated_at)
        )

    def _leave_conversation(self) -> None:
        """Keep what was typed (and attached) in the chat being left."""
        draft = self.composer.draft()
        self._attachments[self.conversation_id] = self.composer.attachments()
        if self.conversation_id is None:
            self._new_draft = draft
            self._new_system = self.system_prompt.text()
            return
        if self._pending_send.get(self.conversation_id):
            return
        with contextlib.suppress(StoreError):
            self.store.save_draft(self.conversation_id, draft)
        self._save_system_prompt()

    def new_chat(self) -> None:
        if self.conversation_id is None and self.chat.loaded_count() == 0:
            self.composer.focus_input()
            return
        self._leave_conversation()
        self.conversation_id = None
        self._clear_view()
        self.system_prompt.set_text(self._new_system)
        self.composer.set_draft(self._new_draft)
        self.composer.set_attachments(self._attachments.get(None, []))
        self._update_streaming_state()
        self.sidebar.set_current(None)
        self.preview.schedule()
        self.setWindowTitle("Parley")
        self.composer.focus_input()

    def open_conversation(self, conversation_id: int, *, scroll_to: int | None = None) -> None:
        if conversation_id == self.conversation_id and scroll_to is None:
            return
        try:
            conv = self.store.get_conversation(conversation_id)
        except StoreError as err:
            self.banner.show_message(err.message)
            self.refresh_sidebar()
            return
        self._leave_conversation()
        self.conversation_id = conversation_id
        self._opening = True
        try:
            self._restore_settings_of(conv)
            self.system_prompt.set_text(conv.system_prompt)
        finally:
            self._opening = False
        self.render_conversation()
        self.composer.set_draft(conv.draft)
        self.composer.set_attachments(self._attachments.get(conversation_id, []))
        self._update_streaming_state()
        self.sidebar.set_current(str(conversation_id))
        self.setWindowTitle(f"{conv.title or 'New chat'} — Parley")
        if scroll_to is not None:
            self._reveal(scroll_to)
        self.composer.focus_input()

    def _restore_settings_of(self, conv: Conversation) -> None:
        if conv.provider and self.catalog.get(conv.provider) is not None:
            self.set_provider(conv.provider, conv.model)
            self.panel.set_values(dict(conv.params), dict(conv.advanced))
        if conv.preset and conv.preset in self.settings.presets:
            self._fill_presets(conv.preset)
        else:
            self._fill_presets(None)

    def _clear_view(self) -> None:
        self.chat.clear()
        self._shown_leaf = None

    def render_conversation(self) -> None:
        """Show the current branch of the open conversation (with `< i/n >` per message)."""
        if self.conversation_id is None:
            self._clear_view()
            self._shown_leaf = None
            return
        try:
            rows, path = self._branch_rows(self.conversation_id)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        self.chat.load_messages(rows)
        self._shown_leaf = path[-1].id if path else None
        turn = self._turns.get(self.conversation_id)
        if turn is not None:
            w = self.chat.assistant_widget(str(turn.answer_id))
            if w is not None:
                w.status = "streaming"
                w.set_text(turn.result.text, turn.result.reasoning)
        self.preview.schedule()

    def _branch_rows(
        self, conversation_id: int
    ) -> tuple[list[dict[str, Any]], list[StoredMessage]]:
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
            rows.append(message_row(m, (siblings.index(m.id), len(siblings))))
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
            self.render_conversation()
            self._reveal(message_id)
        else:
            self.open_conversation(conversation_id, scroll_to=message_id)

    def _reveal(self, message_id: int) -> None:
        self.chat.reveal_message(str(message_id))

    def _rename(self, conv_id: str, title: str) -> None:
        try:
            self.store.rename_conversation(int(conv_id), title)
        except StoreError as err:
            self.banner.show_message(err.message)
        self.refresh_sidebar()

    def _pin(self, conv_id: str, pinned: bool) -> None:
        try:
            self.store.set_pinned(int(conv_id), pinned)
        except StoreError as err:
            self.banner.show_message(err.message)
        self.refresh_sidebar()

    def _delete(self, conv_id: str) -> None:
        cid = int(conv_id)
        self.tasks.cancel(("stream", cid))
        try:
            self._delete_tokens[conv_id] = self.store.delete_conversation(cid)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        if self.conversation_id == cid:
            self.conversation_id = None
            self._clear_view()
            self.new_chat()
        self.refresh_sidebar()

    def _undo_delete(self, conv_id: str) -> None:
        token = self._delete_tokens.pop(conv_id, None)
        if token is None:
            return
        try:
            self.store.undo_delete(token)
        except StoreError as err:
            self.banner.show_message(err.message)
        self.refresh_sidebar()

    def _purge_deleted(self) -> None:
        self._delete_tokens.clear()
        if self.store.read_only:
            return
        with contextlib.suppress(StoreError):
            self.store.purge_deleted()

    def _search(self, query: str) -> None:
        if not query:
            self.refresh_sidebar()
            return
        try:
            hits = self.store.search(query, limit=100)
        except StoreError as err:
            self.sidebar.show_error(err.message)
            return
        self.sidebar.set_search_results(
            query,
            [
                SearchHit(
                    str(h.conversation_id),
                    h.title or "New chat",
                    h.snippet,
                    str(h.message_id) if h.message_id is not None else None,
                )
                for h in hits
            ],
        )

    def _save_system_prompt(self) -> None:
        self._system_timer.stop()
        if self.conversation_id is None:
            self._new_system = self.system_prompt.text()
            return
        with contextlib.suppress(StoreError):
            conv = self.store.get_conversation(self.conversation_id)
            if conv.system_prompt != self.system_prompt.text():
                self.store.update_conversation(
                    self.conversation_id, system_prompt=self.system_prompt.text()
                )
        self.preview.schedule()

    # --- chatting ---------------------------------------------------------------------------------

    def _content(self, text: str, attachments: Sequence[ImagePart]) -> str | list[ContentPart]:
        if not attachments:
            return text
        return [TextPart(text=text), *attachments]

    def _precheck(self, config: RunConfig) -> str | None:
        """What stops a send before anything is stored, in words (None: go ahead)."""
        if not config.provider:
            return "Choose a provider first."
        if not config.model:
            return "Choose or type a model first."
        errors = self.panel.errors()
        if errors:
            name, message = next(iter(errors.items()))
            return f"Fix the parameter “{name}” first: {message}"
        return None

    def send(self, text: str, attachments: list[ImagePart] | None = None) -> None:
        attachments = list(attachments or [])
        config = self.run_config()
        problem = self._precheck(config)
        content = self._content(text, attachments)
        if problem is None:
            try:
                self.session.check_ready(self.conversation_id, content, config)
            except ParleyError as err:
                self._show_send_error(err)
                return
            except StoreError as err:
                problem = err.message
        if problem is not None:
            self._notice(problem)
            return
        if self.conversation_id is None:
            try:
                conv_id = self.session.new_conversation(config, self.system_prompt.text())
            except StoreError as err:
                self._notice(err.message)
                return
            self.conversation_id = conv_id
            self._new_draft = ""
            self._new_system = ""
            self._attachments.pop(None, None)
            self.sidebar.set_current(str(conv_id))
            self._update_sidebar_row(conv_id)
        conv = self.conversation_id
        self._pending_send[conv] = True
        self._start_turn(conv, self.session.send(conv, content, config))

    def _send_shortcut(self) -> None:
        if not self.is_streaming():
            self.composer.request_send()

    def _escape(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and focus is not self.composer.edit and hasattr(focus, "cancel"):
            focus.cancel.emit()  # Esc in an inline editor cancels the edit
            return
        self.stop()

    def regenerate(self, message_id: str) -> None:
        if self.conversation_id is None:
            return
        config = self.run_config()
        if (problem := self._precheck(config)) is not None:
            self._notice(problem)
            return
        conv = self.conversation_id
        self._start_turn(conv, self.session.regenerate(conv, int(message_id), config))

    def retry(self, message_id: str) -> None:
        if self.conversation_id is None:
            return
        conv = self.conversation_id
        config = self.run_config()
        self._start_turn(conv, self.session.retry(conv, int(message_id), config))

    def continue_answer(self, message_id: str) -> None:
        if self.conversation_id is None:
            return
        conv = self.conversation_id
        config = self.run_config()
        self._start_turn(conv, self.session.continue_answer(conv, int(message_id), config))

    def edit_and_resend(self, message_id: str, text: str) -> None:
        if self.conversation_id is None or not text.strip():
            return
        conv = self.conversation_id
        config = self.run_config()
        if (problem := self._precheck(config)) is not None:
            self._notice(problem)
            return
        try:
            original = self.store.get_message(int(message_id))
        except StoreError as err:
            self._notice(err.message)
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
            self._notice(err.message)
            return
        if conv != self.conversation_id:
            self.open_conversation(conv)
        config = self.run_config()
        self._start_turn(conv, self.session.replay(conv, answer_id, config, body))

    def switch_branch(self, message_id: str, offset: int) -> None:
        if self.conversation_id is None:
            return
        try:
            self.store.select_sibling(int(message_id), offset)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        self.render_conversation()

    def stop(self) -> None:
        if self.conversation_id is not None:
            self.tasks.cancel(("stream", self.conversation_id))

    def is_streaming(self, conversation_id: int | None = None) -> bool:
        cid = self.conversation_id if conversation_id is None else conversation_id
        return cid is not None and self.tasks.running(("stream", cid))

    def _start_turn(self, conv: int, coro: Coroutine[Any, Any, Turn]) -> None:
        self.tasks.start(("stream", conv), self._run_turn(conv, coro))
        self._update_streaming_state()

    async def _run_turn(self, conv: int, coro: Coroutine[Any, Any, Turn]) -> None:
        try:
            await coro
        except ParleyError as err:  # refused before anything was stored: the prompt stays
            if conv == self.conversation_id:
                self._show_send_error(err)
        except StoreError as err:
            self.banner.show_message(f"The history could not be written: {err.message}")
        finally:
            self._pending_send.pop(conv, None)
            self._turns.pop(conv, None)
            if not self._closing:
                QTimer.singleShot(0, self._update_streaming_state)

    def _update_streaming_state(self) -> None:
        streaming = self.is_streaming()
        self.composer.set_streaming(streaming)
        self.shortcuts["Esc"].setEnabled(streaming)

    def _notice(self, text: str) -> None:
        self.composer.notice.setText(text)
        self.composer.notice.show()

    def _show_send_error(self, err: ParleyError) -> None:
        self._notice(str(err))
        if err.kind is ErrorKind.AUTH or err.code == MISSING_KEY_CODE:
            pid = self.provider_id()
            self.banner.show_message(str(err), [("Open key settings", lambda: self.open_keys(pid))])

    # --- the session's listener -----------------------------------------------------------------

    def _turn_started(self, turn: Turn) -> None:
        self._turns[turn.conversation_id] = turn
        if self._pending_send.pop(turn.conversation_id, False):
            if turn.conversation_id == self.conversation_id:
                self.composer.clear_after_send()
            else:
                with contextlib.suppress(StoreError):
                    self.store.save_draft(turn.conversation_id, "")
            self._attachments.pop(turn.conversation_id, None)
        if turn.conversation_id == self.conversation_id:
            if not self._append_turn(turn):
                self.render_conversation()
            self.chat.scroll_to_bottom()
        self._update_sidebar_row(turn.conversation_id)  # titled by its first prompt, now recent
        self._update_streaming_state()

    def _append_turn(self, turn: Turn) -> bool:
        """A send after the last shown message: add its two messages instead of re-rendering
        the branch (which in a long chat rebuilds a page of widgets)."""
        try:
            user = self.store.get_message(turn.parent_id)
        except StoreError:
            return False
        shown_user = self.chat.widget(str(user.id)) is not None
        if shown_user or user.parent_id != self._shown_leaf:
            return False
        if user.parent_id is not None and self.chat.widget(str(user.parent_id)) is None:
            return False
        row = message_row(user, (0, 1))
        text, images = row["content"], []
        if isinstance(text, list):
            images = [p for p in text if isinstance(p, ImagePart)]
            text = "".join(p.text for p in text if isinstance(p, TextPart))
        self.chat.add_user_message(str(user.id), text, images)
        self.chat.add_assistant_message(str(turn.answer_id))
        self._shown_leaf = turn.answer_id
        return True

    def _answer_widget(self, turn: Turn) -> AssistantMessageWidget | None:
        if turn.conversation_id != self.conversation_id:
            return None
        return self.chat.assistant_widget(str(turn.answer_id))

    def _turn_event(self, turn: Turn, event: Event) -> None:
        handler = self._event_handlers.get(type(event))
        if handler is not None:
            handler(turn, event)

    def _on_text(self, turn: Turn, event: Any) -> None:
        if event.choice == 0 and (w := self._answer_widget(turn)) is not None:
            w.append_text(event.text)

    def _on_reasoning(self, turn: Turn, event: Any) -> None:
        if event.choice == 0 and (w := self._answer_widget(turn)) is not None:
            w.append_reasoning(event.text)

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

    def _turn_retry(self, turn: Turn, attempt: int, delay: float, error: ParleyError) -> None:
        w = self._answer_widget(turn)
        if w is not None:
            w.set_retrying(attempt, delay)
            w.setToolTip(str(error))

    def _turn_done(self, turn: Turn) -> None:
        self._tool_call_counts.pop(turn.answer_id, None)
        w = self._answer_widget(turn)
        if w is not None and not self._closing:
            show_result(w, turn)
        if not self._closing:
            self._update_sidebar_row(turn.conversation_id)
            if turn.conversation_id == self.conversation_id:
                self.preview.schedule()

    def _task_failed(self, slot: Hashable | None, exc: BaseException) -> None:
        log.error("background task %r failed", slot, exc_info=exc)
        if not self._closing:
            self.banner.show_message(f"Something went wrong: {type(exc).__name__}: {exc}")

    # --- panel and preview ------------------------------------------------------------------------

    def _toggle_panel(self, on: bool) -> None:
        self.panel.setVisible(on)
        self.settings.panel_visible = on
        self.panel_button.setAccessibleName(
            "Hide parameter panel" if on else "Show parameter panel"
        )
        if on:
            self.preview.schedule()

    def _params_changed(self) -> None:
        self.composer.notice.hide()

    def preview_context(self) -> PreviewContext | None:
        """What the next send would be made from (None: nothing to preview)."""
        if self._opening or self.spec() is None:
            return None
        return PreviewContext(self.conversation_id, self.run_config(), self.system_prompt.text())

    # --- dialogs ----------------------------------------------------------------------------------

    def _keep_dialog(self, dialog: QWidget) -> None:
        """Dialogs are opened with open() (never exec() inside the loop) and kept alive."""
        self._dialogs.append(dialog)
        if hasattr(dialog, "finished"):
            dialog.finished.connect(lambda *_: self._forget_dialog(dialog))

    def _forget_dialog(self, dialog: QWidget) -> None:
        if dialog in self._dialogs:
            self._dialogs.remove(dialog)
            dialog.deleteLater()

    def open_keys(self, provider_id: str | None = None) -> QWidget:
        from parley.ui.keys_dialog import KeysDialog

        dialog = KeysDialog(
            self.catalog.providers.values(),
            self.services.engine,
            self.services.keys,
            self.settings,
            provider_id or self.provider_id(),
            self,
            save_settings=self.services.save_settings,
        )
        dialog.key_changed.connect(lambda pid: self._key_changed(pid))
        dialog.settings_changed.connect(lambda _s: self._base_urls_changed())
        dialog.provider_added.connect(self._provider_added)
        self._keep_dialog(dialog)
        dialog.open()
        return dialog

    def _key_changed(self, provider_id: str) -> None:
        if provider_id == self.provider_id():
            self.load_models(refresh=True)

    def _base_urls_changed(self) -> None:
        self.load_models(refresh=True)
        self.preview.schedule()

    def _provider_added(self, provider_id: str) -> None:
        self.catalog = load_catalog(
            user_dirs=[user_providers_dir()], cache_path=provider_cache_path()
        )
        self.services.catalog = self.catalog
        if self._session is not None:
            self._session.catalog = self.catalog
        current = self.provider_id()
        self._choose_initial_provider()
        self.set_provider(provider_id or current or DEFAULT_PROVIDER)

    def open_inspector(self, message_id: str) -> QWidget | None:
        from parley.ui.inspect.dialog import InspectorDialog
        from parley.ui.inspect.model import inspect_answer

        try:
            inspection = inspect_answer(self.store, int(message_id))
        except StoreError as err:
            self.banner.show_message(f"This answer cannot be inspected: {err.message}")
            return None
        dialog = InspectorDialog(inspection, self)
        dialog.reproduce_requested.connect(lambda answer_id: self.replay(answer_id))
        dialog.replay_requested.connect(self.replay)
        self._keep_dialog(dialog)
        dialog.open()
        return dialog

    def open_settings(self) -> QWidget:
        from parley.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self, save_settings=self.services.save_settings)
        dialog.applied.connect(self.apply_settings)
        self._keep_dialog(dialog)
        dialog.open()
        return dialog

    def apply_settings(self, settings: Settings | None = None) -> None:
        """Theme, send key, font size and proxy take effect now."""
        s = settings or self.settings
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_theme(app, s.theme)
            theme.apply_font_size(app, s.font_size)
        self.composer.set_send_key(s.send_key)
        engine = self.services.engine
        if (s.proxy or None) != (getattr(engine, "proxy", None) or None):
            from parley.net.engine import Engine

            # Streams running on the old client finish there; it is closed at shutdown.
            self._old_engines.append(engine)
            self.services.engine = Engine(proxy=s.proxy)

    def open_switcher(self) -> QWidget:
        from parley.ui.switcher import QuickSwitcher

        models = {pid: [m.id for m in ms] for pid, ms in self._models.items()}
        for spec in self.catalog.providers.values():
            models.setdefault(spec.id, [m.id for m in fallback_models(spec.models)])
        dialog = QuickSwitcher(self.catalog.providers.values(), models, self)
        dialog.picked.connect(lambda pid, model: self.set_provider(pid, model or None))
        self._keep_dialog(dialog)
        dialog.open()
        return dialog

    def open_first_run(self) -> QWidget | None:
        from parley.ui.first_run import FirstRunGuide

        if self._closing:
            return None
        dialog = FirstRunGuide(
            self.catalog.providers.values(),
            self.services.engine,
            self.services.keys,
            self.settings,
            self,
            save_settings=self.services.save_settings,
        )
        dialog.completed.connect(self._first_run_completed)
        self._keep_dialog(dialog)
        dialog.open()
        return dialog

    def _first_run_completed(self, provider_id: str, model: str, message: str) -> None:
        self.set_provider(provider_id, model or None)
        if message.strip():
            self.new_chat()
            self.composer.set_draft(message)
            self.send(message, [])

    # --- store problems ---------------------------------------------------------------------------

    def show_store_error(self, err: StoreError) -> None:
        actions: list[tuple[str, Callable[[], object]]] = []
        if err.can_move_aside:
            actions.append(("Move it aside and start fresh", self._store_start_fresh))
        if err.can_open_read_only:
            actions.append(("Open it read-only", self._store_read_only))
        actions.append(("Try again", self._store_retry))
        self.banner.show_message(
            f"{err.message}\n\nUntil then your chats are kept in a temporary history that is "
            "not saved.",
            actions,
        )

    def _swap_store(self, store: Store) -> None:
        old = self.store
        for cid in list(self._turns):
            self.tasks.cancel(("stream", cid))
        self.store = store
        self.services.store = store
        self.services.store_error = None
        if self._session is not None:
            self._session.store = store
        with contextlib.suppress(Exception):
            old.close()
        self.conversation_id = None
        self._clear_view()
        self.refresh_sidebar()
        self.new_chat()

    def _store_start_fresh(self) -> None:
        try:
            moved = move_aside_and_start_fresh()
            store = Store.open()
        except (StoreError, OSError) as err:
            self.banner.show_message(f"Starting a fresh history failed: {err}")
            return
        self._swap_store(store)
        self.banner.show_message(f"The old history was moved to {moved}. Nothing was deleted.")

    def _store_read_only(self) -> None:
        try:
            store = Store.open(read_only=True)
        except StoreError as err:
            self.show_store_error(err)
            return
        self._swap_store(store)
        self.banner.show_message(
            "The history is open read-only: you can read and search it, new messages are not saved."
        )

    def _store_retry(self) -> None:
        try:
            store = Store.open()
        except StoreError as err:
            self.show_store_error(err)
            return
        self._swap_store(store)

    # --- settings and shutdown --------------------------------------------------------------------

    def _save_settings(self) -> None:
        try:
            self.services.save_settings(self.settings)
        except Exception as exc:
            log.warning("saving settings failed: %s", exc)
            if not self._closing:
                self.banner.show_message(f"Your settings could not be saved: {exc}")

    def self_test_report(self) -> SelfTestReport:
        keys = self.services.keys
        try:
            name = keys.backend_name()
            available = keys.backend_available()
        except Exception as exc:
            name, available = f"error ({type(exc).__name__})", False
        keyring = name if available else f"{name} (unavailable: keys kept for this session only)"
        problems = list(self.services.problems)
        if self.services.store_error is not None:
            problems.append(f"history: {self.services.store_error.message}")
        fatal = None
        if not self.isVisible():
            fatal = "the main window is not visible"
        return SelfTestReport(len(self.catalog.providers), problems, keyring, fatal)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            # The warm-up thread holds the GIL for much of its imports: started before the
            # first frame (a zero timer fires before it), it made the window appear later.
            self._painted = True
            QTimer.singleShot(0, self.finish_startup)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shut_down:
            event.accept()
            return
        # The app quits after an orderly async shutdown (`shutdown()`); until then the window
        # only records the request.
        event.ignore()
        self._close_requested = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Return when the user closed the window (the caller then awaits `shutdown()`)."""
        if self._close_requested:
            return
        self._closed = asyncio.get_running_loop().create_future()
        await self._closed

    async def shutdown(self) -> None:
        """Stop streams (saving partial answers), close the HTTP client and the history."""
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.ensure_future(self._shutdown())
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self) -> None:
        self._closing = True
        self.preview.stop()
        self.sidebar.flush()
        with contextlib.suppress(Exception):
            self._leave_conversation()
        for dialog in list(self._dialogs):
            with contextlib.suppress(RuntimeError):
                dialog.close()
        await self.tasks.shutdown()
        engines = [*self._old_engines]
        if self.services.has_engine:
            engines.append(self.services.engine)
        for engine in engines:
            with contextlib.suppress(Exception):
                await engine.aclose()
        with contextlib.suppress(Exception):
            self.store.close()
        self._save_settings()
        self._shut_down = True
        frame = self.window()  # the start-up frame when this window lives inside it
        self.hide()
        self.close()
        if frame is not self:
            frame.hide()  # hidden first, as this window: closing it then quits nothing
            frame.close()


# --- rows for the chat view -------------------------------------------------------------------


def message_row(m: StoredMessage, branch: tuple[int, int]) -> dict[str, Any]:
    """A stored message as the chat view takes it (metrics merged from usage, cost, model)."""
    metrics: dict[str, Any] = dict(m.metrics or {})
    usage = m.usage or {}
    for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"):
        if usage.get(name) is not None:
            metrics[name] = usage[name]
    if m.model_used:
        metrics["model_used"] = m.model_used
    if m.cost is not None:
        metrics["cost"] = m.cost
    return {
        "id": str(m.id),
        "role": m.role,
        "content": m.content,
        "reasoning": m.reasoning,
        "status": m.status,
        "error": m.error,
        "finish_reason": m.finish_reason,
        "tool_calls": [c.model_dump() for c in m.tool_calls] if m.tool_calls else None,
        "refusal": m.refusal,
        "branch": branch,
        "metrics": metrics or None,
    }


def show_result(w: AssistantMessageWidget, turn: Turn) -> None:
    """Paint a finished turn: text, badge or error card, metrics."""
    result = turn.result
    if result.tool_calls:
        w.set_tool_calls([c.to_dict() for c in result.tool_calls])
    if result.refusal:
        w.set_refusal(result.refusal)
    w.set_text(result.text, result.reasoning)
    if result.status == "failed" and result.error is not None:
        err = result.error
        w.set_error(
            err.kind.value,
            err.message,
            err.provider_message,
            turn.spec.id,
            err.retry_after if err.kind is ErrorKind.RATE_LIMIT else None,
        )
    elif result.status == "stopped":
        w.set_stopped()
    else:
        w.set_finished(result.finish_reason or "stop")
    m = result.metrics
    usage = result.usage
    currency = (turn.model_info.currency if turn.model_info else None) or "USD"
    w.set_metrics(
        result.model_used,
        m.ttft_ms,
        m.tokens_per_s,
        usage.prompt_tokens if usage else None,
        m.completion_tokens,
        usage.reasoning_tokens if usage else None,
        usage.cached_tokens if usage else None,
        result.cost(turn.model_info),
        total_ms=m.total_ms,
        currency=currency,
        estimated=m.estimated,
    )

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
from collections.abc import Callable, Hashable, Sequence
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
from parley.core.errors import ParleyError
from parley.core.modellist import ModelInfo, fallback_models
from parley.core.paths import provider_cache_path, user_providers_dir
from parley.core.request import ImagePart
from parley.core.settings import Preset, Settings, load_settings, save_settings
from parley.core.store import (
    Conversation,
    Store,
    StoreError,
    move_aside_and_start_fresh,
)
from parley.ui import chatview, theme
from parley.ui.chat.controller import ChatController
from parley.ui.layout import apply_local_style, build_layout
from parley.ui.params.preview import PreviewContext, PreviewController
from parley.ui.params_panel import ParamsPanel
from parley.ui.sidebar import ConversationRow, SearchHit
from parley.ui.tasks import TaskRegistry

if TYPE_CHECKING:
    from parley.core.secrets import KeyStore
    from parley.core.session import ChatSession, RunConfig

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
        self._warm_up: asyncio.Task[None] | None = None
        self._old_engines: list[Any] = []
        self.tasks = TaskRegistry(on_error=self._task_failed)
        self._models: dict[str, list[ModelInfo]] = {}
        self._delete_tokens: dict[str, str] = {}
        self._closed: asyncio.Future[None] | None = None
        self._shutdown_task: asyncio.Future[None] | None = None
        self._closing = False
        self._close_requested = False
        self._shut_down = False
        self._dialogs: list[QWidget] = []

        self.setWindowTitle("Parley")
        self.setAccessibleName("Parley")
        self._build()
        self.chats = ChatController(
            store=self.store,
            tasks=self.tasks,
            view=self.chat,
            composer=self.composer,
            system_prompt=self.system_prompt,
            banner=self.banner,
            engine=lambda: self.services.engine,
            keys=services.key,
            catalog=self.catalog,
            config=self.run_config,
            precheck=self._precheck,
            parent=self,
        )
        self.preview = PreviewController(
            self.panel,
            self.tasks,
            lambda: self.chats.session,
            self.preview_context,
            services.key,
            self,
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

        chats = self.chats
        chats.current_changed.connect(self._current_changed)
        chats.conversation_changed.connect(self._update_sidebar_row)
        chats.title_changed.connect(self.setWindowTitle)
        chats.opening.connect(self._restore_settings_of)
        chats.streaming_changed.connect(self.shortcuts["Esc"].setEnabled)
        chats.request_changed.connect(self.preview.schedule)
        chats.keys_wanted.connect(lambda pid: self.open_keys(pid or None))
        self.chat.open_keys_requested.connect(lambda pid: self.open_keys(pid or None))
        self.chat.inspect_requested.connect(self.open_inspector)

        sb = self.sidebar
        sb.new_chat_requested.connect(self.new_chat)
        sb.conversation_selected.connect(lambda cid: self.open_conversation(int(cid)))
        sb.message_selected.connect(lambda cid, mid: self.chats.jump_to_message(int(cid), int(mid)))
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

    # --- the chat's actions, as the window's API (the start-up frame, scripts, tests) -----------

    @property
    def conversation_id(self) -> int | None:
        return self.chats.conversation_id

    @property
    def session(self) -> ChatSession:
        return self.chats.session

    def new_chat(self) -> None:
        self.chats.new_chat()

    def open_conversation(self, conversation_id: int, *, scroll_to: int | None = None) -> None:
        if not self.chats.open_conversation(conversation_id, scroll_to=scroll_to):
            self.refresh_sidebar()

    def send(self, text: str, attachments: list[ImagePart] | None = None) -> None:
        self.chats.send(text, attachments)

    def regenerate(self, message_id: str) -> None:
        self.chats.regenerate(message_id)

    def is_streaming(self, conversation_id: int | None = None) -> bool:
        return self.chats.is_streaming(conversation_id)

    def _current_changed(self, conversation_id: int | None) -> None:
        self.sidebar.set_current(str(conversation_id) if conversation_id is not None else None)

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

    def _send_shortcut(self) -> None:
        if not self.is_streaming():
            self.composer.request_send()

    def _escape(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and focus is not self.composer.edit and hasattr(focus, "cancel"):
            focus.cancel.emit()  # Esc in an inline editor cancels the edit
            return
        self.chats.stop()

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

    def _restore_settings_of(self, conv: Conversation) -> None:
        """A stored conversation opens with the provider, model, parameters and preset it had."""
        if conv.provider and self.catalog.get(conv.provider) is not None:
            self.set_provider(conv.provider, conv.model)
            self.panel.set_values(dict(conv.params), dict(conv.advanced))
        if conv.preset and conv.preset in self.settings.presets:
            self._fill_presets(conv.preset)
        else:
            self._fill_presets(None)

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
        self.tasks.cancel(("stream", cid))  # before the delete: it stops writing there
        try:
            self._delete_tokens[conv_id] = self.store.delete_conversation(cid)
        except StoreError as err:
            self.banner.show_message(err.message)
            return
        self.chats.conversation_deleted(cid)
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
        if self.chats.is_opening or self.spec() is None:
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
        self.chats.set_catalog(self.catalog)
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
        dialog.reproduce_requested.connect(lambda answer_id: self.chats.replay(answer_id))
        dialog.replay_requested.connect(self.chats.replay)
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
        self.store = store
        self.services.store = store
        self.services.store_error = None
        try:
            old.close()
        except Exception:
            log.warning("closing the history that was replaced failed", exc_info=True)
        self.chats.set_store(store)
        self.refresh_sidebar()

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
        self.chats.closing = True
        self.preview.stop()
        self.sidebar.flush()
        with contextlib.suppress(Exception):
            self.chats.leave_conversation()
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

"""The main window: builds its parts and connects their signals, and does nothing else.

The parts (qutebrowser's `MainWindow._connect_signals` is the model): the chat and its turns
(`ui.chat.controller`), the sidebar's history actions (`ui.history.sidebar_actions`), the
pickers and presets (`ui.params.pickers`), the request preview (`ui.params.preview`), the
dialogs (`ui.dialogs`) and store recovery (`ui.history.recovery`). They talk by Qt signals,
never by calling back into the window. The window owns the app's long-lived objects
(`Services`) and one `TaskRegistry`; `shutdown()` stops everything in order (streams first,
saving their partial answers as stopped; then the HTTP client; then the history) and is what
closing the window leads to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QPaintEvent, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

from parley.core.app.settings import Settings
from parley.core.protocol.request import ImagePart
from parley.core.providers.catalog import ProviderSpec
from parley.core.store import Store
from parley.ui import chatview, theme
from parley.ui.chat.controller import ChatController
from parley.ui.chat.token_meter import TokenMeter
from parley.ui.chat.tree_actions import TreeActions
from parley.ui.dialogs import Dialogs, model_lists
from parley.ui.history.recovery import StoreRecovery
from parley.ui.history.sidebar_actions import SIDEBAR_FIRST_PAGE, SIDEBAR_LIMIT, HistoryController
from parley.ui.history.transfer import Transfer
from parley.ui.lab.compare import LabContext
from parley.ui.lab.window import LabWindow
from parley.ui.layout import apply_local_style, build_layout
from parley.ui.menus import shortcut_rows
from parley.ui.params.pickers import Pickers, model_details
from parley.ui.params.preview import PreviewContext, PreviewController
from parley.ui.params_panel import ParamsPanel
from parley.ui.self_test import SelfTestReport, self_test_report
from parley.ui.services import Services, load_services, open_store
from parley.ui.tasks import TaskRegistry

if TYPE_CHECKING:
    from parley.core.chat.session import ChatSession

__all__ = [
    "SIDEBAR_FIRST_PAGE",
    "MainWindow",
    "Services",
    "load_services",
    "model_details",
    "open_main_window",
    "open_store",
]

log = logging.getLogger("parley.ui.window")

STARTUP_FALLBACK_MS = 1000


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


class MainWindow(QMainWindow):
    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.settings = services.settings
        self._painted = False
        self._warm_up: asyncio.Task[None] | None = None
        self._old_engines: list[Any] = []
        self._closed: asyncio.Future[None] | None = None
        self._shutdown_task: asyncio.Future[None] | None = None
        self._closing = False
        self._close_requested = False
        self._shut_down = False
        self.tasks = TaskRegistry(on_error=self._task_failed)
        self.setWindowTitle("Parley")
        self.setAccessibleName("Parley")
        self._build()
        self._connect_signals()
        self._apply_local_style()
        # A bound method, not a lambda: Qt drops the connection when this window is destroyed
        # (a lambda would outlive it and be called on a deleted window).
        theme.notifier().changed.connect(self._on_theme_changed)

        self.history.purge_deleted()
        # The first screenful now; the rest once the window has painted (`finish_startup`).
        self.history.refresh(limit=SIDEBAR_FIRST_PAGE)
        self.pickers.choose_initial_provider()
        self.chats.new_chat()
        if services.store_error is not None:
            self.recovery.show(services.store_error)

    # --- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        s = self.services
        self.panel = ParamsPanel(None, self)
        parts = self._parts = build_layout(self, self.panel, panel_visible=s.settings.panel_visible)
        top = self.top_bar = parts.top_bar
        self.top_rule = parts.top_rule
        self.provider_combo, self.model_combo = top.provider_combo, top.model_combo
        self.preset_combo, self.model_info = top.preset_combo, top.model_info
        self.refresh_models_button = top.refresh_models_button
        self.keys_button, self.settings_button = top.keys_button, top.settings_button
        self.panel_button = top.panel_button
        self.sidebar, self.system_prompt = parts.sidebar, parts.system_prompt
        self.banner, self.chat, self.composer = parts.banner, parts.chat, parts.composer
        self.splitter = parts.splitter
        self.sidebar.enable_keys()
        self.system_prompt.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.composer.set_send_key(s.settings.send_key)

        self.pickers = Pickers(
            top,
            self.panel,
            self.banner,
            catalog=s.catalog,
            settings=s.settings,
            tasks=self.tasks,
            engine=lambda: self.services.engine,
            key=s.key,
            parent=self,
        )
        self._model_info = self.pickers.model_info
        self.chats = ChatController(
            store=s.store,
            tasks=self.tasks,
            view=self.chat,
            composer=self.composer,
            system_prompt=self.system_prompt,
            banner=self.banner,
            engine=lambda: self.services.engine,
            keys=s.key,
            catalog=s.catalog,
            config=self.pickers.run_config,
            precheck=self.pickers.precheck,
            parent=self,
        )
        self.preview = PreviewController(
            self.panel, self.tasks, lambda: self.chats.session, self._preview_context, s.key, self
        )
        self.history = HistoryController(
            s.store, self.sidebar, self.banner, lambda: self.chats.conversation_id, self
        )
        self.recovery = StoreRecovery(self.banner, self)
        self.dialogs = Dialogs(
            self,
            s,
            self.banner,
            current_provider=self.pickers.provider_id,
            models=lambda: model_lists(self.services.catalog, self.pickers.models),
            listed=lambda: [pid for pid, ms in self.pickers.models.items() if ms],
        )
        self._dialogs = self.dialogs.open_dialogs
        self.lab = LabWindow(
            LabContext(
                store=lambda: self.services.store,
                engine=lambda: self.services.engine,
                keys=s.key,
                catalog=lambda: self.services.catalog,
                tasks=self.tasks,
                chat_config=self.pickers.run_config,
                chat_system=self.system_prompt.text,
                ensure_conversation=self.chats.ensure_conversation,
                base_url_for=self.pickers.base_url,
                model_info=self.pickers.model_info_for,
                base_urls=lambda: dict(self.settings.base_urls),
                presets=lambda: dict(self.settings.presets),
                sweep_engine=lambda: self.services.lab_engine,
            )
        )

        self.tokens = TokenMeter(
            self.composer,
            self.system_prompt,
            lambda: self.services.store,
            lambda: self.chats.conversation_id,
            self._context_length,
            self,
        )
        self.menus = parts.menus
        self.transfer = Transfer(lambda: self.services.store, self.banner, self._secrets, self)
        self.tree = TreeActions(lambda: self.services.store, self.banner, self._secrets, self)

        # The menus' actions own Ctrl+N, Ctrl+K, Ctrl+F, Ctrl+Q, Ctrl+, (see ui.menus).
        self.shortcuts: dict[str, QShortcut] = {}
        sc = QShortcut(QKeySequence("Esc"), self)
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        sc.activated.connect(self._escape)
        sc.setEnabled(False)  # only while this chat streams
        self.shortcuts["Esc"] = sc
        # Ctrl+Enter sends from anywhere but the chat (whose inline editors use it to save);
        # the composer handles it itself.
        for i, area in enumerate((top, self.sidebar, self.panel, self.system_prompt)):
            for keys in ("Ctrl+Return", "Ctrl+Enter"):
                sc = QShortcut(QKeySequence(keys), area)
                sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                sc.activated.connect(self._send_shortcut)
                self.shortcuts[f"{keys}#{i}"] = sc

    def _connect_signals(self) -> None:
        chats, history, pickers, dialogs = self.chats, self.history, self.pickers, self.dialogs
        preview = self.preview

        self.keys_button.clicked.connect(lambda: dialogs.open_keys())
        self.settings_button.clicked.connect(dialogs.open_settings)
        self.panel_button.toggled.connect(self._toggle_panel)
        self.panel.changed.connect(self.composer.notice.hide)

        pickers.spec_changed.connect(self._spec_changed)
        pickers.request_changed.connect(preview.schedule)
        pickers.request_changed.connect(self.tokens.schedule)
        pickers.preset_chosen.connect(chats.set_preset)
        pickers.preset_name_wanted.connect(dialogs.ask_preset_name)
        pickers.settings_changed.connect(self._save_settings)

        chats.current_changed.connect(history.show_current)
        chats.current_changed.connect(self._current_changed)
        chats.conversation_changed.connect(history.update_row)
        chats.title_changed.connect(self.setWindowTitle)
        chats.opening.connect(pickers.restore)
        chats.streaming_changed.connect(self.shortcuts["Esc"].setEnabled)
        chats.request_changed.connect(preview.schedule)
        chats.request_changed.connect(self.tokens.schedule)
        chats.keys_wanted.connect(lambda pid: dialogs.open_keys(pid or None))
        self.chat.open_keys_requested.connect(lambda pid: dialogs.open_keys(pid or None))
        self.chat.inspect_requested.connect(dialogs.open_inspector)

        self.sidebar.new_chat_requested.connect(chats.new_chat)
        history.open_requested.connect(self.open_conversation)
        history.jump_requested.connect(chats.jump_to_message)
        history.deleting.connect(lambda cid: self.tasks.cancel(("stream", cid)))
        history.deleted.connect(chats.conversation_deleted)

        recovery = self.recovery
        recovery.store_opened.connect(self._swap_store)

        dialogs.key_changed.connect(pickers.key_changed)
        dialogs.base_urls_changed.connect(lambda: pickers.load_models(refresh=True))
        dialogs.base_urls_changed.connect(preview.schedule)
        dialogs.provider_added.connect(self._provider_added)
        dialogs.settings_applied.connect(self.apply_settings)
        dialogs.model_picked.connect(lambda pid, model: pickers.set_provider(pid, model or None))
        dialogs.first_run_completed.connect(self._first_run_completed)
        dialogs.preset_named.connect(pickers.save_preset)
        dialogs.reproduce_requested.connect(lambda answer_id: chats.replay(answer_id))
        dialogs.replay_requested.connect(chats.replay)

        menus, transfer, tree = self.menus, self.transfer, self.tree
        menus.new_chat.triggered.connect(chats.new_chat)
        menus.import_chat.triggered.connect(transfer.ask_import)
        menus.export_chat.triggered.connect(lambda: transfer.ask_export(chats.conversation_id))
        menus.quit.triggered.connect(self.close)
        menus.find.triggered.connect(self.sidebar.focus_search)
        menus.switch_model.triggered.connect(dialogs.open_switcher)
        menus.fork_chat.triggered.connect(lambda: tree.fork_shown(chats.conversation_id))
        menus.delete_chat.triggered.connect(self._delete_current_chat)
        menus.settings.triggered.connect(dialogs.open_settings)
        menus.keys.triggered.connect(lambda: dialogs.open_keys())
        menus.shortcuts.triggered.connect(lambda: dialogs.open_shortcuts(shortcut_rows(menus)))
        menus.about.triggered.connect(dialogs.open_about)
        menus.sweep.triggered.connect(self.open_sweep)
        self.sidebar.export_requested.connect(lambda cid: transfer.ask_export(int(cid)))
        transfer.imported.connect(self._show_new_conversation)
        self.chat.fork_requested.connect(tree.fork)
        self.chat.delete_requested.connect(tree.ask_delete)
        tree.forked.connect(self._show_new_conversation)
        tree.branch_deleted.connect(self._branch_deleted)

        lab = self.lab
        self.composer.compare_requested.connect(lab.compare_prompt)
        lab.prompt_taken.connect(self.composer.clear_after_send)
        lab.chat_changed.connect(chats.conversation_updated)
        lab.chat_continued.connect(chats.conversation_continued)
        lab.inspect_requested.connect(dialogs.open_inspector)
        lab.keys_requested.connect(lambda pid: dialogs.open_keys(pid or None))
        chats.comparison_wanted.connect(lab.open_comparison)
        menus.lab.triggered.connect(lab.present)

    def _on_theme_changed(self, _dark: bool) -> None:
        self._apply_local_style()
        if self._warm_up is not None:  # the icons are drawn once the window has started
            from parley.ui import icons

            icons.retint(self)

    def _apply_local_style(self) -> None:
        apply_local_style(self._parts)

    # --- the parts' actions, as the window's API (the start-up frame, scripts, tests) ----------

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def catalog(self) -> Any:
        return self.services.catalog

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
            self.history.refresh()

    def send(self, text: str, attachments: list[ImagePart] | None = None) -> None:
        self.chats.send(text, attachments)

    def regenerate(self, message_id: str) -> None:
        self.chats.regenerate(message_id)

    def is_streaming(self, conversation_id: int | None = None) -> bool:
        return self.chats.is_streaming(conversation_id)

    def refresh_sidebar(self, limit: int = SIDEBAR_LIMIT) -> None:
        self.history.refresh(limit)

    def _rename(self, conv_id: str, title: str) -> None:
        self.history.rename(conv_id, title)

    def _pin(self, conv_id: str, pinned: bool) -> None:
        self.history.pin(conv_id, pinned)

    def spec(self) -> ProviderSpec | None:
        return self.pickers.spec()

    def model(self) -> str:
        return self.pickers.model()

    def set_provider(self, provider_id: str, model: str | None = None) -> None:
        self.pickers.set_provider(provider_id, model)

    def apply_preset(self, name: str) -> None:
        self.pickers.apply_preset(name)

    def save_preset(self, name: str) -> None:
        self.pickers.save_preset(name)

    def open_keys(self, provider_id: str | None = None) -> QWidget:
        return self.dialogs.open_keys(provider_id)

    def open_settings(self) -> QWidget:
        return self.dialogs.open_settings()

    def open_switcher(self) -> QWidget:
        return self.dialogs.open_switcher()

    def open_first_run(self) -> QWidget | None:
        return self.dialogs.open_first_run()

    def open_experiment_file(self, path: str) -> bool:
        """`parley FILE.toml`: the experiment in the Lab, ready to run."""
        return self.lab.open_experiment_file(path)

    def open_sweep(self) -> QWidget:
        return self.lab.show_page("sweep")

    # --- what no single part owns -------------------------------------------------------------

    def _send_shortcut(self) -> None:
        if not self.is_streaming():
            self.composer.request_send()

    def _escape(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and focus is not self.composer.edit and hasattr(focus, "cancel"):
            focus.cancel.emit()  # Esc in an inline editor cancels the edit
            return
        self.chats.stop()

    def _current_changed(self, conversation_id: int | None) -> None:
        notice = self.composer.notice
        if conversation_id is None:
            notice.inform(self.pickers.start_new_chat())
        elif notice.is_news():
            notice.hide()

    def _context_length(self) -> int | None:
        pid = self.pickers.provider_id()
        info = self.pickers.model_info_for(pid, self.pickers.model()) if pid else None
        return info.context_length if info is not None else None

    def _secrets(self) -> list[str | None]:
        """Every key Parley knows (the environment's and each provider's), to scrub from
        exports and forks."""
        from parley.core.store.export import env_secrets

        return [*env_secrets(), *(self.services.key(pid) for pid in self.catalog.providers)]

    def _show_new_conversation(self, conversation_id: int) -> None:
        """An imported or forked chat: listed and opened."""
        self.history.refresh()
        self.open_conversation(conversation_id)

    def _branch_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.chats.conversation_id:
            self.chats.render()
        self.history.update_row(conversation_id)

    def _delete_current_chat(self) -> None:
        cid = self.chats.conversation_id
        if cid is not None:
            self.sidebar.delete(str(cid))  # with its undo bar, as from the list

    def _spec_changed(self, spec: ProviderSpec) -> None:
        self.chat.set_continue_in_place(spec.quirks.continue_final is not None)
        self.composer.set_images_allowed(
            spec.capabilities.vision,
            f"{spec.name} does not take images here (its provider file lists no vision support).",
        )

    def _toggle_panel(self, on: bool) -> None:
        self.panel.setVisible(on)
        self.settings.panel_visible = on
        self.panel_button.setAccessibleName(
            "Hide parameter panel" if on else "Show parameter panel"
        )
        if on:
            self.preview.schedule()

    def _preview_context(self) -> PreviewContext | None:
        """What the next send would be made from (None: nothing to preview)."""
        if self.chats.is_opening or self.pickers.spec() is None:
            return None
        config = self.pickers.run_config()
        return PreviewContext(self.chats.conversation_id, config, self.system_prompt.text())

    def _provider_added(self, provider_id: str) -> None:
        catalog = self.services.reload_catalog()
        self.chats.set_catalog(catalog)
        self.pickers.set_catalog(catalog, provider_id)

    def _first_run_completed(self, provider_id: str, model: str, message: str) -> None:
        self.pickers.set_provider(provider_id, model or None)
        if message.strip():
            self.chats.new_chat()
            self.composer.set_draft(message)
            self.chats.send(message, [])

    def _swap_store(self, store: Store) -> None:
        self.services.replace_store(store)
        self.chats.set_store(store)
        self.history.set_store(store)

    def apply_settings(self, settings: Settings | None = None) -> None:
        """Theme, send key, font size and proxy take effect now."""
        s = settings or self.settings
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_theme(app, s.theme)
            theme.apply_font_size(app, s.font_size)
        self.composer.set_send_key(s.send_key)
        # The old engines' streams finish there; they are closed at shutdown.
        self._old_engines += self.services.apply_network_settings()

    def _save_settings(self) -> None:
        try:
            self.services.save_settings(self.settings)
        except Exception as exc:
            log.warning("saving settings failed: %s", exc)
            if not self._closing:
                self.banner.show_message(f"Your settings could not be saved: {exc}")

    def _task_failed(self, slot: Hashable | None, exc: BaseException) -> None:
        log.error("background task %r failed", slot, exc_info=exc)
        if not self._closing:
            self.banner.show_message(f"Something went wrong: {type(exc).__name__}: {exc}")

    def self_test_report(self) -> SelfTestReport:
        return self_test_report(self.services, visible=self.isVisible())

    # --- starting and stopping ----------------------------------------------------------------

    def finish_startup(self) -> None:
        """After the first paint: make the engine and key store (importing httpx and keyring in
        a worker thread, so the window stays responsive meanwhile), then fetch the model list."""
        if self._warm_up is not None or self._closing:
            return
        if self.sidebar.list.count() >= SIDEBAR_FIRST_PAGE:
            self.history.refresh()  # the conversations after the first page
        self.preview.schedule()  # the panel was not visible while the window was being built
        self._warm_up = self.tasks.spawn(self._warm_up_services(), name="parley:warm-up")

    async def _warm_up_services(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.services.warm_up)
        except Exception as exc:  # e.g. a keyring backend that fails to load: say so, go on
            log.warning("starting the engine or key store failed: %s", exc)
            self.banner.show_message(f"Part of Parley failed to start: {exc}")
        self.preview.enable()
        # Qt classes are made on this thread: the message widgets, for the first answer.
        chatview.widgets()
        self.pickers.enable()
        from parley.ui import icons, update_notice

        icons.decorate(self._parts)

        update_notice.start(self)

    async def wait_started(self) -> None:
        """Return once the engine and the key store are made (see `finish_startup`)."""
        self.finish_startup()
        if self._warm_up is not None:
            await asyncio.wait([self._warm_up])

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            # The warm-up thread holds the GIL for much of its imports: started before the
            # first frame (a zero timer fires before it), it made the window appear later.
            self._painted = True
            QTimer.singleShot(0, self.finish_startup)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        history = getattr(self, "history", None)  # None while the window is being built
        if event.type() == QEvent.Type.ActivationChange and history and not self._close_requested:
            # `parley import` run meanwhile shows when the window is back in front.
            history.watch(self.isActiveWindow())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.history.watch(False)
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
        self._closing = self.chats.closing = self.dialogs.closing = True
        self.preview.stop()
        self.sidebar.flush()
        try:
            self.chats.leave_conversation()
        except Exception:
            log.warning("keeping the open chat's draft at shutdown failed", exc_info=True)
        self.dialogs.close_all()
        self.lab.compare.closing = True
        await self.tasks.shutdown()  # a comparison under way stops; its panes are kept
        self.lab.hide()
        self.lab.deleteLater()
        engines = [*self._old_engines]
        if self.services.has_engine:
            engines.append(self.services.engine)
        if self.services.has_lab_engine:
            engines.append(self.services.lab_engine)
        for engine in engines:
            try:
                await engine.aclose()
            except Exception:
                log.warning("closing an HTTP client failed", exc_info=True)
        try:
            self.services.store.close()
        except Exception:
            log.warning("closing the history failed", exc_info=True)
        self._save_settings()
        self._shut_down = True
        frame = self.window()  # the start-up frame when this window lives inside it
        self.hide()
        self.close()
        if frame is not self:
            frame.hide()  # hidden first, as this window: closing it then quits nothing
            frame.close()

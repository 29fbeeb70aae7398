"""The window's first frame, shown before the heavy parts of Parley are loaded.

Start-up, in order (see `parley.app.main`):

1. The QApplication, then `BootWindow`: the main window's own layout (`parley.ui.layout`) with a
   placeholder where the parameter panel goes, filled from plain data (`parley.core.app.bootstate`):
   theme, font size, the conversation list, the last provider and model. It is shown and takes
   input at once: the user can type, attach images, write a system prompt, search, click.
2. Once it has painted and Qt's queue is idle, a worker thread imports what the full window needs
   (qasync, pydantic, the catalog, the window's modules) and loads the provider catalog, the
   settings and the history (`load_services`). Only imports and plain data happen there; every
   Qt object is made on the GUI thread.
3. Back on the GUI thread, the Qt loop that ran the first frame returns, the asyncio loop (qasync)
   starts, and `take_over` makes the full `MainWindow` inside this frame in place of the first
   frame's parts, carrying over what the user did meanwhile: the text typed (and where the cursor
   was), images attached, the system prompt, the search, a model typed, the panel toggled, and
   actions asked for (a send, a conversation opened, renamed, pinned or deleted, a new chat, keys
   or settings opened) in the order asked.

Closing the frame before step 3 quits once the load has finished (the history is closed cleanly).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore  # `Qt` looked up when used (see parley.ui.lightqt)
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

from parley.core.app.bootstate import BootState
from parley.ui import theme
from parley.ui.layout import WindowParts, build_layout
from parley.ui.lightqt import add_item
from parley.ui.sidebar import ConversationRow

if TYPE_CHECKING:
    from PySide6.QtGui import QCloseEvent

    from parley.ui.mainwindow import MainWindow, Services

IDLE_ROUNDS = 3
# While the loader thread runs, the GUI thread gets the GIL back within this many seconds
# (Python's default is 5 ms, paid on each of the many Qt-to-Python calls an event makes).
LOADING_SWITCH_INTERVAL = 0.001


def load_everything() -> Services:
    """What the full window needs (runs in the loader thread: imports and plain data only)."""
    import qasync  # noqa: F401 - the asyncio loop of step 3

    from parley.ui import mainwindow

    return mainwindow.load_services()


class _LoaderSignals(QObject):
    finished = Signal(object)  # Services, or the exception that stopped the load


class BootWindow(QMainWindow):
    """The top-level window: the first frame until `take_over`, then the full window's frame."""

    def __init__(self, state: BootState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Parley")
        self.setAccessibleName("Parley")
        self.main: MainWindow | None = None
        self.services: Services | None = None
        self.load_error: BaseException | None = None
        self.close_requested = False
        self.interactive_at: float | None = None
        self._idle_rounds = 0
        self._on_interactive: list[Callable[[], object]] = []
        self._on_loaded: list[Callable[[], object]] = []
        self._intents: list[tuple[str, tuple[Any, ...]]] = []

        placeholder = QWidget(self)
        placeholder.setObjectName("panelPlaceholder")
        placeholder.setAccessibleName("Parameter panel (loading)")
        self.parts: WindowParts = build_layout(self, placeholder, panel_visible=state.panel_visible)
        self._fill(state)
        self._record_intents()

    # --- the first frame ------------------------------------------------------------------

    def _fill(self, state: BootState) -> None:
        top = self.parts.top_bar
        if state.provider_id:
            add_item(
                top.provider_combo, state.provider_name or state.provider_id, state.provider_id
            )
        top.model_combo.setEditText(state.model or "")
        top.preset_combo.addItem("No preset")
        self.parts.composer.set_send_key(state.send_key)
        self.parts.sidebar.set_conversations(
            [
                ConversationRow(str(c.id), c.title, c.pinned, c.updated_at, c.model)
                for c in state.conversations
            ]
        )
        self.parts.composer.focus_input()

    def _record_intents(self) -> None:
        """What the user asks for before the full window exists, replayed by `take_over`."""
        p = self.parts
        p.composer.send_requested.connect(lambda _text, _images: self._send_wanted())
        p.sidebar.conversation_selected.connect(lambda cid: self._intend("open", int(cid)))
        p.sidebar.new_chat_requested.connect(lambda: self._intend("new_chat"))
        p.sidebar.rename_requested.connect(lambda cid, title: self._intend("rename", cid, title))
        p.sidebar.pin_requested.connect(lambda cid, pinned: self._intend("pin", cid, pinned))
        p.sidebar.delete_requested.connect(lambda cid: self._intend("delete", cid))
        p.sidebar.delete_undone.connect(lambda cid: self._forget(("delete", (cid,))))
        p.top_bar.keys_button.clicked.connect(lambda: self._intend("keys"))
        p.top_bar.settings_button.clicked.connect(lambda: self._intend("settings"))
        p.top_bar.panel_button.toggled.connect(lambda on: p.panel.setVisible(on))
        # The menus are shown (so the bar does not appear later) but work in the full window.
        p.menus.set_enabled(False)

    def _send_wanted(self) -> None:
        if ("send", ()) not in self._intents:
            self._intend("send")
        notice = self.parts.composer.notice
        notice.setText("Parley is still starting; your message goes out in a moment.")
        notice.show()

    def _intend(self, what: str, *args: Any) -> None:
        if self.main is None:
            self._intents.append((what, args))

    def _forget(self, intent: tuple[str, tuple[Any, ...]]) -> None:
        if intent in self._intents:
            self._intents.remove(intent)

    def intents(self) -> list[tuple[str, tuple[Any, ...]]]:
        return list(self._intents)

    # --- interactive, then loading ----------------------------------------------------------

    def when_interactive(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the frame is shown and Qt's queue has drained (see `present`)."""
        if self.interactive_at is not None:
            callback()
        else:
            self._on_interactive.append(callback)

    def when_loaded(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the loader thread is done (see `services` / `load_error`)."""
        if self.services is not None or self.load_error is not None:
            callback()
        else:
            self._on_loaded.append(callback)

    def present(self) -> None:
        """Show the frame; `when_interactive` callbacks run once Qt has handled what showing it
        queued (expose, layout, paint) and its queue has drained (no Python paint handler: one
        would make PySide build its event classes before the first frame)."""
        self.show()
        QTimer.singleShot(0, self._idle_round)

    def _idle_round(self) -> None:
        # A zero timer fires after the events queued before it: each round trip means the queue
        # (layout, paint) was drained once more.
        self._idle_rounds += 1
        if self._idle_rounds < IDLE_ROUNDS:
            QTimer.singleShot(0, self._idle_round)
            return
        self.interactive_at = time.perf_counter()
        for callback in self._on_interactive:
            callback()
        self._on_interactive.clear()

    def start_loading(self, load: Callable[[], Services] | None = None) -> None:
        """Run `load` (`load_everything`) in a worker thread; its result arrives on this (the
        GUI) thread."""
        load = load or load_everything
        self._signals = _LoaderSignals(self)
        self._signals.finished.connect(self._loaded)
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(LOADING_SWITCH_INTERVAL)
        signals = self._signals

        def run() -> None:
            try:
                result: object = load()
            except BaseException as exc:  # reported in the window (and by the self-test)
                result = exc
            signals.finished.emit(result)

        self._thread = threading.Thread(target=run, name="parley-load", daemon=True)
        self._thread.start()

    def _loaded(self, result: object) -> None:
        sys.setswitchinterval(self._switch_interval)
        self._thread.join()
        if isinstance(result, BaseException):
            self.load_error = result
            self.parts.banner.show_message(
                f"Parley could not finish starting: {type(result).__name__}: {result}. "
                "What you typed is still here; copy it before closing the window."
            )
        else:
            self.services = result  # type: ignore[assignment]
        for callback in self._on_loaded:
            callback()
        self._on_loaded.clear()

    # --- the full window takes over --------------------------------------------------------

    def take_over(self, services: Services) -> MainWindow:
        """Make the full window in this frame, carry over what was done in the first frame."""
        from parley.ui.mainwindow import MainWindow

        app = QApplication.instance()
        assert isinstance(app, QApplication)
        mode = services.settings.theme
        if mode != self.state.theme or (
            mode == "system" and theme.system_is_dark() != theme.is_dark()
        ):
            theme.apply_theme(app, mode)
        if services.settings.font_size != self.state.font_size:
            theme.apply_font_size(app, services.settings.font_size)

        old = self.parts
        had_focus = self.focusWidget()
        focus_in_composer = had_focus is old.composer.edit or had_focus is None
        cursor = old.composer.edit.textCursor()
        position, anchor = cursor.position(), cursor.anchor()
        draft, images = old.composer.draft(), old.composer.pending()
        system_prompt = old.system_prompt.text()
        query = old.sidebar.search.text()
        model = old.top_bar.model_combo.currentText().strip()
        panel_on = old.top_bar.panel_button.isChecked()

        self.setUpdatesEnabled(False)
        try:
            window = MainWindow(services)
            window.setWindowFlags(QtCore.Qt.WindowType.Widget)
            self.menuBar().hide()  # the full window's own menu bar takes its place
            self.main = window
            self.setCentralWidget(window)  # the first frame's parts are deleted with the old one
            window.windowTitleChanged.connect(self.setWindowTitle)
            self.setWindowTitle(window.windowTitle())
            window.show()

            if system_prompt:
                window.system_prompt.set_text(system_prompt)
            window.composer.set_draft(draft)
            edit = window.composer.edit
            c = edit.textCursor()
            c.setPosition(min(anchor, len(draft)))
            c.setPosition(min(position, len(draft)), c.MoveMode.KeepAnchor)
            edit.setTextCursor(c)
            if images:
                window.composer.set_attachments(images)
            if panel_on != window.panel_button.isChecked():
                window.panel_button.setChecked(panel_on)
            if query:
                window.sidebar.search.setText(query)
            if model and model != (self.state.model or ""):  # typed into the model picker
                window.model_combo.setEditText(model)
            if focus_in_composer:
                window.composer.focus_input()
        finally:
            self.setUpdatesEnabled(True)

        for what, args in self._intents:
            self._replay(window, what, args)
        self._intents.clear()
        return window

    def _replay(self, window: MainWindow, what: str, args: tuple[Any, ...]) -> None:
        if what == "send":
            window.composer.request_send()  # the text (and images) carried over, sent now
        elif what == "open":
            window.open_conversation(*args)
        elif what == "new_chat":
            window.new_chat()
        elif what == "rename":
            window._rename(*args)
        elif what == "pin":
            window._pin(*args)
        elif what == "delete":
            window.sidebar.delete(*args)  # with its undo bar, in the full window now
        elif what == "keys":
            window.open_keys()
        elif what == "settings":
            window.open_settings()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.main is not None:
            # The full window decides (it shuts down in order first); see MainWindow.closeEvent.
            self.main.closeEvent(event)
            return
        # Before the full window exists nothing has been saved or started, so nothing is lost:
        # `parley.app` quits once the load is done (closing the history cleanly).
        self.close_requested = True
        event.accept()


class StallMeter(QObject):
    """The GUI loop's worst lateness on a 5 ms timer, in ms (for `--startup-marks`)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worst = 0.0
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, (now - self._last) * 1000 - 5)
        self._last = now

    def stop(self) -> float:
        self._timer.stop()
        self._tick()
        return self.worst


def apply_boot_look(app: QApplication, state: BootState) -> None:
    system_dark = theme.system_looks_dark(app) if state.theme == "system" else None
    theme.apply_theme(app, state.theme, system_dark=system_dark)  # type: ignore[arg-type]
    theme.apply_font_size(app, state.font_size)

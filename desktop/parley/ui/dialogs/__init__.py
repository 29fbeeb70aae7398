"""The window's dialogs: keys, settings, the quick switcher, the first-run guide, the inspector.

`Dialogs` opens each (imported when first opened, so the window starts without them) with
`open()`, never `exec()` inside the loop, and keeps it alive until it is finished. What a dialog
decides comes out as a signal of `Dialogs`; nothing here acts on the window.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from parley.core.store import StoreError

if TYPE_CHECKING:
    from parley.core.providers.catalog import Catalog
    from parley.core.store import Store
    from parley.ui.layout import Banner
    from parley.ui.mainwindow import Services

log = logging.getLogger("parley.ui.dialogs")


class Dialogs(QObject):
    key_changed = Signal(str)  # provider id
    base_urls_changed = Signal()
    provider_added = Signal(str)
    settings_applied = Signal(object)  # parley.core.app.settings.Settings
    model_picked = Signal(str, str)  # provider id, model ("" for its default)
    first_run_completed = Signal(str, str, str)  # provider id, model, first message
    reproduce_requested = Signal(int)  # answer id
    replay_requested = Signal(int, bytes)  # answer id, the edited body
    preset_named = Signal(str)

    def __init__(
        self,
        window: QWidget,
        services: Services,
        banner: Banner,
        *,
        current_provider: Callable[[], str | None],
        models: Callable[[], Mapping[str, Sequence[str]]],
        listed: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.services = services
        self.banner = banner
        self._current_provider = current_provider
        self._models = models
        self._listed = listed
        self.open_dialogs: list[QWidget] = []
        self.closing = False

    @property
    def catalog(self) -> Catalog:
        return self.services.catalog

    @property
    def store(self) -> Store:
        return self.services.store

    def keep(self, dialog: QWidget) -> None:
        """Dialogs are opened with open() (never exec() inside the loop) and kept alive."""
        self.open_dialogs.append(dialog)
        finished = getattr(dialog, "finished", None)
        if finished is not None:
            finished.connect(lambda *_: self._forget(dialog))

    def _forget(self, dialog: QWidget) -> None:
        if dialog in self.open_dialogs:
            self.open_dialogs.remove(dialog)
            dialog.deleteLater()

    def close_all(self) -> None:
        for dialog in list(self.open_dialogs):
            with contextlib.suppress(RuntimeError):  # already deleted by Qt: nothing to close
                dialog.close()

    def _show(self, dialog: QWidget) -> QWidget:
        self.keep(dialog)
        dialog.open() if hasattr(dialog, "open") else dialog.show()
        return dialog

    def ask_preset_name(self) -> QWidget:
        from PySide6.QtWidgets import QInputDialog

        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Save preset")
        dialog.setLabelText("Name for the current parameters:")
        dialog.setAccessibleName("Save preset")
        dialog.finished.connect(
            lambda code: self.preset_named.emit(dialog.textValue()) if code else None
        )
        return self._show(dialog)

    def open_keys(self, provider_id: str | None = None) -> QWidget:
        from parley.ui.keys_dialog import KeysDialog

        s = self.services
        dialog = KeysDialog(
            self.catalog.providers.values(),
            s.engine,
            s.keys,
            s.settings,
            provider_id or self._current_provider(),
            self.window,
            save_settings=s.save_settings,
        )
        dialog.key_changed.connect(self.key_changed)
        dialog.settings_changed.connect(lambda _s: self.base_urls_changed.emit())
        dialog.provider_added.connect(self.provider_added)
        return self._show(dialog)

    def open_settings(self) -> QWidget:
        from parley.ui.settings_dialog import SettingsDialog

        s = self.services
        dialog = SettingsDialog(s.settings, self.window, save_settings=s.save_settings)
        dialog.applied.connect(self.settings_applied)
        return self._show(dialog)

    def open_switcher(self) -> QWidget:
        from parley.ui.switcher import QuickSwitcher

        models = self._models()
        dialog = QuickSwitcher(
            self.catalog.providers.values(),
            models,
            self.window,
            configured=self.configured(self._listed()),
            current=self._current_provider(),
        )
        dialog.picked.connect(lambda pid, model: self.model_picked.emit(pid, model or ""))
        return self._show(dialog)

    def configured(self, listed: Iterable[str]) -> list[str]:
        """The providers set up to be used (see `is_configured`); `listed`: the ids whose
        model list the window fetched."""
        from parley.core.providers.catalog import AuthScheme, is_configured

        s, fetched = self.services, set(listed)
        ready = []
        for spec in self.catalog.providers.values():
            # A key is looked up (the keyring) only for providers that take one.
            has_key = spec.auth.scheme is not AuthScheme.NONE and bool(s.key(spec.id))
            saved = bool(s.settings.base_urls.get(spec.id))
            if is_configured(
                spec, has_key=has_key, saved_base_url=saved, listed=spec.id in fetched
            ):
                ready.append(spec.id)
        return ready

    def open_first_run(self) -> QWidget | None:
        from parley.ui.first_run import FirstRunGuide

        if self.closing:
            return None
        s = self.services
        dialog = FirstRunGuide(
            self.catalog.providers.values(),
            s.engine,
            s.keys,
            s.settings,
            self.window,
            save_settings=s.save_settings,
        )
        dialog.completed.connect(self.first_run_completed)
        return self._show(dialog)

    def open_inspector(self, message_id: str, secrets: Iterable[str | None] = ()) -> QWidget | None:
        from parley.ui.inspect.dialog import InspectorDialog
        from parley.ui.inspect.model import inspect_answer

        try:
            inspection = inspect_answer(self.store, int(message_id), secrets)
        except StoreError as err:
            log.warning("inspecting answer %s failed: %s", message_id, err.message)
            self.banner.show_message(f"This answer cannot be inspected: {err.message}")
            return None
        dialog = InspectorDialog(inspection, self.window)
        dialog.reproduce_requested.connect(self.reproduce_requested)
        dialog.replay_requested.connect(self.replay_requested)
        return self._show(dialog)

    def open_shortcuts(self, rows: Sequence[tuple[str, str]]) -> QWidget:
        from PySide6.QtWidgets import (
            QDialog,
            QDialogButtonBox,
            QHeaderView,
            QTableWidget,
            QTableWidgetItem,
            QVBoxLayout,
        )

        dialog = QDialog(self.window)
        dialog.setWindowTitle("Keyboard shortcuts")
        dialog.setAccessibleName("Keyboard shortcuts")
        table = QTableWidget(len(rows), 2, dialog)
        table.setObjectName("shortcutTable")
        table.setAccessibleName("Shortcuts")
        table.setHorizontalHeaderLabels(["Keys", "What they do"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (keys, what) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(keys))
            table.setItem(i, 1, QTableWidgetItem(what))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        lay = QVBoxLayout(dialog)
        lay.addWidget(table)
        lay.addWidget(buttons)
        dialog.resize(520, 420)
        return self._show(dialog)

    def open_about(self) -> QWidget:
        from parley.ui.about_dialog import AboutDialog

        return self._show(AboutDialog(self.window))


def model_lists(catalog: Catalog, listed: Mapping[str, Sequence[Any]]) -> dict[str, list[str]]:
    """Each provider's model ids: the fetched list where there is one, else its file's."""
    from parley.core.providers.modellist import fallback_models

    models = {pid: [m.id for m in ms] for pid, ms in listed.items()}
    for spec in catalog.providers.values():
        models.setdefault(spec.id, [m.id for m in fallback_models(spec.models)])
    return models

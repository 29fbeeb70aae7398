"""The quick switcher (Ctrl+K): type to filter "provider · model" entries, Enter picks one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from parley.core.providers.catalog import ProviderSpec

SEPARATOR = " · "
_ROLE = Qt.ItemDataRole.UserRole


def _matches(haystack: str, needle: str) -> bool:
    """Every space-separated word of the needle occurs in the haystack (case-insensitive)."""
    hay = haystack.lower()
    return all(word in hay for word in needle.lower().split())


class QuickSwitcher(QDialog):
    """Signals: `picked(provider_id, model)` — model is "" for a provider with no known models."""

    picked = Signal(str, str)

    def __init__(
        self,
        providers: Iterable[ProviderSpec],
        models: Mapping[str, Sequence[str]] | None = None,
        parent: QWidget | None = None,
        *,
        configured: Iterable[str] | None = None,
        current: str | None = None,
    ) -> None:
        """`configured`: the ids of providers set up to be used (a key, a server that
        answered). With it the current provider comes first, then the other configured ones,
        then the rest, each marked "(not set up)"."""
        super().__init__(parent)
        self.setWindowTitle("Switch provider and model")
        self.setAccessibleName("Quick switcher")
        self.resize(520, 420)
        self._providers = list(providers)
        self._configured = None if configured is None else set(configured)
        if self._configured is not None:
            ready = self._configured

            def rank(spec: ProviderSpec) -> int:
                return 0 if spec.id == current else 1 if spec.id in ready else 2

            self._providers.sort(key=rank)  # stable: the catalog's order within each rank
        self._models: dict[str, list[str]] = {k: list(v) for k, v in (models or {}).items()}

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Type a provider or model…")
        self.filter_edit.setAccessibleName("Filter providers and models")
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.filter_edit.installEventFilter(self)

        self.list = QListWidget(self)
        self.list.setAccessibleName("Providers and models")
        self.list.setUniformItemSizes(True)
        self.list.itemActivated.connect(self._activate)

        self.hint = QLabel("↑↓ to move · Enter to switch · Esc to close", self)
        self.hint.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        self._rebuild()

    # -- entries ------------------------------------------------------------------------------

    def set_models(self, provider_id: str, models: Sequence[str]) -> None:
        """Replace the known models of one provider (e.g. after a fresh listing)."""
        self._models[provider_id] = list(models)
        self._rebuild()

    def _provider_models(self, spec: ProviderSpec) -> list[str]:
        listed = self._models.get(spec.id)
        if listed:
            return list(dict.fromkeys(listed))
        return list(dict.fromkeys(spec.models.fallback))

    def _rebuild(self) -> None:
        self.list.clear()
        for spec in self._providers:
            models = self._provider_models(spec) or [""]
            unset = self._configured is not None and spec.id not in self._configured
            for model in models:
                text = spec.name + (SEPARATOR + model if model else SEPARATOR + "(choose a model)")
                tip = f"{spec.name} ({spec.id})" + (f" — {model}" if model else "")
                if unset:
                    text += "  (not set up)"
                    tip += "\nNot set up yet: add its key, or its server's address, in Keys…"
                item = QListWidgetItem(text, self.list)
                item.setData(_ROLE, (spec.id, model))
                item.setToolTip(tip)
        self._apply_filter(self.filter_edit.text())

    def entries(self) -> list[tuple[str, str]]:
        return [self.list.item(i).data(_ROLE) for i in range(self.list.count())]

    def visible_entries(self) -> list[tuple[str, str]]:
        return [
            self.list.item(i).data(_ROLE)
            for i in range(self.list.count())
            if not self.list.item(i).isHidden()
        ]

    # -- behaviour ----------------------------------------------------------------------------

    def _apply_filter(self, text: str) -> None:
        first: QListWidgetItem | None = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            pid, _model = item.data(_ROLE)
            show = _matches(f"{item.text()} {pid}", text)
            item.setHidden(not show)
            if show and first is None:
                first = item
        self.list.setCurrentItem(first)

    def _move(self, step: int) -> None:
        rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        if not rows:
            return
        current = self.list.currentRow()
        pos = rows.index(current) if current in rows else -1
        pos = max(0, min(len(rows) - 1, pos + step))
        self.list.setCurrentRow(rows[pos])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.filter_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key == Qt.Key.Key_Down:
                self._move(1)
                return True
            if key == Qt.Key.Key_Up:
                self._move(-1)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.pick_current()
                return True
        return super().eventFilter(watched, event)

    def pick_current(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            self._activate(item)

    def _activate(self, item: QListWidgetItem) -> None:
        provider_id, model = item.data(_ROLE)
        self.picked.emit(provider_id, model)
        self.accept()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.filter_edit.clear()
        self.filter_edit.setFocus()

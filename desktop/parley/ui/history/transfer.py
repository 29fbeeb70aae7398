"""Export a chat to a file and import one, from the window: the same formats and the same core
code as `parley export` / `parley import` (`parley.core.store.export`), keys scrubbed as there.

File dialogs are opened with `open()` (never `exec()` inside the loop); `export_to` and
`import_from` do the work and are what tests and the dialogs call. What happened is said in the
banner: where the file went, or why it could not be written or read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from parley.core.protocol.limits import LimitError, read_capped
from parley.core.store import Store, StoreError
from parley.core.store.export import (
    ExportFormat,
    ExportWriteError,
    export_conversation,
    import_json,
    write_export,
)
from parley.ui.layout import Banner

log = logging.getLogger("parley.ui.history")

MAX_IMPORT_BYTES = 100 * 1024 * 1024  # as `parley import`
MARKDOWN_FILTER = "Markdown, readable (*.md)"
JSON_FILTER = "JSON, lossless: every branch, can be imported (*.json)"


def export_format(path: str, name_filter: str = "") -> ExportFormat:
    """JSON for a .json name (or the JSON filter chosen with no suffix typed), else Markdown."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".md":
        return "md"
    return "json" if name_filter == JSON_FILTER else "md"


def suggested_name(title: str, fmt: ExportFormat = "md") -> str:
    stem = re.sub(r"[^\w\- ]+", "", title).strip().replace(" ", "-")[:60] or "conversation"
    return f"{stem}.{fmt}"


class Transfer(QObject):
    """Signals: `imported(int)` with the new conversation's id."""

    imported = Signal(int)

    def __init__(
        self,
        store: Callable[[], Store],
        banner: Banner,
        secrets: Callable[[], Iterable[str | None]],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._banner = banner
        self._secrets = secrets
        self._parent = parent
        self.dialog: QFileDialog | None = None
        self.last_folder = Path.home()

    def _all_secrets(self) -> list[str]:
        return [s for s in self._secrets() if s]

    # --- export ----------------------------------------------------------------------------

    def ask_export(self, conversation_id: int | None) -> QFileDialog | None:
        if conversation_id is None:
            self._banner.show_message("There is nothing to export yet: this chat is empty.")
            return None
        try:
            title = self._store().get_conversation(conversation_id).title or "conversation"
        except StoreError as err:
            self._banner.show_message(err.message)
            return None
        dlg = QFileDialog(self._parent, f"Export “{title}”")
        dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dlg.setNameFilters([MARKDOWN_FILTER, JSON_FILTER])
        dlg.setDirectory(str(self.last_folder))
        dlg.selectFile(suggested_name(title))
        dlg.filterSelected.connect(
            lambda f: dlg.selectFile(suggested_name(title, export_format("", f)))
        )
        dlg.fileSelected.connect(
            lambda path: self.export_to(
                conversation_id, path, export_format(path, dlg.selectedNameFilter())
            )
        )
        return self._open(dlg)

    def export_to(self, conversation_id: int, path: str | Path, fmt: ExportFormat) -> bool:
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(f".{fmt}")
        try:
            text = export_conversation(
                self._store(), conversation_id, fmt, secrets=self._all_secrets()
            )
            write_export(path, text)
        except StoreError as err:
            self._banner.show_message(f"The chat could not be exported: {err.message}")
            return False
        except ExportWriteError as err:
            self._banner.show_message(err.message)
            return False
        self.last_folder = path.parent
        kind = "as JSON (every branch; File → Import reads it back)" if fmt == "json" else ""
        self._banner.show_message(f"Exported to {path} {kind}".rstrip() + ".")
        return True

    # --- import ----------------------------------------------------------------------------

    def ask_import(self) -> QFileDialog:
        dlg = QFileDialog(self._parent, "Import a chat exported as JSON")
        dlg.setFileMode(QFileDialog.FileMode.ExistingFile)
        dlg.setNameFilters(["Parley export (*.json)", "All files (*)"])
        dlg.setDirectory(str(self.last_folder))
        dlg.fileSelected.connect(self.import_from)
        return self._open(dlg)

    def import_from(self, path: str | Path) -> int | None:
        path = Path(path)
        try:
            data = read_capped(path, MAX_IMPORT_BYTES)  # never a pipe: it would block the window
        except LimitError as err:
            self._banner.show_message(f"Cannot import {path.name}: {err}.")
            return None
        except OSError as err:
            self._banner.show_message(f"Cannot read {path}: {err.strerror or err}.")
            return None
        try:
            conv_id = import_json(self._store(), data)
        except StoreError as err:
            self._banner.show_message(f"{path.name} was not imported: {err.message}")
            return None
        self.last_folder = path.parent
        log.info("imported %s as conversation %s", path.name, conv_id)
        self.imported.emit(conv_id)
        return conv_id

    def _open(self, dlg: QFileDialog) -> QFileDialog:
        dlg.finished.connect(dlg.deleteLater)
        self.dialog = dlg
        dlg.open()
        return dlg

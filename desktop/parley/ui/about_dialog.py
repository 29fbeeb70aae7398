"""About Parley: version, where data and keys live, and every bundled component with its
version and licence text (from parley.core.app.licences)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from parley import APP_ID, __version__
from parley.core.app.licences import Component, components
from parley.core.app.paths import data_dir


class AboutDialog(QDialog):
    def __init__(
        self, parent: QWidget | None = None, parts: Sequence[Component] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Parley")
        self.setAccessibleName("About Parley")
        self.components = list(parts if parts is not None else components())

        heading = QLabel(f"<b>Parley {__version__}</b>", self)
        heading.setTextFormat(Qt.TextFormat.RichText)
        details = QLabel(
            "A desktop chat client for LLM chat-completion APIs. MIT licence.\n"
            f"Your conversations and settings: {data_dir()}\n"
            "Your API keys: the system keyring (never a file).\n"
            f"Application id: {APP_ID}",
            self,
        )
        details.setTextFormat(Qt.TextFormat.PlainText)
        details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details.setWordWrap(True)

        self.table = QTreeWidget(self)
        self.table.setAccessibleName("Components and licences")
        self.table.setHeaderLabels(["Component", "Version", "Licence"])
        self.table.setRootIsDecorated(False)
        for part in self.components:
            item = QTreeWidgetItem([part.name, part.version, part.licence])
            self.table.addTopLevelItem(item)
        for column in range(3):
            self.table.resizeColumnToContents(column)

        self.text = QPlainTextEdit(self)
        self.text.setAccessibleName("Licence text")
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.table.currentItemChanged.connect(lambda *_: self._show_current())

        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.text)
        split.setSizes([220, 260])

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(details)
        layout.addWidget(split, 1)
        layout.addWidget(buttons)
        self.resize(640, 560)
        if self.components:
            self.table.setCurrentItem(self.table.topLevelItem(0))

    def _show_current(self) -> None:
        index = self.table.indexOfTopLevelItem(self.table.currentItem())
        if 0 <= index < len(self.components):
            self.text.setPlainText(self.components[index].text())

    def select(self, name: str) -> None:
        for i, part in enumerate(self.components):
            if part.name == name:
                self.table.setCurrentItem(self.table.topLevelItem(i))
                return
        raise KeyError(name)

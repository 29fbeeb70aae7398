"""Settings: theme, send key, font size, proxy, read timeout, update notices; and About."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from parley.core.app.settings import Settings
from parley.core.app.settings import save_settings as default_save_settings
from parley.ui.keys_dialog import status_color

THEMES = [("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")]
SEND_KEYS = [
    ("enter", "Enter sends, Shift+Enter for a new line"),
    ("ctrl_enter", "Ctrl+Enter sends, Enter for a new line"),
]


class SettingsDialog(QDialog):
    """Edits `settings` in place on OK/Apply (after validating), saves them, emits `applied`.

    Signals: `applied(settings)` with the same Settings object, now changed and saved.
    """

    applied = Signal(object)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        save_settings: Callable[[Settings], Any] | None = default_save_settings,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self._settings = settings
        self._save = save_settings

        form = QFormLayout()
        self.theme_combo = QComboBox(self)
        self.theme_combo.setAccessibleName("Theme")
        for value, text in THEMES:
            self.theme_combo.addItem(text, value)
        self._add_row(form, "&Theme:", self.theme_combo)

        self.send_combo = QComboBox(self)
        self.send_combo.setAccessibleName("Send key")
        for value, text in SEND_KEYS:
            self.send_combo.addItem(text, value)
        self._add_row(form, "&Send with:", self.send_combo)

        self.font_spin = QSpinBox(self)
        self.font_spin.setAccessibleName("Font size")
        self.font_spin.setRange(8, 32)
        self.font_spin.setSuffix(" pt")
        self._add_row(form, "&Font size:", self.font_spin)

        self.proxy_edit = QLineEdit(self)
        self.proxy_edit.setAccessibleName("Proxy")
        self.proxy_edit.setPlaceholderText("none — or the environment's HTTPS_PROXY")
        self.proxy_edit.setToolTip(
            "An HTTP(S) or SOCKS proxy URL, like http://proxy.example.com:3128. Leave empty to "
            "use the environment's proxy settings, if any. No user names or passwords here."
        )
        self.proxy_edit.setAccessibleDescription(self.proxy_edit.toolTip())
        self._add_row(form, "&Proxy:", self.proxy_edit)

        self.timeout_spin = QSpinBox(self)
        self.timeout_spin.setAccessibleName("Read timeout")
        self.timeout_spin.setRange(5, 3600)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setToolTip(
            "How long a provider may stay silent, before its first token or between two, "
            "before the answer stops as timed out. Slow local models may need more."
        )
        self.timeout_spin.setAccessibleDescription(self.timeout_spin.toolTip())
        self._add_row(form, "&Read timeout:", self.timeout_spin)

        self.update_check = QCheckBox("Look for new versions when Parley starts", self)
        self.update_check.setAccessibleName("Look for new versions")
        self.update_check.setToolTip(
            "Fetches a small signed file from the project's release page and says when a newer "
            "version is out. Nothing is downloaded or installed by itself."
        )
        form.addRow("", self.update_check)

        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {status_color(False)};")
        self.error_label.setAccessibleName("Settings error")
        self.error_label.hide()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        for button, name in (
            (QDialogButtonBox.StandardButton.Ok, "OK"),
            (QDialogButtonBox.StandardButton.Apply, "Apply"),
            (QDialogButtonBox.StandardButton.Cancel, "Cancel"),
        ):
            self.buttons.button(button).setAccessibleName(name)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.about_button = self.buttons.addButton(
            "About Parley…", QDialogButtonBox.ButtonRole.HelpRole
        )
        self.about_button.setAccessibleName("About Parley")
        self.about_button.clicked.connect(self.open_about)
        self.about: QDialog | None = None

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.load(settings)
        self.resize(460, self.sizeHint().height())

    def _add_row(self, form: QFormLayout, text: str, widget: QWidget) -> None:
        label = QLabel(text, self)
        label.setBuddy(widget)
        form.addRow(label, widget)

    def load(self, settings: Settings) -> None:
        self.theme_combo.setCurrentIndex(self.theme_combo.findData(settings.theme))
        self.send_combo.setCurrentIndex(self.send_combo.findData(settings.send_key))
        self.font_spin.setValue(settings.font_size)
        self.proxy_edit.setText(settings.proxy or "")
        self.timeout_spin.setValue(round(settings.read_timeout))
        self.update_check.setChecked(bool(settings.update_check))

    def apply(self) -> bool:
        """Validate, change the settings in place, save them and emit `applied`."""
        changes = {
            "theme": self.theme_combo.currentData(),
            "send_key": self.send_combo.currentData(),
            "font_size": self.font_spin.value(),
            "proxy": self.proxy_edit.text().strip() or None,
            "read_timeout": float(self.timeout_spin.value()),
        }
        # Unanswered stays unanswered (the banner asks) unless the box was ticked here.
        if self._settings.update_check is not None or self.update_check.isChecked():
            changes["update_check"] = self.update_check.isChecked()
        try:
            Settings.model_validate({**self._settings.model_dump(), **changes})
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
            message = str(errors[0]["msg"]).removeprefix("Value error, ") if errors else str(exc)
            self.error_label.setText(message)
            self.error_label.show()
            return False
        for name, value in changes.items():
            setattr(self._settings, name, value)
        if self._save is not None:
            try:
                self._save(self._settings)
            except OSError as exc:
                self.error_label.setText(f"The settings could not be saved: {exc.strerror or exc}")
                self.error_label.show()
                return False
        self.error_label.hide()
        self.applied.emit(self._settings)
        return True

    def open_about(self) -> QDialog:
        from parley.ui.about_dialog import AboutDialog

        if self.about is None:
            self.about = AboutDialog(self)
        self.about.open()
        return self.about

    def _ok(self) -> None:
        if self.apply():
            self.accept()

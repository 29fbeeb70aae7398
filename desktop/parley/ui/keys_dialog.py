"""Keys and providers: a provider's key (OS keyring), its base URL, a Test button, and a form to
add one's own OpenAI-compatible provider (saved as a provider file, never with the key)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from parley.core.app.secrets import KeyringError, KeyringUnavailable, KeyStore
from parley.core.app.settings import Settings
from parley.core.app.settings import save_settings as default_save_settings
from parley.core.chat.keycheck import check_key, key_hint_text
from parley.core.providers.catalog import (
    AuthScheme,
    ProviderSpec,
    builtin_providers_dir,
)
from parley.core.providers.provider_file import ProviderFileError, slugify, write_user_provider
from parley.ui import theme
from parley.ui.tasks import DialogTasks

# The key check (`parley.core.chat.keycheck`) and the provider-file writer
# (`parley.core.providers.provider_file`) have no Qt in them: they live in core.


def status_color(ok: bool) -> str:
    """Green for "it worked", red for a failure, readable on the current theme."""
    if theme.is_dark():
        return "#3fb950" if ok else "#ff7b72"
    return "#1a7f37" if ok else "#c62828"


# --------------------------------------------------------------------------------------------
# The dialog


class KeysDialog(QDialog):
    """Keys per provider and adding one's own provider.

    Signals: `key_changed(provider_id)` after a key was saved or removed,
    `settings_changed(settings)` after the base URL was saved,
    `provider_added(provider_id)` after a provider file was written (reload the catalog).
    """

    key_changed = Signal(str)
    settings_changed = Signal(object)
    provider_added = Signal(str)
    test_finished = Signal(bool, str)

    def __init__(
        self,
        providers: Iterable[ProviderSpec],
        engine: Any,
        keystore: KeyStore,
        settings: Settings | None = None,
        provider_id: str | None = None,
        parent: QWidget | None = None,
        *,
        save_settings: Callable[[Settings], object] = default_save_settings,
        template: ProviderSpec | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keys and providers")
        self.setAccessibleName("Keys and providers")
        self.resize(600, 560)
        self._providers: dict[str, ProviderSpec] = {p.id: p for p in providers}
        self._engine = engine
        self._keystore = keystore
        self._settings = settings if settings is not None else Settings()
        self._save_settings = save_settings
        self._template = template or self._providers.get("openai-compatible")
        self._tasks = DialogTasks()
        self._has_key = False
        self._read_only = False
        self._alive = True
        self.finished.connect(lambda _result: self._closed())

        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Keys and providers tabs")
        self.tabs.addTab(self._build_key_tab(), "&Keys")
        self.tabs.addTab(self._build_add_tab(), "&Add a provider")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self.setMinimumSize(480, 500)  # raised to what the Add tab needs, once shown
        self._fitted = False

        if provider_id and provider_id in self._providers:
            self.provider_combo.setCurrentIndex(self.provider_combo.findData(provider_id))
        self._show_provider()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            self._fit_minimum()

    def _fit_minimum(self) -> None:
        """The smallest size shows the Add tab whole, with two lines for what saving says, in
        whatever font size is set; the tab's scroll area is there only for smaller screens."""
        scroll = self._add_scroll
        layout = self._add_page.layout()
        assert layout is not None
        around_w = self.width() - scroll.viewport().width()
        around_h = self.height() - scroll.viewport().height()
        width = max(self.minimumWidth(), layout.minimumSize().width() + around_w)
        reserve = 2 * self.add_message.fontMetrics().lineSpacing()
        height = layout.totalHeightForWidth(width - around_w) + reserve + around_h
        self.setMinimumSize(width, max(self.minimumHeight(), height))
        if self.width() < self.minimumWidth() or self.height() < self.minimumHeight():
            self.resize(self.size().expandedTo(self.minimumSize()))

    # -- the key tab --------------------------------------------------------------------------

    def _build_key_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.provider_combo = QComboBox(page)
        self.provider_combo.setAccessibleName("Provider")
        for spec in self._providers.values():
            self.provider_combo.addItem(spec.name, spec.id)
        self.provider_combo.currentIndexChanged.connect(lambda _i: self._show_provider())
        form.addRow("&Provider:", self.provider_combo)

        self.backend_label = QLabel(page)
        self.backend_label.setWordWrap(True)
        self.backend_label.setAccessibleName("Keyring in use")
        form.addRow("Stored in:", self.backend_label)

        self.status_label = QLabel(page)
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Key status")
        form.addRow("Current key:", self.status_label)

        self.key_edit = QLineEdit(page)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName("API key")
        self.key_edit.setAccessibleDescription("The key is masked; use Show to reveal it.")
        self.key_edit.textChanged.connect(lambda _t: self._update_buttons())
        self.reveal_button = QToolButton(page)
        self.reveal_button.setText("Show")
        self.reveal_button.setCheckable(True)
        self.reveal_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.reveal_button.setAccessibleName("Show key")
        self.reveal_button.setToolTip("Show or hide the key you are typing")
        self.reveal_button.toggled.connect(self._reveal)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.reveal_button)
        key_label = QLabel("&Key:", page)
        key_label.setBuddy(self.key_edit)
        form.addRow(key_label, key_row)

        self.session_check = QCheckBox("Keep for this session only", page)
        self.session_check.setAccessibleName("Keep the key for this session only")
        self.session_check.setToolTip(
            "The key is held in memory until Parley quits; nothing is stored."
        )
        form.addRow("", self.session_check)

        self.base_url_edit = QLineEdit(page)
        self.base_url_edit.setAccessibleName("Base URL")
        base_label = QLabel("&Base URL:", page)
        base_label.setBuddy(self.base_url_edit)
        form.addRow(base_label, self.base_url_edit)

        self.model_edit = QLineEdit(page)
        self.model_edit.setAccessibleName("Model for the test")
        self.model_edit.setPlaceholderText("optional: the model the test request uses")
        model_label = QLabel("Test &model:", page)
        model_label.setBuddy(self.model_edit)
        form.addRow(model_label, self.model_edit)

        self.save_button = QPushButton("&Save", page)
        self.save_button.setAccessibleName("Save key and base URL")
        self.save_button.clicked.connect(self.save)
        self.remove_button = QPushButton("&Remove key", page)
        self.remove_button.setAccessibleName("Remove the stored key")
        self.remove_button.clicked.connect(self.remove_key)
        self.test_button = QPushButton("&Test", page)
        self.test_button.setAccessibleName("Test the key")
        self.test_button.setToolTip("Lists the models, or sends a one-token request")
        self.test_button.clicked.connect(self._start_test)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(self.test_button)
        form.addRow("", row)

        self.message_label = QLabel(page)
        self.message_label.setWordWrap(True)
        self.message_label.setAccessibleName("Result")
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("", self.message_label)
        return page

    def current_spec(self) -> ProviderSpec:
        return self._providers[self.provider_combo.currentData()]

    def _reveal(self, shown: bool) -> None:
        self.key_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )
        self.reveal_button.setText("Hide" if shown else "Show")
        self.reveal_button.setAccessibleName("Hide key" if shown else "Show key")

    def _show_provider(self) -> None:
        if self.provider_combo.count() == 0:
            return
        spec = self.current_spec()
        self.key_edit.clear()
        self.reveal_button.setChecked(False)
        self.message_label.clear()
        base = self._settings.base_urls.get(spec.id, "")
        self.base_url_edit.setText(base)
        self.base_url_edit.setPlaceholderText(spec.base_url or spec.base_url_hint or "https://…")
        self.model_edit.setText(self._settings.models.get(spec.id, ""))
        self._refresh_key_state()

    def _refresh_key_state(self) -> None:
        spec = self.current_spec()
        store = self._keystore
        available = store.backend_available()
        if available:
            self.backend_label.setText(f"{store.backend_name()} (the system keyring)")
        else:
            self.backend_label.setText(
                "No keyring is available on this system, so keys cannot be stored "
                "permanently. You can keep a key for this session only."
            )
        self.session_check.setChecked(not available or self.session_check.isChecked())
        self.session_check.setEnabled(available)

        needs_no_key = spec.auth.scheme is AuthScheme.NONE
        self._read_only = False
        try:
            info = store.get(spec.id)
        except KeyringError as err:
            info = None
            self.status_label.setText(str(err))
        if needs_no_key:
            self.status_label.setText(f"{spec.name} needs no key.")
        elif info is not None and info.origin == "env":
            self._read_only = True
            self.status_label.setText(
                f"Set by {store.env_var(spec.id)} ({info.masked}) — read-only here. "
                "Unset the environment variable to use a stored key."
            )
        elif info is not None and info.origin == "session":
            self.status_label.setText(f"Kept for this session only ({info.masked}).")
        elif info is not None and info.origin == "keyring":
            self.status_label.setText(f"Stored in the keyring ({info.masked}).")
        elif info is not None and not spec.auth.required:
            self.status_label.setText(
                f"{spec.name} needs no key. Paste one only if its server was started with one "
                "(as with --api-key)."
            )
        elif info is not None:
            hint = f" It looks like {key_hint_text(spec)}." if spec.auth.key_hint else ""
            self.status_label.setText(f"No key yet. Paste the key from {spec.name}.{hint}")
        self._has_key = info is not None and info.key is not None
        self.key_edit.setEnabled(not needs_no_key and not self._read_only)
        self.reveal_button.setEnabled(not needs_no_key and not self._read_only)
        self.key_edit.setPlaceholderText(
            "set by the environment"
            if self._read_only
            else spec.auth.key_hint
            or ("paste the key" if spec.auth.required else "optional: only if the server asks")
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self._has_key and not self._read_only)

    def _say(self, text: str, ok: bool | None = None) -> None:
        color = status_color(ok) if ok is not None else None
        self.message_label.setStyleSheet(f"color: {color};" if color else "")
        self.message_label.setText(text)

    def save(self) -> bool:
        """Save the typed key (keyring or session) and the base URL; say what happened."""
        spec = self.current_spec()
        said: list[str] = []
        url = self.base_url_edit.text().strip()
        if url != self._settings.base_urls.get(spec.id, ""):
            urls = dict(self._settings.base_urls)
            if url:
                urls[spec.id] = url
            else:
                urls.pop(spec.id, None)
            try:
                self._settings.base_urls = urls
                self._save_settings(self._settings)
            except (ValidationError, ValueError, OSError) as exc:
                message = _first_error(exc)
                self._say(f"The base URL was not saved: {message}", ok=False)
                return False
            said.append("Base URL saved." if url else "Base URL reset to the provider's.")
            self.settings_changed.emit(self._settings)
        model = self.model_edit.text().strip()
        if model and model != self._settings.models.get(spec.id):
            with contextlib.suppress(ValidationError, ValueError):
                self._settings.models = {**self._settings.models, spec.id: model}
        key = self.key_edit.text()
        if key.strip() and not self._read_only:
            session_only = self.session_check.isChecked()
            try:
                self._keystore.set(spec.id, key, session_only=session_only)
            except KeyringUnavailable as err:
                self.session_check.setChecked(True)
                self._say(f"{err}", ok=False)
                return False
            except (KeyringError, ValueError) as err:
                self._say(str(err), ok=False)
                return False
            self.key_edit.clear()
            said.append(
                "Key kept for this session only."
                if session_only
                else f"Key saved in {self._keystore.backend_name()}."
            )
            self.key_changed.emit(spec.id)
        self._refresh_key_state()
        self._say(" ".join(said) if said else "Nothing to save: paste a key first.", ok=bool(said))
        return bool(said)

    def remove_key(self) -> None:
        spec = self.current_spec()
        try:
            self._keystore.delete(spec.id)
        except KeyringError as err:
            self._say(str(err), ok=False)
            return
        self._refresh_key_state()
        self._say("Key removed.", ok=True)
        self.key_changed.emit(spec.id)

    # -- testing ------------------------------------------------------------------------------

    def _start_test(self) -> None:
        self._tasks.spawn(self.run_test())

    async def run_test(self) -> tuple[bool, str]:
        """Test the typed key (or the stored one) and show what happened."""
        spec = self.current_spec()
        typed = self.key_edit.text().strip()
        key = typed or None
        if key is None and spec.auth.scheme is not AuthScheme.NONE:
            try:
                key = self._keystore.get(spec.id).key
            except KeyringError as err:
                self._say(str(err), ok=False)
                return False, str(err)
        base = self.base_url_edit.text().strip() or self._settings.base_urls.get(spec.id)
        self.test_button.setEnabled(False)
        self._say(f"Testing {spec.name}…")
        try:
            ok, message = await check_key(
                self._engine, spec, key, base_url=base, model=self.model_edit.text()
            )
        finally:
            if self._alive:
                self.test_button.setEnabled(True)
        if self._alive:
            self._say(message, ok=ok)
            self.test_finished.emit(ok, message)
        return ok, message

    def _closed(self) -> None:
        # The dialog may be deleted once closed: a running Test must not touch it afterwards.
        self._alive = False
        self._tasks.cancel()

    async def cancel_tasks(self) -> None:
        await self._tasks.cancel_and_wait()

    # -- the add-a-provider tab ---------------------------------------------------------------

    def _build_add_tab(self) -> QWidget:
        # In a scroll area: the wrapped texts (the intro, what saving said) take more height
        # as the dialog narrows, and a form that does not fit scrolls instead of overlapping.
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setAccessibleName("Add a provider")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page = QWidget(scroll)
        page.setObjectName("addProviderPage")
        scroll.setWidget(page)
        self._add_scroll, self._add_page = scroll, page
        column = QVBoxLayout(page)
        self.add_intro = QLabel(
            "Add any server that speaks the OpenAI chat-completions API, on this computer or "
            "elsewhere. It is saved as a provider file in your data folder; a key, if the "
            "server wants one, goes to the keyring.",
            page,
        )
        self.add_intro.setWordWrap(True)
        column.addWidget(self.add_intro)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        column.addLayout(form)

        def row(label: str, widget: QWidget, name: str) -> None:
            widget.setAccessibleName(name)
            caption = QLabel(label, page)
            caption.setBuddy(widget)
            form.addRow(caption, widget)

        self.new_name = QLineEdit(page)
        self.new_name.setPlaceholderText("My server")
        self.new_name.textChanged.connect(self._name_changed)
        row("&Name:", self.new_name, "Provider name")
        self.new_id = QLineEdit(page)
        self.new_id.setPlaceholderText("my-server")
        row("&Id:", self.new_id, "Provider id")
        self.new_base_url = QLineEdit(page)
        self.new_base_url.setPlaceholderText("https://host/v1")
        row("Base &URL:", self.new_base_url, "New provider base URL")
        self.new_auth = QComboBox(page)
        self.new_auth.addItem("Authorization: Bearer <key>", AuthScheme.BEARER.value)
        self.new_auth.addItem("A custom header", AuthScheme.HEADER.value)
        self.new_auth.addItem("No key", AuthScheme.NONE.value)
        self.new_auth.currentIndexChanged.connect(lambda _i: self._auth_changed())
        row("Au&th:", self.new_auth, "Authentication style")
        self.new_header = QLineEdit(page)
        self.new_header.setPlaceholderText("X-API-Key")
        row("&Header:", self.new_header, "Header name for the key")
        self.new_key = QLineEdit(page)
        self.new_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_key.setPlaceholderText("optional; local servers need none")
        row("K&ey:", self.new_key, "New provider API key")
        self.new_listing = QCheckBox("The server lists its models at /models", page)
        self.new_listing.setChecked(True)
        self.new_listing.setAccessibleName("The server lists its models")
        form.addRow("", self.new_listing)
        self.new_models = QPlainTextEdit(page)
        self.new_models.setTabChangesFocus(True)
        self.new_models.setPlaceholderText("Models, one per line (optional)")
        self.new_models.setFixedHeight(self.new_models.fontMetrics().lineSpacing() * 4 + 12)
        row("&Models:", self.new_models, "Models, one per line")
        self.add_button = QPushButton("Add &provider", page)
        self.add_button.setAccessibleName("Add provider")
        self.add_button.clicked.connect(self.add_provider)
        add_row = QHBoxLayout()
        add_row.addStretch(1)
        add_row.addWidget(self.add_button)
        column.addSpacing(4)
        column.addLayout(add_row)
        self.add_message = QLabel(page)
        self.add_message.setWordWrap(True)
        self.add_message.setAccessibleName("Add provider result")
        self.add_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.add_message)
        column.addStretch(1)
        self._auth_changed()
        return scroll

    def _name_changed(self, name: str) -> None:
        if not self.new_id.isModified():
            self.new_id.setText(slugify(name) if name.strip() else "")

    def _auth_changed(self) -> None:
        scheme = self.new_auth.currentData()
        self.new_header.setEnabled(scheme == AuthScheme.HEADER.value)
        self.new_key.setEnabled(scheme != AuthScheme.NONE.value)

    def add_provider(self) -> ProviderSpec | None:
        """Write the provider file (validated by loading it back), store the key if given."""
        reserved = {p.stem for p in builtin_providers_dir().glob("*.toml")}
        try:
            spec, path = write_user_provider(
                provider_id=self.new_id.text(),
                name=self.new_name.text(),
                base_url=self.new_base_url.text(),
                auth=self.new_auth.currentData(),
                header=self.new_header.text(),
                models=self.new_models.toPlainText().split("\n"),
                has_model_list=self.new_listing.isChecked(),
                template=self._template,
                reserved_ids=reserved,
            )
        except ProviderFileError as err:
            self._say_add(str(err), ok=False)
            return None
        said = f"Saved {spec.name} as {path}."
        key = self.new_key.text()
        if key.strip() and spec.auth.scheme is not AuthScheme.NONE:
            try:
                self._keystore.set(
                    spec.id, key, session_only=not self._keystore.backend_available()
                )
                said += " Key stored."
            except (KeyringError, ValueError) as err:
                said += f" The key was not stored: {err}"
            self.new_key.clear()
        self._providers[spec.id] = spec
        index = self.provider_combo.findData(spec.id)
        if index < 0:
            self.provider_combo.addItem(spec.name, spec.id)
        self._say_add(said, ok=True)
        self.provider_added.emit(spec.id)
        return spec

    def _say_add(self, text: str, ok: bool) -> None:
        self.add_message.setStyleSheet(f"color: {status_color(ok)};")
        self.add_message.setText(text)


def _first_error(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_url=False)
        if errors:
            return str(errors[0]["msg"]).removeprefix("Value error, ")
    return str(exc).split("\n", 1)[0]

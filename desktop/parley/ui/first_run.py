"""First run: pick a provider (local servers found on this computer come first), paste a key,
test it, and send a first message."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from parley.core.app.secrets import KeyringError, KeyStore
from parley.core.app.settings import Settings
from parley.core.app.settings import save_settings as default_save_settings
from parley.core.chat.keycheck import check_key, key_hint_text
from parley.core.providers.catalog import AuthScheme, ModelListing, ProviderSpec
from parley.net.probe import DEFAULT_PORTS, LocalServer, find_local_servers
from parley.ui.keys_dialog import status_color
from parley.ui.tasks import DialogTasks

Probe = Callable[..., Awaitable[list[LocalServer]]]
_ROLE = Qt.ItemDataRole.UserRole


def _host_port(url: str) -> str:
    """ "localhost:8080" of "http://localhost:8080/v1" ("" when there is none)."""
    return urlsplit(url).netloc if url else ""


# The order of PRODUCT.md's table: hosted services first, self-hosted and generic last.
CLOUD_ORDER = ("euri", "eurouter", "eigenai", "nordlys", "adaptive-engine", "openai-compatible")
FIRST_MESSAGE = "Hello! In two sentences, what can you help me with?"


class FirstRunGuide(QDialog):
    """A three-step guide. Signals: `completed(provider_id, model, first_message)` when the user
    finishes (the caller sends the message), `skipped()` when they skip the guide.

    Either way `settings.first_run_done` becomes True and the settings are saved.
    """

    completed = Signal(str, str, str)
    skipped = Signal()

    PAGE_PROVIDER, PAGE_KEY, PAGE_MESSAGE = range(3)

    def __init__(
        self,
        providers: Iterable[ProviderSpec],
        engine: Any,
        keystore: KeyStore,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        probe: Probe = find_local_servers,
        probe_ports: Mapping[str, int] = DEFAULT_PORTS,
        save_settings: Callable[[Settings], Any] | None = default_save_settings,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Parley")
        self.setAccessibleName("First-run guide")
        self.resize(600, 520)
        self._providers = {p.id: p for p in providers}
        self._engine = engine
        self._keystore = keystore
        self._settings = settings
        self._probe = probe
        self._probe_ports = probe_ports
        self._save = save_settings
        self._local: dict[str, LocalServer] = {}
        self._listed: dict[tuple[str, str | None], list[str]] = {}
        self._tasks = DialogTasks()
        self._detected = False
        self._alive = True
        self.finished.connect(lambda _result: self._closed())

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self._build_provider_page())
        self.stack.addWidget(self._build_key_page())
        self.stack.addWidget(self._build_message_page())

        self.skip_button = QPushButton("S&kip the guide", self)
        self.skip_button.setAccessibleName("Skip the guide")
        self.skip_button.clicked.connect(self.skip)
        self.back_button = QPushButton("&Back", self)
        self.back_button.setAccessibleName("Back")
        self.back_button.clicked.connect(self.back)
        self.next_button = QPushButton("&Next", self)
        self.next_button.setAccessibleName("Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self._fill_providers()
        self._go(self.PAGE_PROVIDER)

    # -- page 1: provider ---------------------------------------------------------------------

    def _build_provider_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        title = QLabel("<b>Pick where your answers come from</b>", page)
        intro = QLabel(
            "A model server running on this computer needs no key. A cloud provider needs the "
            "API key from its website.",
            page,
        )
        intro.setWordWrap(True)
        self.detect_label = QLabel("Looking for model servers on this computer…", page)
        self.detect_label.setAccessibleName("Local servers")
        self.detect_label.setWordWrap(True)
        self.provider_list = QListWidget(page)
        self.provider_list.setAccessibleName("Providers")
        self.provider_list.setSpacing(2)
        self.provider_list.setWordWrap(True)
        self.provider_list.itemActivated.connect(lambda _i: self.next())
        self.provider_list.currentItemChanged.connect(lambda *_: self._update_buttons())
        for w in (title, intro, self.detect_label, self.provider_list):
            layout.addWidget(w)
        return page

    def _fill_providers(self) -> None:
        current = self.selected()
        self.provider_list.clear()
        for pid, server in self._local.items():
            spec = self._providers[pid]
            count = len(server.models)
            text = (
                f"{spec.name}\n    Found on this computer: {count} model{'s' * (count != 1)}, "
                "no key needed"
            )
            item = QListWidgetItem(text, self.provider_list)
            item.setData(_ROLE, pid)
        order = {pid: i for i, pid in enumerate(CLOUD_ORDER)}
        cloud = sorted(self._providers.values(), key=lambda s: order.get(s.id, len(order)))
        for spec in cloud:
            if spec.local:
                continue  # local servers: above when found, below when not
            text = f"{spec.name}\n    {spec.description}" if spec.description else spec.name
            item = QListWidgetItem(text, self.provider_list)
            item.setData(_ROLE, spec.id)
            if spec.description:
                item.setToolTip(spec.description)
        # Presets for a server on this computer that was not found where it usually listens
        # (another port, not started yet): picked, the next page asks for its address.
        for spec in self._providers.values():
            if not spec.local or spec.id in self._local:
                continue
            where = _host_port(spec.base_url)
            text = f"{spec.name}\n    On this computer, no key needed" + (
                f" · not found at {where}" if where else ""
            )
            item = QListWidgetItem(text, self.provider_list)
            item.setData(_ROLE, spec.id)
            item.setToolTip(spec.description or spec.name)
        wanted = current or (next(iter(self._local), None)) or self._settings.last_provider
        for i in range(self.provider_list.count()):
            if self.provider_list.item(i).data(_ROLE) == wanted:
                self.provider_list.setCurrentRow(i)
                break
        else:
            self.provider_list.setCurrentRow(0)

    def selected(self) -> str | None:
        item = self.provider_list.currentItem()
        return item.data(_ROLE) if item is not None else None

    def select_provider(self, provider_id: str) -> None:
        for i in range(self.provider_list.count()):
            if self.provider_list.item(i).data(_ROLE) == provider_id:
                self.provider_list.setCurrentRow(i)
                return
        raise KeyError(provider_id)

    def local_servers(self) -> dict[str, LocalServer]:
        return dict(self._local)

    async def detect_local_servers(self) -> list[LocalServer]:
        """Probe this computer for model servers and offer the ones found first."""
        self._detected = True
        try:
            found = await self._probe(self._probe_ports)
        except Exception as exc:  # detection is a convenience; never block the guide
            if self._alive:
                self.detect_label.setText(f"Could not look for local servers ({exc}).")
            return []
        if not self._alive:
            return found
        self._local = {s.provider_id: s for s in found if s.provider_id in self._providers}
        if self._local:
            names = ", ".join(self._providers[pid].name for pid in self._local)
            self.detect_label.setText(f"Found on this computer: {names}.")
        else:
            self.detect_label.setText(
                "No model server found on this computer where one usually listens. If yours "
                "runs on another port, pick it at the end of the list and give its address."
            )
        if self.page() == self.PAGE_PROVIDER:
            # Offer what was found; later pages keep the provider the user already chose.
            self._fill_providers()
            if self._local:
                self.select_provider(next(iter(self._local)))
        return found

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._detected:
            self._spawn(self.detect_local_servers())

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro, only_if_running=True)

    def _closed(self) -> None:
        # The guide may be deleted once closed: running checks must not touch it afterwards.
        self._alive = False
        self._tasks.cancel()

    async def cancel_tasks(self) -> None:
        await self._tasks.cancel_and_wait()

    # -- page 2: key --------------------------------------------------------------------------

    def _build_key_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.key_title = QLabel(page)
        self.key_intro = QLabel(page)
        self.key_intro.setWordWrap(True)
        self.key_intro.setOpenExternalLinks(True)
        layout.addWidget(self.key_title)
        layout.addWidget(self.key_intro)
        form = QFormLayout()
        self.key_edit = QLineEdit(page)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName("API key")
        self.key_edit.textChanged.connect(lambda _t: self._update_buttons())
        self.reveal_button = QToolButton(page)
        self.reveal_button.setText("Show")
        self.reveal_button.setCheckable(True)
        self.reveal_button.setAccessibleName("Show key")
        self.reveal_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.reveal_button.toggled.connect(
            lambda on: self.key_edit.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        row = QHBoxLayout()
        row.addWidget(self.key_edit, 1)
        row.addWidget(self.reveal_button)
        self.key_label = QLabel("&Key:", page)
        self.key_label.setBuddy(self.key_edit)
        form.addRow(self.key_label, row)
        self._key_row = row
        self.session_check = QCheckBox("Keep for this session only", page)
        self.session_check.setAccessibleName("Keep the key for this session only")
        form.addRow("", self.session_check)
        self._key_form = form
        self.base_url_edit = QLineEdit(page)
        self.base_url_edit.setAccessibleName("Base URL")
        self.base_url_edit.textChanged.connect(lambda _t: self._update_buttons())
        self.base_label = QLabel("&Base URL:", page)
        self.base_label.setBuddy(self.base_url_edit)
        form.addRow(self.base_label, self.base_url_edit)
        self.test_button = QPushButton("&Test", page)
        self.test_button.setAccessibleName("Test the key")
        # Enter in the page's fields tests nothing by surprise; Next stays the default button.
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(lambda: self._spawn(self.run_test()))
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)
        form.addRow("", test_row)
        layout.addLayout(form)
        self.test_label = QLabel(page)
        self.test_label.setWordWrap(True)
        self.test_label.setAccessibleName("Test result")
        layout.addWidget(self.test_label)
        layout.addStretch(1)
        return page

    def _spec(self) -> ProviderSpec:
        pid = self.selected()
        assert pid is not None
        return self._providers[pid]

    def _base_url(self) -> str | None:
        pid = self.selected()
        if pid in self._local:
            return self._local[pid].base_url
        return self.base_url_edit.text().strip() or self._settings.base_urls.get(pid or "")

    def _prepare_key_page(self) -> None:
        spec = self._spec()
        takes_key = spec.auth.scheme is not AuthScheme.NONE
        docs = f' (<a href="{spec.docs_url}">docs</a>)' if spec.docs_url else ""
        if spec.local:
            self.key_title.setText(f"<b>Where is your {spec.name}?</b>")
            intro = (
                f"{spec.name} needs no key. Give the address it listens on (its port may "
                "differ from the usual one) and press Test: Parley asks it for its models."
            )
            if takes_key:
                intro += " Only if it was started with --api-key, paste that key too."
        elif not spec.auth.required:
            self.key_title.setText(f"<b>Your server for {spec.name}</b>")
            intro = (
                f"Give the server's address{docs} and press Test. A key is optional: many "
                "servers, local ones especially, need none. Paste one only if yours asks."
            )
        else:
            self.key_title.setText(f"<b>Your key for {spec.name}</b>")
            hint = f" It looks like {key_hint_text(spec)}." if spec.auth.key_hint else ""
            intro = (
                f"Paste the API key from your {spec.name} account{docs}.{hint} It is kept in "
                "the system keyring and never written to a file."
            )
        available = self._keystore.backend_available()
        self.session_check.setChecked(not available)
        self.session_check.setEnabled(available)
        if not available and takes_key:
            intro += (
                " No keyring is available on this system, so a key can be kept for this "
                "session only."
            )
        self.key_intro.setText(intro)
        # The address first where it is what matters (no key needed), else after the key.
        form = self._key_form
        form.takeRow(self.base_url_edit)  # the label and field stay, owned by the page
        form.insertRow(0 if not spec.auth.required else 2, self.base_label, self.base_url_edit)
        self.base_label.setText("&Address:" if spec.local else "&Base URL:")
        form.setRowVisible(self._key_row, takes_key)
        form.setRowVisible(self.session_check, takes_key)
        self.key_edit.setPlaceholderText(
            spec.auth.key_hint or ("paste the key" if spec.auth.required else "optional")
        )
        self.test_button.setAccessibleName("Test the key" if spec.auth.required else "Test")
        self.base_url_edit.setText(self._settings.base_urls.get(spec.id, spec.base_url))
        self.base_url_edit.setPlaceholderText(spec.base_url_hint or "")
        self.test_label.clear()
        with contextlib.suppress(KeyringError):
            info = self._keystore.get(spec.id)
            if info.key and not self.key_edit.text():
                self.test_label.setText(f"A key is already set ({info.masked}); Next keeps it.")

    def _typed_or_stored_key(self) -> str | None:
        typed = self.key_edit.text().strip()
        if typed:
            return typed
        try:
            return self._keystore.get(self._spec().id).key
        except KeyringError:
            return None

    async def run_test(self) -> tuple[bool, str]:
        spec = self._spec()
        if self.test_button.hasFocus():
            # Disabling the focused button would hand the focus to the next one in the tab
            # order, Skip, where Enter would end the guide.
            self._focus_forward()
        self.test_button.setEnabled(False)
        self.test_label.setStyleSheet("")
        self.test_label.setText(f"Testing {spec.name} at {self._base_url() or spec.base_url}…")
        try:
            ok, message = await check_key(
                self._engine, spec, self._typed_or_stored_key(), base_url=self._base_url()
            )
        finally:
            if self._alive:
                self.test_button.setEnabled(True)
        if not self._alive:
            return ok, message
        self.test_label.setStyleSheet(f"color: {status_color(ok)};")
        self.test_label.setText(message)
        self._focus_forward()
        if ok:
            await self._load_models()
        return ok, message

    def _focus_forward(self) -> None:
        """Next where it can be pressed; else the field still to fill (never Skip)."""
        if self.next_button.isEnabled():
            self.next_button.setFocus()
        elif self.key_edit.isVisible() and not self.key_edit.text().strip():
            self.key_edit.setFocus()
        else:
            self.base_url_edit.setFocus()

    def _save_key(self) -> bool:
        typed = self.key_edit.text().strip()
        if not typed:
            return True
        try:
            self._keystore.set(self._spec().id, typed, session_only=self.session_check.isChecked())
        except (KeyringError, ValueError) as err:
            self.session_check.setChecked(True)
            self.test_label.setStyleSheet(f"color: {status_color(False)};")
            self.test_label.setText(str(err))
            return False
        self.key_edit.clear()
        return True

    # -- page 3: first message ----------------------------------------------------------------

    def _build_message_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.message_title = QLabel("<b>Send your first message</b>", page)
        layout.addWidget(self.message_title)
        form = QFormLayout()
        self.model_combo = QComboBox(page)
        self.model_combo.setEditable(True)
        self.model_combo.setAccessibleName("Model")
        self.model_combo.lineEdit().setPlaceholderText("type or pick a model")
        self.model_combo.editTextChanged.connect(lambda _t: self._update_buttons())
        model_label = QLabel("&Model:", page)
        model_label.setBuddy(self.model_combo)
        form.addRow(model_label, self.model_combo)
        layout.addLayout(form)
        self.message_edit = QPlainTextEdit(page)
        self.message_edit.setAccessibleName("First message")
        self.message_edit.setTabChangesFocus(True)
        self.message_edit.setPlainText(FIRST_MESSAGE)
        self.message_edit.textChanged.connect(self._update_buttons)
        self.message_edit.setFixedHeight(self.message_edit.fontMetrics().lineSpacing() * 5 + 14)
        layout.addWidget(self.message_edit)
        hint = QLabel(
            "Send opens the chat and streams the answer. Parameters, other models and more "
            "providers are in the window's side panel and under Keys.",
            page,
        )
        hint.setWordWrap(True)
        hint.setEnabled(False)
        layout.addWidget(hint)
        layout.addStretch(1)
        return page

    def _fill_models(self, models: list[str]) -> None:
        current = self.model_combo.currentText()
        self.model_combo.clear()
        self.model_combo.addItems(models)
        preferred = current or self._settings.models.get(self._spec().id, "")
        if preferred:
            self.model_combo.setEditText(preferred)
        elif models:
            self.model_combo.setCurrentIndex(0)

    async def _load_models(self) -> None:
        spec = self._spec()
        pid = spec.id
        if pid in self._local:
            self._fill_models(self._local[pid].models)
            return
        models = list(spec.models.fallback)
        if spec.models.listing is not ModelListing.NONE:
            try:
                listed = await self._engine.list_models(
                    spec, self._typed_or_stored_key(), base_url=self._base_url()
                )
                models = [m.id for m in listed] or models
                self._listed[(pid, self._base_url())] = models
            except Exception:  # the list is a convenience; a typed model works too
                pass
        if self._alive:
            self._fill_models(models)

    # -- navigation ---------------------------------------------------------------------------

    def _needs_key(self, spec: ProviderSpec) -> bool:
        """Whether the key page comes: for a key, or for the address of a local server that
        was not found where it usually listens. A server found here needs neither."""
        if spec.id in self._local:
            return False
        return spec.auth.scheme is not AuthScheme.NONE or spec.local

    def page(self) -> int:
        return self.stack.currentIndex()

    def _go(self, page: int) -> None:
        self.stack.setCurrentIndex(page)
        self.back_button.setEnabled(page != self.PAGE_PROVIDER)
        self.next_button.setText("&Send" if page == self.PAGE_MESSAGE else "&Next")
        self.next_button.setAccessibleName("Send" if page == self.PAGE_MESSAGE else "Next")
        focus: QWidget = self.provider_list
        if page == self.PAGE_KEY:
            # The key where one is needed; else the address is what there is to give.
            focus = self.key_edit if self._spec().auth.required else self.base_url_edit
        elif page == self.PAGE_MESSAGE:
            focus = self.message_edit
        focus.setFocus()
        self._update_buttons()

    def _update_buttons(self) -> None:
        page = self.stack.currentIndex()
        enabled = True
        if page == self.PAGE_PROVIDER:
            enabled = self.selected() is not None
        elif page == self.PAGE_KEY:
            spec = self._spec()
            enabled = self._typed_or_stored_key() is not None or not spec.auth.required
            enabled = enabled and bool(self._base_url() or spec.base_url)
        elif page == self.PAGE_MESSAGE:
            enabled = bool(self.model_combo.currentText().strip()) and bool(
                self.message_edit.toPlainText().strip()
            )
        self.next_button.setEnabled(enabled)

    def next(self) -> None:
        page = self.stack.currentIndex()
        if page == self.PAGE_PROVIDER:
            if self.selected() is None:
                return
            if self._needs_key(self._spec()):
                self._prepare_key_page()
                self._go(self.PAGE_KEY)
            else:
                self._enter_message_page()
        elif page == self.PAGE_KEY:
            if self._save_key():
                self._enter_message_page()
        else:
            self.finish()

    def _enter_message_page(self) -> None:
        spec = self._spec()
        self.message_title.setText(f"<b>Send your first message to {spec.name}</b>")
        self.model_combo.clear()
        if spec.id in self._local:
            models = self._local[spec.id].models
        else:  # what Test listed at this address, until the list comes again
            models = self._listed.get((spec.id, self._base_url()), list(spec.models.fallback))
        self._fill_models(models)
        self._go(self.PAGE_MESSAGE)
        if spec.id not in self._local:
            self._spawn(self._load_models())

    def back(self) -> None:
        page = self.stack.currentIndex()
        if page == self.PAGE_MESSAGE and self._needs_key(self._spec()):
            self._go(self.PAGE_KEY)
        elif page != self.PAGE_PROVIDER:
            self._go(self.PAGE_PROVIDER)

    def _mark_done(self) -> None:
        self._settings.first_run_done = True
        if self._save is not None:
            with contextlib.suppress(OSError, ValueError):
                self._save(self._settings)

    def finish(self) -> None:
        spec = self._spec()
        model = self.model_combo.currentText().strip()
        message = self.message_edit.toPlainText().strip()
        if not model or not message:
            return
        base = self._base_url()
        if base and base.rstrip("/") != spec.base_url.rstrip("/"):
            with contextlib.suppress(ValueError):
                self._settings.base_urls = {**self._settings.base_urls, spec.id: base}
        with contextlib.suppress(ValueError):
            self._settings.last_provider = spec.id
            self._settings.last_model = model
            self._settings.models = {**self._settings.models, spec.id: model}
        self._mark_done()
        self.completed.emit(spec.id, model, message)
        self.accept()

    def skip(self) -> None:
        self._mark_done()
        self.skipped.emit()
        self.reject()

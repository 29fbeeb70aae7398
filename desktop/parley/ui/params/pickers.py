"""The top bar's pickers: provider, model (with the fetched model list), and presets.

`Pickers` fills and follows the combos, fetches a provider's models once the window has warmed
up (`enable()`), keeps the last provider and model in the settings, and gives the `RunConfig`
a send uses. It says what changed by signals: `spec_changed(ProviderSpec)`,
`request_changed()` (the preview follows), `preset_chosen(object)` (a name, or None: the open
conversation records it), `preset_name_wanted()` (ask for a name, then `save_preset`) and
`settings_changed()` (to be saved).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QLabel, QLineEdit

from parley.core.app.settings import Preset, Settings
from parley.core.protocol.errors import ParleyError
from parley.core.providers.catalog import Catalog, ModelListing, ProviderSpec
from parley.core.providers.modellist import (
    EmptyListReason,
    ModelInfo,
    fallback_models,
    why_no_models,
)
from parley.core.store import Conversation

if TYPE_CHECKING:
    from parley.core.chat.session import RunConfig
    from parley.ui.layout import Banner, TopBar
    from parley.ui.params_panel import ParamsPanel
    from parley.ui.tasks import TaskRegistry

log = logging.getLogger("parley.ui.params")

MODEL_PLACEHOLDER = "Model (type to search, or any id)"
PRESET_NONE = "No preset"
PRESET_SAVE = "Save current as preset…"
DEFAULT_PROVIDER = "euri"


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


class Pickers(QObject):
    spec_changed = Signal(object)  # ProviderSpec
    request_changed = Signal()
    preset_chosen = Signal(object)  # str | None
    preset_name_wanted = Signal()
    settings_changed = Signal()

    def __init__(
        self,
        top: TopBar,
        panel: ParamsPanel,
        banner: Banner,
        *,
        catalog: Catalog,
        settings: Settings,
        tasks: TaskRegistry,
        engine: Any,  # a callable giving the Engine (made after the first paint)
        key: Any,  # provider id -> key or None
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.top = top
        self.panel = panel
        self.banner = banner
        self.catalog = catalog
        self.settings = settings
        self.tasks = tasks
        self._engine = engine
        self._key = key
        self._enabled = False
        self.models: dict[str, list[ModelInfo]] = {}
        self.provider_combo = top.provider_combo
        self.model_combo = top.model_combo
        self.preset_combo = top.preset_combo
        self.model_info = ElidedText(top.model_info)

        self._model_names = QStringListModel(self)
        completer = QCompleter(self._model_names, self.model_combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.model_combo.setCompleter(completer)

        self.provider_combo.currentIndexChanged.connect(lambda _i: self._provider_changed(None))
        self.model_combo.currentTextChanged.connect(self._model_changed)
        top.refresh_models_button.clicked.connect(lambda: self.load_models(refresh=True))
        self.preset_combo.activated.connect(self._preset_chosen)

    def enable(self) -> None:
        """The engine and key store are made: fetch the model list from now on."""
        self._enabled = True
        self.load_models()

    # --- providers and models ---------------------------------------------------------------

    def choose_initial_provider(self) -> None:
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
        self.fill_presets()

    def set_catalog(self, catalog: Catalog, provider_id: str | None) -> None:
        """The providers changed (one was added): list them again, keeping the choice."""
        self.catalog = catalog
        current = self.provider_id()
        self.choose_initial_provider()
        self.set_provider(provider_id or current or DEFAULT_PROVIDER)

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

    def _provider_changed(self, model: str | None) -> None:
        spec = self.spec()
        if spec is None:
            return
        self.panel.set_provider(spec)
        self.spec_changed.emit(spec)
        wanted = model or self.settings.models.get(spec.id) or ""
        known = self.models.get(spec.id) or fallback_models(spec.models)
        self._fill_models(known, wanted or (known[0].id if known else ""))
        self.settings.last_provider = spec.id
        self.top.set_notice("")  # what the bar said was about the previous provider
        self.load_models()
        self.request_changed.emit()

    def _fill_models(self, models: Sequence[ModelInfo], current: str) -> None:
        self._model_edit().setPlaceholderText(MODEL_PLACEHOLDER)
        self.model_combo.setToolTip("")
        self.model_combo.setAccessibleDescription("")
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

    def load_models(self, refresh: bool = False) -> None:
        if not self._enabled:
            return
        spec = self.spec()
        if spec is None or spec.models.listing is ModelListing.NONE:
            return
        base_url = self.base_url(spec.id)
        if not (base_url or spec.base_url):
            self.top.set_notice(f"Set {spec.name}'s base URL in Keys… to list its models.")
            return
        key = self._key(spec.id)
        if spec.models.needs_auth and spec.auth.required and not key:
            self.top.set_notice(f"Add a key for {spec.name} (Keys…) to list its models.")
            self._say_why_empty(spec, why_no_models(spec.name, missing_key=True))
            return
        self.tasks.start(("models", spec.id), self._load_models(spec, key, base_url, refresh))

    async def _load_models(
        self, spec: ProviderSpec, key: str | None, base_url: str | None, refresh: bool
    ) -> None:
        try:
            models = await self._engine().list_models(spec, key, base_url, refresh=refresh)
        except ParleyError as err:
            log.info("listing the models of %s failed: %s", spec.id, err)
            if self.provider_id() == spec.id:
                self.top.set_notice(
                    f"Could not list {spec.name}'s models: {str(err).rstrip('.')}. "
                    "You can still type a model id; ⟳ tries again."
                )
                self._say_why_empty(spec, why_no_models(spec.name, error=err))
            return
        self.models[spec.id] = list(models)
        if self.provider_id() == spec.id:
            self.top.set_notice("")
            self._fill_models(models, self.model() or (models[0].id if models else ""))
            if not models:
                self._say_why_empty(spec, why_no_models(spec.name))

    def _say_why_empty(self, spec: ProviderSpec, reason: EmptyListReason) -> None:
        """An empty model picker says why, in the field itself (and whole in its tooltip)."""
        if self.provider_id() != spec.id or self.model_combo.count():
            return
        self._model_edit().setPlaceholderText(reason.short)
        self.model_combo.setToolTip(reason.long)
        self.model_combo.setAccessibleDescription(reason.long)

    def _model_edit(self) -> QLineEdit:
        edit = self.model_combo.lineEdit()
        assert edit is not None  # the model combo is editable
        return edit

    def empty_list_reason(self) -> str:
        """What the model picker says about its empty list ("" when it has models)."""
        return "" if self.model_combo.count() else self.model_combo.toolTip()

    def key_changed(self, provider_id: str) -> None:
        if provider_id == self.provider_id():
            self.load_models(refresh=True)

    def model_info_for(self, provider_id: str, model: str) -> ModelInfo | None:
        return next((m for m in self.models.get(provider_id, []) if m.id == model), None)

    def _model_changed(self, text: str) -> None:
        pid = self.provider_id()
        if pid is None:
            return
        info = self.model_info_for(pid, text.strip())
        self.model_info.set(model_details(info))
        self.panel.set_supported_parameters(info.supported_parameters if info else None)
        if text.strip():
            self.settings.last_model = text.strip()
            self.settings.models[pid] = text.strip()
        self.request_changed.emit()

    def base_url(self, provider_id: str) -> str | None:
        return self.settings.base_urls.get(provider_id) or None

    def run_config(self) -> RunConfig:
        from parley.core.chat.session import RunConfig

        pid = self.provider_id() or ""
        model = self.model()
        return RunConfig(
            provider=pid,
            model=model,
            params=self.panel.values(),
            advanced=self.panel.advanced(),
            base_url=self.base_url(pid),
            model_info=self.model_info_for(pid, model),
            candidates=self.panel.candidates(),
        )

    def precheck(self, config: RunConfig) -> str | None:
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

    def restore(self, conv: Conversation) -> None:
        """A stored conversation opens with the provider, model, parameters and preset it had."""
        if conv.provider and self.catalog.get(conv.provider) is not None:
            self.set_provider(conv.provider, conv.model)
            self.panel.set_values(dict(conv.params), dict(conv.advanced))
        if conv.preset and conv.preset in self.settings.presets:
            self.fill_presets(conv.preset)
        else:
            self.fill_presets(None)

    # --- presets ------------------------------------------------------------------------------

    def fill_presets(self, current: str | None = None) -> None:
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
            self.fill_presets(None)
            self.preset_name_wanted.emit()
            return
        if name is None:
            self.preset_chosen.emit(None)
            return
        self.apply_preset(str(name))

    def apply_preset(self, name: str) -> None:
        preset = self.settings.presets.get(name)
        if preset is None:
            return
        if preset.provider and preset.provider != self.provider_id():
            self.set_provider(preset.provider)
        self.panel.apply_preset(dict(preset.params), dict(preset.advanced))
        self.fill_presets(name)
        self.preset_chosen.emit(name)

    def start_new_chat(self) -> str:
        """A new chat starts from the chosen preset, else from the defaults (nothing carried
        over from the chat left: seed, max_tokens, stop…). Says which, in words."""
        name = self.preset_combo.currentData()
        if isinstance(name, str) and name in self.settings.presets:
            self.apply_preset(name)
            return f"New chat with the preset “{name}”."
        self.panel.set_values({}, {})
        self.request_changed.emit()
        return "New chat with the default parameters (none set)."

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
        self.settings_changed.emit()
        self.fill_presets(name)

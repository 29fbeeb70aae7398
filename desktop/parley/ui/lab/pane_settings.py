"""A pane's settings: label, provider, model and the chat's parameter fields (the parameter
panel itself), the parameters set differently from the chat's marked ●."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.experiment import Variant
from parley.core.providers.catalog import Catalog
from parley.ui.params_panel import ParamsPanel

OVERRIDE_MARK = " ●"


class PaneSettingsDialog(QDialog):
    """Non-modal: `chosen(index, Variant)` when OK is pressed."""

    chosen = Signal(int, object)

    def __init__(
        self,
        index: int,
        variant: Variant,
        base: Mapping[str, Any],
        catalog: Catalog,
        base_url_for: Callable[[str], str | None],
        parent: QWidget | None = None,
        *,
        presets: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.index = index
        self.variant = variant
        self.base = dict(base)
        self.catalog = catalog
        self._base_url_for = base_url_for
        self.setWindowTitle("Pane settings")
        self.resize(460, 640)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.label_edit = QLineEdit(variant.label, self)
        self.label_edit.setAccessibleName("Pane label")
        self.provider_combo = QComboBox(self)
        self.provider_combo.setAccessibleName("Pane provider")
        for spec in catalog:
            self.provider_combo.addItem(spec.name, spec.id)
        found = self.provider_combo.findData(variant.provider)
        self.provider_combo.setCurrentIndex(max(0, found))
        self.model_combo = QComboBox(self)
        self.model_combo.setEditable(True)
        self.model_combo.setAccessibleName("Pane model")
        self.presets = dict(presets or {})
        self.preset_combo = QComboBox(self)
        self.preset_combo.setAccessibleName("Pane preset")
        self.preset_combo.addItem("The chat's parameters", None)
        for name in sorted(self.presets):
            self.preset_combo.addItem(name, name)
        self.preset_combo.setToolTip("Start this pane from a preset instead of the chat's")
        form.addRow("Label", self.label_edit)
        form.addRow("Provider", self.provider_combo)
        form.addRow("Model", self.model_combo)
        form.addRow("Start from", self.preset_combo)
        lay.addLayout(form)
        note = QLabel(
            "Parameters start from the chat's; those set differently here are marked ●.", self
        )
        note.setWordWrap(True)
        lay.addWidget(note)
        self.panel = ParamsPanel(None, self)
        self.panel.preview_section.hide()  # the pane's request is shown by its inspector
        lay.addWidget(self.panel, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.provider_combo.currentIndexChanged.connect(self._provider_changed)
        self.preset_combo.activated.connect(self._preset_chosen)
        self.panel.changed.connect(self._mark_overrides)
        self._provider_changed(keep=True)

    def provider_id(self) -> str:
        return str(self.provider_combo.currentData() or "")

    def _provider_changed(self, _index: int = 0, *, keep: bool = False) -> None:
        spec = self.catalog.get(self.provider_id())
        if spec is None:
            return
        self.panel.set_provider(spec)
        models = list(spec.models.fallback)
        self.model_combo.clear()
        self.model_combo.addItems(models)
        if keep:
            self.model_combo.setCurrentText(self.variant.model)
            known = {p.name for p in spec.params}
            params = {k: v for k, v in self.variant.params.items() if k in known}
            self.panel.set_values(params, dict(self.variant.advanced))
        else:
            known = {p.name for p in spec.params}
            self.panel.set_values({k: v for k, v in self.base.items() if k in known}, {})
        self._mark_overrides()

    def _preset_chosen(self, index: int) -> None:
        """The preset's parameters (or the chat's again) replace what the panel holds."""
        name = self.preset_combo.itemData(index)
        preset = self.presets.get(name) if name else None
        if preset is None:
            self._provider_changed()
            return
        provider = getattr(preset, "provider", None)
        if provider and provider != self.provider_id():
            found = self.provider_combo.findData(provider)
            if found >= 0:
                self.provider_combo.setCurrentIndex(found)  # the panel follows
        spec = self.catalog.get(self.provider_id())
        known = {p.name for p in spec.params} if spec is not None else set()
        params = {k: v for k, v in dict(preset.params).items() if k in known}
        self.panel.set_values(params, dict(preset.advanced))
        if not self.label_edit.text().strip() or self.label_edit.text() == self.variant.label:
            self.label_edit.setText(f"{name}")
        self._mark_overrides()

    def _mark_overrides(self) -> None:
        values = self.panel.values()
        for name, field in self.panel.fields().items():
            over = name in values and (name not in self.base or self.base[name] != values[name])
            text = field.spec.display_name + (OVERRIDE_MARK if over else "")
            if field.label.text() != text:
                field.label.setText(text)
                field.label.setAccessibleName(
                    f"{field.spec.display_name} (set differently from the chat)"
                    if over
                    else field.spec.display_name
                )

    def result_variant(self) -> Variant:
        pid = self.provider_id()
        model = self.model_combo.currentText().strip()
        same = pid == self.variant.provider
        return Variant(
            index=self.index,
            label=self.label_edit.text().strip() or f"{pid}/{model}",
            provider=pid,
            model=model,
            base_url=(self.variant.base_url if same else None) or self._base_url_for(pid),
            params=self.panel.values(),
            advanced=self.panel.advanced(),
            stream=self.variant.stream,
        )

    def _accept(self) -> None:
        if self.panel.errors():
            name, message = next(iter(self.panel.errors().items()))
            self.panel.field(name).setFocus()
            self.setWindowTitle(f"Pane settings — fix {name}: {message}")
            return
        self.chosen.emit(self.index, self.result_variant())
        self.accept()

"""The sweep editor: the experiment file as a form (prompts, variants, a grid of parameter
axes given as values or from/to/step ranges, repeats, checks and caps).

The form edits the file's dict (`core.lab.document`); keys it does not show are kept, and what
it writes is checked by `parse_experiment`, so the messages are those `parley sweep` prints,
each shown beside the part of the form it is about (`show_problems`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.document import (
    CellError,
    check_from_cells,
    check_value_text,
    locate,
    params_from_text,
    params_text,
    value_from_text,
    value_text,
    values_from_text,
    values_text,
)
from parley.core.lab.experiment import CHECK_TYPES, MODEL_AXIS, Problem
from parley.core.providers.catalog import Catalog
from parley.ui import theme

PROMPT_SEPARATOR = "---"
VARIANT_COLUMNS = ("label", "provider", "model", "params", "base_url")
GRID_COLUMNS = ("parameter", "values", "from", "to", "step")
CHECK_COLUMNS = ("type", "value", "label", "ignore_case")
_ORIGINAL = int(Qt.ItemDataRole.UserRole) + 7  # a row's table as read (its other keys kept)


def _item(text: str = "") -> QTableWidgetItem:
    return QTableWidgetItem(text)


def _table(parent: QWidget, headers: Sequence[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setHorizontalHeaderLabels(list(headers))
    table.setAccessibleName(name)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 14)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(
        QAbstractItemView.EditTrigger.DoubleClicked
        | QAbstractItemView.EditTrigger.EditKeyPressed
        | QAbstractItemView.EditTrigger.AnyKeyPressed
        | QAbstractItemView.EditTrigger.SelectedClicked
    )
    table.horizontalHeader().setStretchLastSection(True)
    table.setMinimumHeight(table.verticalHeader().defaultSectionSize() * 4 + 30)
    return table


def _problem_label(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    theme.tag(label, text="error_text")
    label.hide()
    return label


def _ordered(table: dict[str, Any], first: Sequence[str]) -> dict[str, Any]:
    """`table` with `first` keys in that order, then the rest (a row's table is kept in Qt
    item data, which sorts its keys)."""
    out = {k: table[k] for k in first if k in table}
    out.update((k, v) for k, v in table.items() if k not in out)
    return out


def _number_text(value: Any) -> str:
    return "" if value is None else value_text(value)


def _read_number(text: str) -> Any:
    """A cap as typed: empty is none; a number; anything else kept as typed (and refused by
    `parse_experiment` with the CLI's message)."""
    text = text.strip()
    return None if not text else value_from_text(text)


class SweepEditor(QWidget):
    changed = Signal()

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self._data: dict[str, Any] = {}
        self._loading = False
        self._marked: list[tuple[QTableWidget, int, int]] = []
        self._marked_fields: list[QWidget] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.file_problems = _problem_label(self, "Problems with the file")
        lay.addWidget(self.file_problems)
        lay.addWidget(self._build_general())
        lay.addWidget(self._build_variants())
        lay.addWidget(self._build_grid())
        lay.addWidget(self._build_checks())
        lay.addStretch(1)
        self.problem_labels = {
            "file": self.file_problems,
            "general": self.general_problems,
            "limits": self.general_problems,
            "variants": self.variant_problems,
            "grid": self.grid_problems,
            "checks": self.check_problems,
        }
        self.new_experiment()

    # ------------------------------------------------------------------ building

    def _build_general(self) -> QGroupBox:
        box = QGroupBox("Experiment", self)
        form = QFormLayout(box)
        self.name_edit = QLineEdit(box)
        self.name_edit.setAccessibleName("Experiment name")
        form.addRow("Name:", self.name_edit)
        self.prompts_edit = QPlainTextEdit(box)
        self.prompts_edit.setAccessibleName("Prompts")
        self.prompts_edit.setPlaceholderText(
            f"The prompt. Several prompts: one after another, a line {PROMPT_SEPARATOR} between."
        )
        self.prompts_edit.setFixedHeight(self.fontMetrics().height() * 4 + 16)
        form.addRow("Prompts:", self.prompts_edit)
        self.system_edit = QPlainTextEdit(box)
        self.system_edit.setAccessibleName("System prompt")
        self.system_edit.setPlaceholderText("Optional system prompt")
        self.system_edit.setFixedHeight(self.fontMetrics().height() * 2 + 16)
        form.addRow("System:", self.system_edit)
        row = QHBoxLayout()
        self.repeat_spin = QSpinBox(box)
        self.repeat_spin.setRange(1, 10_000)
        self.repeat_spin.setAccessibleName("Repeats")
        self.repeat_spin.setToolTip("Independent runs of each cell: how stable is the answer?")
        self.concurrency_spin = QSpinBox(box)
        self.concurrency_spin.setRange(1, 512)
        self.concurrency_spin.setAccessibleName("Concurrency")
        self.concurrency_spin.setToolTip(
            "Runs in flight at once overall (a local server takes one at a time unless [limits] "
            "in the file says otherwise)"
        )
        self.max_requests_edit = QLineEdit(box)
        self.max_requests_edit.setAccessibleName("Max requests")
        self.max_requests_edit.setPlaceholderText("no cap")
        self.max_requests_edit.setToolTip("Refuse the whole plan, before sending, if it is bigger")
        self.max_cost_edit = QLineEdit(box)
        self.max_cost_edit.setAccessibleName("Max cost")
        self.max_cost_edit.setPlaceholderText("no cap")
        self.max_cost_edit.setToolTip(
            "Refuse if the estimated cost is higher; stop when the spend reaches it"
        )
        caps = QHBoxLayout()
        wide = self.fontMetrics().horizontalAdvance("0" * 10)
        for line, text, widget in (
            (row, "Repeats", self.repeat_spin),
            (row, "Concurrency", self.concurrency_spin),
            (caps, "Max requests", self.max_requests_edit),
            (caps, "Max cost", self.max_cost_edit),
        ):
            label = QLabel(text + ":", box)
            label.setBuddy(widget)
            widget.setMinimumWidth(wide)
            line.addWidget(label)
            line.addWidget(widget)
        for line in (row, caps):
            line.addStretch(1)
            form.addRow(line)
        self.general_problems = _problem_label(box, "Problems with the experiment")
        form.addRow(self.general_problems)
        for edit in (self.name_edit, self.max_requests_edit, self.max_cost_edit):
            edit.textChanged.connect(self._edited)
        for text_edit in (self.prompts_edit, self.system_edit):
            text_edit.textChanged.connect(self._edited)
        for spin in (self.repeat_spin, self.concurrency_spin):
            spin.valueChanged.connect(self._edited)
        self.general_fields: dict[str, QWidget] = {
            "name": self.name_edit,
            "prompts": self.prompts_edit,
            "system": self.system_edit,
            "repeat": self.repeat_spin,
            "concurrency": self.concurrency_spin,
            "max_requests": self.max_requests_edit,
            "max_cost": self.max_cost_edit,
        }
        return box

    def _buttons(self, box: QWidget, table: QTableWidget, add: Any, what: str) -> QHBoxLayout:
        row = QHBoxLayout()
        add_button = QPushButton(f"Add {what}", box)
        add_button.setAccessibleName(f"Add {what}")

        def added() -> None:
            add()
            self._edited()

        add_button.clicked.connect(added)
        remove = QPushButton("Remove", box)
        remove.setAccessibleName(f"Remove the selected {what}")
        remove.clicked.connect(lambda: self._remove_rows(table))
        row.addWidget(add_button)
        row.addWidget(remove)
        row.addStretch(1)
        return row

    def _build_variants(self) -> QGroupBox:
        box = QGroupBox("Variants: provider, model and parameters", self)
        lay = QVBoxLayout(box)
        self.variants = _table(
            box, ["Label", "Provider", "Model", "Parameters", "Base URL"], "Variants"
        )
        header = self.variants.horizontalHeader()
        for i, width in enumerate((80, 170, 70, 190)):
            header.resizeSection(i, width)
        self.variants.setToolTip(
            "Parameters as name = value pairs, like temperature = 0.2, max_tokens = 60"
        )
        lay.addWidget(self.variants)
        lay.addLayout(self._buttons(box, self.variants, self.add_variant, "variant"))
        self.variant_problems = _problem_label(box, "Problems with the variants")
        lay.addWidget(self.variant_problems)
        self.variants.itemChanged.connect(lambda _i: self._edited())
        return box

    def _build_grid(self) -> QGroupBox:
        box = QGroupBox("Grid: every combination, applied to every variant", self)
        lay = QVBoxLayout(box)
        self.grid = _table(box, ["Parameter", "Values", "From", "To", "Step"], "Grid axes")
        header = self.grid.horizontalHeader()
        for i, width in enumerate((150, 190, 56, 56)):
            header.resizeSection(i, width)
        self.grid.setToolTip(
            "Values as a list (0, 0.5, 1; model names for the model axis), or a range: "
            "From, To and Step"
        )
        lay.addWidget(self.grid)
        lay.addLayout(self._buttons(box, self.grid, self.add_axis, "axis"))
        self.grid_problems = _problem_label(box, "Problems with the grid")
        lay.addWidget(self.grid_problems)
        self.grid.itemChanged.connect(lambda _i: self._edited())
        return box

    def _build_checks(self) -> QGroupBox:
        box = QGroupBox("Checks on every answer", self)
        lay = QVBoxLayout(box)
        self.checks = _table(box, ["Type", "Value", "Label", "Ignore case"], "Checks")
        header = self.checks.horizontalHeader()
        for i, width in enumerate((140, 220, 110)):
            header.resizeSection(i, width)
        lay.addWidget(self.checks)
        lay.addLayout(self._buttons(box, self.checks, self.add_check, "check"))
        self.check_problems = _problem_label(box, "Problems with the checks")
        lay.addWidget(self.check_problems)
        self.checks.itemChanged.connect(lambda _i: self._edited())
        return box

    # ------------------------------------------------------------------ rows

    def _combo(
        self,
        table: QTableWidget,
        row: int,
        column: int,
        items: Iterable[str],
        value: str,
        *,
        editable: bool = False,
    ) -> QComboBox:
        combo = QComboBox(table)
        combo.setEditable(editable)
        combo.addItems(list(items))
        if value and combo.findText(value) < 0:
            combo.addItem(value)
        combo.setCurrentText(value)
        header = table.horizontalHeaderItem(column)
        combo.setAccessibleName(header.text() if header is not None else "")
        combo.currentTextChanged.connect(lambda _t: self._edited())
        table.setCellWidget(row, column, combo)
        return combo

    def add_variant(self, table: dict[str, Any] | None = None) -> int:
        t = dict(table or {})
        if not table:
            last = self.variant_tables()[-1:] if self.variants.rowCount() else []
            t = dict(last[0]) if last else {"provider": "openai-compatible", "model": ""}
            t.pop("label", None)
        row = self.variants.rowCount()
        self._loading, was = True, self._loading
        self.variants.insertRow(row)
        label = _item(str(t.get("label", "") or ""))
        label.setData(_ORIGINAL, t)
        self.variants.setItem(row, 0, label)
        providers = sorted(self.catalog.providers)
        self._combo(self.variants, row, 1, providers, str(t.get("provider") or ""))
        self.variants.setItem(row, 2, _item(str(t.get("model", "") or "")))
        params = t.get("params")
        self.variants.setItem(
            row, 3, _item(params_text(params) if isinstance(params, dict) else str(params or ""))
        )
        self.variants.setItem(row, 4, _item(str(t.get("base_url", "") or "")))
        self._loading = was
        return row

    def add_axis(self, name: str = "", values: Any = None) -> int:
        row = self.grid.rowCount()
        self._loading, was = True, self._loading
        self.grid.insertRow(row)
        self._combo(self.grid, row, 0, self.parameter_names(), name, editable=True)
        if isinstance(values, dict):
            self.grid.setItem(row, 1, _item(""))
            for column, key in ((2, "from"), (3, "to"), (4, "step")):
                self.grid.setItem(row, column, _item(_number_text(values.get(key))))
        else:
            text = values_text(values) if isinstance(values, list) else str(values or "")
            self.grid.setItem(row, 1, _item(text))
            for column in (2, 3, 4):
                self.grid.setItem(row, column, _item(""))
        self._loading = was
        return row

    def add_check(self, table: dict[str, Any] | None = None) -> int:
        t = dict(table or {"type": "contains", "value": ""})
        row = self.checks.rowCount()
        self._loading, was = True, self._loading
        self.checks.insertRow(row)
        self._combo(self.checks, row, 0, CHECK_TYPES, str(t.get("type") or ""))
        value = _item(check_value_text(t))
        value.setData(_ORIGINAL, t)
        self.checks.setItem(row, 1, value)
        self.checks.setItem(row, 2, _item(str(t.get("label", "") or "")))
        case = _item("")
        case.setFlags(
            Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
        )
        case.setCheckState(
            Qt.CheckState.Checked if t.get("ignore_case") is True else Qt.CheckState.Unchecked
        )
        self.checks.setItem(row, 3, case)
        self._loading = was
        return row

    def _remove_rows(self, table: QTableWidget) -> None:
        rows = sorted({i.row() for i in table.selectedIndexes()}, reverse=True)
        if not rows and table.currentRow() >= 0:
            rows = [table.currentRow()]
        for row in rows:
            table.removeRow(row)
        self._edited()

    def parameter_names(self) -> list[str]:
        """The parameters the variants' providers take (for the grid), and `model`."""
        names: dict[str, None] = {MODEL_AXIS: None}
        providers = {self._text(self.variants, r, 1) for r in range(self.variants.rowCount())}
        for pid in sorted(p for p in providers if p):
            spec = self.catalog.get(pid)
            if spec is not None:
                names.update((p.name, None) for p in spec.params)
        return list(names)

    # ------------------------------------------------------------------ reading the form

    @staticmethod
    def _text(table: QTableWidget, row: int, column: int) -> str:
        widget = table.cellWidget(row, column)
        if isinstance(widget, QComboBox):
            return widget.currentText().strip()
        item = table.item(row, column)
        return item.text() if item is not None else ""

    def variant_tables(self) -> list[dict[str, Any]]:
        return self._collect()[0].get("variants") or []

    def _collect(self) -> tuple[dict[str, Any], list[Problem]]:
        data = copy.deepcopy(self._data)
        cell_problems: list[Problem] = []
        for key in ("prompt", "prompts"):
            data.pop(key, None)
        name = self.name_edit.text().strip()
        if name:
            data["name"] = name
        else:
            data.pop("name", None)
        prompts = self.prompts()
        if len(prompts) == 1:
            data["prompt"] = prompts[0]
        elif prompts:
            data["prompts"] = prompts
        system = self.system_edit.toPlainText()
        if system.strip():
            data["system"] = system
        else:
            data.pop("system", None)
        data["repeat"] = self.repeat_spin.value()
        data["concurrency"] = self.concurrency_spin.value()
        for key, edit in (
            ("max_requests", self.max_requests_edit),
            ("max_cost", self.max_cost_edit),
        ):
            value = _read_number(edit.text())
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value

        variants = []
        for row in range(self.variants.rowCount()):
            item = self.variants.item(row, 0)
            original = item.data(_ORIGINAL) if item is not None else None
            t: dict[str, Any] = dict(original) if isinstance(original, dict) else {}
            for column, key in enumerate(VARIANT_COLUMNS):
                text = self._text(self.variants, row, column).strip()
                if key == "params":
                    try:
                        params = params_from_text(text)
                    except CellError as err:
                        cell_problems.append(Problem(f"variants[{row + 1}].params", str(err)))
                        params = dict(t.get("params") or {})
                    if params:
                        t["params"] = params
                    else:
                        t.pop("params", None)
                elif text:
                    t[key] = text
                else:
                    t.pop(key, None)
            variants.append(_ordered(t, ("label", "provider", "base_url", "model", "params")))
        if variants:
            data["variants"] = variants
        else:
            data.pop("variants", None)

        grid: dict[str, Any] = {}
        for row in range(self.grid.rowCount()):
            name = self._text(self.grid, row, 0)
            values = self._text(self.grid, row, 1)
            ends = [self._text(self.grid, row, c).strip() for c in (2, 3, 4)]
            if not name and not values.strip() and not any(ends):
                continue  # an empty row
            if not name:
                cell_problems.append(Problem(f"grid[{row + 1}]", "give the parameter's name"))
                continue
            if any(ends):
                grid[name] = {
                    k: value_from_text(v) if v else None
                    for k, v in zip(("from", "to", "step"), ends, strict=True)
                }
                grid[name] = {k: v for k, v in grid[name].items() if v is not None}
            else:
                grid[name] = values_from_text(values)
        if grid:
            data["grid"] = grid
        else:
            data.pop("grid", None)

        checks = []
        for row in range(self.checks.rowCount()):
            kind = self._text(self.checks, row, 0)
            value_item = self.checks.item(row, 1)
            original = value_item.data(_ORIGINAL) if value_item is not None else None
            t = {
                k: v
                for k, v in (original.items() if isinstance(original, dict) else [])
                if k not in ("type", "value", "schema", "label", "ignore_case")
            }
            t.update(check_from_cells(kind, self._text(self.checks, row, 1)))
            label = self._text(self.checks, row, 2).strip()
            if label:
                t["label"] = label
            case = self.checks.item(row, 3)
            if case is not None and case.checkState() == Qt.CheckState.Checked:
                t["ignore_case"] = True
            checks.append(_ordered(t, ("type", "value", "schema", "label", "ignore_case")))
        if checks:
            data["checks"] = checks
        else:
            data.pop("checks", None)
        return data, cell_problems

    def document(self) -> tuple[dict[str, Any], list[Problem]]:
        """The file's dict as the form has it, and the cells that cannot be read."""
        return self._collect()

    def prompts(self) -> list[str]:
        text = self.prompts_edit.toPlainText()
        parts: list[str] = []
        current: list[str] = []
        for line in text.split("\n"):
            if line.strip() == PROMPT_SEPARATOR:
                parts.append("\n".join(current))
                current = []
            else:
                current.append(line)
        parts.append("\n".join(current))
        return [p.strip("\n") for p in parts if p.strip()]

    # ------------------------------------------------------------------ filling the form

    def new_experiment(self) -> None:
        self.load_document(
            {
                "name": "",
                "prompt": "",
                "repeat": 1,
                "concurrency": 4,
                "variants": [{"provider": "openai-compatible", "model": ""}],
            }
        )

    def load_document(self, data: dict[str, Any]) -> None:
        self._loading = True
        try:
            self._data = copy.deepcopy(data)
            self.name_edit.setText(str(data.get("name") or ""))
            prompts = data.get("prompts")
            if not isinstance(prompts, list):
                prompts = [data.get("prompt") or ""]
            self.prompts_edit.setPlainText(f"\n{PROMPT_SEPARATOR}\n".join(str(p) for p in prompts))
            self.system_edit.setPlainText(str(data.get("system") or ""))
            repeat, concurrency = data.get("repeat", 1), data.get("concurrency", 4)
            self.repeat_spin.setValue(repeat if isinstance(repeat, int) and repeat >= 1 else 1)
            self.concurrency_spin.setValue(
                concurrency if isinstance(concurrency, int) and concurrency >= 1 else 4
            )
            self.max_requests_edit.setText(_number_text(data.get("max_requests")))
            self.max_cost_edit.setText(_number_text(data.get("max_cost")))
            for table in (self.variants, self.grid, self.checks):
                table.setRowCount(0)
            for t in data.get("variants") or []:
                if isinstance(t, dict):
                    self.add_variant(t)
            grid = data.get("grid")
            if isinstance(grid, dict):
                for name, values in grid.items():
                    self.add_axis(str(name), values)
            for t in data.get("checks") or []:
                if isinstance(t, dict):
                    self.add_check(t)
        finally:
            self._loading = False
        self.show_problems([])
        self.changed.emit()

    def _edited(self, *_args: object) -> None:
        if not self._loading:
            self.changed.emit()

    # ------------------------------------------------------------------ problems

    def show_problems(self, problems: Sequence[Problem]) -> None:
        """Each problem beside its part of the form (and its cell marked), as `key: message`."""
        for table, row, column in self._marked:
            item = table.item(row, column)
            if item is not None:
                item.setData(Qt.ItemDataRole.BackgroundRole, None)
                item.setToolTip("")
            widget = table.cellWidget(row, column)
            if widget is not None:
                widget.setStyleSheet("")
                widget.setToolTip("")
        for field in self._marked_fields:
            field.setStyleSheet("")
            field.setToolTip("")
        self._marked, self._marked_fields = [], []
        texts: dict[str, list[str]] = {}
        for p in problems:
            place = locate(p.key)
            texts.setdefault(place.section, []).append(f"{p.key}: {p.message}")
            self._mark(place.section, place.row, place.field, p.message, p.key)
        for section, label in self.problem_labels.items():
            lines = [] if section == "limits" else texts.get(section, [])
            if section == "general":
                lines = lines + texts.get("limits", [])
            label.setText("\n".join(lines))
            label.setVisible(bool(lines))

    def _mark(
        self, section: str, row: int | None, field: str | None, message: str, key: str
    ) -> None:
        error_bg = QColor(theme.colors().error_bg)
        border = theme.colors().error_border

        def cell(table: QTableWidget, r: int, c: int) -> None:
            if not (0 <= r < table.rowCount()):
                return
            widget = table.cellWidget(r, c)
            if widget is not None:
                widget.setStyleSheet(f"border: 1px solid {border};")
                widget.setToolTip(message)
            else:
                item = table.item(r, c)
                if item is None:
                    item = _item()
                    table.setItem(r, c, item)
                was = self._loading
                self._loading = True
                item.setData(Qt.ItemDataRole.BackgroundRole, error_bg)
                item.setToolTip(message)
                self._loading = was
            self._marked.append((table, r, c))

        if section == "general" and field in self.general_fields:
            widget = self.general_fields[field]
            widget.setStyleSheet(f"border: 1px solid {border};")
            widget.setToolTip(message)
            self._marked_fields.append(widget)
        elif section == "variants" and row is not None:
            column = VARIANT_COLUMNS.index(field) if field in VARIANT_COLUMNS else 0
            cell(self.variants, row, column)
        elif section == "checks" and row is not None:
            column = {"type": 0, "value": 1, "schema": 1, "label": 2, "ignore_case": 3}.get(
                field or "", 0
            )
            cell(self.checks, row, column)
        elif section == "grid" and row is not None:  # grid[n]: a row without a name
            cell(self.grid, row, 0)
        elif section == "grid" and field is not None:
            sub = key.split(".")[2] if key.count(".") >= 2 else None
            for r in range(self.grid.rowCount()):
                if self._text(self.grid, r, 0) == field:
                    end = {"from": 2, "to": 3, "step": 4}.get(sub or "")
                    if end is None:
                        ranged = any(self._text(self.grid, r, c).strip() for c in (2, 3, 4))
                        end = 2 if ranged else 1
                    cell(self.grid, r, end)

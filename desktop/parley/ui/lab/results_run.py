"""One run of a sweep: its full answer drawn as the chat draws an answer (the answer view-model
painted on the chat's answer widget), what it was asked with, its checks, and its Inspect
button opening the chat's inspector on the run's stored exchange."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from parley.core.chat.prepared import prepare
from parley.core.lab.plan import Plan
from parley.core.lab.results import RunRecord
from parley.core.protocol.errors import ParleyError, known_secrets
from parley.core.providers.catalog import Catalog
from parley.core.store import Store, StoreError
from parley.core.store import lab as lab_store
from parley.ui import chatview
from parley.ui.chat.answer import MessageView
from parley.ui.inspect.model import Inspection

log = logging.getLogger("parley.ui.lab")


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def run_body(plan: Plan, catalog: Catalog, record: RunRecord) -> str:
    """The exact body the run sent: built again from the plan, as the sweep built it (the body
    has no key in it, so none is read)."""
    if not 1 <= record.run <= len(plan):
        return ""
    run = plan.run(record.run)
    spec = catalog.get(plan.variant(run).provider)
    if spec is None:
        return ""
    try:
        prepared = prepare(spec, plan.request(run), None, require_key=False)
    except ParleyError:
        return ""
    return prepared.body.decode("utf-8", "replace")


def parsed_rows(record: RunRecord) -> list[tuple[str, str]]:
    rows: list[tuple[str, Any]] = [
        ("Run", record.run),
        ("Status", record.status),
        ("Finish reason", record.finish_reason),
        ("Model asked for", record.model),
        ("Model used", record.model_used),
        ("Provider", record.provider),
        ("System fingerprint", record.system_fingerprint),
        ("Prompt tokens", record.prompt_tokens),
        ("Completion tokens", record.completion_tokens),
        ("Time to first token", None if record.ttft_ms is None else f"{record.ttft_ms:,.1f} ms"),
        ("Total time", None if record.total_ms is None else f"{record.total_ms / 1000:,.2f} s"),
        ("Speed", None if record.tokens_per_s is None else f"{record.tokens_per_s:,.1f} tok/s"),
        ("Cost", None if record.cost is None else f"{record.cost:.6f} {record.currency or ''}"),
        ("Attempts", record.attempts if record.attempts > 1 else None),
        ("Error", record.error_message or None),
    ]
    return [(label, str(value)) for label, value in rows if value not in (None, "")]


def inspect_run(
    store: Store,
    plan: Plan,
    catalog: Catalog,
    record: RunRecord,
    secrets: Iterable[str | None] = (),
) -> Inspection:
    """What the inspector shows of a run: its stored exchange (every attempt, headers
    redacted) and the body it sent. Raises StoreError."""
    attempts = lab_store.run_exchange(store, record.exchange_id) if record.exchange_id else []
    return Inspection(
        answer_id=record.exchange_id or 0,
        conversation_id=0,
        provider=record.provider,
        model=record.model,
        status=record.status,
        body_text=run_body(plan, catalog, record),
        attempts=attempts,
        parsed=parsed_rows(record),
        error=record.error,
        ttft_ms=record.ttft_ms,
        secrets=tuple(s for s in [*secrets, *known_secrets()] if s),
    )


def answer_row(record: RunRecord) -> dict[str, Any]:
    """The run as the chat view's documented message row (what MessageView reads)."""
    error = None
    if record.error:
        error = {
            "kind": record.error.get("kind", ""),
            "message": record.error.get("message", ""),
            "provider_message": record.error.get("provider_message"),
            "provider_id": record.provider,
        }
    return {
        "id": str(record.exchange_id or record.run),
        "role": "assistant",
        "content": record.text,
        "reasoning": record.reasoning,
        "status": "complete" if not record.failed else "failed" if error else record.status,
        "error": error,
        "finish_reason": record.finish_reason,
        "metrics": {
            "model_used": record.model_used,
            "ttft_ms": record.ttft_ms,
            "tokens_per_s": record.tokens_per_s,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "cost": record.cost,
            "total_ms": record.total_ms,
            "currency": record.currency or "USD",
        },
    }


class RunDialog(QDialog):
    """A run's full answer and what it was asked with; Inspect opens the inspector."""

    def __init__(
        self,
        record: RunRecord,
        inspect: Callable[[RunRecord], object] | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.setWindowTitle(f"Run {record.run} — {record.variant_label}")
        self.setAccessibleName(f"Run {record.run}")
        self.resize(760, 620)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.fields: dict[str, QLabel] = {}
        cell = ", ".join(f"{k} = {_fmt(v)}" for k, v in record.cell.items())
        params = ", ".join(f"{k} = {_fmt(v)}" for k, v in record.params.items())
        for label, value in (
            ("Variant", f"{record.variant_label} ({record.provider} · {record.model})"),
            ("Prompt", record.prompt),
            ("Grid cell", cell or "(no grid)"),
            ("Parameters", params or "(the provider's defaults)"),
            ("Repeat", str(record.repeat)),
            ("Fingerprint", record.system_fingerprint or "(none reported)"),
            ("Checks", self._checks_text()),
        ):
            v = QLabel(value, self)
            v.setTextFormat(Qt.TextFormat.PlainText)
            v.setWordWrap(True)
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            v.setAccessibleName(label)
            form.addRow(f"{label}:", v)
            self.fields[label] = v
        lay.addLayout(form)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        holder = QWidget(scroll)
        holder_lay = QVBoxLayout(holder)
        holder_lay.setContentsMargins(0, 0, 0, 0)
        self.answer = chatview.widgets().AssistantMessageWidget(
            str(record.exchange_id or record.run), parent=holder, role_text=record.variant_label
        )
        holder_lay.addWidget(self.answer)
        holder_lay.addStretch(1)
        MessageView.from_row(answer_row(record)).paint(self.answer)
        # What a chat answer offers that a run cannot do here.
        self.answer.regenerate_button.hide()
        self.answer.continue_button.hide()
        if record.error:
            self.answer.retry_button.hide()
            self.answer.keys_button.hide()
        self.answer.inspect_button.setVisible(inspect is not None)
        if inspect is not None:
            self.answer.inspect_requested.connect(lambda _id: inspect(self.record))
        scroll.setWidget(holder)
        lay.addWidget(scroll, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)

    def _checks_text(self) -> str:
        r = self.record
        if not r.checks:
            return "not checked (the run did not finish)" if r.failed else "(none)"
        return "\n".join(
            f"{'✓' if c.passed else '✗' if c.passed is False else '?'} {c.name}"
            + (f": {c.detail}" if c.detail else "")
            for c in r.checks
        )


def open_inspector(
    store: Store | None,
    plan: Plan,
    catalog: Catalog,
    record: RunRecord,
    parent: QWidget,
    secrets: Iterable[str | None] = (),
) -> QDialog | None:
    """The chat's inspector on a run (Copy as… works; Reproduce and Edit & replay belong to a
    chat's answer, so they are not offered)."""
    from parley.ui.inspect.dialog import InspectorDialog

    if store is None:
        return None
    try:
        inspection = inspect_run(store, plan, catalog, record, secrets)
    except StoreError as err:
        log.warning("inspecting run %s failed: %s", record.run, err.message)
        return None
    dialog = InspectorDialog(inspection, parent)
    dialog.setWindowTitle(f"Inspect run {record.run} — {record.variant_label}")
    dialog.reproduce_button.hide()
    dialog.edit_button.hide()
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog

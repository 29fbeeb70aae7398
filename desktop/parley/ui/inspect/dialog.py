"""The inspector window of one answer: request, response, stream timeline, parsed result.

It shows what the history holds (`parley.ui.inspect.model.Inspection`) and asks for nothing
itself: Reproduce and Edit & replay are signals (`reproduce_requested(answer_id)`,
`replay_requested(answer_id, body)`) that the chat acts on, so a replay is an ordinary turn.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QGuiApplication, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from parley.core.lab.snippets import curl_snippet, js_snippet, json_snippet, python_snippet
from parley.core.protocol.errors import known_secrets
from parley.core.protocol.exchange import ExchangeRecord
from parley.ui import theme
from parley.ui.inspect.model import (
    NO_EXCHANGE,
    Inspection,
    headers_text,
    pretty_json,
    timeline_text,
)
from parley.ui.json_editor import JsonEditor, monospace_font

COPY_FORMATS = ("curl", "Python (httpx)", "JavaScript (fetch)", "JSON body")


def _mono(parent: QWidget, name: str, text: str = "") -> QPlainTextEdit:
    edit = QPlainTextEdit(parent)
    edit.setReadOnly(True)
    edit.setFont(monospace_font())
    edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    edit.setTabChangesFocus(True)
    edit.setAccessibleName(name)
    edit.setPlainText(text)
    return edit


def _caption(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _note(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    theme.tag(label, text="muted")
    return label


def snippet(kind: str, inspection: Inspection) -> str:
    """The request as code that runs as it is, reading the key from PARLEY_API_KEY_<ID>."""
    body, secrets = inspection.body_text, [*inspection.secrets, *known_secrets()]
    if kind == "JSON body":
        return json_snippet(body, secrets)
    make = {
        "curl": curl_snippet,
        "Python (httpx)": python_snippet,
        "JavaScript (fetch)": js_snippet,
    }[kind]
    i = inspection
    return make(i.url, i.request_headers, body, i.provider, secrets)


class EditReplayDialog(QDialog):
    """The request body in the JSON editor; Send replays it exactly as edited."""

    send_requested = Signal(bytes)

    def __init__(self, body_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit & replay")
        self.setAccessibleName("Edit and replay the request")
        self.resize(720, 560)
        layout = QVBoxLayout(self)
        layout.addWidget(
            _note(
                "The body is sent exactly as you leave it (to the same URL, with today's key), "
                "as a new answer beside this one.",
                self,
            )
        )
        self.editor = JsonEditor(
            self, require_object=True, accessible_name="Request body", lines=20
        )
        self.editor.text_edit.setPlainText(pretty_json(body_text))
        layout.addWidget(self.editor, 1)
        buttons = QDialogButtonBox(self)
        self.send_button = buttons.addButton("Send", QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.setAccessibleName("Send the edited body")
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._send)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.editor.edited.connect(self._validate)
        self._validate()

    def body(self) -> bytes:
        return self.editor.text_edit.toPlainText().encode()

    def _validate(self) -> None:
        ok = self.editor.error() is None and bool(self.editor.text_edit.toPlainText().strip())
        self.send_button.setEnabled(ok)

    def _send(self) -> None:
        if not self.send_button.isEnabled():
            return
        self.send_requested.emit(self.body())
        self.accept()


class InspectorDialog(QDialog):
    reproduce_requested = Signal(int)  # answer id
    replay_requested = Signal(int, bytes)  # answer id, the edited body

    def __init__(self, inspection: Inspection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inspection = inspection
        self._edit: EditReplayDialog | None = None
        names = [n for n in (inspection.provider, inspection.model) if n]
        self.setWindowTitle(f"Inspect answer — {' · '.join(names) or 'unknown provider'}")
        self.setAccessibleName("Inspector")
        self.resize(880, 640)
        outer = QVBoxLayout(self)

        head = QHBoxLayout()
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAccessibleName("Request summary")
        head.addWidget(self.summary, 1)
        self.attempt_combo = QComboBox(self)
        self.attempt_combo.setAccessibleName("Attempt")
        for a in inspection.attempts:
            status = a.status if a.status is not None else "no response"
            label = f"Attempt {a.attempt}" if a.request is None else f"Request {a.request}"
            self.attempt_combo.addItem(f"{label} · {status}", a.attempt)
        self.attempt_combo.setVisible(len(inspection.attempts) > 1)
        self.attempt_combo.currentIndexChanged.connect(lambda _i: self._show_attempt())
        head.addWidget(self.attempt_combo)
        outer.addLayout(head)

        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Inspector tabs")
        self.tabs.setDocumentMode(True)
        outer.addWidget(self.tabs, 1)
        self._build_request_tab()
        self._build_response_tab()
        self._build_timeline_tab()
        self._build_parsed_tab()

        buttons = QHBoxLayout()
        self.copy_button = QPushButton("Copy as…", self)
        self.copy_button.setAccessibleName("Copy the request as code")
        self.copy_button.setToolTip(
            "The request as a curl command, Python (httpx) or JavaScript (fetch) code that runs "
            "as it is, or the JSON body. The key is read from the environment, never copied."
        )
        menu = QMenu(self.copy_button)
        self.copy_actions: dict[str, QAction] = {}
        for kind in COPY_FORMATS:
            action = menu.addAction(kind)
            action.triggered.connect(lambda _c=False, k=kind: self.copy(k))
            self.copy_actions[kind] = action
        self.copy_button.setMenu(menu)
        self.reproduce_button = QPushButton("Reproduce", self)
        self.reproduce_button.setAccessibleName("Reproduce: send the same body again")
        self.reproduce_button.setToolTip(
            "Send this exact body again: the answer comes as a new branch beside this one."
        )
        self.reproduce_button.clicked.connect(self._reproduce)
        self.edit_button = QPushButton("Edit && replay…", self)
        self.edit_button.setAccessibleName("Edit the body and replay it")
        self.edit_button.clicked.connect(self.open_edit_replay)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        for b in (self.copy_button, self.reproduce_button, self.edit_button):
            b.setEnabled(inspection.can_replay)
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        outer.addLayout(buttons)
        self.copy_status = _note("", self)
        outer.addWidget(self.copy_status)
        self.copy_status.hide()

        if inspection.attempts:
            self.attempt_combo.setCurrentIndex(len(inspection.attempts) - 1)
        self._show_attempt()

    # --- tabs --------------------------------------------------------------------------------

    def _build_request_tab(self) -> None:
        page = QWidget(self.tabs)
        lay = QVBoxLayout(page)
        lay.addWidget(_caption("Headers", page))
        self.request_headers = _mono(page, "Request headers")
        self.request_headers.setMaximumHeight(130)
        lay.addWidget(self.request_headers)
        lay.addWidget(_caption("Body", page))
        body = self.inspection.body_text
        self.request_body = _mono(
            page, "Request body", pretty_json(body) if body else "(no request body was stored)"
        )
        lay.addWidget(self.request_body, 1)
        self.tabs.addTab(page, "Request")

    def _build_response_tab(self) -> None:
        page = QWidget(self.tabs)
        lay = QVBoxLayout(page)
        self.status_label = _caption("", page)
        self.status_label.setAccessibleName("Response status")
        lay.addWidget(self.status_label)
        self.response_error = _note("", page)
        lay.addWidget(self.response_error)
        lay.addWidget(_caption("Headers", page))
        self.response_headers = _mono(page, "Response headers")
        lay.addWidget(self.response_headers, 1)
        self.tabs.addTab(page, "Response")

    def _build_timeline_tab(self) -> None:
        page = QWidget(self.tabs)
        lay = QVBoxLayout(page)
        self.timeline_note = _note("", page)
        self.timeline_note.setAccessibleName("First content delta")
        lay.addWidget(self.timeline_note)
        self.timeline = _mono(page, "Stream timeline")
        lay.addWidget(self.timeline, 1)
        self.tabs.addTab(page, "Stream timeline")

    def _build_parsed_tab(self) -> None:
        scroll = QScrollArea(self.tabs)
        scroll.setWidgetResizable(True)
        page = QWidget(scroll)
        form = QFormLayout(page)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.parsed_labels: dict[str, QLabel] = {}
        for label, value in self.inspection.parsed:
            v = QLabel(self.inspection.clean(value), page)
            v.setTextFormat(Qt.TextFormat.PlainText)
            v.setWordWrap(True)
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            v.setAccessibleName(label)
            form.addRow(f"{label}:", v)
            self.parsed_labels[label] = v
        scroll.setWidget(page)
        self.tabs.addTab(scroll, "Parsed result")

    # --- the attempt shown -------------------------------------------------------------------

    def attempt(self) -> ExchangeRecord | None:
        attempts = self.inspection.attempts
        if not attempts:
            return None
        i = self.attempt_combo.currentIndex()
        return attempts[i] if 0 <= i < len(attempts) else attempts[-1]

    def _show_attempt(self) -> None:
        a = self.attempt()
        clean = self.inspection.clean
        if a is None:
            self.summary.setText(f"{self.inspection.model} · {NO_EXCHANGE}")
            self.summary.setWordWrap(True)
            self.request_headers.setPlainText("(not recorded)")
            self.status_label.setText("No response was recorded.")
            self.response_error.hide()
            self.response_headers.setPlainText("")
            self.timeline_note.setText(NO_EXCHANGE)
            self.timeline.setPlainText("")
            return
        status = a.status if a.status is not None else "no response"
        took = f" · {a.duration_ms / 1000:,.2f} s" if a.duration_ms is not None else ""
        self.summary.setText(clean(f"{a.method} {a.url}  →  {status}{took}"))
        self.request_headers.setPlainText(clean(headers_text(a.request_headers)))
        self.status_label.setText(f"Status: {status}")
        if a.error:
            message = a.error.get("message") or json.dumps(a.error, ensure_ascii=False)
            self.response_error.setText(clean(f"This attempt failed: {message}"))
            self.response_error.show()
        else:
            self.response_error.hide()
        self.response_headers.setPlainText(clean(headers_text(a.response_headers)))
        self._show_timeline(a)

    def _show_timeline(self, a: ExchangeRecord) -> None:
        self.timeline.setPlainText(self.inspection.clean(timeline_text(a.events)))
        notes = []
        index = a.first_content_line
        if a.first_content_ms is not None:
            notes.append(
                f"First content delta at +{a.first_content_ms:,.1f} ms "
                f"(line {index + 1 if index is not None else '?'}, highlighted): "
                "the time to first token the answer's footer shows."
            )
        elif a.events:
            notes.append("No content arrived in this attempt.")
        if a.truncated:
            notes.append("The raw stream was cut at 5 MB here; the answer itself was kept whole.")
        if not a.events:
            notes.append("No stream lines were recorded.")
        self.timeline_note.setText(" ".join(notes))
        self.timeline.setExtraSelections([])
        if index is None:
            return
        block = self.timeline.document().findBlockByNumber(index)
        if not block.isValid():
            return
        mark = QTextEdit.ExtraSelection()
        mark.format.setBackground(QColor(theme.colors().warn_bg))
        mark.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        mark.cursor = QTextCursor(block)
        self.timeline.setExtraSelections([mark])
        # A few lines of what came before it stay in view (its scroll bar counts lines).
        self.timeline.verticalScrollBar().setValue(max(0, index - 3))

    # --- actions -----------------------------------------------------------------------------

    def copy(self, kind: str) -> str:
        text = snippet(kind, self.inspection)
        QGuiApplication.clipboard().setText(text)
        self.copy_status.setText(
            f"Copied as {kind}."
            + ("" if kind == "JSON body" else " It reads the key from the environment.")
        )
        self.copy_status.show()
        return text

    def _reproduce(self) -> None:
        self.reproduce_requested.emit(self.inspection.answer_id)

    def open_edit_replay(self) -> EditReplayDialog:
        if self._edit is None:
            self._edit = EditReplayDialog(self.inspection.body_text, self)
            self._edit.send_requested.connect(
                lambda body: self.replay_requested.emit(self.inspection.answer_id, body)
            )
        self._edit.open()
        return self._edit

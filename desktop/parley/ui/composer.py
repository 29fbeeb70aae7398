"""The composer: where the user types a prompt and attaches images.

The text is never cleared by sending: the window calls `clear_after_send()` once the send was
accepted, so a failed send loses nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore  # `Qt` looked up when used (see parley.ui.lightqt)
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from parley.ui import theme
from parley.ui.lightqt import push_button, set_enum_properties

if TYPE_CHECKING:
    # Made on first use below (pasting, dropping, attaching): PySide makes each Qt class on
    # first access, and the composer is part of the window from the start.
    from PySide6.QtCore import QMimeData
    from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QKeyEvent, QPaintEvent
    from PySide6.QtWidgets import QFileDialog

    from parley.core.chat.attachments import TextFile
    from parley.core.protocol.request import ImagePart

MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
SEND_KEYS = ("enter", "ctrl_enter")


def image_part_from_qimage(image: QImage, name: str) -> ImagePart:
    from PySide6.QtCore import QBuffer, QIODevice

    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")  # type: ignore[call-overload]  # the stubs want bytes; Qt wants str
    data = base64.b64encode(bytes(buf.data().data())).decode("ascii")
    from parley.core.protocol.request import ImagePart

    return ImagePart(mime="image/png", data=data, name=name)


class PromptEdit(QPlainTextEdit):
    """The text field: decides which keys send and turns pasted/dropped images into parts."""

    send = Signal()
    compare = Signal()  # Ctrl+Shift+Enter: the prompt to the Lab's Compare panes
    stop = Signal()
    images_pasted = Signal(list)  # list[QImage]
    files_dropped = Signal(list)  # list[str] (local paths)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.send_key = "enter"

    def keyPressEvent(self, e: QKeyEvent) -> None:
        key = e.key()
        mods = e.modifiers()
        if key in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
            ctrl = bool(mods & QtCore.Qt.KeyboardModifier.ControlModifier)
            shift = bool(mods & QtCore.Qt.KeyboardModifier.ShiftModifier)
            if ctrl and shift:
                self.compare.emit()
                return
            if ctrl or (self.send_key == "enter" and not shift):
                self.send.emit()
                return
            # Newline: Shift+Enter, or Enter when Ctrl+Enter sends. Insert it ourselves so
            # Shift doesn't produce a line separator (U+2028) instead of a newline.
            self.textCursor().insertText("\n")
            self.ensureCursorVisible()
            return
        if key == QtCore.Qt.Key.Key_Escape:
            self.stop.emit()
            return
        super().keyPressEvent(e)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return (
            source.hasImage() or bool(_image_paths(source)) or super().canInsertFromMimeData(source)
        )

    def insertFromMimeData(self, source: QMimeData) -> None:
        paths = _image_paths(source)
        if paths:
            self.files_dropped.emit(paths)
            return
        if source.hasImage():
            from PySide6.QtGui import QImage

            image = QImage(source.imageData())
            if not image.isNull():
                self.images_pasted.emit([image])
                return
        super().insertFromMimeData(source)


def _unreadable_image(data: bytes) -> bool:
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QImage

    return QImage.fromData(QByteArray(data)).isNull()


def _image_paths(source: QMimeData) -> list[str]:
    if not source.hasUrls():
        return []
    return [
        u.toLocalFile()
        for u in source.urls()
        if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES
    ]


class AttachmentChip(QFrame):
    """A removable thumbnail of one attached image, painted as a chip card.

    (Painted here rather than a `message_widgets.Card`, so that the composer, part of the window
    from the start, does not import the message widgets before there is a message.)
    """

    remove_requested = Signal(object)  # the chip
    card_kind: theme.CardKind = "chip"

    def __init__(self, part: ImagePart | TextFile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 2, 2)
        lay.setSpacing(4)
        thumb = QLabel(self)
        from PySide6.QtGui import QPixmap

        from parley.core.chat.attachments import TextFile

        pix = QPixmap()
        if isinstance(part, TextFile):
            thumb.setText("📄")
            thumb.setToolTip(f"{part.name}: {len(part.text):,} characters, sent as text")
        elif part.data:
            pix.loadFromData(base64.b64decode(part.data))
        if not pix.isNull():
            thumb.setPixmap(
                pix.scaled(
                    32,
                    32,
                    QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                    QtCore.Qt.TransformationMode.SmoothTransformation,
                )
            )
        name = QLabel(part.name or ("file" if isinstance(part, TextFile) else "image"), self)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("×")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setAccessibleName(f"Remove attachment {part.name or 'image'}")
        self.remove_button.setToolTip("Remove")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))
        lay.addWidget(thumb)
        lay.addWidget(name)
        lay.addWidget(self.remove_button)
        self.setAccessibleName(f"Attachment {part.name or 'image'}")

    def paintEvent(self, e: QPaintEvent) -> None:
        theme.paint_card(self, self.card_kind)
        super().paintEvent(e)


class NoticePill(QLabel):
    """Why a send did not go out, on a small warning-coloured background."""

    card_kind: theme.CardKind = "warn"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setContentsMargins(6, 1, 6, 1)
        theme.tag(self, text="warn_text")

    def paintEvent(self, e: QPaintEvent) -> None:
        theme.paint_card(self, self.card_kind)
        super().paintEvent(e)

    def setText(self, text: str) -> None:
        self._kind("warn")
        super().setText(text)

    def inform(self, text: str) -> None:
        """Not a problem, only news (what a new chat starts with): shown as a plain badge."""
        self._kind("badge")
        super().setText(text)
        self.show()

    def is_news(self) -> bool:
        return self.card_kind == "badge"

    def _kind(self, kind: theme.CardKind) -> None:
        if kind != self.card_kind:
            self.card_kind = kind
            theme.tag(self, text="badge_text" if kind == "badge" else "warn_text")
            self.update()


class Composer(QWidget):
    """Multi-line prompt with Send/Stop and image attachments.

    `send_requested(text, attachments: list[ImagePart])` asks the window to send; the text stays
    until the window calls `clear_after_send()`.
    """

    send_requested = Signal(str, list)
    compare_requested = Signal(str, list)  # the prompt to every pane of the Lab's Compare
    stop_requested = Signal()
    attachments_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._attachments: list[ImagePart] = []
        self._text_files: list[TextFile] = []  # inlined into the message when it is sent
        self._streaming = False
        self._pasted = 0
        self._images_refused = ""  # why images can't be attached now ("" = they can)
        self.setAcceptDrops(True)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 6, 12, 10)
        outer.setSpacing(4)
        self._chips = QHBoxLayout()
        self._chips.setSpacing(6)
        self._chips.addStretch(1)
        self.token_label = QLabel(self)  # what the send would take (see ui.chat.token_meter)
        self.token_label.setObjectName("tokenEstimate")
        self.token_label.setAccessibleName("Token estimate")
        theme.tag(self.token_label, text="muted")
        self._chips.addWidget(self.token_label)
        outer.addLayout(self._chips)
        self.notice = NoticePill(self)
        self.notice.setWordWrap(True)
        set_enum_properties(self.notice, textFormat="PlainText")
        self.notice.hide()
        outer.addWidget(self.notice)

        row = QHBoxLayout()
        row.setSpacing(6)
        self.edit = PromptEdit(self)
        self.edit.setAccessibleName("Message")
        self.edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.edit.textChanged.connect(self._fit_height)
        self.edit.setTabChangesFocus(True)
        self.edit.send.connect(self._on_send_key)
        self.edit.compare.connect(self.request_compare)
        self.edit.stop.connect(self._on_escape)
        self.edit.images_pasted.connect(self._on_images_pasted)
        self.edit.files_dropped.connect(self.add_files)
        row.addWidget(self.edit, 1)

        buttons = QVBoxLayout()
        self.attach_button = push_button("Attach…", self)
        self.attach_button.setAccessibleName("Attach files")
        self.attach_button.setToolTip("Attach images or text files (or paste / drop them)")
        self.attach_button.clicked.connect(self.open_file_dialog)
        self.send_button = push_button("Send", self)
        self.send_button.setAccessibleName("Send message")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.request_send)
        self.compare_button = push_button("Compare", self)
        self.compare_button.setAccessibleName("Compare in the Lab")
        self.compare_button.setToolTip(
            "Send this prompt to several models or settings side by side (Ctrl+Shift+Enter)"
        )
        self.compare_button.clicked.connect(self.request_compare)
        self.stop_button = push_button("Stop", self)
        self.stop_button.setAccessibleName("Stop generating")
        self.stop_button.setToolTip("Stop (Esc)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.hide()
        buttons.addWidget(self.attach_button)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        outer.addLayout(row)
        self.set_send_key("enter")
        self._dialog: QFileDialog | None = None
        theme.notifier().changed.connect(self._on_theme_changed)
        self._fit_height()

    def _on_theme_changed(self, _dark: bool) -> None:
        theme.retint_tree(self)

    def _fit_height(self) -> None:
        """Grow with the text from three lines up to about ten, then scroll."""
        line = self.edit.fontMetrics().lineSpacing()
        lines = max(3, min(10, self.edit.document().size().height()))
        margins = self.edit.contentsMargins()
        chrome = 2 * int(self.edit.document().documentMargin()) + margins.top() + margins.bottom()
        self.edit.setFixedHeight(int(lines * line) + chrome + 2)

    # --- send key --------------------------------------------------------------------------

    @property
    def send_key(self) -> str:
        return self.edit.send_key

    @send_key.setter
    def send_key(self, value: str) -> None:
        self.set_send_key(value)

    def set_send_key(self, value: str) -> None:
        """Which key sends: "enter" (Shift+Enter = newline) or "ctrl_enter" (Enter = newline)."""
        if value not in SEND_KEYS:
            raise ValueError(f"Unknown send key {value!r}: use 'enter' or 'ctrl_enter'.")
        self.edit.send_key = value
        hint = "Enter to send, Shift+Enter for a new line"
        if value == "ctrl_enter":
            hint = "Ctrl+Enter to send, Enter for a new line"
        self.edit.setPlaceholderText(f"Type a message… ({hint})")

    # --- sending ---------------------------------------------------------------------------

    def _on_send_key(self) -> None:
        if not self._streaming:
            self.request_send()

    def request_send(self) -> None:
        text = self.edit.toPlainText()
        if not text.strip() and not self._attachments and not self._text_files:
            return
        if self._text_files:
            from parley.core.chat.attachments import inline_text_files

            text = inline_text_files(text, self._text_files)
        self.send_requested.emit(text, list(self._attachments))

    def text_files(self) -> list[TextFile]:
        return list(self._text_files)

    def add_text_file(self, file: TextFile) -> None:
        self._text_files.append(file)
        chip = AttachmentChip(file, self)
        chip.remove_requested.connect(self._remove_chip)
        self._chips.insertWidget(self._chips.count() - 2, chip)  # before the stretch
        self.attachments_changed.emit()

    def request_compare(self) -> None:
        """The prompt (attached text files inlined, as a send does) to the Lab's panes."""
        text = self.edit.toPlainText()
        if not text.strip() and not self._text_files:
            return
        if self._text_files:
            from parley.core.chat.attachments import inline_text_files

            text = inline_text_files(text, self._text_files)
        self.compare_requested.emit(text, list(self._attachments))

    def clear_after_send(self) -> None:
        """The window accepted the send: empty the field and the attachments."""
        self.edit.clear()
        self.clear_attachments()
        self.notice.hide()

    def set_streaming(self, streaming: bool) -> None:
        self._streaming = streaming
        self.stop_button.setVisible(streaming)
        self.send_button.setVisible(not streaming)

    def is_streaming(self) -> bool:
        return self._streaming

    def _on_escape(self) -> None:
        if self._streaming:
            self.stop_requested.emit()

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() == QtCore.Qt.Key.Key_Escape and self._streaming:
            self.stop_requested.emit()
            return
        super().keyPressEvent(e)

    # --- drafts ----------------------------------------------------------------------------

    def draft(self) -> str:
        return self.edit.toPlainText()

    def set_draft(self, text: str) -> None:
        self.edit.setPlainText(text)
        self.edit.moveCursor(self.edit.textCursor().MoveOperation.End)

    def focus_input(self) -> None:
        self.edit.setFocus()

    # --- attachments -----------------------------------------------------------------------

    def attachments(self) -> list[ImagePart]:
        return list(self._attachments)

    def pending(self) -> list[ImagePart | TextFile]:
        """Everything attached and not sent yet (images and text files), kept with a chat."""
        return [*self._attachments, *self._text_files]

    def set_attachments(self, parts: Sequence[ImagePart | TextFile]) -> None:
        self.clear_attachments()
        if not parts:
            return
        from parley.core.protocol.request import ImagePart

        for p in parts:
            if isinstance(p, ImagePart):
                self.add_attachment(p)
            else:
                self.add_text_file(p)

    def add_attachment(self, part: ImagePart) -> None:
        self._attachments.append(part)
        chip = AttachmentChip(part, self)
        chip.remove_requested.connect(self._remove_chip)
        self._chips.insertWidget(self._chips.count() - 2, chip)  # before the stretch
        self.attachments_changed.emit()

    def _remove_chip(self, chip: AttachmentChip) -> None:
        if chip.part in self._text_files:
            self._text_files.remove(chip.part)
        elif chip.part in self._attachments:
            self._attachments.remove(chip.part)
        chip.hide()
        chip.deleteLater()
        self.attachments_changed.emit()
        self.edit.setFocus()

    def clear_attachments(self) -> None:
        for i in reversed(range(self._chips.count())):
            item = self._chips.itemAt(i)
            w = item.widget() if item is not None else None
            if isinstance(w, AttachmentChip):
                w.hide()
                w.deleteLater()
        self._attachments = []
        self._text_files = []
        self.attachments_changed.emit()

    def set_images_allowed(self, allowed: bool, reason: str = "") -> None:
        """Whether the current model takes images; `reason` is shown when one is refused."""
        self._images_refused = "" if allowed else (reason or "This model does not take images.")
        # Text files can always be attached: the button stays, only images are refused.
        self.attach_button.setToolTip(
            "Attach images or text files (or paste / drop them)"
            if allowed
            else f"Attach text files. {self._images_refused}"
        )

    def _refuse_images(self) -> bool:
        if self._images_refused:
            self.notice.setText(self._images_refused)
            self.notice.show()
            return True
        return False

    def _on_images_pasted(self, images: list[QImage]) -> None:
        if self._refuse_images():
            return
        for image in images:
            self._pasted += 1
            self.add_attachment(image_part_from_qimage(image, f"pasted-{self._pasted}.png"))

    def add_files(self, paths: list[str]) -> None:
        """Attach files: images as images, anything else as text (inlined when sent)."""
        images = [p for p in paths if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        problems: list[str] = []
        for raw in paths:
            if raw in images:
                continue
            from parley.core.chat.attachments import AttachmentError, read_text_file

            try:
                self.add_text_file(read_text_file(raw))
            except AttachmentError as err:
                problems.append(str(err))
        if images:
            self.add_image_files(images)
            if problems:
                self.notice.setText(" ".join([self.notice.text(), *problems]).strip())
                self.notice.show()
            return
        self.notice.setText(" ".join(problems))
        self.notice.setVisible(bool(problems))

    def add_image_files(self, paths: list[str]) -> None:
        if self._refuse_images():
            return
        problems: list[str] = []
        for raw in paths:
            path = Path(raw)
            try:
                size = path.stat().st_size
                if size > MAX_IMAGE_BYTES:
                    problems.append(
                        f"{path.name} is {size / 1048576:.0f} MB; images up to "
                        f"{MAX_IMAGE_BYTES // 1048576} MB can be attached."
                    )
                    continue
                data = path.read_bytes()
            except OSError as exc:
                problems.append(f"Could not read {path.name}: {exc.strerror or exc}.")
                continue
            import mimetypes

            mime = mimetypes.guess_type(path.name)[0] or ""
            if not mime.startswith("image/") or _unreadable_image(data):
                problems.append(f"{path.name} is not an image Parley can read.")
                continue
            from parley.core.protocol.request import ImagePart

            self.add_attachment(
                ImagePart(mime=mime, data=base64.b64encode(data).decode("ascii"), name=path.name)
            )
        self.notice.setText(" ".join(problems))
        self.notice.setVisible(bool(problems))

    def open_file_dialog(self) -> QFileDialog:
        """Non-blocking (open(), never exec()): safe inside the asyncio loop."""
        from PySide6.QtWidgets import QFileDialog

        dlg = QFileDialog(self, "Attach files")
        dlg.setFileMode(QFileDialog.FileMode.ExistingFiles)
        images = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        dlg.setNameFilters(
            [
                f"Images and text files ({images} *.txt *.md *.csv *.json *.py *.log)",
                f"Images ({images})",
                "All files: text is attached as text (*)",
            ]
        )
        dlg.filesSelected.connect(self.add_files)
        dlg.finished.connect(dlg.deleteLater)
        self._dialog = dlg
        dlg.open()
        return dlg

    # --- drag and drop onto the whole composer ---------------------------------------------

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:
        md = e.mimeData()
        if md.hasImage() or _image_paths(md):
            e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent) -> None:
        md = e.mimeData()
        paths = _image_paths(md)
        if paths:
            self.add_image_files(paths)
        elif md.hasImage():
            from PySide6.QtGui import QImage

            self._on_images_pasted([QImage(md.imageData())])
        e.acceptProposedAction()

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import base64
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QColor, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QFileDialog
from pytestqt.qtbot import QtBot

from parley.core.protocol.request import ImagePart
from parley.ui.composer import AttachmentChip, Composer

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def composer(qtbot: QtBot) -> Composer:
    c = Composer()
    qtbot.addWidget(c)
    c.resize(600, 200)
    c.show()
    c.focus_input()
    return c


def _type(qtbot: QtBot, c: Composer, text: str) -> None:
    qtbot.keyClicks(c.edit, text)


def test_enter_sends_and_keeps_the_text_until_confirmed(qtbot: QtBot, composer: Composer) -> None:
    _type(qtbot, composer, "hello")
    with qtbot.waitSignal(composer.send_requested) as sig:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert sig.args == ["hello", []]
    assert composer.draft() == "hello"  # a failed send loses nothing
    composer.clear_after_send()
    assert composer.draft() == ""


def test_shift_enter_inserts_a_newline(qtbot: QtBot, composer: Composer) -> None:
    _type(qtbot, composer, "a")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return, SHIFT)
    _type(qtbot, composer, "b")
    assert composer.draft() == "a\nb"


def test_ctrl_enter_always_sends(qtbot: QtBot, composer: Composer) -> None:
    _type(qtbot, composer, "x")
    with qtbot.waitSignal(composer.send_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return, CTRL)


def test_ctrl_enter_mode_enter_is_newline(qtbot: QtBot, composer: Composer) -> None:
    composer.send_key = "ctrl_enter"
    assert "Ctrl+Enter to send" in composer.edit.placeholderText()
    _type(qtbot, composer, "line1")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
        qtbot.keyClick(composer.edit, Qt.Key.Key_Enter)  # keypad Enter too
    _type(qtbot, composer, "line2")
    with qtbot.waitSignal(composer.send_requested) as sig:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return, CTRL)
    assert sig.args[0] == "line1\n\nline2"


def test_unknown_send_key_is_refused(composer: Composer) -> None:
    with pytest.raises(ValueError, match="enter"):
        composer.send_key = "alt_enter"


def test_empty_prompt_does_not_send(qtbot: QtBot, composer: Composer) -> None:
    _type(qtbot, composer, "   ")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
        qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)


def test_send_button_sends(qtbot: QtBot, composer: Composer) -> None:
    composer.set_draft("by button")
    with qtbot.waitSignal(composer.send_requested) as sig:
        qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert sig.args[0] == "by button"


def test_streaming_shows_stop_and_escape_stops(qtbot: QtBot, composer: Composer) -> None:
    with qtbot.assertNotEmitted(composer.stop_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Escape)
    composer.set_streaming(True)
    assert composer.stop_button.isVisible() and not composer.send_button.isVisible()
    _type(qtbot, composer, "next question")
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    with qtbot.waitSignal(composer.stop_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Escape)
    with qtbot.waitSignal(composer.stop_requested):
        qtbot.mouseClick(composer.stop_button, Qt.MouseButton.LeftButton)
    composer.set_streaming(False)
    assert composer.send_button.isVisible() and not composer.stop_button.isVisible()
    assert composer.draft() == "next question"


def test_draft_round_trip(composer: Composer) -> None:
    composer.set_draft("half-written\nthought")
    assert composer.draft() == "half-written\nthought"
    composer.set_draft("")
    assert composer.draft() == ""


def _png_image(w: int = 20, h: int = 10) -> QImage:
    img = QImage(w, h, QImage.Format.Format_RGB32)
    img.fill(QColor("#2a7"))
    return img


def test_paste_image_becomes_a_png_attachment(qtbot: QtBot, composer: Composer) -> None:
    QGuiApplication.clipboard().setImage(_png_image())
    composer.edit.paste()
    parts = composer.attachments()
    assert len(parts) == 1
    part = parts[0]
    assert isinstance(part, ImagePart) and part.mime == "image/png"
    assert part.name == "pasted-1.png" and part.data is not None
    raw = base64.b64decode(part.data)
    assert raw.startswith(b"\x89PNG")
    back = QImage.fromData(raw)
    assert (back.width(), back.height()) == (20, 10)
    assert composer.draft() == ""  # the image did not turn into text
    _type(qtbot, composer, "what is this?")
    with qtbot.waitSignal(composer.send_requested) as sig:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert sig.args == ["what is this?", [part]]
    composer.clear_after_send()
    assert composer.attachments() == []


def test_dropped_image_files_attach_and_bad_files_explain(
    qtbot: QtBot, composer: Composer, tmp_path: Path
) -> None:
    good = tmp_path / "photo.png"
    assert _png_image(8, 8).save(str(good), "PNG")
    bad = tmp_path / "notes.png"
    bad.write_text("not really an image")
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(good)), QUrl.fromLocalFile(str(bad))])
    assert composer.edit.canInsertFromMimeData(md)
    composer.edit.insertFromMimeData(md)
    parts = composer.attachments()
    assert [p.name for p in parts] == ["photo.png"]
    assert base64.b64decode(parts[0].data or "") == good.read_bytes()
    assert composer.notice.isVisible()
    assert "notes.png is not an image" in composer.notice.text()


def test_attachment_chip_can_be_removed(qtbot: QtBot, composer: Composer) -> None:
    composer.add_attachment(ImagePart(mime="image/png", data="", name="a.png"))
    composer.add_attachment(ImagePart(mime="image/png", data="", name="b.png"))
    chips = composer.findChildren(AttachmentChip)
    assert len(chips) == 2
    first = next(c for c in chips if c.part.name == "a.png")
    qtbot.mouseClick(first.remove_button, Qt.MouseButton.LeftButton)
    assert [p.name for p in composer.attachments()] == ["b.png"]


def test_attach_button_opens_a_non_modal_dialog(qtbot: QtBot, composer: Composer) -> None:
    dlg = composer.open_file_dialog()
    assert isinstance(dlg, QFileDialog)
    assert dlg.isVisible() and dlg.fileMode() == QFileDialog.FileMode.ExistingFiles
    dlg.reject()


def test_typing_paths_into_the_attach_dialog_attaches_images_and_text_files(
    qtbot: QtBot, composer: Composer, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QLineEdit  # the dialog's own field

    picture = QImage(8, 8, QImage.Format.Format_RGB32)
    picture.fill(QColor("red"))
    picture.save(str(tmp_path / "red.png"))
    (tmp_path / "notes.txt").write_text("line one\nline two\n")
    for count, name in enumerate(("red.png", "notes.txt"), start=1):
        dlg = composer.open_file_dialog()
        edit = dlg.findChild(QLineEdit, "fileNameEdit")
        assert edit is not None
        # Typed at a person's pace (the dialog completes paths as they are typed).
        QTest.keyClicks(edit, str(tmp_path / name), Qt.KeyboardModifier.NoModifier, 20)
        QTest.keyClick(edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda n=count: len(composer.attachments() + composer.text_files()) == n)
    assert [a.name for a in composer.attachments()] == ["red.png"]
    assert [f.name for f in composer.text_files()] == ["notes.txt"]
    with qtbot.waitSignal(composer.send_requested) as sent:
        composer.set_draft("Summarise")
        composer.request_send()
    text, images = sent.args
    assert text == "Summarise\n\nnotes.txt:\n```\nline one\nline two\n```" and len(images) == 1


def test_a_file_that_is_not_text_says_why(composer: Composer, tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
    composer.add_files([str(tmp_path / "blob.bin")])
    assert composer.text_files() == [] and composer.attachments() == []
    assert composer.notice.isVisible() and "blob.bin is not a text file" in composer.notice.text()


def test_every_control_has_an_accessible_name(composer: Composer) -> None:
    composer.add_attachment(ImagePart(mime="image/png", data="", name="a.png"))
    controls = [composer.edit, *composer.findChildren(QAbstractButton)]
    assert len(controls) >= 5
    for w in controls:
        assert w.accessibleName(), w
        assert w.focusPolicy() != Qt.FocusPolicy.NoFocus, w


def test_images_refused_when_the_model_takes_none(qtbot: QtBot, composer: Composer) -> None:
    composer.set_images_allowed(False, "gpt-x does not take images.")
    assert composer.attach_button.isEnabled()  # text files still can be attached
    assert "gpt-x does not take images." in composer.attach_button.toolTip()
    QGuiApplication.clipboard().setImage(_png_image())
    composer.edit.paste()
    assert composer.attachments() == []
    assert composer.notice.isVisible() and composer.notice.text() == "gpt-x does not take images."
    composer.set_images_allowed(True)
    composer.edit.paste()
    assert len(composer.attachments()) == 1

"""About Parley: the components with versions and licence texts; reached from Settings."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from parley import __version__
from parley.core.app.licences import Component, components, load_index
from parley.core.app.settings import Settings
from parley.ui.about_dialog import AboutDialog
from parley.ui.settings_dialog import SettingsDialog


def _rows(dialog: AboutDialog) -> dict[str, tuple[str, str]]:
    table = dialog.table
    return {
        table.topLevelItem(i).text(0): (
            table.topLevelItem(i).text(1),
            table.topLevelItem(i).text(2),
        )
        for i in range(table.topLevelItemCount())
    }


def test_lists_what_parley_runs_on_with_versions_and_texts(qtbot: QtBot) -> None:
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    rows = _rows(dialog)
    assert rows["Parley"] == (__version__, "MIT")
    assert rows["PySide6_Essentials"][0] == metadata.version("PySide6_Essentials")
    assert rows["httpx"] == (metadata.version("httpx"), "BSD-3-Clause")
    assert "Python" in rows and "keyring" in rows and "cryptography" in rows
    # Test and build tools are not part of the app.
    assert not {"pytest", "mypy", "ruff", "pyinstaller", "click", "rich"} & set(rows)

    dialog.select("Parley")
    assert "Permission is hereby granted" in dialog.text.toPlainText()
    dialog.select("PySide6_Essentials")
    text = dialog.text.toPlainText()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Source code" in text
    dialog.select("httpx")
    assert "Copyright" in dialog.text.toPlainText()


def test_every_listed_component_has_a_licence_text() -> None:
    missing = [c.name for c in components() if not c.files]
    assert missing == []


def test_reads_a_builds_index(tmp_path: Path, qtbot: QtBot) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "LICENSE").write_text("The X licence.")
    (tmp_path / "index.json").write_text(
        '[{"name": "x", "version": "1.2", "licence": "MIT", "files": ["x/LICENSE"], "note": ""},'
        ' {"name": "gone", "version": "3", "licence": "BSD", "files": ["gone/COPYING"]}]'
    )
    parts = load_index(tmp_path)
    assert parts[0] == Component("x", "1.2", "MIT", (tmp_path / "x" / "LICENSE",))
    dialog = AboutDialog(parts=parts)
    qtbot.addWidget(dialog)
    assert "The X licence." in dialog.text.toPlainText()
    dialog.select("gone")
    assert "could not be read" in dialog.text.toPlainText()


def test_settings_open_about_and_keep_an_unanswered_update_question(qtbot: QtBot) -> None:
    settings = Settings()
    dialog = SettingsDialog(settings, save_settings=None)
    qtbot.addWidget(dialog)
    assert not dialog.update_check.isChecked()
    qtbot.mouseClick(dialog.about_button, Qt.MouseButton.LeftButton)
    assert dialog.about is not None and dialog.about.isVisible()
    assert dialog.apply() and settings.update_check is None  # not answered by saving
    dialog.update_check.setChecked(True)
    assert dialog.apply() and settings.update_check is True
    dialog.update_check.setChecked(False)
    assert dialog.apply() and settings.update_check is False

"""`parley import`, run as a real process while the window is open, shows in the window's
sidebar: the window notices another process's commits (SQLite's data_version) while active."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from parley.core.store.export import export_json_text
from parley.ui.mainwindow import Services
from tests.ui.conftest import chat, close, opened, wait_for


def test_a_conversation_imported_by_the_command_line_appears_in_the_open_window(
    qapp: QApplication, arun: Any, services: Services, tmp_path: Path
) -> None:
    async def scenario() -> None:
        window = await opened(qapp, services)
        try:
            window.show()
            window.activateWindow()
            await wait_for(window.isActiveWindow, what="the window to be active")
            await chat(window, "Remember the harbour")
            assert window.conversation_id is not None
            exported = tmp_path / "conv.json"
            exported.write_text(export_json_text(window.store, window.conversation_id))
            assert window.store.data_version() is not None
            before = window.sidebar.titles()
            assert len(before) == 1
            proc = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "parley", "import", str(exported)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 0, proc.stderr
            await wait_for(
                lambda: len(window.sidebar.titles()) == 2, timeout=15, what="the imported chat"
            )
            assert window.sidebar.titles().count(before[0]) == 2
            # Its own writes do not make the window list the history again.
            assert not window.history.check_external_changes()
        finally:
            await close(window)

    arun(scenario())

"""What is attached and not sent yet stays with its chat, text files as well as images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from parley.core.protocol.request import ImagePart
from parley.ui.mainwindow import Services
from tests.helpers.emulator import Emulator
from tests.ui.conftest import chat, close, opened


def test_attached_files_stay_with_their_chat_until_sent(
    qapp: QApplication, arun: Any, services: Services, emu: Emulator, tmp_path: Path
) -> None:
    store = services.store
    a = store.create_conversation(title="A")
    store.add_message(a, None, "user", "hi")
    b = store.create_conversation(title="B")
    store.add_message(b, None, "user", "hi")
    (tmp_path / "notes.txt").write_text("line one\n")

    async def scenario() -> None:
        window = await opened(qapp, services)
        composer = window.composer
        try:
            window.open_conversation(a)
            composer.add_files([str(tmp_path / "notes.txt")])
            composer.add_attachment(ImagePart(mime="image/png", data="", name="a.png"))
            window.open_conversation(b)
            assert composer.text_files() == [] and composer.attachments() == []
            window.open_conversation(a)
            assert [f.name for f in composer.text_files()] == ["notes.txt"]
            assert [p.name for p in composer.attachments()] == ["a.png"]
            composer.clear_attachments()
            composer.add_files([str(tmp_path / "notes.txt")])
            await chat(window, "Summarise")
            sent = emu.chat_requests("euri")[-1].json["messages"][-1]["content"]
            assert "notes.txt:" in sent and "line one" in sent
            window.open_conversation(b)
            window.open_conversation(a)
            assert composer.text_files() == []  # sent: not attached again
        finally:
            await close(window)

    arun(scenario())

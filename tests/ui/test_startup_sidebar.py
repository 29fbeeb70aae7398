"""A long history: the window is built with the first page of conversations (pinned first,
then the most recent, as the full list starts) and lists the rest once it has painted."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from parley.core.app.settings import Settings
from parley.core.providers.catalog import load_catalog
from parley.core.store import Store
from parley.ui.mainwindow import SIDEBAR_FIRST_PAGE, MainWindow, Services
from tests.ui.conftest import wait_for


def test_the_sidebar_lists_a_first_page_then_the_rest(qapp: QApplication, arun: Any) -> None:
    store = Store.open()
    total = SIDEBAR_FIRST_PAGE + 25
    ids = [store.create_conversation(title=f"chat {i}") for i in range(total)]
    store.set_pinned(ids[0], True)  # the oldest, pinned: still at the top of the first page
    services = Services(load_catalog(), Settings(first_run_done=True), store)

    async def scenario() -> None:
        window = MainWindow(services)
        try:
            titles = window.sidebar.titles()
            assert len(titles) == SIDEBAR_FIRST_PAGE
            assert titles[0] == "📌 chat 0"
            window.show()
            await wait_for(lambda: len(window.sidebar.titles()) == total, what="the full list")
            full = window.sidebar.titles()
            assert full[:SIDEBAR_FIRST_PAGE] == titles
            assert set(full) == {"📌 chat 0"} | {f"chat {i}" for i in range(1, total)}
        finally:
            window.close()
            await window.shutdown()

    arun(scenario())

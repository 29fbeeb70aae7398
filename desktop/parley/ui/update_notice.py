"""The update notice in the window's banner: asked once, then (if allowed) a quiet check at start.

`start(window)` runs when the window has started. Nothing happens in a source checkout (no
manifest URL, see parley.core.app.updates.manifest_url) or for a new user still in the first-run
guide. An unanswered question is asked in the banner; a "yes" checks at each start and shows
"Parley X is available" with a link only when a signed, newer manifest arrives. Parley never
downloads or installs anything by itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from parley import __version__
from parley.core.app.updates import PUBLIC_KEY, Release, manifest_url

if TYPE_CHECKING:
    from parley.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)

QUESTION = (
    "Should Parley look for new versions when it starts? It would fetch a small signed file "
    "from the project's release page; nothing is downloaded or installed by itself. You can "
    "change this in Settings."
)
YES, NO = "Look for new versions", "Don't look"
OPEN = "Open the download page"


def start(window: MainWindow, public_key: bytes = PUBLIC_KEY) -> None:
    url = manifest_url()
    settings = window.settings
    if url is None or not settings.first_run_done:
        return
    if settings.update_check is None:
        if not window.banner.isVisible():  # never hide another message behind this question
            window.banner.show_message(
                QUESTION,
                [
                    (YES, lambda: _answer(window, True, public_key)),
                    (NO, lambda: _answer(window, False, public_key)),
                ],
            )
    elif settings.update_check:
        window.tasks.spawn(_check(window, url, public_key), name="parley:update-check")


def _answer(window: MainWindow, allowed: bool, public_key: bytes) -> None:
    window.settings.update_check = allowed
    try:
        window.services.save_settings(window.settings)
    except OSError as exc:
        log.warning("the update-check answer could not be saved: %s", exc)
    if allowed:
        start(window, public_key)


async def _check(window: MainWindow, url: str, public_key: bytes) -> None:
    from parley.net.updates import check_for_update

    release = await check_for_update(url, public_key=public_key, proxy=window.settings.proxy)
    if release is not None and not window.banner.isVisible():
        show(window, release)


def show(window: MainWindow, release: Release) -> None:
    window.banner.show_message(
        f"Parley {release.version} is available (this is {__version__}).",
        [(OPEN, lambda: QDesktopServices.openUrl(QUrl(release.url)))],
    )

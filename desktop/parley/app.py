"""The window's entry point: `parley` (no subcommand) and `parley --self-test`.

Start-up order matters (DESIGN.md): the QApplication exists before the qasync loop, the loop runs
under `asyncio.Runner`, and the app never quits on its own when the last window closes. Closing the
window resolves a future; the coroutine then shuts down in order (stop streams and save their
partial answers, close the HTTP client, close the store) and `main` returns.

Qt is imported inside `main` only, so importing this module (or `parley.cli`) stays Qt-free.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from parley.ui.mainwindow import MainWindow


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="parley", add_help=True)
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="start the real window, check providers, settings and the keyring, print one line",
    )
    parser.add_argument(
        "--self-test-timeout",
        type=float,
        default=30.0,
        help=argparse.SUPPRESS,
    )
    # Anything else (e.g. -platform offscreen) is Qt's.
    return parser.parse_known_args(argv)


def _display_problem() -> str | None:
    """On Linux without a display Qt aborts the process; say why in words instead."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset). "
        "Start Parley from a desktop session, or set QT_QPA_PLATFORM=offscreen for a headless "
        "check."
    )


def _process_started_at() -> float:
    """When this process started, on the `time.perf_counter()` clock (Linux: from /proc, so the
    interpreter's own start-up counts; elsewhere: now)."""
    now = time.perf_counter()
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return now
    return now - age if 0 <= age < 600 else now


def _import_core() -> None:
    """Import the Qt-free modules the window needs before PySide6: once imported, PySide6 reads
    the source of every module imported after it (its `__feature__` import hook), which made
    these imports (pydantic and the models among them) noticeably slower after it."""
    import parley.core.modellist
    import parley.core.settings
    import parley.core.store
    import parley.core.wire  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Open the window (or run the self-test); return the process exit code."""
    t0 = _process_started_at()
    args, qt_args = _parse(sys.argv[1:] if argv is None else list(argv))
    if (problem := _display_problem()) is not None:
        if args.self_test:
            print(f"self-test FAILED: {problem}", flush=True)
        else:
            print(f"parley: {problem}", file=sys.stderr, flush=True)
        return 1

    _import_core()
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts, True)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["parley", *qt_args])
    app.setApplicationName("Parley")
    app.setOrganizationName("Parley")
    app.setApplicationDisplayName("Parley")
    app.setDesktopFileName("parley")
    app.setQuitOnLastWindowClosed(False)
    from parley.core.catalog import builtin_providers_dir

    icon = builtin_providers_dir().parent / "icons" / "png" / "parley-256.png"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    from parley.ui.gc_guard import MainThreadCollector

    MainThreadCollector(app).start()  # no garbage collection from worker threads (see there)

    with asyncio.Runner(loop_factory=lambda: QEventLoop(app)) as runner:
        if args.self_test:
            return runner.run(_self_test(app, t0, args.self_test_timeout))
        return runner.run(_run_window(app))


async def _run_window(app: QApplication) -> int:
    from parley.ui.mainwindow import open_main_window
    from parley.ui.tasks import asyncgen_hooks

    with asyncgen_hooks(asyncio.get_running_loop()):
        window = await open_main_window(app)
        try:
            await window.wait_closed()
        finally:
            await window.shutdown()
        await asyncio.get_running_loop().shutdown_asyncgens()
    return 0


async def _wait_idle() -> None:
    """Return once Qt has gone through its queued events (show, layout, paint) a few times.

    A zero-time QTimer fires only after the events already posted are handled, so each round
    trip means the queue ahead of it was drained. Never `processEvents()` inside a coroutine:
    qasync would run other tasks re-entrantly.
    """
    from PySide6.QtCore import QTimer

    loop = asyncio.get_running_loop()
    for _ in range(3):
        done: asyncio.Future[None] = loop.create_future()
        QTimer.singleShot(0, lambda f=done: f.done() or f.set_result(None))
        await done


async def _self_test(app: QApplication, t0: float, timeout: float) -> int:
    from parley.ui.tasks import asyncgen_hooks

    with asyncgen_hooks(asyncio.get_running_loop()):
        return await _self_test_in_loop(app, t0, timeout)


async def _self_test_in_loop(app: QApplication, t0: float, timeout: float) -> int:
    from parley.ui.mainwindow import open_main_window

    window: MainWindow | None = None
    try:
        async with asyncio.timeout(timeout):
            window = await open_main_window(app, first_run=False)
            while not window.isVisible():
                await asyncio.sleep(0.005)
            await window.wait_started()
            await _wait_idle()
            ready_ms = (time.perf_counter() - t0) * 1000
            report = window.self_test_report()
    except TimeoutError:
        print(f"self-test FAILED: the window was not ready within {timeout:.0f} s", flush=True)
        return 1
    except Exception as exc:  # the point of a self-test: say what broke, never a traceback only
        print(f"self-test FAILED: {type(exc).__name__}: {exc}", flush=True)
        return 1
    finally:
        if window is not None:
            await window.shutdown()

    problems = report.problems
    if report.providers == 0:
        reason = "; ".join(problems) or "no provider files found"
        print(f"self-test FAILED: no providers could be loaded ({reason})", flush=True)
        return 1
    if report.fatal:
        print(f"self-test FAILED: {report.fatal}", flush=True)
        return 1
    line = (
        f"self-test ok: ready in {ready_ms:.0f} ms; keyring: {report.keyring}; "
        f"providers: {report.providers}"
    )
    if problems:
        line += f"; problems: {len(problems)} ({'; '.join(problems)})"
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

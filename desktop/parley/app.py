"""The window's entry point: `parley` (no subcommand) and `parley --self-test`.

Start-up is in two phases (see `parley.ui.boot` for the whole story). First a plain Qt loop runs
the first frame, which is shown before anything heavy is imported (no asyncio, pydantic or httpx
on that path: the window is measured against a bare PySide6 window) while a worker thread loads the
rest. Then, as DESIGN.md has it, the qasync loop runs under `asyncio.Runner`, the full window takes
over the frame, and the app never quits on its own when the last window closes: closing the window
resolves a future, the coroutine shuts down in order (stop streams and save their partial answers,
close the HTTP client, close the store) and `main` returns.

Qt is imported inside `main` only, so importing this module (or `parley.cli`) stays Qt-free.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import TYPE_CHECKING

from parley import APP_ID

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from parley.ui.boot import BootWindow
    from parley.ui.mainwindow import MainWindow, Services

USAGE = """usage: parley [--self-test] [Qt options]

Opens the Parley window. --self-test starts the real window, checks providers, settings and the
keyring, prints one line and exits. `parley --help` lists the scripting commands."""


class Options:
    def __init__(self) -> None:
        self.self_test = False
        self.self_test_timeout = 30.0
        self.startup_marks = False  # print "interactive" and "ready" as they happen (benchmarks)
        self.open_experiment: str | None = None  # `parley FILE.toml`: shown in the Lab
        self.qt_args: list[str] = []


def _parse(argv: list[str]) -> Options:
    """The window's own flags; anything else (e.g. -platform offscreen) is Qt's. Hand-parsed:
    argparse would be one more import before the window shows."""
    opts = Options()
    args = iter(argv)
    for arg in args:
        if arg == "--self-test":
            opts.self_test = True
        elif arg == "--startup-marks":
            opts.startup_marks = True
        elif arg.startswith("--open-experiment="):
            opts.open_experiment = arg.partition("=")[2]
        elif arg.startswith("--self-test-timeout"):
            value = arg.partition("=")[2] or next(args, "")
            try:
                opts.self_test_timeout = float(value)
            except ValueError:
                raise SystemExit(
                    f"parley: --self-test-timeout needs seconds, not {value!r}"
                ) from None
        else:
            opts.qt_args.append(arg)
    return opts


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


def main(argv: list[str] | None = None) -> int:
    """Open the window (or run the self-test); return the process exit code."""
    t0 = _process_started_at()
    # No cyclic collection until the GUI thread's collector runs it (parley.ui.gc_guard, started
    # below): start-up allocates a lot (PySide's classes and enums) and frees little.
    gc.disable()
    opts = _parse(sys.argv[1:] if argv is None else list(argv))
    if (problem := _display_problem()) is not None:
        if opts.self_test:
            print(f"self-test FAILED: {problem}", flush=True)
        else:
            print(f"parley: {problem}", file=sys.stderr, flush=True)
        return 1

    # What the first frame shows, read before Qt is imported: PySide's import hook reads the
    # source of every module imported after it (to look for its __feature__ switches).
    from parley.core.app.bootstate import read_boot_state

    state = read_boot_state()

    # Not `Qt` itself before the first frame: see parley.ui.lightqt.
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        # Fusion, set here rather than by `theme` (which would make PySide build its QStyle
        # class, ~20 ms, before the first frame); a -style of the user's comes later and wins.
        app = QApplication(["parley", "-style", "Fusion", *opts.qt_args])
        app.setProperty("parleyStyleSet", True)
    app.setApplicationName("Parley")
    app.setOrganizationName("Parley")
    app.setApplicationDisplayName("Parley")
    app.setDesktopFileName(APP_ID)
    app.setQuitOnLastWindowClosed(False)
    from parley.ui.gc_guard import MainThreadCollector

    MainThreadCollector(app).start()  # no garbage collection from worker threads (see there)

    # Phase 1: the first frame, on a plain Qt loop, while the rest loads in a worker thread.
    from parley.ui.boot import BootWindow, apply_boot_look

    apply_boot_look(app, state)
    frame = BootWindow(state)
    # Wide enough for the full window's top bar (its pickers fit the longest provider name), so
    # the window does not grow when the full window takes over.
    frame.resize(1320, 820)
    frame.present()
    if opts.startup_marks:
        from parley.ui.boot import StallMeter

        meter = StallMeter(frame)
        frame.when_interactive(lambda: print("interactive", flush=True))
        frame.when_interactive(meter.start)
        frame.when_loaded(lambda: print(f"loading stall max: {meter.stop():.1f}", flush=True))
    frame.when_interactive(lambda: _set_window_icon(app))
    frame.when_interactive(frame.start_loading)
    frame.when_loaded(app.exit)
    deadline = QTimer()
    if opts.self_test:
        deadline.setSingleShot(True)
        deadline.timeout.connect(app.exit)
        deadline.start(int(opts.self_test_timeout * 1000))
    app.exec()
    deadline.stop()

    services = frame.services
    if services is None:
        reason = (
            f"{type(frame.load_error).__name__}: {frame.load_error}"
            if frame.load_error is not None
            else f"the window was not ready within {opts.self_test_timeout:.0f} s"
        )
        if opts.self_test:
            print(f"self-test FAILED: {reason}", flush=True)
        else:
            print(f"parley: could not finish starting: {reason}", file=sys.stderr, flush=True)
            if not frame.close_requested:
                # The frame says what went wrong and keeps what was typed, until it is closed.
                app.setQuitOnLastWindowClosed(True)
                app.exec()
        return 1
    if frame.close_requested:
        services.store.close()
        return 0

    # Phase 2: the asyncio loop, and the full window in the frame.
    import asyncio

    from qasync import QEventLoop

    with asyncio.Runner(loop_factory=lambda: QEventLoop(app)) as runner:
        if opts.self_test:
            return runner.run(_self_test(frame, services, t0, opts))
        return runner.run(_run_window(frame, services, opts))


def _set_window_icon(app: QApplication) -> None:
    """After the first frame (the window manager picks the icon up when it changes)."""
    from parley.core.app.paths import resources_dir

    icon = resources_dir() / "icons" / "png" / "parley-256.png"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))


async def _run_window(frame: BootWindow, services: Services, opts: Options) -> int:
    import asyncio

    from PySide6.QtCore import QTimer

    from parley.ui.mainwindow import STARTUP_FALLBACK_MS
    from parley.ui.tasks import asyncgen_hooks

    loop = asyncio.get_running_loop()
    with asyncgen_hooks(loop):
        window = frame.take_over(services)
        # The engine and the key store (httpx, keyring) are made once the full window has
        # painted (see MainWindow.paintEvent); this is for a window that is not painted.
        QTimer.singleShot(STARTUP_FALLBACK_MS, window.finish_startup)
        if opts.open_experiment:
            path = opts.open_experiment
            QTimer.singleShot(0, lambda: _open_experiment(window, path))
        elif not services.settings.first_run_done:
            QTimer.singleShot(0, window.open_first_run)
        try:
            await window.wait_started()
            from parley.ui.gc_guard import freeze_start_up

            freeze_start_up()
            if opts.startup_marks:
                await _wait_idle()
                print("ready", flush=True)
            await window.wait_closed()
        finally:
            await window.shutdown()
        await loop.shutdown_asyncgens()
    return 0


def _open_experiment(window: MainWindow, path: str) -> str:
    """`parley FILE.toml`: the file in the Lab; what went wrong also on stderr (a terminal's
    user sees it there, a file manager's in the Lab). Returns the Lab's one-line summary."""
    if window.open_experiment_file(path):
        return window.lab.summary()
    problem = window.lab.message.text()
    print(f"parley: {problem}", file=sys.stderr, flush=True)
    return f"could not open {path}: {problem.splitlines()[0] if problem else 'unknown'}"


async def _wait_idle() -> None:
    """Return once Qt has gone through its queued events (show, layout, paint) a few times.

    A zero-time QTimer fires only after the events already posted are handled, so each round
    trip means the queue ahead of it was drained. Never `processEvents()` inside a coroutine:
    qasync would run other tasks re-entrantly.
    """
    import asyncio

    from PySide6.QtCore import QTimer

    loop = asyncio.get_running_loop()
    for _ in range(3):
        done: asyncio.Future[None] = loop.create_future()
        QTimer.singleShot(0, lambda f=done: f.done() or f.set_result(None))
        await done


async def _self_test(frame: BootWindow, services: Services, t0: float, opts: Options) -> int:
    import asyncio

    from parley.ui.tasks import asyncgen_hooks

    with asyncgen_hooks(asyncio.get_running_loop()):
        return await _self_test_in_loop(frame, services, t0, opts)


async def _self_test_in_loop(
    frame: BootWindow, services: Services, t0: float, opts: Options
) -> int:
    import asyncio

    timeout = opts.self_test_timeout
    window: MainWindow | None = None
    try:
        async with asyncio.timeout(timeout):
            window = frame.take_over(services)
            while not window.isVisible():
                await asyncio.sleep(0.005)
            await window.wait_started()
            await _wait_idle()
            ready_ms = (time.perf_counter() - t0) * 1000
            if opts.startup_marks:
                print("ready", flush=True)
            report = window.self_test_report()
            if opts.open_experiment:
                report.lab = _open_experiment(window, opts.open_experiment)
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
    interactive_ms = ((frame.interactive_at or time.perf_counter()) - t0) * 1000
    line = (
        f"self-test ok: interactive in {interactive_ms:.0f} ms, ready in {ready_ms:.0f} ms; "
        f"keyring: {report.keyring}; providers: {report.providers}"
    )
    if problems:
        line += f"; problems: {len(problems)} ({'; '.join(problems)})"
    if report.lab:
        line += f"; lab: {report.lab}"
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

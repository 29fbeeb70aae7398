"""`parley sweep FILE.toml`: run an experiment headless, and the Lab's parts of `parley history`
and `parley export`. Nothing here imports Qt; everything heavy is imported when a command runs."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from parley.core.protocol.errors import EXIT_CODES, ErrorKind, ParleyError

if TYPE_CHECKING:
    from parley.core.store import Store

EXIT_OK = 0
EXIT_CHECKS_FAILED = 11
EXIT_RUNS_FAILED = 12
EXIT_BAD_FILE = EXIT_CODES[ErrorKind.CONFIG]
EXIT_REFUSED = EXIT_CODES[ErrorKind.BUDGET]
EXIT_CANCELLED = EXIT_CODES[ErrorKind.CANCELLED]

SWEEP_EPILOG = f"""\
exit codes:
  0    every run finished and every check passed
  1    an unexpected internal error
  {EXIT_BAD_FILE:<4} a bad experiment file or option, or a missing key (nothing was sent)
  {EXIT_REFUSED:<4} the plan was refused: over max_requests or max_cost (nothing was sent)
  {EXIT_CHECKS_FAILED:<4} every run finished, but some failed their checks
  {EXIT_RUNS_FAILED:<4} some runs failed (their errors are in the results)
  {EXIT_CANCELLED:<4} interrupted (Ctrl+C): finished runs are kept; --resume finishes the rest

Each run is stored in the history as it finishes. `parley history` lists experiments and
`parley export --experiment ID` writes one again. The experiment file is described in the
README ("Experiments: parley sweep"); keys come from the keyring or PARLEY_API_KEY_<ID>.
"""


def add_parser(sub: Any) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="run an experiment file (variants x grid x repeats, with checks)",
        description="Run an experiment: every variant x prompt x grid cell x repeat, through "
        "the same request path as chat, with checks, caps, resume and exports.",
        epilog=SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("file", nargs="?", metavar="FILE.toml", help="the experiment file")
    sweep.add_argument(
        "--out",
        "-o",
        metavar="FILE",
        action="append",
        default=[],
        help="write results: .csv, .json, .jsonl, .md, or .yaml (a promptfoo config); repeatable",
    )
    sweep.add_argument("--concurrency", type=int, metavar="N", help="runs in flight at once")
    sweep.add_argument("--max-requests", type=int, metavar="N", help="refuse a bigger plan")
    sweep.add_argument("--max-cost", type=float, metavar="USD", help="refuse a dearer estimate")
    sweep.add_argument("--dry-run", action="store_true", help="print the pre-flight and stop")
    sweep.add_argument(
        "--resume",
        nargs="?",
        type=int,
        const=0,
        metavar="ID",
        help="finish the missing runs of experiment ID (default: this file's latest)",
    )
    sweep.add_argument(
        "--retry-failed", action="store_true", help="with --resume: also run the failed again"
    )
    sweep.add_argument("--yes", "-y", action="store_true", help="do not ask before sending")
    sweep.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="read timeout (default 120)"
    )
    sweep.set_defaults(func=cmd_sweep)

    board = sub.add_parser(
        "leaderboard",
        help="rank models by the blind votes given in the Lab (Bradley-Terry)",
        description="Rank the models of your blind comparisons: Bradley-Terry strengths (ties "
        "as half wins) on the Elo scale, with 95%% confidence intervals.",
        epilog="Vote in the Lab: Compare, tick Blind, send, then say which answer is better. "
        "--votes prints the votes themselves instead of the ranking.",
    )
    board.add_argument("--tag", metavar="T", help="only the votes with this tag")
    board.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="default: table"
    )
    board.add_argument("--votes", action="store_true", help="print the votes, not the ranking")
    board.add_argument(
        "--prior",
        type=float,
        default=None,
        metavar="N",
        help="virtual tied games per model against an average one (default 1; 0: plain MLE)",
    )
    board.set_defaults(func=cmd_leaderboard)


def _fail(message: str, code: int) -> int:
    print(f"parley: {message}", file=sys.stderr)
    return code


# ---------------------------------------------------------------- progress


class ProgressBar:
    """done / total, errors, ETA and spend on stderr: redrawn in place on a terminal, a line
    every few seconds otherwise."""

    def __init__(self, out: TextIO, *, width: int = 24) -> None:
        self.out = out
        self.tty = out.isatty()
        self.width = width
        self._last = 0.0
        self._shown = False
        self._text = ""

    def line(self, p: Any) -> str:
        filled = int(self.width * p.done / p.total) if p.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        parts = [f"[{bar}] {p.done}/{p.total}"]
        if p.failed:
            parts.append(f"errors {p.failed}")
        if p.checks_failed:
            parts.append(f"checks failed {p.checks_failed}")
        if p.eta is not None and p.done < p.total:
            parts.append(f"ETA {_clock(p.eta)}")
        if p.spent:
            parts.append(f"spent {p.spent:.4f}")
        if p.paused:
            parts.append("waiting: " + ", ".join(p.paused))
        return "  ".join(parts)

    def update(self, p: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        interval = 0.1 if self.tty else 5.0
        if not force and p.done < p.total and now - self._last < interval:
            return
        self._last = now
        text = self.line(p)
        if text == self._text:
            return
        self._text = text
        if self.tty:
            self.out.write("\r\033[K" + text)
            self._shown = True
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        if self.tty and self._shown:
            self.out.write("\r\033[K")
        self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.out.write("\n")
            self.out.flush()


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# ---------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    from parley.core.lab.experiment import ExperimentError

    if args.file is None and not args.resume:
        return _fail("give the experiment file (or --resume ID).", EXIT_BAD_FILE)
    for name in ("concurrency", "max_requests"):
        value = getattr(args, name)
        if value is not None and value < (1 if name == "concurrency" else 0):
            flag = "--" + name.replace("_", "-")
            return _fail(f"{flag} must be at least {1 if name == 'concurrency' else 0}.", 2)
    if args.max_cost is not None and not args.max_cost >= 0:
        return _fail("--max-cost must be a number of at least 0.", EXIT_BAD_FILE)
    for out in args.out:
        if _format_of(out) is None:
            return _fail(
                f"--out {out}: say the format by the extension: .csv, .json, .jsonl, .md or .yaml.",
                EXIT_BAD_FILE,
            )
    try:
        return asyncio.run(_sweep(args))
    except ExperimentError as err:
        return _fail(str(err), EXIT_BAD_FILE)
    except ParleyError as err:
        return _fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        return _fail("Stopped before anything was sent.", EXIT_CANCELLED)


def _format_of(path: str) -> str | None:
    from parley.core.lab.export import format_for

    return format_for(path)


def _open_store() -> Store:
    from parley.core.store import Store, StoreError

    try:
        return Store.open()
    except StoreError as err:
        raise ParleyError(ErrorKind.CONFIG, f"The history cannot be opened: {err}") from None


async def _sweep(args: argparse.Namespace) -> int:
    from parley.commands.common import _catalog, _key_for, _settings
    from parley.core.lab.experiment import load_experiment
    from parley.core.lab.sweep import Sweep
    from parley.core.store import lab as lab_store
    from parley.net.engine import Engine, RetryPolicy

    catalog = _catalog()
    settings = _settings()
    overrides: dict[str, Any] = {}
    if args.concurrency is not None:
        overrides["concurrency"] = args.concurrency
    if args.max_requests is not None:
        overrides["max_requests"] = args.max_requests
    if args.max_cost is not None:
        overrides["max_cost"] = args.max_cost
    source = str(Path(args.file).resolve()) if args.file else None
    experiment = None
    if args.file and source is not None:
        experiment = load_experiment(args.file, catalog, settings.base_urls)
        experiment = dataclasses.replace(experiment, source=source, **overrides)
    concurrency = overrides.get("concurrency") or (experiment.concurrency if experiment else 32)
    # The runner retries (a 429 pauses its provider's lane), so the engine tries each send once.
    engine = Engine(
        proxy=settings.proxy,
        read_timeout=args.timeout,
        retry=RetryPolicy(max_attempts=1),
        max_connections=max(100, concurrency * 2),
        max_keepalive_connections=max(20, concurrency),
    )
    store = None if args.dry_run and not args.resume else _open_store()
    try:
        if args.resume is not None:
            assert store is not None  # opened whenever resuming
            experiment_id = args.resume
            if not experiment_id:
                row = lab_store.latest_unfinished(store, source)
                if row is None:
                    what = f"from {args.file}" if args.file else ""
                    raise ParleyError(
                        ErrorKind.CONFIG, f"There is no unfinished experiment {what} to resume."
                    )
                experiment_id = row.id
            sweep = Sweep.resume(
                experiment_id,
                catalog,
                store,
                engine,
                _key_for,
                overrides=overrides,
                retry_failed=args.retry_failed,
                max_requests=args.max_requests,
            )
            if not sweep.todo:
                print(
                    f"parley: experiment {experiment_id} has nothing left to run.", file=sys.stderr
                )
        else:
            assert experiment is not None
            sweep = Sweep(experiment, catalog, store, engine, _key_for)
        return await _run(args, sweep)
    finally:
        await engine.aclose()
        if store is not None:
            store.close()


async def _run(args: argparse.Namespace, sweep: Any) -> int:
    from parley.core.lab.plan import PlanRefused

    experiment = sweep.experiment
    await sweep.fetch_prices()
    check = sweep.preflight()
    err = sys.stderr
    resumed = f" (experiment {sweep.experiment_id}, resumed)" if sweep.experiment_id else ""
    print(f"{experiment.name}{resumed}", file=err)
    for line in check.describe():
        print(f"  {line}", file=err)
    try:
        sweep.check_caps(check)
    except PlanRefused as refused:
        return _fail(str(refused), EXIT_REFUSED)
    if experiment.max_cost is not None and check.cost is None and check.requests:
        print("  max_cost cannot be checked before sending: no prices known.", file=err)
    if args.dry_run:
        print("Dry run: nothing was sent.", file=err)
        return EXIT_OK
    if check.requests and not args.yes and sys.stdin.isatty() and err.isatty():
        answer = await asyncio.to_thread(input, f"Send {check.requests:,} requests? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was sent.", file=err)
            return EXIT_OK
    bar = ProgressBar(err)
    runner = sweep.runner
    runner.progress.connect(bar.update)
    runner.lane_paused.connect(
        lambda pause: bar.note(
            f"parley: {pause.lane} is rate limited (429); its runs wait {pause.seconds:.1f} s."
        )
    )
    cancelled = False
    try:
        outcome = await sweep.run()
        cancelled = outcome.cancelled
        capped = outcome.capped
    except asyncio.CancelledError:
        cancelled, capped = True, False
    bar.update(runner.snapshot(), force=True)
    bar.close()
    results = sweep.results
    where = f"experiment {sweep.experiment_id}" if sweep.experiment_id else "this sweep"
    if cancelled or capped:
        why = "Stopped" if cancelled else f"Stopped at max_cost = {experiment.max_cost:g}"
        missing = len(results.missing())
        resume = _resume_hint(args, sweep.experiment_id)
        print(
            f"parley: {why}: {len(results)} of {len(results.plan)} runs of {where} are kept; "
            f"{missing} to go. Resume with: {resume}",
            file=err,
        )
    _write_outputs(args.out, results, sweep.experiment_id)
    if not args.out:
        from parley.core.lab.export import render

        sys.stdout.write(render(results, "md"))
    print(f"parley: results stored as {where}.", file=err)
    if cancelled:
        return EXIT_CANCELLED
    if results.failed or results.missing():
        return EXIT_RUNS_FAILED
    if results.checks_failed:
        return EXIT_CHECKS_FAILED
    return EXIT_OK


def _resume_hint(args: argparse.Namespace, experiment_id: int | None) -> str:
    return f"parley sweep {args.file or ''} --resume {experiment_id}".replace("  ", " ")


def _write_outputs(outs: list[str], results: Any, experiment_id: int | None) -> None:
    from parley.commands.common import _all_keys
    from parley.core.lab.export import render

    keys = _all_keys() if outs else []
    for out in outs:
        fmt = _format_of(out)
        assert fmt is not None  # checked before the sweep
        text = render(results, fmt, experiment_id, keys)
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"parley: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            # Nothing is lost: the results are in the history.
            print(
                f"parley: `parley export --experiment {experiment_id}` writes them.",
                file=sys.stderr,
            )
        else:
            print(f"parley: wrote {out}", file=sys.stderr)


# ---------------------------------------------------------------- leaderboard


def leaderboard_text(found: list[Any], tag: str | None, fmt: str, votes: bool, prior: float) -> str:
    from parley.core.lab import leaderboard

    if votes:
        if fmt == "json":
            return leaderboard.votes_json(found)
        if fmt == "csv":
            return leaderboard.votes_csv(found)
        return leaderboard.votes_table(found)
    board = leaderboard.bradley_terry(found, tag=tag, prior=prior)
    if fmt == "json":
        return leaderboard.ranks_json(board)
    if fmt == "csv":
        return leaderboard.ranks_csv(board)
    return leaderboard.ranks_table(board)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from parley.commands.common import _open_store as open_history
    from parley.core.app.paths import database_path
    from parley.core.lab.compare import stored_votes
    from parley.core.lab.leaderboard import DEFAULT_PRIOR
    from parley.core.store import StoreError

    prior = DEFAULT_PRIOR if args.prior is None else args.prior
    if not (prior >= 0 and prior < float("inf")):
        return _fail("--prior must be a number of at least 0.", EXIT_BAD_FILE)
    tag = args.tag.strip().lower() if args.tag else None
    found = []
    if database_path().exists():  # else nothing was compared yet
        try:
            with open_history(read_only=True) as store:
                found = stored_votes(store, tag=tag)
        except StoreError as err:
            return _fail(str(err), EXIT_BAD_FILE)
    sys.stdout.write(leaderboard_text(found, tag, args.format, args.votes, prior))
    return EXIT_OK


# ---------------------------------------------------------------- history / export


def history_lines(store: Any, limit: int) -> list[str]:
    """The experiments, newest first, as `parley history` lists them."""
    from parley.core.store import lab as lab_store

    lines = []
    for e in lab_store.list_experiments(store, limit=limit):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.updated_at))
        failed = f", {e.failed} failed" if e.failed else ""
        lines.append(
            f"  E{e.id:<5}  {when}  {e.name}  ({e.runs}/{e.plan_size} runs{failed}, {e.status})"
        )
    return lines


def history_json(store: Any, limit: int) -> list[dict[str, Any]]:
    from parley.core.store import lab as lab_store

    return [
        {
            "id": e.id,
            "name": e.name,
            "source": e.source,
            "plan_size": e.plan_size,
            "runs": e.runs,
            "failed": e.failed,
            "status": e.status,
            "created_at": e.created_at,
            "updated_at": e.updated_at,
        }
        for e in lab_store.list_experiments(store, limit=limit)
    ]


def export_experiment(store: Any, experiment_id: int, fmt: str) -> str:
    """Experiment `experiment_id`'s stored results in `fmt` (csv, json, jsonl, md, yaml)."""
    from parley.commands.common import _all_keys, _catalog
    from parley.core.lab.experiment import parse_experiment
    from parley.core.lab.plan import make_plan
    from parley.core.lab.results import Results, RunRecord
    from parley.core.store import lab as lab_store

    row = lab_store.get_experiment(store, experiment_id)
    experiment = parse_experiment(row.definition, _catalog(), source=row.source or row.name)
    records = [RunRecord.from_dict(r) for r in lab_store.run_rows(store, experiment_id)]
    from parley.core.lab.export import render

    return render(Results(make_plan(experiment), records), fmt, experiment_id, _all_keys())


def cmd_export_experiment(args: argparse.Namespace) -> int:
    from parley.commands.common import _open_store as open_history
    from parley.core.lab.experiment import ExperimentError
    from parley.core.store import StoreError

    fmt = args.format or (_format_of(args.output) if args.output else None) or "md"
    try:
        with open_history(read_only=True) as store:
            text = export_experiment(store, args.experiment, fmt)
    except (StoreError, ExperimentError) as err:
        return _fail(str(err), EXIT_BAD_FILE)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"Cannot write {args.output}: {exc.strerror or exc}", EXIT_BAD_FILE)
    else:
        sys.stdout.write(text)
    return EXIT_OK

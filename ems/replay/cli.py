"""``ems replay``: recorded sessions through the live control loop, policies compared.

Wiring (in ``ems/cli.py``): ``add_replay_parser(sub)`` adds the command and sets
``func=cmd_replay`` with the ``(args, settings) -> int`` signature of the other commands.
Every option is documented in ``docs/replay.md``. Example::

    ems replay --sessions data/sessions/caltech_2019-09-01_2019-12-31.csv.gz \\
        --site data/sites/caltech.toml --policy edf,llf,lp-energy \\
        --start 2019-09-03 --days 7 --capacity-kw 50 --out out/replay

Exit status: 0 when every run finished, 2 on bad input (the message names the option or the
file and key).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ems.config import ConfigError
from ems.datasets import CALTECH_SESSION_FILES, DatasetError
from ems.replay.plots import write_plots
from ems.replay.report import LabelledResult, print_results, write_results
from ems.replay.run import ReplayOptions
from ems.replay.scenario import POLICIES
from ems.replay.sessions import Demand, Knowledge
from ems.replay.sweep import Axes, expand_runs, parse_policies, parse_sweeps, run_jobs
from ems.site import load_site

DEFAULT_SITE = Path(__file__).resolve().parents[2] / "data" / "sites" / "caltech.toml"
DEFAULT_POLICIES = "uncontrolled,edf,llf,lp-energy"


def add_replay_parser(subparsers: Any) -> None:
    """Add ``ems replay`` to the ``ems`` command's subparsers."""
    replay = subparsers.add_parser(
        "replay",
        help="replay recorded charging sessions through the control loop and compare policies",
        description="Replays recorded sessions on a site with the live control loop and "
        "optimizer on a simulated clock; prints a table and writes JSON, CSV and plots.",
    )
    replay.add_argument("--sessions", type=Path, action="append", metavar="FILE",
                        help="session file (ACN-Data JSON or CSV, ems CSV); repeat for more "
                        "(default: both bundled Caltech 2019 windows)")  # fmt: skip
    replay.add_argument("--site", type=Path, default=DEFAULT_SITE,
                        help="site file (default data/sites/caltech.toml)")  # fmt: skip
    replay.add_argument("--policy", default=DEFAULT_POLICIES,
                        help=f"comma-separated, of {', '.join(POLICIES)} "
                        f"(default {DEFAULT_POLICIES})")  # fmt: skip
    replay.add_argument("--start", required=True,
                        help="first day (YYYY-MM-DD, site local time) or an ISO 8601 time with "
                        "offset; sessions arriving from then on are replayed")  # fmt: skip
    span = replay.add_mutually_exclusive_group()
    span.add_argument("--days", type=float, default=7.0,
                      help="length of the arrival window in days (default 7)")  # fmt: skip
    span.add_argument("--end", help="end of the arrival window, as --start (excluded)")
    replay.add_argument("--step-min", type=float, default=5.0,
                        help="control step in minutes (default 5)")  # fmt: skip
    replay.add_argument("--capacity-kw", type=float,
                        help="grid connection rating [kW] (scales the root's limits)")  # fmt: skip
    replay.add_argument(
        "--tariff",
        type=Path,
        help="tariff file for billing and the cost policies (default: site's)",
    )
    replay.add_argument(
        "--knowledge",
        choices=[k.value for k in Knowledge],
        default=Knowledge.PERFECT.value,
        help="what the loop is told of departure and energy (default perfect)",
    )
    replay.add_argument("--demand", choices=[d.value for d in Demand],
                        default=Demand.DELIVERED.value,
                        help="what a car takes at most: the energy delivered in the data "
                        "(default) or the driver's request")  # fmt: skip
    replay.add_argument(
        "--ev-model",
        action="store_true",
        help="cars with the battery model of ems.sim.ev (taper above 80 %%)",
    )
    replay.add_argument(
        "--acnportal",
        action="store_true",
        help="acnportal's conventions (times on the step grid, perfect "
        "knowledge, need = energy delivered, no minimum-current rule)",
    )
    replay.add_argument(
        "--reserve-arrivals",
        action="store_true",
        help="with --knowledge forecast: keep capacity for the cars an arrival model (fitted "
        "on the sessions before --start) expects",
    )
    replay.add_argument(
        "--no-event-cycles",
        action="store_true",
        help="plan only every step, not also at arrivals and departures",
    )
    replay.add_argument("--sweep", action="append", default=[], metavar="KEY=VALUES",
                        help="capacity_kw=10:140:10, policy=edf,llf or tariff=a.toml,b.toml; "
                        "repeat for a grid")  # fmt: skip
    replay.add_argument("--jobs", type=int, help="parallel processes (default: CPUs)")
    replay.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for placing cars whose charger is taken (default 0)",
    )
    replay.add_argument(
        "--out",
        type=Path,
        default=Path("out/replay"),
        help="folder for results.json/csv, series.csv, sessions.csv, plots",
    )
    replay.add_argument("--no-plots", action="store_true", help="write no PNG/HTML plots")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.set_defaults(func=cmd_replay)


def parse_moment(text: str, timezone: str, option: str) -> datetime:
    """A day (local midnight in ``timezone``) or an ISO 8601 time with an offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option}: not a date or ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        if len(text.strip()) > 10:
            raise ValueError(f"{option}: give a date, or a time with an offset: {text!r}")
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value


def cmd_replay(args: argparse.Namespace, settings: object = None) -> int:
    """Run the replays ``args`` describe; print the table, write the files. 2 on bad input."""
    console = Console()
    if not console.is_terminal:  # a log or a pipe: keep the table readable
        console = Console(width=160)
    try:
        return _replay(args, console)
    except (ConfigError, DatasetError, ValueError) as error:
        print(f"ems replay: {error}", file=sys.stderr)
        return 2


def _replay(args: argparse.Namespace, console: Console) -> int:
    site = load_site(args.site)
    start = parse_moment(args.start, site.timezone, "--start")
    if args.end is not None:
        end = parse_moment(args.end, site.timezone, "--end")
    else:
        if not args.days > 0:
            raise ValueError("--days: must be positive")
        end = start + timedelta(days=args.days)  # wall-clock days in the site's zone
    if not args.step_min > 0:
        raise ValueError("--step-min: must be positive")
    if args.capacity_kw is not None and not args.capacity_kw > 0:
        raise ValueError("--capacity-kw: must be positive")
    if args.reserve_arrivals and args.knowledge != "forecast":
        raise ValueError("--reserve-arrivals: needs --knowledge forecast (a model of arrivals)")
    if args.tariff is not None and not args.tariff.is_file():
        raise ValueError(f"--tariff: no such file: {args.tariff}")
    session_paths = tuple(args.sessions or CALTECH_SESSION_FILES.values())
    for path in session_paths:
        if not path.is_file():
            raise ValueError(f"--sessions: no such file: {path}")
    options = ReplayOptions(
        policy=parse_policies(args.policy)[0],
        start=start,
        end=end,
        step_s=args.step_min * 60.0,
        knowledge=Knowledge(args.knowledge),
        demand=Demand(args.demand),
        ev_model=args.ev_model,
        acnportal=args.acnportal,
        event_cycles=not args.no_event_cycles,
        reserve_arrivals=args.reserve_arrivals,
        capacity_kw=args.capacity_kw,
        seed=args.seed,
    )
    axes = Axes(
        policies=parse_policies(args.policy),
        capacities_kw=(args.capacity_kw,),
        tariffs=(args.tariff,),
    )
    axes = parse_sweeps(args.sweep, axes)
    jobs = expand_runs(axes, args.site, session_paths, options)
    runs = _run_with_progress(jobs, args, console)
    print_results(runs, console, title=f"ems replay: {site.name}, {start.date()} to {end.date()}")
    inputs = {
        "site": str(args.site),
        "sessions": [str(p) for p in session_paths],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "step_s": options.step_s,
        "knowledge": options.knowledge.value,
        "demand": options.demand.value,
        "ev_model": options.ev_model,
        "acnportal": options.acnportal,
        "event_cycles": options.event_cycles,
        "reserve_arrivals": options.reserve_arrivals,
        "seed": options.seed,
        "sweep": list(args.sweep),
    }
    written = write_results(runs, args.out, inputs)
    if not args.no_plots:
        written += write_plots(runs, args.out, site.timezone)
    console.print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _run_with_progress(
    jobs: list[Any], args: argparse.Namespace, console: Console
) -> list[LabelledResult]:
    if args.quiet:
        return run_jobs(jobs, args.jobs)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        runs_task = progress.add_task("runs", total=len(jobs))
        step_task = progress.add_task("current run", total=1.0)

        def on_step(fraction: float) -> None:
            progress.update(step_task, completed=fraction)

        def on_done(finished: int) -> None:
            progress.update(runs_task, completed=finished)
            progress.update(step_task, completed=0.0)

        return run_jobs(jobs, args.jobs, on_step=on_step, on_done=on_done)

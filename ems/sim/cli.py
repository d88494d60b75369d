"""``ems sim``: simulated charge points with cars against any CSMS.

Wiring (in ``ems/cli.py``): ``add_sim_parser(sub)`` adds the ``sim`` command; it sets
``func=cmd_sim`` with the ``(args, settings) -> int`` signature the other commands use, which
runs :func:`run_sim`. Example::

    ems sim --url ws://127.0.0.1:9000/ocpp --count 20 --version mixed --random --seed 1 \\
        --speed 60 --meter-interval-s 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ems.domain import ChargingRateUnit
from ems.sim.arrivals import Arrival, RandomArrivals, read_sessions
from ems.sim.clock import SimClock
from ems.sim.fleet import Fleet, make_stations
from ems.sim.station import StationConfig


def _rate_units(text: str) -> frozenset[ChargingRateUnit]:
    try:
        units = frozenset(ChargingRateUnit(u.strip()) for u in text.split(",") if u.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate-units: A, W or A,W, not {text!r}") from None
    if not units:
        raise argparse.ArgumentTypeError("--rate-units: at least one of A and W")
    return units


def _start(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--start: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--start: give an offset, for example +00:00")
    return value


def add_sim_parser(subparsers: Any) -> None:
    """Add ``ems sim`` to the ``ems`` command's subparsers."""
    sim = subparsers.add_parser(
        "sim",
        help="run simulated charge points with cars against a CSMS",
        description="N simulated OCPP 1.6J / 2.0.1 charge points, each with cars that arrive "
        "and leave, obeying the charging profiles they receive and reporting meter values.",
    )
    sim.add_argument(
        "--url", required=True, help="CSMS base URL (ws:// or wss://); the id is appended"
    )
    sim.add_argument("--count", type=int, default=10, help="number of stations (default 10)")
    sim.add_argument("--version", choices=("1.6", "2.0.1", "mixed"), default="1.6")
    sim.add_argument("--id-prefix", default="SIM-", help="station ids are PREFIX001... (SIM-)")
    sim.add_argument("--password", help="HTTP Basic password of every station (user = its id)")
    sim.add_argument("--ca-file", type=Path, help="CA certificate(s) to verify a wss:// server")
    sim.add_argument("--evses", type=int, default=1, help="EVSEs per station (default 1)")
    sim.add_argument("--max-current-a", type=float, default=32.0, help="EVSE rating per phase")
    sim.add_argument("--phases", type=int, choices=(1, 3), default=3)
    sim.add_argument("--dc-max-power-kw", type=float, help="make the stations DC of this power")
    sim.add_argument("--rate-units", type=_rate_units, default="A,W", help="A, W or A,W")
    sim.add_argument("--max-stack-level", type=int, default=8)
    sim.add_argument("--reject-profiles", type=int, default=0, metavar="N",
                     help="the first N stations reject every SetChargingProfile")  # fmt: skip
    sim.add_argument("--no-meter-values", type=int, default=0, metavar="N",
                     help="the last N stations send no meter values")  # fmt: skip
    arrivals = sim.add_mutually_exclusive_group()
    arrivals.add_argument(
        "--sessions", type=Path, help="CSV: arrival,departure,energy_kwh[,station_id]"
    )
    arrivals.add_argument("--random", action="store_true", help="seeded random arrivals (default)")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--sessions-per-station-day", type=float, default=1.2)
    sim.add_argument("--start", type=_start, help="simulated start time (default: now)")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    sim.add_argument("--meter-interval-s", type=int, default=10)
    sim.add_argument("--heartbeat-interval-s", type=int, default=300)
    sim.add_argument("--duration-s", type=float, help="stop after this many simulated seconds")
    sim.add_argument("--report-every-s", type=float, default=10.0, help="wall seconds per line")
    sim.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace, settings: object = None) -> int:
    """The ``ems sim`` command (``settings`` is ems's own and is not used)."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_sim(args))
    return 0


def stations_from_args(args: argparse.Namespace) -> list[StationConfig]:
    """The stations ``ems sim``'s arguments describe."""
    capabilities: dict[str, Any] = {
        "evse_count": args.evses,
        "max_current_a": args.max_current_a,
        "phases": args.phases,
        "dc_max_power_w": None if args.dc_max_power_kw is None else args.dc_max_power_kw * 1e3,
        "rate_units": args.rate_units,
        "max_stack_level": args.max_stack_level,
        "meter_interval_s": args.meter_interval_s,
        "heartbeat_interval_s": args.heartbeat_interval_s,
        "password": args.password,
    }
    stations = make_stations(args.count, args.version, id_prefix=args.id_prefix, **capabilities)
    rejecting = set(range(min(args.reject_profiles, len(stations))))
    silent = set(range(len(stations) - min(args.no_meter_values, len(stations)), len(stations)))
    return [
        replace(s, rejects_profiles=i in rejecting, sends_meter_values=i not in silent)
        for i, s in enumerate(stations)
    ]


def _arrivals(
    args: argparse.Namespace, stations: list[StationConfig], start: datetime
) -> Iterable[Arrival]:
    if args.sessions is not None:
        ids = [s.id for s in stations]
        return read_sessions(args.sessions, start=start, station_ids=ids, seed=args.seed)
    model = RandomArrivals(
        args.seed, len(stations), sessions_per_station_day=args.sessions_per_station_day
    )
    return model.arrivals(start)


async def run_sim(args: argparse.Namespace) -> int:
    """Run the fleet until Ctrl-C / SIGTERM or ``--duration-s``; 2 on bad arguments or data."""
    try:
        stations = stations_from_args(args)
        clock = SimClock(args.start, args.speed)
        arrivals = _arrivals(args, stations, clock())
    except (ValueError, OSError) as error:
        print(f"ems sim: {error}", file=sys.stderr)
        return 2
    ssl_context = None
    if args.url.startswith("wss://"):
        ssl_context = ssl.create_default_context(cafile=args.ca_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    print(f"ems sim: {len(stations)} stations -> {args.url} (speed x{args.speed:g})", flush=True)
    try:
        async with Fleet(
            stations, clock, args.url, arrivals=arrivals, ssl_context=ssl_context
        ) as fleet:
            await _report_until_stopped(fleet, clock, stop, args)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    return 0


async def _report_until_stopped(
    fleet: Fleet, clock: SimClock, stop: asyncio.Event, args: argparse.Namespace
) -> None:
    loop = asyncio.get_running_loop()
    deadline = None
    if args.duration_s is not None:
        deadline = loop.time() + args.duration_s / args.speed
    while not stop.is_set():
        timeout = args.report_every_s
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - loop.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
        print(summary(fleet, clock), flush=True)
        if deadline is not None and loop.time() >= deadline:
            return


def summary(fleet: Fleet, clock: SimClock) -> str:
    """One status line: time, connections, sessions, power and energy."""
    states = fleet.states()
    evses = [e for s in states for e in s.evses]
    charging = sum(1 for e in evses if e.power_w > 0)
    sessions = sum(1 for e in evses if e.transaction_id is not None)
    energy_kwh = sum(e.energy_register_wh for e in evses) / 1000.0
    stats = fleet.stats
    return (
        f"{clock():%Y-%m-%d %H:%M:%S}Z  connected {sum(s.connected for s in states)}/{len(states)}"
        f"  sessions {sessions} (charging {charging})  power {fleet.power_w / 1000:.1f} kW"
        f"  energy {energy_kwh:.1f} kWh  arrivals {stats.arrivals}"
        f" (turned away {stats.turned_away})"
    )

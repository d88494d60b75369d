"""``ems demo``: the central system with a simulated site, in one process, one command.

ems runs on an embedded SQLite database with the site's control loop; every charge point of the
site is simulated (:mod:`ems.sim`), with cars arriving by a seeded random model and some already
plugged in. ``--speed`` accelerates time for ems and the simulation alike (one shared clock), so
that a day of charging passes in minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from ems.config import ConfigError, Settings, load_settings
from ems.domain import OcppVersion
from ems.sim.arrivals import Arrival, RandomArrivals, pick_ev
from ems.sim.clock import SimClock
from ems.sim.fleet import Fleet
from ems.sim.station import StationConfig
from ems.site import SiteConfig, load_site

log = logging.getLogger(__name__)

DEFAULT_SITE = Path(__file__).resolve().parent.parent / "data" / "sites" / "depot.toml"
DEMO_TOKEN = "demo-admin-token-change-me"
DEMO_WALLET = "demo-wallet"
DEMO_CARD = "DEMO-WALLET-CARD"
# Share of the stations that have a car plugged in when the demo starts.
OCCUPIED_AT_START = 0.6


def stations_for_site(
    site: SiteConfig, version: str = "mixed", meter_interval_s: int = 5
) -> list[StationConfig]:
    """One simulated station per charge point of ``site``, as capable as the site says.

    ``version``: ``1.6``, ``2.0.1`` or ``mixed`` (alternating by charge point).
    """
    versions = {"1.6": [OcppVersion.V16], "2.0.1": [OcppVersion.V201]}
    versions["mixed"] = [OcppVersion.V16, OcppVersion.V201]
    if version not in versions:
        raise ValueError(f"version must be 1.6, 2.0.1 or mixed, not {version!r}")
    by_charge_point: dict[str, list[Any]] = {}
    for spec in site.chargers:
        by_charge_point.setdefault(spec.charge_point_id, []).append(spec)
    stations = []
    for n, (charge_point_id, specs) in enumerate(by_charge_point.items()):
        first = specs[0]
        stations.append(
            StationConfig(
                id=charge_point_id,
                version=versions[version][n % len(versions[version])],
                evse_count=max(spec.evse_id for spec in specs),
                max_current_a=max(spec.max_current_a for spec in specs),
                phases=3 if len(first.phases) == 3 else 1,
                voltage_v=first.voltage_v,
                dc_max_power_w=first.max_power_w if first.dc else None,
                meter_interval_s=meter_interval_s,
            )
        )
    return stations


def initial_cars(
    stations: list[StationConfig], start: datetime, seed: int, share: float = OCCUPIED_AT_START
) -> list[Arrival]:
    """Cars already plugged in at ``start`` on a ``share`` of the stations (seeded)."""
    rng = random.Random(seed)
    cars = []
    for n, station in enumerate(stations):
        if rng.random() >= share:
            continue
        ev = pick_ev(rng)
        soc = rng.uniform(0.1, 0.5)
        cars.append(
            Arrival(
                arrival=start + timedelta(seconds=n),
                departure=start + timedelta(hours=rng.uniform(3.0, 10.0)),
                ev=ev,
                soc=soc,
                target_soc=rng.uniform(0.8, 1.0),
                id_token=f"DEMO{n:04d}",
                station_id=station.id,
            )
        )
    return cars


async def demo_wallet(ems: Any, site: SiteConfig) -> str:
    """A prepaid demo wallet and a card that charges to it, for the QR pages; "" if not made."""
    from ems.identity.tokens import TokenRecord, TokenType
    from ems.payments import Money
    from ems.payments.errors import PaymentError, UnknownAccount

    currency = site.tariff.currency
    try:
        try:
            await asyncio.to_thread(ems.ledger.get_account, DEMO_WALLET)
        except UnknownAccount:
            await asyncio.to_thread(ems.ledger.open_account, "wallet", currency,
                                    account_id=DEMO_WALLET, name="Demo driver")  # fmt: skip
            await asyncio.to_thread(ems.ledger.top_up, DEMO_WALLET, Money.of(100, currency),
                                    "demo-wallet-top-up", reference="demo")  # fmt: skip
        identity = ems.csms.identity
        if await asyncio.to_thread(identity.repository.get, DEMO_CARD) is None:
            card = TokenRecord(DEMO_CARD, TokenType.ISO14443, account_id=DEMO_WALLET,
                               label="demo wallet card")  # fmt: skip
            await identity.create(card)
    except (PaymentError, ValueError, AttributeError) as error:
        log.warning("no demo wallet: %s", error)
        return ""
    return f"100 {currency} prepaid"


def _arrivals(first: list[Arrival], later: Iterator[Arrival]) -> Iterator[Arrival]:
    yield from first
    yield from later


def demo_settings(args: argparse.Namespace, base: Settings, site_path: Path) -> Settings:
    """The demo's settings: SQLite, the site under control, auto-registration, a demo token."""
    overrides: dict[str, Any] = {
        "database": {**base.database.model_dump(), "url": args.database},
        "control": {"sites": [site_path], "enabled": True, "time_scale": args.speed},
        "ocpp": {
            **base.ocpp.model_dump(),
            "auto_register": True,
            "auto_register_status": "Accepted",
            "accept_unknown_id_tokens": True,
        },
        "server": {**base.server.model_dump(), "host": args.host, "port": args.port},
        "api": {"bootstrap_admin_token": base.api.bootstrap_admin_token or DEMO_TOKEN},
        "charge_points": [],
    }
    return load_settings(None, **overrides)


async def run_demo(args: argparse.Namespace, settings: Settings, site: SiteConfig) -> int:
    """Run ems and the simulated site until Ctrl-C (or ``--duration-s`` of wall time)."""
    from ems.app import Ems, EmsServer
    from ems.cli import on_stop_signals, settle_garbage_collector

    clock = SimClock(speed=args.speed)
    server = EmsServer(Ems(settings, clock=clock))
    on_stop_signals(server.request_stop)  # before listening: a stop during start-up is clean too
    await server.start()
    fleet: Fleet | None = None
    try:
        fleet = await _announce_and_simulate(args, server, site, clock)
        settle_garbage_collector()
        await asyncio.wait_for(server.serve_forever(), args.duration_s)
    except TimeoutError:
        pass
    finally:
        if fleet is not None:
            await fleet.stop()
        given_up = await server.stop()
    return 1 if given_up else 0


async def _announce_and_simulate(
    args: argparse.Namespace, server: Any, site: SiteConfig, clock: SimClock
) -> Fleet:
    """Open the demo wallet, start the simulated stations and print where to look."""
    settings = server.ems.settings
    host = settings.server.host
    base_url = f"http://{host}:{server.port}"
    wallet = await demo_wallet(server.ems, site)
    stations = stations_for_site(site, args.version, meter_interval_s=max(1, round(
        site.control.interval_s)))  # fmt: skip
    start = clock()
    model = RandomArrivals(args.seed, len(stations))
    arrivals = _arrivals(initial_cars(stations, start, args.seed), model.arrivals(start))
    fleet = Fleet(stations, clock, f"ws://{host}:{server.port}/ocpp", arrivals=arrivals)
    await fleet.start()
    token = server.ems.bootstrap_token or settings.api.bootstrap_admin_token
    print(f"ems demo: site {site.name!r} ({len(site.chargers)} chargers, simulated), "
          f"time x{args.speed:g}")  # fmt: skip
    print(f"OCPP: ws://{host}:{server.port}/ocpp/<charge point id>")
    print(f"REST API: {base_url}/api/v1   (interactive docs: {base_url}/docs)")
    print(f"the live plan: {base_url}/api/v1/sites/{site.id}/plan")
    print(f"open in a browser: {base_url}/")
    print(f"admin API token: {token}   (curl -H 'Authorization: Bearer {token}' ...)")
    if wallet:
        print(f"drivers: QR links at {base_url}/api/v1/qr (admin token); pay with the demo "
              f"wallet card {DEMO_CARD} ({wallet})")  # fmt: skip
    print("Ctrl-C stops the demo.")
    sys.stdout.flush()
    return fleet


def fresh_database(url: str, *, reuse: bool) -> None:
    """Start the demo on an empty SQLite file unless ``reuse``: the simulated chargers start
    from nothing, and sessions an earlier run left open would otherwise hang on as ghosts."""
    parsed = make_url(url)
    if reuse:
        return
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise ValueError(
            f"the demo starts on a fresh SQLite file and will not wipe {url}: "
            "give a sqlite:/// URL, or --reuse-database to keep what is there"
        )
    path = Path(parsed.database)
    removed = False
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.unlink()
            removed = True
    if removed:
        print(f"ems demo: starting on a fresh database {path} (--reuse-database keeps it)")


def add_demo_parser(sub: Any) -> None:
    demo = sub.add_parser(
        "demo", help="ems with a simulated site on SQLite: smart charging in one command"
    )
    demo.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    demo.add_argument("--site", default=str(DEFAULT_SITE), help="site file (data/sites/*.toml)")
    demo.add_argument("--speed", type=float, default=1.0, help="time acceleration (e.g. 60)")
    demo.add_argument("--version", default="mixed", choices=["1.6", "2.0.1", "mixed"])
    demo.add_argument("--seed", type=int, default=1, help="seed of the simulated arrivals")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=9000)
    demo.add_argument("--database", default="sqlite:///var/demo.db",
                      help="SQLite file the demo starts afresh (see --reuse-database)")  # fmt: skip
    demo.add_argument("--reuse-database", action="store_true",
                      help="keep what an earlier demo stored, do not start afresh")  # fmt: skip
    demo.add_argument("--duration-s", type=float, default=None, help="stop after (wall) seconds")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ems.cli import _raise_open_files_limit, _run

    if args.speed <= 0:
        print("ems demo: --speed must be positive", file=sys.stderr)
        return 2
    site_path = Path(args.site).absolute()
    try:
        site = load_site(site_path)
        demo = demo_settings(args, settings, site_path)
    except ConfigError as error:
        print(f"ems demo: {error}", file=sys.stderr)
        return 2
    try:
        fresh_database(args.database, reuse=args.reuse_database)
    except ValueError as error:
        print(f"ems demo: {error}", file=sys.stderr)
        return 2
    _raise_open_files_limit()
    # The demo's console is for the URLs and what the control loop does, not every connection.
    for chatty in ("uvicorn.error", "ems.ocpp.server"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    result = 0

    async def main() -> None:
        nonlocal result
        result = await run_demo(args, demo, site)

    with contextlib.suppress(KeyboardInterrupt):
        _run(main())
    return result

"""Fixtures of the driver tests: ems with the dashboard tests' site (flat tariff, 21 % tax,
0.50 session fee), simulated chargers, a funded wallet with its card, and helpers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from ems.app import EmsServer
from ems.domain import OcppVersion
from ems.driver import DriverSettings
from ems.identity import TokenRecord
from ems.payments import Money
from ems.sim.clock import SimClock
from ems.sim.ev import Ev
from ems.sim.fleet import Fleet
from ems.sim.station import StationConfig
from tests.conftest import make_settings
from tests.web.conftest import CAR, INTERVAL_S, SITE, SPEED, STATIONS, Site, wait_until

WALLET = "wallet-1"
CARD = "CARD-0001"
FUNDS = Money.of("50.00", "EUR")

__all__ = ["CARD", "FUNDS", "WALLET", "driver_site", "form_token", "plug", "wait_until"]


@contextlib.asynccontextmanager
async def driver_site(tmp_path: Path, *, stations: bool = True) -> AsyncIterator[Site]:
    """ems + chargers as in the dashboard tests, but unknown tokens are refused (a car plugged
    in does not start by itself: only the QR start's one-time token starts it)."""
    site_path = tmp_path / "site.toml"
    site_path.write_text(SITE)
    settings = make_settings(
        f"sqlite:///{tmp_path / 'ems.db'}",
        control={"sites": [site_path], "time_scale": SPEED},
        ocpp={"auto_register": True, "auto_register_status": "Accepted"},
    )
    clock = SimClock(speed=SPEED)
    from ems.app import Ems

    server = EmsServer(Ems(settings, clock=clock))
    server.app.state.driver.settings = DriverSettings(
        start_timeout_s=20.0, monitor_interval_s=0.5
    )
    await server.start()
    running = Site(server, clock, base_url=f"http://127.0.0.1:{server.port}")
    ems = server.ems
    ems.ledger.open_account("wallet", "EUR", account_id=WALLET, name="Test driver")
    ems.ledger.top_up(WALLET, FUNDS, "fund-wallet-1")
    await ems.csms.identity.create(TokenRecord(CARD, account_id=WALLET))
    fleet = None
    try:
        if stations:
            configs = [
                StationConfig(f"WEB-{n}", version, meter_interval_s=int(INTERVAL_S))
                for n, version in zip(
                    range(1, STATIONS + 1),
                    [OcppVersion.V16, OcppVersion.V201, OcppVersion.V16],
                    strict=True,
                )
            ]
            fleet = Fleet(configs, clock, f"ws://127.0.0.1:{server.port}/ocpp", tick_s=1.0)
            await fleet.start()
            running.fleet = fleet
            await fleet.wait_accepted(10)
            assert ems.control is not None
            live = ems.control.live["web"]
            await wait_until(
                lambda: all(c.ready for c in live.chargers.values()), 10, "chargers set up"
            )
        yield running
    finally:
        if fleet is not None:
            await fleet.stop()
        with contextlib.suppress(Exception):
            await server.app.state.driver.close()
        with contextlib.suppress(Exception):
            await server.stop()


def plug(site: Site, station: str, evse_id: int = 1) -> None:
    """A car plugs in at ``station`` (its own token is refused: it waits for a remote start)."""
    assert site.fleet is not None
    site.fleet.chargepoints[station].plug_in(Ev(CAR, 0.3, 1.0), "", evse_id=evse_id)


def form_token(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


async def code_of(site: Site, station: str, evse_id: int = 1) -> str:
    async with site.api() as api:
        response = await api.get(f"/api/v1/qr/{station}/{evse_id}.svg")
        response.raise_for_status()
        return response.headers["x-connector-code"]


def client(site: Site) -> httpx.AsyncClient:
    """An anonymous driver's browser-like client (same-origin Origin header)."""
    return httpx.AsyncClient(
        base_url=site.base_url, headers={"Origin": site.base_url}, timeout=10
    )

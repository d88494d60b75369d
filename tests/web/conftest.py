"""Fixtures of the dashboard tests: ems with a small controlled site and simulated chargers,
and headless Chromium (Debian's package) driven by Playwright.

Time runs :data:`SPEED` times faster for ems and the simulated chargers alike, so a control
cycle and a meter value come every quarter of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ems.app import Ems, EmsServer
from ems.domain import OcppVersion
from ems.sim.arrivals import Arrival
from ems.sim.clock import SimClock
from ems.sim.ev import EvModel
from ems.sim.fleet import Fleet
from ems.sim.station import StationConfig
from tests.conftest import ADMIN_TOKEN, make_settings

CHROMIUM = Path(os.environ.get("EMS_TEST_CHROMIUM", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.is_file()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
SPEED = 20.0
INTERVAL_S = 5.0
STATIONS = 3
CAR = EvModel("car-3x16", capacity_kwh=60.0, ac_max_current_a=16.0, ac_phases=3)

SITE = f"""
[site]
id = "web"
name = "Web test site"
timezone = "UTC"

[tariff]
id = "flat"
name = "Flat test tariff"
currency = "EUR"
tax_rate = 0.21
session_fee = 0.50
energy = {{ kind = "flat", price_per_kwh = 0.25 }}

[control]
interval_s = {INTERVAL_S}
horizon_h = 4
slot_s = 900
default_departure_h = 4
default_energy_kwh = 30

[[circuits]]
id = "grid"
limit_a = 32

[[chargers]]
charge_point_id = "WEB-{{n}}"
count = {STATIONS}
circuit = "grid"
max_current_a = 16
"""


@dataclass
class Site:
    """A running ems controlling :data:`SITE`, and its simulated chargers (when started)."""

    server: EmsServer
    clock: SimClock
    fleet: Fleet | None = None
    base_url: str = ""
    events: list[Any] = field(default_factory=list)

    @property
    def ems(self) -> Ems:
        return self.server.ems

    def plug(self, station: str, soc: float = 0.3) -> None:
        assert self.fleet is not None
        now = self.clock()
        arrival = Arrival(now, now + timedelta(hours=3), CAR, soc, 1.0, f"TAG-{station}",
                          station_id=station)  # fmt: skip
        assert self.fleet.arrive(arrival) == (station, 1)

    def api(self, token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        """An HTTP client for this ems with ``token`` (None: without any)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10)


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait [wall s] until ``condition`` holds; AssertionError naming ``what`` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def site(tmp_path: Path, *, stations: bool = True) -> AsyncIterator[Site]:
    """ems with the test site; with ``stations``, all simulated chargers booted and set up."""
    site_path = tmp_path / "site.toml"
    site_path.write_text(SITE)
    settings = make_settings(
        f"sqlite:///{tmp_path / 'ems.db'}",
        control={"sites": [site_path], "time_scale": SPEED},
        ocpp={"auto_register": True, "auto_register_status": "Accepted",
              "accept_unknown_id_tokens": True},
    )  # fmt: skip
    clock = SimClock(speed=SPEED)
    server = EmsServer(Ems(settings, clock=clock))
    await server.start()
    running = Site(server, clock, base_url=f"http://127.0.0.1:{server.port}")
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
            assert server.ems.control is not None
            live = server.ems.control.live["web"]
            await wait_until(
                lambda: all(c.ready for c in live.chargers.values()), 10, "chargers set up"
            )
        yield running
    finally:
        if fleet is not None:
            await fleet.stop()
        with contextlib.suppress(Exception):
            await server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium; the test is skipped when Debian's chromium is not installed."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (or set EMS_TEST_CHROMIUM)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Console:
    """Everything a page logged as an error, and its uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


async def screenshot(page: Any, name: str) -> None:
    """A full-page screenshot under test-artifacts/web/ (kept by CI)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Any, base_url: str, token: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#token", token)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{base_url}/")

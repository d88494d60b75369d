"""Smart charging end to end: ems with its control loop and simulated chargers over WebSockets.

Time runs :data:`SPEED` times faster than the wall clock for ems and the simulated chargers
alike (one shared clock), so a five-second control interval passes in a quarter of a second.
Every test runs for OCPP 1.6 and 2.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from ems.app import Ems, EmsServer
from ems.domain import OcppVersion
from ems.sim.arrivals import Arrival
from ems.sim.clock import SimClock
from ems.sim.ev import EvModel
from ems.sim.fleet import Fleet
from ems.sim.station import StationConfig
from ems.site import load_site
from tests.conftest import make_settings

SPEED = 20.0
INTERVAL_S = 5.0
CAPACITY_A = 40.0
STATIONS = 4
VALIDITY_S = 30.0

SITE = f"""
[site]
id = "test"
name = "Test site"
timezone = "UTC"

[tariff]
id = "flat"
name = "Flat"
currency = "EUR"
energy = {{ kind = "flat", price_per_kwh = 0.25 }}

[control]
interval_s = {INTERVAL_S}
deadband_a = 1.0
horizon_h = 4
slot_s = 900
profile_validity_s = {VALIDITY_S}
default_departure_h = 4
default_energy_kwh = 40

[[circuits]]
id = "grid"
limit_a = {CAPACITY_A}

[[chargers]]
charge_point_id = "E2E-{{n}}"
count = {STATIONS}
circuit = "grid"
min_current_a = 6
max_current_a = 32
current_step_a = 1
"""

CAR = EvModel("car-3x32", capacity_kwh=80.0, ac_max_current_a=32.0, ac_phases=3)


@dataclass
class Rig:
    server: EmsServer
    fleet: Fleet
    clock: SimClock
    site_path: Path

    @property
    def ems(self) -> Ems:
        return self.server.ems

    def plug(self, station: str, soc: float = 0.2, hours: float = 3.0, ev: EvModel = CAR) -> None:
        now = self.clock()
        arrival = Arrival(now, now + timedelta(hours=hours), ev, soc, 1.0, f"TAG-{station}",
                          station_id=station)  # fmt: skip
        assert self.fleet.arrive(arrival) == (station, 1)

    def current_a(self, station: str) -> float:
        return self.fleet.state(station).evses[0].current_a

    def total_a(self) -> float:
        return sum(self.current_a(f"E2E-{n}") for n in range(1, STATIONS + 1))

    async def wait_for(self, condition: Callable[[], bool], sim_s: float, what: str) -> float:
        """Wait until ``condition`` holds, at most ``sim_s`` simulated seconds; return how long."""
        started = self.clock()
        while not condition():
            waited = (self.clock() - started).total_seconds()
            if waited > sim_s:
                raise AssertionError(f"not within {sim_s:g} s: {what}")
            await asyncio.sleep(0.01)
        return (self.clock() - started).total_seconds()

    async def run_for(self, sim_s: float) -> None:
        await self.clock.sleep(sim_s)


@contextlib.asynccontextmanager
async def rig(
    tmp_path: Path, version: OcppVersion, **station_options: object
) -> AsyncIterator[Rig]:
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
    options = {n: station_options for n in range(1, STATIONS + 1)}
    special = station_options.pop("only", None)
    stations = [
        StationConfig(f"E2E-{n}", version, meter_interval_s=60,
                      **(options[n] if special in (None, n) else {}))  # type: ignore[arg-type]
        for n in range(1, STATIONS + 1)
    ]  # fmt: skip
    fleet = Fleet(stations, clock, f"ws://127.0.0.1:{server.port}/ocpp", tick_s=1.0)
    await fleet.start()
    try:
        await fleet.wait_accepted(10)
        rig = Rig(server, fleet, clock, site_path)
        # every charger set up (capabilities, metering, TxDefaultProfile)
        assert server.ems.control is not None
        live = server.ems.control.live["test"]
        await rig.wait_for(
            lambda: all(c.ready or c.rejected for c in live.chargers.values()), 30, "set-up"
        )
        # set-up read what the stations said of themselves, in either OCPP version
        capabilities = live.chargers["E2E-2/1"].capabilities
        assert capabilities.rate_units == ("A", "W")
        assert capabilities.max_stack_level == stations[1].max_stack_level
        # and had it meter every control interval (it came with 60 s)
        station = fleet.chargepoints["E2E-2"].station
        assert station.settings.meter_interval_s == INTERVAL_S
        yield rig
    finally:
        await fleet.stop()
        with contextlib.suppress(Exception):
            await server.stop()


VERSIONS = [OcppVersion.V16, OcppVersion.V201]


@pytest.mark.parametrize("version", VERSIONS, ids=["1.6", "2.0.1"])
async def test_capacity_holds_and_a_new_arrival_gets_power_within_two_intervals(
    tmp_path: Path, version: OcppVersion
) -> None:
    async with rig(tmp_path, version) as r:
        for station in ("E2E-1", "E2E-2", "E2E-3"):
            r.plug(station)
        await r.wait_for(lambda: r.total_a() > 0.9 * CAPACITY_A, 4 * INTERVAL_S,
                         "the site uses its capacity")  # fmt: skip
        # A fourth car: it draws within two intervals; the others make room.
        r.plug("E2E-4")
        waited = await r.wait_for(lambda: r.current_a("E2E-4") >= 6.0, 2 * INTERVAL_S,
                                  "the new arrival gets power")  # fmt: skip
        assert waited <= 2 * INTERVAL_S
        # Over a while, the measured aggregate is above the limit for at most one interval
        # at a time (a car follows a lower limit at its next physics step).
        over_since = None
        worst_s = 0.0
        end = r.clock() + timedelta(seconds=6 * INTERVAL_S)
        while r.clock() < end:
            now = r.clock()
            if r.total_a() > CAPACITY_A + 1e-6:
                over_since = over_since or now
                worst_s = max(worst_s, (now - over_since).total_seconds())
            else:
                over_since = None
            await asyncio.sleep(0.005)
        assert worst_s <= INTERVAL_S
        assert r.total_a() <= CAPACITY_A + 1e-6
        # The plan is visible in the API, with every charger controlled.
        assert r.ems.control is not None
        latest = r.ems.control.loops["test"].latest
        assert latest is not None and len(latest.site_problem.problem.sessions) == 4
        assert sum(latest.plan.limit_now_a.values()) <= CAPACITY_A


@pytest.mark.parametrize("version", VERSIONS, ids=["1.6", "2.0.1"])
async def test_a_car_in_its_tail_releases_capacity_to_another(
    tmp_path: Path, version: OcppVersion
) -> None:
    # A car at 97 % state of charge (tapering hard above its 80 % knee) and one nearly empty
    # share 40 A: the full one takes only a few amperes, the other gets the rest.
    async with rig(tmp_path, version) as r:
        r.plug("E2E-1", soc=0.97)
        r.plug("E2E-2", soc=0.1)
        await r.wait_for(lambda: r.current_a("E2E-1") > 0, 4 * INTERVAL_S, "the full car draws")
        tail_a = r.current_a("E2E-1")
        assert tail_a < 10.0
        await r.wait_for(
            lambda: r.current_a("E2E-2") >= CAPACITY_A - r.current_a("E2E-1") - 2.0,
            8 * INTERVAL_S,
            "the empty car gets what the full one leaves",
        )
        assert r.current_a("E2E-2") > 25.0
        assert r.total_a() <= CAPACITY_A + 1e-6


@pytest.mark.parametrize("version", VERSIONS, ids=["1.6", "2.0.1"])
async def test_a_charger_rejecting_profiles_is_budgeted_at_its_maximum(
    tmp_path: Path, version: OcppVersion
) -> None:
    async with rig(tmp_path, version, rejects_profiles=True, only=1) as r:
        assert r.ems.control is not None
        live = r.ems.control.live["test"]
        assert live.chargers["E2E-1/1"].rejected is not None
        assert all(live.chargers[f"E2E-{n}/1"].rejected is None for n in (2, 3, 4))
        r.plug("E2E-1")
        r.plug("E2E-2")
        r.plug("E2E-3")
        await r.run_for(3 * INTERVAL_S)
        loop = r.ems.control.loops["test"]
        latest = loop.latest
        assert latest is not None
        assert latest.site_problem.reserved_keys == ("E2E-1/1",)
        # The others share what the uncontrollable charger (32 A at most) leaves: 8 A.
        others = sum(latest.plan.limit_now_a[f"E2E-{n}/1"] for n in (2, 3, 4))
        assert others <= CAPACITY_A - 32.0
        assert others >= 6.0  # one of them charges at its minimum
        assert r.current_a("E2E-2") + r.current_a("E2E-3") <= CAPACITY_A - 32.0 + 1e-6


@pytest.mark.parametrize("version", VERSIONS, ids=["1.6", "2.0.1"])
async def test_when_ems_stops_the_chargers_fall_back_within_capacity(
    tmp_path: Path, version: OcppVersion
) -> None:
    async with rig(tmp_path, version) as r:
        site = load_site(r.site_path)
        fallback = site.fallback_limits_a()
        assert sum(fallback.values()) <= CAPACITY_A
        for n in range(1, STATIONS + 1):
            r.plug(f"E2E-{n}", soc=0.1)
        await r.run_for(3 * INTERVAL_S)
        await r.server.stop()
        # The TxProfiles run out (their validity) and every charger is back on its default.
        await r.run_for(VALIDITY_S + 2 * INTERVAL_S)
        for n in range(1, STATIONS + 1):
            state = r.fleet.state(f"E2E-{n}")
            assert not state.connected
            assert r.current_a(f"E2E-{n}") <= fallback[f"E2E-{n}/1"] + 1e-6
        assert r.total_a() <= CAPACITY_A + 1e-6


@pytest.mark.parametrize("version", VERSIONS, ids=["1.6", "2.0.1"])
async def test_a_charger_without_meter_values_is_assumed_to_draw_its_limit(
    tmp_path: Path, version: OcppVersion
) -> None:
    # The same nearly full car as in the tail test, on a charger that reports nothing: ems has
    # no measurement to cut its limit by (the tail rule needs one), so the limit it gives is
    # what the site budgets for it, and the other car gets at most what is left beside it.
    async with rig(tmp_path, version, sends_meter_values=False, only=1) as r:
        r.plug("E2E-1", soc=0.97)
        r.plug("E2E-2", soc=0.1)
        await r.run_for(6 * INTERVAL_S)
        assert r.ems.control is not None
        latest = r.ems.control.loops["test"].latest
        assert latest is not None
        limits = latest.plan.limit_now_a
        silent = next(s for s in latest.snapshot.sessions if s.key == "E2E-1/1")
        assert silent.measured_power_w is None
        assert limits["E2E-1/1"] >= 6.0  # not cut to what it really draws
        assert limits["E2E-1/1"] + limits["E2E-2/1"] <= CAPACITY_A
        assert r.current_a("E2E-2") <= CAPACITY_A - limits["E2E-1/1"] + 1e-6

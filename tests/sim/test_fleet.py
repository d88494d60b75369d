"""The fleet against the real ems central system, and its reconnects, over real WebSockets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from ems.app import Ems, EmsServer
from ems.domain import ConnectorStatus, OcppVersion
from ems.sim.arrivals import Arrival
from ems.sim.clock import SimClock
from ems.sim.ev import EvModel
from ems.sim.fleet import Backoff, Fleet
from ems.sim.station import StationConfig
from tests.conftest import make_settings
from tests.sim.csms import csms_server, eventually

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
CAR = EvModel("3x16", capacity_kwh=60.0, ac_max_current_a=16.0, ac_phases=3)
PASSWORD = "sim-password-000000001"
QUICK = Backoff(initial_s=0.05, max_s=0.2)


@contextlib.asynccontextmanager
async def ems_with(clock: SimClock, sqlite_url: str) -> AsyncIterator[EmsServer]:
    """ems on SQLite, on the simulator's clock, admitting unknown stations and tokens."""
    settings = make_settings(
        sqlite_url,
        ocpp={
            "auto_register": True,
            "auto_register_status": "Accepted",
            "accept_unknown_id_tokens": True,
        },
        charge_points=[{"id": "LOCKED", "security_profile": 1, "password": PASSWORD}],
    )
    server = EmsServer(Ems(settings, clock))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def arrival(station_id: str, token: str, clock: SimClock) -> Arrival:
    now = clock()
    return Arrival(
        now, now + timedelta(hours=8), CAR, 0.2, 0.9, id_token=token, station_id=station_id
    )


async def test_fleet_boots_on_ems_and_starts_transactions_in_both_versions(
    sqlite_url: str,
) -> None:
    clock = SimClock(T0, speed=30.0)
    async with ems_with(clock, sqlite_url) as server:
        stations = [
            StationConfig("SIM-16", OcppVersion.V16),
            StationConfig("SIM-201", OcppVersion.V201),
            StationConfig("LOCKED", OcppVersion.V16, password=PASSWORD),
        ]
        url = f"ws://127.0.0.1:{server.port}/ocpp"
        async with Fleet(stations, clock, url, backoff=QUICK) as fleet:
            await fleet.wait_accepted(timeout_s=10)
            fleet.arrive(arrival("SIM-16", "TAG-16", clock))
            fleet.arrive(arrival("SIM-201", "TAG-201", clock))
            csms = server.ems.csms
            await eventually(lambda: len(csms.open_transactions()) == 2)
            started = ("SIM-16", "SIM-201")  # the answers reach the stations too
            await eventually(lambda: all(fleet.state(i).evses[0].transaction_id for i in started))
            by_station = {tx.charge_point_id: tx for tx in csms.open_transactions()}
            assert by_station["SIM-16"].id_token is not None
            assert by_station["SIM-16"].id_token.id == "TAG-16"
            assert by_station["SIM-201"].id_token is not None
            assert by_station["SIM-201"].id_token.id == "TAG-201"
            for station_id in ("SIM-16", "SIM-201"):
                state = fleet.state(station_id)
                assert state.connected
                assert state.evses[0].transaction_id == by_station[station_id].transaction_id
            # the meter values reach ems: the energy register grows while the cars charge
            await eventually(lambda: (by_station["SIM-16"].energy_wh or 0) > 0)
            await eventually(lambda: (by_station["SIM-201"].energy_wh or 0) > 0)
            assert fleet.state("SIM-16").evses[0].status is ConnectorStatus.CHARGING
            assert fleet.power_w == 2 * 11040.0


async def test_station_with_a_wrong_password_does_not_stop_the_others(sqlite_url: str) -> None:
    clock = SimClock(T0, speed=30.0)
    async with ems_with(clock, sqlite_url) as server:
        stations = [
            StationConfig("LOCKED", OcppVersion.V16, password="wrong-password-00000000"),
            StationConfig("OPEN", OcppVersion.V201),
        ]
        url = f"ws://127.0.0.1:{server.port}/ocpp"
        async with Fleet(stations, clock, url, backoff=QUICK) as fleet:
            await eventually(lambda: fleet.stats.connection_failures >= 2)
            await eventually(lambda: fleet.state("OPEN").registration == "Accepted")
            fleet.arrive(arrival("OPEN", "TAG-1", clock))
            await eventually(lambda: len(server.ems.csms.open_transactions("OPEN")) == 1)
            assert not fleet.state("LOCKED").connected


async def test_fleet_reconnects_and_boots_again_after_a_drop() -> None:
    clock = SimClock(T0, speed=30.0)
    async with csms_server() as csms:
        stations = [StationConfig("DROP", OcppVersion.V16)]
        async with Fleet(stations, clock, csms.url, backoff=QUICK) as fleet:
            await fleet.wait_accepted(timeout_s=10)
            await csms.stations["DROP"]._connection.close()
            await eventually(lambda: csms.records["DROP"].boots == 2)
            await fleet.wait_accepted(timeout_s=10)
            assert fleet.state("DROP").connected


async def test_departure_ends_the_transaction_and_frees_the_station() -> None:
    clock = SimClock(T0, speed=600.0)  # 10 simulated minutes per wall second
    async with csms_server() as csms:
        stations = [StationConfig("ONE", OcppVersion.V201)]
        async with Fleet(stations, clock, csms.url, backoff=QUICK) as fleet:
            await fleet.wait_accepted(timeout_s=10)
            now = clock()
            visit = Arrival(now, now + timedelta(minutes=5), CAR, 0.5, 0.9, id_token="T")
            assert fleet.arrive(visit) == ("ONE", 1)
            # the only EVSE is taken: a second car is turned away
            assert fleet.arrive(visit) is None
            assert fleet.stats.turned_away == 1
            record = csms.records["ONE"]
            await eventually(lambda: len(record.stopped) == 1)
            assert record.stopped[0]["transaction_info"]["stopped_reason"] == "EVDisconnected"
            await eventually(
                lambda: fleet.state("ONE").evses[0].status is ConnectorStatus.AVAILABLE
            )
            assert fleet.stats.departures == 1

"""A simulated station over a real WebSocket to a small ``ocpp``-library CSMS, both versions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ems.domain import OcppVersion
from ems.sim.chargepoint import SimChargePoint
from ems.sim.clock import SimClock
from ems.sim.ev import Ev, EvModel
from ems.sim.station import StationConfig
from tests.sim.csms import CsmsServer, csms_server, eventually

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
CAR = EvModel("3x16", capacity_kwh=60.0, ac_max_current_a=16.0, ac_phases=3)
SPEED = 60.0  # a 10 s meter interval every 1/6 s


@contextlib.asynccontextmanager
async def station(
    csms: CsmsServer, version: OcppVersion, **options: object
) -> AsyncIterator[SimChargePoint]:
    config = StationConfig(id=f"SIM-{version.name}", version=version, **options)  # type: ignore[arg-type]
    sim = SimChargePoint(config, SimClock(T0, SPEED), csms.url)
    tasks = [asyncio.create_task(sim.serve()), asyncio.create_task(sim.run_physics())]
    try:
        await eventually(lambda: sim.registration == "Accepted")
        yield sim
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sim.close()


def tx_profile_16(transaction_id: int, limit_a: float) -> dict[str, object]:
    return {
        "chargingProfileId": 7,
        "transactionId": transaction_id,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_a, "numberPhases": 3}],
        },
    }


def tx_profile_201(transaction_id: str, limit_w: float) -> dict[str, object]:
    return {
        "id": 7,
        "transactionId": transaction_id,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_w}],
            }
        ],
    }


async def test_v16_station_follows_the_profile_it_receives() -> None:
    async with csms_server() as csms, station(csms, OcppVersion.V16) as sim:
        record = csms.records[sim.id]
        assert record.boots == 1
        await eventually(lambda: (1, "Available") in record.statuses)
        sim.plug_in(Ev(CAR, soc=0.2), "TAG-1")
        await eventually(lambda: (record.latest("Power.Active.Import") or 0) > 11000)
        assert record.started[0]["id_tag"] == "TAG-1"
        await eventually(lambda: (1, "Charging") in record.statuses)
        assert record.latest("Current.Import", "L3") == 16.0
        transaction_id = sim.state().evses[0].transaction_id
        assert transaction_id == "100"

        answer = await csms.stations[sim.id].call(
            call16.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_profile_16(100, 8.0))
        )
        assert answer.status == "Accepted"
        await eventually(lambda: record.latest("Power.Active.Import") == 8.0 * 230 * 3)
        assert record.latest("Current.Import", "L1") == 8.0

        composite = await csms.stations[sim.id].call(
            call16.GetCompositeSchedule(connector_id=1, duration=600, charging_rate_unit="A")
        )
        assert composite.status == "Accepted"
        assert composite.charging_schedule["charging_schedule_period"] == [
            {"start_period": 0, "limit": 8.0, "number_phases": 3}
        ]

        # below 6 A the EVSE suspends the car
        await csms.stations[sim.id].call(
            call16.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_profile_16(100, 4.0))
        )
        await eventually(lambda: (1, "SuspendedEVSE") in record.statuses)
        await eventually(lambda: record.latest("Power.Active.Import") == 0.0)

        await sim.unplug(1)
        await eventually(lambda: len(record.stopped) == 1)
        assert record.stopped[0]["transaction_id"] == 100
        assert record.stopped[0]["reason"] == "EVDisconnected"
        assert record.stopped[0]["meter_stop"] > 0
        await eventually(lambda: record.statuses[-1] == (1, "Available"))


async def test_v201_station_follows_the_profile_it_receives() -> None:
    async with csms_server() as csms, station(csms, OcppVersion.V201) as sim:
        record = csms.records[sim.id]
        sim.plug_in(Ev(CAR, soc=0.2), "TAG-2")
        await eventually(lambda: (record.latest("Power.Active.Import") or 0) > 11000)
        await eventually(lambda: (1, "Occupied") in record.statuses)
        started = record.started[0]
        assert started["id_token"] == {"id_token": "TAG-2", "type": "ISO14443"}
        transaction_id = started["transaction_info"]["transaction_id"]

        answer = await csms.stations[sim.id].call(
            call201.SetChargingProfile(
                evse_id=1, charging_profile=tx_profile_201(transaction_id, 4140.0)
            )
        )
        assert answer.status == "Accepted"
        await eventually(lambda: record.latest("Power.Active.Import") == 4140.0)
        assert record.latest("Current.Import", "L2") == 6.0

        composite = await csms.stations[sim.id].call(
            call201.GetCompositeSchedule(duration=300, evse_id=1, charging_rate_unit="W")
        )
        assert composite.status == "Accepted"
        assert composite.schedule["charging_schedule_period"] == [
            {"start_period": 0, "limit": 4140.0}
        ]

        await sim.unplug(1)
        await eventually(lambda: len(record.stopped) == 1)
        ended = record.stopped[0]
        assert ended["transaction_info"]["stopped_reason"] == "EVDisconnected"
        seq_nos = [e["seq_no"] for e in record.events]
        assert seq_nos == list(range(len(seq_nos)))


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_station_that_rejects_profiles_keeps_charging_at_its_maximum(
    version: OcppVersion,
) -> None:
    async with csms_server() as csms, station(csms, version, rejects_profiles=True) as sim:
        record = csms.records[sim.id]
        sim.plug_in(Ev(CAR, soc=0.2), "TAG-3")
        await eventually(lambda: sim.state().evses[0].transaction_id is not None)
        transaction_id = sim.state().evses[0].transaction_id
        assert transaction_id is not None
        if version is OcppVersion.V16:
            request: object = call16.SetChargingProfile(
                connector_id=1, cs_charging_profiles=tx_profile_16(int(transaction_id), 8.0)
            )
        else:
            request = call201.SetChargingProfile(
                evse_id=1, charging_profile=tx_profile_201(transaction_id, 4140.0)
            )
        answer = await csms.stations[sim.id].call(request)
        assert answer.status == "Rejected"
        await eventually(lambda: (record.latest("Power.Active.Import") or 0) == 11040.0)

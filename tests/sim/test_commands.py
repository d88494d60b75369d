"""The CSMS's commands to a simulated station, over a real WebSocket, both versions."""

from __future__ import annotations

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ems.domain import ConnectorStatus, OcppVersion
from ems.sim.ev import Ev
from tests.sim.csms import csms_server, eventually
from tests.sim.test_chargepoint import CAR, station


async def test_v16_configuration_keys_read_and_change() -> None:
    async with csms_server() as csms, station(csms, OcppVersion.V16, max_stack_level=3) as sim:
        cp = csms.stations[sim.id]
        answer = await cp.call(call16.GetConfiguration(key=["ChargeProfileMaxStackLevel", "Nope"]))
        assert answer.configuration_key == [
            {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"}
        ]
        assert answer.unknown_key == ["Nope"]
        everything = await cp.call(call16.GetConfiguration())
        keys = {item["key"]: item["value"] for item in everything.configuration_key}
        assert keys["ChargingScheduleAllowedChargingRateUnit"] == "Current,Power"
        assert keys["NumberOfConnectors"] == "1"

        async def change(key: str, value: str) -> str:
            result = await cp.call(call16.ChangeConfiguration(key=key, value=value))
            return str(result.status)

        assert await change("MeterValueSampleInterval", "30") == "Accepted"
        assert sim.station.settings.meter_interval_s == 30
        assert await change("MeterValueSampleInterval", "soon") == "Rejected"
        assert await change("ChargeProfileMaxStackLevel", "9") == "Rejected"
        assert await change("MeterValuesSampledData", "Power.Active.Import,SoC") == "Accepted"
        assert await change("MeterValuesSampledData", "Temperature") == "Rejected"
        assert await change("NoSuchKey", "1") == "NotSupported"


async def test_v201_variables_read_and_change() -> None:
    async with csms_server() as csms, station(csms, OcppVersion.V201) as sim:
        cp = csms.stations[sim.id]
        answer = await cp.call(
            call201.GetVariables(
                get_variable_data=[
                    {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "RateUnit"}},
                    {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "Nope"}},
                    {"component": {"name": "Nope"}, "variable": {"name": "Enabled"}},
                ]
            )
        )
        results = answer.get_variable_result
        assert results[0]["attribute_status"] == "Accepted"
        assert results[0]["attribute_value"] == "A,W"
        assert [r["attribute_status"] for r in results[1:]] == [
            "UnknownVariable",
            "UnknownComponent",
        ]
        answer = await cp.call(
            call201.SetVariables(
                set_variable_data=[
                    {
                        "attribute_value": "5",
                        "component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"},
                    },
                    {
                        "attribute_value": "20",
                        "component": {"name": "SmartChargingCtrlr"},
                        "variable": {"name": "ProfileStackLevel"},
                    },
                ]
            )
        )
        statuses = [r["attribute_status"] for r in answer.set_variable_result]
        assert statuses == ["Accepted", "Rejected"]
        assert sim.station.settings.meter_interval_s == 5


async def test_v16_remote_start_and_stop() -> None:
    async with csms_server() as csms, station(csms, OcppVersion.V16) as sim:
        cp, record = csms.stations[sim.id], csms.records[sim.id]
        sim.station.settings.set("AuthorizeRemoteTxRequests", "false")
        answer = await cp.call(call16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1))
        assert answer.status == "Accepted"
        assert record.started == []  # no car yet: it starts when one plugs in
        sim.plug_in(Ev(CAR, soc=0.3), "LOCAL")
        await eventually(lambda: len(record.started) == 1)
        assert record.started[0]["id_tag"] == "REMOTE"
        busy = await cp.call(call16.RemoteStartTransaction(id_tag="OTHER", connector_id=1))
        assert busy.status == "Rejected"
        assert (
            await cp.call(call16.RemoteStopTransaction(transaction_id=999))
        ).status == "Rejected"
        stop = await cp.call(call16.RemoteStopTransaction(transaction_id=100))
        assert stop.status == "Accepted"
        await eventually(lambda: len(record.stopped) == 1)
        assert record.stopped[0]["reason"] == "Remote"
        await eventually(lambda: record.statuses[-1] == (1, "Finishing"))


async def test_v201_request_start_with_a_profile_and_stop() -> None:
    async with csms_server() as csms, station(csms, OcppVersion.V201) as sim:
        cp, record = csms.stations[sim.id], csms.records[sim.id]
        sim.plug_in(Ev(CAR, soc=0.3), "LOCAL", evse_id=None)
        await eventually(lambda: len(record.started) == 1)
        transaction_id = record.started[0]["transaction_info"]["transaction_id"]
        status = await cp.call(call201.GetTransactionStatus(transaction_id=transaction_id))
        assert (status.ongoing_indicator, status.messages_in_queue) == (True, False)
        stop = await cp.call(call201.RequestStopTransaction(transaction_id=transaction_id))
        assert stop.status == "Accepted"
        await eventually(lambda: len(record.stopped) == 1)
        status = await cp.call(call201.GetTransactionStatus(transaction_id=transaction_id))
        assert (status.ongoing_indicator, status.messages_in_queue) == (False, False)
        profile = {
            "id": 3,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}],
                }
            ],
        }
        answer = await cp.call(
            call201.RequestStartTransaction(
                id_token={"id_token": "REMOTE", "type": "Central"},
                remote_start_id=42,
                evse_id=1,
                charging_profile=profile,
            )
        )
        assert answer.status == "Accepted"
        await eventually(lambda: len(record.started) == 2)
        assert record.started[1]["transaction_info"]["remote_start_id"] == 42
        assert record.started[1]["trigger_reason"] == "RemoteStart"
        await eventually(lambda: sim.state().evses[0].current_a == 10.0)


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_station_maximum_is_shared_by_its_evses(version: OcppVersion) -> None:
    async with csms_server() as csms, station(csms, version, evse_count=2) as sim:
        sim.plug_in(Ev(CAR, soc=0.2), "A")
        sim.plug_in(Ev(CAR, soc=0.2), "B")
        await eventually(lambda: sim.state().power_w == 2 * 11040.0)
        schedule = {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13800.0}],
        }
        if version is OcppVersion.V16:
            request: object = call16.SetChargingProfile(
                connector_id=0,
                cs_charging_profiles={
                    "chargingProfileId": 1,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "ChargePointMaxProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": schedule,
                },
            )
        else:
            request = call201.SetChargingProfile(
                evse_id=0,
                charging_profile={
                    "id": 1,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "ChargingStationMaxProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": [{"id": 1, **schedule}],
                },
            )
        assert (await csms.stations[sim.id].call(request)).status == "Accepted"
        state = sim.state()
        assert state.power_w == pytest.approx(13800.0)
        assert [e.current_a for e in state.evses] == pytest.approx([10.0, 10.0])
        if version is OcppVersion.V16:
            cleared = await csms.stations[sim.id].call(call16.ClearChargingProfile(id=1))
        else:
            cleared = await csms.stations[sim.id].call(
                call201.ClearChargingProfile(charging_profile_id=1)
            )
        assert cleared.status == "Accepted"
        assert sim.state().power_w == 2 * 11040.0


async def test_v16_availability_unlock_trigger_and_reset() -> None:
    async with csms_server() as csms, station(csms, OcppVersion.V16) as sim:
        cp, record = csms.stations[sim.id], csms.records[sim.id]
        answer = await cp.call(call16.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert answer.status == "Accepted"
        await eventually(lambda: record.statuses[-1] == (1, "Unavailable"))
        with pytest.raises(ValueError, match="no free EVSE"):
            sim.plug_in(Ev(CAR, soc=0.2), "A")
        await cp.call(call16.ChangeAvailability(connector_id=1, type="Operative"))
        sim.plug_in(Ev(CAR, soc=0.2), "A")
        await eventually(lambda: len(record.started) == 1)
        count = len(record.statuses)
        trigger = await cp.call(call16.TriggerMessage(requested_message="StatusNotification"))
        assert trigger.status == "Accepted"
        await eventually(lambda: len(record.statuses) > count)
        await eventually(lambda: record.statuses[-1] == (1, "Charging"))
        unlock = await cp.call(call16.UnlockConnector(connector_id=1))
        assert unlock.status == "Unlocked"
        await eventually(lambda: len(record.stopped) == 1)
        assert record.stopped[0]["reason"] == "UnlockCommand"
        reset = await cp.call(call16.Reset(type="Hard"))
        assert reset.status == "Accepted"
        # the station drops the connection; it is the fleet that reconnects (test_fleet)
        await eventually(lambda: not sim.connected)
        assert sim.state().evses[0].status is ConnectorStatus.FINISHING

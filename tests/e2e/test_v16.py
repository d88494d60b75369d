"""OCPP 1.6J end to end: a real ocpp.v16 ChargePoint over a real WebSocket to a running ems."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from ems.commands import VariableRef
from ems.domain import (
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
    ResetKind,
)
from tests.clients import connected
from tests.conftest import ADMIN_TOKEN, make_settings, running

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def meter_value(at: datetime, energy_wh: float, power_w: float = 7000.0) -> dict[str, object]:
    return {
        "timestamp": iso(at),
        "sampledValue": [
            {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
            *(
                {"value": "10.1", "measurand": "Current.Import", "unit": "A", "phase": phase}
                for phase in ("L1", "L2", "L3")
            ),
        ],
    }


class Charger(V16ChargePoint):
    """A 1.6 charge point that answers ems's commands the way a real one would."""

    profiles: list[dict[str, object]]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.profiles = []
        self.configuration = {"HeartbeatInterval": "300", "ChargeProfileMaxStackLevel": "8"}

    @on(Action.reset)
    async def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @on(Action.remote_start_transaction)
    async def on_remote_start(
        self, id_tag: str, **kw: object
    ) -> call_result.RemoteStartTransaction:
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.set_charging_profile)
    async def on_set_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, object]
    ) -> call_result.SetChargingProfile:
        self.profiles.append(cs_charging_profiles)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    async def on_clear_profile(self, **kw: object) -> call_result.ClearChargingProfile:
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    async def on_composite(
        self, connector_id: int, duration: int, **kw: object
    ) -> call_result.GetCompositeSchedule:
        return call_result.GetCompositeSchedule(status="Accepted", connector_id=connector_id)

    @on(Action.change_availability)
    async def on_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        return call_result.ChangeAvailability(status="Scheduled")

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    async def on_trigger(self, requested_message: str, **kw: object) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.get_configuration)
    async def on_get_configuration(self, **kw: object) -> call_result.GetConfiguration:
        keys = kw.get("key") or list(self.configuration)
        return call_result.GetConfiguration(
            configuration_key=[
                {
                    "key": key,
                    "readonly": key != "HeartbeatInterval",
                    "value": self.configuration[key],
                }
                for key in keys  # type: ignore[union-attr]
            ]
        )

    @on(Action.change_configuration)
    async def on_change_configuration(
        self, key: str, value: str
    ) -> call_result.ChangeConfiguration:
        if key == "Locked":
            return call_result.ChangeConfiguration(status="Rejected")
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.send_local_list)
    async def on_send_local_list(self, **kw: object) -> call_result.SendLocalList:
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    async def on_local_list_version(self) -> call_result.GetLocalListVersion:
        return call_result.GetLocalListVersion(list_version=7)

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> call_result.ClearCache:
        return call_result.ClearCache(status="Accepted")


def settings_for(database_url: str, **sections: object) -> object:
    return make_settings(
        database_url,
        charge_points=[{"id": "CP16", "security_profile": 0}],
        id_tokens=[{"id": "TAG-OK"}, {"id": "TAG-BLOCKED", "status": "Blocked"}],
        **sections,
    )


async def test_session_lifecycle_ends_in_api_with_right_energy(database_url: str) -> None:
    async with (
        running(settings_for(database_url)) as server,
        connected(Charger, server.port, "CP16", subprotocol="ocpp1.6") as cp,
    ):
        boot = await cp.call(
            call.BootNotification(charge_point_model="M1", charge_point_vendor="ACME")
        )
        assert boot.status == "Accepted" and boot.interval == 60
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
        )
        auth = await cp.call(call.Authorize(id_tag="TAG-OK"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=iso(T0)
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        for minute in (5, 10):
            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=start.transaction_id,
                    meter_value=[meter_value(T0 + timedelta(minutes=minute), 1000 + 600 * minute)],
                )
            )
        stop = await cp.call(
            call.StopTransaction(
                meter_stop=8500,
                timestamp=iso(T0 + timedelta(minutes=15)),
                transaction_id=start.transaction_id,
                id_tag="TAG-OK",
                reason="EVDisconnected",
            )
        )
        assert stop.id_tag_info["status"] == "Accepted"

        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", headers=headers
        ) as api:
            listing = (
                await api.get("/api/v1/transactions", params={"charge_point_id": "CP16"})
            ).json()
            assert len(listing) == 1
            detail = (await api.get(f"/api/v1/transactions/{listing[0]['id']}")).json()
            cps = (await api.get("/api/v1/charge-points/CP16")).json()
    assert detail["transaction_id"] == str(start.transaction_id)
    assert detail["energy_kwh"] == pytest.approx(7.5)
    assert detail["stop_reason"] == "EVDisconnected"
    assert len(detail["samples"]) == 2 * 5
    assert {s["phase"] for s in detail["samples"]} == {None, "L1", "L2", "L3"}
    assert cps["vendor"] == "ACME" and cps["model"] == "M1"


async def test_blocked_token_is_answered_blocked(sqlite_url: str) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(Charger, server.port, "CP16", subprotocol="ocpp1.6") as cp,
    ):
        await cp.call(call.BootNotification(charge_point_model="M1", charge_point_vendor="ACME"))
        assert (await cp.call(call.Authorize(id_tag="TAG-BLOCKED"))).id_tag_info[
            "status"
        ] == "Blocked"
        assert (await cp.call(call.Authorize(id_tag="NOBODY"))).id_tag_info["status"] == "Invalid"


async def test_every_command_round_trips(sqlite_url: str) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(Charger, server.port, "CP16", subprotocol="ocpp1.6") as cp,
    ):
        await cp.call(call.BootNotification(charge_point_model="M1", charge_point_vendor="ACME"))
        commands = server.ems.csms.commands("CP16")
        profile = ChargingProfile(
            id=3,
            stack_level=1,
            purpose=ChargingProfilePurpose.TX_DEFAULT,
            schedule=ChargingSchedule(
                unit=ChargingRateUnit.A,
                periods=(ChargingSchedulePeriod(0, 16.04, 3), ChargingSchedulePeriod(600, 8.0)),
            ),
        )
        from ems.domain import IdToken

        assert (await commands.reset(ResetKind.HARD)).status == "Accepted"
        assert (await commands.remote_start(IdToken("TAG-OK"), evse_id=1)).status == "Accepted"
        assert (await commands.remote_stop("1")).status == "Accepted"
        assert (await commands.set_charging_profile(1, profile)).status == "Accepted"
        assert cp.profiles[0]["charging_schedule"]["charging_schedule_period"][0] == {  # type: ignore[index]
            "start_period": 0,
            "limit": 16.0,
            "number_phases": 3,
        }
        assert (await commands.clear_charging_profile(profile_id=3)).status == "Accepted"
        assert (await commands.get_composite_schedule(1, 3600)).status == "Accepted"
        assert (await commands.change_availability(1, operative=False)).status == "Scheduled"
        assert (await commands.unlock_connector(1)).status == "Unlocked"
        assert (await commands.trigger_message("StatusNotification", 1)).status == "Accepted"
        config = await commands.get_variables([VariableRef("HeartbeatInterval")])
        assert config.payload["configurationKey"][0]["value"] == "300"
        changed = await commands.set_variables(
            [(VariableRef("HeartbeatInterval"), "120"), (VariableRef("Locked"), "1")]
        )
        assert changed.status == "Mixed"
        assert (await commands.get_base_report()).payload["configurationKey"]
        assert (await commands.send_local_list(1, [])).status == "Accepted"
        assert (await commands.get_local_list_version()).payload["listVersion"] == 7
        assert (await commands.clear_cache()).status == "Accepted"

        await server.ems.recorder.barrier()
        store = server.ems.store
        profiles = store.profiles_of("CP16")
        settings = {row.variable: row.value for row in store.settings_of("CP16")}
    assert [p.status for p in profiles] == ["Accepted"]
    assert settings["HeartbeatInterval"] == "120"
    assert settings["ChargeProfileMaxStackLevel"] == "8"


async def test_meter_values_without_transaction_id_attach_to_running_session(
    sqlite_url: str,
) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(Charger, server.port, "CP16", subprotocol="ocpp1.6") as cp,
    ):
        await cp.call(call.BootNotification(charge_point_model="M1", charge_point_vendor="ACME"))
        start = await cp.call(
            call.StartTransaction(connector_id=2, id_tag="TAG-OK", meter_start=0, timestamp=iso(T0))
        )
        await cp.call(
            call.MeterValues(
                connector_id=2, meter_value=[meter_value(T0 + timedelta(minutes=1), 250)]
            )
        )
        await asyncio.sleep(0)
        tx = server.ems.csms.transaction("CP16", str(start.transaction_id))
        assert tx is not None and tx.energy_wh == 250

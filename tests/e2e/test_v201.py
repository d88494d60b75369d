"""OCPP 2.0.1 end to end: a real ocpp.v201 ChargePoint over a real WebSocket to a running ems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v21 import ChargePoint as V21ChargePoint
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as call_result21
from ocpp.v21.enums import Action as Action21
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from ems.commands import VariableRef
from ems.domain import (
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
    IdToken,
    ResetKind,
)
from ems.events import ChargingNeedsReported
from tests.clients import connected
from tests.conftest import ADMIN_TOKEN, make_settings, running

T0 = datetime(2026, 11, 4, 7, 0, tzinfo=UTC)
EVSE = {"id": 1, "connector_id": 1}
TOKEN = {"id_token": "TAG-201", "type": "ISO14443"}


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def register(at: datetime, wh: float, context: str = "Sample.Periodic") -> dict[str, Any]:
    return {
        "timestamp": iso(at),
        "sampled_value": [
            {
                "value": wh / 1000,
                "measurand": "Energy.Active.Import.Register",
                "context": context,
                "unit_of_measure": {"unit": "kWh", "multiplier": 0},
            },
            {
                "value": 11.0,
                "measurand": "Power.Active.Import",
                "context": context,
                "unit_of_measure": {"unit": "W", "multiplier": 3},
            },
        ],
    }


def tx_event(kind: str, seq: int, at: datetime, wh: float, **extra: Any) -> call.TransactionEvent:
    context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
        kind, "Sample.Periodic"
    )
    return call.TransactionEvent(
        event_type=kind,
        timestamp=iso(at),
        trigger_reason=extra.pop("trigger_reason", "MeterValuePeriodic"),
        seq_no=seq,
        transaction_info={"transaction_id": "tx-201-a", **extra.pop("info", {})},
        evse=EVSE,
        meter_value=[register(at, wh, context)],
        **extra,
    )


class Station(V201ChargePoint):
    """A 2.0.1 charging station answering ems's commands."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: dict[str, dict[str, Any]] = {}

    def _accept(self, action: str, payload: dict[str, Any]) -> None:
        self.received[action] = payload

    @on(Action.request_start_transaction)
    async def on_start(self, **kw: Any) -> call_result.RequestStartTransaction:
        self._accept("RequestStartTransaction", kw)
        return call_result.RequestStartTransaction(status="Accepted")

    @on(Action.request_stop_transaction)
    async def on_stop(self, **kw: Any) -> call_result.RequestStopTransaction:
        self._accept("RequestStopTransaction", kw)
        return call_result.RequestStopTransaction(status="Accepted")

    @on(Action.set_charging_profile)
    async def on_profile(self, **kw: Any) -> call_result.SetChargingProfile:
        self._accept("SetChargingProfile", kw)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    async def on_clear(self, **kw: Any) -> call_result.ClearChargingProfile:
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    async def on_composite(self, **kw: Any) -> call_result.GetCompositeSchedule:
        return call_result.GetCompositeSchedule(status="Rejected")

    @on(Action.change_availability)
    async def on_availability(self, **kw: Any) -> call_result.ChangeAvailability:
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.reset)
    async def on_reset(self, **kw: Any) -> call_result.Reset:
        self._accept("Reset", kw)
        return call_result.Reset(status="Scheduled")

    @on(Action.unlock_connector)
    async def on_unlock(self, **kw: Any) -> call_result.UnlockConnector:
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    async def on_trigger(self, **kw: Any) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.get_variables)
    async def on_get_variables(
        self, get_variable_data: list[dict[str, Any]]
    ) -> call_result.GetVariables:
        return call_result.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": "60",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )

    @on(Action.set_variables)
    async def on_set_variables(
        self, set_variable_data: list[dict[str, Any]]
    ) -> call_result.SetVariables:
        return call_result.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in set_variable_data
            ]
        )

    @on(Action.get_base_report)
    async def on_base_report(self, **kw: Any) -> call_result.GetBaseReport:
        return call_result.GetBaseReport(status="Accepted")

    @on(Action.send_local_list)
    async def on_local_list(self, **kw: Any) -> call_result.SendLocalList:
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    async def on_local_list_version(self) -> call_result.GetLocalListVersion:
        return call_result.GetLocalListVersion(version_number=4)

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> call_result.ClearCache:
        return call_result.ClearCache(status="Accepted")


def settings_for(url: str) -> Any:
    return make_settings(
        url, charge_points=[{"id": "CS201", "security_profile": 0}], id_tokens=[{"id": "TAG-201"}]
    )


async def boot(cs: Station) -> None:
    result = await cs.call(
        call.BootNotification(
            charging_station={"model": "Wallbox 22", "vendor_name": "ACME", "serial_number": "S-1"},
            reason="PowerUp",
        )
    )
    assert result.status == "Accepted"


async def test_transaction_events_end_in_api_with_right_energy(database_url: str) -> None:
    async with (
        running(settings_for(database_url)) as server,
        connected(Station, server.port, "CS201", subprotocol="ocpp2.0.1") as cs,
    ):
        await boot(cs)
        await cs.call(
            call.StatusNotification(
                timestamp=iso(T0), connector_status="Occupied", evse_id=1, connector_id=1
            )
        )
        auth = await cs.call(call.Authorize(id_token=TOKEN))
        assert auth.id_token_info["status"] == "Accepted"
        started = await cs.call(
            tx_event(
                "Started",
                0,
                T0,
                10_000,
                trigger_reason="RemoteStart",
                id_token=TOKEN,
                info={"remote_start_id": 42},
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        await cs.call(tx_event("Updated", 1, T0 + timedelta(minutes=30), 15_500))
        ended = tx_event(
            "Ended",
            2,
            T0 + timedelta(hours=1),
            21_000,
            trigger_reason="EVDeparted",
            info={"stopped_reason": "EVDisconnected"},
        )
        await cs.call(ended)
        await cs.call(ended)  # stations resend when they miss the answer

        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", headers=headers
        ) as api:
            listing = (
                await api.get("/api/v1/transactions", params={"charge_point_id": "CS201"})
            ).json()
            assert len(listing) == 1
            detail = (await api.get(f"/api/v1/transactions/{listing[0]['id']}")).json()
        stored = server.ems.store.get_transaction(detail["id"])
    assert stored is not None and stored.remote_start_id == 42
    assert detail["transaction_id"] == "tx-201-a"
    assert detail["energy_kwh"] == pytest.approx(11.0)
    assert detail["stop_reason"] == "EVDisconnected"
    powers = [s["value"] for s in detail["samples"] if s["measurand"] == "Power.Active.Import"]
    assert powers == [11_000.0] * 3
    assert len(detail["samples"]) == 6


async def test_events_out_of_order_and_offline_make_one_transaction(sqlite_url: str) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(Station, server.port, "CS201", subprotocol="ocpp2.0.1") as cs,
    ):
        await boot(cs)
        await cs.call(tx_event("Updated", 1, T0 + timedelta(minutes=10), 12_000, offline=True))
        await cs.call(tx_event("Started", 0, T0, 10_000, offline=True, id_token=TOKEN))
        await cs.call(tx_event("Ended", 2, T0 + timedelta(minutes=20), 13_000))
        await server.ems.recorder.barrier()
        txs = server.ems.store.list_transactions(charge_point_id="CS201")
    assert len(txs) == 1
    tx = txs[0]
    assert tx.started_at == T0 and tx.offline and not tx.active
    assert tx.energy_wh == pytest.approx(3000)


async def test_every_command_round_trips(sqlite_url: str) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(Station, server.port, "CS201", subprotocol="ocpp2.0.1") as cs,
    ):
        await boot(cs)
        commands = server.ems.csms.commands("CS201")
        profile = ChargingProfile(
            id=9,
            stack_level=2,
            purpose=ChargingProfilePurpose.TX,
            transaction_id="tx-201-a",
            schedule=ChargingSchedule(
                unit=ChargingRateUnit.W, periods=(ChargingSchedulePeriod(0, 7400.0),)
            ),
        )
        assert (await commands.remote_start(IdToken("TAG-201"), evse_id=1)).status == "Accepted"
        assert cs.received["RequestStartTransaction"]["id_token"] == TOKEN
        assert (await commands.remote_stop("tx-201-a")).status == "Accepted"
        assert (await commands.set_charging_profile(1, profile)).status == "Accepted"
        sent = cs.received["SetChargingProfile"]
        assert sent["evse_id"] == 1 and sent["charging_profile"]["transaction_id"] == "tx-201-a"
        assert (await commands.clear_charging_profile(profile_id=9)).status == "Accepted"
        assert (await commands.get_composite_schedule(1, 3600)).status == "Rejected"
        assert (await commands.change_availability(0, operative=True)).status == "Accepted"
        assert (await commands.reset(ResetKind.SOFT)).status == "Scheduled"
        assert cs.received["Reset"]["type"] == "OnIdle"
        assert (await commands.unlock_connector(1, 1)).status == "Unlocked"
        assert (await commands.trigger_message("TransactionEvent", 1)).status == "Accepted"
        heartbeat = VariableRef(component="OCPPCommCtrlr", variable="HeartbeatInterval")
        got = await commands.get_variables([heartbeat])
        assert got.payload["getVariableResult"][0]["attributeValue"] == "60"
        assert (await commands.set_variables([(heartbeat, "120")])).status == "Accepted"
        assert (await commands.get_base_report()).status == "Accepted"
        assert (await commands.send_local_list(4, [])).status == "Accepted"
        assert (await commands.get_local_list_version()).payload["versionNumber"] == 4
        assert (await commands.clear_cache()).status == "Accepted"
        await server.ems.recorder.barrier()
        settings = {
            (r.component, r.variable): r.value for r in server.ems.store.settings_of("CS201")
        }
        assert settings[("OCPPCommCtrlr", "HeartbeatInterval")] == "120"
        assert [p.status for p in server.ems.store.profiles_of("CS201")] == ["Accepted"]


async def test_reports_and_notifications_are_kept(sqlite_url: str) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(Station, server.port, "CS201", subprotocol="ocpp2.0.1") as cs,
    ):
        await boot(cs)
        needs: list[ChargingNeedsReported] = []
        server.ems.csms.subscribe(
            lambda e: needs.append(e) if isinstance(e, ChargingNeedsReported) else None
        )
        await cs.call(
            call.NotifyReport(
                request_id=1,
                generated_at=iso(T0),
                seq_no=0,
                report_data=[
                    {
                        "component": {"name": "SmartChargingCtrlr"},
                        "variable": {"name": "RateUnit"},
                        "variable_attribute": [
                            {"type": "Actual", "value": "A,W", "mutability": "ReadOnly"}
                        ],
                    }
                ],
            )
        )
        answer = await cs.call(
            call.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "departure_time": iso(T0 + timedelta(hours=8)),
                    "ac_charging_parameters": {
                        "energy_amount": 30_000,
                        "ev_min_current": 6,
                        "ev_max_current": 32,
                        "ev_max_voltage": 400,
                    },
                },
            )
        )
        assert answer.status == "Accepted"
        await cs.call(call.SecurityEventNotification(type="FirmwareUpdated", timestamp=iso(T0)))
        await cs.call(call.FirmwareStatusNotification(status="Installed"))
        await cs.call(call.LogStatusNotification(status="Uploaded"))
        await cs.call(
            call.NotifyEvent(
                generated_at=iso(T0),
                seq_no=0,
                event_data=[
                    {
                        "event_id": 1,
                        "timestamp": iso(T0),
                        "trigger": "Alerting",
                        "actual_value": "true",
                        "event_notification_type": "HardWiredNotification",
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Problem"},
                    }
                ],
            )
        )
        await cs.call(call.MeterValues(evse_id=0, meter_value=[register(T0, 5_000)]))
        await server.ems.recorder.barrier()
        store = server.ems.store
        kinds = {e.kind for e in store.events_of("CS201")}
        setting = next(r for r in store.settings_of("CS201") if r.variable == "RateUnit")
    assert kinds >= {
        "ev_charging_needs",
        "security_event",
        "firmware_status",
        "log_status",
        "notify_event",
    }
    assert setting.component == "SmartChargingCtrlr" and setting.value == "A,W" and setting.readonly
    assert needs and needs[0].energy_amount_wh == 30_000
    assert needs[0].departure_time == T0 + timedelta(hours=8)


class Station21(V21ChargePoint):
    """An OCPP 2.1 station: ems speaks 2.1 with the 2.0.1 messages it already knows."""

    @on(Action21.set_charging_profile)
    async def on_profile(self, **kw: Any) -> call_result21.SetChargingProfile:
        return call_result21.SetChargingProfile(status="Accepted")


async def test_ocpp21_station_is_served_with_the_same_messages(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, charge_points=[{"id": "CS21", "security_profile": 0}])
    async with (
        running(settings) as server,
        connected(Station21, server.port, "CS21", subprotocol="ocpp2.1") as cs,
    ):
        boot = await cs.call(
            call21.BootNotification(
                charging_station={"model": "W", "vendor_name": "ACME"}, reason="PowerUp"
            )
        )
        assert boot.status == "Accepted"
        await cs.call(
            call21.TransactionEvent(
                event_type="Started",
                timestamp=iso(T0),
                trigger_reason="CablePluggedIn",
                seq_no=0,
                transaction_info={"transaction_id": "t21"},
                evse=EVSE,
                meter_value=[register(T0, 1000, "Transaction.Begin")],
            )
        )
        profile = ChargingProfile(
            id=1,
            stack_level=0,
            purpose=ChargingProfilePurpose.TX,
            transaction_id="t21",
            schedule=ChargingSchedule(
                unit=ChargingRateUnit.A, periods=(ChargingSchedulePeriod(0, 16.0, 3),)
            ),
        )
        commands = server.ems.csms.commands("CS21")
        assert (await commands.set_charging_profile(1, profile)).status == "Accepted"
        assert commands.version.value == "ocpp2.1"
        tx = server.ems.csms.transaction("CS21", "t21")
        assert tx is not None and tx.meter_start_wh == 1000

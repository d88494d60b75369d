"""OCPP 2.0.1 side of a simulated station: the ``ocpp.v201`` client ChargePoint with its handlers.

Each EVSE has one connector (1). StatusNotification carries only Available/Occupied/Unavailable;
the finer state of a running transaction (Charging, SuspendedEV, SuspendedEVSE) goes in a
TransactionEvent Updated with trigger ChargingStateChanged. Meter values during a transaction
are TransactionEvent Updated (MeterValuePeriodic) with a sequence number per transaction. The
configuration is exposed as device-model variables (:data:`ems.sim.settings.VARIABLES_201`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from ems.domain import ChargingProfilePurpose, ChargingRateUnit, ConnectorStatus
from ems.ocpp.translate import format_time
from ems.sim.chargepoint import BootAnswer, StopReason, TxEnd
from ems.sim.settings import COMPONENTS_201, VARIABLES_201, rate_units_16, rate_units_201
from ems.sim.station import Evse, Reading
from ems.sim.wire import (
    StationConnection,
    UnsupportedProfile,
    profile_201,
    purpose_of,
    schedule_payload,
    time_text,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

_TRIGGERABLE = (
    "BootNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
    "TransactionEvent",
)
_CHARGING_STATE = {
    ConnectorStatus.CHARGING: "Charging",
    ConnectorStatus.SUSPENDED_EV: "SuspendedEV",
    ConnectorStatus.SUSPENDED_EVSE: "SuspendedEVSE",
    ConnectorStatus.PREPARING: "EVConnected",
    ConnectorStatus.FINISHING: "EVConnected",
}
# StopReason -> (triggerReason, stoppedReason)
_ENDED = {
    StopReason.EV_DISCONNECTED: ("EVCommunicationLost", "EVDisconnected"),
    StopReason.LOCAL: ("StopAuthorized", "Local"),
    StopReason.REMOTE: ("RemoteStop", "Remote"),
    StopReason.HARD_RESET: ("ResetCommand", "ImmediateReset"),
    StopReason.SOFT_RESET: ("ResetCommand", "Reboot"),
    StopReason.DEAUTHORIZED: ("Deauthorized", "DeAuthorized"),
    StopReason.UNLOCK_COMMAND: ("UnlockCommand", "Other"),
}
_RATE_UNIT = "ChargingScheduleAllowedChargingRateUnit"


def occupancy(status: ConnectorStatus) -> str:
    """The 2.0.1 connector status of a (1.6-precise) status."""
    if status in (ConnectorStatus.AVAILABLE, ConnectorStatus.UNAVAILABLE):
        return status.value
    return "Occupied"


def meter_value(readings: list[Reading] | tuple[Reading, ...], at: datetime, context: str) -> dict:
    sampled = []
    for reading in readings:
        item: dict[str, Any] = {
            "value": reading.value,
            "measurand": reading.measurand,
            "context": context,
            "unit_of_measure": {"unit": reading.unit},
        }
        if reading.phase is not None:
            item["phase"] = reading.phase
        if reading.measurand == "SoC":
            item["location"] = "EV"
        sampled.append(item)
    return {"timestamp": format_time(at), "sampled_value": sampled}


class Wire201(StationConnection, ChargePoint):
    """A 2.0.1 station on one connection."""

    # ---- outgoing --------------------------------------------------------------------------

    async def boot(self, reason: str) -> BootAnswer:
        config = self.sim.config
        answer = await self._call(
            call.BootNotification(
                charging_station={
                    "model": config.model,
                    "vendor_name": config.vendor,
                    "serial_number": config.id[:25],
                    "firmware_version": "sim-1.0",
                },
                reason=reason,
            )
        )
        if answer is None:
            return BootAnswer("Rejected", 60)
        return BootAnswer(answer.status, int(answer.interval))

    async def heartbeat(self) -> None:
        await self._call(call.Heartbeat())

    async def station_status(self) -> None:
        """2.0.1 has no station-wide connector status."""

    async def status(self, evse: Evse, old: ConnectorStatus | None) -> None:
        new = evse.status
        if old is None or occupancy(old) != occupancy(new):
            await self._call(
                call.StatusNotification(
                    timestamp=format_time(self.sim.clock()),
                    connector_status=occupancy(new),
                    evse_id=evse.evse_id,
                    connector_id=1,
                )
            )
        if old is None or evse.transaction_id is None:
            return
        if _CHARGING_STATE.get(old) != _CHARGING_STATE.get(new):
            await self._transaction_event(evse, "Updated", "ChargingStateChanged")

    async def _transaction_event(
        self,
        evse: Evse,
        event_type: str,
        trigger_reason: str,
        meter_values: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> Any:
        assert evse.transaction_id is not None
        info: dict[str, Any] = {
            "transaction_id": evse.transaction_id,
            "charging_state": _CHARGING_STATE.get(evse.status, "EVConnected"),
        }
        if evse.remote_start_id is not None and event_type == "Started":
            info["remote_start_id"] = evse.remote_start_id
        return await self._call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=format_time(self.sim.clock()),
                trigger_reason=trigger_reason,
                seq_no=evse.next_seq_no(),
                transaction_info=info,
                meter_value=meter_values,
                evse={"id": evse.evse_id, "connector_id": 1},
                **extra,
            )
        )

    async def authorize(self, id_token: str) -> bool:
        answer = await self._call(
            call.Authorize(id_token={"id_token": id_token, "type": "ISO14443"})
        )
        return answer is not None and answer.id_token_info.get("status") == "Accepted"

    async def start_transaction(self, evse: Evse, now: datetime) -> bool:
        evse.transaction_id = str(uuid.uuid4())
        evse.tx_started_at = now
        evse.seq_no = 0
        remote = evse.remote_start_id is not None
        token = evse.id_token or ""
        readings = self.station.readings(evse, ("Energy.Active.Import.Register",))
        answer = await self._transaction_event(
            evse,
            "Started",
            "RemoteStart" if remote else "Authorized",
            [meter_value(readings, now, "Transaction.Begin")],
            id_token={"id_token": token, "type": "ISO14443"},
        )
        if answer is None:
            return False
        info = answer.id_token_info or {"status": "Accepted"}
        return bool(info.get("status") == "Accepted")

    async def meter_values(self, evse: Evse, readings: list[Reading], now: datetime) -> None:
        await self._transaction_event(
            evse, "Updated", "MeterValuePeriodic", [meter_value(readings, now, "Sample.Periodic")]
        )

    async def stop_transaction(self, end: TxEnd) -> None:
        trigger, stopped = _ENDED[end.reason]
        await self._call(
            call.TransactionEvent(
                event_type="Ended",
                timestamp=format_time(end.timestamp),
                trigger_reason=trigger,
                seq_no=end.seq_no,
                transaction_info={"transaction_id": end.transaction_id, "stopped_reason": stopped},
                meter_value=[meter_value(end.readings, end.timestamp, "Transaction.End")],
                offline=end.offline or None,
                evse={"id": end.evse_id, "connector_id": 1},
            )
        )

    # ---- smart charging --------------------------------------------------------------------

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **extra: Any
    ) -> call_result.SetChargingProfile:
        try:
            profile = profile_201(charging_profile)
        except UnsupportedProfile as error:
            return call_result.SetChargingProfile(status="Rejected", status_info=_info(error))
        refusal = self.station.check_profile(evse_id, profile)
        tx_purpose = profile.purpose is ChargingProfilePurpose.TX
        if refusal is None and tx_purpose and profile.transaction_id is None:
            refusal = "a TxProfile must name its transaction"
        if refusal is not None:
            log.info("%s: SetChargingProfile rejected: %s", self.id, refusal)
            return call_result.SetChargingProfile(status="Rejected", status_info=_info(refusal))
        self.station.install_profile(evse_id, profile, self.sim.clock())
        self.sim.update()
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **extra: Any,
    ) -> call_result.ClearChargingProfile:
        criteria = charging_profile_criteria or {}
        purpose_word = criteria.get("charging_profile_purpose")
        purpose = None
        if purpose_word is not None:
            try:
                purpose = purpose_of(purpose_word)
            except UnsupportedProfile:
                return call_result.ClearChargingProfile(status="Unknown")
        removed = self.station.clear_profiles(
            self.sim.clock(),
            profile_id=charging_profile_id,
            evse_id=criteria.get("evse_id"),
            purpose=purpose,
            stack_level=criteria.get("stack_level"),
        )
        self.sim.update()
        return call_result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **extra: Any
    ) -> call_result.GetCompositeSchedule:
        unit = ChargingRateUnit(charging_rate_unit) if charging_rate_unit else None
        if unit is not None and unit not in self.sim.config.rate_units:
            return call_result.GetCompositeSchedule(status="Rejected")
        try:
            schedule = self.station.composite(evse_id, duration, unit, self.sim.clock())
        except ValueError as error:
            return call_result.GetCompositeSchedule(status="Rejected", status_info=_info(error))
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": time_text(schedule),
                **schedule_payload(schedule),
            },
        )

    # ---- transactions ----------------------------------------------------------------------

    @on(Action.request_start_transaction)
    def on_request_start_transaction(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        evse_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **extra: Any,
    ) -> call_result.RequestStartTransaction:
        profile = None
        if charging_profile is not None:
            try:
                profile = profile_201(charging_profile)
            except UnsupportedProfile:
                return call_result.RequestStartTransaction(status="Rejected")
            if profile.purpose is not ChargingProfilePurpose.TX:
                return call_result.RequestStartTransaction(status="Rejected")
        accepted = self.sim.remote_start(id_token["id_token"], evse_id, profile, remote_start_id)
        return call_result.RequestStartTransaction(status="Accepted" if accepted else "Rejected")

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(
        self, transaction_id: str, **extra: Any
    ) -> call_result.RequestStopTransaction:
        accepted = self.sim.remote_stop(transaction_id)
        return call_result.RequestStopTransaction(status="Accepted" if accepted else "Rejected")

    @on(Action.get_transaction_status)
    def on_get_transaction_status(
        self, transaction_id: str | None = None, **extra: Any
    ) -> call_result.GetTransactionStatus:
        """E14: whether the transaction still runs here; the simulator queues nothing."""
        if transaction_id is None:
            return call_result.GetTransactionStatus(messages_in_queue=False)
        running = any(e.transaction_id == transaction_id for e in self.station.evses.values())
        return call_result.GetTransactionStatus(
            messages_in_queue=False, ongoing_indicator=running
        )

    # ---- device model ----------------------------------------------------------------------

    def _lookup(self, component: dict[str, Any], variable: dict[str, Any]) -> tuple[str, str]:
        """(status, 1.6 key) of a component/variable; the key is empty unless Accepted."""
        name = component.get("name", "")
        key = VARIABLES_201.get((name, variable.get("name", "")))
        if key is not None:
            return "Accepted", key
        if name not in COMPONENTS_201:
            return "UnknownComponent", ""
        return "UnknownVariable", ""

    @on(Action.get_variables)
    def on_get_variables(
        self, get_variable_data: list[dict[str, Any]], **extra: Any
    ) -> call_result.GetVariables:
        results = []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            status, key = self._lookup(component, variable)
            result: dict[str, Any] = {"component": component, "variable": variable}
            if status == "Accepted" and item.get("attribute_type", "Actual") != "Actual":
                status = "NotSupportedAttributeType"
            if status == "Accepted":
                setting = self.station.settings.get(key)
                assert setting is not None
                value = setting.value
                result["attribute_value"] = rate_units_201(value) if key == _RATE_UNIT else value
            result["attribute_status"] = status
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(
        self, set_variable_data: list[dict[str, Any]], **extra: Any
    ) -> call_result.SetVariables:
        results = []
        for item in set_variable_data:
            component, variable = item["component"], item["variable"]
            status, key = self._lookup(component, variable)
            if status == "Accepted" and item.get("attribute_type", "Actual") != "Actual":
                status = "NotSupportedAttributeType"
            if status == "Accepted":
                value = str(item["attribute_value"])
                if key == _RATE_UNIT:
                    value = rate_units_16(value)
                result = self.station.settings.set(key, value)
                status = "Accepted" if result.value == "Accepted" else "Rejected"
            results.append(
                {"attribute_status": status, "component": component, "variable": variable}
            )
        return call_result.SetVariables(set_variable_result=results)

    # ---- operations ------------------------------------------------------------------------

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **extra: Any) -> call_result.Reset:
        if evse_id is not None:
            return call_result.Reset(status="Rejected")
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str, evse_id: int | None = None, **extra: Any) -> None:
        if evse_id is None:
            reason = StopReason.HARD_RESET if type == "Immediate" else StopReason.SOFT_RESET
            await self.sim.reset(reason)

    @on(Action.change_availability)
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **extra: Any
    ) -> call_result.ChangeAvailability:
        evse_id = (evse or {}).get("id", 0)
        if evse_id and evse_id not in self.station.evses:
            return call_result.ChangeAvailability(status="Rejected")
        targets = [e for e in self.station.evses.values() if evse_id in (0, e.evse_id)]
        operative = operational_status == "Operative"
        for target in targets:
            target.operative = operative
        self.sim.update()
        busy = any(t.transaction_id is not None for t in targets)
        status = "Scheduled" if busy and not operative else "Accepted"
        return call_result.ChangeAvailability(status=status)

    @on(Action.unlock_connector)
    def on_unlock_connector(
        self, evse_id: int, connector_id: int, **extra: Any
    ) -> call_result.UnlockConnector:
        evse = self.station.evses.get(evse_id)
        if evse is None or connector_id != 1:
            return call_result.UnlockConnector(status="UnknownConnector")
        if evse.transaction_id is not None:
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **extra: Any
    ) -> call_result.TriggerMessage:
        if requested_message not in _TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        evse_id = (evse or {}).get("id")
        if evse_id and evse_id not in self.station.evses:
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def after_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        evse_id = (evse or {}).get("id")
        targets = [e for e in self.station.evses.values() if evse_id in (None, 0, e.evse_id)]
        if requested_message == "BootNotification":
            await self.boot("Triggered")
        elif requested_message == "Heartbeat":
            await self.heartbeat()
        elif requested_message == "MeterValues":
            await self.sim.send_meter_values(self, evse_id or None)
        elif requested_message == "StatusNotification":
            for target in targets:
                await self.status(target, None)
        elif requested_message == "TransactionEvent":
            for target in targets:
                if target.transaction_id is not None:
                    await self._transaction_event(target, "Updated", "Trigger")


def _info(reason: object) -> dict[str, str]:
    """A statusInfo with the reason (reasonCode is at most 20 characters)."""
    return {"reason_code": "Rejected", "additional_info": str(reason)[:512]}

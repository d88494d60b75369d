"""OCPP 1.6J side of a simulated station: the ``ocpp.v16`` client ChargePoint with its handlers.

Outgoing messages are sent as the station asks (:class:`~ems.sim.chargepoint.Wire`); incoming
commands are answered from the station's state, and any follow-up message is spawned as a task.
A 1.6 connector N is the station's EVSE N; connector 0 is the station as a whole.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from ems.domain import ChargingProfilePurpose, ChargingRateUnit, ConnectorStatus
from ems.ocpp.translate import format_time
from ems.sim.chargepoint import BootAnswer, StopReason, TxEnd
from ems.sim.station import Evse, Reading
from ems.sim.wire import (
    StationConnection,
    UnsupportedProfile,
    profile_16,
    schedule_payload,
    time_text,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

_TRIGGERABLE = ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification")


def sampled_values(
    readings: list[Reading] | tuple[Reading, ...], context: str
) -> list[dict[str, str]]:
    out = []
    for reading in readings:
        item = {
            "value": str(reading.value),
            "measurand": reading.measurand,
            "unit": reading.unit,
            "context": context,
        }
        if reading.phase is not None:
            item["phase"] = reading.phase
        if reading.measurand == "SoC":
            item["location"] = "EV"
        out.append(item)
    return out


class Wire16(StationConnection, ChargePoint):
    """A 1.6 station on one connection."""

    # ---- outgoing --------------------------------------------------------------------------

    async def boot(self, reason: str) -> BootAnswer:
        config = self.sim.config
        answer = await self._call(
            call.BootNotification(
                charge_point_vendor=config.vendor,
                charge_point_model=config.model,
                charge_point_serial_number=config.id,
                firmware_version="sim-1.0",
            )
        )
        if answer is None:
            return BootAnswer("Rejected", 60)
        return BootAnswer(answer.status, int(answer.interval))

    async def heartbeat(self) -> None:
        await self._call(call.Heartbeat())

    async def station_status(self) -> None:
        await self._call(
            call.StatusNotification(
                connector_id=0,
                error_code="NoError",
                status="Available",
                timestamp=format_time(self.sim.clock()),
            )
        )

    async def status(self, evse: Evse, old: ConnectorStatus | None) -> None:
        await self._call(
            call.StatusNotification(
                connector_id=evse.evse_id,
                error_code="NoError",
                status=evse.status.value,
                timestamp=format_time(self.sim.clock()),
            )
        )

    async def authorize(self, id_token: str) -> bool:
        answer = await self._call(call.Authorize(id_tag=id_token))
        return answer is not None and answer.id_tag_info.get("status") == "Accepted"

    async def start_transaction(self, evse: Evse, now: datetime) -> bool:
        answer = await self._call(
            call.StartTransaction(
                connector_id=evse.evse_id,
                id_tag=evse.id_token or "",
                meter_start=int(evse.register_wh),
                timestamp=format_time(now),
            )
        )
        if answer is None:
            return False
        evse.transaction_id = str(answer.transaction_id)
        evse.tx_started_at = now
        evse.seq_no = 0
        return bool(answer.id_tag_info.get("status") == "Accepted")

    async def meter_values(self, evse: Evse, readings: list[Reading], now: datetime) -> None:
        assert evse.transaction_id is not None
        await self._call(
            call.MeterValues(
                connector_id=evse.evse_id,
                transaction_id=int(evse.transaction_id),
                meter_value=[
                    {
                        "timestamp": format_time(now),
                        "sampled_value": sampled_values(readings, "Sample.Periodic"),
                    }
                ],
            )
        )

    async def stop_transaction(self, end: TxEnd) -> None:
        await self._call(
            call.StopTransaction(
                meter_stop=int(end.meter_stop_wh),
                timestamp=format_time(end.timestamp),
                transaction_id=int(end.transaction_id),
                id_tag=end.id_token,
                reason=end.reason.value,
                transaction_data=[
                    {
                        "timestamp": format_time(end.timestamp),
                        "sampled_value": sampled_values(end.readings, "Transaction.End"),
                    }
                ],
            )
        )

    # ---- smart charging --------------------------------------------------------------------

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        try:
            profile = profile_16(cs_charging_profiles)
        except UnsupportedProfile:
            return call_result.SetChargingProfile(status="Rejected")
        refusal = self.station.check_profile(connector_id, profile)
        if refusal is not None:
            log.info("%s: SetChargingProfile rejected: %s", self.id, refusal)
            return call_result.SetChargingProfile(status="Rejected")
        self.station.install_profile(connector_id, profile, self.sim.clock())
        self.sim.update()
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
    ) -> call_result.ClearChargingProfile:
        purpose = (
            ChargingProfilePurpose(charging_profile_purpose) if charging_profile_purpose else None
        )
        removed = self.station.clear_profiles(
            self.sim.clock(),
            profile_id=id,
            evse_id=connector_id,
            purpose=purpose,
            stack_level=stack_level,
        )
        self.sim.update()
        return call_result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> call_result.GetCompositeSchedule:
        unit = ChargingRateUnit(charging_rate_unit) if charging_rate_unit else None
        if unit is not None and unit not in self.sim.config.rate_units:
            return call_result.GetCompositeSchedule(status="Rejected")
        try:
            schedule = self.station.composite(connector_id, duration, unit, self.sim.clock())
        except ValueError:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=time_text(schedule),
            charging_schedule={
                "duration": schedule.duration_s,
                "start_schedule": time_text(schedule),
                **schedule_payload(schedule),
            },
        )

    # ---- transactions ----------------------------------------------------------------------

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
    ) -> call_result.RemoteStartTransaction:
        profile = None
        if charging_profile is not None:
            try:
                profile = profile_16(charging_profile)
            except UnsupportedProfile:
                return call_result.RemoteStartTransaction(status="Rejected")
            if profile.purpose is not ChargingProfilePurpose.TX:
                return call_result.RemoteStartTransaction(status="Rejected")
        accepted = self.sim.remote_start(id_tag, connector_id or None, profile)
        return call_result.RemoteStartTransaction(status="Accepted" if accepted else "Rejected")

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        accepted = self.sim.remote_stop(str(transaction_id))
        return call_result.RemoteStopTransaction(status="Accepted" if accepted else "Rejected")

    # ---- configuration ---------------------------------------------------------------------

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        settings = self.station.settings
        if not key:
            known = [(name, k) for name, k in settings]
            unknown: list[str] = []
        else:
            known = [(name, k) for name in key if (k := settings.get(name)) is not None]
            unknown = [name for name in key if settings.get(name) is None]
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": name, "readonly": k.readonly, "value": k.value} for name, k in known
            ],
            unknown_key=unknown or None,
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        result = self.station.settings.set(key, value)
        return call_result.ChangeConfiguration(status=result.value)

    # ---- operations ------------------------------------------------------------------------

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str) -> None:
        reason = StopReason.HARD_RESET if type == "Hard" else StopReason.SOFT_RESET
        await self.sim.reset(reason)

    @on(Action.change_availability)
    def on_change_availability(
        self, connector_id: int, type: str
    ) -> call_result.ChangeAvailability:
        operative = type == "Operative"
        evses = (
            list(self.station.evses.values())
            if connector_id == 0
            else [self.station.evses[connector_id]]
            if connector_id in self.station.evses
            else []
        )
        if not evses:
            return call_result.ChangeAvailability(status="Rejected")
        for evse in evses:
            evse.operative = operative
        self.sim.update()
        busy = any(e.transaction_id is not None for e in evses)
        return call_result.ChangeAvailability(
            status="Scheduled" if busy and not operative else "Accepted"
        )

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        evse = self.station.evses.get(connector_id)
        if evse is None:
            return call_result.UnlockConnector(status="NotSupported")
        if evse.transaction_id is not None:
            self.sim.spawn(self.sim.stop_transaction(evse, StopReason.UNLOCK_COMMAND))
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        if requested_message not in _TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        if connector_id and connector_id not in self.station.evses:
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> None:
        if requested_message == "BootNotification":
            await self.boot("Triggered")
        elif requested_message == "Heartbeat":
            await self.heartbeat()
        elif requested_message == "MeterValues":
            await self.sim.send_meter_values(self, connector_id or None)
        elif requested_message == "StatusNotification":
            for evse in self.station.evses.values():
                if connector_id in (None, 0, evse.evse_id):
                    await self.status(evse, None)

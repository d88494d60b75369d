"""OCPP 1.6J edge: 1.6 messages in, domain calls on the central system, 1.6 answers out.

1.6 has no EVSEs: connector N is mapped to EVSE N, connector 1 (connector 0 is the whole charge
point). Commands arrive version-neutral (``ems.commands``) and leave as 1.6 messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from ems.commands import (
    LocalListEntry,
    SmartChargingCapabilities,
    TransactionStatus,
    TriggerableMessage,
    VariableRef,
)
from ems.domain import (
    Authorization,
    AuthorizationStatus,
    BootInfo,
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    CommandNotSupported,
    CommandResult,
    ConnectorStatus,
    IdToken,
    InvalidCommand,
    MeterSample,
    OcppVersion,
    ResetKind,
    StatusReport,
)
from ems.identity.tokens import MAX_ID_TAG_16
from ems.ocpp.base import CsmsSession
from ems.ocpp.translate import (
    bool_or_none,
    check_profile,
    format_time,
    int_or_none,
    overall_status,
    parse_time,
    profile_fields,
    rate_units,
    sample,
    schedule_fields,
    to_jsonable,
)

_TRIGGERABLE = {
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
}


# In 1.6 an Available connector has no transaction (OCPP 1.6 §7.7). Preparing ("no ongoing
# transaction (yet)") is not used: chargers often report it just after the start.
_NO_TRANSACTION = frozenset({"Available"})

# Statuses 1.6 does not have: its chargers are answered Invalid instead.
_NOT_IN_16 = frozenset({AuthorizationStatus.UNKNOWN, AuthorizationStatus.NOT_AT_THIS_LOCATION})


def id_tag_info(authorization: Authorization) -> dict[str, Any]:
    """IdTagInfo: 1.6 has no Unknown or NotAtThisLocation (sent as Invalid) and takes parent ids
    of 20 characters.

    A restriction to some EVSEs (``TokenAuthorization.evse_ids``) has no 1.6 field: a start on
    another connector is answered Invalid instead.
    """
    info: dict[str, Any] = {"status": authorization.status.value}
    if authorization.status in _NOT_IN_16:
        info["status"] = AuthorizationStatus.INVALID.value
    if authorization.expires_at is not None:
        info["expiryDate"] = format_time(authorization.expires_at)
    group_id = authorization.group_id
    if group_id is not None and len(group_id) <= MAX_ID_TAG_16:
        info["parentIdTag"] = group_id
    return info


def samples_of(meter_values: Sequence[dict[str, Any]]) -> list[MeterSample]:
    """1.6 meterValue (snake_case keys) as domain samples."""
    out: list[MeterSample] = []
    for meter_value in meter_values:
        timestamp = parse_time(meter_value["timestamp"])
        for value in meter_value["sampled_value"]:
            s = sample(
                timestamp,
                value["value"],
                measurand=value.get("measurand"),
                unit=value.get("unit"),
                phase=value.get("phase"),
                context=value.get("context"),
                location=value.get("location"),
            )
            if s is not None:
                out.append(s)
    return out


def profile_16(profile: ChargingProfile) -> dict[str, Any]:
    """csChargingProfiles: the 1.6 names, one schedule, an integer transaction id."""
    if any(period.phase_to_use is not None for period in profile.schedule.periods):
        raise InvalidCommand("OCPP 1.6 cannot choose the phase a single-phase car uses")
    out = profile_fields(profile, profile.purpose.value)
    out["chargingProfileId"] = out.pop("id")
    out["chargingSchedule"] = schedule_fields(profile.schedule)
    if (transaction_id := profile.transaction_id) is not None:
        if not transaction_id.isdigit():
            raise InvalidCommand(f"1.6 transaction ids are integers, not {transaction_id!r}")
        out["transactionId"] = int(transaction_id)
    return out


class V16Session(CsmsSession):
    """A charge point speaking OCPP 1.6J."""

    ocpp_version = OcppVersion.V16
    action_enum = Action

    # ---- messages from the charge point -------------------------------------------------------

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **extra: Any
    ) -> call_result.BootNotification:
        info = BootInfo(
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=extra.get("charge_point_serial_number"),
            firmware_version=extra.get("firmware_version"),
            iccid=extra.get("iccid"),
            imsi=extra.get("imsi"),
            meter_type=extra.get("meter_type"),
            meter_serial_number=extra.get("meter_serial_number"),
        )
        registration = self.csms.boot(self.id, info)
        return call_result.BootNotification(
            current_time=format_time(self.csms.clock()),
            interval=self.boot_interval_s(registration),
            status=registration.value,
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=format_time(self.csms.clock()))

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **extra: Any
    ) -> call_result.StatusNotification:
        self.require_not_rejected()
        timestamp = extra.get("timestamp")
        info = extra.get("info") or extra.get("vendor_error_code")
        report = StatusReport(
            evse_id=connector_id,
            connector_id=min(connector_id, 1),
            status=ConnectorStatus(status),
            timestamp=parse_time(timestamp) if timestamp else self.csms.clock(),
            error_code=None if error_code == "NoError" else error_code,
            info=info,
        )
        self.csms.status(self.id, report)
        if connector_id > 0 and status in _NO_TRANSACTION:
            self.csms.no_transaction(
                self.id, connector_id, report.timestamp, f"connector {connector_id} is {status}"
            )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        self.require_accepted()
        authorization = await self.csms.authorize(self.id, IdToken(id_tag))
        return call_result.Authorize(id_tag_info=id_tag_info(authorization))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **extra: Any
    ) -> call_result.StartTransaction:
        self.require_accepted()
        tx, authorization = await self.csms.start_transaction(
            self.id, connector_id, 1, IdToken(id_tag), float(meter_start), parse_time(timestamp)
        )
        return call_result.StartTransaction(
            transaction_id=int(tx.transaction_id), id_tag_info=id_tag_info(authorization)
        )

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **extra: Any
    ) -> call_result.StopTransaction:
        self.require_accepted()
        id_tag = extra.get("id_tag")
        authorization = await self.csms.stop_transaction(
            self.id,
            str(transaction_id),
            float(meter_stop),
            parse_time(timestamp),
            extra.get("reason"),
            IdToken(id_tag) if id_tag else None,
            samples_of(extra.get("transaction_data") or []),
        )
        if authorization is None:
            return call_result.StopTransaction()
        return call_result.StopTransaction(id_tag_info=id_tag_info(authorization))

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **extra: Any
    ) -> call_result.MeterValues:
        self.require_accepted()
        transaction_id = extra.get("transaction_id")
        await self.csms.meter_values(
            self.id,
            connector_id,
            min(connector_id, 1),
            str(transaction_id) if transaction_id is not None else None,
            samples_of(meter_value),
        )
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **extra: Any) -> call_result.DataTransfer:
        self.csms.report(self.id, "data_transfer", {"vendor_id": vendor_id, **extra})
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, status: str) -> call_result.FirmwareStatusNotification:
        self.csms.report(self.id, "firmware_status", {"status": status})
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, status: str) -> call_result.DiagnosticsStatusNotification:
        self.csms.report(self.id, "diagnostics_status", {"status": status})
        return call_result.DiagnosticsStatusNotification()

    # ---- commands ---------------------------------------------------------------------------

    async def remote_start(
        self,
        id_token: IdToken,
        evse_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
        remote_start_id: int | None = None,
    ) -> CommandResult:
        payload: dict[str, Any] = {"idTag": id_token.id}
        if evse_id is not None:
            payload["connectorId"] = evse_id
        if charging_profile is not None:
            if charging_profile.purpose is not ChargingProfilePurpose.TX:
                raise CommandNotSupported("RemoteStartTransaction takes only a TxProfile")
            payload["chargingProfile"] = profile_16(charging_profile)
        return await self.request("RemoteStartTransaction", payload)

    async def remote_stop(self, transaction_id: str) -> CommandResult:
        if not transaction_id.isdigit():
            raise CommandNotSupported(f"1.6 transaction ids are integers, not {transaction_id!r}")
        return await self.request("RemoteStopTransaction", {"transactionId": int(transaction_id)})

    async def transaction_status(self, transaction_id: str) -> TransactionStatus:
        raise CommandNotSupported(
            "OCPP 1.6 cannot ask about a transaction; trigger a StatusNotification instead"
        )

    async def set_charging_profile(self, evse_id: int, profile: ChargingProfile) -> CommandResult:
        check_profile(evse_id, profile)
        payload = {"connectorId": evse_id, "csChargingProfiles": profile_16(profile)}
        return await self.send_profile("SetChargingProfile", payload, evse_id, to_jsonable(profile))

    async def clear_charging_profile(
        self,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: ChargingProfilePurpose | None = None,
        stack_level: int | None = None,
    ) -> CommandResult:
        payload: dict[str, Any] = {}
        if profile_id is not None:
            payload["id"] = profile_id
        if evse_id is not None:
            payload["connectorId"] = evse_id
        if purpose is not None:
            payload["chargingProfilePurpose"] = purpose.value
        if stack_level is not None:
            payload["stackLevel"] = stack_level
        return await self.request("ClearChargingProfile", payload)

    async def get_composite_schedule(
        self, evse_id: int, duration_s: int, unit: ChargingRateUnit | None = None
    ) -> CommandResult:
        payload: dict[str, Any] = {"connectorId": evse_id, "duration": duration_s}
        if unit is not None:
            payload["chargingRateUnit"] = unit.value
        return await self.request("GetCompositeSchedule", payload)

    async def change_availability(
        self, evse_id: int, operative: bool, connector_id: int | None = None
    ) -> CommandResult:
        kind = "Operative" if operative else "Inoperative"
        return await self.request("ChangeAvailability", {"connectorId": evse_id, "type": kind})

    async def reset(self, kind: ResetKind, evse_id: int | None = None) -> CommandResult:
        if evse_id:
            raise CommandNotSupported("OCPP 1.6 resets the whole charge point only")
        return await self.request("Reset", {"type": kind.value})

    async def unlock_connector(self, evse_id: int, connector_id: int = 1) -> CommandResult:
        return await self.request("UnlockConnector", {"connectorId": evse_id})

    async def trigger_message(
        self, message: TriggerableMessage, evse_id: int | None = None
    ) -> CommandResult:
        if message not in _TRIGGERABLE:
            raise CommandNotSupported(f"OCPP 1.6 cannot trigger {message}")
        payload: dict[str, Any] = {"requestedMessage": message}
        if evse_id is not None:
            payload["connectorId"] = evse_id
        return await self.request("TriggerMessage", payload)

    async def get_variables(self, refs: Sequence[VariableRef] = ()) -> CommandResult:
        payload: dict[str, Any] = {"key": [ref.variable for ref in refs]} if refs else {}
        result = await self.request("GetConfiguration", payload)
        self.csms.record_settings(
            self.id,
            (
                (VariableRef(item["key"]), item.get("value"), item.get("readonly"))
                for item in result.payload.get("configurationKey", [])
            ),
        )
        return result

    async def set_variables(self, values: Sequence[tuple[VariableRef, str]]) -> CommandResult:
        results = []
        for ref, value in values:
            answer = await self.request(
                "ChangeConfiguration", {"key": ref.variable, "value": value}
            )
            results.append({"key": ref.variable, "status": answer.status})
            if answer.status in ("Accepted", "RebootRequired"):
                self.csms.record_settings(self.id, [(ref, value, None)])
        return CommandResult(
            status=overall_status(r["status"] for r in results), payload={"results": results}
        )

    async def smart_charging_capabilities(self) -> SmartChargingCapabilities:
        keys = ("ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel",
                "ChargingScheduleMaxPeriods", "ConnectorPhaseRotation",
                "ConnectorSwitch3to1PhaseSupported")  # fmt: skip
        result = await self.get_variables([VariableRef(key) for key in keys])
        values = {
            item["key"]: item.get("value") for item in result.payload.get("configurationKey", [])
        }
        return SmartChargingCapabilities(
            rate_units=rate_units(values.get(keys[0])),
            max_stack_level=int_or_none(values.get(keys[1])),
            max_periods=int_or_none(values.get(keys[2])),
            phase_rotation=values.get(keys[3]),
            phase_switching=bool_or_none(values.get(keys[4])),
        )

    async def configure_metering(self, measurands: Sequence[str], interval_s: int) -> CommandResult:
        return await self.set_variables(
            [
                (VariableRef("MeterValuesSampledData"), ",".join(measurands)),
                (VariableRef("MeterValueSampleInterval"), str(interval_s)),
            ]
        )

    async def get_base_report(self, report_base: str = "FullInventory") -> CommandResult:
        result = await self.get_variables()
        return CommandResult(status="Accepted", payload=result.payload)

    async def send_local_list(
        self,
        list_version: int,
        entries: Sequence[LocalListEntry],
        update_type: Literal["Full", "Differential"] = "Full",
    ) -> CommandResult:
        items = []
        for entry in entries:
            item: dict[str, Any] = {"idTag": entry.id_token.id}
            if entry.authorization is not None:
                item["idTagInfo"] = id_tag_info(entry.authorization)
            items.append(item)
        payload = {
            "listVersion": list_version,
            "localAuthorizationList": items,
            "updateType": update_type,
        }
        return await self.request("SendLocalList", payload)

"""OCPP 2.0.1 edge: 2.0.1 messages in, domain calls on the central system, 2.0.1 answers out.

Handlers receive the message with snake_case keys (nested ones too) and answer with snake_case
keys; the RPC layer converts both ways. Commands arrive version-neutral (``ems.commands``) and
leave as 2.0.1 messages, built here in their camelCase wire form.

Device-model variables travel as :class:`VariableRef`: ``component`` is the component's name,
``instance`` the variable's instance (``ItemsPerMessage`` has one per message kind) and
``evse_id`` the component's EVSE.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, get_args

from ocpp.routing import on
from ocpp.v21.enums import Action as Action21
from ocpp.v201 import call_result
from ocpp.v201.enums import Action

from ems.commands import (
    LocalListEntry,
    SmartChargingCapabilities,
    TransactionStatus,
    TriggerableMessage,
    VariableRef,
)
from ems.csms import CentralSystem
from ems.domain import (
    Authorization,
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
from ems.events import ChargingNeedsReported
from ems.identity.policy import TokenAuthorization
from ems.ocpp.base import CsmsSession
from ems.ocpp.rpc import to_camel, to_snake
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

_TRIGGERABLE = frozenset(get_args(TriggerableMessage)) - {"DiagnosticsStatusNotification"}
_SETTING_APPLIED = ("Accepted", "RebootRequired")
# The charge point starts a transaction without any identification (free charging): there is no
# token to look up, and answering Invalid would make it stop the transaction (StopTxOnInvalidId).
_NO_AUTHORIZATION = "NoAuthorization"
# A group id is ems's own, so it goes out as a central token.
_GROUP_TOKEN_TYPE = "Central"


# ---- messages from the charge point (snake_case in, domain out) ------------------------------


def boot_info(reason: str, charging_station: dict[str, Any]) -> BootInfo:
    modem = charging_station.get("modem") or {}
    return BootInfo(
        vendor=charging_station["vendor_name"],
        model=charging_station["model"],
        serial_number=charging_station.get("serial_number"),
        firmware_version=charging_station.get("firmware_version"),
        iccid=modem.get("iccid"),
        imsi=modem.get("imsi"),
        reason=reason,
    )


def status_of(value: str) -> ConnectorStatus:
    """A 2.0.1 connectorStatus; all five values (Occupied included) exist in the domain."""
    return ConnectorStatus(value)


def token_of(data: dict[str, Any]) -> IdToken:
    """An IdTokenType (``{"id_token": ..., "type": ...}``) as a domain token."""
    return IdToken(data["id_token"], data["type"])


def samples_of(meter_values: Sequence[dict[str, Any]]) -> list[MeterSample]:
    """2.0.1 meterValue (snake_case keys) as domain samples, scaled by each unit multiplier."""
    out: list[MeterSample] = []
    for meter_value in meter_values:
        timestamp = parse_time(meter_value["timestamp"])
        for value in meter_value["sampled_value"]:
            unit_of_measure = value.get("unit_of_measure") or {}
            s = sample(
                timestamp,
                value["value"],
                measurand=value.get("measurand"),
                unit=unit_of_measure.get("unit"),
                phase=value.get("phase"),
                context=value.get("context"),
                location=value.get("location"),
                multiplier=unit_of_measure.get("multiplier", 0),
            )
            if s is not None:
                out.append(s)
    return out


def variable_ref(
    component: dict[str, Any], variable: dict[str, Any], attribute_type: str | None
) -> VariableRef:
    """A component/variable pair (snake_case keys) as a :class:`VariableRef`.

    The component's own instance and its connector have no place in a VariableRef and are
    dropped.
    """
    evse = component.get("evse")
    return VariableRef(
        variable=variable["name"],
        component=component["name"],
        instance=variable.get("instance"),
        evse_id=evse["id"] if evse else None,
        attribute_type=attribute_type or "Actual",
    )


def reported_settings(
    report_data: Iterable[dict[str, Any]],
) -> list[tuple[VariableRef, str | None, bool | None]]:
    """NotifyReport reportData as (variable, value, readonly), one per reported attribute."""
    out: list[tuple[VariableRef, str | None, bool | None]] = []
    for item in report_data:
        for attribute in item["variable_attribute"]:
            ref = variable_ref(item["component"], item["variable"], attribute.get("type"))
            readonly = attribute.get("mutability") == "ReadOnly"
            out.append((ref, attribute.get("value"), readonly))
    return out


def charging_needs_of(
    charge_point_id: str, evse_id: int, needs: dict[str, Any]
) -> ChargingNeedsReported:
    """NotifyEVChargingNeeds chargingNeeds (snake_case keys) as a domain event."""
    ac = needs.get("ac_charging_parameters") or {}
    dc = needs.get("dc_charging_parameters") or {}
    energy_wh = ac.get("energy_amount", dc.get("energy_amount"))
    max_current_a = ac.get("ev_max_current", dc.get("ev_max_current"))
    max_power_w = dc.get("ev_max_power")
    departure = needs.get("departure_time")
    return ChargingNeedsReported(
        charge_point_id=charge_point_id,
        evse_id=evse_id,
        departure_time=parse_time(departure) if departure else None,
        energy_amount_wh=float(energy_wh) if energy_wh is not None else None,
        max_current_a=float(max_current_a) if max_current_a is not None else None,
        max_power_w=float(max_power_w) if max_power_w is not None else None,
        energy_transfer_mode=needs.get("requested_energy_transfer"),
    )


# ---- answers (snake_case out; the RPC layer makes them camelCase) -----------------------------


def id_token_info(authorization: Authorization) -> dict[str, Any]:
    """IdTokenInfoType: every domain status is a 2.0.1 status (ConcurrentTx, Unknown ...).

    A token valid on some EVSEs only (``TokenAuthorization.evse_ids``) names them in ``evseId``.
    """
    info: dict[str, Any] = {"status": authorization.status.value}
    if authorization.expires_at is not None:
        info["cache_expiry_date_time"] = format_time(authorization.expires_at)
    if authorization.group_id is not None:
        info["group_id_token"] = {"id_token": authorization.group_id, "type": _GROUP_TOKEN_TYPE}
    if isinstance(authorization, TokenAuthorization) and authorization.evse_ids:
        info["evse_id"] = list(authorization.evse_ids)
    return info


# ---- commands (domain in, camelCase wire form out) --------------------------------------------


def id_token_201(token: IdToken) -> dict[str, Any]:
    return {"idToken": token.id, "type": token.type}


def purpose_201(purpose: ChargingProfilePurpose) -> str:
    """2.0.1 renamed ChargePointMaxProfile to ChargingStationMaxProfile."""
    if purpose is ChargingProfilePurpose.CHARGE_POINT_MAX:
        return "ChargingStationMaxProfile"
    return purpose.value


def charging_profile_201(profile: ChargingProfile) -> dict[str, Any]:
    """ChargingProfileType: a list of schedules with ids, the 2.0.1 purpose names."""
    out = profile_fields(profile, purpose_201(profile.purpose))
    out["chargingSchedule"] = [{"id": profile.schedule.id, **schedule_fields(profile.schedule)}]
    if profile.transaction_id is not None:
        out["transactionId"] = profile.transaction_id
    return out


def component_201(ref: VariableRef) -> dict[str, Any]:
    if not ref.component:
        raise InvalidCommand(
            f"OCPP 2.0.1 addresses a variable by its component: give 'Component.{ref.variable}'"
            f", not {ref.variable!r}"
        )
    component: dict[str, Any] = {"name": ref.component}
    if ref.evse_id is not None:
        component["evse"] = {"id": ref.evse_id}
    return component


def variable_201(ref: VariableRef) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": ref.variable}
    if ref.instance is not None:
        variable["instance"] = ref.instance
    return variable


class V201Session(CsmsSession):
    """A charging station speaking OCPP 2.0.1."""

    ocpp_version = OcppVersion.V201
    action_enum = Action

    def __init__(
        self,
        csms: CentralSystem,
        charge_point_id: str,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
    ) -> None:
        super().__init__(csms, charge_point_id, send, close)
        self._remote_start_ids = itertools.count(1)
        self._report_request_ids = itertools.count(1)

    def _record_settings(
        self, values: Sequence[tuple[VariableRef, str | None, bool | None]]
    ) -> None:
        if values:
            self.csms.record_settings(self.id, values)

    # ---- messages from the charge point -------------------------------------------------------

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, reason: str, charging_station: dict[str, Any], **extra: Any
    ) -> call_result.BootNotification:
        registration = self.csms.boot(self.id, boot_info(reason, charging_station))
        return call_result.BootNotification(
            current_time=format_time(self.csms.clock()),
            interval=self.boot_interval_s(registration),
            status=registration.value,
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **extra: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=format_time(self.csms.clock()))

    @on(Action.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **extra: Any
    ) -> call_result.StatusNotification:
        self.require_not_rejected()
        report = StatusReport(
            evse_id=evse_id,
            connector_id=connector_id,
            status=status_of(connector_status),
            timestamp=parse_time(timestamp),
        )
        self.csms.status(self.id, report)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **extra: Any) -> call_result.Authorize:
        self.require_accepted()
        authorization = await self.csms.authorize(self.id, token_of(id_token))
        return call_result.Authorize(id_token_info=id_token_info(authorization))

    @on(Action.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **extra: Any,
    ) -> call_result.TransactionEvent:
        self.require_accepted()
        evse = extra.get("evse") or {}
        presented = token_of(extra["id_token"]) if extra.get("id_token") else None
        identified = presented if presented and presented.type != _NO_AUTHORIZATION else None
        authorization = await self.csms.transaction_event(
            self.id,
            event_type=event_type,
            transaction_id=transaction_info["transaction_id"],
            seq_no=seq_no,
            timestamp=parse_time(timestamp),
            evse_id=evse.get("id"),
            connector_id=evse.get("connector_id"),
            token=identified,
            samples=samples_of(extra.get("meter_value") or []),
            offline=bool(extra.get("offline", False)),
            stopped_reason=transaction_info.get("stopped_reason"),
            remote_start_id=transaction_info.get("remote_start_id"),
        )
        if presented is None:
            return call_result.TransactionEvent()
        if authorization is None:  # NoAuthorization: nothing was looked up
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent(id_token_info=id_token_info(authorization))

    @on(Action.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **extra: Any
    ) -> call_result.MeterValues:
        self.require_accepted()
        samples = samples_of(meter_value)
        await self.csms.meter_values(self.id, evse_id, min(evse_id, 1), None, samples)
        return call_result.MeterValues()

    @on(Action.notify_report)
    async def on_notify_report(
        self, request_id: int, generated_at: str, seq_no: int, **extra: Any
    ) -> call_result.NotifyReport:
        self._record_settings(reported_settings(extra.get("report_data") or []))
        return call_result.NotifyReport()

    @on(Action.notify_event)
    async def on_notify_event(
        self, generated_at: str, seq_no: int, event_data: list[dict[str, Any]], **extra: Any
    ) -> call_result.NotifyEvent:
        payload = {"generated_at": generated_at, "seq_no": seq_no, "event_data": event_data}
        self.csms.report(self.id, "notify_event", {**payload, **extra})
        return call_result.NotifyEvent()

    @on(Action.notify_ev_charging_needs)
    async def on_notify_ev_charging_needs(
        self, evse_id: int, charging_needs: dict[str, Any], **extra: Any
    ) -> call_result.NotifyEVChargingNeeds:
        self.csms.charging_needs(charging_needs_of(self.id, evse_id, charging_needs))
        return call_result.NotifyEVChargingNeeds(status="Accepted")

    @on(Action.security_event_notification)
    async def on_security_event(
        self, type: str, timestamp: str, **extra: Any
    ) -> call_result.SecurityEventNotification:
        self.csms.report(self.id, "security_event", {"type": type, "timestamp": timestamp, **extra})
        return call_result.SecurityEventNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(
        self, status: str, **extra: Any
    ) -> call_result.FirmwareStatusNotification:
        self.csms.report(self.id, "firmware_status", {"status": status, **extra})
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, status: str, **extra: Any) -> call_result.LogStatusNotification:
        self.csms.report(self.id, "log_status", {"status": status, **extra})
        return call_result.LogStatusNotification()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **extra: Any) -> call_result.DataTransfer:
        self.csms.report(self.id, "data_transfer", {"vendor_id": vendor_id, **extra})
        return call_result.DataTransfer(status="UnknownVendorId")

    # ---- commands ---------------------------------------------------------------------------

    async def remote_start(
        self,
        id_token: IdToken,
        evse_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
        remote_start_id: int | None = None,
    ) -> CommandResult:
        if remote_start_id is None:
            remote_start_id = next(self._remote_start_ids)
        payload: dict[str, Any] = {
            "idToken": id_token_201(id_token),
            "remoteStartId": remote_start_id,
        }
        if evse_id is not None:
            if evse_id < 1:
                raise InvalidCommand("a remote start names an EVSE >= 1, or none to let it choose")
            payload["evseId"] = evse_id
        if charging_profile is not None:
            if charging_profile.purpose is not ChargingProfilePurpose.TX:
                raise CommandNotSupported("RequestStartTransaction takes only a TxProfile")
            if charging_profile.transaction_id is not None:
                raise InvalidCommand(
                    "a remote start's profile cannot name a transaction: it does not exist yet"
                )
            payload["chargingProfile"] = charging_profile_201(charging_profile)
        return await self.request("RequestStartTransaction", payload)

    async def remote_stop(self, transaction_id: str) -> CommandResult:
        return await self.request("RequestStopTransaction", {"transactionId": transaction_id})

    async def transaction_status(self, transaction_id: str) -> TransactionStatus:
        result = await self.request("GetTransactionStatus", {"transactionId": transaction_id})
        return TransactionStatus(
            ongoing=result.payload.get("ongoingIndicator"),
            messages_queued=bool(result.payload.get("messagesInQueue")),
        )

    async def set_charging_profile(self, evse_id: int, profile: ChargingProfile) -> CommandResult:
        check_profile(evse_id, profile)
        if profile.purpose is ChargingProfilePurpose.TX and profile.transaction_id is None:
            raise InvalidCommand("a TxProfile must name its transaction_id (2.0.1 K01.FR.03)")
        payload = {"evseId": evse_id, "chargingProfile": charging_profile_201(profile)}
        return await self.send_profile("SetChargingProfile", payload, evse_id, to_jsonable(profile))

    async def clear_charging_profile(
        self,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: ChargingProfilePurpose | None = None,
        stack_level: int | None = None,
    ) -> CommandResult:
        criteria: dict[str, Any] = {}
        if evse_id is not None:
            criteria["evseId"] = evse_id
        if purpose is not None:
            criteria["chargingProfilePurpose"] = purpose_201(purpose)
        if stack_level is not None:
            criteria["stackLevel"] = stack_level
        payload: dict[str, Any] = {}
        if profile_id is not None:
            payload["chargingProfileId"] = profile_id
        if criteria:
            payload["chargingProfileCriteria"] = criteria
        return await self.request("ClearChargingProfile", payload)

    async def get_composite_schedule(
        self, evse_id: int, duration_s: int, unit: ChargingRateUnit | None = None
    ) -> CommandResult:
        payload: dict[str, Any] = {"duration": duration_s, "evseId": evse_id}
        if unit is not None:
            payload["chargingRateUnit"] = unit.value
        return await self.request("GetCompositeSchedule", payload)

    async def change_availability(
        self, evse_id: int, operative: bool, connector_id: int | None = None
    ) -> CommandResult:
        payload: dict[str, Any] = {"operationalStatus": "Operative" if operative else "Inoperative"}
        if evse_id:
            evse: dict[str, Any] = {"id": evse_id}
            if connector_id is not None:
                evse["connectorId"] = connector_id
            payload["evse"] = evse
        elif connector_id is not None:
            raise InvalidCommand("a connector_id needs the evse_id (>= 1) it belongs to")
        return await self.request("ChangeAvailability", payload)

    async def reset(self, kind: ResetKind, evse_id: int | None = None) -> CommandResult:
        payload: dict[str, Any] = {"type": "Immediate" if kind is ResetKind.HARD else "OnIdle"}
        if evse_id:
            payload["evseId"] = evse_id
        return await self.request("Reset", payload)

    async def unlock_connector(self, evse_id: int, connector_id: int = 1) -> CommandResult:
        return await self.request(
            "UnlockConnector", {"evseId": evse_id, "connectorId": connector_id}
        )

    async def trigger_message(
        self, message: TriggerableMessage, evse_id: int | None = None
    ) -> CommandResult:
        if message not in _TRIGGERABLE:
            raise CommandNotSupported(f"OCPP 2.0.1 cannot trigger {message}")
        payload: dict[str, Any] = {"requestedMessage": message}
        if evse_id:
            payload["evse"] = {"id": evse_id}
        return await self.request("TriggerMessage", payload)

    async def get_variables(self, refs: Sequence[VariableRef] = ()) -> CommandResult:
        """The values of ``refs``; with none, a full report that arrives later by NotifyReport."""
        if not refs:
            return await self.get_base_report()
        data = [
            {
                "component": component_201(ref),
                "variable": variable_201(ref),
                "attributeType": ref.attribute_type,
            }
            for ref in refs
        ]
        result = await self.request("GetVariables", {"getVariableData": data})
        answers = to_snake(result.payload.get("getVariableResult", []))
        self._record_settings(
            [
                (
                    variable_ref(a["component"], a["variable"], a.get("attribute_type")),
                    a.get("attribute_value"),
                    None,
                )
                for a in answers
                if a["attribute_status"] == "Accepted"
            ],
        )
        status = overall_status(a["attribute_status"] for a in answers)
        return CommandResult(status=status, payload=result.payload)

    async def set_variables(self, values: Sequence[tuple[VariableRef, str]]) -> CommandResult:
        if not values:
            raise InvalidCommand("set_variables needs at least one variable and value")
        data = [
            {
                "attributeValue": value,
                "component": component_201(ref),
                "variable": variable_201(ref),
                "attributeType": ref.attribute_type,
            }
            for ref, value in values
        ]
        result = await self.request("SetVariables", {"setVariableData": data})
        sent = dict(values)
        results = []
        applied = []
        for answer in to_snake(result.payload.get("setVariableResult", [])):
            ref = variable_ref(
                answer["component"], answer["variable"], answer.get("attribute_type")
            )
            status = answer["attribute_status"]
            results.append({"key": str(ref), "status": status})
            if status in _SETTING_APPLIED and ref in sent:
                applied.append((ref, sent[ref], None))
        self._record_settings(applied)
        status = overall_status(r["status"] for r in results)
        return CommandResult(status=status, payload={"results": results})

    async def smart_charging_capabilities(self) -> SmartChargingCapabilities:
        names = ("RateUnit", "ProfileStackLevel", "PeriodsPerSchedule", "Phases3to1")
        refs = [VariableRef(name, "SmartChargingCtrlr") for name in names]
        result = await self.get_variables(refs)
        values = {
            answer["variable"]["name"]: answer.get("attribute_value")
            for answer in to_snake(result.payload.get("getVariableResult", []))
            if answer["attribute_status"] == "Accepted"
        }
        return SmartChargingCapabilities(
            rate_units=rate_units(values.get("RateUnit")),
            max_stack_level=int_or_none(values.get("ProfileStackLevel")),
            max_periods=int_or_none(values.get("PeriodsPerSchedule")),
            phase_switching=bool_or_none(values.get("Phases3to1")),
        )

    async def configure_metering(self, measurands: Sequence[str], interval_s: int) -> CommandResult:
        return await self.set_variables(
            [
                (VariableRef("TxUpdatedMeasurands", "SampledDataCtrlr"), ",".join(measurands)),
                (VariableRef("TxUpdatedInterval", "SampledDataCtrlr"), str(interval_s)),
            ]
        )

    async def get_base_report(self, report_base: str = "FullInventory") -> CommandResult:
        """Ask for a report; its values arrive by NotifyReport and are recorded there."""
        payload = {"requestId": next(self._report_request_ids), "reportBase": report_base}
        return await self.request("GetBaseReport", payload)

    async def send_local_list(
        self,
        list_version: int,
        entries: Sequence[LocalListEntry],
        update_type: Literal["Full", "Differential"] = "Full",
    ) -> CommandResult:
        items = []
        for entry in entries:
            item: dict[str, Any] = {"idToken": id_token_201(entry.id_token)}
            if entry.authorization is not None:
                item["idTokenInfo"] = to_camel(id_token_info(entry.authorization))
            items.append(item)
        payload: dict[str, Any] = {"versionNumber": list_version, "updateType": update_type}
        if items:
            payload["localAuthorizationList"] = items
        return await self.request("SendLocalList", payload)


class V21Session(V201Session):
    """A charging station speaking OCPP 2.1: the 2.0.1 messages, checked against 2.1's schemas.

    2.1 keeps 2.0.1's messages and adds optional fields and new actions; the new actions are
    answered NotSupported until ems uses them.
    """

    ocpp_version = OcppVersion.V21
    action_enum = Action21

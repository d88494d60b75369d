"""Request and response bodies of the REST API (pydantic v2), with their mapping from domain rows.

Units are in the field names (``_wh``, ``_kwh``, ``_s``); times are answered timezone-aware in
UTC. Times in request bodies must carry a zone (``2025-05-01T08:00:00Z``) because they go to
charge points; a query filter without a zone is taken as UTC (:func:`as_utc`). Request models
forbid unknown fields so that a misspelt key is an error naming it, not a silently ignored value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from ems.commands import TriggerableMessage
from ems.csms import ChargePointState
from ems.domain import (
    AuthorizationStatus,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ConnectorStatus,
    Registration,
    ResetKind,
    StatusReport,
    Transaction,
)
from ems.store import ChargePointRow

_CHARGE_POINT_ID = re.compile(r"[^\s/:]{1,48}")


def _check_charge_point_id(value: str) -> str:
    if _CHARGE_POINT_ID.fullmatch(value) is None:
        raise ValueError("must be 1-48 characters without spaces, / or :")
    return value


ChargePointId = Annotated[
    str,
    Field(
        description="The id in the charge point's WebSocket URL: 1-48 characters without "
        "spaces, / or :",
        examples=["CP-001"],
        json_schema_extra={"pattern": f"^{_CHARGE_POINT_ID.pattern}$", "maxLength": 48},
    ),
    AfterValidator(_check_charge_point_id),
]
SecurityProfile = Annotated[int, Field(ge=0, le=3, description="OCPP security profile 0-3")]
Password = Annotated[
    str,
    Field(
        min_length=16,
        max_length=40,
        description="HTTP Basic password for security profiles 1 and 2 (16-40 characters)",
    ),
]
EvseId = Annotated[int, Field(ge=0, description="EVSE (1.6: connector); 0 = whole charge point")]
IdTokenType = Literal[
    "Central",
    "eMAID",
    "ISO14443",
    "ISO15693",
    "KeyCode",
    "Local",
    "MacAddress",
    "NoAuthorization",
]


def as_utc(value: datetime | None) -> datetime | None:
    """A query filter's time; one without a zone is taken as UTC (the store refuses naive ones)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Out(BaseModel):
    """An answer read from a row or domain object with the same field names."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, source: Any) -> Self:
        return cls.model_validate(source)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every error answer: a message that says what went wrong and what to change."""

    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    errors: list[ValidationErrorItem] = Field(
        default_factory=list, description="Each field that does not match the request's schema"
    )


class CallErrorOut(ErrorOut):
    """The charge point answered with an OCPP CALLERROR."""

    code: str
    description: str
    details: dict[str, Any]


# ---- charge points ----------------------------------------------------------------------------


class ConnectorOut(BaseModel):
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    error_code: str | None
    info: str | None
    status_at: datetime

    @classmethod
    def of(cls, report: StatusReport) -> ConnectorOut:
        return cls(
            evse_id=report.evse_id,
            connector_id=report.connector_id,
            status=report.status,
            error_code=report.error_code,
            info=report.info,
            status_at=report.timestamp,
        )


class ChargePointOut(BaseModel):
    """A charge point as listed: registration, what it reported at boot, and its live state."""

    id: str
    registration: Registration
    security_profile: int
    has_password: bool
    ocpp_version: str | None
    vendor: str | None
    model: str | None
    firmware_version: str | None
    connected: bool
    last_seen_at: datetime | None
    connectors: list[ConnectorOut]

    @classmethod
    def fields_of(
        cls, state: ChargePointState, row: ChargePointRow | None, connected: bool
    ) -> dict[str, Any]:
        """Live state where ems has it (newer than the batched writes), the stored row otherwise."""
        reports = sorted(state.connectors.values(), key=lambda r: (r.evse_id, r.connector_id))
        return {
            "id": state.id,
            "registration": state.registration,
            "security_profile": state.security_profile,
            "has_password": state.password_hash is not None,
            "ocpp_version": state.version.value if state.version else None,
            "vendor": reported(state, row, "vendor"),
            "model": reported(state, row, "model"),
            "firmware_version": reported(state, row, "firmware_version"),
            "connected": connected,
            "last_seen_at": state.last_seen_at,
            "connectors": [ConnectorOut.of(report) for report in reports],
        }

    @classmethod
    def of(
        cls, state: ChargePointState, row: ChargePointRow | None, connected: bool
    ) -> ChargePointOut:
        return cls(**cls.fields_of(state, row, connected))


def reported(state: ChargePointState, row: ChargePointRow | None, name: str) -> Any:
    """A boot field: from this run's BootNotification if there was one, else as stored.

    After a restart the live state holds only vendor and model, so the row fills the rest.
    """
    live = getattr(state.boot, name, None) if state.boot is not None else None
    if live is not None:
        return live
    return getattr(row, "boot_reason" if name == "reason" else name, None)


class BootOut(BaseModel):
    """What the charge point told in its last BootNotification."""

    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    reason: str | None
    booted_at: datetime | None

    @classmethod
    def of(cls, state: ChargePointState, row: ChargePointRow | None) -> BootOut | None:
        if state.boot is None and (row is None or row.vendor is None):
            return None
        fields = (
            "vendor",
            "model",
            "serial_number",
            "firmware_version",
            "iccid",
            "imsi",
            "meter_type",
            "meter_serial_number",
            "reason",
        )
        values = {name: reported(state, row, name) for name in fields}
        return cls(**values, booted_at=row.last_boot_at if row else None)


class SettingOut(Out):
    """A 1.6 configuration key (component "") or a 2.0.1 device-model variable."""

    component: str
    variable: str
    instance: str
    attribute_type: str
    value: str | None
    readonly: bool | None
    updated_at: datetime | None


class TransactionOut(BaseModel):
    """A charging session; ``id`` is ems's key, ``transaction_id`` the id on the wire."""

    id: str
    charge_point_id: str
    transaction_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    id_token_type: str | None
    active: bool
    started_at: datetime
    stopped_at: datetime | None
    stop_reason: str | None
    duration_s: float = Field(description="Until stop, or until now while active")
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_kwh: float | None

    @classmethod
    def fields_of(cls, tx: Transaction, now: datetime) -> dict[str, Any]:
        energy_wh = tx.energy_wh
        end = tx.stopped_at or now
        return {
            "id": tx.id,
            "charge_point_id": tx.charge_point_id,
            "transaction_id": tx.transaction_id,
            "evse_id": tx.evse_id,
            "connector_id": tx.connector_id,
            "id_token": tx.id_token.id if tx.id_token else None,
            "id_token_type": tx.id_token.type if tx.id_token else None,
            "active": tx.active,
            "started_at": tx.started_at,
            "stopped_at": tx.stopped_at,
            "stop_reason": tx.stop_reason,
            "duration_s": max(0.0, (end - tx.started_at).total_seconds()),
            "meter_start_wh": tx.meter_start_wh,
            "meter_stop_wh": tx.meter_stop_wh,
            "energy_kwh": None if energy_wh is None else energy_wh / 1000.0,
        }

    @classmethod
    def of(cls, tx: Transaction, now: datetime) -> TransactionOut:
        return cls(**cls.fields_of(tx, now))


class ChargePointDetailOut(ChargePointOut):
    boot: BootOut | None
    created_at: datetime | None
    configuration: list[SettingOut] = Field(
        description="Configuration keys / variables as last reported by the charge point"
    )
    open_transactions: list[TransactionOut]


class ChargePointCreate(Request):
    id: ChargePointId
    security_profile: SecurityProfile = 1
    password: Password | None = Field(None, validate_default=True)
    registration: Registration = Registration.ACCEPTED

    @field_validator("password")
    @classmethod
    def _password_for_basic_auth(cls, password: str | None, info: ValidationInfo) -> str | None:
        profile = info.data.get("security_profile")
        if profile in (1, 2) and password is None:
            raise ValueError(
                f"security_profile {profile} uses HTTP Basic authentication and needs a "
                "password (16-40 characters)"
            )
        return password


class ChargePointUpdate(Request):
    """Only the fields given are changed."""

    registration: Registration | None = None
    security_profile: SecurityProfile | None = None
    password: Password | None = None


class StatusReportOut(Out):
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    error_code: str | None
    info: str | None
    timestamp: datetime


class FrameOut(Out):
    """One raw OCPP-J frame as it went over the wire."""

    id: int
    direction: str = Field(description='"in" (from the charge point) or "out"')
    timestamp: datetime
    message: str


class ProfileOut(Out):
    """A charging profile sent, with the charge point's answer (``error`` when there was none)."""

    id: int
    evse_id: int
    profile_id: int
    stack_level: int
    purpose: str
    transaction_id: str | None
    profile: dict[str, Any]
    sent_at: datetime
    status: str | None
    error: str | None


class EventOut(Out):
    id: int
    kind: str
    timestamp: datetime
    payload: dict[str, Any]


# ---- transactions -----------------------------------------------------------------------------


class SampleOut(Out):
    timestamp: datetime
    measurand: str
    value: float
    unit: str | None
    phase: str | None
    context: str | None
    location: str | None


class TransactionDetailOut(TransactionOut):
    samples: list[SampleOut]


# ---- API tokens -------------------------------------------------------------------------------


class ApiTokenOut(Out):
    id: int
    name: str
    role: Literal["admin", "readonly"]
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The token itself; shown this once and not stored")


class ApiTokenCreate(Request):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "readonly"]


# ---- commands ---------------------------------------------------------------------------------


class CommandOut(BaseModel):
    """The charge point's answer: its status word and the whole answer payload (camelCase)."""

    status: str | None
    payload: dict[str, Any]


class SchedulePeriodIn(Request):
    start_s: int = Field(ge=0, description="Seconds after the schedule's start")
    limit: float = Field(ge=0, description="In the schedule's unit (A per phase or W)")
    number_phases: int | None = Field(None, ge=1, le=3)


class ScheduleIn(Request):
    unit: ChargingRateUnit
    periods: list[SchedulePeriodIn] = Field(min_length=1)
    duration_s: int | None = Field(None, ge=0)
    start_schedule: AwareDatetime | None = None
    min_rate: float | None = Field(None, ge=0)


class ChargingProfileIn(Request):
    id: int = Field(ge=0)
    stack_level: int = Field(ge=0)
    purpose: ChargingProfilePurpose
    kind: ChargingProfileKind = ChargingProfileKind.ABSOLUTE
    recurrency: Literal["Daily", "Weekly"] | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    transaction_id: str | None = Field(None, description="The wire id; TxProfile only")
    schedule: ScheduleIn


class RemoteStartIn(Request):
    id_token: str = Field(min_length=1, max_length=36)
    id_token_type: IdTokenType = "ISO14443"
    evse_id: int | None = Field(None, ge=1)
    charging_profile: ChargingProfileIn | None = None
    remote_start_id: int | None = Field(
        None,
        ge=0,
        description="2.0.1: links the transaction to this request; ems picks one when omitted",
    )


class RemoteStopIn(Request):
    transaction_id: str | int = Field(description="The transaction's id on the wire")


class SetChargingProfileIn(Request):
    evse_id: EvseId
    profile: ChargingProfileIn


class ClearChargingProfileIn(Request):
    profile_id: int | None = None
    evse_id: EvseId | None = None
    purpose: ChargingProfilePurpose | None = None
    stack_level: int | None = Field(None, ge=0)


class CompositeScheduleIn(Request):
    evse_id: EvseId
    duration_s: int = Field(gt=0)
    unit: ChargingRateUnit | None = None


class AvailabilityIn(Request):
    evse_id: EvseId
    operative: bool
    connector_id: int | None = Field(None, ge=1, description="2.0.1 only")


class ResetIn(Request):
    kind: ResetKind
    evse_id: int | None = Field(None, ge=1, description="2.0.1 only")


class UnlockIn(Request):
    evse_id: int = Field(ge=1)
    connector_id: int = Field(1, ge=1)


class TriggerIn(Request):
    message: TriggerableMessage
    evse_id: int | None = Field(None, ge=0)


class GetConfigurationIn(Request):
    keys: list[str] = Field(
        default_factory=list,
        description='1.6 keys ("HeartbeatInterval") or 2.0.1 "Component.Variable"; empty = all',
    )


class ChangeConfigurationIn(Request):
    key: str = Field(min_length=1)
    value: str


class VariableIn(Request):
    component: str = ""
    variable: str = Field(min_length=1)
    instance: str | None = None


class VariableValueIn(VariableIn):
    value: str


class SetVariablesIn(Request):
    values: list[VariableValueIn] = Field(min_length=1)


class GetVariablesIn(Request):
    variables: list[VariableIn] = Field(default_factory=list)


class BaseReportIn(Request):
    report_base: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = (
        "FullInventory"
    )


class LocalListEntryIn(Request):
    id_token: str = Field(min_length=1, max_length=36)
    id_token_type: IdTokenType = "ISO14443"
    status: AuthorizationStatus | None = Field(None, description="Omit to remove the token")
    expires_at: AwareDatetime | None = None
    group_id: str | None = None


class LocalListIn(Request):
    list_version: int = Field(ge=0)
    update_type: Literal["Full", "Differential"] = "Full"
    entries: list[LocalListEntryIn] = Field(default_factory=list)


class DataTransferIn(Request):
    vendor_id: str = Field(min_length=1, max_length=255)
    message_id: str | None = Field(None, max_length=50)
    data: str | None = None

"""Version-neutral domain model of the central system.

OCPP 1.6 and 2.0.1 are translated into these types at the edge (``ems.ocpp.v16`` and
``ems.ocpp.v201``), so nothing above the OCPP layer knows which version a charger speaks.

Nomenclature
------------
charge point
    One charging station, identified by the id in its WebSocket URL.
EVSE
    An independently controllable outlet of a charge point (``evse_id`` >= 1). OCPP 1.6 has no
    EVSEs: each 1.6 connector is mapped to the EVSE with the same number, connector 1.
    ``evse_id == 0`` means the charge point as a whole.
connector
    A plug of an EVSE (``connector_id`` >= 1, numbered per EVSE).
transaction
    One charging session. ``transaction_id`` is the id on the wire: assigned by ems in 1.6 (an
    integer, as text), by the charge point in 2.0.1. ``id`` is ems's own globally unique key.
sample
    One sampled value of a measurand (``Energy.Active.Import.Register``, ``Power.Active.Import``,
    ``Current.Import`` ...) with its phase, unit, context and location, as in both versions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class OcppVersion(enum.StrEnum):
    """OCPP-J versions ems speaks; the values are the WebSocket subprotocol names."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"


class Registration(enum.StrEnum):
    """Registration state of a charge point, answered to its BootNotification."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ConnectorStatus(enum.StrEnum):
    """Connector status, the union of both versions' values.

    2.0.1 reports ``Occupied`` where 1.6 reports one of Preparing, Charging, SuspendedEV,
    SuspendedEVSE or Finishing; the edge keeps the most precise value it has.
    """

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    OCCUPIED = "Occupied"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class AuthorizationStatus(enum.StrEnum):
    """Answer to an identification, the union of both versions' values."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    UNKNOWN = "Unknown"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"  # 2.0.1 only; Invalid in 1.6


class ChargingRateUnit(enum.StrEnum):
    """Unit of a charging schedule's limits: amperes per phase or watts."""

    A = "A"
    W = "W"


class ChargingProfilePurpose(enum.StrEnum):
    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class ChargingProfileKind(enum.StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class ResetKind(enum.StrEnum):
    """Soft/hard in 1.6 map to OnIdle/Immediate in 2.0.1."""

    SOFT = "Soft"
    HARD = "Hard"


@dataclass(frozen=True, slots=True)
class IdToken:
    """An identifier presented by a driver or given by the CSMS.

    ``type`` follows 2.0.1 (ISO14443, ISO15693, eMAID, Central, KeyCode, Local, MacAddress,
    NoAuthorization); 1.6 idTags arrive with type ``ISO14443`` as 1.6 carries no type.
    """

    id: str
    type: str = "ISO14443"


@dataclass(frozen=True, slots=True)
class Authorization:
    """The CSMS's answer to an id token: status, optional expiry and group (parent) token."""

    status: AuthorizationStatus
    expires_at: datetime | None = None
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class BootInfo:
    """What a charge point tells about itself in its BootNotification."""

    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One sampled value, with the value already scaled by any 2.0.1 unit multiplier."""

    timestamp: datetime
    measurand: str
    value: float
    unit: str | None = None
    phase: str | None = None
    context: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A connector's (or, with evse_id 0, the charge point's) status at a point in time."""

    evse_id: int
    connector_id: int
    status: ConnectorStatus
    timestamp: datetime
    error_code: str | None = None
    info: str | None = None


@dataclass(slots=True)
class Transaction:
    """A charging session as the CSMS tracks it; mutable while it runs."""

    id: str
    charge_point_id: str
    transaction_id: str
    evse_id: int
    connector_id: int
    started_at: datetime
    id_token: IdToken | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    last_seq_no: int = -1
    offline: bool = False
    remote_start_id: int | None = None
    last_energy_register_wh: float | None = None
    first_energy_register_wh: float | None = None
    # Why ems ended it without the charger's stop (reconciliation); None: the charger ended it.
    closed_reason: str | None = None
    # Implausible data seen (a register going backwards, ...): review before billing.
    anomaly: str | None = None

    @property
    def active(self) -> bool:
        return self.stopped_at is None

    @property
    def energy_wh(self) -> float | None:
        """Energy delivered so far [Wh], from the stop reading or the latest register sample."""
        start = self.meter_start_wh
        if start is None:
            start = self.first_energy_register_wh
        end = self.meter_stop_wh
        if end is None:
            end = self.last_energy_register_wh
        if start is None or end is None:
            return None
        return max(0.0, end - start)


@dataclass(frozen=True, slots=True)
class ChargingSchedulePeriod:
    """A limit from ``start_s`` seconds after the schedule's start; phases only for unit A."""

    start_s: int
    limit: float
    number_phases: int | None = None
    phase_to_use: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    unit: ChargingRateUnit
    periods: tuple[ChargingSchedulePeriod, ...]
    duration_s: int | None = None
    start_schedule: datetime | None = None
    min_rate: float | None = None
    id: int = 1


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    """A charging profile in neutral form; ``transaction_id`` only for TxProfile."""

    id: int
    stack_level: int
    purpose: ChargingProfilePurpose
    schedule: ChargingSchedule
    kind: ChargingProfileKind = ChargingProfileKind.ABSOLUTE
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a charge point answered to a command: its status word and the rest of the payload."""

    status: str | None
    payload: dict[str, Any] = field(default_factory=dict)


class CommandError(Exception):
    """A command did not get an answer it could act on.

    Subclasses: ``ChargePointOffline``, ``CommandTimeout``, ``CallErrorReceived`` (the charge
    point answered with a CALLERROR), ``CommandNotSupported`` (not possible in this OCPP version
    or refused by ems before sending), ``InvalidCommand`` (arguments rejected before sending).
    """


class ChargePointOffline(CommandError):
    pass


class CommandTimeout(CommandError):
    pass


class CallErrorReceived(CommandError):
    def __init__(self, code: str, description: str, details: dict[str, Any] | None) -> None:
        super().__init__(f"charge point answered CALLERROR {code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}


class CommandNotSupported(CommandError):
    pass


class InvalidCommand(CommandError):
    pass

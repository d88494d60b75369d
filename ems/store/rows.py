"""Plain, frozen copies of stored rows that the store hands out.

Queries return these (or domain objects from ``ems.domain``), never ORM objects, so callers can keep
them across threads and after the connection is gone. Field names follow the column names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ChargePointRow:
    """A registered (or auto-registered, still pending) charge point.

    ``registration`` is a ``Registration`` value, ``security_profile`` 0-3 (OCPP security
    whitepaper), ``password_hash`` the hash of the HTTP Basic password for profiles 1 and 2. The
    remaining fields come from the charge point's last BootNotification and its traffic.
    """

    id: str
    registration: str = "Pending"
    security_profile: int = 0
    password_hash: str | None = None
    ocpp_version: str | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    boot_reason: str | None = None
    last_boot_at: datetime | None = None
    last_seen_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IdTokenRow:
    """An id token known to the CSMS; ``status`` is an ``AuthorizationStatus`` value."""

    id_token: str
    type: str = "ISO14443"
    status: str = "Accepted"
    expires_at: datetime | None = None
    group_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiTokenRow:
    """A REST API token; only the sha256 hex digest of the token is kept."""

    id: int
    name: str
    role: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class SettingRow:
    """A 1.6 configuration key or a 2.0.1 device-model variable of a charge point.

    1.6 keys have ``component == ""`` and ``instance == ""``; ``attribute_type`` is the 2.0.1
    attribute (Actual, Target, MinSet, MaxSet) and ``Actual`` for 1.6. ``evse_id`` is the EVSE of
    an EVSE-specific component (``EVSE.Power`` exists once per EVSE), 0 otherwise.
    """

    charge_point_id: str
    variable: str
    value: str | None = None
    component: str = ""
    instance: str = ""
    evse_id: int = 0
    attribute_type: str = "Actual"
    readonly: bool | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FrameRow:
    """One raw OCPP-J frame as it went over the wire; ``direction`` is "in" or "out"."""

    id: int
    charge_point_id: str
    direction: str
    timestamp: datetime
    message: str


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A charging profile sent to a charge point with what it answered.

    ``profile`` is the neutral profile as a dict; ``status`` the answer's status word, ``error`` a
    description of the CALLERROR or timeout when there was no regular answer.
    """

    id: int
    charge_point_id: str
    evse_id: int
    profile_id: int
    stack_level: int
    purpose: str
    transaction_id: str | None
    profile: dict[str, Any]
    sent_at: datetime
    status: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    """A notification from a charge point kept as it came (firmware status, security event ...)."""

    id: int
    charge_point_id: str
    kind: str
    timestamp: datetime
    payload: dict[str, Any]

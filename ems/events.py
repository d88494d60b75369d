"""Domain events the central system publishes after it has updated its state.

Subscribers (the control loop, the dashboard's live feed) react to these; they never see OCPP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ems.domain import BootInfo, MeterSample, OcppVersion, StatusReport, Transaction


@dataclass(frozen=True, slots=True)
class ChargePointConnected:
    charge_point_id: str
    version: OcppVersion


@dataclass(frozen=True, slots=True)
class ChargePointDisconnected:
    charge_point_id: str


@dataclass(frozen=True, slots=True)
class ChargePointBooted:
    charge_point_id: str
    info: BootInfo


@dataclass(frozen=True, slots=True)
class ChargePointAccepted:
    """A charge point's BootNotification was answered Accepted: it now takes commands."""

    charge_point_id: str


@dataclass(frozen=True, slots=True)
class StatusChanged:
    charge_point_id: str
    report: StatusReport


@dataclass(frozen=True, slots=True)
class TransactionStarted:
    transaction: Transaction


@dataclass(frozen=True, slots=True)
class TransactionEnded:
    transaction: Transaction


@dataclass(frozen=True, slots=True)
class NoTransactionReported:
    """A charge point says no transaction runs on an EVSE as of ``at`` (a 1.6 connector that
    is Available); ``evidence`` says what it reported."""

    charge_point_id: str
    evse_id: int
    at: datetime
    evidence: str


@dataclass(frozen=True, slots=True)
class MeterValuesReceived:
    charge_point_id: str
    evse_id: int
    connector_id: int
    transaction_pk: str | None
    samples: Sequence[MeterSample]


@dataclass(frozen=True, slots=True)
class ChargingNeedsReported:
    """ISO 15118 charging needs of the car on an EVSE (2.0.1 NotifyEVChargingNeeds)."""

    charge_point_id: str
    evse_id: int
    departure_time: datetime | None
    energy_amount_wh: float | None
    max_current_a: float | None
    max_power_w: float | None
    energy_transfer_mode: str | None


Event = (
    ChargePointConnected
    | ChargePointDisconnected
    | ChargePointBooted
    | ChargePointAccepted
    | StatusChanged
    | TransactionStarted
    | TransactionEnded
    | MeterValuesReceived
    | NoTransactionReported
    | ChargingNeedsReported
)

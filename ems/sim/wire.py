"""Charging profiles and schedules between the ``ocpp`` library's snake_case payloads and the
domain types, for both OCPP versions (the station side of ``ems.ocpp.v16``/``v201``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ocpp.charge_point import ChargePoint as LibraryChargePoint
from ocpp.exceptions import OCPPError

from ems.domain import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from ems.ocpp.translate import format_time, parse_time

if TYPE_CHECKING:
    from ems.sim.chargepoint import SimChargePoint

log = logging.getLogger(__name__)

_PURPOSES = {
    "ChargePointMaxProfile": ChargingProfilePurpose.CHARGE_POINT_MAX,
    "ChargingStationMaxProfile": ChargingProfilePurpose.CHARGE_POINT_MAX,
    "TxDefaultProfile": ChargingProfilePurpose.TX_DEFAULT,
    "TxProfile": ChargingProfilePurpose.TX,
}


class StationConnection(LibraryChargePoint):
    """What a simulated station's connection does the same in both versions; the version's
    class comes after it (``class Wire16(StationConnection, ocpp.v16.ChargePoint)``)."""

    def __init__(self, sim: SimChargePoint, connection: Any) -> None:
        super().__init__(sim.id, connection, response_timeout=sim.response_timeout_s)
        self.sim = sim
        self.station = sim.station

    async def _call(self, payload: Any) -> Any:
        """Send ``payload``; a CALLERROR answer is logged and returns None."""
        try:
            return await self.call(payload, suppress=False)
        except OCPPError as error:
            log.warning("%s: %s answered %r", self.id, type(payload).__name__, error)
            return None


class UnsupportedProfile(ValueError):
    """A profile this simulator does not take (for example ChargingStationExternalConstraints)."""


def purpose_of(word: str) -> ChargingProfilePurpose:
    try:
        return _PURPOSES[word]
    except KeyError:
        raise UnsupportedProfile(f"charging profile purpose {word} is not supported") from None


def schedule_of(data: dict[str, Any]) -> ChargingSchedule:
    """A ``ChargingSchedule`` (either version, snake_case keys) in domain form."""
    start = data.get("start_schedule")
    return ChargingSchedule(
        unit=ChargingRateUnit(data["charging_rate_unit"]),
        periods=tuple(
            ChargingSchedulePeriod(
                start_s=int(p["start_period"]),
                limit=float(p["limit"]),
                number_phases=p.get("number_phases"),
                phase_to_use=p.get("phase_to_use"),
            )
            for p in data["charging_schedule_period"]
        ),
        duration_s=data.get("duration"),
        start_schedule=parse_time(start) if start else None,
        min_rate=data.get("min_charging_rate"),
        id=int(data.get("id", 1)),
    )


def _profile(profile_id: int, data: dict[str, Any], schedule: dict[str, Any]) -> ChargingProfile:
    valid_from = data.get("valid_from")
    valid_to = data.get("valid_to")
    transaction_id = data.get("transaction_id")
    return ChargingProfile(
        id=profile_id,
        stack_level=int(data["stack_level"]),
        purpose=purpose_of(data["charging_profile_purpose"]),
        schedule=schedule_of(schedule),
        kind=ChargingProfileKind(data["charging_profile_kind"]),
        recurrency=data.get("recurrency_kind"),
        valid_from=parse_time(valid_from) if valid_from else None,
        valid_to=parse_time(valid_to) if valid_to else None,
        transaction_id=None if transaction_id is None else str(transaction_id),
    )


def profile_16(data: dict[str, Any]) -> ChargingProfile:
    """A 1.6 ``csChargingProfiles`` in domain form."""
    return _profile(int(data["charging_profile_id"]), data, data["charging_schedule"])


def profile_201(data: dict[str, Any]) -> ChargingProfile:
    """A 2.0.1 ``ChargingProfileType`` in domain form (its first schedule: one per profile is
    what a station without ISO 15118 schedule selection uses)."""
    return _profile(int(data["id"]), data, data["charging_schedule"][0])


def schedule_payload(schedule: ChargingSchedule) -> dict[str, Any]:
    """A composite schedule's periods and unit as snake_case payload fields."""
    periods = []
    for period in schedule.periods:
        item: dict[str, Any] = {"start_period": period.start_s, "limit": period.limit}
        if period.number_phases is not None:
            item["number_phases"] = period.number_phases
        periods.append(item)
    return {"charging_rate_unit": schedule.unit.value, "charging_schedule_period": periods}


def time_text(schedule: ChargingSchedule) -> str | None:
    return None if schedule.start_schedule is None else format_time(schedule.start_schedule)

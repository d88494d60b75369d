"""Helpers both OCPP edges share: times, sampled values and charging-profile rules."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from ems.domain import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    InvalidCommand,
    MeterSample,
)

log = logging.getLogger(__name__)

_DEFAULT_UNITS = {
    "Energy": "Wh",
    "Power": "W",
    "Current": "A",
    "Voltage": "V",
    "SoC": "Percent",
    "Temperature": "Celsius",
    "Frequency": "Hz",
}


def parse_time(text: str) -> datetime:
    """An OCPP date-time as a timezone-aware UTC datetime (a missing offset means UTC)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """UTC with a Z suffix and millisecond precision, as chargers expect."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def default_unit(measurand: str) -> str | None:
    return _DEFAULT_UNITS.get(measurand.split(".", 1)[0])


def sample(
    timestamp: datetime,
    value: Any,
    *,
    measurand: str | None,
    unit: str | None,
    phase: str | None,
    context: str | None,
    location: str | None,
    multiplier: int = 0,
) -> MeterSample | None:
    """A domain sample with the spec's defaults applied; None for a non-numeric (signed) value."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        log.debug("skipping non-numeric sampled value %r", value)
        return None
    measurand = measurand or "Energy.Active.Import.Register"
    if multiplier:
        number *= 10.0**multiplier
    return MeterSample(
        timestamp=timestamp,
        measurand=measurand,
        value=number,
        unit=unit or default_unit(measurand),
        phase=phase,
        context=context or "Sample.Periodic",
        location=location or "Outlet",
    )


def rate_units(text: str | None) -> tuple[ChargingRateUnit, ...]:
    """Charging rate units from a configuration value: 1.6 ``"Current,Power"``, 2.0.1 ``"A,W"``."""
    names = {"current": ChargingRateUnit.A, "a": ChargingRateUnit.A}
    names |= {"power": ChargingRateUnit.W, "w": ChargingRateUnit.W}
    units = [names.get(part.strip().lower()) for part in (text or "").split(",")]
    return tuple(dict.fromkeys(u for u in units if u is not None))


def int_or_none(text: str | None) -> int | None:
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def bool_or_none(text: str | None) -> bool | None:
    value = str(text).strip().lower()
    return True if value == "true" else False if value == "false" else None


def overall_status(statuses: Iterable[str | None]) -> str | None:
    """One word for several per-variable answers: the common one, else ``Mixed``."""
    distinct = set(statuses)
    return distinct.pop() if len(distinct) == 1 else "Mixed"


def check_profile(evse_id: int, profile: ChargingProfile) -> None:
    """Refuse, before sending, a profile that breaks the spec's rules (K01 / 1.6 §3.13)."""
    periods = profile.schedule.periods
    if not periods:
        raise InvalidCommand("a charging schedule needs at least one period")
    if periods[0].start_s != 0:
        raise InvalidCommand("the first charging schedule period must start at 0")
    starts = [p.start_s for p in periods]
    if starts != sorted(set(starts)):
        raise InvalidCommand("charging schedule periods must have increasing start times")
    if any(p.limit < 0 for p in periods):
        raise InvalidCommand("a charging limit cannot be negative")
    if profile.stack_level < 0:
        raise InvalidCommand("stack_level must be 0 or more")
    if profile.purpose is ChargingProfilePurpose.CHARGE_POINT_MAX and evse_id != 0:
        raise InvalidCommand("a ChargePointMaxProfile applies to evse 0 (the whole charge point)")
    if profile.purpose is ChargingProfilePurpose.TX and evse_id == 0:
        raise InvalidCommand("a TxProfile applies to an EVSE with a transaction, not evse 0")
    if profile.purpose is not ChargingProfilePurpose.TX and profile.transaction_id is not None:
        raise InvalidCommand("only a TxProfile may name a transaction")
    if profile.kind is ChargingProfileKind.RECURRING and profile.recurrency is None:
        raise InvalidCommand("a Recurring profile needs a recurrency (Daily or Weekly)")
    if profile.kind is ChargingProfileKind.RELATIVE and profile.schedule.start_schedule is not None:
        raise InvalidCommand("a Relative profile has no start_schedule")


def schedule_fields(schedule: ChargingSchedule) -> dict[str, Any]:
    """The fields of a charging schedule both versions share, limits to one decimal as the
    schemas allow."""
    periods = []
    for period in schedule.periods:
        item: dict[str, Any] = {"startPeriod": period.start_s, "limit": round(period.limit, 1)}
        if period.number_phases is not None:
            item["numberPhases"] = period.number_phases
        if period.phase_to_use is not None:
            item["phaseToUse"] = period.phase_to_use
        periods.append(item)
    out: dict[str, Any] = {
        "chargingRateUnit": schedule.unit.value,
        "chargingSchedulePeriod": periods,
    }
    if schedule.start_schedule is not None:
        out["startSchedule"] = format_time(schedule.start_schedule)
    if schedule.duration_s is not None:
        out["duration"] = schedule.duration_s
    if schedule.min_rate is not None:
        out["minChargingRate"] = round(schedule.min_rate, 1)
    return out


def profile_fields(profile: ChargingProfile, purpose: str) -> dict[str, Any]:
    """The fields of a charging profile both versions share (the schedule excepted)."""
    out: dict[str, Any] = {
        "id": profile.id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": profile.kind.value,
    }
    if profile.recurrency is not None:
        out["recurrencyKind"] = profile.recurrency
    if profile.valid_from is not None:
        out["validFrom"] = format_time(profile.valid_from)
    if profile.valid_to is not None:
        out["validTo"] = format_time(profile.valid_to)
    return out


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums and datetimes as JSON values, for the audit tables."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Enum):
        return value.value
    return value

"""The charging profiles a station holds and the composite schedule it derives from them.

Pure: every function takes the time it is asked about. The rules follow OCPP 1.6 §3.13 and
2.0.1 K01/K08/K10:

* ``ChargePointMaxProfile`` (2.0.1: ``ChargingStationMaxProfile``), installed on EVSE 0, caps
  the whole station and therefore every EVSE.
* For an EVSE with a running transaction, a ``TxProfile`` of that transaction (installed on that
  EVSE) overrides the ``TxDefaultProfile``; a ``TxDefaultProfile`` on EVSE 0 applies to every
  EVSE, one on the EVSE itself wins over it at the same stack level.
* Within a purpose the applicable profile with the highest ``stackLevel`` wins; a profile is
  applicable at a time inside ``[validFrom, validTo)``, after its schedule's start and before
  start + ``duration``. Outside those, the next lower stack level takes over.
* Schedule start: ``Absolute`` at ``startSchedule`` (missing: ``validFrom``, else when it was
  installed); ``Relative`` at the transaction's start (no transaction: now); ``Recurring`` at the
  latest ``startSchedule`` + k days (``Daily``) or weeks (``Weekly``).
* Each period holds from its ``startPeriod`` to the next one's; limits are A per phase (with
  ``numberPhases``, default 3) or W. Limits of different units are compared as power at the
  station's nominal voltage.

A new profile replaces an installed one with the same id, or with the same EVSE, purpose and
stack level (1.6 §5.16, 2.0.1 use case K01). Clearing by id ignores the other criteria (as 2.0.1
states explicitly, use case K10); otherwise every given criterion must match.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ems.domain import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
)

DEFAULT_NUMBER_PHASES = 3
"""A period with unit A and no ``numberPhases`` means three phases (both versions)."""

_RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit: ``value`` in ``unit`` (A per phase, or W in total) on ``number_phases``."""

    value: float
    unit: ChargingRateUnit
    number_phases: int = DEFAULT_NUMBER_PHASES

    def power_w(self, voltage_v: float, phases: int = DEFAULT_NUMBER_PHASES) -> float:
        """Total power [W] this limit allows on a station wired with ``phases`` phases."""
        if self.unit is ChargingRateUnit.W:
            return self.value
        return self.value * voltage_v * min(self.number_phases, phases)

    def to_unit(self, unit: ChargingRateUnit, voltage_v: float, phases: int) -> Limit:
        """The same limit expressed in ``unit`` for a station with ``phases`` phases."""
        used = min(self.number_phases, phases)
        if unit is self.unit:
            return replace(self, number_phases=used)
        if unit is ChargingRateUnit.W:
            return Limit(self.value * voltage_v * used, unit, used)
        return Limit(self.value / (voltage_v * phases), unit, phases)


@dataclass(frozen=True, slots=True)
class TxContext:
    """The transaction running on an EVSE, as far as profiles care."""

    transaction_id: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class InstalledProfile:
    """A profile as the station holds it: on which EVSE (0 = station) and since when."""

    evse_id: int
    profile: ChargingProfile
    installed_at: datetime


def schedule_start(
    installed: InstalledProfile, at: datetime, relative_start: datetime | None
) -> datetime:
    """When the schedule of ``installed`` (last) started, as seen at time ``at``."""
    profile = installed.profile
    schedule = profile.schedule
    if profile.kind is ChargingProfileKind.RELATIVE:
        return relative_start if relative_start is not None else at
    base = schedule.start_schedule or profile.valid_from or installed.installed_at
    if profile.kind is ChargingProfileKind.RECURRING:
        period = _RECURRENCE.get(profile.recurrency or "Daily", _RECURRENCE["Daily"])
        return base + period * ((at - base) // period)
    return base


def profile_limit(
    installed: InstalledProfile, at: datetime, relative_start: datetime | None = None
) -> Limit | None:
    """The limit ``installed`` sets at ``at``, or None when it does not apply then."""
    profile = installed.profile
    if profile.valid_from is not None and at < profile.valid_from:
        return None
    if profile.valid_to is not None and at >= profile.valid_to:
        return None
    start = schedule_start(installed, at, relative_start)
    offset_s = (at - start).total_seconds()
    if offset_s < 0:
        return None
    schedule = profile.schedule
    if schedule.duration_s is not None and offset_s >= schedule.duration_s:
        return None
    current: ChargingSchedulePeriod | None = None
    for period in schedule.periods:
        if period.start_s > offset_s:
            break
        current = period
    if current is None:
        return None
    phases = current.number_phases or DEFAULT_NUMBER_PHASES
    return Limit(current.limit, schedule.unit, phases)


def _change_times(
    installed: InstalledProfile, start: datetime, end: datetime, relative_start: datetime | None
) -> Iterable[datetime]:
    """Every time in ``[start, end)`` at which the limit of ``installed`` may change."""
    profile = installed.profile
    schedule = profile.schedule
    yield from (t for t in (profile.valid_from, profile.valid_to) if t is not None)
    if profile.kind is ChargingProfileKind.RELATIVE and relative_start is None:
        return
    first = schedule_start(installed, start, relative_start)
    step = None
    if profile.kind is ChargingProfileKind.RECURRING:
        step = _RECURRENCE.get(profile.recurrency or "Daily", _RECURRENCE["Daily"])
    origin = first
    while origin < end:
        yield origin
        yield from (origin + timedelta(seconds=p.start_s) for p in schedule.periods)
        if schedule.duration_s is not None:
            yield origin + timedelta(seconds=schedule.duration_s)
        if step is None:
            break
        origin += step


class ProfileSet:
    """The charging profiles installed on one station."""

    def __init__(self) -> None:
        self._installed: list[InstalledProfile] = []

    def __iter__(self) -> Iterator[InstalledProfile]:
        return iter(tuple(self._installed))

    def __len__(self) -> int:
        return len(self._installed)

    def install(self, evse_id: int, profile: ChargingProfile, at: datetime) -> None:
        """Install ``profile`` on ``evse_id``, replacing one with its id or its stack slot."""
        self._installed = [
            i
            for i in self._installed
            if i.profile.id != profile.id
            and not (
                i.evse_id == evse_id
                and i.profile.purpose is profile.purpose
                and i.profile.stack_level == profile.stack_level
            )
        ]
        self._installed.append(InstalledProfile(evse_id, profile, at))

    def clear(
        self,
        *,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: ChargingProfilePurpose | None = None,
        stack_level: int | None = None,
    ) -> int:
        """Remove the profile ``profile_id``, or all matching the other criteria (none: all).

        Returns how many were removed (an OCPP answer is ``Unknown`` when none were).
        """

        def matches(i: InstalledProfile) -> bool:
            if profile_id is not None:
                return i.profile.id == profile_id
            return (
                (evse_id is None or i.evse_id == evse_id)
                and (purpose is None or i.profile.purpose is purpose)
                and (stack_level is None or i.profile.stack_level == stack_level)
            )

        kept = [i for i in self._installed if not matches(i)]
        removed = len(self._installed) - len(kept)
        self._installed = kept
        return removed

    def end_transaction(self, evse_id: int) -> int:
        """A transaction on ``evse_id`` ended: its TxProfiles are deleted with it."""
        return self.clear(evse_id=evse_id, purpose=ChargingProfilePurpose.TX)

    def _winner(
        self,
        candidates: Iterable[InstalledProfile],
        at: datetime,
        relative_start: datetime | None,
    ) -> Limit | None:
        # Highest stack level first; at equal level an EVSE's own profile before EVSE 0's.
        ordered = sorted(candidates, key=lambda i: (-i.profile.stack_level, i.evse_id == 0))
        for installed in ordered:
            limit = profile_limit(installed, at, relative_start)
            if limit is not None:
                return limit
        return None

    def limit_at(
        self,
        evse_id: int,
        at: datetime,
        tx: TxContext | None = None,
        *,
        voltage_v: float = 230.0,
        phases: int = DEFAULT_NUMBER_PHASES,
    ) -> Limit | None:
        """The limit in force on ``evse_id`` (0: the station) at ``at``; None if unlimited."""
        purpose = ChargingProfilePurpose
        station_max = self._winner(
            (i for i in self._installed if i.profile.purpose is purpose.CHARGE_POINT_MAX),
            at,
            None,
        )
        if evse_id == 0:
            return station_max
        relative_start = tx.started_at if tx is not None else None
        own: Limit | None = None
        if tx is not None:
            own = self._winner(
                (
                    i
                    for i in self._installed
                    if i.profile.purpose is purpose.TX
                    and i.evse_id == evse_id
                    and i.profile.transaction_id in (None, tx.transaction_id)
                ),
                at,
                relative_start,
            )
        if own is None:
            own = self._winner(
                (
                    i
                    for i in self._installed
                    if i.profile.purpose is purpose.TX_DEFAULT and i.evse_id in (0, evse_id)
                ),
                at,
                relative_start,
            )
        found = [limit for limit in (own, station_max) if limit is not None]
        if not found:
            return None
        return min(found, key=lambda limit: limit.power_w(voltage_v, phases))

    def composite(
        self,
        evse_id: int,
        start: datetime,
        duration_s: int,
        *,
        unit: ChargingRateUnit,
        default: Limit,
        tx: TxContext | None = None,
        voltage_v: float = 230.0,
        phases: int = DEFAULT_NUMBER_PHASES,
    ) -> ChargingSchedule:
        """The composite schedule of ``evse_id`` for ``duration_s`` from ``start`` in ``unit``.

        Where no profile applies, ``default`` (the station's own rating) holds; a profile's
        limit above it is capped by it. Consecutive periods with the same limit are merged.
        """
        end = start + timedelta(seconds=duration_s)
        relative_start = tx.started_at if tx is not None else None
        times = {start}
        for installed in self._installed:
            times.update(_change_times(installed, start, end, relative_start))
        periods: list[ChargingSchedulePeriod] = []
        for at in sorted(t for t in times if start <= t < end):
            limit = self.limit_at(evse_id, at, tx, voltage_v=voltage_v, phases=phases)
            if limit is None or limit.power_w(voltage_v, phases) > default.power_w(
                voltage_v, phases
            ):
                limit = default
            converted = limit.to_unit(unit, voltage_v, phases)
            value = round(converted.value, 1)
            number_phases = converted.number_phases if unit is ChargingRateUnit.A else None
            if periods and (periods[-1].limit, periods[-1].number_phases) == (
                value,
                number_phases,
            ):
                continue
            offset_s = int((at - start).total_seconds())
            periods.append(ChargingSchedulePeriod(offset_s, value, number_phases))
        return ChargingSchedule(
            unit=unit, periods=tuple(periods), duration_s=duration_s, start_schedule=start
        )

"""Composite schedules from installed profiles, checked by hand against the OCPP rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ems.domain import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from ems.sim.profiles import Limit, ProfileSet, TxContext

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
A = ChargingRateUnit.A
W = ChargingRateUnit.W
TX = ChargingProfilePurpose.TX
DEFAULT = ChargingProfilePurpose.TX_DEFAULT
MAX = ChargingProfilePurpose.CHARGE_POINT_MAX
RUNNING = TxContext("tx-1", T0 - timedelta(minutes=10))


def profile(
    profile_id: int,
    purpose: ChargingProfilePurpose,
    periods: list[tuple[int, float]],
    *,
    stack_level: int = 0,
    unit: ChargingRateUnit = A,
    kind: ChargingProfileKind = ChargingProfileKind.ABSOLUTE,
    start: datetime | None = None,
    duration_s: int | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: str | None = None,
    recurrency: str | None = None,
) -> ChargingProfile:
    return ChargingProfile(
        id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        recurrency=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=transaction_id,
        schedule=ChargingSchedule(
            unit=unit,
            periods=tuple(ChargingSchedulePeriod(s, v) for s, v in periods),
            duration_s=duration_s,
            start_schedule=start,
        ),
    )


def amps(limit: Limit | None) -> float | None:
    return None if limit is None else limit.value


def test_no_profile_means_no_limit() -> None:
    assert ProfileSet().limit_at(1, T0, RUNNING) is None


def test_highest_stack_level_wins_within_a_purpose() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 16.0)], stack_level=0, start=T0), T0)
    profiles.install(0, profile(2, DEFAULT, [(0, 20.0)], stack_level=1, start=T0), T0)
    assert amps(profiles.limit_at(1, T0, RUNNING)) == 20.0


def test_expired_higher_stack_level_falls_back_to_the_lower_one() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 16.0)], start=T0), T0)
    higher = profile(
        2, DEFAULT, [(0, 8.0)], stack_level=3, start=T0, valid_to=T0 + timedelta(hours=1)
    )
    profiles.install(0, higher, T0)
    assert amps(profiles.limit_at(1, T0 + timedelta(minutes=59), RUNNING)) == 8.0
    assert amps(profiles.limit_at(1, T0 + timedelta(hours=1), RUNNING)) == 16.0


def test_not_yet_valid_profile_does_not_apply() -> None:
    profiles = ProfileSet()
    profiles.install(1, profile(1, DEFAULT, [(0, 10.0)], valid_from=T0 + timedelta(hours=1)), T0)
    assert profiles.limit_at(1, T0, RUNNING) is None
    assert amps(profiles.limit_at(1, T0 + timedelta(hours=1), RUNNING)) == 10.0


def test_tx_profile_overrides_tx_default_even_when_higher() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 10.0)], stack_level=5, start=T0), T0)
    profiles.install(1, profile(2, TX, [(0, 20.0)], start=T0, transaction_id="tx-1"), T0)
    assert amps(profiles.limit_at(1, T0, RUNNING)) == 20.0
    # without the transaction the default holds
    assert amps(profiles.limit_at(1, T0, None)) == 10.0


def test_tx_profile_of_another_transaction_or_evse_does_not_apply() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 10.0)], start=T0), T0)
    profiles.install(1, profile(2, TX, [(0, 20.0)], start=T0, transaction_id="tx-0"), T0)
    profiles.install(2, profile(3, TX, [(0, 24.0)], start=T0, transaction_id="tx-1"), T0)
    assert amps(profiles.limit_at(1, T0, RUNNING)) == 10.0


def test_evse_default_wins_over_station_default_at_equal_stack_level() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 10.0)], start=T0), T0)
    profiles.install(2, profile(2, DEFAULT, [(0, 13.0)], start=T0), T0)
    assert amps(profiles.limit_at(1, T0, RUNNING)) == 10.0
    assert amps(profiles.limit_at(2, T0, RUNNING)) == 13.0


def test_station_maximum_caps_every_evse() -> None:
    profiles = ProfileSet()
    profiles.install(1, profile(1, TX, [(0, 32.0)], start=T0, transaction_id="tx-1"), T0)
    profiles.install(0, profile(2, MAX, [(0, 12.0)], start=T0), T0)
    assert amps(profiles.limit_at(1, T0, RUNNING)) == 12.0
    assert amps(profiles.limit_at(0, T0)) == 12.0


def test_limits_in_different_units_compare_as_power() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 20.0)], start=T0), T0)  # 13,800 W
    profiles.install(0, profile(2, MAX, [(0, 11000.0)], unit=W, start=T0), T0)
    assert profiles.limit_at(1, T0, RUNNING) == Limit(11000.0, W, 3)
    # on one phase 20 A is only 4,600 W, below the 11 kW cap
    assert profiles.limit_at(1, T0, RUNNING, phases=1) == Limit(20.0, A, 3)


def test_relative_profile_starts_with_the_transaction() -> None:
    profiles = ProfileSet()
    relative = profile(
        1, TX, [(0, 32.0), (1800, 10.0)], kind=ChargingProfileKind.RELATIVE, transaction_id="tx-1"
    )
    profiles.install(1, relative, T0)
    started = RUNNING.started_at
    assert amps(profiles.limit_at(1, started + timedelta(seconds=1799), RUNNING)) == 32.0
    assert amps(profiles.limit_at(1, started + timedelta(seconds=1800), RUNNING)) == 10.0


def test_duration_ends_a_schedule_and_the_lower_level_takes_over() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 16.0)], start=T0), T0)
    profiles.install(
        0, profile(2, DEFAULT, [(0, 8.0)], stack_level=1, start=T0, duration_s=3600), T0
    )
    assert amps(profiles.limit_at(1, T0 + timedelta(seconds=3599), RUNNING)) == 8.0
    assert amps(profiles.limit_at(1, T0 + timedelta(seconds=3600), RUNNING)) == 16.0


def test_absolute_profile_without_start_schedule_starts_when_installed() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 16.0), (600, 6.0)]), T0)
    assert amps(profiles.limit_at(1, T0 + timedelta(seconds=599), RUNNING)) == 16.0
    assert amps(profiles.limit_at(1, T0 + timedelta(seconds=600), RUNNING)) == 6.0


def test_daily_recurring_profile_repeats_every_day() -> None:
    night = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    recurring = profile(
        1,
        DEFAULT,
        [(0, 32.0), (8 * 3600, 10.0), (18 * 3600, 32.0)],
        kind=ChargingProfileKind.RECURRING,
        recurrency="Daily",
        start=night,
    )
    profiles = ProfileSet()
    profiles.install(0, recurring, night)
    day = datetime(2026, 11, 2, tzinfo=UTC)
    assert amps(profiles.limit_at(1, day + timedelta(hours=7, minutes=59), RUNNING)) == 32.0
    assert amps(profiles.limit_at(1, day + timedelta(hours=9), RUNNING)) == 10.0
    assert amps(profiles.limit_at(1, day + timedelta(hours=19), RUNNING)) == 32.0


def test_weekly_recurring_profile_repeats_every_week() -> None:
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    weekly = profile(
        1,
        DEFAULT,
        [(0, 10.0), (86400, 32.0)],
        kind=ChargingProfileKind.RECURRING,
        recurrency="Weekly",
        start=monday - timedelta(weeks=3),
    )
    profiles = ProfileSet()
    profiles.install(0, weekly, monday)
    assert amps(profiles.limit_at(1, monday + timedelta(hours=12), RUNNING)) == 10.0
    assert amps(profiles.limit_at(1, monday + timedelta(days=1, hours=12), RUNNING)) == 32.0


def test_composite_schedule_merges_profiles_in_the_requested_unit() -> None:
    # TxProfile relative to the transaction (started T0 - 10 min): 32 A, then 16 A after 30 min
    # (T0 + 20 min). Station maximum 11,040 W (= 16 A x 3 x 230 V) from T0 + 10 min.
    profiles = ProfileSet()
    tx_profile = profile(
        1, TX, [(0, 32.0), (1800, 16.0)], kind=ChargingProfileKind.RELATIVE, transaction_id="tx-1"
    )
    profiles.install(1, tx_profile, T0)
    cap = profile(2, MAX, [(0, 11040.0)], unit=W, valid_from=T0 + timedelta(minutes=10))
    profiles.install(0, cap, T0)
    rating = Limit(32.0, A, 3)
    in_a = profiles.composite(1, T0, 3600, unit=A, default=rating, tx=RUNNING)
    assert in_a.periods == (
        ChargingSchedulePeriod(0, 32.0, 3),
        ChargingSchedulePeriod(600, 16.0, 3),
    )
    assert (in_a.start_schedule, in_a.duration_s, in_a.unit) == (T0, 3600, A)
    in_w = profiles.composite(1, T0, 3600, unit=W, default=rating, tx=RUNNING)
    assert in_w.periods == (
        ChargingSchedulePeriod(0, 22080.0),
        ChargingSchedulePeriod(600, 11040.0),
    )


def test_composite_schedule_is_capped_by_the_station_rating() -> None:
    profiles = ProfileSet()
    profiles.install(0, profile(1, DEFAULT, [(0, 40.0), (600, 10.0)], start=T0), T0)
    composite = profiles.composite(1, T0, 1200, unit=A, default=Limit(16.0, A, 1), phases=1)
    assert composite.periods == (
        ChargingSchedulePeriod(0, 16.0, 1),
        ChargingSchedulePeriod(600, 10.0, 1),
    )


def test_new_profile_replaces_same_id_and_same_stack_slot() -> None:
    profiles = ProfileSet()
    profiles.install(1, profile(1, DEFAULT, [(0, 16.0)], start=T0), T0)
    profiles.install(2, profile(1, DEFAULT, [(0, 12.0)], stack_level=2, start=T0), T0)
    assert [(i.evse_id, i.profile.id) for i in profiles] == [(2, 1)]
    profiles.install(2, profile(7, DEFAULT, [(0, 6.0)], stack_level=2, start=T0), T0)
    assert [(i.evse_id, i.profile.id) for i in profiles] == [(2, 7)]
    profiles.install(2, profile(8, DEFAULT, [(0, 6.0)], stack_level=3, start=T0), T0)
    assert len(profiles) == 2


def _three_profiles() -> ProfileSet:
    profiles = ProfileSet()
    profiles.install(0, profile(1, MAX, [(0, 40.0)], stack_level=0), T0)
    profiles.install(1, profile(2, DEFAULT, [(0, 16.0)], stack_level=1), T0)
    profiles.install(1, profile(3, TX, [(0, 10.0)], stack_level=1, transaction_id="tx-1"), T0)
    return profiles


@pytest.mark.parametrize(
    ("criteria", "left"),
    [
        ({"profile_id": 2}, [1, 3]),
        ({"profile_id": 2, "purpose": TX}, [1, 3]),  # an id ignores the other criteria
        ({"profile_id": 99}, [1, 2, 3]),
        ({"evse_id": 1}, [1]),
        ({"evse_id": 0}, [2, 3]),
        ({"purpose": DEFAULT}, [1, 3]),
        ({"stack_level": 1}, [1]),
        ({"evse_id": 1, "purpose": TX, "stack_level": 0}, [1, 2, 3]),
        ({}, []),
    ],
)
def test_clear_by_id_or_criteria(criteria: dict[str, object], left: list[int]) -> None:
    profiles = _three_profiles()
    removed = profiles.clear(**criteria)  # type: ignore[arg-type]
    assert sorted(i.profile.id for i in profiles) == left
    assert removed == 3 - len(left)


def test_transaction_end_deletes_its_tx_profiles_only() -> None:
    profiles = _three_profiles()
    assert profiles.end_transaction(1) == 1
    assert sorted(i.profile.id for i in profiles) == [1, 2]

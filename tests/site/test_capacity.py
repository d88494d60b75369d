"""Capacity per slot: time-of-day windows (tightest within a slot) and other load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ems.site import SiteConfig, load_site

SITES = Path(__file__).resolve().parents[2] / "data" / "sites"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def slots(start: datetime, durations_s: list[float]) -> list[datetime]:
    out, t = [], start
    for d in durations_s:
        out.append(t)
        t += timedelta(seconds=d)
    return out


@pytest.fixture(scope="module")
def depot() -> SiteConfig:
    return load_site(SITES / "depot.toml")  # 200 kW, 150 kW weekdays 07-19 local; 300 A


def test_daytime_window_caps_the_grid_connection_slot_by_slot(depot: SiteConfig) -> None:
    durations = [3600.0, 3600.0, 1800.0, 3600.0]
    # Tuesday 4 June 2024, 17:00 local (15:00 UTC): 17-18, 18-19, 19-19:30, 19:30-20:30.
    circuits = depot.optimizer_circuits(slots(utc(2024, 6, 4, 15), durations), durations)
    root = circuits[0]
    assert root.id == "grid" and root.parent_id is None
    assert root.limit_kw_by_slot == (150.0, 150.0, 200.0, 200.0)
    assert root.limit_a_by_slot == ((300.0, 300.0, 300.0),) * 4
    cabinet = circuits[1]
    assert (cabinet.limit_a, cabinet.limit_a_by_slot) == ((160.0, 160.0, 160.0), None)


def test_a_slot_touching_the_window_gets_its_tighter_limit(depot: SiteConfig) -> None:
    durations = [3600.0]
    circuits = depot.optimizer_circuits(slots(utc(2024, 6, 4, 4, 30), durations), durations)
    assert circuits[0].limit_kw_by_slot == (150.0,)  # 06:30-07:30 local reaches into 07:00


def test_weekends_keep_the_full_connection(depot: SiteConfig) -> None:
    durations = [3600.0]
    circuits = depot.optimizer_circuits(slots(utc(2024, 6, 8, 10), durations), durations)
    assert circuits[0].limit_kw_by_slot == (200.0,)


def test_other_load_comes_off_the_root_in_kw_and_per_phase_amps(depot: SiteConfig) -> None:
    durations = [900.0, 900.0]
    starts = slots(utc(2024, 6, 8, 10), durations)  # Saturday: 200 kW
    circuits = depot.optimizer_circuits(starts, durations, other_load_kw=[69.0, -13.8])
    root = circuits[0]
    assert root.limit_kw_by_slot == pytest.approx((131.0, 213.8))
    # 69 kW balanced at 230 V is 100 A per phase; PV export (negative) adds 20 A.
    assert root.limit_a_by_slot is not None
    assert [list(p) for p in root.limit_a_by_slot] == [
        pytest.approx([200.0] * 3),
        pytest.approx([320.0] * 3),
    ]
    assert circuits[1].limit_a == (160.0, 160.0, 160.0)  # the meter sits at the root only


def test_capacity_never_goes_below_zero(depot: SiteConfig) -> None:
    durations = [900.0]
    circuits = depot.optimizer_circuits(slots(utc(2024, 6, 8), durations), durations, [500.0])
    assert circuits[0].limit_kw_by_slot == (0.0,)
    assert circuits[0].limit_a_by_slot == ((0.0, 0.0, 0.0),)


def test_hourly_profile_forecast_is_time_weighted_in_local_time(depot: SiteConfig) -> None:
    # Profile: 22 kW in the hour from 07:00 local, 28 kW from 08:00.
    durations = [1800.0, 3600.0]
    starts = slots(utc(2024, 6, 4, 5), durations)  # 07:00-07:30, 07:30-08:30 local
    assert depot.other_load_forecast_kw(starts, durations) == pytest.approx((22.0, 25.0))


def test_slot_lists_must_match(depot: SiteConfig) -> None:
    with pytest.raises(ValueError, match="one other load per slot"):
        depot.optimizer_circuits([utc(2024, 6, 4)], [900.0], [1.0, 2.0])

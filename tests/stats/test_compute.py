"""Statistics of the seeded dataset (:mod:`tests.stats.seed`) equal the figures worked out by
hand there, on SQLite and on PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ems.stats import Period, Stats, StatsScope, compute_stats
from ems.store import Store
from tests.stats.seed import DAY1, DAY3, NOW, site

MIN = 1 / 60  # an hour's share of a minute


def compute(store: Store, tmp_path: Path, **options: Any) -> Stats:
    scope = options.pop("scope", None) or StatsScope.of_site(site(tmp_path))
    return compute_stats(store.engine, scope, DAY1, DAY3, Period.DAY, NOW, **options)


def row(table: pd.DataFrame, **where: Any) -> dict[str, Any]:
    match = table
    for column, value in where.items():
        match = match[match[column] == value]
    assert len(match) == 1, f"{where}: {len(match)} rows"
    record: dict[str, Any] = match.iloc[0].to_dict()
    return record


def check(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(actual[name]), f"{name}: {actual[name]} is not NaN"
        else:
            assert actual[name] == pytest.approx(value, abs=1e-9), name


def test_per_charger_and_day_figures_equal_the_hand_computed_ones(
    seeded: Store, tmp_path: Path
) -> None:
    stats = compute(seeded, tmp_path)
    chargers = stats.chargers
    assert sorted(set(chargers["charger"])) == ["CP-A/1", "CP-A/2", "CP-B/1"]
    assert list(stats.site["period"]) == ["2026-10-05", "2026-10-06"]
    check(
        row(chargers, charger="CP-A/1", period="2026-10-05"),
        {
            "sessions": 1,
            "energy_kwh": 2.010,
            "plugged_in_h": 80 * MIN,  # Preparing 09:50 to Available 11:10
            "charging_h": 20 * MIN,
            "idle_h": 60 * MIN,
            "occupancy_pct": 80 / 1440 * 100,
            "charging_pct": 20 / 1440 * 100,
            "mean_session_duration_h": 1.0,
            "mean_session_energy_kwh": 2.010,
            "peak_power_kw": 6.0,  # 1500 Wh in the quarter hour from 10:00
            "energy_cost": 0.60,  # 2.010 kWh x 0.30 = 0.603
            "revenue": 1.10,  # 0.603 + 0.50 fee, rounded
            "unmet_kwh": 0.0,
            "sessions_with_need": 0,
        },
    )
    check(
        row(chargers, charger="CP-A/2", period="2026-10-05"),
        {
            "sessions": 1,
            "energy_kwh": 2.0,  # half of S2, pro rata by time
            "plugged_in_h": 0.5,
            "charging_h": 0.5,
            "idle_h": 0.0,
            "mean_session_duration_h": 1.0,
            "mean_session_energy_kwh": 4.0,  # the whole session
            "peak_power_kw": 4.0,
            "energy_cost": 0.60,
            "revenue": 1.50,  # 2 kWh x 0.30 + 2 kWh x 0.20 + 0.50
            "requested_kwh": 5.0,
            "unmet_kwh": 1.0,
            "sessions_with_need": 1,
        },
    )
    check(
        row(chargers, charger="CP-A/2", period="2026-10-06"),
        {
            "sessions": 0,
            "energy_kwh": 2.0,
            "plugged_in_h": 0.5,
            "charging_h": 0.5,
            "mean_session_duration_h": float("nan"),
            "energy_cost": 0.40,  # night price
            "revenue": 0.0,  # counted on the day the session started
            "unmet_kwh": 0.0,
        },
    )
    check(
        row(chargers, charger="CP-B/1", period="2026-10-06"),
        {
            "sessions": 1,
            "energy_kwh": 2.0,  # 2.5 kWh (sent in kWh) - 500 Wh
            "plugged_in_h": 0.5,  # running until NOW
            "charging_h": 20 * MIN,
            "idle_h": 10 * MIN,
            "occupancy_pct": 30 / 630 * 100,  # 10.5 h of the day have passed
            "mean_session_duration_h": float("nan"),  # still running
            "mean_session_energy_kwh": float("nan"),
            "peak_power_kw": 6.0,
            "energy_cost": 0.60,
            "revenue": 1.10,  # its cost so far
        },
    )
    check(
        row(chargers, charger="CP-A/1", period="2026-10-06"),
        {"sessions": 0, "energy_kwh": 0.0, "plugged_in_h": 0.0, "occupancy_pct": 0.0},
    )


def test_site_figures_sum_the_chargers_and_take_the_peak_of_the_sum(
    seeded: Store, tmp_path: Path
) -> None:
    stats = compute(seeded, tmp_path)
    check(
        row(stats.site, period="2026-10-05"),
        {
            "chargers": 3,
            "sessions": 3,
            "energy_kwh": 5.010,
            "plugged_in_h": 125 * MIN,
            "charging_h": 65 * MIN,
            "idle_h": 60 * MIN,
            "occupancy_pct": 125 / (3 * 1440) * 100,
            "charging_pct": 65 / (3 * 1440) * 100,
            "mean_session_duration_h": (1 + 1 + 0.25) / 3,
            "mean_session_energy_kwh": (2.010 + 4 + 1) / 3,
            "peak_power_kw": 10.0,  # S1 and S4 in the same quarter hour, not max(6, 4)
            "peak_measured_kw": 9.0,  # the other site's 50 kW does not count
            "energy_cost": 1.50,  # 0.603 + 0.60 + 0.30
            "revenue": 3.40,
            "requested_kwh": 5.0,
            "unmet_kwh": 1.0,
            "sessions_with_need": 1,
        },
    )
    check(
        row(stats.site, period="2026-10-06"),
        {
            "sessions": 1,
            "energy_kwh": 4.0,
            "plugged_in_h": 1.0,
            "charging_h": 50 * MIN,
            "occupancy_pct": 60 / (3 * 630) * 100,
            "peak_power_kw": 6.0,
            "peak_measured_kw": 5.0,
            "energy_cost": 1.00,
            "revenue": 1.10,
        },
    )
    check(
        row(stats.total, period="total"),
        {
            "sessions": 4,
            "energy_kwh": 9.010,
            "plugged_in_h": 185 * MIN,
            "peak_power_kw": 10.0,
            "peak_measured_kw": 9.0,
            "energy_cost": 2.50,
            "revenue": 4.50,
            "occupancy_pct": 185 / (3 * (1440 + 630)) * 100,
        },
    )
    check(
        row(stats.charger_totals, charger="CP-B/1"),
        {"sessions": 2, "energy_kwh": 3.0, "peak_power_kw": 6.0, "revenue": 1.90},
    )


def test_week_and_month_hold_the_same_totals(seeded: Store, tmp_path: Path) -> None:
    scope = StatsScope.of_site(site(tmp_path))
    days = compute_stats(seeded.engine, scope, DAY1, DAY3, Period.DAY, NOW)
    for period in (Period.WEEK, Period.MONTH):
        stats = compute_stats(seeded.engine, scope, DAY1, DAY3, period, NOW)
        assert len(stats.site) == 1
        assert stats.site["period"].iloc[0] == ("2026-W41" if period is Period.WEEK else "2026-10")
        for name in ("sessions", "energy_kwh", "plugged_in_h", "charging_h", "energy_cost"):
            assert stats.site[name].iloc[0] == pytest.approx(days.site[name].sum()), name


def test_a_charge_point_outside_the_site_has_its_own_statistics_without_money(
    seeded: Store,
) -> None:
    scope = StatsScope.of_charge_point("CP-X", [])
    stats = compute_stats(seeded.engine, scope, DAY1, DAY3, Period.DAY, NOW)
    assert list(stats.chargers["charger"].unique()) == ["CP-X/1"]
    # UTC days: the session (10:00-12:00Z) lies in 2026-10-05 of UTC
    day = row(stats.chargers, period="2026-10-05")
    check(day, {"sessions": 1, "energy_kwh": 20.0, "charging_h": 2.0})
    assert math.isnan(day["revenue"]) and math.isnan(day["energy_cost"])


def test_a_range_before_any_data_is_all_zeros(seeded: Store, tmp_path: Path) -> None:
    scope = StatsScope.of_site(site(tmp_path))
    start = DAY1.replace(month=9)
    stats = compute_stats(
        seeded.engine, scope, start, DAY1.replace(month=9, day=6), Period.DAY, NOW
    )
    assert stats.site["sessions"].sum() == 0
    assert stats.site["energy_kwh"].sum() == 0
    assert stats.site["peak_power_kw"].isna().all()

"""Slot prices for the optimizer from the same tariff that bills the driver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ems.tariffs import load_tariff

TARIFFS = Path(__file__).resolve().parents[2] / "data" / "tariffs"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def slots(start: datetime, durations_s: list[float]) -> list[datetime]:
    out, t = [], start
    for d in durations_s:
        out.append(t)
        t += timedelta(seconds=d)
    return out


def test_uneven_slots_get_time_weighted_prices_exact_at_boundaries() -> None:
    tou = load_tariff(TARIFFS / "tou.toml")  # day 0.28, weekday peak 17-21 0.42, night 0.17
    durations = [300.0, 1800.0, 3600.0, 3600.0, 7200.0]
    start = utc(2024, 6, 3, 14, 40)  # Monday 16:40 local
    prices = tou.import_prices_per_kwh(slots(start, durations), durations)
    expected = [
        0.28,  # 16:40-16:45
        (900 * 0.28 + 900 * 0.42) / 1800,  # 16:45-17:15 crosses into the peak
        0.42,  # 17:15-18:15
        0.42,  # 18:15-19:15
        (6300 * 0.42 + 900 * 0.28) / 7200,  # 19:15-21:15 leaves the peak at 21:00
    ]
    assert prices == pytest.approx(expected, rel=1e-12)


def test_slot_prices_follow_the_clock_change() -> None:
    tou = load_tariff(TARIFFS / "tou.toml")
    # Saturday 30 March 2024 22:00 UTC is 23:00 CET; 05:00 UTC is already 07:00 CEST.
    durations = [3600.0] * 9
    prices = tou.import_prices_per_kwh(slots(utc(2024, 3, 30, 21), durations), durations)
    assert prices == (0.28, *[0.17] * 7, 0.28)  # the night is seven real hours


def test_optimizer_tariff_carries_the_demand_charge_and_the_peak_so_far() -> None:
    depot = load_tariff(TARIFFS / "depot-demand.toml")
    durations = [900.0] * 4
    tariff = depot.optimizer_tariff(slots(utc(2024, 6, 4, 19, 30), durations), durations, 42.0)
    # 21:30-22:30 local: two day slots at 0.19, then night at 0.12.
    assert tariff.import_price_per_kwh == pytest.approx((0.19, 0.19, 0.12, 0.12))
    assert tariff.demand_charge_per_kw == 4.5
    assert tariff.peak_so_far_kw == 42.0
    assert depot.demand_charge_per_kw == Decimal("4.50")


def test_series_slots_past_the_published_prices_use_the_default() -> None:
    series = load_tariff(TARIFFS / "dayahead.toml")
    durations = [1800.0, 1800.0, 1800.0]
    prices = series.import_prices_per_kwh(slots(utc(2024, 6, 4, 21), durations), durations)
    assert prices == pytest.approx((0.28, 0.28, 0.27))


def test_slot_lists_must_match() -> None:
    tou = load_tariff(TARIFFS / "tou.toml")
    with pytest.raises(ValueError, match="one duration per slot"):
        tou.import_prices_per_kwh([utc(2024, 6, 3)], [])

"""Session costs checked by hand: time-of-use boundaries, a clock change, idle fees, series."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ems.tariffs import IdleRule, LineItem, LineKind, Tariff, load_tariff

TARIFFS = Path(__file__).resolve().parents[2] / "data" / "tariffs"
H = timedelta(hours=1)
MIN = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def tou() -> Tariff:
    return load_tariff(TARIFFS / "tou.toml")  # day 0.28, night 0.17, weekday 17-21 0.42


@pytest.fixture(scope="module")
def depot() -> Tariff:
    return load_tariff(TARIFFS / "depot-demand.toml")  # day 0.19, idle 0.10/min, 30 min grace


def energy_lines(cost_lines: tuple[LineItem, ...]) -> list[tuple[str, Decimal, Decimal]]:
    return [(x.label, x.quantity, x.amount) for x in cost_lines if x.kind is LineKind.ENERGY]


def test_charging_into_the_evening_peak_pays_each_hour_at_its_price(tou: Tariff) -> None:
    # Monday 3 June 2024, 16:00-18:00 local (UTC+2) at 11 kW, then full until 19:00.
    start = utc(2024, 6, 3, 14)
    readings = [(start, 0.0), (start + 2 * H, 22_000.0), (start + 2.5 * H, 22_000.0)]
    cost = tou.session_cost(readings, start, start + 3 * H)
    # 11 kWh day at 0.28 = 3.08; 11 kWh peak at 0.42 = 4.62.
    assert energy_lines(cost.lines) == [
        ("day", Decimal(11), Decimal("3.08")),
        ("evening peak", Decimal(11), Decimal("4.62")),
    ]
    assert cost.energy_kwh == 22
    assert (cost.subtotal, cost.tax, cost.total) == (
        Decimal("7.70"),
        Decimal("1.62"),  # 21 % of 7.70 = 1.617
        Decimal("9.32"),
    )


def test_an_interval_across_a_boundary_splits_its_energy_pro_rata_and_rounds_once(
    tou: Tariff,
) -> None:
    # 22:30-23:30 local: 7.4 kWh, half before the night starts at 23:00.
    t0 = utc(2024, 6, 4, 20, 30)
    cost = tou.session_cost([(t0, 1_000.0), (t0 + H, 8_400.0)], t0, t0 + H)
    # 3.7 * 0.28 = 1.036 and 3.7 * 0.17 = 0.629: 1.665 exactly, rounded half up only at the end.
    assert [x.amount for x in cost.lines] == [Decimal("1.036"), Decimal("0.629")]
    assert cost.subtotal == Decimal("1.67")
    assert cost.tax == Decimal("0.35")  # 0.3507
    assert cost.total == Decimal("2.02")


def test_the_night_lasts_nine_hours_on_the_day_clocks_go_back(tou: Tariff) -> None:
    # Saturday 26 Oct 22:00 CEST (20:00 UTC) to Sunday 08:00 CET (07:00 UTC): 11 real hours
    # at 2 kW. Night 23:00 CEST to 07:00 CET is 9 real hours.
    start, end = utc(2024, 10, 26, 20), utc(2024, 10, 27, 7)
    cost = tou.session_cost([(start, 0.0), (end, 22_000.0)], start, end)
    assert energy_lines(cost.lines) == [
        ("day", Decimal(2), Decimal("0.56")),
        ("night", Decimal(18), Decimal("3.06")),
        ("day", Decimal(2), Decimal("0.56")),
    ]
    night = cost.lines[1]
    assert (night.start, night.end) == (utc(2024, 10, 26, 21), utc(2024, 10, 27, 6))
    assert (cost.subtotal, cost.total) == (Decimal("4.18"), Decimal("5.06"))


def test_the_night_lasts_seven_hours_on_the_day_clocks_go_forward(tou: Tariff) -> None:
    start, end = utc(2024, 3, 30, 21), utc(2024, 3, 31, 6)  # 22:00 CET to 08:00 CEST
    cost = tou.session_cost([(start, 0.0), (end, 9_000.0)], start, end)
    assert [(x.label, x.quantity) for x in cost.lines] == [
        ("day", Decimal(1)),
        ("night", Decimal(7)),
        ("day", Decimal(1)),
    ]


def test_flat_tariff_adds_the_session_fee_and_tax() -> None:
    flat = load_tariff(TARIFFS / "flat.toml")  # 0.35 per kWh, 0.35 per session
    t0 = utc(2024, 6, 3, 9, 17)
    readings = [(t0, 5_000.0), (t0 + 20 * MIN, 9_000.0), (t0 + 50 * MIN, 15_000.0)]
    cost = flat.session_cost(readings, t0 - 2 * MIN, t0 + H)
    assert cost.energy_kwh == 10
    assert (cost.energy_cost, cost.session_fee) == (Decimal("3.50"), Decimal("0.35"))
    assert (cost.subtotal, cost.tax, cost.total) == (
        Decimal("3.85"),
        Decimal("0.81"),  # 0.8085
        Decimal("4.66"),
    )


def test_day_ahead_series_prices_each_hour_and_uses_the_default_outside() -> None:
    series = load_tariff(TARIFFS / "dayahead.toml")
    # 12:30-13:30 local on 3 June: hours priced 0.1652 and 0.1700 in dayahead-nl.csv.
    t0 = utc(2024, 6, 3, 10, 30)
    cost = series.session_cost([(t0, 0.0), (t0 + H, 10_000.0)], t0, t0 + H)
    assert [(x.quantity, x.unit_price) for x in cost.lines if x.kind is LineKind.ENERGY] == [
        (Decimal(5), Decimal("0.1652")),
        (Decimal(5), Decimal("0.1700")),
    ]
    assert cost.subtotal == Decimal("1.93")  # 0.826 + 0.85 + 0.25 session fee = 1.926
    later = utc(2024, 7, 1, 12)
    assert series.price_per_kwh_at(later) == 0.27
    assert series.price_per_kwh_at(utc(2024, 6, 4, 21, 59)) == 0.28  # last hour: 23:00 local
    assert series.price_per_kwh_at(utc(2024, 6, 4, 22, 0)) == 0.27


def test_idle_time_after_charging_is_billed_after_the_grace_period(depot: Tariff) -> None:
    # Tuesday 10:00 local: 11 kW for 90 min, then plugged in but full until 13:15.
    t0 = utc(2024, 6, 4, 8)
    readings = [
        (t0, 0.0),
        (t0 + H, 11_000.0),
        (t0 + 90 * MIN, 16_500.0),
        (t0 + 2 * H, 16_500.0),
        (t0 + 3 * H, 16_500.0),
    ]
    cost = depot.session_cost(readings, t0, t0 + 195 * MIN)
    assert cost.idle_min == 105 and cost.idle_billed_min == 75
    # 16.5 kWh * 0.19 = 3.135; idle 75 min * 0.10 = 7.50; session 0.50: 11.135.
    assert (cost.energy_cost, cost.idle_fee, cost.session_fee) == (
        Decimal("3.14"),
        Decimal("7.50"),
        Decimal("0.50"),
    )
    assert (cost.subtotal, cost.tax, cost.total) == (
        Decimal("11.14"),
        Decimal("2.34"),
        Decimal("13.48"),
    )


def test_idle_fee_stops_at_its_cap(depot: Tariff) -> None:
    t0 = utc(2024, 6, 4, 8)
    readings = [(t0, 0.0), (t0 + H, 11_000.0)]
    cost = depot.session_cost(readings, t0, t0 + 8 * H)
    assert cost.idle_billed_min == 7 * 60 - 30  # 39.00 before the cap
    assert cost.idle_fee == Decimal("20.00")
    assert cost.lines[-1].label.endswith("(capped)")


def test_pauses_made_by_the_site_are_not_idle_unless_the_tariff_says_any_pause(
    depot: Tariff,
) -> None:
    t0 = utc(2024, 6, 4, 8)
    readings = [
        (t0, 0.0),
        (t0 + 30 * MIN, 5_500.0),
        (t0 + 90 * MIN, 5_510.0),  # paused: 10 Wh in an hour is below the 100 W threshold
        (t0 + 2 * H, 11_000.0),
    ]
    unplugged = t0 + 140 * MIN
    fair = depot.session_cost(readings, t0, unplugged)
    assert fair.idle_min == 20 and fair.idle_fee == 0
    strict = dataclasses.replace(depot, idle_rule=IdleRule.ANY_PAUSE)
    cost = strict.session_cost(readings, t0, unplugged)
    assert cost.idle_min == 80 and cost.idle_billed_min == 50
    assert cost.idle_fee == Decimal("5.00")


def test_a_running_session_is_costed_up_to_now(depot: Tariff) -> None:
    t0 = utc(2024, 6, 4, 8)
    readings = [(t0, 0.0), (t0 + H, 11_000.0)]
    running = depot.session_cost(readings, t0, None, now=t0 + H)
    assert not running.final and running.ended_at == t0 + H
    assert running.subtotal == Decimal("2.59")  # 11 * 0.19 + 0.50
    with pytest.raises(ValueError, match="needs now"):
        depot.session_cost(readings, t0, None)


def test_estimate_spreads_the_energy_over_the_stay(tou: Tariff) -> None:
    # Monday 16:00-20:00 local, 22 kWh: 5.5 kWh day (1.54) and 16.5 kWh peak (6.93).
    estimate = tou.estimate(22.0, utc(2024, 6, 3, 14), 4 * 3600)
    assert estimate.energy_cost == Decimal("8.47")
    assert estimate.idle_fee == 0 and estimate.idle_min == 0


@pytest.mark.parametrize(
    ("readings", "message"),
    [
        ([(utc(2024, 6, 3, 10), 5.0), (utc(2024, 6, 3, 11), 4.0)], r"energy_register\[1\]: the"),
        ([(utc(2024, 6, 3, 11), 5.0), (utc(2024, 6, 3, 10), 6.0)], "ascending time"),
        ([(datetime(2024, 6, 3, 10), 5.0)], "timezone-aware"),
        ([(utc(2024, 6, 3, 10), float("nan"))], "not a register reading"),
    ],
)
def test_bad_readings_are_refused_with_the_index(
    tou: Tariff, readings: list[tuple[datetime, float]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tou.session_cost(readings, utc(2024, 6, 3, 9), utc(2024, 6, 3, 12))

"""Departure/energy and arrival models on synthetic sessions, and the backtest on real ACN data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ems.datasets import CALTECH_SESSION_FILES, load_sessions
from ems.datasets.caltech import TIMEZONE
from forecasts import ArrivalModel, DepartureEnergyModel, backtest_sessions

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Visit:
    arrival: datetime
    departure: datetime
    energy_delivered_kwh: float
    id_token: str | None = None


def habitual_sessions(weeks: int = 8, seed: int = 0) -> list[Visit]:
    """Weekday 8:00-9:00 arrivals: 'long' stays ~9 h, 'short' ~2 h, strangers 1-10 h."""
    rng = np.random.default_rng(seed)
    visits = []
    for day in range(weeks * 7):
        date = START + timedelta(days=day)
        if date.weekday() >= 5:
            continue
        for token, stay_h, energy in (("long", 9.0, 30.0), ("short", 2.0, 6.0), (None, 0, 0)):
            for _ in range(1 if token else 3):
                arrival = date + timedelta(hours=8 + rng.uniform(0, 1))
                hours = stay_h + rng.normal(0, 0.3) if token else rng.uniform(1, 10)
                kwh = energy + rng.normal(0, 1) if token else rng.uniform(2, 30)
                visits.append(Visit(arrival, arrival + timedelta(hours=hours), kwh, token))
    return visits


def test_a_driver_with_history_gets_their_own_stay_and_energy() -> None:
    model = DepartureEnergyModel(min_group_sessions=10).fit(habitual_sessions())
    assert model.drivers == {"long", "short"}
    arrival = datetime(2024, 3, 4, 8, 30, tzinfo=UTC)
    long = model.predict("long", arrival)
    assert long.source == "driver"
    assert long.departure - arrival == pytest.approx(timedelta(hours=9), abs=timedelta(minutes=15))
    assert long.energy_kwh == pytest.approx(30, abs=0.7)
    assert long.departure_lower < long.departure < long.departure_upper
    short = model.predict("short", arrival)
    assert short.departure - arrival == pytest.approx(timedelta(hours=2), abs=timedelta(minutes=15))
    site = model.predict("long", arrival, use_driver=False)
    stranger = model.predict("nobody", arrival)
    assert site.source == stranger.source == "site:weekday-hour"
    assert site.departure == stranger.departure
    assert short.departure < site.departure < long.departure


def test_site_groups_back_off_when_too_small() -> None:
    model = DepartureEnergyModel(min_group_sessions=10).fit(habitual_sessions())
    monday_8 = datetime(2024, 3, 4, 8, 30, tzinfo=UTC)
    saturday_8 = datetime(2024, 3, 9, 8, 30, tzinfo=UTC)
    night = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
    assert model.predict(None, monday_8).source == "site:weekday-hour"
    assert model.predict(None, saturday_8).source == "site:hour"  # no weekend data
    assert model.predict(None, night).source == "site:all"
    strict = DepartureEnergyModel(min_group_sessions=50).fit(habitual_sessions())
    assert strict.predict(None, monday_8).source == "site:daytype-hour"  # 8 Mondays x 5 < 50


def test_a_car_still_here_is_expected_to_leave_later_not_in_the_past() -> None:
    model = DepartureEnergyModel(min_group_sessions=10).fit(habitual_sessions())
    arrival = datetime(2024, 3, 4, 8, 30, tzinfo=UTC)
    now = arrival + timedelta(hours=7)
    later = model.predict(None, arrival, now=now)
    assert later.departure_lower >= now
    assert later.departure > now
    assert later.departure > model.predict(None, arrival).departure
    # The 'short' driver never stays 7 h: the site's longer stays answer instead.
    assert model.predict("short", arrival, now=now).source.startswith("site:")
    gone = model.predict(None, arrival, now=arrival + timedelta(hours=30))
    assert gone.source == "overstay"
    assert gone.departure == arrival + timedelta(hours=30, minutes=30)


def test_session_model_input_errors_are_named() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        DepartureEnergyModel().predict(None, START)
    with pytest.raises(ValueError, match="sessions: nothing to learn from"):
        DepartureEnergyModel().fit([])
    naive = Visit(datetime(2024, 1, 1, 8), datetime(2024, 1, 1, 9), 1.0)
    with pytest.raises(ValueError, match="sessions: arrival must be timezone-aware"):
        DepartureEnergyModel().fit([naive])
    with pytest.raises(ValueError, match="interval: must be in"):
        DepartureEnergyModel(interval=0)


def test_arrival_rates_per_local_weekday_and_hour() -> None:
    zone = "Europe/Berlin"
    visits = []
    for day in range(28):  # 4 weeks, 3 arrivals every weekday between 8 and 9 local
        date = np.datetime64("2024-03-04T08:00") + np.timedelta64(day, "D")
        if (day % 7) < 5:
            for minute in (5, 25, 45):
                moment = _local(date + np.timedelta64(minute, "m"), zone)
                visits.append(Visit(moment, moment + timedelta(hours=1), 1.0))
    model = ArrivalModel(timezone=zone).fit(visits)
    assert model.rate_per_h[0, 8] == pytest.approx(3.0)
    assert model.rate_per_h[5].sum() == 0 and model.rate_per_h[0, 9] == 0
    # Monday 1 April 2024 (after the switch to summer time on 31 March), 07:30-09:30 local.
    starts = [_local(np.datetime64("2024-04-01T07:30"), zone)]
    expected = model.expected_arrivals(starts, [2 * 3600.0])
    assert expected == pytest.approx([3.0])
    halves = model.expected_arrivals(
        [_local(np.datetime64("2024-04-01T08:00"), zone),
         _local(np.datetime64("2024-04-01T08:30"), zone)],
        [1800.0, 1800.0],
    )
    assert halves == pytest.approx([1.5, 1.5])


def _local(moment: np.datetime64, zone: str) -> datetime:
    return pd.Timestamp(moment).tz_localize(zone).tz_convert("UTC").to_pydatetime()


def test_backtest_shows_driver_history_beats_the_site_model_for_habitual_drivers() -> None:
    result = backtest_sessions(habitual_sessions(weeks=10), initial=timedelta(days=21),
                               min_group_sessions=10)
    drivers_model = result.score("model", "with_driver_history")
    drivers_site = result.score("site", "with_driver_history")
    assert drivers_model.sessions > 50
    assert drivers_model.departure_mae_h < 0.5 * drivers_site.departure_mae_h
    assert drivers_model.energy_mae_kwh < 0.5 * drivers_site.energy_mae_kwh


@pytest.fixture(scope="module")
def caltech_backtest():
    sessions = [s for f in CALTECH_SESSION_FILES.values() for s in load_sessions(f)]
    return backtest_sessions(sessions, timezone=TIMEZONE, interval=0.9)


def test_on_real_caltech_data_the_site_model_beats_the_naive_median(caltech_backtest) -> None:
    site = caltech_backtest.score("site")
    naive = caltech_backtest.score("global")
    assert site.sessions == naive.sessions > 5000
    assert site.departure_mae_h < 0.9 * naive.departure_mae_h
    assert site.energy_mae_kwh <= naive.energy_mae_kwh * 1.02
    assert 0.8 <= site.departure_coverage <= 0.95
    assert 0.75 <= site.energy_coverage <= 0.95
    # ACN-Data's CSV export names no drivers: every session falls back to the site model.
    assert caltech_backtest.score("model").departure_mae_h == site.departure_mae_h
    with pytest.raises(KeyError):
        caltech_backtest.score("model", "with_driver_history")


def test_on_real_caltech_data_the_model_beats_the_drivers_announced_departures(
    caltech_backtest,
) -> None:
    announced = caltech_backtest.score("driver_estimate")
    site = caltech_backtest.score("site")
    assert 0.7 * site.sessions < announced.sessions < site.sessions
    assert site.departure_mae_h < announced.departure_mae_h


def test_on_real_caltech_data_arrivals_by_hour_of_week_beat_a_flat_rate(caltech_backtest) -> None:
    assert caltech_backtest.arrivals_mae_per_h < 0.7 * caltech_backtest.arrivals_flat_mae_per_h

"""Load and PV forecasts on synthetic series with known seasonality and noise."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from forecasts import backtest_load, forecast_load, forecast_pv

STEP = pd.Timedelta("15min")


def weekly_pattern(index: pd.DatetimeIndex, timezone: str = "UTC") -> np.ndarray:
    """Office-like load [kW]: high on local working hours, lower at weekends."""
    local = index.tz_convert(timezone)
    hour = np.asarray(local.hour + local.minute / 60)
    working = (hour >= 8) & (hour < 17)
    weekday = np.asarray(local.day_of_week < 5)
    return 20 + 30 * (working & weekday) + 5 * np.sin(2 * np.pi * hour / 24)


def series(start: str, weeks: int, pattern, noise_kw: float = 0.0, seed: int = 0) -> pd.Series:
    index = pd.date_range(start, periods=weeks * 7 * 96, freq=STEP, tz="UTC")
    rng = np.random.default_rng(seed)
    return pd.Series(pattern(index) + rng.normal(0, noise_kw, len(index)), index=index)


def test_seasonal_forecast_recovers_a_weekly_profile_on_uneven_slots() -> None:
    history = series("2024-01-01", 5, weekly_pattern)
    start = history.index[-1] + STEP
    durations = [300.0] * 6 + [900.0] * 8 + [3600.0] * 40 + [4 * 3600.0] * 20
    starts = start + pd.to_timedelta(np.concatenate(([0.0], np.cumsum(durations)[:-1])), "s")
    forecast = forecast_load(history, starts, durations)
    fine = pd.date_range(start, starts[-1] + pd.Timedelta(seconds=durations[-1]), freq="1min",
                         inclusive="left")
    truth = pd.Series(weekly_pattern(fine.floor("15min")), index=fine)
    expected = [truth[s:s + pd.Timedelta(seconds=d - 1)].mean() for s, d in zip(starts, durations,
                                                                                strict=True)]
    np.testing.assert_allclose(forecast.mean_kw, expected, atol=1e-9)
    np.testing.assert_allclose(forecast.lower_kw, forecast.mean_kw, atol=1e-9)  # no noise


def test_seasonal_profile_follows_local_time_across_daylight_saving() -> None:
    zone = "America/Los_Angeles"
    history = series("2024-02-18T08:00Z", 3, lambda i: weekly_pattern(i, zone))  # DST: 10 Mar
    start = history.index[-1] + STEP
    starts = pd.date_range(start, periods=7 * 96, freq=STEP)
    forecast = forecast_load(history, starts, [900.0] * len(starts), timezone=zone)
    assert starts[0] < pd.Timestamp("2024-03-10T10:00Z") < starts[-1]
    np.testing.assert_allclose(forecast.mean_kw, weekly_pattern(starts, zone), atol=1e-9)


def test_seasonal_intervals_cover_near_their_nominal_rate_on_noise() -> None:
    history = series("2024-01-01", 10, weekly_pattern, noise_kw=3.0, seed=1)
    score = backtest_load(history, method="seasonal", horizon=timedelta(days=1), origins=14,
                          interval=0.8)
    assert score.points == 14 * 96
    assert 0.75 <= score.coverage <= 0.85
    # The median of four noisy weeks: error sd ~ 3 * sqrt(1 + 1.36 / 4); MAE ~ 0.8 sd.
    assert 2.0 < score.mae_kw < 3.4


def test_ets_recovers_a_daily_profile_with_intervals() -> None:
    def daily(index: pd.DatetimeIndex) -> np.ndarray:
        hour = np.asarray(index.hour + index.minute / 60)
        return 40 + 15 * np.sin(2 * np.pi * hour / 24) + 10 * ((hour >= 9) & (hour < 18))

    history = series("2024-01-01", 4, daily, noise_kw=2.0, seed=3)
    start = history.index[-1] + STEP
    starts = pd.date_range(start, periods=96, freq=STEP)
    forecast = forecast_load(history, starts, [900.0] * 96, method="ets", interval=0.9)
    assert np.mean(np.abs(forecast.mean_kw - daily(starts))) < 1.5
    rng = np.random.default_rng(4)
    actual = daily(starts) + rng.normal(0, 2.0, 96)
    coverage = np.mean((actual >= forecast.lower_kw) & (actual <= forecast.upper_kw))
    assert 0.8 <= coverage <= 1.0
    assert np.all(forecast.lower_kw <= forecast.mean_kw)
    assert np.all(forecast.mean_kw <= forecast.upper_kw)
    again = forecast_load(history, starts, [900.0] * 96, method="ets", interval=0.9)
    np.testing.assert_array_equal(again.upper_kw, forecast.upper_kw)  # seeded


def test_pv_forecast_is_zero_at_night_and_never_negative() -> None:
    def sunny(index: pd.DatetimeIndex) -> np.ndarray:
        hour = np.asarray(index.hour + index.minute / 60)
        return np.clip(50 * np.sin(np.pi * (hour - 6) / 12), 0, None)

    base = series("2024-06-01", 3, sunny)
    rng = np.random.default_rng(5)
    cloudy = base * rng.uniform(0.5, 1.0, len(base))
    start = cloudy.index[-1] + STEP
    starts = pd.date_range(start, periods=96, freq=STEP)
    forecast = forecast_pv(cloudy, starts, [900.0] * 96)
    night = np.asarray((starts.hour < 6) | (starts.hour >= 18))
    assert np.all(forecast.mean_kw[night] == 0) and np.all(forecast.upper_kw[night] == 0)
    assert np.all(forecast.lower_kw >= 0)
    noon = np.asarray(starts.hour == 12)
    assert 25 < forecast.mean_kw[noon].mean() < 50
    assert np.all(forecast.upper_kw[noon] > forecast.lower_kw[noon])


def test_bad_history_and_slots_are_named() -> None:
    history = series("2024-01-01", 1, weekly_pattern)
    start = history.index[-1] + STEP
    with pytest.raises(ValueError, match="history: needs a timezone-aware DatetimeIndex"):
        forecast_load(history.tz_localize(None), [start], [900.0])
    with pytest.raises(ValueError, match="history: the index must be regular"):
        forecast_load(history.drop(history.index[5]), [start], [900.0])
    with pytest.raises(ValueError, match=r"starts: the first slot .* begins before the history"):
        forecast_load(history, [history.index[-1]], [900.0])
    with pytest.raises(ValueError, match="durations_s: must be positive"):
        forecast_load(history, [start], [0.0])
    with pytest.raises(ValueError, match="method: expected 'seasonal' or 'ets'"):
        forecast_load(history, [start], [900.0], method="arima")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval: must be in"):
        forecast_load(history, [start], [900.0], interval=1.0)


def test_gaps_in_history_are_skipped_not_propagated() -> None:
    history = series("2024-01-01", 5, weekly_pattern)
    history.iloc[-96 * 3:-96] = np.nan  # two days of the last week missing
    start = history.index[-1] + STEP
    starts = pd.date_range(start, periods=7 * 96, freq=STEP)
    forecast = forecast_load(history, starts, [900.0] * len(starts))
    np.testing.assert_allclose(forecast.mean_kw, weekly_pattern(starts), atol=1e-9)

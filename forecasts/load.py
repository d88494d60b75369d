"""Site base load and PV forecasts from metered history, with prediction intervals.

``history`` is a pandas Series of average power [kW] per interval, on a regular, tz-aware index
(each label the interval's start; gaps as NaN). Forecasts are made on the history's own grid and
then averaged (time-weighted) over the caller's slots, which may be uneven, as the optimizer's
horizon is.

Methods
-------
``"seasonal"``
    The median (or mean) of the last ``seasons`` values at the same local time of the week
    (``season="week"``) or of the day (``season="day"``), so DST does not shift the profile.
    Prediction intervals add the quantiles of the same estimator's in-sample errors, taken per
    local hour of day when there are enough of them (load varies more by day than at night; PV
    does not vary at night at all).
``"ets"``
    Holt-Winters exponential smoothing (statsmodels) with additive daily seasonality on the last
    ``ets_days`` days (15-minute resolution or coarser); intervals from simulated future paths
    with bootstrapped residuals, so they widen with the horizon.

Averaging an interval's bounds over a slot gives a slot interval that covers at least as well as
the per-interval ones (the bounds of an average are tighter than the average of bounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
Method = Literal["seasonal", "ets"]
Season = Literal["week", "day"]

MIN_RESIDUALS_PER_HOUR = 30
ETS_MAX_STEPS_PER_DAY = 96
ETS_SIMULATIONS = 300


@dataclass(frozen=True)
class LoadForecast:
    """Forecast average power per slot [kW] with a central prediction interval.

    ``starts`` are the slots' starts (UTC), ``durations_s`` their lengths [s]; ``interval`` the
    nominal probability that a slot's actual average lies in ``[lower_kw, upper_kw]``.
    """

    starts: pd.DatetimeIndex
    durations_s: FloatArray
    mean_kw: FloatArray
    lower_kw: FloatArray
    upper_kw: FloatArray
    interval: float
    method: str


def forecast_load(
    history: pd.Series,
    starts: Sequence[datetime] | pd.DatetimeIndex,
    durations_s: Sequence[float],
    *,
    method: Method = "seasonal",
    interval: float = 0.9,
    season: Season = "week",
    seasons: int = 4,
    statistic: Literal["median", "mean"] = "median",
    timezone: str = "UTC",
    ets_days: int = 28,
    seed: int = 0,
) -> LoadForecast:
    """Forecast the average power [kW] of each slot ``[starts[i], starts[i] + durations_s[i])``.

    The first slot must start at or after the end of the history (its last label plus one
    interval). ``timezone`` is the site's, for "same time of day". See the module docstring for
    the methods; ``seed`` makes the ETS intervals reproducible.
    """
    series, step = _checked_history(history)
    slot_starts, slot_durations = _checked_slots(starts, durations_s, series.index[-1] + step)
    if not 0 < interval < 1:
        raise ValueError(f"interval: must be in (0, 1), got {interval!r}")
    if seasons < 1:
        raise ValueError(f"seasons: must be at least 1, got {seasons!r}")
    horizon_end = slot_starts[-1] + pd.Timedelta(seconds=float(slot_durations[-1]))
    if method == "seasonal":
        grid, mean, lower, upper = _seasonal(
            series, step, horizon_end, interval, season, seasons, statistic, timezone
        )
    elif method == "ets":
        grid, mean, lower, upper = _ets(series, step, horizon_end, interval, ets_days, seed)
    else:
        raise ValueError(f"method: expected 'seasonal' or 'ets', got {method!r}")
    grid_step = grid[1] - grid[0] if len(grid) > 1 else step
    return LoadForecast(
        starts=slot_starts,
        durations_s=slot_durations,
        mean_kw=_slot_means(grid, grid_step, mean, slot_starts, slot_durations),
        lower_kw=_slot_means(grid, grid_step, lower, slot_starts, slot_durations),
        upper_kw=_slot_means(grid, grid_step, upper, slot_starts, slot_durations),
        interval=interval,
        method=method,
    )


def forecast_pv(
    history: pd.Series,
    starts: Sequence[datetime] | pd.DatetimeIndex,
    durations_s: Sequence[float],
    *,
    interval: float = 0.9,
    seasons: int = 7,
    timezone: str = "UTC",
) -> LoadForecast:
    """Forecast PV generation [kW, >= 0]: the daily seasonal method, bounds kept at 0 or above.

    Sunshine does not follow the week, so the profile is the last ``seasons`` days' median at the
    same local time of day.
    """
    forecast = forecast_load(
        history, starts, durations_s, method="seasonal", interval=interval, season="day",
        seasons=seasons, timezone=timezone,
    )
    return LoadForecast(
        starts=forecast.starts,
        durations_s=forecast.durations_s,
        mean_kw=np.maximum(forecast.mean_kw, 0.0),
        lower_kw=np.maximum(forecast.lower_kw, 0.0),
        upper_kw=np.maximum(forecast.upper_kw, 0.0),
        interval=interval,
        method="seasonal-pv",
    )


def _checked_history(history: pd.Series) -> tuple[pd.Series, pd.Timedelta]:
    if not isinstance(history, pd.Series):
        raise TypeError(f"history: expected a pandas Series, got {type(history).__name__}")
    index = history.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("history: needs a timezone-aware DatetimeIndex")
    if len(history) < 2:
        raise ValueError("history: needs at least two values")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError("history: the index must be increasing without repeats")
    steps = (index[1:] - index[:-1]).unique()
    if len(steps) != 1 or steps[0] <= pd.Timedelta(0):
        raise ValueError("history: the index must be regular (mark gaps with NaN values)")
    series = pd.Series(history.to_numpy(dtype=float), index=index.tz_convert("UTC"))
    if series.notna().sum() < 2:
        raise ValueError("history: needs at least two values that are not NaN")
    return series, pd.Timedelta(steps[0])


def _checked_slots(
    starts: Sequence[datetime] | pd.DatetimeIndex,
    durations_s: Sequence[float],
    earliest: pd.Timestamp,
) -> tuple[pd.DatetimeIndex, FloatArray]:
    index = pd.DatetimeIndex(list(starts))
    if index.tz is None:
        raise ValueError("starts: slot starts must be timezone-aware")
    index = index.tz_convert("UTC")
    durations = np.asarray(durations_s, dtype=float)
    if len(index) == 0 or len(index) != len(durations):
        raise ValueError("starts, durations_s: need one duration per slot, at least one slot")
    if not np.all(durations > 0):
        raise ValueError("durations_s: must be positive")
    if index[0] < earliest:
        raise ValueError(
            f"starts: the first slot ({index[0]}) begins before the history ends ({earliest})"
        )
    return index, durations


def _future_grid(series: pd.Series, step: pd.Timedelta, end: pd.Timestamp) -> pd.DatetimeIndex:
    first = series.index[-1] + step
    count = max(1, int(np.ceil((end - first) / step)))
    return pd.date_range(first, periods=count, freq=step)


def _seasonal_keys(index: pd.Index, season: Season, timezone: str) -> pd.Index:
    local = pd.DatetimeIndex(index).tz_convert(timezone)
    minute = local.hour * 60 + local.minute
    return pd.Index(minute + (local.day_of_week * 1440 if season == "week" else 0))


def _seasonal(
    series: pd.Series,
    step: pd.Timedelta,
    end: pd.Timestamp,
    interval: float,
    season: Season,
    seasons: int,
    statistic: str,
    timezone: str,
) -> tuple[pd.DatetimeIndex, FloatArray, FloatArray, FloatArray]:
    frame = pd.DataFrame(
        {"kw": series.to_numpy(), "key": _seasonal_keys(series.index, season, timezone)},
        index=series.index,
    ).dropna()
    by_key = frame.groupby("key")["kw"]
    profile = by_key.apply(lambda s: s.tail(seasons).agg(statistic))
    grid = _future_grid(series, step, end)
    keys = _seasonal_keys(grid, season, timezone)
    mean = profile.reindex(keys).to_numpy(dtype=float)
    if np.isnan(mean).any():  # a time of week never metered: the same time of day, else overall
        daily = frame.groupby(frame["key"] % 1440)["kw"].agg(statistic)
        fill = daily.reindex(np.asarray(keys) % 1440).to_numpy(dtype=float)
        mean = np.where(np.isnan(mean), fill, mean)
        mean = np.where(np.isnan(mean), float(frame["kw"].agg(statistic)), mean)
    # In-sample errors of the same estimator: each value against its key's previous values.
    previous = by_key.transform(
        lambda s: s.shift(1).rolling(seasons, min_periods=1).agg(statistic)
    )
    residual = (frame["kw"] - previous).dropna()
    lower_q, upper_q = _residual_quantiles(residual, grid, interval, timezone)
    return grid, mean, mean + lower_q, mean + upper_q


def _residual_quantiles(
    residual: pd.Series, grid: pd.DatetimeIndex, interval: float, timezone: str
) -> tuple[FloatArray, FloatArray]:
    """Error quantiles for each grid point, by local hour of day when there are enough."""
    tail = (1 - interval) / 2
    if len(residual) == 0:
        zeros = np.zeros(len(grid))
        return zeros, zeros
    pooled = (float(residual.quantile(tail)), float(residual.quantile(1 - tail)))
    hours = pd.DatetimeIndex(residual.index).tz_convert(timezone).hour
    by_hour = residual.groupby(hours)
    counts = by_hour.size()
    low = by_hour.quantile(tail).where(counts >= MIN_RESIDUALS_PER_HOUR)
    high = by_hour.quantile(1 - tail).where(counts >= MIN_RESIDUALS_PER_HOUR)
    grid_hours = grid.tz_convert(timezone).hour
    lower = low.reindex(grid_hours).fillna(pooled[0]).to_numpy(dtype=float)
    upper = high.reindex(grid_hours).fillna(pooled[1]).to_numpy(dtype=float)
    return lower, upper


def _ets(
    series: pd.Series,
    step: pd.Timedelta,
    end: pd.Timestamp,
    interval: float,
    days: int,
    seed: int,
) -> tuple[pd.DatetimeIndex, FloatArray, FloatArray, FloatArray]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    finest = pd.Timedelta(days=1) / ETS_MAX_STEPS_PER_DAY
    if step < finest:
        series = series.resample(finest).mean()
        step = finest
    per_day = timedelta(days=1) / step
    if per_day != int(per_day):
        raise ValueError(f"history: its interval ({step}) does not divide a day")
    period = int(per_day)
    recent = series[series.index > series.index[-1] - pd.Timedelta(days=days)]
    if len(recent) < 2 * period:
        raise ValueError("history: the 'ets' method needs at least two days of history")
    filled = recent.interpolate(limit_direction="both")
    model = ExponentialSmoothing(
        filled.to_numpy(), trend=None, seasonal="add", seasonal_periods=period,
        initialization_method="heuristic",
    )
    fitted = model.fit()
    grid = _future_grid(series, step, end)
    mean = np.asarray(fitted.forecast(len(grid)), dtype=float)
    paths = np.asarray(
        fitted.simulate(
            len(grid), repetitions=ETS_SIMULATIONS, error="add", random_errors="bootstrap",
            rng=np.random.RandomState(seed),
        ),
        dtype=float,
    ).reshape(len(grid), ETS_SIMULATIONS)
    tail = (1 - interval) / 2
    lower = np.quantile(paths, tail, axis=1)
    upper = np.quantile(paths, 1 - tail, axis=1)
    return grid, mean, np.minimum(lower, mean), np.maximum(upper, mean)


def _slot_means(
    grid: pd.DatetimeIndex,
    step: pd.Timedelta,
    values: FloatArray,
    starts: pd.DatetimeIndex,
    durations_s: FloatArray,
) -> FloatArray:
    """Time-weighted mean of a step function (``values`` on ``grid``) over each slot."""
    origin = grid[0]
    step_s = step.total_seconds()
    edges_s = np.arange(len(grid) + 1) * step_s
    energy = np.concatenate(([0.0], np.cumsum(values * step_s)))
    slot_start_s = (starts - origin).total_seconds().to_numpy()
    slot_end_s = slot_start_s + durations_s
    return (np.interp(slot_end_s, edges_s, energy) - np.interp(slot_start_s, edges_s, energy)) / (
        durations_s
    )

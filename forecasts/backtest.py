"""Rolling-origin backtests: how good the forecasts would have been, by MAE and interval coverage.

At each origin a model learns only from what was known then and forecasts what followed; the
scores pool the errors of all origins. These are what ``ems forecast-backtest`` reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from forecasts.load import Method, forecast_load
from forecasts.sessions import ArrivalModel, DepartureEnergyModel, Sessions, sessions_frame


@dataclass(frozen=True, slots=True)
class LoadScore:
    """Backtest of a load forecast: MAE [kW], share of actuals inside the interval, points."""

    method: str
    origins: int
    points: int
    mae_kw: float
    coverage: float
    interval: float


def backtest_load(
    history: pd.Series,
    *,
    method: Method = "seasonal",
    horizon: timedelta = timedelta(days=1),
    origins: int = 7,
    spacing: timedelta = timedelta(days=1),
    interval: float = 0.9,
    **options: Any,
) -> LoadScore:
    """Forecast ``horizon`` ahead from each of ``origins`` origins ``spacing`` apart, at the end.

    Forecasts are made at the history's resolution; ``options`` go to
    :func:`forecasts.load.forecast_load`.
    """
    series = history
    index = series.index
    step = index[1] - index[0]
    last_origin = index[-1] + step - horizon
    errors: list[np.ndarray] = []
    inside: list[np.ndarray] = []
    for k in range(origins):
        origin = last_origin - k * spacing
        past = series[series.index < origin]
        future = series[(series.index >= origin) & (series.index < origin + horizon)].dropna()
        if len(past) < 2 or future.empty:
            raise ValueError(f"history: too short for {origins} origins of {horizon}")
        forecast = forecast_load(
            past, future.index, [step.total_seconds()] * len(future), method=method,
            interval=interval, **options,
        )
        actual = future.to_numpy(dtype=float)
        errors.append(np.abs(forecast.mean_kw - actual))
        inside.append((actual >= forecast.lower_kw) & (actual <= forecast.upper_kw))
    all_errors, all_inside = np.concatenate(errors), np.concatenate(inside)
    return LoadScore(method, origins, len(all_errors), float(all_errors.mean()),
                     float(all_inside.mean()), interval)


@dataclass(frozen=True, slots=True)
class SessionScore:
    """One forecaster's errors on one set of sessions.

    ``departure_mae_h`` [h] and ``energy_mae_kwh`` [kWh]; coverages are the share of actuals
    inside the prediction interval (None for a forecaster without intervals).
    """

    forecaster: str
    subset: str
    sessions: int
    departure_mae_h: float
    departure_coverage: float | None
    energy_mae_kwh: float
    energy_coverage: float | None


@dataclass(frozen=True, slots=True)
class SessionBacktest:
    """Departure/energy scores, and the arrival model's MAE of arrivals per hour."""

    scores: tuple[SessionScore, ...]
    origins: int
    interval: float
    arrivals_mae_per_h: float
    arrivals_flat_mae_per_h: float

    def score(self, forecaster: str, subset: str = "all") -> SessionScore:
        """The score of ``forecaster`` on ``subset``; KeyError when there is none."""
        for s in self.scores:
            if s.forecaster == forecaster and s.subset == subset:
                return s
        raise KeyError(f"no score for forecaster {forecaster!r} on subset {subset!r}")

    def rows(self) -> list[dict[str, Any]]:
        """The scores as plain dicts, for a table, JSON or CSV."""
        return [asdict(s) for s in self.scores]


def backtest_sessions(
    sessions: Sessions,
    *,
    timezone: str = "UTC",
    interval: float = 0.9,
    initial: timedelta = timedelta(days=28),
    step: timedelta = timedelta(days=7),
    **model_options: Any,
) -> SessionBacktest:
    """Rolling-origin backtest of the departure/energy and arrival models.

    The first origin is ``initial`` after the first arrival, then every ``step``. At an origin the
    models learn from the sessions that had ended by then and predict, at arrival, those
    arriving within the next ``step``. Forecasters:

    - ``model``: the driver's own history when they have enough, else the site's;
    - ``site``: the site model by arrival weekday and hour for everyone;
    - ``global``: the median stay and energy of all past sessions (the naive reference);
    - ``driver_estimate``: the departure the driver announced (sessions with
      ``estimated_departure``; energy from ``energy_requested_kwh``), no intervals.

    Subsets: ``all``, and ``with_driver_history`` (the sessions ``model`` predicted from the
    driver's own history). ``model_options`` go to :class:`DepartureEnergyModel`.
    """
    frame = sessions_frame(sessions).sort_values("arrival").reset_index(drop=True)
    if isinstance(sessions, pd.DataFrame):
        extra = sessions.reset_index(drop=True)
        frame["estimated_departure"] = extra.get("estimated_departure")
        frame["energy_requested_kwh"] = extra.get("energy_requested_kwh")
    else:
        ordered = sorted(sessions, key=lambda s: s.arrival)
        frame["estimated_departure"] = [getattr(s, "estimated_departure", None) for s in ordered]
        frame["energy_requested_kwh"] = [getattr(s, "energy_requested_kwh", None) for s in ordered]
    first, last = frame["arrival"].min(), frame["arrival"].max()
    origin = first + pd.Timedelta(initial)
    if origin >= last:
        raise ValueError(f"sessions: span {last - first} is shorter than initial {initial}")
    records: list[dict[str, Any]] = []
    arrival_errors: list[float] = []
    flat_errors: list[float] = []
    origins = 0
    while origin < last:
        end = origin + pd.Timedelta(step)
        past = frame[frame["departure"] <= origin]
        test = frame[(frame["arrival"] >= origin) & (frame["arrival"] < end)]
        origins += 1
        if not test.empty and len(past) > 0:
            model = DepartureEnergyModel(timezone=timezone, interval=interval, **model_options)
            model.fit(past)
            global_stay = float(past["stay_h"].median())
            global_energy = float(past["energy_delivered_kwh"].median())
            for row in test.itertuples(index=False):
                records.append(_predictions(row, model, global_stay, global_energy))
            arrival_errors_k, flat_k = _arrival_errors(past, test, origin, end, timezone)
            arrival_errors.extend(arrival_errors_k)
            flat_errors.extend(flat_k)
        origin = end
    scores = _scores(pd.DataFrame.from_records(records))
    return SessionBacktest(
        scores=tuple(scores),
        origins=origins,
        interval=interval,
        arrivals_mae_per_h=float(np.mean(arrival_errors)) if arrival_errors else float("nan"),
        arrivals_flat_mae_per_h=float(np.mean(flat_errors)) if flat_errors else float("nan"),
    )


def _predictions(
    row: Any, model: DepartureEnergyModel, global_stay_h: float, global_energy_kwh: float
) -> dict[str, Any]:
    arrival = row.arrival.to_pydatetime()
    token = None if pd.isna(row.id_token) else str(row.id_token)
    chosen = model.predict(token, arrival)
    site = model.predict(token, arrival, use_driver=False)
    actual_stay = row.stay_h
    out: dict[str, Any] = {
        "stay_h": actual_stay,
        "energy": row.energy_delivered_kwh,
        "with_driver_history": chosen.source == "driver",
    }
    for name, p in (("model", chosen), ("site", site)):
        out[f"{name}_dep_err"] = abs((p.departure - arrival).total_seconds() / 3600 - actual_stay)
        departure = row.departure.to_pydatetime()
        out[f"{name}_dep_in"] = p.departure_lower <= departure <= p.departure_upper
        out[f"{name}_energy_err"] = abs(p.energy_kwh - row.energy_delivered_kwh)
        out[f"{name}_energy_in"] = (
            p.energy_lower_kwh <= row.energy_delivered_kwh <= p.energy_upper_kwh
        )
    out["global_dep_err"] = abs(global_stay_h - actual_stay)
    out["global_energy_err"] = abs(global_energy_kwh - row.energy_delivered_kwh)
    estimate = row.estimated_departure
    if estimate is not None and not pd.isna(estimate):
        announced_s = (pd.Timestamp(estimate) - row.departure).total_seconds()
        out["estimate_dep_err"] = abs(announced_s) / 3600
        requested = row.energy_requested_kwh
        out["estimate_energy_err"] = (
            abs(requested - row.energy_delivered_kwh) if requested is not None else np.nan
        )
    return out


def _scores(results: pd.DataFrame) -> list[SessionScore]:
    if results.empty:
        return []
    scores: list[SessionScore] = []
    subsets = {"all": results, "with_driver_history": results[results["with_driver_history"]]}
    for subset, part in subsets.items():
        if part.empty:
            continue
        for name in ("model", "site"):
            scores.append(
                SessionScore(
                    name, subset, len(part), float(part[f"{name}_dep_err"].mean()),
                    float(part[f"{name}_dep_in"].mean()), float(part[f"{name}_energy_err"].mean()),
                    float(part[f"{name}_energy_in"].mean()),
                )
            )
        scores.append(
            SessionScore("global", subset, len(part), float(part["global_dep_err"].mean()), None,
                         float(part["global_energy_err"].mean()), None)
        )
        if "estimate_dep_err" in part:
            announced = part[part["estimate_dep_err"].notna()]
            if not announced.empty:
                scores.append(
                    SessionScore(
                        "driver_estimate", subset, len(announced),
                        float(announced["estimate_dep_err"].mean()), None,
                        float(announced["estimate_energy_err"].mean()), None,
                    )
                )
    return scores


def _arrival_errors(
    past: pd.DataFrame, test: pd.DataFrame, origin: pd.Timestamp, end: pd.Timestamp, timezone: str
) -> tuple[list[float], list[float]]:
    """Hourly |expected - actual| arrivals for the model and for a flat (mean) rate."""
    start = past["arrival"].min()
    model = ArrivalModel(timezone=timezone).fit(past, start=start, end=origin)
    hours = pd.date_range(origin.ceil("h"), end, freq="h", inclusive="left")
    if len(hours) == 0:
        return [], []
    expected = model.expected_arrivals(hours, [3600.0] * len(hours))
    actual = _hourly_counts(test["arrival"], hours)
    flat_rate = len(past) / max((origin - start).total_seconds() / 3600, 1.0)
    return (
        list(np.abs(expected - actual)),
        list(np.abs(flat_rate - actual)),
    )


def _hourly_counts(arrivals: pd.Series, hours: pd.DatetimeIndex) -> np.ndarray:
    floored = arrivals.dt.floor("h")
    counts = floored.value_counts()
    return counts.reindex(hours, fill_value=0).to_numpy(dtype=float)

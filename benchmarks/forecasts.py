"""Forecast quality on the bundled Caltech sessions, and forecast run times.

Backtests the departure/energy/arrival models on both Caltech 2019 windows (weekly rolling
origins after four weeks) and times one load forecast of a day in 15-minute slots from eight weeks
of 15-minute history with each method. The last line is JSON.

    .venv/bin/python -P benchmarks/forecasts.py  # -P: benchmarks/optimizer.py shadows optimizer
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from ems.datasets import CALTECH_SESSION_FILES, load_sessions
from ems.datasets.caltech import TIMEZONE
from forecasts import backtest_sessions, forecast_load


def main() -> None:
    sessions = [s for path in CALTECH_SESSION_FILES.values() for s in load_sessions(path)]
    began = time.perf_counter()
    result = backtest_sessions(sessions, timezone=TIMEZONE, interval=0.9)
    backtest_s = time.perf_counter() - began
    print(f"{len(sessions)} sessions, {result.origins} weekly origins, {backtest_s:.1f} s")
    print(f"{'forecaster':16s} {'subset':20s} {'n':>5s} {'dep MAE h':>10s} {'dep cov':>8s} "
          f"{'kWh MAE':>8s} {'kWh cov':>8s}")
    for s in result.scores:
        dep_cov = "" if s.departure_coverage is None else f"{s.departure_coverage:.3f}"
        kwh_cov = "" if s.energy_coverage is None else f"{s.energy_coverage:.3f}"
        print(f"{s.forecaster:16s} {s.subset:20s} {s.sessions:5d} {s.departure_mae_h:10.2f} "
              f"{dep_cov:>8s} {s.energy_mae_kwh:8.2f} {kwh_cov:>8s}")
    print(f"arrivals per hour: MAE {result.arrivals_mae_per_h:.2f} (flat rate "
          f"{result.arrivals_flat_mae_per_h:.2f})")

    index = pd.date_range("2024-01-01", periods=8 * 7 * 96, freq="15min", tz="UTC")
    hour = np.asarray(index.hour + index.minute / 60)
    rng = np.random.default_rng(0)
    history = pd.Series(30 + 10 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 2, len(index)),
                        index=index)
    starts = pd.date_range(index[-1] + pd.Timedelta("15min"), periods=96, freq="15min")
    timings = {}
    for method in ("seasonal", "ets"):
        began = time.perf_counter()
        forecast_load(history, starts, [900.0] * 96, method=method)  # type: ignore[arg-type]
        timings[method] = time.perf_counter() - began
        print(f"load forecast ({method}): {timings[method] * 1000:.0f} ms")

    site = result.score("site")
    print(json.dumps({
        "sessions": len(sessions),
        "backtest_s": round(backtest_s, 2),
        "departure_mae_h_site": round(site.departure_mae_h, 3),
        "departure_mae_h_global": round(result.score("global").departure_mae_h, 3),
        "departure_mae_h_announced": round(result.score("driver_estimate").departure_mae_h, 3),
        "departure_coverage_site": round(site.departure_coverage or 0.0, 3),
        "energy_mae_kwh_site": round(site.energy_mae_kwh, 3),
        "arrivals_mae_per_h": round(result.arrivals_mae_per_h, 3),
        "load_forecast_seasonal_s": round(timings["seasonal"], 3),
        "load_forecast_ets_s": round(timings["ets"], 3),
    }))


if __name__ == "__main__":
    main()

"""Forecasts for the optimizer: site base load and PV, departures, energies and arrivals.

A pure library like ``optimizer``: no I/O, no clock (the caller passes "now"), nothing from ems.

- :mod:`forecasts.load`: :func:`forecast_load`, :func:`forecast_pv` -> :class:`LoadForecast`.
- :mod:`forecasts.sessions`: :class:`DepartureEnergyModel` -> :class:`Prediction`,
  :class:`ArrivalModel`.
- :mod:`forecasts.backtest`: rolling-origin :func:`backtest_load`, :func:`backtest_sessions`.
"""

from forecasts.backtest import (
    LoadScore,
    SessionBacktest,
    SessionScore,
    backtest_load,
    backtest_sessions,
)
from forecasts.load import LoadForecast, forecast_load, forecast_pv
from forecasts.sessions import ArrivalModel, DepartureEnergyModel, Prediction, SessionLike

__all__ = [
    "ArrivalModel",
    "DepartureEnergyModel",
    "LoadForecast",
    "LoadScore",
    "Prediction",
    "SessionBacktest",
    "SessionLike",
    "SessionScore",
    "backtest_load",
    "backtest_sessions",
    "forecast_load",
    "forecast_pv",
]

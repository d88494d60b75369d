"""Statistics of charging: per charger, per site and per calendar period.

:func:`compute_stats` reads a scope's transactions, meter samples (reduced in the database),
status history, charging needs and control cycles for a range and returns :class:`Stats`:
tables per charger and period, per period, and over the whole range. The definitions of every
figure, and how sessions that cross a period's edge are split, are in :mod:`ems.stats.compute`.
:mod:`ems.stats.export` writes the tables as CSV or Parquet.
"""

from ems.stats.compute import (
    CHARGER_COLUMNS,
    DESCRIPTIONS,
    METRICS,
    SITE_COLUMNS,
    Stats,
    compute_stats,
)
from ems.stats.periods import BUCKET_S, Period, PeriodSpan, parse_instant, parse_period_label
from ems.stats.scope import StatsScope

__all__ = [
    "BUCKET_S",
    "CHARGER_COLUMNS",
    "DESCRIPTIONS",
    "METRICS",
    "SITE_COLUMNS",
    "Period",
    "PeriodSpan",
    "Stats",
    "StatsScope",
    "compute_stats",
    "parse_instant",
    "parse_period_label",
]

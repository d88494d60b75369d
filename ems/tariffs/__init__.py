"""Tariffs: energy prices (flat, time-of-use, series), fees, tax, and what a session costs.

One :class:`Tariff` prices the optimizer's slots (:meth:`Tariff.optimizer_tariff`) and bills the
driver (:meth:`Tariff.session_cost`, :meth:`Tariff.estimate`), so the two cannot disagree.

Modules: ``weekly`` (local time-of-day windows as exact UTC segments, DST included), ``prices``
(energy price step functions), ``cost`` (session cost, money rules), ``tariff`` (the Tariff),
``load`` (TOML files with errors that name the key).
"""

from ems.tariffs.cost import CostBreakdown, IdleRule, LineItem, LineKind, round_money
from ems.tariffs.load import load_tariff, parse_tariff
from ems.tariffs.prices import EnergyPrice, FlatPrice, Period, SeriesPrice, TimeOfUsePrice
from ems.tariffs.tariff import Tariff, minor_unit_of

__all__ = [
    "CostBreakdown",
    "EnergyPrice",
    "FlatPrice",
    "IdleRule",
    "LineItem",
    "LineKind",
    "Period",
    "SeriesPrice",
    "Tariff",
    "TimeOfUsePrice",
    "load_tariff",
    "minor_unit_of",
    "parse_tariff",
    "round_money",
]

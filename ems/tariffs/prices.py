"""Energy prices as step functions of time: flat, time-of-use, or a published series.

Every kind answers one question, :meth:`EnergyPrice.pieces`: how ``[start, end)`` splits into
pieces of constant price, each with a label for receipts ("night", "day-ahead 14:00"). The
mean price of an optimizer slot, the cost of a meter interval and the price at an instant all
come from those pieces, so they cannot disagree.

Prices are per kWh, excluding tax, as :class:`~decimal.Decimal` (exact as written in the
tariff); they may be negative (day-ahead markets have negative hours).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from ems.tariffs.weekly import WeeklySchedule, ensure_utc


@dataclass(frozen=True, slots=True)
class PricePiece:
    """``[start, end)`` (UTC) at one price [per kWh, excluding tax]."""

    start: datetime
    end: datetime
    price_per_kwh: Decimal
    label: str


class EnergyPrice(Protocol):
    """A price per kWh that changes at known instants."""

    def pieces(self, start: datetime, end: datetime) -> list[PricePiece]:
        """``[start, end)`` (aware) cut where the price or its label changes, in order."""
        ...


@dataclass(frozen=True, slots=True)
class FlatPrice:
    """One price at every hour."""

    price_per_kwh: Decimal
    label: str = "energy"

    def pieces(self, start: datetime, end: datetime) -> list[PricePiece]:
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        return [PricePiece(start, end, self.price_per_kwh, self.label)] if end > start else []


@dataclass(frozen=True, slots=True)
class Period:
    """A named time-of-use price, valid in window ``index`` of the tariff's weekly schedule."""

    name: str
    price_per_kwh: Decimal


class TimeOfUsePrice:
    """Prices by local time of day and day of week; ``default`` outside every period.

    ``periods[i]`` holds in window ``i`` of ``schedule``. ``default`` may be None only when the
    windows cover the whole week (the loader checks).
    """

    def __init__(
        self, schedule: WeeklySchedule, periods: Sequence[Period], default: Period | None
    ) -> None:
        if len(periods) != len(schedule.windows):
            raise ValueError("one period per window")
        if default is None and schedule.uncovered_minute() is not None:
            raise ValueError("the periods leave hours without a price and there is no default")
        self.schedule = schedule
        self.periods = tuple(periods)
        self.default = default

    def _period(self, window: int | None) -> Period:
        if window is None:
            assert self.default is not None  # checked in __init__
            return self.default
        return self.periods[window]

    def pieces(self, start: datetime, end: datetime) -> list[PricePiece]:
        out: list[PricePiece] = []
        for segment in self.schedule.segments(start, end):
            period = self._period(segment.window)
            out.append(PricePiece(segment.start, segment.end, period.price_per_kwh, period.name))
        return out


class SeriesPrice:
    """A published price per interval (day-ahead market): a step function of time.

    ``times[i]`` starts the price ``prices[i]``, which holds until ``times[i + 1]``; the last one
    holds until ``end``. Outside ``[times[0], end)`` the ``default`` price applies (a planning
    horizon usually reaches past the published prices).
    """

    def __init__(
        self,
        times: Sequence[datetime],
        prices: Sequence[Decimal],
        end: datetime,
        default: Decimal,
        label: str = "energy",
    ) -> None:
        self.times = tuple(ensure_utc(t, "series time") for t in times)
        self.prices = tuple(prices)
        self.end = ensure_utc(end, "series end")
        if not self.times or len(self.times) != len(self.prices):
            raise ValueError("a price series needs one price per time, at least one")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("price series times must increase strictly")
        if self.end <= self.times[-1]:
            raise ValueError("the series must end after its last time")
        self.default = default
        self.label = label

    def _bounds(self, start: datetime, end: datetime) -> list[datetime]:
        first = bisect.bisect_right(self.times, start)
        last = bisect.bisect_left(self.times, end)
        inner = [*self.times[first:last]]
        if start < self.end < end:
            inner.append(self.end)
        return [start, *inner, end]

    def _price_at(self, t: datetime) -> tuple[Decimal, str]:
        if t < self.times[0] or t >= self.end:
            return self.default, f"{self.label} (default)"
        i = bisect.bisect_right(self.times, t) - 1
        return self.prices[i], self.label

    def pieces(self, start: datetime, end: datetime) -> list[PricePiece]:
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        if end <= start:
            return []
        edges = self._bounds(start, end)
        out: list[PricePiece] = []
        for left, right in itertools.pairwise(edges):
            price, label = self._price_at(left)
            if out and out[-1].price_per_kwh == price and out[-1].label == label:
                out[-1] = PricePiece(out[-1].start, right, price, label)
            else:
                out.append(PricePiece(left, right, price, label))
        return out


def price_at(energy: EnergyPrice, t: datetime) -> Decimal:
    """The price per kWh at instant ``t``."""
    t = ensure_utc(t)
    return energy.pieces(t, t + timedelta(microseconds=1))[0].price_per_kwh

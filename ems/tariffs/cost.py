"""What a charging session costs: energy over price periods, session, time and idle fees, tax.

Money rules
-----------
* Prices and fees in a tariff exclude tax; tax is added once, on the subtotal.
* Every amount is a :class:`~decimal.Decimal` computed exactly (28 significant digits) from the
  tariff's decimal prices and the meter's register readings. Rounding to the currency's minor
  unit (half up) happens only at the end: ``subtotal = round(sum of exact amounts)``,
  ``tax = round(subtotal * tax_rate)``, ``total = subtotal + tax``, so a receipt's subtotal, tax
  and total add up. Line items and the per-kind totals (``energy_cost``, ...) are shown rounded
  too; their rounded values may differ from the subtotal by a minor unit per line.

Energy
------
The register readings (Wh, ascending in time) are joined by straight lines: an interval's energy
is spread evenly over its time, so where an interval crosses a price boundary each side gets the
energy pro rata to its share of the interval. The first reading is the session's starting value
(meterStart); pass the final register (meterStop) as the last reading.

Idle time
---------
The car is charging during an interval between readings whose mean power is at least the
tariff's ``charging_threshold_w``; every other moment between plug-in and plug-out (including
after the last reading) it is not. Which of that time is idle depends on the tariff's rule:

``end_of_charging`` (default)
    only the time after the car last charged (from plug-in if it never did). A smart-charging
    site pauses cars itself, and a driver must not pay for the site's pauses.
``any_pause``
    all time not charging.

The first ``idle_grace_min`` minutes of idle time are free; the rest is billed per minute, exactly
(fractions of a minute count pro rata), up to ``idle_fee_cap``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from ems.tariffs.prices import PricePiece
from ems.tariffs.weekly import ensure_utc

if TYPE_CHECKING:
    from ems.tariffs.tariff import Tariff

_US_PER_S = Decimal(1_000_000)
_WH_PER_KWH = Decimal(1000)


class IdleRule(StrEnum):
    """Which time without charging counts towards the idle fee (see the module docstring)."""

    END_OF_CHARGING = "end_of_charging"
    ANY_PAUSE = "any_pause"


class LineKind(StrEnum):
    ENERGY = "energy"
    SESSION_FEE = "session_fee"
    TIME_FEE = "time_fee"
    IDLE_FEE = "idle_fee"


@dataclass(frozen=True, slots=True)
class LineItem:
    """One receipt line: ``quantity`` ``unit`` at ``unit_price`` makes ``amount`` (excl. tax).

    Energy lines cover one price period ``[start, end)`` (UTC); fee lines have no period.
    ``amount`` is exact; ``amount_rounded`` is what a receipt prints.
    """

    kind: LineKind
    label: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    amount_rounded: Decimal
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The cost of a session (or an estimate), excluding tax per line, with tax on the total.

    ``ended_at`` is the plug-out, or "now" for a session still running (``final`` False).
    ``idle_min`` is all idle time before the grace period, ``idle_billed_min`` what was billed.
    """

    currency: str
    tax_rate: Decimal
    plugged_in_at: datetime
    ended_at: datetime
    final: bool
    energy_kwh: Decimal
    energy_cost: Decimal
    session_fee: Decimal
    time_fee: Decimal
    idle_fee: Decimal
    idle_min: Decimal
    idle_billed_min: Decimal
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    lines: tuple[LineItem, ...]

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.plugged_in_at).total_seconds()


def round_money(amount: Decimal, minor_unit: int) -> Decimal:
    """``amount`` rounded half up to ``minor_unit`` decimals (2 for EUR, 0 for JPY)."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit), rounding=ROUND_HALF_UP)


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _minutes(delta: timedelta) -> Decimal:
    return Decimal(_micros(delta)) / _US_PER_S / 60


def _checked_readings(
    readings: Sequence[tuple[datetime, float]],
) -> list[tuple[datetime, Decimal]]:
    out: list[tuple[datetime, Decimal]] = []
    for i, (t, wh) in enumerate(readings):
        when = ensure_utc(t, f"energy_register[{i}] time")
        value = Decimal(str(wh))
        if not value.is_finite() or value < 0:
            raise ValueError(f"energy_register[{i}]: {wh} Wh is not a register reading")
        if out and when < out[-1][0]:
            raise ValueError(f"energy_register[{i}]: readings must be in ascending time")
        if out and value < out[-1][1]:
            raise ValueError(
                f"energy_register[{i}]: the register went down from {out[-1][1]} to {value} Wh"
            )
        out.append((when, value))
    return out


def _energy_lines(tariff: Tariff, readings: Sequence[tuple[datetime, Decimal]]) -> list[LineItem]:
    """Each interval's energy spread over the price pieces it crosses; equal neighbours merged."""
    if len(readings) < 2:
        return []
    pieces = tariff.energy.pieces(readings[0][0], readings[-1][0] + timedelta(microseconds=1))
    # (piece, kWh) in time order; a piece may receive energy from several intervals.
    shares: list[tuple[PricePiece, Decimal]] = []
    k = 0
    for (t0, e0), (t1, e1) in itertools.pairwise(readings):
        delta_wh = e1 - e0
        if delta_wh == 0:
            continue
        while k + 1 < len(pieces) and pieces[k].end <= t0:
            k += 1
        if t1 == t0:  # energy reported without elapsed time: at the price of that instant
            shares.append((pieces[k], delta_wh / _WH_PER_KWH))
            continue
        span_us = Decimal(_micros(t1 - t0))
        j = k
        while j < len(pieces) and pieces[j].start < t1:
            left, right = max(t0, pieces[j].start), min(t1, pieces[j].end)
            if right > left:
                share_wh = delta_wh * Decimal(_micros(right - left)) / span_us
                shares.append((pieces[j], share_wh / _WH_PER_KWH))
            j += 1
    merged: list[tuple[PricePiece, Decimal]] = []
    for piece, kwh in shares:
        last = merged[-1][0] if merged else None
        if (
            last is not None
            and last.label == piece.label
            and last.price_per_kwh == piece.price_per_kwh
            and last.end >= piece.start
        ):
            span = PricePiece(
                last.start, max(last.end, piece.end), piece.price_per_kwh, piece.label
            )
            merged[-1] = (span, merged[-1][1] + kwh)
        else:
            merged.append((piece, kwh))
    return [
        _line(
            tariff,
            LineKind.ENERGY,
            piece.label,
            kwh,
            "kWh",
            piece.price_per_kwh,
            start=max(piece.start, readings[0][0]),
            end=min(piece.end, readings[-1][0]),
        )
        for piece, kwh in merged
    ]


def _line(
    tariff: Tariff,
    kind: LineKind,
    label: str,
    quantity: Decimal,
    unit: str,
    unit_price: Decimal,
    start: datetime | None = None,
    end: datetime | None = None,
    amount: Decimal | None = None,
) -> LineItem:
    exact = quantity * unit_price if amount is None else amount
    return LineItem(
        kind,
        label,
        quantity,
        unit,
        unit_price,
        exact,
        round_money(exact, tariff.minor_unit),
        start,
        end,
    )


def _idle_min(
    tariff: Tariff,
    readings: Sequence[tuple[datetime, Decimal]],
    plugged_in_at: datetime,
    ended_at: datetime,
) -> Decimal:
    """Minutes of idle time in ``[plugged_in_at, ended_at)`` under the tariff's idle rule."""
    threshold_wh_per_s = Decimal(str(tariff.charging_threshold_w)) / 3600
    charging: list[tuple[datetime, datetime]] = []
    for (t0, e0), (t1, e1) in itertools.pairwise(readings):
        left, right = max(t0, plugged_in_at), min(t1, ended_at)
        if right <= left:
            continue
        seconds = Decimal(_micros(t1 - t0)) / _US_PER_S
        if e1 - e0 >= threshold_wh_per_s * seconds:
            charging.append((left, right))
    if tariff.idle_rule is IdleRule.END_OF_CHARGING:
        idle_from = charging[-1][1] if charging else plugged_in_at
        return _minutes(ended_at - idle_from)
    charged = sum((right - left for left, right in charging), timedelta())
    return _minutes(ended_at - plugged_in_at - charged)


def session_cost(
    tariff: Tariff,
    energy_register: Sequence[tuple[datetime, float]],
    plugged_in_at: datetime,
    unplugged_at: datetime | None,
    now: datetime | None = None,
    *,
    include_idle: bool = True,
) -> CostBreakdown:
    """The cost of a session from its energy register readings [Wh] (see the module docstring).

    A running session (``unplugged_at`` None) is costed up to ``now``: its running cost.
    Raises ValueError for naive times, readings out of order or a register that goes down.
    """
    plugged_in_at = ensure_utc(plugged_in_at, "plugged_in_at")
    if unplugged_at is not None:
        ended_at, final = ensure_utc(unplugged_at, "unplugged_at"), True
    elif now is not None:
        ended_at, final = ensure_utc(now, "now"), False
    else:
        raise ValueError("a running session (no unplugged_at) needs now")
    if ended_at < plugged_in_at:
        raise ValueError("the session ends before it was plugged in")
    readings = _checked_readings(energy_register)
    lines = _energy_lines(tariff, readings)
    energy_kwh = sum((line.quantity for line in lines), Decimal(0))
    energy_exact = sum((line.amount for line in lines), Decimal(0))
    fees: list[LineItem] = []
    if tariff.session_fee:
        fees.append(
            _line(
                tariff,
                LineKind.SESSION_FEE,
                "session fee",
                Decimal(1),
                "session",
                tariff.session_fee,
            )
        )
    if tariff.time_fee_per_hour:
        hours = _minutes(ended_at - plugged_in_at) / 60
        fees.append(
            _line(
                tariff, LineKind.TIME_FEE, "time plugged in", hours, "h", tariff.time_fee_per_hour
            )
        )
    idle_min = _idle_min(tariff, readings, plugged_in_at, ended_at) if include_idle else Decimal(0)
    billed_min = max(Decimal(0), idle_min - tariff.idle_grace_min)
    if tariff.idle_fee_per_min and billed_min > 0:
        amount = billed_min * tariff.idle_fee_per_min
        label = f"idle after {tariff.idle_grace_min} min grace"
        if tariff.idle_fee_cap is not None and amount > tariff.idle_fee_cap:
            amount, label = tariff.idle_fee_cap, f"{label} (capped)"
        fees.append(
            _line(
                tariff,
                LineKind.IDLE_FEE,
                label,
                billed_min,
                "min",
                tariff.idle_fee_per_min,
                amount=amount,
            )
        )

    def exact(kind: LineKind) -> Decimal:
        return sum((f.amount for f in fees if f.kind is kind), Decimal(0))

    subtotal = round_money(
        energy_exact + sum((f.amount for f in fees), Decimal(0)), tariff.minor_unit
    )
    tax = round_money(subtotal * tariff.tax_rate, tariff.minor_unit)
    return CostBreakdown(
        currency=tariff.currency,
        tax_rate=tariff.tax_rate,
        plugged_in_at=plugged_in_at,
        ended_at=ended_at,
        final=final,
        energy_kwh=energy_kwh,
        energy_cost=round_money(energy_exact, tariff.minor_unit),
        session_fee=round_money(exact(LineKind.SESSION_FEE), tariff.minor_unit),
        time_fee=round_money(exact(LineKind.TIME_FEE), tariff.minor_unit),
        idle_fee=round_money(exact(LineKind.IDLE_FEE), tariff.minor_unit),
        idle_min=idle_min,
        idle_billed_min=billed_min if tariff.idle_fee_per_min else Decimal(0),
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        lines=(*lines, *fees),
    )

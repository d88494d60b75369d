"""The tariff: one object that prices the optimizer's slots and bills the driver's session.

Prices and fees exclude tax (``tax_rate`` is added on the subtotal, see :mod:`ems.tariffs.cost`).
The optimizer gets the same energy prices as the bill (time-weighted over each slot) and the
demand charge; VAT is left out of what it minimizes because a site operator reclaims it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ems.tariffs.cost import CostBreakdown, IdleRule, session_cost
from ems.tariffs.prices import EnergyPrice, price_at
from ems.tariffs.weekly import ensure_utc, overlaps
from optimizer import model

# ISO 4217 minor units of currencies whose minor unit is not 2.
MINOR_UNITS = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "LYD": 3,
    "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip


def minor_unit_of(currency: str) -> int:
    """Decimals of the currency's minor unit (ISO 4217): 2 for EUR, 0 for JPY, 3 for KWD."""
    return MINOR_UNITS.get(currency, 2)


@dataclass(frozen=True, slots=True)
class Tariff:
    """What charging costs, and what the optimizer minimizes.

    ``energy`` is the price per kWh over time. Fees: ``session_fee`` once per session,
    ``time_fee_per_hour`` for every hour plugged in, ``idle_fee_per_min`` for idle time after
    ``idle_grace_min`` minutes under ``idle_rule``, at most ``idle_fee_cap`` per session;
    ``charging_threshold_w`` is the mean power below which an interval counts as not charging.
    ``demand_charge_per_kw`` is charged per kW of the billing period's (calendar month's) peak
    import; it is a site cost the optimizer weighs, not a line on a driver's bill.
    ``timezone`` is where time-of-use periods are read.
    """

    id: str
    name: str
    currency: str
    energy: EnergyPrice
    timezone: str = "UTC"
    tax_rate: Decimal = Decimal(0)
    session_fee: Decimal = Decimal(0)
    time_fee_per_hour: Decimal = Decimal(0)
    idle_fee_per_min: Decimal = Decimal(0)
    idle_grace_min: Decimal = Decimal(0)
    idle_fee_cap: Decimal | None = None
    idle_rule: IdleRule = IdleRule.END_OF_CHARGING
    charging_threshold_w: float = 100.0
    demand_charge_per_kw: Decimal = Decimal(0)
    minor_unit: int = 2

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def price_per_kwh_at(self, t: datetime) -> float:
        """The energy price at instant ``t`` [per kWh, excluding tax]."""
        return float(price_at(self.energy, t))

    def import_prices_per_kwh(
        self, slot_starts: Sequence[datetime], durations_s: Sequence[float]
    ) -> tuple[float, ...]:
        """The time-weighted mean price of each slot [per kWh]; exact where a slot crosses a
        price boundary (each side weighs by its share of the slot)."""
        if len(slot_starts) != len(durations_s):
            raise ValueError("need one duration per slot start")
        if not slot_starts:
            return ()
        starts = [ensure_utc(t, "slot start") for t in slot_starts]
        ends = [s + timedelta(seconds=d) for s, d in zip(starts, durations_s, strict=True)]
        pieces = self.energy.pieces(min(starts), max(ends))
        out: list[float] = []
        for slot, parts in enumerate(overlaps(pieces, starts, durations_s)):
            seconds = sum(s for s, _ in parts)
            if seconds <= 0:
                out.append(self.price_per_kwh_at(starts[slot]))
                continue
            out.append(sum(s * float(p.price_per_kwh) for s, p in parts) / seconds)
        return tuple(out)

    def optimizer_tariff(
        self,
        slot_starts: Sequence[datetime],
        durations_s: Sequence[float],
        peak_so_far_kw: float = 0.0,
    ) -> model.Tariff:
        """The optimizer's view: slot prices and the demand charge above the period's peak."""
        return model.Tariff(
            import_price_per_kwh=self.import_prices_per_kwh(slot_starts, durations_s),
            demand_charge_per_kw=float(self.demand_charge_per_kw),
            peak_so_far_kw=peak_so_far_kw,
        )

    def session_cost(
        self,
        energy_register: Sequence[tuple[datetime, float]],
        plugged_in_at: datetime,
        unplugged_at: datetime | None,
        now: datetime | None = None,
    ) -> CostBreakdown:
        """The exact cost of a session from its energy register readings [Wh], ascending.

        A session still plugged in (``unplugged_at`` None) is costed up to ``now``.
        See :mod:`ems.tariffs.cost` for how energy, idle time and rounding are handled.
        """
        return session_cost(self, energy_register, plugged_in_at, unplugged_at, now)

    def estimate(self, energy_kwh: float, start: datetime, duration_s: float) -> CostBreakdown:
        """A price estimate before the start: ``energy_kwh`` spread evenly over the stay.

        The idle fee is left out: it depends on when the driver comes back, and a smart-charging
        site spreads the charge over the stay anyway.
        """
        if energy_kwh < 0 or duration_s <= 0:
            raise ValueError("need energy_kwh >= 0 and duration_s > 0")
        start = ensure_utc(start, "start")
        end = start + timedelta(seconds=duration_s)
        readings = [(start, 0.0), (end, energy_kwh * 1000.0)]
        return session_cost(self, readings, start, end, include_idle=False)

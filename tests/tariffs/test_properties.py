"""Properties of session costs over arbitrary meter readings (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ems.tariffs import LineKind, load_tariff

TARIFFS = Path(__file__).resolve().parents[2] / "data" / "tariffs"
TOU = load_tariff(TARIFFS / "tou.toml")
START = datetime(2024, 10, 26, 12, tzinfo=UTC)  # the night after includes a clock change

steps = st.lists(
    st.tuples(st.integers(0, 4 * 3600), st.integers(0, 20_000)), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_every_watt_hour_is_priced_once_between_the_cheapest_and_dearest_price(
    intervals: list[tuple[int, int]],
) -> None:
    readings, t, wh = [(START, 1_000.0)], START, 1_000
    for seconds, delta_wh in intervals:
        t += timedelta(seconds=seconds)
        wh += delta_wh
        readings.append((t, float(wh)))
    cost = TOU.session_cost(readings, START, t + timedelta(minutes=5))
    energy = [line for line in cost.lines if line.kind is LineKind.ENERGY]
    total_kwh = sum((line.quantity for line in energy), Decimal(0))
    assert abs(total_kwh - Decimal(wh - 1_000) / 1000) < Decimal("1e-20")
    amount = sum((line.amount for line in energy), Decimal(0))
    assert Decimal("0.17") * total_kwh - Decimal("1e-20") <= amount
    assert amount <= Decimal("0.42") * total_kwh + Decimal("1e-20")
    assert cost.total == cost.subtotal + cost.tax

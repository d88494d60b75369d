"""The live loop's departure/energy forecast, learned from recorded transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ems.control.forecast import MIN_SESSIONS, HistoryForecast
from ems.domain import IdToken, Transaction

MONDAY = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _tx(n: int, token: str, stay_h: float, energy_kwh: float) -> Transaction:
    start = MONDAY + timedelta(days=n)
    return Transaction(
        id=f"t{n}-{token}", charge_point_id="CP", transaction_id=str(n), evse_id=1,
        connector_id=1, started_at=start, id_token=IdToken(token), meter_start_wh=0.0,
        meter_stop_wh=energy_kwh * 1000.0, stopped_at=start + timedelta(hours=stay_h),
    )  # fmt: skip


def test_a_regular_driver_gets_their_own_stay_and_energy() -> None:
    history = [_tx(n, "COMMUTER", 9.0, 12.0) for n in range(10)]
    history += [_tx(n, f"OTHER{n}", 2.0, 30.0) for n in range(MIN_SESSIONS)]
    forecast = HistoryForecast("UTC")
    forecast.fit(history)
    arrival = MONDAY + timedelta(days=30)
    departure, energy = forecast.predict_needs("COMMUTER", arrival)
    assert departure == arrival + timedelta(hours=9)
    assert energy == 12.0
    # someone new gets the site's typical stay, which the one-off visitors dominate
    departure, energy = forecast.predict_needs("NEW", arrival)
    assert departure is not None and departure - arrival < timedelta(hours=9)


def test_too_little_history_says_nothing() -> None:
    forecast = HistoryForecast("UTC")
    forecast.fit([_tx(n, "A", 3.0, 10.0) for n in range(MIN_SESSIONS - 1)])
    assert forecast.predict_needs("A", MONDAY) == (None, None)
    # running transactions are not history
    running = _tx(99, "B", 1.0, 5.0)
    running.stopped_at = None
    forecast.fit([running] * 50)
    assert forecast.sessions == 0

"""Departure, energy and arrival forecasts for the live loop, from the sessions ems recorded.

:class:`HistoryForecast` fits :class:`forecasts.sessions.DepartureEnergyModel` and
:class:`forecasts.sessions.ArrivalModel` on the finished transactions of a site's chargers
(their id tokens, start, stop and energy). It answers the control loop's
:class:`~ems.control.problem.NeedsForecast` (a car's departure and energy) and
:class:`~ems.control.problem.ArrivalsForecast` (the cars still to come, so that the plan keeps
room for them). With too little history it answers nothing, and the site's defaults apply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ems.domain import Transaction
from forecasts.sessions import ArrivalModel, DepartureEnergyModel, SessionLike

log = logging.getLogger(__name__)

# Fewer finished sessions than this and the forecast stays silent.
MIN_SESSIONS = 20
# Slots whose expected arrivals are remembered (a day of 5-second re-plans on one grid).
EXPECTED_CACHE = 20_000
# How far back the history goes.
HISTORY = timedelta(days=180)


@dataclass(frozen=True, slots=True)
class _Session:
    arrival: datetime
    departure: datetime
    energy_delivered_kwh: float
    id_token: str | None


class HistoryForecast:
    """Departure and energy of a newly arrived car, from the site's recorded sessions."""

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self.model: DepartureEnergyModel | None = None
        self.arrival_model: ArrivalModel | None = None
        self.sessions = 0
        self._expected: dict[tuple[datetime, float], float] = {}
        self._typical: dict[tuple[int, int], tuple[timedelta, float]] = {}

    def fit(self, transactions: Sequence[Transaction]) -> None:
        """Learn from finished transactions (others are ignored)."""
        self.fit_sessions(
            [
                _Session(
                    tx.started_at,
                    tx.stopped_at,
                    tx.energy_wh / 1000.0,
                    tx.id_token.id if tx.id_token else None,
                )
                for tx in transactions
                if tx.stopped_at is not None
                and tx.energy_wh is not None
                and tx.stopped_at > tx.started_at
            ]
        )

    def fit_sessions(self, sessions: Sequence[SessionLike]) -> None:
        """Learn from recorded sessions (``arrival``, ``departure``, energy, id token)."""
        self.sessions = len(sessions)
        self._expected.clear()
        self._typical.clear()
        if len(sessions) < MIN_SESSIONS:
            self.model = self.arrival_model = None
            return
        self.model = DepartureEnergyModel(timezone=self.timezone).fit(sessions)
        self.arrival_model = ArrivalModel(timezone=self.timezone).fit(sessions)
        log.info("departure/energy/arrival forecast fitted on %d sessions", len(sessions))

    def predict_needs(
        self, id_token: str | None, arrival: datetime
    ) -> tuple[datetime | None, float | None]:
        if self.model is None:
            return None, None
        prediction = self.model.predict(id_token, arrival)
        return prediction.departure, prediction.energy_kwh

    def expected_cars(
        self, slot_starts: Sequence[datetime], durations_s: Sequence[float]
    ) -> list[tuple[datetime, datetime, float]]:
        """The cars expected to arrive after the first slot: one whenever the expected count
        since then passes the next half car, at the start of its slot, with the site's typical
        stay and energy for that weekday and hour."""
        model, arrivals = self.model, self.arrival_model
        if model is None or arrivals is None:
            return []
        cars: list[tuple[datetime, datetime, float]] = []
        cumulative = 0.0
        for start, duration_s in zip(slot_starts[1:], durations_s[1:], strict=True):
            key = (start, float(duration_s))
            if key not in self._expected:
                if len(self._expected) > EXPECTED_CACHE:
                    self._expected.clear()
                self._expected[key] = float(arrivals.expected_arrivals([start], [duration_s])[0])
            cumulative += self._expected[key]
            while cumulative >= len(cars) + 0.5:
                stay, energy_kwh = self._typical_at(model, start)
                cars.append((start, start + stay, energy_kwh))
        return cars

    def _typical_at(self, model: DepartureEnergyModel, at: datetime) -> tuple[timedelta, float]:
        """The site's typical stay and energy for a car arriving at ``at`` (by weekday, hour)."""
        key = (at.weekday(), at.hour)
        if key not in self._typical:
            prediction = model.predict(None, at)
            self._typical[key] = (prediction.departure - at, prediction.energy_kwh)
        return self._typical[key]

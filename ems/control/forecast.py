"""Departure and energy forecasts for the live loop, learned from the sessions ems recorded.

:class:`HistoryForecast` fits :class:`forecasts.sessions.DepartureEnergyModel` on the finished
transactions of a site's chargers (their id tokens, start, stop and energy) and answers the
control loop's :class:`~ems.control.problem.NeedsForecast`. With too little history it answers
nothing, and the site's defaults apply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ems.domain import Transaction
from forecasts.sessions import DepartureEnergyModel

log = logging.getLogger(__name__)

# Fewer finished sessions than this and the forecast stays silent.
MIN_SESSIONS = 20
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
        self.sessions = 0

    def fit(self, transactions: Sequence[Transaction]) -> None:
        """Learn from finished transactions (others are ignored)."""
        sessions = [
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
        self.sessions = len(sessions)
        if len(sessions) < MIN_SESSIONS:
            self.model = None
            return
        self.model = DepartureEnergyModel(timezone=self.timezone).fit(sessions)
        log.info("departure/energy forecast fitted on %d sessions", len(sessions))

    def predict_needs(
        self, id_token: str | None, arrival: datetime
    ) -> tuple[datetime | None, float | None]:
        if self.model is None:
            return None, None
        prediction = self.model.predict(id_token, arrival)
        return prediction.departure, prediction.energy_kwh

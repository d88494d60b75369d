"""Forecast departures and energies for the replay's loop, learned from earlier sessions.

:class:`ModelNeedsForecast` adapts :class:`forecasts.DepartureEnergyModel` to the loop's
:class:`~ems.control.problem.NeedsForecast`. A car's prediction is made once, at its arrival;
when the car is still there after the predicted departure it is predicted again given the time
it has already stayed (the model then only counts longer recorded stays), at most once per
:data:`REPREDICT_S`. So the loop sees what a live site with this model would see, and a replay
does not spend its time re-predicting every car every cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from ems.datasets import SessionRecord
from ems.site import SiteConfig
from forecasts.sessions import DepartureEnergyModel

# A car past its predicted departure is predicted again at most this often [s].
REPREDICT_S = 900.0
# The model needs at least this many earlier sessions to learn from.
MIN_HISTORY = 20


class ModelNeedsForecast:
    """:class:`DepartureEnergyModel` as the loop's ``NeedsForecast``, on the replay's clock."""

    def __init__(self, model: DepartureEnergyModel, clock: Callable[[], datetime]) -> None:
        self.model = model
        self.clock = clock
        self._cache: dict[tuple[str | None, datetime], tuple[datetime, float, float]] = {}

    def predict_needs(
        self, id_token: str | None, arrival: datetime
    ) -> tuple[datetime | None, float | None]:
        """The car's predicted departure and energy (see the module docstring)."""
        now = self.clock()
        key = (id_token, arrival)
        cached = self._cache.get(key)
        if cached is not None:
            departure, energy, made_at_s = cached
            overdue = departure <= now and now.timestamp() - made_at_s >= REPREDICT_S
            if not overdue:
                return departure, energy
        since = None if cached is None else now
        prediction = self.model.predict(id_token, arrival, since)
        self._cache[key] = (prediction.departure, prediction.energy_kwh, now.timestamp())
        return prediction.departure, prediction.energy_kwh


def fit_needs_forecast(
    history: Sequence[SessionRecord], site: SiteConfig, clock: Callable[[], datetime]
) -> ModelNeedsForecast:
    """A forecast learned from ``history`` (sessions before the replay window)."""
    if len(history) < MIN_HISTORY:
        raise ValueError(
            f"knowledge forecast: needs at least {MIN_HISTORY} sessions arriving before the "
            f"replay's start to learn from, found {len(history)} (start later, or give a "
            "sessions file that begins earlier)"
        )
    model = DepartureEnergyModel(timezone=site.timezone).fit(history)
    return ModelNeedsForecast(model, clock)

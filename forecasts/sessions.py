"""Departure time, energy and arrivals of charging sessions, learned from recorded sessions.

:class:`DepartureEnergyModel` predicts, for a car that has just arrived (or has been plugged in
for a while), when it will leave and how much energy it will take. A driver (id token) with
enough past sessions gets their own median stay and energy; everyone else the site's, by local
weekday and hour of arrival, backing off to weekday/weekend and hour, to the hour, and to all
sessions when a group is too small. :class:`ArrivalModel` gives the expected number of cars
arriving per slot, so capacity can be kept for cars still to come.

Sessions are anything with ``arrival``, ``departure`` (aware datetimes), ``energy_delivered_kwh``
and ``id_token`` (such as ``ems.datasets.SessionRecord``), or a DataFrame with those columns. The
energy learned is the energy delivered, the best record of what a car needed (it is less than
the need when the car left before it was full).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

# A car that has already stayed longer than (almost) every recorded session: it is expected to
# leave soon, within this interval.
OVERSTAY_EXPECTED = timedelta(minutes=30)
OVERSTAY_UPPER = timedelta(hours=2)
MIN_CONDITIONAL_SAMPLES = 5


class SessionLike(Protocol):
    """What the models read from a recorded session."""

    @property
    def arrival(self) -> datetime: ...
    @property
    def departure(self) -> datetime: ...
    @property
    def energy_delivered_kwh(self) -> float: ...
    @property
    def id_token(self) -> str | None: ...


Sessions = Iterable[SessionLike] | pd.DataFrame


def sessions_frame(sessions: Sessions) -> pd.DataFrame:
    """``sessions`` as a DataFrame: arrival, departure (UTC), energy_delivered_kwh, id_token."""
    if isinstance(sessions, pd.DataFrame):
        missing = {"arrival", "departure", "energy_delivered_kwh"} - set(sessions.columns)
        if missing:
            raise ValueError(f"sessions: missing columns {sorted(missing)}")
        frame = sessions.copy()
        if "id_token" not in frame:
            frame["id_token"] = None
    else:
        frame = pd.DataFrame(
            [
                (s.arrival, s.departure, s.energy_delivered_kwh, s.id_token)
                for s in sessions
            ],
            columns=["arrival", "departure", "energy_delivered_kwh", "id_token"],
        )
    for column in ("arrival", "departure"):
        values = pd.to_datetime(frame[column])
        if len(values) and values.dt.tz is None:
            raise ValueError(f"sessions: {column} must be timezone-aware")
        frame[column] = values.dt.tz_convert("UTC") if len(values) else values
    frame["stay_h"] = (frame["departure"] - frame["arrival"]).dt.total_seconds() / 3600.0
    if (frame["stay_h"] <= 0).any():
        raise ValueError("sessions: a departure is not after its arrival")
    return frame


@dataclass(frozen=True, slots=True)
class Prediction:
    """A car's predicted departure and energy, each with a central prediction interval.

    ``source`` says what the prediction rests on: ``driver`` (their own history) or
    ``site:<group>`` (``weekday-hour``, ``daytype-hour``, ``hour``, ``all``); ``samples`` how
    many recorded sessions.
    """

    departure: datetime
    departure_lower: datetime
    departure_upper: datetime
    energy_kwh: float
    energy_lower_kwh: float
    energy_upper_kwh: float
    source: str
    samples: int


@dataclass(frozen=True, slots=True)
class _Group:
    stay_h: FloatArray  # sorted
    energy_kwh: FloatArray  # sorted


class DepartureEnergyModel:
    """Per-driver departure and energy, with the site's by arrival weekday and hour as fallback.

    ``timezone`` is the site's (arrival hours are local). ``interval`` is the nominal coverage of
    the prediction intervals. A driver needs ``min_driver_sessions`` past sessions; only their
    ``max_driver_sessions`` most recent count. A site group needs ``min_group_sessions``.
    Driver intervals are the driver's median plus the quantiles of all drivers' deviations from
    their own medians: one driver's few sessions cannot estimate their spread.
    """

    def __init__(
        self,
        *,
        timezone: str = "UTC",
        interval: float = 0.9,
        min_driver_sessions: int = 3,
        max_driver_sessions: int = 30,
        min_group_sessions: int = 20,
    ) -> None:
        if not 0 < interval < 1:
            raise ValueError(f"interval: must be in (0, 1), got {interval!r}")
        if min_driver_sessions < 1 or max_driver_sessions < min_driver_sessions:
            raise ValueError("min_driver_sessions: need 1 <= min <= max_driver_sessions")
        self.timezone = timezone
        self.interval = interval
        self.min_driver_sessions = min_driver_sessions
        self.max_driver_sessions = max_driver_sessions
        self.min_group_sessions = min_group_sessions
        self._site: dict[tuple[object, ...], _Group] = {}
        self._drivers: dict[str, _Group] = {}
        self._driver_spread = (np.zeros(1), np.zeros(1))
        self._fitted = False

    def fit(self, sessions: Sessions) -> Self:
        """Learn from recorded sessions (replaces what was learned before)."""
        frame = sessions_frame(sessions).sort_values("arrival")
        if frame.empty:
            raise ValueError("sessions: nothing to learn from")
        local = frame["arrival"].dt.tz_convert(self.timezone)
        frame["weekday"] = local.dt.day_of_week
        frame["weekend"] = frame["weekday"] >= 5
        frame["hour"] = local.dt.hour
        self._site = {}
        for level, columns in _SITE_LEVELS:
            grouped = frame.groupby(columns) if columns else [((), frame)]
            for key, group in grouped:
                if len(group) >= self.min_group_sessions or not columns:
                    self._site[(level, *_as_tuple(key))] = _group(group)
        self._drivers = {}
        deviations: list[tuple[FloatArray, FloatArray]] = []
        known = frame[frame["id_token"].notna()]
        for token, group in known.groupby("id_token"):
            recent = group.tail(self.max_driver_sessions)
            if len(recent) >= self.min_driver_sessions:
                g = _group(recent)
                self._drivers[str(token)] = g
                deviations.append(
                    (
                        recent["stay_h"].to_numpy() - np.median(g.stay_h),
                        recent["energy_delivered_kwh"].to_numpy() - np.median(g.energy_kwh),
                    )
                )
        if deviations:
            self._driver_spread = (
                np.concatenate([d[0] for d in deviations]),
                np.concatenate([d[1] for d in deviations]),
            )
        self._fitted = True
        return self

    @property
    def drivers(self) -> frozenset[str]:
        """The id tokens with a model of their own."""
        return frozenset(self._drivers)

    def predict(
        self,
        id_token: str | None,
        arrival: datetime,
        now: datetime | None = None,
        *,
        use_driver: bool = True,
    ) -> Prediction:
        """Departure and energy of a car that arrived at ``arrival`` and is still there at ``now``.

        Given ``now``, only recorded stays longer than the time already spent count (a car still
        here at 18:00 will not leave at 17:00). ``use_driver`` False forces the site model (to
        compare the two).
        """
        if not self._fitted:
            raise RuntimeError("DepartureEnergyModel.predict called before fit")
        if arrival.tzinfo is None or (now is not None and now.tzinfo is None):
            raise ValueError("arrival, now: must be timezone-aware")
        elapsed_h = 0.0 if now is None else max(0.0, (now - arrival).total_seconds() / 3600.0)
        tail = (1 - self.interval) / 2
        candidates = self._candidates(id_token if use_driver else None, arrival)
        for source, group, is_driver in candidates:
            stays = group.stay_h[group.stay_h > elapsed_h]
            if len(stays) < min(MIN_CONDITIONAL_SAMPLES, len(group.stay_h)) or len(stays) == 0:
                continue
            if is_driver:
                stay, stay_low, stay_high = _with_spread(
                    float(np.median(stays)), self._driver_spread[0], tail
                )
                energy, energy_low, energy_high = _with_spread(
                    float(np.median(group.energy_kwh)), self._driver_spread[1], tail
                )
            else:
                stay, stay_low, stay_high = _quantiles(stays, tail)
                energy, energy_low, energy_high = _quantiles(group.energy_kwh, tail)
            stay_low = max(stay_low, elapsed_h)
            stay = max(stay, stay_low)
            return Prediction(
                departure=arrival + timedelta(hours=stay),
                departure_lower=arrival + timedelta(hours=stay_low),
                departure_upper=arrival + timedelta(hours=max(stay_high, stay)),
                energy_kwh=max(0.0, energy),
                energy_lower_kwh=max(0.0, energy_low),
                energy_upper_kwh=max(0.0, energy_high, energy),
                source=source,
                samples=len(group.stay_h),
            )
        assert now is not None  # with elapsed 0 the last candidate (all sessions) always answers
        everything = candidates[-1][1]
        energy, energy_low, energy_high = _quantiles(everything.energy_kwh, tail)
        return Prediction(
            departure=now + OVERSTAY_EXPECTED,
            departure_lower=now,
            departure_upper=now + OVERSTAY_UPPER,
            energy_kwh=energy,
            energy_lower_kwh=energy_low,
            energy_upper_kwh=energy_high,
            source="overstay",
            samples=len(everything.stay_h),
        )

    def _candidates(
        self, id_token: str | None, arrival: datetime
    ) -> list[tuple[str, _Group, bool]]:
        out: list[tuple[str, _Group, bool]] = []
        if id_token is not None and id_token in self._drivers:
            out.append(("driver", self._drivers[id_token], True))
        local = pd.Timestamp(arrival).tz_convert(self.timezone)
        weekday, hour = local.day_of_week, local.hour
        keys = {
            "weekday-hour": (weekday, hour),
            "daytype-hour": (weekday >= 5, hour),
            "hour": (hour,),
            "all": (),
        }
        for level, _ in _SITE_LEVELS:
            group = self._site.get((level, *keys[level]))
            if group is not None:
                out.append((f"site:{level}", group, False))
        return out


_SITE_LEVELS: tuple[tuple[str, list[str]], ...] = (
    ("weekday-hour", ["weekday", "hour"]),
    ("daytype-hour", ["weekend", "hour"]),
    ("hour", ["hour"]),
    ("all", []),
)


def _as_tuple(key: object) -> tuple[object, ...]:
    return key if isinstance(key, tuple) else (key,)


def _group(frame: pd.DataFrame) -> _Group:
    return _Group(
        np.sort(frame["stay_h"].to_numpy(dtype=float)),
        np.sort(frame["energy_delivered_kwh"].to_numpy(dtype=float)),
    )


def _quantiles(values: FloatArray, tail: float) -> tuple[float, float, float]:
    low, mid, high = np.quantile(values, [tail, 0.5, 1 - tail])
    return float(mid), float(low), float(high)


def _with_spread(center: float, deviations: FloatArray, tail: float) -> tuple[float, float, float]:
    low, high = np.quantile(deviations, [tail, 1 - tail])
    return center, center + float(min(low, 0.0)), center + float(max(high, 0.0))


class ArrivalModel:
    """Expected arrivals per local weekday and hour, from the recorded arrivals' frequency.

    The rate of an hour of the week is the number of arrivals recorded in it divided by how often
    that hour occurred in the observed period (``start`` to ``end`` in :meth:`fit`, by default
    the local midnights around the first and last arrival).
    """

    def __init__(self, *, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self._rate_per_h = np.zeros((7, 24))
        self._fitted = False

    def fit(
        self, sessions: Sessions, start: datetime | None = None, end: datetime | None = None
    ) -> Self:
        """Learn the rates from the arrivals in ``[start, end)``."""
        frame = sessions_frame(sessions)
        arrivals = frame["arrival"]
        if start is None or end is None:
            if arrivals.empty:
                raise ValueError("sessions: no arrivals, and no start and end to count zero over")
            local = arrivals.dt.tz_convert(self.timezone)
            start = start or local.min().floor("D").to_pydatetime()
            end = end or (local.max().floor("D") + pd.Timedelta(days=1)).to_pydatetime()
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise ValueError("start, end: need timezone-aware start < end")
        inside = arrivals[(arrivals >= start) & (arrivals < end)].dt.tz_convert(self.timezone)
        counts = np.zeros((7, 24))
        np.add.at(counts, (inside.dt.day_of_week.to_numpy(), inside.dt.hour.to_numpy()), 1)
        hours = pd.date_range(
            pd.Timestamp(start).tz_convert("UTC").ceil("h"),
            pd.Timestamp(end).tz_convert("UTC"),
            freq="h",
            inclusive="left",
        ).tz_convert(self.timezone)
        exposure = np.zeros((7, 24))
        np.add.at(exposure, (hours.day_of_week.to_numpy(), hours.hour.to_numpy()), 1)
        self._rate_per_h = np.divide(counts, exposure, out=np.zeros((7, 24)), where=exposure > 0)
        self._fitted = True
        return self

    @property
    def rate_per_h(self) -> FloatArray:
        """Expected arrivals per hour, by local weekday (0 = Monday) and hour: (7, 24)."""
        return self._rate_per_h.copy()

    def expected_arrivals(
        self, starts: Sequence[datetime] | pd.DatetimeIndex, durations_s: Sequence[float]
    ) -> FloatArray:
        """Expected number of arrivals in each slot ``[starts[i], starts[i] + durations_s[i])``."""
        if not self._fitted:
            raise RuntimeError("ArrivalModel.expected_arrivals called before fit")
        index = pd.DatetimeIndex(list(starts))
        if index.tz is None:
            raise ValueError("starts: slot starts must be timezone-aware")
        durations = np.asarray(durations_s, dtype=float)
        if len(durations) != len(index) or not np.all(durations > 0):
            raise ValueError("durations_s: one positive duration per slot")
        out = np.zeros(len(index))
        for i, (begin, seconds) in enumerate(zip(index.tz_convert("UTC"), durations, strict=True)):
            end = begin + pd.Timedelta(seconds=float(seconds))
            # Local hours change on quarter-hour boundaries in every real time zone.
            marks = pd.date_range(begin.ceil("15min"), end, freq="15min", inclusive="left")
            edges = pd.DatetimeIndex([begin, *[m for m in marks if m > begin], end])
            middles = edges[:-1] + (edges[1:] - edges[:-1]) / 2
            local = middles.tz_convert(self.timezone)
            rates = self._rate_per_h[local.day_of_week.to_numpy(), local.hour.to_numpy()]
            hours = (edges[1:] - edges[:-1]).total_seconds().to_numpy() / 3600.0
            out[i] = float(np.sum(rates * hours))
        return out

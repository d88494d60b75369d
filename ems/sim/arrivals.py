"""When cars arrive, how long they stay and what they need: a session dataset or a random model.

Both produce :class:`Arrival`\\ s sorted by arrival time, each with its car (an
:class:`~ems.sim.ev.EvModel` from a small realistic mix), its state of charge at arrival and the
state of charge it wants, so that the energy it needs is the dataset's ``energy_kwh`` (or the
model's draw). Both are deterministic for a seed.

(a) :func:`read_sessions`: a CSV with columns ``arrival``, ``departure`` (ISO 8601 with an
offset), ``energy_kwh`` (requested) and optionally ``station_id``; replayed relative to a chosen
start (the first arrival lands on it) and mapped onto the simulated stations.

(b) :class:`RandomArrivals`: a non-homogeneous Poisson process with an arrival rate per hour of
day (a depot/workplace morning peak by default), a log-normal dwell time and a uniform state of
charge at arrival and target.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ems.sim.ev import EvModel, Taper

EV_MIX: tuple[tuple[EvModel, float], ...] = (
    (EvModel("compact-1x16", capacity_kwh=37.0, ac_max_current_a=16.0, ac_phases=1), 0.15),
    (
        EvModel(
            "hatch-1x32", capacity_kwh=40.0, ac_max_current_a=32.0, ac_phases=1, dc_max_power_w=46e3
        ),
        0.15,
    ),
    (
        EvModel(
            "sedan-3x16",
            capacity_kwh=58.0,
            ac_max_current_a=16.0,
            ac_phases=3,
            dc_max_power_w=120e3,
        ),
        0.40,
    ),
    (
        EvModel(
            "suv-3x32",
            capacity_kwh=95.0,
            ac_max_current_a=32.0,
            ac_phases=3,
            dc_max_power_w=150e3,
            taper=Taper.EXPONENTIAL,
        ),
        0.15,
    ),
    (
        EvModel(
            "van-3x16", capacity_kwh=75.0, ac_max_current_a=16.0, ac_phases=3, dc_max_power_w=50e3
        ),
        0.15,
    ),
)
"""Cars and their shares: single-phase 16 A and 32 A, three-phase 16 A and 32 A; most DC-capable."""

DEPOT_ARRIVALS_BY_HOUR: tuple[float, ...] = (
    0.01, 0.01, 0.01, 0.01, 0.02, 0.04, 0.10, 0.18, 0.20, 0.12, 0.06, 0.04,
    0.04, 0.04, 0.03, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01, 0.0, 0.0, 0.0,
)  # fmt: skip
"""Share of a day's arrivals in each hour (local to the start's offset), a morning peak."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """One car's visit: when it comes and goes, the car, its charge and the station it wants."""

    arrival: datetime
    departure: datetime
    ev: EvModel
    soc: float
    target_soc: float
    id_token: str
    station_id: str | None = None

    @property
    def energy_kwh(self) -> float:
        """Energy the car needs [kWh]."""
        return (self.target_soc - self.soc) * self.ev.capacity_kwh


def pick_ev(rng: random.Random, mix: Sequence[tuple[EvModel, float]] = EV_MIX) -> EvModel:
    return rng.choices([m for m, _ in mix], weights=[w for _, w in mix])[0]


def _charge_for(
    rng: random.Random, energy_kwh: float, mix: Sequence[tuple[EvModel, float]]
) -> tuple[EvModel, float, float]:
    """A car that can take ``energy_kwh``, its state of charge at arrival and its target."""
    model = pick_ev(rng, mix)
    if energy_kwh > 0.95 * model.capacity_kwh:
        model = max((m for m, _ in mix), key=lambda m: m.capacity_kwh)
    energy_kwh = min(energy_kwh, 0.95 * model.capacity_kwh)
    target = min(1.0, rng.uniform(0.8, 1.0))
    soc = target - energy_kwh / model.capacity_kwh
    if soc < 0.0:
        target, soc = energy_kwh / model.capacity_kwh, 0.0
    return model, soc, target


def _parse_time(text: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{where}: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{where}: the time needs an offset (for example +00:00): {text!r}")
    return value


def read_sessions(
    path: Path | str,
    *,
    start: datetime,
    station_ids: Sequence[str],
    seed: int = 0,
    id_token_prefix: str = "EV",
    mix: Sequence[tuple[EvModel, float]] = EV_MIX,
) -> list[Arrival]:
    """Sessions from a CSV, shifted so the first arrival is at ``start``.

    A ``station_id`` that names a simulated station keeps it; the dataset's other station ids
    are mapped onto the simulated stations in order of first appearance (round robin), and
    sessions without one take any free station. Raises ``ValueError`` naming the file, row and
    column of bad data.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        columns = set(reader.fieldnames or ())
        missing = [c for c in ("arrival", "departure", "energy_kwh") if c not in columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    rng = random.Random(seed)
    parsed = []
    for number, row in enumerate(rows, start=2):
        where = f"{path}, row {number}"
        arrival = _parse_time(row["arrival"], f"{where}, arrival")
        departure = _parse_time(row["departure"], f"{where}, departure")
        if departure <= arrival:
            raise ValueError(f"{where}: departure must be after arrival")
        try:
            energy_kwh = float(row["energy_kwh"])
        except ValueError:
            raise ValueError(f"{where}, energy_kwh: not a number: {row['energy_kwh']!r}") from None
        if not math.isfinite(energy_kwh) or energy_kwh < 0:
            raise ValueError(f"{where}, energy_kwh: must be 0 or more, got {energy_kwh}")
        parsed.append((arrival, departure, energy_kwh, (row.get("station_id") or "").strip()))
    if not parsed:
        return []
    parsed.sort(key=lambda item: item[0])
    origin = parsed[0][0]
    known = set(station_ids)
    mapped: dict[str, str] = {}
    out = []
    for index, (arrival, departure, energy_kwh, dataset_id) in enumerate(parsed):
        station_id: str | None = None
        if dataset_id in known:
            station_id = dataset_id
        elif dataset_id and station_ids:
            station_id = mapped.setdefault(dataset_id, station_ids[len(mapped) % len(station_ids)])
        model, soc, target = _charge_for(rng, energy_kwh, mix)
        out.append(
            Arrival(
                arrival=start + (arrival - origin),
                departure=start + (departure - origin),
                ev=model,
                soc=soc,
                target_soc=target,
                id_token=f"{id_token_prefix}{index:06d}",
                station_id=station_id,
            )
        )
    return out


class RandomArrivals:
    """A seeded random arrival model for a site of ``station_count`` stations.

    Parameters
    ----------
    sessions_per_station_day
        Mean arrivals per station and day [1/day].
    by_hour
        Share of a day's arrivals in each hour of the day (24 values, normalized here).
    dwell_median_h, dwell_sigma
        Log-normal dwell time: median [h] and sigma of its logarithm; clipped to 0.5-14 h.
    soc_range, target_range
        Uniform state of charge at arrival and wanted at departure [0..1].
    """

    def __init__(
        self,
        seed: int,
        station_count: int,
        *,
        sessions_per_station_day: float = 1.2,
        by_hour: Sequence[float] = DEPOT_ARRIVALS_BY_HOUR,
        dwell_median_h: float = 8.0,
        dwell_sigma: float = 0.35,
        soc_range: tuple[float, float] = (0.1, 0.6),
        target_range: tuple[float, float] = (0.8, 1.0),
        mix: Sequence[tuple[EvModel, float]] = EV_MIX,
        id_token_prefix: str = "EV",
    ) -> None:
        if len(by_hour) != 24 or any(w < 0 for w in by_hour) or sum(by_hour) <= 0:
            raise ValueError("by_hour needs 24 non-negative shares with a positive sum")
        if station_count < 1:
            raise ValueError("station_count must be at least 1")
        if sessions_per_station_day <= 0:
            raise ValueError("sessions_per_station_day must be positive")
        if not 0 <= soc_range[0] <= soc_range[1] < target_range[0] <= target_range[1] <= 1:
            raise ValueError("need 0 <= soc_range <= target_range <= 1, in that order")
        total = sum(by_hour)
        daily = sessions_per_station_day * station_count
        self.rate_per_hour = tuple(daily * w / total for w in by_hour)
        self.seed = seed
        self.dwell_median_h = dwell_median_h
        self.dwell_sigma = dwell_sigma
        self.soc_range = soc_range
        self.target_range = target_range
        self.mix = tuple(mix)
        self.id_token_prefix = id_token_prefix

    def arrivals(self, start: datetime) -> Iterator[Arrival]:
        """An endless, time-ordered stream of arrivals from ``start``; the same for a seed."""
        rng = random.Random(self.seed)
        hour_start = start.replace(minute=0, second=0, microsecond=0)
        index = 0
        while True:
            rate = self.rate_per_hour[hour_start.hour]
            times = sorted(
                hour_start + timedelta(seconds=rng.uniform(0, 3600))
                for _ in range(_poisson(rng, rate))
            )
            for arrival in times:
                visit = self._visit(rng, arrival, index)
                index += 1
                if arrival >= start:
                    yield visit
            hour_start += timedelta(hours=1)

    def _visit(self, rng: random.Random, arrival: datetime, index: int) -> Arrival:
        dwell_h = self.dwell_median_h * math.exp(rng.gauss(0.0, self.dwell_sigma))
        dwell_h = min(14.0, max(0.5, dwell_h))
        return Arrival(
            arrival=arrival,
            departure=arrival + timedelta(hours=dwell_h),
            ev=pick_ev(rng, self.mix),
            soc=rng.uniform(*self.soc_range),
            target_soc=rng.uniform(*self.target_range),
            id_token=f"{self.id_token_prefix}{index:06d}",
        )


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: Knuth's method for small means, the normal approximation above 30."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count

"""Recorded sessions made ready for a replay: placed on the site's chargers, with what is known.

Each :class:`~ems.datasets.SessionRecord` arriving in the replay window becomes a
:class:`ReplaySession`: the charger it plugs into, when it arrives and leaves, the energy its
car takes at most (its *need*), the car's own current limit, and the departure and energy the
control loop is told (:class:`Knowledge`).

Rules
-----
placement
    A session goes to the charger whose key is its station id, or whose charge point id is (an
    ACN ``CA-303`` is charger ``CA-303/1``). When that charger is taken at the arrival (two
    recorded sessions overlap) or the station is not part of the site, the car takes a free
    charger chosen with the replay's seed; when none is free it is turned away (listed in
    :attr:`PreparedSessions.dropped`, and not counted in any figure).
need
    ``Demand.DELIVERED`` (default, ACN-Data's and acnportal's convention): the car takes at most
    the energy it took in reality, the best record of what its battery accepted.
    ``Demand.REQUESTED``: at most what the driver asked for.
car limit
    The record's ``max_power_kw`` when known (reported to the loop, as a car's ISO 15118 limit
    would be), else the charger's maximum.
acnportal conventions
    With ``acnportal=True`` arrivals and departures are cut to the step grid (``floor(t /
    step)``, acnportal's periods), a session that then stays less than one step is dropped (as
    ``scripts/acn_compare.py`` drops it), the need is the energy delivered and the loop knows
    the true departure and need.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ems.datasets import SessionRecord
from ems.site import SiteConfig


class Knowledge(StrEnum):
    """What the control loop is told about a session's departure and energy."""

    PERFECT = "perfect"  # the true departure and need, as driver input
    CLAIMED = "claimed"  # the driver's announced departure and requested energy, when claimed
    FORECAST = "forecast"  # nothing told: forecasts fitted on sessions before the window
    NONE = "none"  # nothing told: the site's default departure and energy


class Demand(StrEnum):
    """How much energy a car takes at most in a replay."""

    DELIVERED = "delivered"
    REQUESTED = "requested"


@dataclass(frozen=True, slots=True)
class ReplaySession:
    """A recorded session as the replay plays it (see the module docstring)."""

    session_id: str
    station_id: str
    key: str
    arrival: datetime
    departure: datetime
    need_kwh: float
    max_current_a: float
    ev_max_current_a: float | None
    id_token: str | None
    driver_departure: datetime | None
    driver_energy_kwh: float | None


@dataclass(frozen=True, slots=True)
class PreparedSessions:
    """The sessions a replay plays, in arrival order, and those it could not (id, reason)."""

    sessions: tuple[ReplaySession, ...]
    dropped: tuple[tuple[str, str], ...]


def floor_to_step(moment: datetime, step_s: float) -> datetime:
    """``moment`` cut down to the step grid counted from the Unix epoch (acnportal's periods)."""
    seconds = math.floor(moment.timestamp() / step_s) * step_s
    return datetime.fromtimestamp(seconds, UTC)


def prepare_sessions(
    records: Iterable[SessionRecord],
    site: SiteConfig,
    *,
    knowledge: Knowledge = Knowledge.PERFECT,
    demand: Demand = Demand.DELIVERED,
    acnportal: bool = False,
    step_s: float = 300.0,
    seed: int = 0,
) -> PreparedSessions:
    """Place ``records`` on ``site``'s chargers for a replay (see the module docstring)."""
    rng = random.Random(seed)
    if acnportal:
        knowledge, demand = Knowledge.PERFECT, Demand.DELIVERED
    ordered = sorted(records, key=lambda r: (r.arrival, r.session_id))
    free_at: dict[str, datetime] = {c.key: datetime.min.replace(tzinfo=UTC) for c in site.chargers}
    by_station = _station_keys(site)
    sessions: list[ReplaySession] = []
    dropped: list[tuple[str, str]] = []
    for record in ordered:
        arrival, departure = record.arrival, record.departure
        if acnportal:
            arrival, departure = floor_to_step(arrival, step_s), floor_to_step(departure, step_s)
            if departure <= arrival:
                dropped.append((record.session_id, "stays less than one step"))
                continue
        wanted = by_station.get(record.station_id)
        key = wanted if wanted is not None and free_at[wanted] <= arrival else None
        if key is None:
            free = [k for k in free_at if free_at[k] <= arrival]
            if not free:
                dropped.append((record.session_id, "no free charger at arrival"))
                continue
            key = rng.choice(free)
        free_at[key] = departure
        sessions.append(_session(record, site, key, arrival, departure, knowledge, demand))
    return PreparedSessions(tuple(sessions), tuple(dropped))


def _station_keys(site: SiteConfig) -> dict[str, str]:
    """Station id -> charger key: the key itself, and a charge point id with one EVSE."""
    out = {c.key: c.key for c in site.chargers}
    evses: dict[str, list[str]] = {}
    for charger in site.chargers:
        evses.setdefault(charger.charge_point_id, []).append(charger.key)
    for charge_point_id, keys in evses.items():
        out.setdefault(charge_point_id, keys[0])
    return out


def _session(
    record: SessionRecord,
    site: SiteConfig,
    key: str,
    arrival: datetime,
    departure: datetime,
    knowledge: Knowledge,
    demand: Demand,
) -> ReplaySession:
    spec = site.charger(key)
    need = record.energy_requested_kwh
    if demand is Demand.DELIVERED:
        need = record.energy_delivered_kwh
    ev_max_a = None
    if record.max_power_kw is not None:
        ev_max_a = record.max_power_kw * 1000.0 / spec.watts_per_amp
    max_a = spec.max_current_a if ev_max_a is None else min(spec.max_current_a, ev_max_a)
    driver_departure: datetime | None = None
    driver_energy: float | None = None
    if knowledge is Knowledge.PERFECT:
        driver_departure, driver_energy = departure, need
    elif knowledge is Knowledge.CLAIMED and record.estimated_departure is not None:
        driver_departure, driver_energy = record.estimated_departure, record.energy_requested_kwh
    return ReplaySession(
        session_id=record.session_id,
        station_id=record.station_id,
        key=key,
        arrival=arrival,
        departure=departure,
        need_kwh=need,
        max_current_a=max_a,
        ev_max_current_a=ev_max_a,
        id_token=record.id_token,
        driver_departure=driver_departure,
        driver_energy_kwh=driver_energy,
    )


def window_sessions(
    records: Sequence[SessionRecord], start: datetime, end: datetime
) -> list[SessionRecord]:
    """The records arriving in ``[start, end)``."""
    return [r for r in records if start <= r.arrival < end]

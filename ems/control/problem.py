"""From a site and a snapshot of it to the optimizer's :class:`~optimizer.model.Problem`.

Pure functions: the live loop and the replay both call :func:`build_problem`, so the optimizer
gets the same input for the same state of the world.

Rules
-----
departure and energy
    Taken from the most trusted source that has them: the car (ISO 15118), the driver, a
    forecast from history, the site's default (:func:`needs`). A car that stays past its
    expected departure is planned as if it left :data:`OVERDUE_STAY_S` from now (charge it
    soon). When the energy is only a forecast or the default and the car has already received
    that much, it is planned :data:`TOP_UP_KWH` more at a low priority: it still draws power, so
    it still wants some, but others' known needs come first.
uncontrollable chargers
    A charger that is offline or rejects charging profiles cannot be limited: its maximum
    draw is reserved on every circuit above it and on the extra constraints it appears in, and it
    gets no session in the problem. Chargers without a car are budgeted nothing: their
    TxDefaultProfile bounds what a newly arrived car may draw until the next cycle.
idle cars
    A car that has drawn nothing for a while under a limit it could use (full, or paused by
    itself) is planned nothing more, whatever its need says, so that it does not hold the
    minimum current of a charger; every half hour it is offered energy for five minutes in
    case it wants to charge again (:func:`idle_now`).
cars still to come
    With an arrivals forecast, the cars expected within the horizon become sessions on free
    chargers at a lower priority, so that capacity is kept for them (:func:`expected_sessions`).
other load
    The site's measured non-EV load (when it has a meter) is taken off the grid connection in
    every slot (persistence forecast); without a meter the site's own forecast applies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

from ems.control.interface import ActiveSession, NeedSource, Snapshot
from optimizer.model import PHASES, Circuit, LinearConstraint, Problem, Session

if TYPE_CHECKING:
    from ems.site import ChargerSpec, ControlSettings, SiteConfig

# A car still plugged in after its expected departure is planned to leave this much later.
OVERDUE_STAY_S = 1800.0
# More energy planned for a car that already has its forecast or default energy [kWh].
TOP_UP_KWH = 5.0
TOP_UP_PRIORITY = 0.2
# A car idle this long (drawing nothing under a usable limit) is planned nothing, except for a
# probe of PROBE_FOR_S in every PROBE_EVERY_S (see idle_now) [s].
IDLE_AFTER_S = 120.0
PROBE_EVERY_S = 1800.0
PROBE_FOR_S = 300.0
# Priority of the sessions of cars expected to come (see expected_sessions).
EXPECTED_PRIORITY = 0.5

T = TypeVar("T")


class ArrivalsForecast(Protocol):
    """Cars expected to arrive within a horizon: ``(arrival, departure, energy_kwh)`` each."""

    def expected_cars(
        self, slot_starts: Sequence[datetime], durations_s: Sequence[float]
    ) -> list[tuple[datetime, datetime, float]]: ...


class NeedsForecast(Protocol):
    """Departure and energy predicted from history for a driver arriving at ``arrival``."""

    def predict_needs(
        self, id_token: str | None, arrival: datetime
    ) -> tuple[datetime | None, float | None]: ...


@dataclass(frozen=True, slots=True)
class Needs:
    """When a session's car leaves and how much energy it should have in total by then."""

    departure: datetime
    departure_source: NeedSource
    energy_kwh: float
    energy_source: NeedSource


def needs(
    session: ActiveSession, control: ControlSettings, forecast: NeedsForecast | None = None
) -> Needs:
    """The session's departure and energy from the most trusted source that has them."""
    predicted_departure = predicted_energy = None
    if forecast is not None and (session.ev_departure is None or session.ev_energy_kwh is None):
        predicted_departure, predicted_energy = forecast.predict_needs(
            session.id_token, session.arrival
        )
    default_departure = session.arrival + timedelta(hours=control.default_departure_h)
    departure, departure_source = _first(
        (session.ev_departure, NeedSource.EV),
        (session.driver_departure, NeedSource.DRIVER),
        (predicted_departure, NeedSource.FORECAST),
        (default_departure, NeedSource.DEFAULT),
    )
    energy, energy_source = _first(
        (session.ev_energy_kwh, NeedSource.EV),
        (session.driver_energy_kwh, NeedSource.DRIVER),
        (predicted_energy, NeedSource.FORECAST),
        (control.default_energy_kwh, NeedSource.DEFAULT),
    )
    return Needs(departure, departure_source, float(energy), energy_source)


def _first(*candidates: tuple[T | None, NeedSource]) -> tuple[T, NeedSource]:
    for value, source in candidates:
        if value is not None:
            return value, source
    raise ValueError("no candidate has a value")  # the defaults always do


@dataclass(frozen=True)
class SiteProblem:
    """A problem and what it was made from: slot start times and each session's needs."""

    problem: Problem
    slot_starts: tuple[datetime, ...]
    needs: dict[str, Needs]  # by session id
    reserved_keys: tuple[str, ...]  # uncontrollable chargers budgeted at their maximum
    expected_ids: frozenset[str] = frozenset()  # sessions of cars still to come (not real)

    def real_unmet_kwh(self, unmet_kwh: Mapping[str, float]) -> float:
        """A plan's unmet energy of the cars that are here (not of the expected ones)."""
        return float(sum(v for k, v in unmet_kwh.items() if k not in self.expected_ids))


def build_problem(
    site: SiteConfig,
    snapshot: Snapshot,
    forecast: NeedsForecast | None = None,
    arrivals: ArrivalsForecast | None = None,
) -> SiteProblem:
    """The optimizer's problem for ``site`` in the state ``snapshot`` describes.

    With ``arrivals``, the cars expected to come within the horizon are added as sessions on
    free controllable chargers (:func:`expected_sessions`), so that the plan keeps room for them.
    """
    now = snapshot.now
    slot_starts, horizon = site.horizon(now)
    durations = horizon.durations_s
    chargers = site.optimizer_chargers()
    known = {c.id for c in chargers}
    uncontrollable = tuple(
        key
        for key in (c.id for c in chargers)
        if key in snapshot.chargers and not snapshot.chargers[key].controllable
    )
    other_load = other_load_kw(site, snapshot, slot_starts, durations)
    circuits: Sequence[Circuit] = site.optimizer_circuits(slot_starts, durations, other_load)
    constraints: Sequence[LinearConstraint] = site.optimizer_constraints()
    if uncontrollable:
        specs = [site.charger(key) for key in uncontrollable]
        circuits = reserve_circuits(site, circuits, specs, horizon.slots)
        constraints = reserve_constraints(constraints, specs)

    sessions: list[Session] = []
    resolved: dict[str, Needs] = {}
    skip = set(uncontrollable)
    first_slot_end_s = durations[0]
    for active in snapshot.sessions:
        if active.key not in known or active.key in skip:
            continue
        need = needs(active, site.control, forecast)
        resolved[active.session_id] = need
        departure_s = (need.departure - now).total_seconds()
        if departure_s < first_slot_end_s:
            departure_s = first_slot_end_s + OVERDUE_STAY_S
        requested = need.energy_kwh
        priority = 1.0
        if idle_now(active, now):
            requested = min(requested, active.energy_delivered_kwh)  # nothing more for now
        trusted = need.energy_source in (NeedSource.EV, NeedSource.DRIVER)
        if not trusted and active.energy_delivered_kwh >= requested:
            requested = active.energy_delivered_kwh + TOP_UP_KWH
            priority = TOP_UP_PRIORITY
        sessions.append(
            Session(
                id=active.session_id,
                charger_id=active.key,
                energy_requested_kwh=requested,
                departure_s=departure_s,
                energy_delivered_kwh=active.energy_delivered_kwh,
                arrival_s=min(0.0, (active.arrival - now).total_seconds()),
                priority=priority,
                max_current_a=active.ev_max_current_a,
                phases_used=active.phases_used,
                measured_power_w=active.measured_power_w,
                applied_limit_a=active.applied_limit_a,
                charging=active.charging,
            )
        )
    expected: list[Session] = []
    if arrivals is not None:
        occupied = {s.charger_id for s in sessions} | {a.key for a in snapshot.sessions}
        free = [
            key
            for key in (c.id for c in chargers)
            if key not in occupied
            and key not in skip
            and snapshot.chargers.get(key) is not None
            and snapshot.chargers[key].controllable
        ]
        expected = expected_sessions(arrivals, now, slot_starts, durations, free)
        sessions.extend(expected)
    tariff = site.tariff.optimizer_tariff(slot_starts, durations, snapshot.peak_so_far_kw)
    problem = Problem(
        horizon=horizon,
        chargers=chargers,
        sessions=tuple(sessions),
        circuits=tuple(circuits),
        tariff=tariff,
        constraints=tuple(constraints),
    )
    return SiteProblem(
        problem,
        tuple(slot_starts),
        resolved,
        uncontrollable,
        frozenset(e.id for e in expected),
    )


def idle_now(session: ActiveSession, now: datetime) -> bool:
    """Whether a car that stopped taking what it was offered is planned nothing this cycle.

    From :data:`IDLE_AFTER_S` of idleness on, except for :data:`PROBE_FOR_S` in every
    :data:`PROBE_EVERY_S`, when it is offered energy again to see whether it wants some.
    """
    if session.idle_since is None:
        return False
    idle_s = (now - session.idle_since).total_seconds()
    probing = idle_s >= PROBE_EVERY_S and idle_s % PROBE_EVERY_S < PROBE_FOR_S
    return idle_s >= IDLE_AFTER_S and not probing


def expected_sessions(
    arrivals: ArrivalsForecast,
    now: datetime,
    slot_starts: Sequence[datetime],
    durations_s: Sequence[float],
    free_keys: Sequence[str],
) -> list[Session]:
    """Sessions for the cars expected after the first slot, one per free charger at most.

    They have a low priority (:data:`EXPECTED_PRIORITY`): the cars that are here come first,
    but a plan that leaves room for the expected ones (charging the present cars earlier rather
    than later) is preferred to one that does not. They are never dispatched: no car is there.
    """
    out: list[Session] = []
    free = list(free_keys)
    for n, (arrival, departure, energy_kwh) in enumerate(
        arrivals.expected_cars(slot_starts, durations_s)
    ):
        if not free:
            break
        arrival_s = (arrival - now).total_seconds()
        departure_s = (departure - now).total_seconds()
        if departure_s <= arrival_s or energy_kwh <= 0:
            continue
        out.append(
            Session(
                id=f"expected-{n}",
                charger_id=free.pop(0),
                energy_requested_kwh=energy_kwh,
                departure_s=departure_s,
                arrival_s=arrival_s,
                priority=EXPECTED_PRIORITY,
            )
        )
    return out


# Slots starting within this long of now take the measured other load as it is (persistence).
PERSISTENCE_S = 3600.0


def other_load_kw(
    site: SiteConfig,
    snapshot: Snapshot,
    slot_starts: Sequence[datetime],
    durations_s: Sequence[float],
) -> list[float] | None:
    """Non-EV load per slot [kW]: the measurement for the coming hour, the site's forecast later.

    Without a measurement the forecast applies throughout; without either, None (nothing is
    taken off the capacity).
    """
    forecast = site.other_load_forecast_kw(slot_starts, durations_s)
    measured = snapshot.other_load_kw
    if measured is None:
        return None if forecast is None else list(forecast)
    soon = snapshot.now + timedelta(seconds=PERSISTENCE_S)
    return [
        measured if start < soon or forecast is None else forecast[t]
        for t, start in enumerate(slot_starts)
    ]


def max_draw(spec: ChargerSpec) -> tuple[tuple[float, float, float], float]:
    """What a charger can draw at most: per site phase [A] and in total [kW]."""
    per_phase = [0.0] * PHASES
    for phase in spec.phases:
        per_phase[phase] = spec.max_current_a
    power_kw = spec.max_current_a * spec.watts_per_amp / 1000.0
    return (per_phase[0], per_phase[1], per_phase[2]), power_kw


def reserve_circuits(
    site: SiteConfig, circuits: Sequence[Circuit], specs: Sequence[ChargerSpec], slots: int
) -> list[Circuit]:
    """``circuits`` with the maximum draw of ``specs`` taken off every node above each."""
    parent = {c.id: c.parent_id for c in circuits}
    reserved_a: dict[str, list[float]] = {c.id: [0.0] * PHASES for c in circuits}
    reserved_kw: dict[str, float] = {c.id: 0.0 for c in circuits}
    for spec in specs:
        amps, kw = max_draw(spec)
        node: str | None = spec.circuit_id
        while node is not None:
            reserved_a[node] = [r + a for r, a in zip(reserved_a[node], amps, strict=True)]
            reserved_kw[node] += kw
            node = parent[node]
    out = []
    for circuit in circuits:
        amps_off, kw_off = reserved_a[circuit.id], reserved_kw[circuit.id]
        by_phase = circuit.phase_limits_a(slots)
        power = circuit.power_limits_kw(slots)
        out.append(
            dataclasses.replace(
                circuit,
                limit_a=None,
                limit_kw=None,
                limit_a_by_slot=None
                if by_phase is None
                else tuple(
                    (row[0] - amps_off[0], row[1] - amps_off[1], row[2] - amps_off[2])
                    for row in by_phase.tolist()
                ),
                limit_kw_by_slot=None
                if power is None
                else tuple(value - kw_off for value in power.tolist()),
            )
        )
    return out


def reserve_constraints(
    constraints: Sequence[LinearConstraint], specs: Sequence[ChargerSpec]
) -> list[LinearConstraint]:
    """Extra constraints with the worst case of ``specs`` taken off (each at 0 or its maximum)."""
    out = []
    for constraint in constraints:
        upper, lower = constraint.upper_a, constraint.lower_a
        for spec in specs:
            coefficient = constraint.coefficients.get(spec.key, 0.0)
            if coefficient > 0:
                upper -= coefficient * spec.max_current_a
            elif coefficient < 0 and lower is not None:
                lower -= coefficient * spec.max_current_a
        out.append(dataclasses.replace(constraint, upper_a=upper, lower_a=lower))
    return out

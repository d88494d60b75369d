"""What a scheduler is given and what it gives back: frozen inputs, a plan out.

Nothing here reads a clock or does I/O. Time is in seconds relative to the start of the horizon
("now" is 0); the caller turns wall-clock times into these offsets.

Nomenclature
------------
site phase
    One of the site's three lines, indexed 0, 1, 2 (L1, L2, L3).
charger current
    The current per phase a charger may draw [A]; the one decision variable of every scheduler.
    A charger loads each site phase in ``Charger.phases`` with that current; its power is
    ``current_a * Charger.watts_per_amp``.
circuit
    A node of the site's electrical tree (grid connection, transformer, feeder, cabinet) with
    per-phase current limits [A] and/or a power limit [kW]; every charger hangs below one.
session
    A car on a charger: the energy it asks for, its departure, its own current limit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
PHASES = 3
T = TypeVar("T")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class Horizon:
    """The plan's time slots, possibly uneven (5 min near now, 15 or 60 min later)."""

    durations_s: tuple[float, ...]

    def __post_init__(self) -> None:
        _check(len(self.durations_s) > 0, "a horizon needs at least one slot")
        _check(all(d > 0 for d in self.durations_s), "slot durations must be positive")

    @classmethod
    def uniform(cls, slots: int, duration_s: float) -> Horizon:
        return cls((float(duration_s),) * slots)

    @property
    def slots(self) -> int:
        return len(self.durations_s)

    @property
    def starts_s(self) -> FloatArray:
        """Start of each slot [s from now]."""
        return np.concatenate(([0.0], np.cumsum(self.durations_s)[:-1]))

    @property
    def hours(self) -> FloatArray:
        """Duration of each slot [h], the factor from kW to kWh."""
        return np.asarray(self.durations_s, dtype=float) / 3600.0

    @property
    def end_s(self) -> float:
        return float(sum(self.durations_s))


@dataclass(frozen=True, slots=True)
class Charger:
    """A controllable outlet and how it connects to the site.

    ``phases`` lists the site phases the charger's own L1, L2, L3 are wired to (phase rotation):
    ``(0, 1, 2)`` for a three-phase charger wired straight, ``(1, 2, 0)`` rotated, ``(2,)`` for a
    single-phase charger on L3. A line-to-line charger (``line_to_line``, two phases, as in
    Caltech's ACN garage at 208 V) draws its current through both lines at once.
    ``current_step_a`` is the granularity the charger accepts (1.0 = whole amps, 0 = any value).
    A DC charger is given by the per-phase AC current its power corresponds to.
    """

    id: str
    circuit_id: str
    phases: tuple[int, ...] = (0, 1, 2)
    min_current_a: float = 6.0
    max_current_a: float = 32.0
    current_step_a: float = 1.0
    voltage_v: float = 230.0
    line_to_line: bool = False
    dc: bool = False

    def __post_init__(self) -> None:
        _check(len(self.phases) > 0, f"charger {self.id}: no phases")
        _check(all(p in (0, 1, 2) for p in self.phases), f"charger {self.id}: phases are 0, 1, 2")
        _check(len(set(self.phases)) == len(self.phases), f"charger {self.id}: phase twice")
        _check(
            not self.line_to_line or len(self.phases) == 2,
            f"charger {self.id}: a line-to-line charger uses exactly two phases",
        )
        _check(
            0 <= self.min_current_a <= self.max_current_a,
            f"charger {self.id}: need 0 <= min_current_a <= max_current_a",
        )
        _check(self.current_step_a >= 0, f"charger {self.id}: current_step_a must be >= 0")
        _check(self.voltage_v > 0, f"charger {self.id}: voltage_v must be positive")

    @property
    def watts_per_amp(self) -> float:
        """Power per ampere of per-phase current [W/A]."""
        return self.voltage_v * (1 if self.line_to_line else len(self.phases))

    @property
    def lowest_current_a(self) -> float:
        """The smallest current other than 0 the charger accepts [A]: its minimum, on a step.

        0 when the charger has no minimum and takes any value (``min_current_a`` and
        ``current_step_a`` both 0). With steps, the minimum rounded up to the next step and at
        least one step (a 6 A minimum on 4 A steps is 8 A).
        """
        step = self.current_step_a
        if step <= 0:
            return self.min_current_a
        return max(1, math.ceil(self.min_current_a / step - 1e-9)) * step


@dataclass(frozen=True, slots=True)
class Session:
    """A car on a charger (or one expected to arrive, ``arrival_s`` > 0).

    ``energy_requested_kwh`` is what the car should have received in total by ``departure_s``
    (known or estimated); ``energy_delivered_kwh`` what it has received so far.
    ``max_current_a`` is the car's own limit (its on-board charger), ``phases_used`` how many of
    the charger's phases the car draws on (a single-phase car on a three-phase charger uses the
    charger's first phase only). ``measured_power_w`` is what it was last measured drawing: a car
    in its battery tail draws less than its limit, and that headroom can go to others (see
    :func:`session_max_current_a`); ``applied_limit_a`` is the limit it was drawing under.
    ``charging`` says it is charging now: the minimum-current rule keeps such a session from being
    paused and resumed back and forth.
    """

    id: str
    charger_id: str
    energy_requested_kwh: float
    departure_s: float
    energy_delivered_kwh: float = 0.0
    arrival_s: float = 0.0
    priority: float = 1.0
    max_current_a: float | None = None
    phases_used: int | None = None
    measured_power_w: float | None = None
    applied_limit_a: float | None = None
    charging: bool = False

    def __post_init__(self) -> None:
        _check(self.energy_requested_kwh >= 0, f"session {self.id}: negative energy requested")
        _check(self.energy_delivered_kwh >= 0, f"session {self.id}: negative energy delivered")
        _check(self.departure_s > self.arrival_s, f"session {self.id}: departs before arriving")
        _check(self.priority > 0, f"session {self.id}: priority must be positive")
        _check(
            self.max_current_a is None or self.max_current_a >= 0,
            f"session {self.id}: negative max_current_a",
        )
        _check(
            self.phases_used is None or self.phases_used >= 1,
            f"session {self.id}: phases_used must be at least 1",
        )

    @property
    def energy_remaining_kwh(self) -> float:
        return max(0.0, self.energy_requested_kwh - self.energy_delivered_kwh)


def loaded_phases(charger: Charger, session: Session | None) -> tuple[int, ...]:
    """The site phases a session on ``charger`` draws its per-phase current from.

    A car using fewer phases than the charger has draws on the charger's first ones
    (``phases_used``). A line-to-line charger always draws through both of its lines: the car's
    single phase is connected across them, so ``phases_used`` does not reduce it.
    """
    if session is None or charger.line_to_line or session.phases_used is None:
        return charger.phases
    return charger.phases[: min(session.phases_used, len(charger.phases))]


def watts_per_amp(charger: Charger, session: Session | None) -> float:
    """Power per ampere of per-phase current for this session on this charger [W/A]."""
    share = len(loaded_phases(charger, session)) / len(charger.phases)
    return charger.watts_per_amp * share


# A car drawing this much below its applied limit is limiting itself (battery tail, full).
SELF_LIMITING_MARGIN_A = 1.0


def session_max_current_a(charger: Charger, session: Session) -> float:
    """The most current per phase the session can use now [A].

    The charger's and the car's maxima; and when the car was measured drawing clearly less than
    the limit it was given, what it drew plus a margin, so that the rest goes to other cars
    within one cycle (and the car gets more again as soon as it draws up to its new limit).
    That tail limit is never below the charger's lowest accepted current
    (:attr:`Charger.lowest_current_a`): a car drawing 2 A in its tail is given 6 A, not 3 A,
    which the charger would take as 0 and so pause a car that is still charging.
    """
    limit = charger.max_current_a
    if session.max_current_a is not None:
        limit = min(limit, session.max_current_a)
    if session.measured_power_w is not None and session.applied_limit_a is not None:
        measured_a = session.measured_power_w / watts_per_amp(charger, session)
        if measured_a < session.applied_limit_a - SELF_LIMITING_MARGIN_A:
            tail_a = max(measured_a + SELF_LIMITING_MARGIN_A, charger.lowest_current_a)
            limit = min(limit, tail_a)
    return max(0.0, limit)


@dataclass(frozen=True, slots=True)
class Circuit:
    """A node of the circuit tree; ``parent_id`` None for the grid connection (the root).

    Limits hold for the sum over every charger below the node. ``limit_a`` is per site phase;
    ``limit_kw`` is on total power. The ``*_by_slot`` forms, when given, replace the constant
    ones slot by slot (contracted capacity minus forecast other load, plus PV).
    """

    id: str
    parent_id: str | None = None
    limit_a: tuple[float, float, float] | None = None
    limit_kw: float | None = None
    limit_a_by_slot: tuple[tuple[float, float, float], ...] | None = None
    limit_kw_by_slot: tuple[float, ...] | None = None

    def phase_limits_a(self, slots: int) -> FloatArray | None:
        """Per-phase limits as a (slots, 3) array, or None when the node has none."""
        if self.limit_a_by_slot is not None:
            return np.asarray(self.limit_a_by_slot, dtype=float).reshape(slots, PHASES)
        if self.limit_a is not None:
            return np.tile(np.asarray(self.limit_a, dtype=float), (slots, 1))
        return None

    def power_limits_kw(self, slots: int) -> FloatArray | None:
        """Power limits as a (slots,) array, or None when the node has none."""
        if self.limit_kw_by_slot is not None:
            return np.asarray(self.limit_kw_by_slot, dtype=float)
        if self.limit_kw is not None:
            return np.full(slots, float(self.limit_kw))
        return None


@dataclass(frozen=True, slots=True)
class LinearConstraint:
    """``lower_a <= sum(coefficient * charger current) <= upper_a`` in every slot.

    For networks the tree cannot express: unbalanced three-phase and line-to-line feeders, such
    as the linearized constraints of Caltech's ACN garage.
    """

    id: str
    coefficients: Mapping[str, float]
    upper_a: float
    lower_a: float | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    """Import price per slot [per kWh], and a demand charge on the billing period's peak.

    ``peak_so_far_kw`` is the peak already reached in the current billing period: only a new
    peak above it costs more.
    """

    import_price_per_kwh: tuple[float, ...]
    demand_charge_per_kw: float = 0.0
    peak_so_far_kw: float = 0.0


@dataclass(frozen=True, slots=True)
class Problem:
    """Everything a scheduler needs; checked for consistency on construction."""

    horizon: Horizon
    chargers: tuple[Charger, ...]
    sessions: tuple[Session, ...]
    circuits: tuple[Circuit, ...]
    tariff: Tariff
    constraints: tuple[LinearConstraint, ...] = ()

    def __post_init__(self) -> None:
        slots = self.horizon.slots
        ids = [c.id for c in self.chargers]
        _check(len(set(ids)) == len(ids), "charger ids must be unique")
        circuits = {c.id: c for c in self.circuits}
        _check(len(circuits) == len(self.circuits), "circuit ids must be unique")
        roots = [c for c in self.circuits if c.parent_id is None]
        _check(len(roots) == 1, "the circuit tree needs exactly one root (parent_id None)")
        for circuit in self.circuits:
            _check(
                circuit.parent_id is None or circuit.parent_id in circuits,
                f"circuit {circuit.id}: unknown parent {circuit.parent_id}",
            )
            if circuit.limit_a_by_slot is not None:
                _check(
                    len(circuit.limit_a_by_slot) == slots,
                    f"circuit {circuit.id}: one limit per slot",
                )
            if circuit.limit_kw_by_slot is not None:
                _check(
                    len(circuit.limit_kw_by_slot) == slots,
                    f"circuit {circuit.id}: one limit per slot",
                )
        _check_acyclic(circuits)
        chargers = set(ids)
        for charger in self.chargers:
            _check(charger.circuit_id in circuits, f"charger {charger.id}: unknown circuit")
        used: set[str] = set()
        for session in self.sessions:
            _check(session.charger_id in chargers, f"session {session.id}: unknown charger")
            _check(session.charger_id not in used, f"charger {session.charger_id}: two sessions")
            used.add(session.charger_id)
        for constraint in self.constraints:
            unknown = set(constraint.coefficients) - chargers
            _check(not unknown, f"constraint {constraint.id}: unknown chargers {sorted(unknown)}")
        _check(
            len(self.tariff.import_price_per_kwh) == slots,
            "the tariff needs one import price per slot",
        )

    @property
    def charger_index(self) -> dict[str, int]:
        return {c.id: i for i, c in enumerate(self.chargers)}

    def session_on(self) -> dict[str, Session]:
        """The session of each occupied charger, by charger id."""
        return {s.charger_id: s for s in self.sessions}


def _check_acyclic(circuits: Mapping[str, Circuit]) -> None:
    for start in circuits:
        seen: set[str] = set()
        node: str | None = start
        while node is not None:
            _check(node not in seen, f"circuit tree has a cycle through {node}")
            seen.add(node)
            node = circuits[node].parent_id


def per_problem(function: Callable[[Problem], T]) -> Callable[[Problem], T]:
    """``function(problem)``, computed once for the problem object it was last asked about.

    One plan asks for the same derived arrays (presence, bounds, the circuit tree) many times;
    a :class:`Problem` is frozen, so the answer for the same object cannot change. The cache
    compares by identity (O(1), unlike the dataclass's equality) and holds one entry; reading
    and replacing it are single operations, so concurrent callers at worst compute twice.
    Arrays in the answer are made read-only: callers copy before they change anything.
    """
    last: list[tuple[Problem | None, T | None]] = [(None, None)]

    @functools.wraps(function)
    def cached(problem: Problem) -> T:
        known, value = last[0]
        if known is problem:
            return value  # type: ignore[return-value]
        value = function(problem)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        last[0] = (problem, value)
        return value

    return cached


@dataclass(frozen=True)
class SessionArrays:
    """The sessions as (chargers,) arrays in ``problem.chargers`` order; free chargers have none.

    Free chargers: ``occupied`` False, arrival ``+inf`` and departure ``-inf`` (never present),
    0 energy and priority, not charging.
    """

    occupied: npt.NDArray[np.bool_]
    arrival_s: FloatArray
    departure_s: FloatArray
    remaining_kwh: FloatArray
    priority: FloatArray
    charging: npt.NDArray[np.bool_]


@per_problem
def session_arrays(problem: Problem) -> SessionArrays:
    """The sessions of ``problem`` by charger, as arrays (see :class:`SessionArrays`)."""
    n = len(problem.chargers)
    index = problem.charger_index
    rows = [index[s.charger_id] for s in problem.sessions]
    values = np.array(
        [
            (s.arrival_s, s.departure_s, s.energy_remaining_kwh, s.priority, float(s.charging))
            for s in problem.sessions
        ],
        dtype=float,
    ).reshape(len(rows), 5)
    columns = [np.full(n, np.inf), np.full(n, -np.inf), np.zeros(n), np.zeros(n), np.zeros(n)]
    for column, value in zip(columns, values.T, strict=True):
        column[rows] = value
        column.flags.writeable = False
    occupied = np.zeros(n, dtype=bool)
    occupied[rows] = True
    occupied.flags.writeable = False
    charging = columns[4] > 0
    charging.flags.writeable = False
    return SessionArrays(occupied, columns[0], columns[1], columns[2], columns[3], charging)


@dataclass(frozen=True)
class ChargerArrays:
    """The chargers' fixed figures as (chargers,) arrays (read-only)."""

    watts_per_amp: FloatArray  # without a session
    phase_count: FloatArray
    lowest_current_a: FloatArray


_charger_arrays_cache: list[tuple[tuple[Charger, ...] | None, ChargerArrays | None]] = [
    (None, None)
]


def charger_arrays(chargers: tuple[Charger, ...]) -> ChargerArrays:
    """:class:`ChargerArrays` of ``chargers``; the last answer is kept for the same tuple object
    (a site's re-plans pass the same one)."""
    known, value = _charger_arrays_cache[0]
    if known is chargers and value is not None:
        return value
    arrays = [
        np.array([c.watts_per_amp for c in chargers], dtype=float),
        np.array([len(c.phases) for c in chargers], dtype=float),
        np.array([c.lowest_current_a for c in chargers], dtype=float),
    ]
    for array in arrays:
        array.flags.writeable = False
    value = ChargerArrays(*arrays)
    _charger_arrays_cache[0] = (chargers, value)
    return value


@per_problem
def kw_per_a(problem: Problem) -> FloatArray:
    """(chargers,): the power one ampere of per-phase current means on each charger [kW/A].

    With the session on it, if any (:func:`watts_per_amp`).
    """
    fixed = charger_arrays(problem.chargers)
    out = fixed.watts_per_amp / 1000.0
    index = problem.charger_index
    chargers = problem.chargers
    for s in problem.sessions:
        if s.phases_used is not None:
            i = index[s.charger_id]
            out[i] = watts_per_amp(chargers[i], s) / 1000.0
    return out


class PlanStatus(StrEnum):
    OPTIMAL = "optimal"
    FALLBACK = "fallback"  # a baseline's plan, because the LP failed or ran out of time
    BASELINE = "baseline"


@dataclass(frozen=True)
class Plan:
    """A schedule: current and power per charger and slot, and the limit to apply now.

    ``current_a`` and ``power_w`` are (chargers, slots) arrays in the order of ``charger_ids``.
    ``limit_now_a`` is the first slot's current, quantized to each charger's steps and passed
    through the circuit clamp: what leaves ems.
    """

    charger_ids: tuple[str, ...]
    current_a: FloatArray
    power_w: FloatArray
    limit_now_a: Mapping[str, float]
    delivered_kwh: Mapping[str, float]
    unmet_kwh: Mapping[str, float]
    energy_cost: float
    demand_charge: float
    peak_kw: float
    solve_time_s: float
    status: PlanStatus
    solver: str
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def total_unmet_kwh(self) -> float:
        return float(sum(self.unmet_kwh.values()))

    @property
    def total_cost(self) -> float:
        return self.energy_cost + self.demand_charge

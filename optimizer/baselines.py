"""Simple schedulers: yardsticks for the LP and its fallback when the LP fails.

All four go slot by slot through the horizon. In each slot a car present for the whole slot
(see :func:`~optimizer.circuits.present_mask`) may draw up to its session maximum, and no more
than it still needs: the smallest current on the charger's steps that finishes it in this slot
(at least the minimum current; the car stops drawing when full). The current a car gets is on
its charger's steps and either 0 or at least ``min_current_a``, and it never takes a limit row
(node phase, node power, extra constraint) past its bound in that slot: each car is given at
most the headroom every row it is in still has. An extra constraint's ``lower_a > 0`` is not
enforced (a greedy scheduler only gives current; zero already misses such a bound).

In slot 0 the sessions charging now first get their floor,
:func:`~optimizer.minimum.minimum_floor_a` (the minimum-current rule: a running car is not paused
when the site can carry its minimum); each scheduler then shares out the rest its own way.

They differ in who is served first:

- :class:`Uncontrolled`: every car at its maximum, first come first served by arrival.
- :class:`EqualShare`: water-filling, the same current for every car up to its maximum.
- :class:`EarliestDeadlineFirst`: by departure.
- :class:`LeastLaxityFirst`: by laxity, the time to departure minus the time the car needs at
  its maximum current.

Baselines do not time themselves (no clock in this library): ``solve_time_s`` is 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from optimizer.circuits import (
    CircuitTree,
    allowed_current_a,
    max_current_a,
    present_mask,
)
from optimizer.evaluate import make_plan
from optimizer.minimum import minimum_floor_a
from optimizer.model import Charger, FloatArray, Plan, PlanStatus, Problem, kw_per_a

_EPS = 1e-9


@dataclass
class _Slot:
    """What a slot's allocation works on: its row bounds, loads and each car's cap [A]."""

    chargers: tuple[Charger, ...]
    columns: list[tuple[npt.NDArray[np.intp], FloatArray]]  # rows and coefficients per charger
    rows: sp.csr_matrix
    lower: FloatArray
    upper: FloatArray
    caps_a: FloatArray
    current_a: FloatArray
    load: FloatArray

    def headroom_a(self, i: int) -> float:
        """How much more current charger ``i`` can take before one of its rows is at a bound."""
        rows, coef = self.columns[i]
        room = math.inf
        for r, a in zip(rows, coef, strict=True):
            if a > 0:
                room = min(room, (self.upper[r] - self.load[r]) / a)
            elif a < 0:
                room = min(room, (self.load[r] - self.lower[r]) / -a)
        return max(0.0, room)

    def try_all(self, values_a: FloatArray) -> bool:
        """Give every charger its value at once if that keeps every row within bounds."""
        load = self.load + self.rows @ (values_a - self.current_a)
        if np.any(load > self.upper) or np.any(load < self.lower):
            return False
        self.load, self.current_a = load, values_a.copy()
        return True

    def fill(self, order: list[int], caps_a: FloatArray) -> None:
        """Raise each charger in turn, in ``order``, as far as ``caps_a`` and headroom allow."""
        for i in order:
            now = self.current_a[i]
            most = min(caps_a[i], now + self.headroom_a(i))
            # A hair of float noise in the headroom must not cost a whole step.
            value = allowed_current_a(self.chargers[i], most, most + _EPS)
            if value > now:
                rows, coef = self.columns[i]
                self.load[rows] += coef * (value - now)
                self.current_a[i] = value


def _columns(tree: CircuitTree) -> list[tuple[npt.NDArray[np.intp], FloatArray]]:
    csc = tree.rows.tocsc()
    return [
        (
            csc.indices[csc.indptr[i] : csc.indptr[i + 1]],
            csc.data[csc.indptr[i] : csc.indptr[i + 1]],
        )
        for i in range(csc.shape[1])
    ]


def _energy_cap_a(charger: Charger, need_a: float) -> float:
    """The smallest current the charger accepts that delivers ``need_a`` [A]."""
    step = charger.current_step_a
    if step > 0:
        need_a = math.ceil(need_a / step - _EPS) * step
    return max(need_a, charger.min_current_a)


@dataclass(frozen=True)
class _Context:
    """Per-problem facts the orderings need."""

    problem: Problem
    remaining_kwh: FloatArray  # (chargers,), updated slot by slot
    max_a: FloatArray  # (chargers,)
    kw_per_a: FloatArray  # (chargers,)
    present: npt.NDArray[np.bool_]  # (chargers, slots)
    tree: CircuitTree
    dense_rows: FloatArray  # tree.rows as a dense (rows, chargers) array


Allocate = Callable[[_Slot, _Context, int], None]


def _schedule(problem: Problem, allocate: Allocate) -> FloatArray:
    """Run ``allocate`` slot by slot and return the (chargers, slots) schedule."""
    tree = CircuitTree.build(problem)
    on = problem.session_on()
    chargers = problem.chargers
    context = _Context(
        problem=problem,
        remaining_kwh=np.array(
            [on[c.id].energy_remaining_kwh if c.id in on else 0.0 for c in chargers]
        ),
        max_a=max_current_a(problem),
        kw_per_a=np.array(kw_per_a(problem)),
        present=present_mask(problem),
        tree=tree,
        dense_rows=tree.rows.toarray(),
    )
    columns = _columns(tree)
    hours = problem.horizon.hours
    schedule = np.zeros((len(chargers), problem.horizon.slots))
    floor = minimum_floor_a(problem, tree)
    for t in range(problem.horizon.slots):
        caps = np.zeros(len(chargers))
        for i, charger in enumerate(chargers):
            if context.present[i, t] and context.remaining_kwh[i] > _EPS:
                need_a = context.remaining_kwh[i] / (context.kw_per_a[i] * hours[t])
                caps[i] = min(context.max_a[i], _energy_cap_a(charger, need_a))
        slot = _Slot(
            chargers=chargers,
            columns=columns,
            rows=tree.rows,
            lower=np.where(tree.rows_lower[:, t] > 0, -np.inf, tree.rows_lower[:, t]),
            upper=tree.rows_upper[:, t],
            caps_a=caps,
            current_a=floor.copy() if t == 0 else np.zeros(len(chargers)),
            load=tree.rows @ floor if t == 0 else np.zeros(tree.rows.shape[0]),
        )
        allocate(slot, context, t)
        schedule[:, t] = slot.current_a
        delivered = slot.current_a * context.kw_per_a * hours[t]
        context.remaining_kwh[:] = np.maximum(0.0, context.remaining_kwh - delivered)
    return schedule


def _wanting(slot: _Slot) -> list[int]:
    return [i for i in range(len(slot.caps_a)) if slot.caps_a[i] > 0]


def _by_arrival(context: _Context, candidates: list[int]) -> list[int]:
    on = context.problem.session_on()
    chargers = context.problem.chargers
    return sorted(candidates, key=lambda i: (on[chargers[i].id].arrival_s, i))


def _plan(problem: Problem, name: str, allocate: Allocate) -> Plan:
    return make_plan(
        problem,
        _schedule(problem, allocate),
        status=PlanStatus.BASELINE,
        solver=name,
        solve_time_s=0.0,
    )


def _first_come(slot: _Slot, context: _Context, t: int) -> None:
    slot.fill(_by_arrival(context, _wanting(slot)), slot.caps_a)


def _earliest_deadline(slot: _Slot, context: _Context, t: int) -> None:
    on = context.problem.session_on()
    chargers = context.problem.chargers
    order = sorted(_wanting(slot), key=lambda i: (on[chargers[i].id].departure_s, i))
    slot.fill(order, slot.caps_a)


def _laxity_s(context: _Context, i: int, t: int) -> float:
    """Time to departure minus the time the car needs at its maximum current [s]."""
    session = context.problem.session_on()[context.problem.chargers[i].id]
    start_s = float(context.problem.horizon.starts_s[t])
    max_kw = context.max_a[i] * context.kw_per_a[i]
    need_s = context.remaining_kwh[i] / max_kw * 3600.0 if max_kw > _EPS else math.inf
    return session.departure_s - start_s - need_s


def _least_laxity(slot: _Slot, context: _Context, t: int) -> None:
    order = sorted(_wanting(slot), key=lambda i: (_laxity_s(context, i, t), i))
    slot.fill(order, slot.caps_a)


def _equal_share(slot: _Slot, context: _Context, t: int) -> None:
    """Water-fill, drop cars whose share is below their minimum one by one, then top up.

    The levels quantized down are taken all at once when every row still holds; quantizing down
    can push a mixed-sign constraint the other way, and then the levels are only caps for a
    greedy fill from zero that checks every row car by car. The top-up gives the rounding
    remainders to cars in order of arrival.
    """
    dense = context.dense_rows
    candidates = _by_arrival(context, _wanting(slot))
    while True:
        levels = _water_levels(dense, candidates, slot)
        short = [
            i for i in candidates if allowed_current_a(slot.chargers[i], levels[i], levels[i]) == 0
        ]
        if not short:
            break
        candidates.remove(short[-1])
    quantized = np.array(
        [allowed_current_a(c, v, v) for c, v in zip(slot.chargers, levels, strict=True)]
    )
    if not slot.try_all(quantized):
        slot.fill(candidates, levels)
    slot.fill(_by_arrival(context, _wanting(slot)), slot.caps_a)


def _water_levels(dense: FloatArray, candidates: list[int], slot: _Slot) -> FloatArray:
    """Continuous equal-current allocation to ``candidates`` up to their caps within every row.

    All unfrozen cars rise together until one reaches its cap or a row reaches a bound; then
    the cars that push that row further are frozen. Each round freezes at least one car.
    Cars start where the slot has them already (their floor in slot 0, else 0).
    """
    x = slot.current_a.copy()
    load = slot.load.copy()
    active = np.zeros(len(x), dtype=bool)
    active[candidates] = True
    while active.any():
        rate = dense[:, active].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(rate > _EPS, (slot.upper - load) / rate, np.inf)
            down = np.where(rate < -_EPS, (load - slot.lower) / -rate, np.inf)
        step = max(0.0, min((slot.caps_a - x)[active].min(), up.min(), down.min()))
        x[active] += step
        load += rate * step
        frozen = active & (slot.caps_a - x <= _EPS)
        at_upper = (rate > _EPS) & (slot.upper - load <= _EPS * np.maximum(1.0, abs(slot.upper)))
        at_lower = (rate < -_EPS) & (load - slot.lower <= _EPS * np.maximum(1.0, abs(slot.lower)))
        frozen |= active & (dense[at_upper] > 0).any(axis=0)
        frozen |= active & (dense[at_lower] < 0).any(axis=0)
        active &= ~(frozen if frozen.any() else active)
    return x


class Uncontrolled:
    """Every car at its maximum until full, first come first served within the limits."""

    name = "uncontrolled"

    def plan(self, problem: Problem) -> Plan:
        return _plan(problem, self.name, _first_come)


class EqualShare:
    """The same current for every present car, up to its maximum, within the limits."""

    name = "equal_share"

    def plan(self, problem: Problem) -> Plan:
        return _plan(problem, self.name, _equal_share)


class EarliestDeadlineFirst:
    """Cars leaving soonest are served first, each as much as the headroom allows."""

    name = "edf"

    def plan(self, problem: Problem) -> Plan:
        return _plan(problem, self.name, _earliest_deadline)


class LeastLaxityFirst:
    """Cars with the least slack (time left minus time needed at full current) first."""

    name = "llf"

    def plan(self, problem: Problem) -> Plan:
        return _plan(problem, self.name, _least_laxity)

"""The minimum-current rule: who keeps charging in the first slot, and the limit sent now.

A charger accepts 0 or a current of at least its minimum on its steps
(:attr:`~optimizer.model.Charger.lowest_current_a`, e.g. 6 A). A car whose limit drops below
that is paused, and pausing and resuming a car back and forth wears its contactors and
annoys its driver. Every scheduler, LP or baseline, therefore applies three rules:

running sessions keep running
    A session charging now (``Session.charging``) keeps at least its lowest current in slot 0
    whenever the site can carry it. :func:`minimum_floor_a` chooses the sessions greedily, by
    priority and then earliest departure, such that their minimums together hold every slot-0
    row (node phase, node power, extra constraint) exactly. The LPs get that floor as the lower
    bound of the session's slot-0 current (see :mod:`optimizer.formulation`), the baselines
    hand it out in slot 0 before anything else. A session whose minimum would fill it within
    slot 0 is not held at it by the plan (it is nearly full); :func:`limits_now_a` still gives
    it its minimum now when there is room.
start only at the minimum (hysteresis)
    A session not charging now starts only when its plan gives it at least its lowest current:
    a planned current below that rounds to 0. Once started, the first rule keeps it running,
    so a car is not started and stopped by small changes in the plan.
the limit sent now
    :func:`limits_now_a` quantizes the plan's slot 0 down to each charger's steps, applies the
    two rules above and then gives back what rounding freed, step by step, to the chargers the
    rounding cut most, as long as every slot-0 row still holds exactly. The result passes
    :func:`~optimizer.circuits.clamp`, the final safety net, which leaves it unchanged whenever
    the plan itself held every row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from optimizer.circuits import (
    CircuitTree,
    allowed_currents_a,
    as_current_vector,
    charger_steps_a,
    clamp,
    current_bounds_a,
)
from optimizer.model import (
    FloatArray,
    Problem,
    charger_arrays,
    kw_per_a,
    per_problem,
    session_arrays,
)

# A planned current this close above a step counts as on it [A]: solver noise, not a plan.
_ON_STEP_A = 1e-6


@per_problem
def lowest_currents_a(problem: Problem) -> FloatArray:
    """(chargers,): the smallest current other than 0 each charger accepts [A]."""
    return np.array(charger_arrays(problem.chargers).lowest_current_a)


def minimum_floor_a(problem: Problem, tree: CircuitTree | None = None) -> FloatArray:
    """(chargers,): the current each running session keeps in slot 0 at least [A]; 0 for others.

    Candidates are sessions charging now, present for all of slot 0, on a charger with a
    minimum (``min_current_a > 0``), whose lowest current is within their slot-0 maximum and
    would not fill them within slot 0. When the minimums of all of them hold every slot-0 row
    they all keep it; otherwise they are taken greedily by priority (highest first), then
    departure (earliest first), each only if every slot-0 row still holds with it. Rows are
    checked exactly, without tolerance. A row with a positive lower bound (it asks for current)
    keeps out any candidate that would take from it.
    """
    tree = tree if tree is not None else CircuitTree.build(problem)
    floor = np.zeros(len(problem.chargers))
    candidates = _candidates(problem)
    if not candidates:
        return floor
    order = [i for _, _, i in sorted(candidates)]
    lowest = lowest_currents_a(problem)
    upper, lower = tree.rows_upper[:, 0], tree.rows_lower[:, 0]
    asks = lower > 0.0
    lower = np.where(asks, -np.inf, lower)
    takes = np.zeros(len(floor), dtype=bool)
    if asks.any():
        asking = tree.rows[asks].tocoo()
        takes[asking.col[asking.data < 0]] = True
    order = [i for i in order if not takes[i]]
    floor[order] = lowest[order]
    load = tree.rows @ floor
    if np.all(load <= upper) and np.all(load >= lower):
        return floor
    floor[:] = 0.0
    load = np.zeros(len(upper))
    csc = tree.rows.tocsc()
    for i in order:
        rows = csc.indices[csc.indptr[i] : csc.indptr[i + 1]]
        added = load[rows] + csc.data[csc.indptr[i] : csc.indptr[i + 1]] * lowest[i]
        if np.all(added <= upper[rows]) and np.all(added >= lower[rows]):
            load[rows] = added
            floor[i] = lowest[i]
    return floor


def _candidates(problem: Problem) -> list[tuple[float, float, int]]:
    """(-priority, departure, charger index) of the sessions :func:`minimum_floor_a` considers."""
    on = session_arrays(problem)
    lowest = lowest_currents_a(problem)
    minimum = np.array([c.min_current_a for c in problem.chargers], dtype=float)
    kwh = lowest * kw_per_a(problem) * float(problem.horizon.hours[0])
    eligible = (
        on.charging
        & (minimum > 0)
        & (lowest <= current_bounds_a(problem)[:, 0])
        & (kwh <= on.remaining_kwh)
    )
    chosen = np.flatnonzero(eligible)
    return list(
        zip((-on.priority[chosen]).tolist(), on.departure_s[chosen].tolist(), chosen.tolist(),
            strict=True)
    )  # fmt: skip


def limits_now_a(
    problem: Problem,
    current_now_a: Mapping[str, float] | FloatArray,
    floor_a: FloatArray | None = None,
) -> dict[str, float]:
    """The limit to apply now per charger [A], from a plan's slot-0 currents.

    1. Each current is cut to its session's slot-0 maximum (0 without a car present) and
       quantized down to its charger's steps; below the charger's lowest current it is 0.
    2. Then each charger gets, if every slot-0 row still holds exactly with it, its plan's
       current rounded up to the next step: first the running sessions below their floor
       (``floor_a``, by default :func:`minimum_floor_a`), then the others in order of how much
       rounding cut them, most first. So rounding does not waste capacity. A plan below the
       charger's lowest current rounds up to it only from half of it on (7.6 A on whole amps
       may become 8 A, 3.5 A under a 6 A minimum 6 A, but 2 A stays 0), so a car the plan
       barely wants, or solver noise, does not start a car.
    3. The result passes :func:`~optimizer.circuits.clamp`.

    ``current_now_a`` is a mapping by charger id (missing chargers get 0) or a (chargers,)
    array.
    """
    tree = CircuitTree.build(problem)
    floor = minimum_floor_a(problem, tree) if floor_a is None else floor_a
    bound = current_bounds_a(problem)[:, 0]
    planned = as_current_vector(problem, current_now_a)
    planned = np.clip(np.where(np.isfinite(planned), planned, 0.0), 0.0, bound)
    now = allowed_currents_a(problem, planned, bound)
    steps = charger_steps_a(problem)
    stepped = steps > 0
    safe = np.where(stepped, steps, 1.0)
    up = np.where(stepped, np.ceil((planned - _ON_STEP_A) / safe) * safe, planned)
    lowest = lowest_currents_a(problem)
    up = np.where(planned >= lowest / 2.0, np.maximum(up, lowest), 0.0)
    cut = planned - now
    wanted = np.where(cut > _ON_STEP_A, up, now)
    wanted = allowed_currents_a(problem, np.maximum(wanted, floor), bound)
    gain = wanted - now
    raise_ = np.flatnonzero(gain > 0)
    if len(raise_):
        below_floor = now[raise_] < floor[raise_]
        order = raise_[np.lexsort((raise_, -cut[raise_], ~below_floor))]
        _fill(tree, now, gain, order)
    return clamp(problem, now)


def _fill(
    tree: CircuitTree, now: FloatArray, gain: FloatArray, order: npt.NDArray[np.intp]
) -> None:
    """Add ``gain`` to ``now`` for each charger in ``order`` whose slot-0 rows all still hold.

    Loads are summed up charger by charger here; the checks elsewhere multiply the whole
    matrix, which may round differently by an ulp. So the result is checked that way too, and
    the last additions to a row that then fails are taken back.
    """
    upper_a, lower_a = tree.rows_upper[:, 0], tree.rows_lower[:, 0]
    lower_a = np.where(lower_a > 0.0, -np.inf, lower_a)
    before = tree.rows @ now
    held = (before <= upper_a) & (before >= lower_a)
    upper, lower, load = upper_a.tolist(), lower_a.tolist(), before.tolist()
    csc = tree.rows.tocsc()
    indptr, indices, data = csc.indptr.tolist(), csc.indices.tolist(), csc.data.tolist()
    added_to: list[int] = []
    for i in order.tolist():
        step = float(gain[i])
        column = range(indptr[i], indptr[i + 1])
        added = [load[indices[j]] + data[j] * step for j in column]
        fits = all(
            (value <= upper[indices[j]]) if data[j] > 0 else (value >= lower[indices[j]])
            for value, j in zip(added, column, strict=True)
        )
        if fits:
            for value, j in zip(added, column, strict=True):
                load[indices[j]] = value
            now[i] += step
            added_to.append(i)
    while added_to:
        after = tree.rows @ now
        broken = held & ((after > upper_a) | (after < lower_a))
        if not broken.any():
            return
        rows = set(np.flatnonzero(broken).tolist())
        last = next(i for i in reversed(added_to) if rows & set(_rows_of(indptr, indices, i)))
        added_to.remove(last)
        now[last] -= gain[last]


def _rows_of(indptr: list[int], indices: list[int], i: int) -> list[int]:
    return indices[indptr[i] : indptr[i + 1]]

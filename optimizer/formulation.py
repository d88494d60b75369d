"""The charge-scheduling LP, stated once: both solver paths build exactly this model.

``optimizer.lp_pulp`` writes it readably with PuLP; ``optimizer.lp_highs`` builds the same
matrices with numpy/scipy.sparse for HiGHS. They must agree on the optimal objective within 1e-6
relative, so any change here is a change to both.

Variables
---------
``x[i, t] >= 0``
    per-phase current of charger ``i`` in slot ``t`` [A], only where a session is present for the
    whole slot (:func:`optimizer.circuits.present_mask`); elsewhere 0 and not a variable.
    Upper bound :func:`optimizer.circuits.current_bounds_a` (charger, car and battery-tail limits).
    Lower bound in slot 0 ``floor[i]`` = :func:`optimizer.minimum.minimum_floor_a`, the
    minimum-current rule: a session charging now keeps its lowest accepted current (e.g. 6 A)
    so that it is not paused and resumed. The floors are chosen (greedily, by priority and then
    departure) so that they alone hold every slot-0 row, and only for sessions the minimum would
    not fill within slot 0; so the LP stays feasible whenever zero current is feasible.
``u[s] >= 0``
    energy session ``s`` misses [kWh].
``peak >= tariff.peak_so_far_kw``
    the site's highest EV power over the horizon [kW]; only when the demand charge is not 0.
``0 <= fair <= 1``
    the smallest fraction of what it is owed that any session receives; only with sessions owed
    energy (more than ``FAIR_MIN_OWED_KWH``).

With ``k[i, t] = watts_per_amp(i) * hours[t] / 1000`` [kWh per A] and ``R[s]`` =
:func:`optimizer.evaluate.required_kwh`:

Constraints
-----------
1. Circuits: for every row ``r`` of :class:`optimizer.circuits.CircuitTree` (node phase current,
   node power, extra linear constraint) and slot ``t``:
   ``rows_lower[r, t] <= sum_i rows[r, i] * x[i, t] <= rows_upper[r, t]`` (infinite sides omitted;
   a row with no variable in slot ``t``, no car present below it, is left out: it cannot bind).
2. No more than asked: ``sum_t k[i, t] x[i, t] <= remaining[s]`` for the session ``s`` on ``i``.
3. Owed energy: ``sum_t k[i, t] x[i, t] + u[s] >= R[s]``.
4. Peak: ``sum_i watts_per_amp(i) / 1000 * x[i, t] - peak <= 0`` for every slot ``t``.
5. Fairness: ``R[s] * fair - sum_t k[i, t] x[i, t] <= 0`` for every session with
   ``R[s] > FAIR_MIN_OWED_KWH``.

Objective (minimize), lexicographic by weights
----------------------------------------------
``W.unmet * sum_s priority[s] u[s]``
``+ sum_{i,t} price[t] * k[i, t] x[i, t] + demand_charge_per_kw * peak``   (cost)
``- W.early * sum_{i,t} earliness[i, t] * k[i, t] x[i, t]``               (charge earlier)
``- W.fair * fair``                                                       (share fairly)

with ``earliness[i, t] = 1 - (t + 0.5 + JITTER_SHARE * jitter[i, t]) / slots`` in (0, 1) (by
slot index, so that it does not move between re-plans on the same slot grid): energy is
rewarded a little, early energy more. ``jitter[i, t]`` in [0, 1) is a fixed pseudo-random
number per charger id and slot index (:func:`earliness`): within one slot, chargers whose
energy would cost the same otherwise differ by a tiny, stable amount, never by as much as one
slot's step of earliness. Without it the LP is highly degenerate (every charger in a slot costs
the same per kWh): a warm re-plan after a few cars arrive then took about a thousand dual
simplex iterations at N = 1000, with it about 30.

Guarantee (see :func:`weights`): delivering one more kWh raises the objective by at most
``max price + demand_charge / shortest slot [h]`` (the tie-breakers only reward delivery), and
``W.unmet`` times the smallest priority is ten times that, so no solution ever trades owed energy
for cost or for a tie-breaker: the unmet energy is exactly the minimum possible. The tie-breakers
together move the objective by at most ``W.early * sum(remaining) + W.fair``, which
:func:`weights` keeps to ``TIE_BREAK_SHARE`` (1e-4) of the typical energy cost, so the cost is
optimal up to that.

The tie-breakers must still be seen by the solver: one slot's step of earliness on one ampere
is ``W.early * k / slots``, about 2e-8 of a currency unit at N = 1000 (96 slots of 15 min at
0.27 per kWh), and the jitter a quarter of that, both well above the dual feasibility
tolerance of 1e-10 that both paths set (HiGHS's default 1e-7 would ignore them). Objective
agreement between two solvers is only as good as ``W.unmet`` times their solution precision.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np

from optimizer.evaluate import required_kwh
from optimizer.model import FloatArray, Problem

# Relative size of the tie-breakers against the energy cost of the plan.
TIE_BREAK_SHARE = 1e-4
# How much of one slot's step of earliness the per-charger jitter spans (less than all of it,
# so that earlier energy always beats later energy, whichever the chargers).
JITTER_SHARE = 0.25
_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xBF58476D1CE4E5B9)
_MIX_C = np.uint64(0x94D049BB133111EB)
# Owed energy below this is not owed for the fairness term [kWh]: solvers cannot tell a
# coefficient of 1e-90 from 0, and the fraction of nothing is not worth a tie-breaker.
FAIR_MIN_OWED_KWH = 1e-6
# How many times the largest marginal cost of a kWh one unmet kWh weighs.
UNMET_SAFETY = 10.0


@dataclass(frozen=True, slots=True)
class Weights:
    """Objective weights: per priority-weighted unmet kWh, per kWh-late, per unit of fairness."""

    unmet: float
    early: float
    fair: float


def weights(problem: Problem) -> Weights:
    """Weights that make the objective lexicographic (unmet, then cost, then tie-breakers)."""
    price = np.asarray(problem.tariff.import_price_per_kwh, dtype=float)
    hours = problem.horizon.hours
    owed = sum(s.energy_remaining_kwh for s in problem.sessions)
    mean_price = float(np.abs(price).mean())
    typical_cost = max(mean_price * max(owed, 1.0), 1e-3)
    budget = TIE_BREAK_SHARE * typical_cost
    # Computed directly (not budget / owed): the same problem must give bit-identical weights,
    # or a warm re-solve sees every cost change by one ulp.
    early = TIE_BREAK_SHARE * max(mean_price, 1e-3 / max(owed, 1.0)) / 2.0
    fair = budget / 2.0
    marginal_per_kwh = float(np.abs(price).max()) + problem.tariff.demand_charge_per_kw / float(
        hours.min()
    )
    min_priority = min((s.priority for s in problem.sessions), default=1.0)
    unmet = UNMET_SAFETY * max(marginal_per_kwh, 1e-3) / min_priority + 1.0
    return Weights(unmet=unmet, early=early, fair=fair)


def owed_kwh(problem: Problem) -> dict[str, float]:
    """``R[s]``: the energy each session is owed within the horizon, by session id."""
    return {s.id: required_kwh(problem, s) for s in problem.sessions}


def earliness(problem: Problem) -> FloatArray:
    """(chargers, slots): ``earliness[i, t]``, how early slot ``t`` is, jittered per charger.

    ``1 - (t + 0.5 + JITTER_SHARE * jitter[i, t]) / slots`` with ``jitter[i, t]`` in [0, 1)
    a hash of the charger's id and the slot index: deterministic (the same charger and slot
    give the same number in every re-plan and every process) and unrelated between any two
    chargers and slots, so that moving energy between two chargers across two slots is never a
    tie either.
    """
    return _earliness(tuple(c.id for c in problem.chargers), problem.horizon.slots)


@functools.lru_cache(maxsize=8)
def _earliness(charger_ids: tuple[str, ...], slots: int) -> FloatArray:
    """:func:`earliness` for these chargers and slots (re-plans of a site ask for the same)."""
    seeds = np.array([zlib.crc32(i.encode()) for i in charger_ids], dtype=np.uint64)
    mixed = seeds[:, None] * _MIX_A + np.arange(slots, dtype=np.uint64)[None, :] * _MIX_B
    mixed ^= mixed >> np.uint64(31)  # splitmix64's finalizer
    mixed *= _MIX_C
    mixed ^= mixed >> np.uint64(29)
    jitter = (mixed >> np.uint64(11)).astype(float) / 2.0**53
    base = 1.0 - (np.arange(slots, dtype=float) + 0.5) / slots
    out = np.asarray(base[None, :] - JITTER_SHARE * jitter / slots)
    out.flags.writeable = False
    return out


def slot_earliness(problem: Problem) -> FloatArray:
    """``earliness[t] = 1 - (t + 0.5) / slots``: how early in the horizon each slot lies, in (0, 1).

    By slot index, not by seconds from now: a re-plan seconds later on the same slot grid (the
    first slot shorter, the horizon's end nearer) gives every slot the same earliness, so the
    objective's costs only change where the data do and a warm re-solve keeps its duals.
    """
    slots = problem.horizon.slots
    return np.asarray(1.0 - (np.arange(slots, dtype=float) + 0.5) / slots, dtype=float)

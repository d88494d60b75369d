"""The formulation's LP for HiGHS, built as sparse arrays at once and re-solved warm.

:mod:`optimizer.formulation` states the model; this module builds the same LP with numpy
index arithmetic (no Python loop over (charger, slot) pairs) and keeps the ``Highs`` object
between calls, so that a re-plan seconds later starts from the previous optimal basis.

Layout
------
Columns: ``e[i]``, ``u[i]``, ``peak`` (only with a demand charge) and ``fair`` first, then
``x`` only where a car may draw current (upper bound above 0; ``x_index`` maps each (charger,
slot) to its column or -1). Absent slots are 57 % of all at N = 1000 in the benchmark, and
every column costs HiGHS time on each run even when fixed at 0. Rows: the circuit rows that
have a finite bound in some slot (``r * slots + t``), the peak rows (with a demand charge),
then per charger ``E``, ``D`` and ``F``.

``e[i]`` is the energy charger ``i`` delivers, ``E: e[i] - sum_t k[i, t] x[i, t] = 0``; with it
constraint 2 is the column bound ``e[i] <= remaining``, constraint 3 is
``D: e[i] + u[i] >= R`` and constraint 5 is ``F: R * fair - e[i] <= 0``. This is the
formulation's LP with one auxiliary variable per charger (same feasible ``x``, same objective),
and it keeps the sum over slots in one row instead of three.

Warm start
----------
A departure, or a car leaving a slot, is a bound change (the column stays, fixed at 0). A car
arriving, or any slot that needs a column it does not have, gives that charger fresh columns
at the end (its old ones are fixed at 0). A later call with the same chargers, the same
slot count, the same circuit rows with finite bounds and the same demand-charge presence keeps
the model and changes only what changed: column bounds and costs, row bounds, the ``E``
coefficients (slot durations), the ``fair`` coefficients (owed energy). HiGHS then re-solves
from its previous basis (by default its serial dual simplex). Changing the coefficient of an entry
that exists is cheap; inserting or deleting one in the middle of HiGHS's column-wise matrix
moves every entry after it, so a charger whose circuit coefficients change (a car using fewer
phases than the one before) gets fresh columns appended at the end and its old ones are fixed
at 0. When retired columns pass a quarter of all columns, or anything else differs, the model
is rebuilt cold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from optimizer.baselines import EarliestDeadlineFirst
from optimizer.circuits import CircuitTree, current_bounds_a
from optimizer.evaluate import make_plan, required_by_charger_kwh
from optimizer.formulation import FAIR_MIN_OWED_KWH, earliness, weights
from optimizer.minimum import minimum_floor_a
from optimizer.model import FloatArray, Plan, PlanStatus, Problem, kw_per_a, session_arrays
from optimizer.scheduler import Scheduler, fallback_plan

IntArray = npt.NDArray[np.int64]

# Dual feasibility tolerance, as in optimizer.lp_pulp: the objective's tie-breakers (earliness,
# fairness) weigh about 1e-6 of the energy cost, below HiGHS's default 1e-7, which stops before
# honouring them (two cars short of capacity: one gets everything, the other nothing).
DUAL_TOLERANCE = 1e-10
_SIMPLEX_STRATEGY = {"dual": 1, "dual-sip": 2, "primal": 4}
# warm_simplex "auto" is "dual", HiGHS's serial dual simplex (simplex_strategy 1). With the
# jittered earliness a warm re-plan takes tens of iterations, where threads gain nothing; and
# on a shared 2-core machine the parallel dual simplex ("dual-sip") waits for its threads: the
# same warm re-plans at N = 1000 took 75-225 ms with it and 37-68 ms serially (load 3.5).
# Relative change below which a cost counts as unchanged (rounding noise, not data).
_COST_RTOL = 1e-12
# Rebuild cold once this share of the x columns are retired (fixed at 0 after a re-wiring).
_RETIRED_SHARE = 0.25


@dataclass(frozen=True)
class _Lp:
    """The numbers of one problem's LP; ``key`` says which models it can warm-start."""

    key: tuple[object, ...]
    slots: int
    k: FloatArray  # (chargers, slots) [kWh/A]
    x_lower: FloatArray  # (chargers, slots) [A], the minimum-current floor in slot 0
    x_upper: FloatArray  # (chargers, slots) [A]
    x_cost: FloatArray  # (chargers, slots)
    tree: FloatArray  # (kept rows, chargers), dense
    tree_csc: sp.csc_matrix  # the same, sparse
    kw_per_a: FloatArray  # (chargers,)
    fair_kwh: FloatArray  # (chargers,) R in the fairness row, 0 without one
    other_lower: FloatArray  # e, u, [peak], fair
    other_upper: FloatArray
    other_cost: FloatArray
    row_lower: FloatArray  # every row
    row_upper: FloatArray
    has_peak: bool

    @property
    def chargers(self) -> int:
        return int(self.k.shape[0])

    @property
    def tree_rows(self) -> int:
        return int(self.tree.shape[0])

    @property
    def peak_row0(self) -> int:
        return self.tree_rows * self.slots

    @property
    def e_row0(self) -> int:
        return self.peak_row0 + (self.slots if self.has_peak else 0)

    @property
    def f_row0(self) -> int:
        return self.e_row0 + 2 * self.chargers

    @property
    def fair_col(self) -> int:
        """Index of ``fair``: the columns start with ``e``, ``u``, ``peak`` and end it."""
        return len(self.other_cost) - 1


def _lp(problem: Problem) -> _Lp:
    """The LP of :mod:`optimizer.formulation` as arrays."""
    n, slots = len(problem.chargers), problem.horizon.slots
    tree = CircuitTree.build(problem)
    kept = np.flatnonzero(
        np.isfinite(tree.rows_lower).any(axis=1) | np.isfinite(tree.rows_upper).any(axis=1)
    )
    power = kw_per_a(problem)
    k = power[:, None] * problem.horizon.hours[None, :]
    w = weights(problem)
    price = np.asarray(problem.tariff.import_price_per_kwh, dtype=float)
    x_cost = k * (price[None, :] - w.early * earliness(problem))

    on = session_arrays(problem)
    occupied, remaining, priority = on.occupied, on.remaining_kwh, on.priority
    owed = required_by_charger_kwh(problem)
    demand = problem.tariff.demand_charge_per_kw
    has_peak = demand != 0.0
    peak_lower = [problem.tariff.peak_so_far_kw] if has_peak else []
    other_lower = np.concatenate([np.zeros(2 * n), peak_lower, [0.0]])
    other_upper = np.concatenate(
        [remaining, np.where(occupied, np.inf, 0.0), [np.inf] * has_peak, [1.0]]
    )
    fair_kwh = np.where(owed > FAIR_MIN_OWED_KWH, owed, 0.0)
    fair_cost = -w.fair if (fair_kwh > 0).any() else 0.0
    other_cost = np.concatenate([np.zeros(n), w.unmet * priority, [demand] * has_peak, [fair_cost]])

    rows = tree.rows[kept]
    peak_rows = slots if has_peak else 0
    row_lower = np.concatenate(
        [tree.rows_lower[kept].ravel(), np.full(peak_rows, -np.inf), np.zeros(n), owed,
         np.full(n, -np.inf)]
    )  # fmt: skip
    row_upper = np.concatenate(
        [tree.rows_upper[kept].ravel(), np.zeros(peak_rows), np.zeros(n), np.full(n, np.inf),
         np.zeros(n)]
    )  # fmt: skip
    key = (
        tuple(c.id for c in problem.chargers),
        slots,
        tuple(tree.row_labels[r] for r in kept),
        has_peak,
    )
    x_lower = np.zeros((n, slots))
    x_lower[:, 0] = minimum_floor_a(problem, tree)
    return _Lp(
        key=key,
        slots=slots,
        k=k,
        x_lower=x_lower,
        x_upper=current_bounds_a(problem),
        x_cost=x_cost,
        tree=rows.toarray(),
        tree_csc=sp.csc_matrix(rows),
        kw_per_a=power,
        fair_kwh=fair_kwh,
        other_lower=other_lower,
        other_upper=other_upper,
        other_cost=other_cost,
        row_lower=row_lower,
        row_upper=row_upper,
        has_peak=has_peak,
    )


@dataclass(frozen=True)
class _Columns:
    """Column-wise entries of some columns: ``start`` has one entry per column."""

    start: IntArray
    index: IntArray
    value: FloatArray


def _x_columns(lp: _Lp, chargers: IntArray, mask: npt.NDArray[np.bool_]) -> _Columns:
    """The x columns of ``chargers`` where ``mask`` (chargers, slots) holds, in that order.

    Built by index arithmetic: each charger has a pattern (its circuit rows, the peak row, its
    ``E`` row) that repeats in every slot, the circuit and peak rows shifted by the slot; only
    the ``E`` value changes.
    """
    slots, n = lp.slots, len(chargers)
    csc = lp.tree_csc[:, chargers]
    tree_count = np.diff(csc.indptr)
    owner = np.concatenate(
        [np.repeat(np.arange(n), tree_count), np.arange(n)[: n * lp.has_peak], np.arange(n)]
    )
    base_row = np.concatenate(
        [csc.indices * slots, np.full(n * lp.has_peak, lp.peak_row0), lp.e_row0 + chargers]
    )
    shifts = np.concatenate([np.ones(csc.nnz + n * lp.has_peak), np.zeros(n)]).astype(np.int64)
    fixed_value = np.concatenate([csc.data, lp.kw_per_a[chargers][: n * lp.has_peak], np.zeros(n)])
    order = np.argsort(owner, kind="stable")  # rows come out ascending within each charger
    base_row, shifts, fixed_value = base_row[order], shifts[order], fixed_value[order]
    is_e = shifts == 0

    per_charger = tree_count + lp.has_peak + 1
    pattern_start = np.concatenate([[0], np.cumsum(per_charger)[:-1]])
    per_column = np.repeat(per_charger, slots)
    start = np.concatenate([[0], np.cumsum(per_column)])
    column = np.repeat(np.arange(n * slots), per_column)
    charger, slot = np.divmod(column, slots)
    p = pattern_start[charger] + (np.arange(start[-1]) - start[column])
    energy = -lp.k[chargers].ravel()
    keep = mask.ravel()
    entry = keep[column]
    counts = per_column[keep]
    return _Columns(
        start=(np.cumsum(counts) - counts).astype(np.int64),
        index=(base_row[p] + shifts[p] * slot)[entry],
        value=np.where(is_e[p], energy[column], fixed_value[p])[entry],
    )


def _other_columns(lp: _Lp) -> _Columns:
    """``e``, ``u``, ``peak`` and ``fair``: their entries in the peak, E, D and F rows."""
    n, e0, f0 = lp.chargers, lp.e_row0, lp.f_row0
    ids = np.arange(n)
    e_index = np.stack([e0 + ids, e0 + n + ids, f0 + ids], axis=1).ravel()
    e_value = np.tile([1.0, 1.0, -1.0], n)
    peak_index = lp.peak_row0 + np.arange(lp.slots * lp.has_peak)
    owed = np.flatnonzero(lp.fair_kwh > 0)
    counts = [3] * n + [1] * n + [len(peak_index)] * lp.has_peak + [len(owed)]
    return _Columns(
        start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        index=np.concatenate([e_index, e0 + n + ids, peak_index, f0 + owed]),
        value=np.concatenate([e_value, np.ones(n), -np.ones(len(peak_index)), lp.fair_kwh[owed]]),
    )


@dataclass
class _Model:
    """A loaded ``Highs`` model, the LP it holds and where each x lives."""

    highs: highspy.Highs
    lp: _Lp
    x_index: IntArray  # (chargers, slots): column of each x
    retired: int = 0


@dataclass(frozen=True)
class HighsSolution:
    """What one solve gave: the schedule, the LP objective and how it was reached."""

    current_a: FloatArray | None
    objective: float
    status: str
    warm: bool
    iterations: int
    seconds: float


class HighsScheduler:
    """The formulation's LP solved by HiGHS, warm-started across calls for the same site.

    ``cold_solver`` is the HiGHS ``solver`` option for a fresh model (``"simplex"``, ``"ipm"``,
    ``"choose"``); re-solves of a kept model start from the last basis with ``warm_simplex``
    (``"primal"``, ``"dual"``, ``"dual-sip"`` (parallel dual), or ``"auto"``: ``"dual"``).
    One instance per site: a problem with other chargers or circuits rebuilds the model.
    """

    name = "lp-highs"

    def __init__(
        self,
        time_limit_s: float = 30.0,
        cold_solver: str = "simplex",
        warm_simplex: str = "auto",
        fallback: Scheduler | None = None,
    ) -> None:
        if warm_simplex not in (*_SIMPLEX_STRATEGY, "auto"):
            raise ValueError(f"warm_simplex is one of {sorted([*_SIMPLEX_STRATEGY, 'auto'])}")
        self.time_limit_s = time_limit_s
        self.cold_solver = cold_solver
        self.warm_simplex = warm_simplex
        self.fallback: Scheduler = fallback if fallback is not None else EarliestDeadlineFirst()
        self._model: _Model | None = None

    def plan(self, problem: Problem) -> Plan:
        started = time.perf_counter()
        solution = self.solve(problem)
        elapsed = time.perf_counter() - started
        if solution.current_a is None:
            return fallback_plan(
                self.fallback, problem, f"HiGHS ended with {solution.status}", elapsed
            )
        how = "warm re-solve" if solution.warm else "cold build"
        return make_plan(
            problem,
            solution.current_a,
            status=PlanStatus.OPTIMAL,
            solver=self.name,
            solve_time_s=elapsed,
            notes=(f"{how}, {solution.iterations} simplex iterations",),
        )

    def solve(self, problem: Problem) -> HighsSolution:
        """Solve the LP, warm when the kept model fits; ``current_a`` None when it failed."""
        started = time.perf_counter()
        lp = _lp(problem)
        model = self._model
        warm = model is not None and model.lp.key == lp.key and self._update(model, lp)
        if not warm:
            model = self._model = self._load(lp)
        assert model is not None
        highs = model.highs
        highs.setOptionValue("time_limit", float(self.time_limit_s))
        highs.setOptionValue("solver", "simplex" if warm else self.cold_solver)
        strategy = self.warm_simplex if warm else "dual"
        if strategy == "auto":
            strategy = "dual"
        highs.setOptionValue("simplex_strategy", _SIMPLEX_STRATEGY[strategy])
        # Cost perturbation (about 2e-6 of a cost) is larger than the tie-breakers: cleaning it
        # up afterwards took thousands of primal iterations, warm and cold (N = 1000 cold: 6166
        # iterations with it, 1853 without; N = 5000: 35775, of which 16000 cleaning up).
        highs.setOptionValue("dual_simplex_cost_perturbation_multiplier", 0.0)
        run_status = highs.run()
        status = highs.getModelStatus()
        info = highs.getInfo()
        iterations = int(info.simplex_iteration_count)
        if run_status == highspy.HighsStatus.kError or status != highspy.HighsModelStatus.kOptimal:
            self._model = None  # whatever state HiGHS is in, the next call starts afresh
            return HighsSolution(
                None, float("nan"), highs.modelStatusToString(status), warm, iterations,
                time.perf_counter() - started,
            )  # fmt: skip
        values = np.asarray(highs.getSolution().col_value)
        has_column = model.x_index >= 0
        current_a = np.where(has_column, values[np.where(has_column, model.x_index, 0)], 0.0)
        current_a = np.clip(current_a, lp.x_lower, lp.x_upper)
        return HighsSolution(
            current_a,
            float(info.objective_function_value),
            "optimal",
            warm,
            iterations,
            time.perf_counter() - started,
        )

    def _load(self, lp: _Lp) -> _Model:
        """A fresh model for ``lp`` (a new ``Highs`` object: no stale basis or options)."""
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("dual_feasibility_tolerance", DUAL_TOLERANCE)
        n, slots = lp.chargers, lp.slots
        mask = _needs_column(lp)
        x = _x_columns(lp, np.arange(n), mask)
        other = _other_columns(lp)
        start = np.concatenate([other.start, x.start + len(other.index)])
        index = np.concatenate([other.index, x.index])
        value = np.concatenate([other.value, x.value])
        first_x = len(other.start)
        cols = first_x + len(x.start)
        highs.passModel(
            cols, len(lp.row_lower), len(index), int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize), 0.0,
            np.concatenate([lp.other_cost, lp.x_cost[mask]]),
            np.concatenate([lp.other_lower, lp.x_lower[mask]]),
            np.concatenate([lp.other_upper, lp.x_upper[mask]]),
            lp.row_lower, lp.row_upper,
            start.astype(np.int32), index.astype(np.int32), value, np.zeros(cols, np.int32),
        )  # fmt: skip
        x_index = np.full((n, slots), -1, dtype=np.int64)
        x_index[mask] = first_x + np.arange(cols - first_x)
        return _Model(highs=highs, lp=lp, x_index=x_index)

    def _update(self, model: _Model, lp: _Lp) -> bool:
        """Change the kept model into ``lp``; False when a cold build is the better choice."""
        old, highs = model.lp, model.highs
        x_index = model.x_index
        has_column = x_index >= 0
        rewired = (old.tree != lp.tree).any(axis=0) | (old.kw_per_a != lp.kw_per_a)
        rewired |= (_needs_column(lp) & ~has_column).any(axis=1)  # a slot without a column
        rewired_ids = np.flatnonzero(rewired)
        if len(rewired_ids):
            retiring = int(has_column[rewired_ids].sum())
            if model.retired + retiring > _RETIRED_SHARE * highs.getNumCol():
                return False
            _retire_and_append(model, lp, rewired_ids)
        model.lp = lp
        kept = has_column & ~rewired[:, None]

        changed = kept & ((old.x_upper != lp.x_upper) | (old.x_lower != lp.x_lower))
        _change_bounds(highs, x_index[changed], lp.x_lower[changed], lp.x_upper[changed])
        changed = kept & _differs(old.x_cost, lp.x_cost)
        _change_costs(highs, x_index[changed], lp.x_cost[changed])
        e_row0 = lp.e_row0
        for i, t in zip(*np.nonzero(kept & (old.k != lp.k)), strict=True):
            highs.changeCoeff(int(e_row0 + i), int(x_index[i, t]), float(-lp.k[i, t]))

        changed = np.flatnonzero(
            (old.other_lower != lp.other_lower) | (old.other_upper != lp.other_upper)
        )
        _change_bounds(highs, changed, lp.other_lower[changed], lp.other_upper[changed])
        changed = np.flatnonzero(_differs(old.other_cost, lp.other_cost))
        _change_costs(highs, changed, lp.other_cost[changed])
        changed = np.flatnonzero((old.row_lower != lp.row_lower) | (old.row_upper != lp.row_upper))
        if len(changed):
            highs.changeRowsBounds(  # type: ignore[attr-defined]  # missing from the stubs
                len(changed), changed.astype(np.int32), lp.row_lower[changed], lp.row_upper[changed]
            )
        f_row0, fair_col = lp.f_row0, lp.fair_col
        for i in np.flatnonzero(old.fair_kwh != lp.fair_kwh):
            highs.changeCoeff(int(f_row0 + i), fair_col, float(lp.fair_kwh[i]))
        return True


def _needs_column(lp: _Lp) -> npt.NDArray[np.bool_]:
    """(chargers, slots): where a car may draw current, the only x the model needs."""
    return np.asarray(lp.x_upper > 0.0)


def _retire_and_append(model: _Model, lp: _Lp, chargers: IntArray) -> None:
    """Fix the x columns of ``chargers`` at 0 and give them new columns at the end."""
    highs = model.highs
    old = model.x_index[chargers]
    old = old[old >= 0]
    _change_bounds(highs, old, np.zeros(len(old)), np.zeros(len(old)))
    model.retired += len(old)
    model.x_index[chargers] = -1
    mask = _needs_column(lp)[chargers]
    count = int(mask.sum())
    if not count:
        return
    columns = _x_columns(lp, chargers, mask)
    first = highs.getNumCol()
    highs.addCols(
        count, lp.x_cost[chargers][mask], lp.x_lower[chargers][mask], lp.x_upper[chargers][mask],
        len(columns.index), columns.start.astype(np.int32), columns.index.astype(np.int32),
        columns.value,
    )  # fmt: skip
    index = np.full(mask.shape, -1, dtype=np.int64)
    index[mask] = first + np.arange(count)
    model.x_index[chargers] = index


def _differs(old: FloatArray, new: FloatArray) -> npt.NDArray[np.bool_]:
    """Costs that really changed: the earliness weight is the same number up to rounding in
    :func:`~optimizer.formulation.weights`, and re-sending every cost costs a warm start its
    dual feasibility."""
    return np.abs(old - new) > _COST_RTOL * np.maximum(np.abs(old), np.abs(new))


def _change_bounds(
    highs: highspy.Highs, columns: IntArray, lower: FloatArray, upper: FloatArray
) -> None:
    if len(columns):
        highs.changeColsBounds(len(columns), columns.astype(np.int32), lower, upper)


def _change_costs(highs: highspy.Highs, columns: IntArray, cost: FloatArray) -> None:
    if len(columns):
        highs.changeColsCost(len(columns), columns.astype(np.int32), cost)

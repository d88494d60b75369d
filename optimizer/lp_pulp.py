"""The charge-scheduling LP of :mod:`optimizer.formulation`, written readably with PuLP.

This is the reference: one named variable per decision, one named constraint per rule, in the
order the formulation states them. ``optimizer.lp_highs`` builds the same model as matrices and
must reach the same optimal objective; :func:`objective_value` evaluates that objective for any
schedule, so baselines can be compared with the LP on the LP's own terms.

Solvers: ``"CBC"`` (PuLP's bundled ``PULP_CBC_CMD``, a subprocess) or ``"HiGHS"`` (``highspy``
in process). When the solver does not prove optimality, or takes longer than ``time_limit_s``,
the fallback scheduler's plan is returned with status ``FALLBACK`` and a note saying why.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pulp

from optimizer.baselines import EarliestDeadlineFirst
from optimizer.circuits import CircuitTree, current_bounds_a, present_mask
from optimizer.evaluate import make_plan, site_power_kw
from optimizer.formulation import FAIR_MIN_OWED_KWH, earliness, owed_kwh, weights
from optimizer.minimum import minimum_floor_a
from optimizer.model import FloatArray, Plan, PlanStatus, Problem, Session, watts_per_amp
from optimizer.scheduler import Scheduler, fallback_plan

# A solver value this little above its upper bound, relative to the bound, is rounding and is set
# to the bound: CBC hands its solution over as text with 8 significant digits.
BOUND_SLACK = 1e-7
# Dual feasibility tolerance for both solvers. The tie-breakers of the objective (earliness,
# fairness) move it by about 1e-6 of the energy cost; at the solvers' default 1e-7 CBC stops
# before honouring them (two cars short of capacity: one got all it asked, the other the rest).
DUAL_TOLERANCE = 1e-10

Key = tuple[int, int]  # (charger index, slot)


def _cbc(time_limit_s: float | None) -> pulp.LpSolver:
    with warnings.catch_warnings():
        # PuLP 3.3 announces that PULP_CBC_CMD, the bundled CBC, goes away in PuLP 4.0.
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(
            msg=False, timeLimit=time_limit_s, options=[f"dualTolerance {DUAL_TOLERANCE}"]
        )


def _highs(time_limit_s: float | None) -> pulp.LpSolver:
    return pulp.HiGHS(msg=False, timeLimit=time_limit_s, dual_feasibility_tolerance=DUAL_TOLERANCE)


SOLVERS: dict[str, tuple[str, Callable[[float | None], pulp.LpSolver]]] = {
    "CBC": ("pulp-cbc", _cbc),
    "HiGHS": ("pulp-highs", _highs),
}


def make_solver(solver: str, time_limit_s: float | None = None) -> pulp.LpSolver:
    """The PuLP solver ``"CBC"`` or ``"HiGHS"``, quiet and with the tolerance the LP needs."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}: use one of {sorted(SOLVERS)}")
    return SOLVERS[solver][1](time_limit_s)


def kw_per_a(problem: Problem) -> FloatArray:
    """(chargers,): the power one ampere of per-phase current means on each charger [kW/A]."""
    on = problem.session_on()
    return np.array([watts_per_amp(c, on.get(c.id)) / 1000 for c in problem.chargers])


def kwh_per_a(problem: Problem) -> FloatArray:
    """(chargers, slots): ``k[i, t]``, the energy one ampere delivers in each slot [kWh/A]."""
    return kw_per_a(problem)[:, None] * problem.horizon.hours[None, :]


@dataclass
class LpModel:
    """The PuLP problem and the variables a plan is read from."""

    lp: pulp.LpProblem
    x: dict[Key, pulp.LpVariable]


def _name(*parts: object) -> str:
    """A variable or constraint name; PuLP turns spaces and brackets into underscores."""
    return "_".join(str(p) for p in parts)


def build_model(problem: Problem) -> LpModel:
    """The LP of :mod:`optimizer.formulation` for ``problem``, with every name readable."""
    chargers = problem.chargers
    slots = range(problem.horizon.slots)
    bound_a = current_bounds_a(problem)
    present = present_mask(problem)
    k = kwh_per_a(problem)
    w = weights(problem)
    owed = owed_kwh(problem)
    index = problem.charger_index
    lp = pulp.LpProblem("charge_schedule", pulp.LpMinimize)

    # Variables; a running session keeps its floor in slot 0 (the minimum-current rule).
    floor_a = minimum_floor_a(problem)
    x = {
        (i, t): lp.add_variable(
            _name("x", i, c.id, f"t{t}"), float(floor_a[i]) if t == 0 else 0.0, float(bound_a[i, t])
        )
        for i, c in enumerate(chargers)
        for t in slots
        if present[i, t]
    }
    u = {s.id: lp.add_variable(_name("u", n, s.id), 0.0) for n, s in enumerate(problem.sessions)}
    charge_peak = problem.tariff.demand_charge_per_kw != 0
    peak = lp.add_variable("peak_kw", problem.tariff.peak_so_far_kw) if charge_peak else None
    owing = [s for s in problem.sessions if owed[s.id] > FAIR_MIN_OWED_KWH]
    fair = lp.add_variable("fair", 0.0, 1.0) if owing else None

    def energy(session: Session) -> pulp.LpAffineExpression:
        i = index[session.charger_id]
        return pulp.lpSum(k[i, t] * x[i, t] for t in slots if (i, t) in x)

    # 1. Circuits: every row of the tree, in every slot, on its finite sides.
    tree = CircuitTree.build(problem)
    rows = tree.rows.tocsr()
    for r, label in enumerate(tree.row_labels):
        start, end = rows.indptr[r], rows.indptr[r + 1]
        terms = list(zip(rows.indices[start:end], rows.data[start:end], strict=True))
        for t in slots:
            load = [(x[i, t], float(a)) for i, a in terms if (i, t) in x]
            if not load:
                continue
            flow = pulp.LpAffineExpression(load)
            if np.isfinite(tree.rows_upper[r, t]):
                lp += flow <= float(tree.rows_upper[r, t]), _name(r, label, f"t{t}", "upper")
            if np.isfinite(tree.rows_lower[r, t]):
                lp += flow >= float(tree.rows_lower[r, t]), _name(r, label, f"t{t}", "lower")

    for n, s in enumerate(problem.sessions):
        # 2. No more than asked.
        lp += energy(s) <= s.energy_remaining_kwh, _name("asked", n, s.id)
        # 3. Owed energy, or the shortfall is unmet.
        lp += energy(s) + u[s.id] >= owed[s.id], _name("owed", n, s.id)

    # 4. Peak: the site's EV power in every slot [kW].
    if peak is not None:
        power = kw_per_a(problem)
        for t in slots:
            site_kw = pulp.lpSum(power[i] * x[i, t] for i in range(len(chargers)) if (i, t) in x)
            lp += site_kw - peak <= 0, _name("peak", f"t{t}")

    # 5. Fairness: every owed session receives at least the fraction ``fair`` of what it is owed.
    if fair is not None:
        for n, s in enumerate(owing):
            lp += owed[s.id] * fair - energy(s) <= 0, _name("fair", n, s.id)

    price = problem.tariff.import_price_per_kwh
    early = earliness(problem)
    unmet_term = w.unmet * pulp.lpSum(s.priority * u[s.id] for s in problem.sessions)
    energy_cost = pulp.lpSum(price[t] * k[i, t] * v for (i, t), v in x.items())
    demand_cost = problem.tariff.demand_charge_per_kw * peak if peak is not None else 0.0
    early_reward = w.early * pulp.lpSum(early[i, t] * k[i, t] * v for (i, t), v in x.items())
    fair_reward = w.fair * fair if fair is not None else 0.0
    lp += unmet_term + energy_cost + demand_cost - early_reward - fair_reward, "objective"
    return LpModel(lp=lp, x=x)


def drawn_current_a(problem: Problem, current_a: FloatArray) -> FloatArray:
    """(chargers, slots): what the cars draw under a schedule [A].

    Nothing where no car is present, and a car stops drawing once it has its remaining energy,
    part-way through the slot that fills it: the schedule as constraint 2 of the formulation
    allows it, and the energy :func:`optimizer.evaluate.delivered_kwh` counts.
    """
    k = kwh_per_a(problem)
    drawn = np.where(present_mask(problem), np.asarray(current_a, dtype=float), 0.0)
    energy = k * drawn
    remaining = np.zeros(len(problem.chargers))
    index = problem.charger_index
    for s in problem.sessions:
        remaining[index[s.charger_id]] = s.energy_remaining_kwh
    before = np.cumsum(energy, axis=1) - energy
    taken = np.clip(remaining[:, None] - before, 0.0, energy)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(energy > 0, taken / energy, 0.0)
    return np.asarray(drawn * share, dtype=float)


def objective_value(problem: Problem, current_a: FloatArray) -> float:
    """The formulation's objective for a (chargers, slots) schedule, e.g. a baseline's.

    Evaluated on :func:`drawn_current_a` (cars stop when full), with ``u``, ``peak`` and
    ``fair`` at their best values for those currents: ``u = max(0, R - delivered)``,
    ``peak = max(peak_so_far, highest site power)``, ``fair`` the smallest ``delivered / R``
    over owed sessions, at most 1. For the LP's own schedule this is its optimal objective.
    """
    x = drawn_current_a(problem, current_a)
    w = weights(problem)
    owed = owed_kwh(problem)
    k = kwh_per_a(problem)
    energy = k * x
    index = problem.charger_index
    delivered = {s.id: float(energy[index[s.charger_id]].sum()) for s in problem.sessions}
    tariff = problem.tariff
    price = np.asarray(tariff.import_price_per_kwh, dtype=float)
    site_kw = site_power_kw(problem, x)
    value = w.unmet * sum(
        s.priority * max(0.0, owed[s.id] - delivered[s.id]) for s in problem.sessions
    )
    value += float(np.sum(site_kw * problem.horizon.hours * price))
    if tariff.demand_charge_per_kw != 0:
        value += tariff.demand_charge_per_kw * max(tariff.peak_so_far_kw, float(site_kw.max()))
    value -= w.early * float(np.sum(earliness(problem) * energy))
    fractions = [
        min(1.0, delivered[s.id] / owed[s.id])
        for s in problem.sessions
        if owed[s.id] > FAIR_MIN_OWED_KWH
    ]
    if fractions:
        value -= w.fair * max(0.0, min(fractions))
    return float(value)


class PulpScheduler:
    """The formulation's LP, solved by CBC or HiGHS through PuLP; a baseline when that fails.

    ``time_limit_s`` bounds the solve [s] (None: no limit); a solve that runs past it returns
    the fallback's plan even if the solver finished. ``fallback`` defaults to
    :class:`~optimizer.baselines.EarliestDeadlineFirst`.
    """

    def __init__(
        self,
        solver: str = "CBC",
        time_limit_s: float | None = None,
        fallback: Scheduler | None = None,
    ) -> None:
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}: use one of {sorted(SOLVERS)}")
        if time_limit_s is not None and time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive, or None for no limit")
        self.solver = solver
        self.name = SOLVERS[solver][0]
        self.time_limit_s = time_limit_s
        self.fallback: Scheduler = fallback if fallback is not None else EarliestDeadlineFirst()

    def plan(self, problem: Problem) -> Plan:
        shape = (len(problem.chargers), problem.horizon.slots)
        if not problem.sessions:
            return make_plan(
                problem,
                np.zeros(shape),
                status=PlanStatus.OPTIMAL,
                solver=self.name,
                solve_time_s=0.0,
            )
        started = time.perf_counter()
        model = build_model(problem)
        try:
            model.lp.solve(make_solver(self.solver, self.time_limit_s))
            failure = self._failure(model.lp, time.perf_counter() - started)
        except pulp.PulpSolverError as error:
            failure = f"{self.name} failed: {error}"
        if failure is not None:
            return self._fall_back(problem, failure, started)
        current_a = np.zeros(shape)
        for (i, t), variable in model.x.items():
            current_a[i, t] = variable.varValue or 0.0
        return make_plan(
            problem,
            _snap_to_bounds(current_a, current_bounds_a(problem)),
            status=PlanStatus.OPTIMAL,
            solver=self.name,
            solve_time_s=time.perf_counter() - started,
        )

    def _failure(self, lp: pulp.LpProblem, elapsed_s: float) -> str | None:
        """Why the solve cannot be used, or None when it is optimal and in time."""
        if self.time_limit_s is not None and elapsed_s > self.time_limit_s:
            return f"{self.name} took {elapsed_s:.3f} s, over the limit of {self.time_limit_s} s"
        if lp.status != pulp.LpStatusOptimal or lp.sol_status != pulp.LpSolutionOptimal:
            status = pulp.LpStatus.get(lp.status, str(lp.status))
            return f"{self.name} found no optimal solution (status {status})"
        return None

    def _fall_back(self, problem: Problem, reason: str, started: float) -> Plan:
        return fallback_plan(self.fallback, problem, reason, time.perf_counter() - started)


def _snap_to_bounds(current_a: FloatArray, bound_a: FloatArray) -> FloatArray:
    """Solver noise removed: negatives to 0, a hair above the bound down to the bound."""
    current_a = np.maximum(current_a, 0.0)
    hair = (current_a > bound_a) & (current_a <= bound_a + BOUND_SLACK * np.maximum(bound_a, 1.0))
    return np.where(hair, bound_a, current_a)

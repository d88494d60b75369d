"""The PuLP reference LP: small cases with a known optimum, its fallback, and its invariants."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from optimizer import (
    EarliestDeadlineFirst,
    EqualShare,
    LeastLaxityFirst,
    Scheduler,
    Uncontrolled,
    planned_energy_kwh,
    violations,
)
from optimizer.formulation import owed_kwh, weights
from optimizer.lp_pulp import (
    PulpScheduler,
    build_model,
    drawn_current_a,
    make_solver,
    objective_value,
)
from optimizer.model import LinearConstraint, PlanStatus, Problem, Tariff
from tests.optimizer.factories import car, problem, three_phase
from tests.optimizer.strategies import problems

SOLVERS = ["CBC", "HiGHS"]
BASELINES: list[Scheduler] = [
    Uncontrolled(),
    EqualShare(),
    EarliestDeadlineFirst(),
    LeastLaxityFirst(),
]
# One ampere on a 230 V three-phase charger for one hour [kWh].
KWH_PER_A_H = 0.69
LP_EXAMPLES = settings(max_examples=30, deadline=None)


def close(a: float, b: float, rel: float = 1e-6, slack: float = 0.0) -> bool:
    """Equal within ``rel`` of the larger magnitude (absolutely near zero), plus ``slack``."""
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b)) + slack


def cbc_rounding(problem: Problem) -> float:
    """How far CBC's 8 significant digits can move the objective of its plan.

    PuLP reads CBC's solution from text with 8 significant digits, so a car's energy may be off
    by 5e-8 of it, and every kWh short is weighted ``W.unmet`` times its priority.
    """
    w = weights(problem)
    priority = max((s.priority for s in problem.sessions), default=1.0)
    return 1e-7 * w.unmet * priority * sum(owed_kwh(problem).values())


def with_prices(p: Problem, *prices: float, demand_charge_per_kw: float = 0.0) -> Problem:
    return dataclasses.replace(p, tariff=Tariff(prices, demand_charge_per_kw))


@pytest.mark.parametrize("solver", SOLVERS)
def test_two_cars_with_room_charge_fully_in_the_cheap_slot(solver: str) -> None:
    p = with_prices(
        problem(
            (three_phase("a"), three_phase("b")),
            (car("a", 10.0, departure_s=7200.0), car("b", 10.0, departure_s=7200.0)),
            root_a=(80.0, 80.0, 80.0),
            slots=2,
            slot_s=3600.0,
        ),
        0.10,
        0.30,
    )
    plan = PulpScheduler(solver).plan(p)
    assert plan.status is PlanStatus.OPTIMAL
    assert plan.solver == f"pulp-{solver.lower()}"
    np.testing.assert_allclose(plan.current_a[:, 0], 10.0 / KWH_PER_A_H, rtol=1e-6)
    np.testing.assert_allclose(plan.current_a[:, 1], 0.0, atol=1e-6)
    assert plan.total_unmet_kwh == pytest.approx(0.0, abs=1e-6)
    assert plan.energy_cost == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_short_capacity_is_split_to_give_everyone_the_same_fraction(solver: str) -> None:
    # 16 A for two hours is 22.08 kWh of the 40 kWh asked: each car gets 55.2 % of its ask.
    p = problem(
        (three_phase("a"), three_phase("b")),
        (car("a", 10.0, departure_s=7200.0), car("b", 30.0, departure_s=7200.0)),
        root_a=(16.0, 16.0, 16.0),
        slots=2,
        slot_s=3600.0,
    )
    plan = PulpScheduler(solver).plan(p)
    assert plan.total_unmet_kwh == pytest.approx(40.0 - 22.08, rel=1e-6)
    assert plan.delivered_kwh["s-a"] == pytest.approx(10.0 * 0.552, rel=1e-6)
    assert plan.delivered_kwh["s-b"] == pytest.approx(30.0 * 0.552, rel=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_short_capacity_goes_to_the_higher_priority_car_first(solver: str) -> None:
    p = problem(
        (three_phase("a"), three_phase("b")),
        (
            car("a", 10.0, departure_s=7200.0, priority=2.0),
            car("b", 30.0, departure_s=7200.0),
        ),
        root_a=(16.0, 16.0, 16.0),
        slots=2,
        slot_s=3600.0,
    )
    plan = PulpScheduler(solver).plan(p)
    assert plan.unmet_kwh["s-a"] == pytest.approx(0.0, abs=1e-6)
    assert plan.unmet_kwh["s-b"] == pytest.approx(40.0 - 22.08, rel=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_demand_charge_spreads_charging_to_flatten_the_peak(solver: str) -> None:
    # 10 kWh within one hour: 22.08 kW for 27 minutes without a demand charge, 10 kW with it.
    cars = problem((three_phase("a"),), (car("a", 10.0, departure_s=3600.0),))
    flat = PulpScheduler(solver).plan(cars)
    spread = PulpScheduler(solver).plan(with_prices(cars, *[0.25] * 4, demand_charge_per_kw=10.0))
    assert flat.peak_kw == pytest.approx(32.0 * 3 * 0.230, rel=1e-6)
    assert spread.peak_kw == pytest.approx(10.0, rel=1e-6)
    np.testing.assert_allclose(spread.current_a[0], 10.0 / 22.08 * 32.0, rtol=1e-6)
    assert spread.total_unmet_kwh == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_equal_prices_put_the_energy_in_the_earliest_slots(solver: str) -> None:
    # 5 kWh at 0.69 kW/A for a quarter hour: 28.99 A in the first slot, nothing later.
    p = problem((three_phase("a"),), (car("a", 5.0, departure_s=3600.0),))
    plan = PulpScheduler(solver).plan(p)
    np.testing.assert_allclose(plan.current_a[0], [5.0 / (KWH_PER_A_H / 4), 0, 0, 0], atol=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_departure_beyond_the_horizon_gets_only_its_pro_rata_share(solver: str) -> None:
    # One hour of a four-hour stay: a quarter of 20 kWh is owed, and more would only cost.
    p = problem((three_phase("a"),), (car("a", 20.0, departure_s=4 * 3600.0),))
    plan = PulpScheduler(solver).plan(p)
    assert owed_kwh(p) == {"s-a": pytest.approx(5.0)}
    assert plan.delivered_kwh["s-a"] == pytest.approx(5.0, rel=1e-6)
    assert plan.unmet_kwh["s-a"] == pytest.approx(0.0, abs=1e-6)


def test_problem_without_sessions_gets_an_all_zero_plan() -> None:
    p = problem((three_phase("a"),), ())
    plan = PulpScheduler().plan(p)
    assert plan.status is PlanStatus.OPTIMAL
    np.testing.assert_array_equal(plan.current_a, np.zeros((1, 4)))


def test_infeasible_problem_falls_back_to_the_baseline_with_a_note() -> None:
    # The charger must draw at least 50 A but can draw at most 32 A.
    p = problem(
        (three_phase("a"),),
        (car("a"),),
        constraints=(LinearConstraint("floor", {"a": 1.0}, upper_a=100.0, lower_a=50.0),),
    )
    plan = PulpScheduler().plan(p)
    assert plan.status is PlanStatus.FALLBACK
    assert plan.solver == "edf"
    assert "Infeasible" in plan.notes[-1]
    np.testing.assert_array_equal(plan.current_a, EarliestDeadlineFirst().plan(p).current_a)


@pytest.mark.parametrize("solver", SOLVERS)
def test_solve_over_the_time_limit_falls_back(solver: str) -> None:
    p = problem((three_phase("a"),), (car("a"),))
    plan = PulpScheduler(solver, time_limit_s=1e-9, fallback=EqualShare()).plan(p)
    assert plan.status is PlanStatus.FALLBACK
    assert plan.solver == "equal_share"
    assert "over the limit" in plan.notes[-1]


def test_unknown_solver_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown solver"):
        PulpScheduler("GLPK")


def test_cars_stop_drawing_once_full() -> None:
    p = problem((three_phase("a"),), (car("a", 1.0),))
    # 10 A is 1.725 kWh per quarter hour: the car is full after 58 % of the first slot.
    np.testing.assert_allclose(drawn_current_a(p, np.full((1, 4), 10.0)), [[1 / 0.1725, 0, 0, 0]])


@LP_EXAMPLES
@given(problems())
def test_objective_value_matches_the_solver_objective(problem: Problem) -> None:
    model = build_model(problem)
    model.lp.solve(make_solver("HiGHS"))
    current_a = np.zeros((len(problem.chargers), problem.horizon.slots))
    for (i, t), variable in model.x.items():
        current_a[i, t] = variable.varValue
    assert close(objective_value(problem, current_a), float(model.lp.objective.value() or 0.0))


@LP_EXAMPLES
@given(problems())
def test_lp_breaks_no_limit_and_gives_no_car_more_than_asked(problem: Problem) -> None:
    plan = PulpScheduler().plan(problem)
    assert plan.status is PlanStatus.OPTIMAL
    assert violations(problem, plan.current_a, tol=1e-5) == []
    energy = planned_energy_kwh(problem, plan.current_a).sum(axis=1)
    index = problem.charger_index
    for session in problem.sessions:
        assert energy[index[session.charger_id]] <= session.energy_remaining_kwh + 1e-6


@LP_EXAMPLES
@given(problems())
def test_lp_is_never_worse_than_a_baseline_on_its_objective(problem: Problem) -> None:
    lp = objective_value(problem, PulpScheduler().plan(problem).current_a)
    for baseline in BASELINES:
        other = objective_value(problem, baseline.plan(problem).current_a)
        slack = cbc_rounding(problem)
        assert lp <= other + 1e-6 * max(1.0, abs(other)) + slack, baseline.name


@LP_EXAMPLES
@given(problems())
def test_cbc_and_highs_reach_the_same_objective(problem: Problem) -> None:
    cbc = objective_value(problem, PulpScheduler("CBC").plan(problem).current_a)
    highs = objective_value(problem, PulpScheduler("HiGHS").plan(problem).current_a)
    assert close(cbc, highs, slack=cbc_rounding(problem))

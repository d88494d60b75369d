"""The HiGHS LP: a hand-checked optimum, warm re-solves equal to cold ones, PuLP agreement."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings

from optimizer import EarliestDeadlineFirst, violations
from optimizer.formulation import earliness, weights
from optimizer.lp_highs import HighsScheduler
from optimizer.model import Circuit, PlanStatus, Problem, Session, Tariff
from tests.optimizer.factories import car, problem, three_phase
from tests.optimizer.strategies import problems

LP_EXAMPLES = settings(max_examples=30, deadline=None)
KW_AT_16_A = 16 * 0.69  # a 230 V three-phase charger at 16 A [kW]


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def two_hours(energy_kwh: float) -> Problem:
    """One 11 kW charger, two one-hour slots, the second one cheap."""
    p = problem(
        (three_phase("a", max_current_a=16.0),),
        (car("a", energy_kwh, departure_s=7200.0),),
        slots=2,
        slot_s=3600.0,
    )
    return dataclasses.replace(p, tariff=Tariff((0.40, 0.10)))


def test_small_need_is_charged_in_the_cheap_slot() -> None:
    p = two_hours(5.0)
    plan = HighsScheduler().plan(p)
    assert plan.status is PlanStatus.OPTIMAL
    np.testing.assert_allclose(plan.current_a, [[0.0, 5.0 / 0.69]], atol=1e-7)
    assert plan.unmet_kwh["s-a"] == pytest.approx(0.0, abs=1e-9)
    assert plan.energy_cost == pytest.approx(0.5)


def test_shortfall_is_what_the_charger_cannot_deliver() -> None:
    p = two_hours(30.0)
    scheduler = HighsScheduler()
    solution = scheduler.solve(p)
    assert solution.current_a is not None
    np.testing.assert_allclose(solution.current_a, [[16.0, 16.0]], atol=1e-7)
    unmet = 30.0 - 2 * KW_AT_16_A
    w = weights(p)
    early = earliness(p)  # about 0.75 and 0.25
    expected = (
        w.unmet * unmet
        + KW_AT_16_A * (0.40 + 0.10)
        - w.early * KW_AT_16_A * early.sum()
        - w.fair * (2 * KW_AT_16_A / 30.0)
    )
    assert solution.objective == pytest.approx(expected, rel=1e-9)
    assert scheduler.plan(p).unmet_kwh["s-a"] == pytest.approx(unmet)


def site() -> Problem:
    """Six chargers on two feeders, mixed wiring, a demand charge: room for every change."""
    chargers = (
        three_phase("a", "f1"),
        three_phase("b", "f1", phases=(1, 2, 0), max_current_a=16.0),
        three_phase("c", "f1", phases=(2,)),
        three_phase("d", "f2"),
        three_phase("e", "f2", phases=(0,)),
        three_phase("f", "f2", phases=(2, 0, 1)),
    )
    sessions = (
        car("a", 30.0, departure_s=7200.0),
        car("b", 12.0, departure_s=20000.0, energy_delivered_kwh=3.0),
        car("c", 8.0, departure_s=3600.0),
        car("d", 40.0, departure_s=30000.0, arrival_s=-600.0),
        car("e", 6.0, departure_s=14400.0, arrival_s=1800.0),
    )
    feeders = (
        Circuit("f1", "root", limit_a=(32.0, 32.0, 32.0)),
        Circuit("f2", "root", limit_a=(25.0, 25.0, 25.0), limit_kw=15.0),
    )
    p = problem(
        chargers,
        sessions,
        root_a=(45.0, 45.0, 45.0),
        slots=8,
        circuits=feeders,
        demand_charge_per_kw=5.0,
        peak_so_far_kw=10.0,
    )
    prices = (0.30, 0.30, 0.20, 0.10, 0.10, 0.25, 0.35, 0.35)
    return dataclasses.replace(p, tariff=dataclasses.replace(p.tariff, import_price_per_kwh=prices))


def _sessions(p: Problem, change: Callable[[dict[str, Session]], None]) -> Problem:
    by_charger = {s.charger_id: s for s in p.sessions}
    change(by_charger)
    return dataclasses.replace(p, sessions=tuple(by_charger.values()))


def _bound_change(p: Problem) -> Problem:
    return _sessions(p, lambda on: on.update(a=dataclasses.replace(on["a"], max_current_a=10.0)))


def _energy_change(p: Problem) -> Problem:
    def deliver(on: dict[str, Session]) -> None:
        for key, s in on.items():
            on[key] = dataclasses.replace(s, energy_delivered_kwh=s.energy_delivered_kwh + 0.4)

    return _sessions(p, deliver)


def _arrival_and_departure(p: Problem) -> Problem:
    def swap(on: dict[str, Session]) -> None:
        del on["c"]
        on["f"] = car("f", 25.0, departure_s=9000.0)

    return _sessions(p, swap)


def _single_phase_car_replaces_three_phase_car(p: Problem) -> Problem:
    return _sessions(p, lambda on: on.update(a=car("a", 10.0, departure_s=7200.0, phases_used=1)))


def _capacity_change(p: Problem) -> Problem:
    root, *rest = p.circuits
    root = dataclasses.replace(root, limit_a=(30.0, 38.0, 45.0))
    return dataclasses.replace(p, circuits=(root, *rest))


def _five_seconds_later(p: Problem) -> Problem:
    durations = (p.horizon.durations_s[0] - 5.0, *p.horizon.durations_s[1:])
    moved = tuple(
        dataclasses.replace(s, arrival_s=s.arrival_s - 5.0, departure_s=s.departure_s - 5.0)
        for s in p.sessions
    )
    return dataclasses.replace(
        p, horizon=dataclasses.replace(p.horizon, durations_s=durations), sessions=moved
    )


def _price_change(p: Problem) -> Problem:
    prices = tuple(reversed(p.tariff.import_price_per_kwh))
    return dataclasses.replace(p, tariff=dataclasses.replace(p.tariff, import_price_per_kwh=prices))


CHANGES = [
    _bound_change,
    _energy_change,
    _arrival_and_departure,
    _single_phase_car_replaces_three_phase_car,
    _capacity_change,
    _five_seconds_later,
    _price_change,
]


@pytest.mark.parametrize("warm_simplex", ["primal", "dual"])
@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__.strip("_"))
def test_warm_re_solve_equals_cold_solve_of_the_changed_problem(
    change: Callable[[Problem], Problem], warm_simplex: str
) -> None:
    before, after = site(), change(site())
    scheduler = HighsScheduler(warm_simplex=warm_simplex)
    assert scheduler.solve(before).current_a is not None
    warm = scheduler.solve(after)
    cold = HighsScheduler().solve(after)
    assert warm.warm and not cold.warm
    assert warm.current_a is not None
    assert close(warm.objective, cold.objective, rel=1e-9)
    assert violations(after, warm.current_a, tol=1e-5) == []


def test_a_chain_of_changes_stays_warm_and_optimal() -> None:
    scheduler = HighsScheduler()
    p = site()
    scheduler.solve(p)
    for change in CHANGES:
        p = change(p)
        warm = scheduler.solve(p)
        assert warm.warm
        assert close(warm.objective, HighsScheduler().solve(p).objective, rel=1e-9)


def test_other_chargers_rebuild_the_model_cold() -> None:
    scheduler = HighsScheduler()
    scheduler.solve(site())
    assert not scheduler.solve(two_hours(5.0)).warm


def test_time_limit_falls_back_to_earliest_deadline_first() -> None:
    plan = HighsScheduler(time_limit_s=1e-9).plan(site())
    assert plan.status is PlanStatus.FALLBACK
    assert plan.solver == "edf"
    assert "HiGHS ended with" in plan.notes[-1] and "plan by edf" in plan.notes[-1]
    np.testing.assert_array_equal(plan.current_a, EarliestDeadlineFirst().plan(site()).current_a)


@LP_EXAMPLES
@given(problems())
def test_plans_keep_every_limit(p: Problem) -> None:
    plan = HighsScheduler().plan(p)
    assert violations(p, plan.current_a, tol=1e-5) == []


@LP_EXAMPLES
@given(problems())
def test_objective_agrees_with_the_pulp_model(p: Problem) -> None:
    lp_pulp = pytest.importorskip("optimizer.lp_pulp")
    solution = HighsScheduler().solve(p)
    reference = lp_pulp.PulpScheduler("CBC").plan(p)
    # The strategies' limits are never negative, so zero current is feasible: both solve.
    assert solution.current_a is not None
    assert reference.status is PlanStatus.OPTIMAL
    pulp_objective = lp_pulp.objective_value(p, reference.current_a)
    assert close(solution.objective, pulp_objective)
    assert close(lp_pulp.objective_value(p, solution.current_a), solution.objective)

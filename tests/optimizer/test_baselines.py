"""The four baselines on small cases checked by hand."""

from __future__ import annotations

import numpy as np

from optimizer import (
    EarliestDeadlineFirst,
    EqualShare,
    LeastLaxityFirst,
    Uncontrolled,
    violations,
)
from optimizer.circuits import CircuitTree
from optimizer.model import Charger, Circuit, LinearConstraint, PlanStatus, Problem
from tests.optimizer.factories import car, problem, three_phase


def test_equal_share_splits_a_40a_root_between_two_32a_chargers() -> None:
    p = problem((three_phase("a"), three_phase("b")), (car("a"), car("b")))
    plan = EqualShare().plan(p)
    np.testing.assert_array_equal(plan.current_a, np.full((2, 4), 20.0))
    assert plan.limit_now_a == {"a": 20.0, "b": 20.0}
    assert plan.status is PlanStatus.BASELINE


def test_single_phase_charger_on_l2_shares_that_phase_with_a_three_phase_one() -> None:
    p = problem(
        (Charger("one", "root", phases=(1,)), three_phase("three")),
        (car("one"), car("three")),
        root_a=(16.0, 16.0, 16.0),
    )
    plan = EqualShare().plan(p)
    np.testing.assert_array_equal(plan.current_a[:, 0], [8.0, 8.0])
    load = CircuitTree.build(p).phase_matrix @ plan.current_a[:, 0]
    np.testing.assert_array_equal(load, [8.0, 16.0, 8.0])
    # First come first served: the single-phase car (same arrival, listed first) takes all of L2.
    np.testing.assert_array_equal(Uncontrolled().plan(p).current_a[:, 0], [16.0, 0.0])


def test_equal_share_drops_the_latest_arrival_when_shares_fall_below_minimum() -> None:
    p = problem(
        (three_phase("a"), three_phase("b"), three_phase("c")),
        (car("a"), car("b", arrival_s=-60.0), car("c", arrival_s=-120.0)),
        root_a=(16.0, 16.0, 16.0),
    )
    # 16 / 3 = 5.3 A is below 6 A: the latest arrival (a) waits, b and c get 8 A each.
    np.testing.assert_array_equal(EqualShare().plan(p).current_a[:, 0], [0.0, 8.0, 8.0])


def test_uncontrolled_serves_the_first_arrival_at_full_current() -> None:
    p = problem(
        (three_phase("a"), three_phase("b")),
        (car("a", arrival_s=-60.0), car("b", arrival_s=-600.0)),
    )
    np.testing.assert_array_equal(Uncontrolled().plan(p).current_a[:, 0], [8.0, 32.0])


def test_edf_serves_the_earlier_deadline_first() -> None:
    p = problem(
        (three_phase("late"), three_phase("soon")),
        (car("late", departure_s=7200.0), car("soon", departure_s=3600.0)),
    )
    np.testing.assert_array_equal(EarliestDeadlineFirst().plan(p).current_a[:, 0], [8.0, 32.0])


def test_llf_serves_the_car_with_least_slack_first() -> None:
    # a leaves later but needs much more: 40 kWh at 22.08 kW is 6522 s, slack 678 s;
    # b: 10 kWh is 1630 s, slack 1970 s.
    p = problem(
        (three_phase("a"), three_phase("b")),
        (car("a", 40.0, departure_s=7200.0), car("b", 10.0, departure_s=3600.0)),
    )
    np.testing.assert_array_equal(LeastLaxityFirst().plan(p).current_a[:, 0], [32.0, 8.0])
    np.testing.assert_array_equal(EarliestDeadlineFirst().plan(p).current_a[:, 0], [8.0, 32.0])


def test_charging_stops_when_the_car_is_full() -> None:
    # 16 A three-phase is 11.04 kW, 2.76 kWh per 15 minutes.
    p = problem((three_phase("a", max_current_a=16.0),), (car("a", 5.52),))
    np.testing.assert_array_equal(Uncontrolled().plan(p).current_a[0], [16.0, 16.0, 0.0, 0.0])
    # 0.48 kWh left for slot 2 needs 2.8 A: the minimum 6 A is planned, the car stops when full.
    p = problem((three_phase("a", max_current_a=16.0),), (car("a", 6.0),))
    plan = Uncontrolled().plan(p)
    np.testing.assert_array_equal(plan.current_a[0], [16.0, 16.0, 6.0, 0.0])
    assert plan.delivered_kwh["s-a"] == 6.0
    assert plan.unmet_kwh["s-a"] == 0.0


def test_a_car_charges_only_while_present() -> None:
    p = problem((three_phase("a"),), (car("a", arrival_s=900.0, departure_s=2700.0),))
    for scheduler in (Uncontrolled(), EqualShare(), EarliestDeadlineFirst(), LeastLaxityFirst()):
        np.testing.assert_array_equal(scheduler.plan(p).current_a[0], [0.0, 32.0, 32.0, 0.0])


def test_greedy_checks_mixed_sign_constraints_both_ways() -> None:
    extra = LinearConstraint("ab", {"a": 1.0, "b": -1.0}, upper_a=5.0, lower_a=-5.0)
    p = problem(
        (three_phase("a"), three_phase("b")),
        (car("a", departure_s=3600.0), car("b")),
        root_a=(63.0, 63.0, 63.0),
        constraints=(extra,),
    )
    # a first: only 5 A above b's 0, so 0 (below 6 A); then b: at most 5 A above a's 0, so 0.
    np.testing.assert_array_equal(EarliestDeadlineFirst().plan(p).current_a[:, 0], [0.0, 0.0])
    # Rising together keeps a - b at 0: both reach 31.5 A under the 63 A root, 31 A on whole
    # amps, and the top-up gives the spare amp to the first arrival (a).
    equal = EqualShare().plan(p)
    np.testing.assert_array_equal(equal.current_a[:, 0], [32.0, 31.0])
    assert violations(p, equal.current_a) == []


def test_nested_limits_and_time_varying_root_hold_in_every_slot() -> None:
    root = Circuit("root", limit_a_by_slot=((40.0,) * 3, (20.0,) * 3, (0.0,) * 3, (63.0,) * 3))
    cab = Circuit("cab", "root", limit_a=(16.0, 16.0, 16.0), limit_kw=7.0)
    base = problem((three_phase("c"),), (car("c"),))
    p = Problem(
        base.horizon,
        (three_phase("a", "cab"), three_phase("b", "cab"), three_phase("c")),
        (car("a"), car("b"), car("c")),
        (root, cab),
        base.tariff,
    )
    for scheduler in (Uncontrolled(), EqualShare(), EarliestDeadlineFirst(), LeastLaxityFirst()):
        plan = scheduler.plan(p)
        assert violations(p, plan.current_a) == [], scheduler.name
        assert plan.current_a[:, 2].sum() == 0.0
    # cab: 7 kW is 10.1 A three-phase, so a single car at 10 A; root: c takes the rest.
    np.testing.assert_array_equal(EqualShare().plan(p).current_a[:, 0], [10.0, 0.0, 30.0])

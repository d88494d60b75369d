"""Plan figures computed by hand: energy, unmet energy, cost, peak and demand charge."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import EarliestDeadlineFirst, make_plan, site_power_kw
from optimizer.model import PlanStatus
from tests.optimizer.factories import car, problem, three_phase


def test_unmet_energy_is_what_is_missing_at_a_departure_within_the_horizon() -> None:
    # 16 A three-phase for one hour is 11.04 kWh of the 20 kWh asked.
    p = problem((three_phase("a", max_current_a=16.0),), (car("a", 20.0, departure_s=3600.0),))
    plan = EarliestDeadlineFirst().plan(p)
    assert plan.delivered_kwh["s-a"] == pytest.approx(11.04)
    assert plan.unmet_kwh["s-a"] == pytest.approx(8.96)


def test_departure_beyond_the_horizon_counts_only_the_pro_rata_share() -> None:
    # One hour of a four-hour stay: the plan owes a quarter of 20 kWh.
    p = problem((three_phase("a"),), (car("a", 20.0, departure_s=4 * 3600.0),))
    idle = make_plan(p, np.zeros((1, 4)), status=PlanStatus.BASELINE, solver="t", solve_time_s=0.0)
    assert idle.unmet_kwh["s-a"] == pytest.approx(5.0)
    half = make_plan(
        p, np.full((1, 4), 4.0), status=PlanStatus.BASELINE, solver="t", solve_time_s=0
    )
    assert half.unmet_kwh["s-a"] == pytest.approx(5.0 - 2.76)
    assert EarliestDeadlineFirst().plan(p).unmet_kwh["s-a"] == 0.0


def test_delivered_energy_is_capped_at_what_the_car_still_wants() -> None:
    p = problem((three_phase("a"),), (car("a", 10.0, energy_delivered_kwh=7.0),))
    plan = make_plan(
        p, np.full((1, 4), 32.0), status=PlanStatus.OPTIMAL, solver="t", solve_time_s=0
    )
    assert plan.delivered_kwh["s-a"] == 3.0
    assert plan.unmet_kwh["s-a"] == 0.0


def test_cost_peak_and_demand_charge_above_the_peak_so_far() -> None:
    p = problem(
        (three_phase("a"), three_phase("b")),
        (car("a"), car("b")),
        slots=2,
        slot_s=3600.0,
        price=0.30,
        demand_charge_per_kw=10.0,
        peak_so_far_kw=5.0,
    )
    schedule = np.array([[10.0, 0.0], [0.0, 20.0]])
    np.testing.assert_allclose(site_power_kw(p, schedule), [6.9, 13.8])
    plan = make_plan(p, schedule, status=PlanStatus.OPTIMAL, solver="t", solve_time_s=0.5)
    assert plan.energy_cost == pytest.approx((6.9 + 13.8) * 0.30)
    assert plan.peak_kw == pytest.approx(13.8)
    assert plan.demand_charge == pytest.approx(10.0 * (13.8 - 5.0))
    np.testing.assert_allclose(plan.power_w, [[6900.0, 0.0], [0.0, 13800.0]])
    below = problem(
        (three_phase("a"),), (car("a"),), demand_charge_per_kw=10.0, peak_so_far_kw=20.0
    )
    assert (
        make_plan(
            below, np.full((1, 4), 16.0), status=PlanStatus.OPTIMAL, solver="t", solve_time_s=0
        ).demand_charge
        == 0.0
    )


def test_limit_now_is_the_first_slot_passed_through_the_clamp() -> None:
    p = problem((three_phase("a"), three_phase("b")), (car("a"), car("b")))
    schedule = np.array([[31.6, 0.0, 0.0, 0.0], [31.6, 0.0, 0.0, 0.0]])
    plan = make_plan(p, schedule, status=PlanStatus.OPTIMAL, solver="t", solve_time_s=0)
    assert plan.limit_now_a == {"a": 20.0, "b": 20.0}


def test_make_plan_rejects_a_schedule_of_the_wrong_shape() -> None:
    p = problem((three_phase("a"),), (car("a"),))
    with pytest.raises(ValueError, match="expected"):
        make_plan(p, np.zeros((2, 4)), status=PlanStatus.OPTIMAL, solver="t", solve_time_s=0)

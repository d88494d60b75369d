"""The minimum-current rule: running cars keep their minimum, limits sent now waste nothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import (
    EarliestDeadlineFirst,
    EqualShare,
    LeastLaxityFirst,
    Scheduler,
    Uncontrolled,
    current_bounds_a,
    violations,
)
from optimizer.circuits import CircuitTree
from optimizer.lp_highs import HighsScheduler
from optimizer.lp_pulp import PulpScheduler
from optimizer.minimum import limits_now_a, lowest_currents_a, minimum_floor_a
from optimizer.model import Charger, Problem, Tariff, watts_per_amp
from tests.optimizer.factories import car, problem, three_phase
from tests.optimizer.helpers import on_steps_and_min, slot0_rows_hold_exactly
from tests.optimizer.strategies import problems

SCHEDULERS: list[Scheduler] = [
    HighsScheduler(),
    PulpScheduler("HiGHS"),
    Uncontrolled(),
    EqualShare(),
    EarliestDeadlineFirst(),
    LeastLaxityFirst(),
]
EXAMPLES = settings(max_examples=40, deadline=None)


def three_running_cars(priority_c: float = 1.0) -> Problem:
    """Three running cars at 6 A minimum under a 16 A root; c leaves last."""
    return problem(
        (three_phase("a"), three_phase("b"), three_phase("c")),
        (
            car("a", departure_s=3600.0, charging=True),
            car("b", departure_s=7200.0, charging=True),
            car("c", departure_s=36000.0, charging=True, priority=priority_c),
        ),
        root_a=(16.0, 16.0, 16.0),
    )


def test_two_of_three_running_cars_keep_their_minimum_under_16a() -> None:
    p = three_running_cars()
    assert minimum_floor_a(p).tolist() == [6.0, 6.0, 0.0]
    for scheduler in SCHEDULERS:
        now = scheduler.plan(p).limit_now_a
        assert now["a"] >= 6.0 and now["b"] >= 6.0, scheduler.name
        assert now["c"] == 0.0, scheduler.name  # 4 A are left, below its minimum
        assert sum(now.values()) <= 16.0, scheduler.name


def test_the_higher_priority_car_keeps_its_minimum_first() -> None:
    p = three_running_cars(priority_c=2.0)
    assert minimum_floor_a(p).tolist() == [6.0, 0.0, 6.0]
    now = HighsScheduler().plan(p).limit_now_a
    assert now["a"] >= 6.0 and now["c"] >= 6.0 and now["b"] == 0.0


def test_a_running_car_is_not_paused_when_later_energy_is_cheaper() -> None:
    # Without the rule the LP would charge the car only in the cheap last slot.
    running = problem((three_phase("a"),), (car("a", 5.0, departure_s=3600.0, charging=True),))
    p = dataclasses.replace(running, tariff=Tariff((0.40, 0.40, 0.40, 0.10)))
    idle = dataclasses.replace(p, sessions=(car("a", 5.0, departure_s=3600.0),))
    for scheduler in (HighsScheduler(), PulpScheduler("CBC")):
        assert scheduler.plan(idle).limit_now_a["a"] == 0.0
        plan = scheduler.plan(p)
        assert plan.limit_now_a["a"] == 6.0
        assert plan.current_a[0, 0] == pytest.approx(6.0)


def test_rounding_gives_the_freed_capacity_back_to_the_chargers_cut_most() -> None:
    p = problem((three_phase("a"), three_phase("b")), (car("a"), car("b")), root_a=(15.2,) * 3)
    # 7.6 + 7.6 rounds to 7 + 7; the 1.2 A freed raise one of them (the first on a tie) by 1 A.
    assert limits_now_a(p, np.array([7.6, 7.6])) == {"a": 8.0, "b": 7.0}
    assert limits_now_a(p, np.array([7.3, 7.9])) == {"a": 7.0, "b": 8.0}
    # Below the minimum after rounding (5.5 -> 0), a gets 6 A back first: it was cut most.
    wide = problem((three_phase("a"), three_phase("b")), (car("a"), car("b")), root_a=(16.0,) * 3)
    assert limits_now_a(wide, np.array([5.5, 9.7])) == {"a": 6.0, "b": 10.0}
    assert limits_now_a(wide, np.array([5.5, 10.5])) == {"a": 6.0, "b": 10.0}
    # 3.5 A rounds up to the 6 A minimum only where 6 A fit: not beside 12 A under 16 A.
    assert limits_now_a(wide, np.array([3.5, 12.5])) == {"a": 0.0, "b": 13.0}


def test_a_paused_car_starts_only_when_it_can_get_its_minimum() -> None:
    p = problem((three_phase("a"), three_phase("b")), (car("a"), car("b")), root_a=(20.0,) * 3)
    assert limits_now_a(p, np.array([4.0, 14.0])) == {"a": 6.0, "b": 14.0}
    assert limits_now_a(p, np.array([4.0, 15.0])) == {"a": 0.0, "b": 15.0}
    assert limits_now_a(p, np.array([2.0, 10.0])) == {"a": 0.0, "b": 10.0}  # under half of 6 A


def test_a_car_in_its_battery_tail_keeps_its_minimum() -> None:
    # Drawing 2 A under a 32 A limit: planned at 3 A would pause it; it gets its 6 A minimum.
    tail = car("a", 20.0, charging=True, measured_power_w=2 * 690.0, applied_limit_a=32.0)
    p = problem((three_phase("a"), three_phase("b")), (tail, car("b")), root_a=(32.0,) * 3)
    assert current_bounds_a(p)[0, 0] == 6.0
    now = HighsScheduler().plan(p).limit_now_a
    assert now == {"a": 6.0, "b": 26.0}


def test_a_nearly_full_running_car_gets_its_minimum_now_when_there_is_room() -> None:
    # 0.5 kWh left is less than 6 A delivers in the first 15 minutes (1.035 kWh): no floor in
    # the plan, but the limit sent now keeps it charging.
    full = car("a", 10.0, energy_delivered_kwh=9.5, charging=True)
    p = problem((three_phase("a"), three_phase("b")), (full, car("b")), root_a=(40.0,) * 3)
    assert minimum_floor_a(p).tolist() == [0.0, 0.0]
    assert limits_now_a(p, np.array([0.0, 32.0]), floor_a=np.array([6.0, 0.0])) == {
        "a": 6.0,
        "b": 32.0,
    }


def test_steps_coarser_than_the_minimum_keep_the_next_step_above_it() -> None:
    charger = Charger("a", "root", min_current_a=6.0, current_step_a=4.0)
    assert charger.lowest_current_a == 8.0
    p = problem((charger,), (car("a", charging=True),), root_a=(10.0,) * 3)
    assert lowest_currents_a(p).tolist() == [8.0]
    assert HighsScheduler().plan(p).limit_now_a == {"a": 8.0}


def _all_minimums_fit(p: Problem) -> tuple[list[int], bool]:
    """Charging sessions eligible for a floor, and whether their minimums fit together."""
    bound = current_bounds_a(p)[:, 0]
    lowest = lowest_currents_a(p)
    index = p.charger_index
    hours = p.horizon.hours[0]
    chosen = []
    for s in p.sessions:
        i = index[s.charger_id]
        charger = p.chargers[i]
        kwh = lowest[i] * watts_per_amp(charger, s) * hours / 1000.0
        if (
            s.charging
            and charger.min_current_a > 0
            and lowest[i] <= bound[i]
            and kwh <= s.energy_remaining_kwh
        ):
            chosen.append(i)
    vector = np.zeros(len(p.chargers))
    vector[chosen] = lowest[chosen]
    tree = CircuitTree.build(p)
    load = tree.rows @ vector
    lower = np.where(tree.rows_lower[:, 0] > 0, -np.inf, tree.rows_lower[:, 0])
    fits = bool(np.all(load <= tree.rows_upper[:, 0]) and np.all(load >= lower))
    takes = (tree.rows[tree.rows_lower[:, 0] > 0].toarray() < 0).any(axis=0)
    return chosen, fits and not takes[chosen].any()


@EXAMPLES
@given(problems(), st.data())
def test_limits_sent_now_hold_every_row_and_are_on_steps(p: Problem, data: st.DataObject) -> None:
    n = len(p.chargers)
    wanted = np.array(data.draw(st.lists(st.floats(-5, 60), min_size=n, max_size=n)))
    limits = limits_now_a(p, wanted)
    now = np.array([limits[c.id] for c in p.chargers])
    assert slot0_rows_hold_exactly(p, now) == []
    assert on_steps_and_min(p, now[:, None]) == []
    assert np.all(now >= 0) and np.all(now <= current_bounds_a(p)[:, 0])


@pytest.mark.parametrize("scheduler", SCHEDULERS, ids=lambda s: s.name)
@EXAMPLES
@given(p=problems())
def test_running_cars_keep_their_minimum_whenever_all_minimums_fit(
    scheduler: Scheduler, p: Problem
) -> None:
    plan = scheduler.plan(p)
    assert violations(p, plan.current_a, tol=1e-5) == []
    now = np.array([plan.limit_now_a[c.id] for c in p.chargers])
    assert slot0_rows_hold_exactly(p, now) == []
    assert on_steps_and_min(p, now[:, None]) == []
    chosen, fits = _all_minimums_fit(p)
    if fits:
        lowest = lowest_currents_a(p)
        assert np.all(now[chosen] >= lowest[chosen]), plan.notes

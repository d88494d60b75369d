"""Invariants every baseline and the clamp keep on random valid problems."""

from __future__ import annotations

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
    clamp,
    current_bounds_a,
    planned_energy_kwh,
    violations,
)
from optimizer.model import PlanStatus, Problem
from tests.optimizer.helpers import on_steps_and_min, slot0_rows_hold_exactly
from tests.optimizer.strategies import problems

SCHEDULERS: list[Scheduler] = [
    Uncontrolled(),
    EqualShare(),
    EarliestDeadlineFirst(),
    LeastLaxityFirst(),
]
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(problems())
def test_generated_problems_are_feasible_at_zero(problem: Problem) -> None:
    assert violations(problem, np.zeros((len(problem.chargers), problem.horizon.slots))) == []


@pytest.mark.parametrize("scheduler", SCHEDULERS, ids=lambda s: s.name)
@FAST
@given(problem=problems())
def test_baseline_plans_break_no_limit_and_respect_steps(
    scheduler: Scheduler, problem: Problem
) -> None:
    plan = scheduler.plan(problem)
    assert plan.status is PlanStatus.BASELINE
    assert plan.solver == scheduler.name
    assert violations(problem, plan.current_a) == []
    assert on_steps_and_min(problem, plan.current_a) == []
    now = np.array([plan.limit_now_a[c.id] for c in problem.chargers])
    assert slot0_rows_hold_exactly(problem, now) == []


@pytest.mark.parametrize("scheduler", SCHEDULERS, ids=lambda s: s.name)
@FAST
@given(problem=problems())
def test_baseline_stops_charging_a_car_once_it_is_full(
    scheduler: Scheduler, problem: Problem
) -> None:
    plan = scheduler.plan(problem)
    energy = planned_energy_kwh(problem, plan.current_a)
    index = problem.charger_index
    for session in problem.sessions:
        row = energy[index[session.charger_id]]
        charging = np.flatnonzero(row > 0)
        before_last = row[: charging[-1]].sum() if len(charging) else 0.0
        assert before_last < session.energy_remaining_kwh + 1e-9
        assert plan.delivered_kwh[session.id] <= session.energy_remaining_kwh + 1e-9
        assert plan.unmet_kwh[session.id] >= 0


@FAST
@given(problem=problems(), data=st.data())
def test_clamp_meets_every_slot0_limit_exactly(problem: Problem, data: st.DataObject) -> None:
    wanted = data.draw(
        st.lists(
            st.floats(-10, 80, allow_nan=False),
            min_size=len(problem.chargers),
            max_size=len(problem.chargers),
        )
    )
    clamped = clamp(problem, np.array(wanted))
    now = np.array([clamped[c.id] for c in problem.chargers])
    assert slot0_rows_hold_exactly(problem, now) == []
    assert on_steps_and_min(problem, now[:, None]) == []
    assert np.all(now >= 0)
    assert np.all(now <= current_bounds_a(problem)[:, 0])
    assert np.all(now <= np.maximum(np.array(wanted), 0.0) + 1e-9)
    schedule = np.zeros((len(problem.chargers), problem.horizon.slots))
    schedule[:, 0] = now
    assert violations(problem, schedule, tol=0.0) == []

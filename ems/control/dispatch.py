"""Which limits leave ems after a plan, and in what order.

A limit is sent when it is new, when it moved by at least the deadband (or to or from 0), or
when the one in force is about to expire; otherwise the charger keeps the one it has. Because
kept limits and new ones then mix, the mix itself (the limits that will be in force) passes the
final clamp against the circuit tree, and any charger the clamp cuts gets the cut value sent
too: nothing in force ever exceeds a limit, even for one cycle. Decreases go out before
increases (:func:`split_decreases`), so that capacity is freed before it is taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from ems.control.interface import ActiveSession, ChargerView, LimitCommand
from optimizer.circuits import clamp
from optimizer.model import Problem, loaded_phases, watts_per_amp

# A limit expiring within this many control intervals is renewed.
REFRESH_INTERVALS = 2.0
_EPSILON_A = 1e-6


def decide(
    problem: Problem,
    limits_a: Mapping[str, float],
    sessions: Sequence[ActiveSession],
    chargers: Mapping[str, ChargerView],
    now: datetime,
    *,
    deadband_a: float,
    validity_s: float,
    interval_s: float,
) -> list[LimitCommand]:
    """The limits to send now, given the plan's ``limits_a`` (by charger key) and what is in force.

    Sessions on chargers that are missing from ``problem`` or not controllable get nothing.
    """
    index = problem.charger_index
    on = problem.session_on()
    valid_until = now + timedelta(seconds=validity_s)
    refresh_before = now + timedelta(seconds=REFRESH_INTERVALS * interval_s)
    active = [
        s
        for s in sessions
        if s.key in index and s.key in on and chargers.get(s.key, _NONE).controllable
    ]
    wanted: dict[str, tuple[float, str]] = {}
    in_force: dict[str, float] = {}
    for session in active:
        view = chargers.get(session.key, _NONE)
        new = float(limits_a.get(session.key, 0.0))
        old = view.applied_limit_a
        if old is None:
            wanted[session.key] = (new, "new")
            continue
        in_force[session.key] = old
        crossed_zero = (old <= _EPSILON_A) != (new <= _EPSILON_A)
        if crossed_zero or abs(new - old) >= deadband_a - _EPSILON_A:
            wanted[session.key] = (new, "change")
        elif view.limit_valid_until is None or view.limit_valid_until <= refresh_before:
            wanted[session.key] = (old, "refresh")
    effective = {**in_force, **{key: value for key, (value, _) in wanted.items()}}
    safe = clamp(problem, effective)
    for key, value in effective.items():
        if safe[key] < value - _EPSILON_A:
            wanted[key] = (safe[key], "clamp")
    commands = []
    for session in active:
        if session.key not in wanted:
            continue
        limit_a, reason = wanted[session.key]
        charger = problem.chargers[index[session.key]]
        problem_session = on[session.key]
        commands.append(
            LimitCommand(
                key=session.key,
                session_id=session.session_id,
                transaction_id=session.transaction_id,
                limit_a=limit_a,
                limit_w=limit_a * watts_per_amp(charger, problem_session),
                number_phases=len(loaded_phases(charger, problem_session)),
                valid_until=valid_until,
                reason=reason,
            )
        )
    return commands


_NONE = ChargerView(key="", online=False, controllable=False)


def split_decreases(
    commands: Sequence[LimitCommand], chargers: Mapping[str, ChargerView]
) -> tuple[list[LimitCommand], list[LimitCommand]]:
    """``(decreases, the rest)``: limits lower than the one in force go first."""
    first: list[LimitCommand] = []
    then: list[LimitCommand] = []
    for command in commands:
        old = chargers.get(command.key, _NONE).applied_limit_a
        (first if old is not None and command.limit_a < old else then).append(command)
    return first, then

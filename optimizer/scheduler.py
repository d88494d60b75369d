"""The one interface every scheduler implements, LP or baseline."""

from __future__ import annotations

import dataclasses
import time
from typing import Protocol

from optimizer.model import Plan, PlanStatus, Problem


class Scheduler(Protocol):
    """Turns a problem into a plan; never does I/O and never raises on a valid problem."""

    name: str

    def plan(self, problem: Problem) -> Plan:
        """A plan for ``problem`` whose every limit holds (see ``optimizer.circuits``)."""
        ...


def fallback_plan(fallback: Scheduler, problem: Problem, reason: str, elapsed_s: float) -> Plan:
    """``fallback``'s plan, marked as a fallback, for when an LP failed or ran out of time.

    ``elapsed_s`` is the time spent on the failed attempt; the fallback's own time is added.
    """
    started = time.perf_counter()
    plan = fallback.plan(problem)
    return dataclasses.replace(
        plan,
        status=PlanStatus.FALLBACK,
        solve_time_s=elapsed_s + time.perf_counter() - started,
        notes=(*plan.notes, f"{reason}; plan by {fallback.name}"),
    )

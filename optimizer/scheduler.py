"""The one interface every scheduler implements, LP or baseline."""

from __future__ import annotations

from typing import Protocol

from optimizer.model import Plan, Problem


class Scheduler(Protocol):
    """Turns a problem into a plan; never does I/O and never raises on a valid problem."""

    name: str

    def plan(self, problem: Problem) -> Plan:
        """A plan for ``problem`` whose every limit holds (see ``optimizer.circuits``)."""
        ...

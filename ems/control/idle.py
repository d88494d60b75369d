"""Cars that stop taking what they are offered: full, or paused by the car itself.

A car that draws (almost) nothing while its limit would let it charge does not need that limit;
held at the charger's minimum it would still take a share of the site's capacity (and the
minimum-current rule would keep it there). :class:`IdleTracker` remembers since when each
session has been idle, from the measurements the live site and the replay take anyway;
:func:`ems.control.problem.build_problem` then plans it nothing, except for a short probe now
and then in case it wants to charge again.
"""

from __future__ import annotations

from datetime import datetime

# A car drawing less than this per phase under a limit it could use is idle [A].
IDLE_CURRENT_A = 0.5


class IdleTracker:
    """Since when each session has drawn nothing under a limit it could have used."""

    def __init__(self) -> None:
        self._since: dict[str, datetime] = {}

    def observe(
        self,
        session_id: str,
        measured_at: datetime,
        current_a: float | None,
        limit_a: float | None,
        lowest_current_a: float,
    ) -> datetime | None:
        """Take one measurement (made under ``limit_a``); return since when the car is idle.

        Only a measurement under a limit of at least the charger's lowest current says
        anything: under 0 A (paused by ems) a car cannot show whether it wants to charge.
        """
        if current_a is None or limit_a is None:
            return self._since.get(session_id)
        if current_a >= IDLE_CURRENT_A:
            self._since.pop(session_id, None)
        elif limit_a >= max(lowest_current_a, IDLE_CURRENT_A):
            self._since.setdefault(session_id, measured_at)
        return self._since.get(session_id)

    def since(self, session_id: str) -> datetime | None:
        return self._since.get(session_id)

    def forget(self, session_id: str) -> None:
        self._since.pop(session_id, None)

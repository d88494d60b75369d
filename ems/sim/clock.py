"""Clocks for the simulator: wall time, or simulated time running ``speed`` times faster.

A clock is a callable returning a timezone-aware UTC datetime (the same ``Clock`` type the
central system takes), plus ``await clock.sleep(sim_seconds)``. Giving the CSMS and the
simulator the same :class:`SimClock` lets a demo or a test run a day in minutes while both sides
agree on what time it is.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class SleepingClock(Protocol):
    """What the simulator needs from a clock: the time now and a sleep in simulated seconds."""

    def __call__(self) -> datetime: ...

    async def sleep(self, sim_s: float) -> None: ...

    async def sleep_until(self, at: datetime) -> None: ...


class SimClock:
    """Simulated time: ``start`` at creation, then ``speed`` simulated seconds per wall second.

    ``SimClock(speed=1.0)`` without a start is the wall clock. The clock is monotonic (it is
    driven by ``time.monotonic``), so a wall-clock adjustment cannot make it jump.
    """

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if start is None:
            start = datetime.now(UTC)
        elif start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC inside the system)")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._wall0_s = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._wall0_s) * self.speed)

    def elapsed_s(self) -> float:
        """Simulated seconds since ``start``."""
        return (time.monotonic() - self._wall0_s) * self.speed

    async def sleep(self, sim_s: float) -> None:
        """Sleep ``sim_s`` simulated seconds, i.e. ``sim_s / speed`` wall seconds."""
        await asyncio.sleep(max(0.0, sim_s) / self.speed)

    async def sleep_until(self, at: datetime) -> None:
        """Sleep until simulated time ``at`` (at once if it has passed)."""
        await self.sleep((at - self()).total_seconds())

    def wall_s(self, sim_s: float) -> float:
        """Wall seconds that ``sim_s`` simulated seconds take (for network timeouts)."""
        return sim_s / self.speed

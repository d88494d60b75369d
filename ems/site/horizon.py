"""The optimizer's time slots, on a grid fixed in UTC so that re-plans share it.

A plan made at 10:07:31 and one made five seconds later must put their slot edges at the same
instants, or the second re-plan cannot reuse the first's work (and the plans jump). So every edge
after the first sits on a multiple of its slot length counted from the Unix epoch (00:00 UTC):
the first slot runs from now to the next edge of the finest grid, then come the shorter
``first_slots_s`` (each ending on its own grid), then ``slot_s`` slots up to the first edge at or
after ``now + horizon_s``. A first slot shorter than ``min_first_s`` (the control interval) is
merged with the next one: its limit would be out of date before it was applied.

Example, ``slot_s`` 900, ``first_slots_s`` (300, 300), now 10:07:30: 10:07:30-10:10,
10:10-10:15, 10:15-10:20, 10:20-10:30, 10:30-10:45, ...
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000


def _us(seconds: float) -> int:
    return round(seconds * _US)


def _next_edge_us(t_us: int, grid_us: int) -> int:
    """The first multiple of ``grid_us`` strictly after ``t_us``."""
    return (t_us // grid_us + 1) * grid_us


def slot_edges(
    now: datetime,
    horizon_s: float,
    slot_s: float,
    first_slots_s: Sequence[float] = (),
    min_first_s: float = 0.0,
) -> tuple[list[datetime], list[float]]:
    """Slot starts (aware UTC, the first one ``now``) and durations [s] (see the module doc)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if slot_s <= 0 or horizon_s <= 0 or any(d <= 0 for d in first_slots_s):
        raise ValueError("slot lengths and the horizon must be positive")
    now = now.astimezone(UTC)
    delta = now - _EPOCH
    now_us = (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds
    end_us = now_us + _us(horizon_s)
    grid0_us = _us(first_slots_s[0] if first_slots_s else slot_s)
    edge = _next_edge_us(now_us, grid0_us)
    if edge - now_us < _us(min_first_s):
        edge += grid0_us
    edges = [now_us, edge]
    for length_s in first_slots_s:
        if edges[-1] >= end_us:
            break
        edges.append(_next_edge_us(edges[-1], _us(length_s)))
    while edges[-1] < end_us:
        edges.append(_next_edge_us(edges[-1], _us(slot_s)))
    starts = [now] + [_EPOCH + timedelta(microseconds=e) for e in edges[1:-1]]
    durations = [(b - a) / _US for a, b in itertools.pairwise(edges)]
    return starts, durations

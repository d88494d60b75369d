"""Slots on a UTC grid shared by re-plans seconds apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ems.site import slot_edges


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 6, 4, hour, minute, second, tzinfo=UTC)


def test_first_slot_runs_to_the_next_edge_then_first_slots_then_slot_s() -> None:
    starts, durations = slot_edges(at(10, 7, 30), 3600, 900, (300, 300))
    assert starts[:5] == [at(10, 7, 30), at(10, 10), at(10, 15), at(10, 20), at(10, 30)]
    assert durations[:5] == [150.0, 300.0, 300.0, 600.0, 900.0]
    assert starts[-1] + timedelta(seconds=durations[-1]) == at(11, 15)  # first edge >= now + 1 h


def test_re_plans_seconds_apart_share_every_edge_after_the_first() -> None:
    first, _ = slot_edges(at(10, 7, 30), 24 * 3600, 900, (300, 300, 300))
    later, _ = slot_edges(at(10, 7, 35), 24 * 3600, 900, (300, 300, 300))
    assert first[1:] == later[1:]


def test_a_first_slot_shorter_than_the_interval_merges_with_the_next() -> None:
    starts, durations = slot_edges(at(10, 14, 58), 3600, 900, min_first_s=5)
    assert (starts[1], durations[0]) == (at(10, 30), 902.0)


def test_edges_are_utc_and_input_in_any_zone_is_the_same_instant() -> None:
    local = at(10, 7, 30).astimezone(ZoneInfo("Asia/Kolkata"))  # +05:30
    starts, _ = slot_edges(local, 3600, 900)
    assert starts[0] == at(10, 7, 30) and all(s.tzinfo is UTC for s in starts)
    assert starts[1] == at(10, 15)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        slot_edges(datetime(2024, 6, 4, 10), 3600, 900)

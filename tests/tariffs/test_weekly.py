"""Local time-of-day windows as exact UTC segments, across both clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ems.tariffs.weekly import (
    WeeklySchedule,
    Window,
    offset_changes,
    overlaps,
    parse_clock_min,
    parse_days,
)

AMS = ZoneInfo("Europe/Amsterdam")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def night_and_peak() -> WeeklySchedule:
    return WeeklySchedule(
        [
            Window(parse_clock_min("23:00"), parse_clock_min("07:00")),
            Window(parse_clock_min("17:00"), parse_clock_min("21:00"), parse_days(["mon"])),
        ],
        AMS,
    )


def test_window_past_midnight_covers_the_early_morning_of_the_next_day() -> None:
    schedule = night_and_peak()
    assert schedule.window_at(utc(2024, 6, 4, 4, 59)) == 0  # 06:59 local
    assert schedule.window_at(utc(2024, 6, 4, 5, 0)) is None  # 07:00 local
    assert schedule.window_at(utc(2024, 6, 3, 15, 0)) == 1  # Monday 17:00 local
    assert schedule.window_at(utc(2024, 6, 4, 15, 0)) is None  # Tuesday: no peak


def test_night_is_seven_real_hours_when_clocks_go_forward() -> None:
    segments = night_and_peak().segments(utc(2024, 3, 30, 21), utc(2024, 3, 31, 6))
    night = [s for s in segments if s.window == 0]
    assert [(s.start, s.end) for s in night] == [(utc(2024, 3, 30, 22), utc(2024, 3, 31, 5))]


def test_night_is_nine_real_hours_when_clocks_go_back() -> None:
    segments = night_and_peak().segments(utc(2024, 10, 26, 20), utc(2024, 10, 27, 7))
    night = [s for s in segments if s.window == 0]
    assert [(s.start, s.end) for s in night] == [(utc(2024, 10, 26, 21), utc(2024, 10, 27, 6))]
    assert night[0].duration_s == 9 * 3600


def test_a_window_inside_the_repeated_hour_happens_twice() -> None:
    schedule = WeeklySchedule([Window(parse_clock_min("02:30"), parse_clock_min("03:00"))], AMS)
    inside = [
        s
        for s in schedule.segments(utc(2024, 10, 26, 22), utc(2024, 10, 27, 4))
        if s.window == 0
    ]
    assert [(s.start, s.end) for s in inside] == [
        (utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1)),  # 02:30-03:00 summer time
        (utc(2024, 10, 27, 1, 30), utc(2024, 10, 27, 2)),  # 02:30-03:00 winter time
    ]


def test_a_window_inside_the_skipped_hour_never_happens() -> None:
    schedule = WeeklySchedule([Window(parse_clock_min("02:30"), parse_clock_min("03:00"))], AMS)
    segments = schedule.segments(utc(2024, 3, 30, 22), utc(2024, 3, 31, 4))
    assert [s.window for s in segments] == [None]


def test_offset_changes_are_found_to_the_second() -> None:
    changes = list(offset_changes(utc(2024, 1, 1), utc(2025, 1, 1), AMS))
    assert changes == [utc(2024, 3, 31, 1), utc(2024, 10, 27, 1)]


def test_overlapping_windows_are_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"windows 0 and 1 overlap on mon at 06:00"):
        WeeklySchedule(
            [
                Window(parse_clock_min("22:00"), parse_clock_min("07:00")),
                Window(parse_clock_min("06:00"), parse_clock_min("09:00")),
            ],
            AMS,
        )


@pytest.mark.parametrize("text", ["7:00", "24:01", "12:60", "noon", ""])
def test_clock_times_must_be_hh_mm(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock_min(text)


def test_day_names_are_checked() -> None:
    assert parse_days(["Mon", "sunday"]) == frozenset({0, 6})
    with pytest.raises(ValueError, match="'funday' is not a day"):
        parse_days(["funday"])


def test_overlaps_split_uneven_slots_at_segment_edges() -> None:
    schedule = night_and_peak()
    start = utc(2024, 6, 3, 14, 45)  # Monday 16:45 local
    durations = [300.0, 1800.0, 3600.0]
    starts = [start, start + timedelta(seconds=300), start + timedelta(seconds=2100)]
    segments = schedule.segments(start, start + timedelta(seconds=sum(durations)))
    pieces = overlaps(segments, starts, durations)
    assert [[(s, seg.window) for s, seg in slot] for slot in pieces] == [
        [(300.0, None)],
        [(600.0, None), (1200.0, 1)],
        [(3600.0, 1)],
    ]

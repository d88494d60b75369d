"""Calendar periods in a site's time zone, range checks and the parsing of range bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ems.stats.intervals import merge, split_on_edges, split_on_grid
from ems.stats.periods import Period, parse_instant, parse_period_label, period_spans

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_days_follow_local_midnight_and_the_dst_day_lasts_25_hours() -> None:
    start, _, _ = parse_period_label("2026-10-24", AMSTERDAM)
    end = parse_instant("2026-10-26", AMSTERDAM, "to")
    spans = period_spans(start, end, Period.DAY, AMSTERDAM)
    assert [s.label for s in spans] == ["2026-10-24", "2026-10-25"]
    assert spans[0].start == datetime(2026, 10, 23, 22, tzinfo=UTC)
    assert [s.duration_s / 3600 for s in spans] == [24, 25]


def test_weeks_start_on_monday_and_months_on_the_first_clipped_to_the_range() -> None:
    start = parse_instant("2026-10-07", AMSTERDAM, "from")  # a Wednesday
    end = parse_instant("2026-11-03", AMSTERDAM, "to")
    weeks = period_spans(start, end, Period.WEEK, AMSTERDAM)
    assert [w.label for w in weeks] == ["2026-W41", "2026-W42", "2026-W43", "2026-W44", "2026-W45"]
    assert weeks[0].start == start  # clipped: the week began on Monday the 5th
    assert weeks[1].start == datetime(2026, 10, 11, 22, tzinfo=UTC)
    months = period_spans(start, end, Period.MONTH, AMSTERDAM)
    assert [(m.label, m.end) for m in months] == [
        ("2026-10", datetime(2026, 10, 31, 23, tzinfo=UTC)),
        ("2026-11", end),
    ]


def test_a_month_label_is_the_local_calendar_month() -> None:
    start, end, by = parse_period_label("2026-10", AMSTERDAM)
    assert (start, end, by) == (
        datetime(2026, 9, 30, 22, tzinfo=UTC),
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        Period.DAY,
    )
    assert parse_period_label("2026-W41", AMSTERDAM)[0] == datetime(2026, 10, 4, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "has no month 13"),
        ("October", "is not a month (2026-10), ISO week"),
        ("2026-W60", "is not an ISO week"),
    ],
)
def test_bad_period_labels_say_which_forms_are_understood(text: str, message: str) -> None:
    with pytest.raises(
        ValueError, match=r"^period: .*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_period_label(text, AMSTERDAM)


def test_range_bounds_must_be_aware_ordered_and_on_the_quarter_hour() -> None:
    assert parse_instant("2026-10-05T10:15:00Z", AMSTERDAM, "from") == datetime(
        2026, 10, 5, 10, 15, tzinfo=UTC
    )
    with pytest.raises(ValueError, match=r"^from: .* has no offset"):
        parse_instant("2026-10-05T10:15:00", AMSTERDAM, "from")
    with pytest.raises(ValueError, match=r"^to: 'soon' is neither a date"):
        parse_instant("soon", AMSTERDAM, "to")
    start = datetime(2026, 10, 5, 10, 7, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"^from: .* is not on a quarter hour"):
        period_spans(start, start.replace(hour=12, minute=0), Period.DAY, AMSTERDAM)
    with pytest.raises(ValueError, match=r"^to \(.*\) must be after from"):
        period_spans(start.replace(minute=0), start.replace(minute=0), Period.DAY, AMSTERDAM)


def test_grid_split_spreads_an_interval_by_time_and_keeps_instants_whole() -> None:
    pieces = split_on_grid([600.0, 950.0], [2100.0, 950.0], 900)
    assert pieces.row.tolist() == [0, 0, 0, 1]
    assert pieces.part.tolist() == [0, 1, 2, 1]
    assert pieces.overlap_s.tolist() == [300, 900, 300, 0]
    assert pieces.share.tolist() == pytest.approx([0.2, 0.6, 0.2, 1.0])


def test_edge_split_drops_what_lies_outside_and_merge_joins_overlaps() -> None:
    pieces = split_on_edges([-50.0, 90.0, 300.0], [50.0, 120.0, 400.0], [0.0, 100.0, 200.0])
    assert list(zip(pieces.row, pieces.part, pieces.overlap_s, strict=True)) == [
        (0, 0, 50.0),
        (1, 0, 10.0),
        (1, 1, 20.0),
    ]
    lo, hi = merge(np.array([10.0, 0.0, 30.0, 12.0]), np.array([20.0, 10.0, 40.0, 15.0]))
    assert lo.tolist() == [0.0, 30.0] and hi.tolist() == [20.0, 40.0]

"""Calendar periods (day, week, month) in a site's time zone, as exact UTC edges.

A period starts at local midnight: a day at 00:00, an ISO week at Monday 00:00, a month on its
first day at 00:00, in the zone given (DST included: a local day lasts 23, 24 or 25 hours). Edges
are aware UTC datetimes; a range ``[start, end)`` that does not begin or end on a period edge
gives a shorter first or last period (clipped to the range).

Every statistic is computed on a grid of :data:`BUCKET_S` (15-minute) UTC intervals, so range
bounds must fall on a quarter hour; local midnights do in every time zone in use today (UTC
offsets are whole quarter hours).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The statistics' grid: energy, cost and peak power are resolved to 15-minute intervals [s].
BUCKET_S = 900
#: The longest range one statistics request may cover [days].
MAX_RANGE_DAYS = 3700

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class Period(enum.StrEnum):
    """The calendar unit statistics are broken down by."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class PeriodSpan:
    """One period of a breakdown: ``[start, end)`` in UTC and its local label.

    Labels: ``2026-10-05`` (day), ``2026-W41`` (ISO week), ``2026-10`` (month).
    """

    label: str
    start: datetime
    end: datetime

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant of 00:00 local time on ``day`` (the first instant of the day at DST)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _period_start(day: date, period: Period) -> date:
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def _next_start(day: date, period: Period) -> date:
    if period is Period.DAY:
        return day + timedelta(days=1)
    if period is Period.WEEK:
        return day + timedelta(days=7)
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _label(day: date, period: Period) -> str:
    if period is Period.DAY:
        return day.isoformat()
    if period is Period.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def period_spans(start: datetime, end: datetime, period: Period, tz: ZoneInfo) -> list[PeriodSpan]:
    """The periods that cover ``[start, end)`` (aware datetimes), the first and last clipped."""
    check_range(start, end)
    spans: list[PeriodSpan] = []
    day = _period_start(start.astimezone(tz).date(), period)
    while True:
        following = _next_start(day, period)
        span_start, span_end = local_midnight(day, tz), local_midnight(following, tz)
        if span_start >= end:
            break
        if span_end > start:
            spans.append(
                PeriodSpan(_label(day, period), max(span_start, start), min(span_end, end))
            )
        day = following
    return spans


def check_range(start: datetime, end: datetime) -> None:
    """ValueError unless ``start < end`` are aware, on the 15-minute grid, and not too far apart.

    The messages name ``from`` and ``to``, the query parameters that carry them.
    """
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise ValueError(f"{name}: give a time zone offset (or a date), e.g. 2026-10-01")
        if value.timestamp() % BUCKET_S:
            raise ValueError(
                f"{name}: {value.isoformat()} is not on a quarter hour (:00, :15, :30 or :45)"
            )
    if end <= start:
        raise ValueError(f"to ({end.isoformat()}) must be after from ({start.isoformat()})")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise ValueError(f"from/to: at most {MAX_RANGE_DAYS} days at once")


def parse_instant(text: str, tz: ZoneInfo, name: str) -> datetime:
    """A range bound: a date (``2026-10-01``: local midnight in ``tz``) or an ISO 8601 time with
    an offset. Returns aware UTC; ValueError naming ``name`` otherwise."""
    text = text.strip()
    try:
        if len(text) == 10:
            return local_midnight(date.fromisoformat(text), tz)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name}: {text!r} is neither a date (2026-10-01) nor an ISO 8601 time with an offset"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"{name}: {text!r} has no offset; add one (+02:00, Z) or give a date")
    return value.astimezone(UTC)


def parse_period_label(text: str, tz: ZoneInfo) -> tuple[datetime, datetime, Period]:
    """``2026-10`` (a month), ``2026-W41`` (an ISO week) or ``2026-10-05`` (a day) in ``tz``.

    Returns ``(start, end, natural breakdown)``: days for a month or week, the day itself for a
    day. ValueError saying which forms are understood otherwise.
    """
    text = text.strip()
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"period: {text!r} has no month {month}")
        first = date(year, month, 1)
        return (
            local_midnight(first, tz),
            local_midnight(_next_start(first, Period.MONTH), tz),
            Period.DAY,
        )
    if match := _WEEK.match(text):
        try:
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise ValueError(f"period: {text!r} is not an ISO week") from None
        return (
            local_midnight(monday, tz),
            local_midnight(monday + timedelta(days=7), tz),
            (Period.DAY),
        )
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"period: {text!r} is not a month (2026-10), ISO week (2026-W41) or day (2026-10-05)"
        ) from None
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz), Period.DAY

"""Windows of local time of day and day of week, turned into exact UTC segments.

A time-of-use tariff's periods and a grid connection's daytime capacity are both "from 07:00 to
19:00 on weekdays, local time". :class:`WeeklySchedule` holds such windows for one time zone and
answers two questions: which window holds at an instant (:meth:`WeeklySchedule.window_at`), and
how an interval of UTC time splits into pieces of constant window (:meth:`WeeklySchedule.segments`).

Local time is the wall clock of the zone (``zoneinfo``): on the day clocks go forward the skipped
hour never happens, and on the day they go back the repeated hour is passed through twice, each
time under the window its wall-clock time falls in. Segment edges are the instants the wall clock
reaches a window boundary plus the instants of the clock changes themselves, so both are exact.

Nomenclature: minutes of the week count from Monday 00:00 (0) to Sunday 24:00 (10080); days are
0 (Monday) to 6 (Sunday), as ``datetime.weekday()``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = frozenset(range(7))
S = TypeVar("S", bound="Span")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_clock_min(text: str) -> int:
    """Minutes after midnight of ``"HH:MM"`` (``"24:00"`` is the end of the day).

    Raises ValueError naming the expected form.
    """
    match = _CLOCK.match(text)
    minutes = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not match or minutes > MINUTES_PER_DAY:
        raise ValueError(f"{text!r} is not a time of day as 'HH:MM' (00:00 to 24:00)")
    return minutes


def parse_days(names: Sequence[str]) -> frozenset[int]:
    """Day numbers (Monday 0) of names such as ``["mon", "tue"]``."""
    days: set[int] = set()
    for name in names:
        key = name.strip().lower()[:3]
        if key not in DAY_NAMES:
            raise ValueError(f"{name!r} is not a day of the week (mon, tue, ..., sun)")
        days.add(DAY_NAMES.index(key))
    if not days:
        raise ValueError("list at least one day, or leave days out for every day")
    return frozenset(days)


def ensure_utc(t: datetime, name: str = "time") -> datetime:
    """``t`` in UTC; a naive datetime is refused because its instant is unknown."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {t.isoformat()}")
    return t.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """Local time ``from_min`` to ``to_min`` (minutes after midnight) on ``days``.

    A window whose end is not after its start runs past midnight into the next day
    (``23:00``-``07:00``); ``days`` are the days it starts on.
    """

    from_min: int
    to_min: int
    days: frozenset[int] = ALL_DAYS

    def __post_init__(self) -> None:
        if not (0 <= self.from_min < MINUTES_PER_DAY and 0 <= self.to_min <= MINUTES_PER_DAY):
            raise ValueError("window times must lie within the day")
        if self.from_min == self.to_min:
            raise ValueError("a window needs from != to (use 00:00 to 24:00 for a whole day)")

    def week_minutes(self) -> Iterator[int]:
        """Every minute of the week the window covers."""
        end = self.to_min if self.to_min > self.from_min else self.to_min + MINUTES_PER_DAY
        for day in sorted(self.days):
            first = day * MINUTES_PER_DAY
            for minute in range(first + self.from_min, first + end):
                yield minute % MINUTES_PER_WEEK


@dataclass(frozen=True, slots=True)
class Segment:
    """``[start, end)`` in UTC during which window ``window`` holds (None: no window)."""

    start: datetime
    end: datetime
    window: int | None

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


class WeeklySchedule:
    """Non-overlapping weekly windows in one time zone; outside them, no window holds.

    Raises ValueError when two windows overlap, naming both by their index.
    """

    def __init__(self, windows: Sequence[Window], timezone: ZoneInfo) -> None:
        self.windows = tuple(windows)
        self.timezone = timezone
        table = [-1] * MINUTES_PER_WEEK
        for index, window in enumerate(self.windows):
            for minute in window.week_minutes():
                if table[minute] >= 0:
                    day, clock = divmod(minute, MINUTES_PER_DAY)
                    raise ValueError(
                        f"windows {table[minute]} and {index} overlap on "
                        f"{DAY_NAMES[day]} at {clock // 60:02d}:{clock % 60:02d}"
                    )
                table[minute] = index
        self._table = table
        # Minutes of the day at which the window changes, per weekday.
        self._edges: list[list[int]] = [[] for _ in range(7)]
        for minute in range(MINUTES_PER_WEEK):
            if table[minute] != table[minute - 1]:
                day, clock = divmod(minute, MINUTES_PER_DAY)
                self._edges[day].append(clock)

    def uncovered_minute(self) -> int | None:
        """The first minute of the week no window covers, or None when they cover it all."""
        return next((m for m, index in enumerate(self._table) if index < 0), None)

    def window_at(self, t: datetime) -> int | None:
        """Index of the window holding at instant ``t`` (aware), or None."""
        local = ensure_utc(t).astimezone(self.timezone)
        index = self._table[local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute]
        return None if index < 0 else index

    def segments(self, start: datetime, end: datetime) -> list[Segment]:
        """``[start, end)`` cut where the window changes; adjacent equal pieces are merged."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        if end <= start:
            return []
        cuts = [c for c in self._edge_instants(start, end) if start < c < end]
        edges = [start, *sorted(set(cuts)), end]
        out: list[Segment] = []
        for left, right in itertools.pairwise(edges):
            window = self.window_at(left)
            if out and out[-1].window == window:
                out[-1] = Segment(out[-1].start, right, window)
            else:
                out.append(Segment(left, right, window))
        return out

    def _edge_instants(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Instants at which the wall clock reaches an edge, and the zone's clock changes."""
        first = start.astimezone(self.timezone).date() - timedelta(days=1)
        last = end.astimezone(self.timezone).date() + timedelta(days=1)
        day: date = first
        while day <= last:
            for clock in self._edges[day.weekday()]:
                wall = datetime.combine(day, time(clock // 60, clock % 60))
                yield from _instants_of_wall(wall, self.timezone)
            day += timedelta(days=1)
        yield from offset_changes(start, end, self.timezone)


def _instants_of_wall(wall: datetime, zone: ZoneInfo) -> Iterator[datetime]:
    """The UTC instants at which the zone's wall clock shows ``wall``: none, one or two."""
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            yield instant


def offset_changes(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[datetime]:
    """Instants in ``(start, end)`` at which the zone's UTC offset changes.

    Zones change offset on whole seconds, so a search over whole seconds finds them exactly.
    """

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, zone).utcoffset()

    first, last = math.floor(start.timestamp()), math.ceil(end.timestamp())
    left = first
    while left < last:
        right = min(left + 3600, last)
        if offset(left) != offset(right):
            low, high = left, right  # offset(low) differs from offset(high)
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            change = datetime.fromtimestamp(high, UTC)
            if start < change < end:
                yield change
        left = right


class Span(Protocol):
    """Anything that covers ``[start, end)`` in UTC."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


def overlaps(
    spans: Sequence[S], slot_starts: Sequence[datetime], durations_s: Sequence[float]
) -> list[list[tuple[float, S]]]:
    """Per slot, the (seconds inside the slot, span) pairs of the spans that overlap it.

    ``spans`` must be in order and not overlap each other (as :meth:`WeeklySchedule.segments`
    and the price pieces are); time no span covers is left out.
    """
    starts = [s.start for s in spans]
    out: list[list[tuple[float, S]]] = []
    for slot_start, duration_s in zip(slot_starts, durations_s, strict=True):
        begin = ensure_utc(slot_start, "slot start")
        finish = begin + timedelta(seconds=duration_s)
        k = max(0, bisect.bisect_right(starts, begin) - 1)
        pieces: list[tuple[float, S]] = []
        while k < len(spans) and spans[k].start < finish:
            left, right = max(begin, spans[k].start), min(finish, spans[k].end)
            if right > left:
                pieces.append(((right - left).total_seconds(), spans[k]))
            k += 1
        out.append(pieces)
    return out

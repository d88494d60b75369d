"""One recorded charging session, a loaded file of them, and the errors a bad file gives.

Every loader in :mod:`ems.datasets` turns its format into :class:`SessionRecord` s: times are
timezone-aware UTC, energies in kWh. A loader returns :class:`SessionData`, which holds the
sessions and, when the loader was told ``strict=False``, the rows it skipped and why.

Exceptions::

    ValueError
     └── DatasetError        a file that cannot be read at all, or (strict) its first bad row
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path


class DatasetError(ValueError):
    """A session file that cannot be loaded; the message names the file and, for a row, the line."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A charging session as recorded: who plugged in where, when, and how much energy flowed.

    ``energy_requested_kwh`` is what the driver asked for; when the driver gave nothing (ACN-Data's
    unclaimed sessions) it is the energy delivered, the convention of ACN-Data and acnportal.
    ``estimated_departure`` is the departure the driver announced, None when they announced none.
    ``id_token`` identifies the driver (an RFID tag, ACN-Data's ``userID``), None when unknown.
    ``max_power_kw`` is the car's own charging limit when known.
    """

    session_id: str
    station_id: str
    arrival: datetime
    departure: datetime
    energy_requested_kwh: float
    energy_delivered_kwh: float
    estimated_departure: datetime | None = None
    id_token: str | None = None
    max_power_kw: float | None = None

    def __post_init__(self) -> None:
        if not self.session_id:
            raise ValueError("session_id: must not be empty")
        if not self.station_id:
            raise ValueError("station_id: must not be empty")
        for name in ("arrival", "departure", "estimated_departure"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() != timedelta(0)):
                raise ValueError(f"{name}: must be a timezone-aware UTC datetime, got {value!r}")
        if self.departure <= self.arrival:
            raise ValueError(
                f"departure: {self.departure.isoformat()} is not after "
                f"arrival {self.arrival.isoformat()}"
            )
        for name in ("energy_requested_kwh", "energy_delivered_kwh"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
        if self.max_power_kw is not None and not (
            math.isfinite(self.max_power_kw) and self.max_power_kw > 0
        ):
            raise ValueError(f"max_power_kw: must be a positive number, got {self.max_power_kw!r}")
        if self.id_token == "":
            raise ValueError("id_token: use None for an unknown driver, not an empty string")

    @property
    def duration_h(self) -> float:
        """Time plugged in [h]."""
        return (self.departure - self.arrival).total_seconds() / 3600.0


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row a lenient loader skipped: where it is (``line`` in the file, 1-based) and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class SessionData:
    """The sessions read from one file, in file order, and the rows skipped (``strict=False``).

    Iterating and ``len()`` go over the sessions.
    """

    source: str
    format: str
    sessions: tuple[SessionRecord, ...]
    skipped: tuple[RowProblem, ...] = field(default=())

    def __iter__(self) -> Iterator[SessionRecord]:
        return iter(self.sessions)

    def __len__(self) -> int:
        return len(self.sessions)


def filter_sessions(
    sessions: Iterable[SessionRecord],
    start: datetime | None = None,
    end: datetime | None = None,
    stations: Collection[str] | None = None,
) -> list[SessionRecord]:
    """The sessions arriving in ``[start, end)`` at one of ``stations`` (None: no bound).

    ``start`` and ``end`` must be timezone-aware (any zone): a naive bound would be ambiguous.
    """
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and bound.tzinfo is None:
            raise ValueError(f"{name}: must be timezone-aware, got {bound!r}")
    wanted = None if stations is None else frozenset(stations)
    return [
        s
        for s in sessions
        if (start is None or s.arrival >= start)
        and (end is None or s.arrival < end)
        and (wanted is None or s.station_id in wanted)
    ]


class RowCollector:
    """Gathers a loader's sessions: raises on the first bad row (strict) or keeps a list.

    Also rejects a session id seen before in the same file, which would otherwise make two
    sessions indistinguishable downstream.
    """

    def __init__(self, path: Path, strict: bool) -> None:
        self.path = path
        self.strict = strict
        self.sessions: list[SessionRecord] = []
        self.skipped: list[RowProblem] = []
        self._ids: set[str] = set()

    def accept(self, line: int, record: SessionRecord) -> None:
        """Keep ``record`` read from ``line`` unless its session id was already seen."""
        if record.session_id in self._ids:
            self.reject(line, f"session_id {record.session_id!r} appears twice")
            return
        self._ids.add(record.session_id)
        self.sessions.append(record)

    def reject(self, line: int, reason: str) -> None:
        """Raise :class:`DatasetError` (strict) or remember the row as skipped."""
        if self.strict:
            raise DatasetError(f"{self.path}: line {line}: {reason}")
        self.skipped.append(RowProblem(line, reason))

    def result(
        self,
        fmt: str,
        start: datetime | None,
        end: datetime | None,
        stations: Collection[str] | None,
    ) -> SessionData:
        kept = filter_sessions(self.sessions, start, end, stations)
        return SessionData(str(self.path), fmt, tuple(kept), tuple(self.skipped))

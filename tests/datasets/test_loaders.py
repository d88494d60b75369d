"""Session loaders on the bundled real ACN-Data files and on hand-made fixtures."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ems.datasets import (
    CALTECH_SESSION_FILES,
    DatasetError,
    SessionRecord,
    filter_sessions,
    load_acn_csv,
    load_acn_json,
    load_sessions,
    load_sessions_csv,
    write_sessions_csv,
)
from ems.datasets.caltech import STATION_IDS

SUMMER = CALTECH_SESSION_FILES["caltech-2019-summer"]
FALL = CALTECH_SESSION_FILES["caltech-2019-fall"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the real ACN-Data files -------------------------------------------------------------------


def test_bundled_caltech_windows_load_every_row() -> None:
    for path in (SUMMER, FALL):
        frame = pd.read_csv(path)
        data = load_sessions(path)
        assert data.format == "acn-csv"
        assert len(data) == len(frame) > 3000
        assert data.skipped == ()
        assert [s.session_id for s in data] == list(frame["session_id"])
        assert {s.station_id for s in data} <= set(STATION_IDS)


def test_first_summer_row_is_converted_to_utc_with_its_driver_input() -> None:
    first = load_acn_csv(SUMMER).sessions[0]
    assert first == SessionRecord(
        session_id="2_39_131_30_2019-05-01 08:18:44.595638",
        station_id="CA-305",
        arrival=utc(2019, 5, 1, 8, 18, 45),  # 01:18:45-07:00
        departure=utc(2019, 5, 1, 22, 52, 36),
        energy_requested_kwh=60.0,
        energy_delivered_kwh=44.069,
        estimated_departure=utc(2019, 5, 1, 16, 20, 45),
    )


def test_unclaimed_sessions_have_no_announced_departure_and_request_what_they_got() -> None:
    frame = pd.read_csv(FALL)
    data = load_acn_csv(FALL)
    unclaimed = [s for s, claimed in zip(data, frame["claimed"], strict=True) if not claimed]
    assert len(unclaimed) == int((~frame["claimed"]).sum()) > 0
    assert all(s.estimated_departure is None for s in unclaimed)
    assert all(s.energy_requested_kwh == s.energy_delivered_kwh for s in unclaimed)
    first = data.sessions[0]  # 2019-09-01 09:56:18-07:00, unclaimed
    assert first.arrival == utc(2019, 9, 1, 16, 56, 18)
    assert first.estimated_departure is None


def test_winter_time_rows_keep_their_own_offset() -> None:
    frame = pd.read_csv(FALL)
    winter = frame[frame["arrival"].str.endswith("-08:00")].iloc[0]
    record = next(s for s in load_acn_csv(FALL) if s.session_id == winter["session_id"])
    local = datetime.fromisoformat(winter["arrival"])
    assert record.arrival == local.astimezone(UTC)
    assert record.arrival.hour == (local.hour + 8) % 24


def test_window_and_station_filters_match_an_independent_count() -> None:
    frame = pd.read_csv(SUMMER)
    arrivals = pd.to_datetime(frame["arrival"], utc=True)
    start, end = utc(2019, 7, 1, 7), utc(2019, 7, 8, 7)
    stations = {"CA-303", "CA-304", "CA-305"}
    expected = frame[(arrivals >= start) & (arrivals < end) & frame["station_id"].isin(stations)]
    data = load_sessions(SUMMER, start=start, end=end, stations=stations)
    assert [s.session_id for s in data] == list(expected["session_id"])
    assert 0 < len(data) < 100
    everything = load_sessions(SUMMER).sessions
    assert filter_sessions(everything, start, end, stations) == list(data.sessions)


def test_a_naive_window_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="start: must be timezone-aware"):
        load_sessions(SUMMER, start=datetime(2019, 7, 1))


# --- ACN-Data JSON -----------------------------------------------------------------------------

ACN_JSON = {
    "_meta": {"total": 3},
    "_items": [
        {
            "_id": "5bc90cb9f9af8b0d7fe77cd2",
            "clusterID": "0039",
            "connectionTime": "Wed, 25 Apr 2018 11:08:04 GMT",
            "disconnectTime": "Wed, 25 Apr 2018 13:20:10 GMT",
            "doneChargingTime": "Wed, 25 Apr 2018 13:21:10 GMT",
            "kWhDelivered": 7.932,
            "sessionID": "2_39_78_362_2018-04-25 11:08:04.400812",
            "siteID": "0002",
            "spaceID": "CA-496",
            "stationID": "2-39-78-362",
            "timezone": "America/Los_Angeles",
            "userID": "000000558",
            "userInputs": [
                {
                    "WhPerMile": 400,
                    "kWhRequested": 28.0,
                    "milesRequested": 70,
                    "minutesAvailable": 463,
                    "modifiedAt": "Wed, 25 Apr 2018 11:10:47 GMT",
                    "paymentRequired": True,
                    "requestedDeparture": "Wed, 25 Apr 2018 18:51:04 GMT",
                    "userID": 558,
                },
                {"kWhRequested": 10.0, "requestedDeparture": "Wed, 25 Apr 2018 14:00:00 GMT"},
            ],
        },
        {
            "connectionTime": "Thu, 26 Apr 2018 16:02:51 GMT",
            "disconnectTime": "Fri, 27 Apr 2018 01:44:29 GMT",
            "doneChargingTime": None,
            "kWhDelivered": 12.5,
            "sessionID": "2_39_88_24_2018-04-26 16:02:51.000000",
            "spaceID": "CA-314",
            "stationID": "2-39-88-24",
            "userID": None,
            "userInputs": None,
        },
        {
            "connectionTime": "Fri, 27 Apr 2018 08:00:00 GMT",
            "kWhDelivered": 3.0,
            "sessionID": "no-disconnect",
            "spaceID": "CA-303",
        },
    ],
}


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_acn_json_reads_rfc1123_dates_the_driver_and_their_first_input(tmp_path: Path) -> None:
    path = write_json(tmp_path / "acn.json", ACN_JSON)
    data = load_acn_json(path, strict=False)
    assert data.format == "acn-json"
    assert [s.session_id for s in data] == [
        "2_39_78_362_2018-04-25 11:08:04.400812",
        "2_39_88_24_2018-04-26 16:02:51.000000",
    ]
    first, second = data.sessions
    assert first.station_id == "CA-496"
    assert first.arrival == utc(2018, 4, 25, 11, 8, 4)
    assert first.departure == utc(2018, 4, 25, 13, 20, 10)
    assert first.energy_delivered_kwh == 7.932
    assert first.energy_requested_kwh == 28.0
    assert first.estimated_departure == utc(2018, 4, 25, 18, 51, 4)
    assert first.id_token == "000000558"
    assert second.id_token is None
    assert second.estimated_departure is None
    assert second.energy_requested_kwh == 12.5
    assert [str(p) for p in data.skipped] == ["line 3: missing fields ['disconnectTime']"]


def test_acn_json_strict_names_the_file_and_the_session(tmp_path: Path) -> None:
    path = write_json(tmp_path / "acn.json", ACN_JSON)
    expected = r"acn\.json: line 3: missing fields \['disconnectTime'\]"
    with pytest.raises(DatasetError, match=expected):
        load_acn_json(path)


def test_acn_json_gzip_is_recognised_by_content(tmp_path: Path) -> None:
    path = tmp_path / "sessions.data"
    path.write_bytes(gzip.compress(json.dumps(ACN_JSON["_items"][:2]).encode()))
    data = load_sessions(path)
    assert data.format == "acn-json"
    assert len(data) == 2


def test_acn_json_bad_dates_and_shapes_are_named(tmp_path: Path) -> None:
    item = dict(ACN_JSON["_items"][1], connectionTime="2018-04-26 16:02:51")  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match="line 1: connectionTime: '2018-04-26 16:02:51' is not"):
        load_acn_json(write_json(tmp_path / "a.json", [item]))
    with pytest.raises(DatasetError, match="'_items' list"):
        load_acn_json(write_json(tmp_path / "b.json", {"sessions": []}))
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"c\.json: not valid JSON"):
        load_acn_json(tmp_path / "c.json")


# --- ems's own CSV -----------------------------------------------------------------------------


def sample_records() -> list[SessionRecord]:
    base = utc(2024, 3, 4, 7, 58)
    return [
        SessionRecord(
            "s-1", "CP-1", base, base + timedelta(hours=8, minutes=12), 20.0, 18.4,
            base + timedelta(hours=9), "04A1B2C3", 11.0,
        ),
        SessionRecord("s-2", "CP-2", base + timedelta(minutes=5), base + timedelta(hours=1),
                      0.1 + 0.2, 0.0),
    ]


@pytest.mark.parametrize("name", ["sessions.csv", "sessions.csv.gz"])
def test_own_csv_round_trips_exactly(tmp_path: Path, name: str) -> None:
    records = sample_records()
    path = tmp_path / name
    assert write_sessions_csv(records, path) == 2
    data = load_sessions(path)
    assert data.format == "ems-csv"
    assert list(data.sessions) == records
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_own_csv_converts_any_offset_to_utc_and_allows_missing_optional_columns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "session_id,station_id,arrival,departure,energy_requested_kwh,energy_delivered_kwh\n"
        "a,CP-9,2024-06-01T08:00:00-07:00,2024-06-01T17:30:00Z,12,11.5\n"
    )
    (record,) = load_sessions_csv(path).sessions
    assert record.arrival == utc(2024, 6, 1, 15)
    assert record.departure == utc(2024, 6, 1, 17, 30)
    assert (record.estimated_departure, record.id_token, record.max_power_kw) == (None, None, None)


HEADER = "session_id,station_id,arrival,departure,energy_requested_kwh,energy_delivered_kwh\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a,CP,2024-06-01T08:00:00,2024-06-01T09:00:00Z,1,1", "line 2: arrival: .* no UTC offset"),
        ("a,CP,2024-06-01T10:00Z,2024-06-01T09:00Z,1,1", "line 2: departure: .* is not after"),
        ("a,CP,2024-06-01T08:00Z,2024-06-01T09:00Z,-1,1", "line 2: energy_requested_kwh: '-1'"),
        ("a,CP,2024-06-01T08:00Z,2024-06-01T09:00Z,1,x", "line 2: energy_delivered_kwh: 'x'"),
        ("a,,2024-06-01T08:00Z,2024-06-01T09:00Z,1,1", "line 2: station_id: must not be empty"),
        ("a,CP,2024-06-01T08:00Z", "line 2: missing fields"),
    ],
)
def test_own_csv_bad_rows_name_file_line_and_field(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + row + "\n")
    with pytest.raises(DatasetError, match=r"bad\.csv: " + message):
        load_sessions_csv(path)


def test_lenient_loading_skips_bad_rows_and_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        HEADER
        + "a,CP,2024-06-01T08:00Z,2024-06-01T09:00Z,1,1\n"
        + "b,CP,2024-06-01T08:00,2024-06-01T09:00Z,1,1\n"
        + "a,CP,2024-06-01T10:00Z,2024-06-01T11:00Z,1,1\n"
        + "c,CP,2024-06-01T12:00Z,2024-06-01T13:00Z,2,2\n"
    )
    data = load_sessions(path, strict=False)
    assert [s.session_id for s in data] == ["a", "c"]
    assert [p.line for p in data.skipped] == [3, 4]
    assert "session_id 'a' appears twice" in data.skipped[1].reason
    with pytest.raises(DatasetError, match="line 3"):
        load_sessions(path)


def test_own_csv_header_problems_are_named(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HEADER.replace("energy_delivered_kwh", "energy_kwh").strip() + ",id_tokn\n")
    with pytest.raises(DatasetError, match=r"missing columns \['energy_delivered_kwh'\], unknown "
                                           r"columns \['energy_kwh', 'id_tokn'\]"):
        load_sessions_csv(path)


def test_unknown_format_and_missing_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["start", "stop", "kwh"], ["1", "2", "3"]])
    with pytest.raises(DatasetError, match="unknown session format"):
        load_sessions(path)
    with pytest.raises(DatasetError, match="no such file"):
        load_sessions(tmp_path / "absent.csv")


def test_session_record_refuses_naive_or_non_utc_times() -> None:
    naive = datetime(2024, 1, 1, 8)
    with pytest.raises(ValueError, match="arrival: must be a timezone-aware UTC datetime"):
        SessionRecord("s", "CP", naive, utc(2024, 1, 1, 9), 1, 1)
    shifted = datetime.fromisoformat("2024-01-01T10:00:00+01:00")
    with pytest.raises(ValueError, match="departure: must be a timezone-aware UTC"):
        SessionRecord("s", "CP", utc(2024, 1, 1, 8), shifted, 1, 1)

"""Arrivals from a session dataset and from the seeded random model."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ems.sim.arrivals import EV_MIX, RandomArrivals, read_sessions

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
STATIONS = ["CP-1", "CP-2", "CP-3"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sessions.csv"
    path.write_text(text, encoding="utf-8")
    return path


CSV = """arrival,departure,energy_kwh,station_id
2019-05-01T09:30:00-07:00,2019-05-01T17:00:00-07:00,12.5,ds-b
2019-05-01T08:00:00-07:00,2019-05-01T16:00:00-07:00,30.0,CP-2
2019-05-01T10:15:00-07:00,2019-05-01T12:15:00-07:00,5.0,ds-a
2019-05-01T11:00:00-07:00,2019-05-01T19:00:00-07:00,8.0,
"""


def test_sessions_are_replayed_from_the_chosen_start(tmp_path: Path) -> None:
    arrivals = read_sessions(write(tmp_path, CSV), start=START, station_ids=STATIONS)
    assert [a.arrival for a in arrivals] == [
        START,
        START + timedelta(minutes=90),
        START + timedelta(minutes=135),
        START + timedelta(hours=3),
    ]
    assert [a.departure - a.arrival for a in arrivals] == [
        timedelta(hours=8),
        timedelta(hours=7, minutes=30),
        timedelta(hours=2),
        timedelta(hours=8),
    ]
    assert [a.energy_kwh for a in arrivals] == pytest.approx([30.0, 12.5, 5.0, 8.0])
    # a known id is kept; others map onto the stations in order of appearance; none: any free
    assert [a.station_id for a in arrivals] == ["CP-2", "CP-1", "CP-2", None]
    assert len({a.id_token for a in arrivals}) == 4


def test_sessions_are_the_same_for_a_seed(tmp_path: Path) -> None:
    path = write(tmp_path, CSV)
    first = read_sessions(path, start=START, station_ids=STATIONS, seed=3)
    assert first == read_sessions(path, start=START, station_ids=STATIONS, seed=3)
    other = [read_sessions(path, start=START, station_ids=STATIONS, seed=s) for s in range(8)]
    assert len({tuple(a.ev.name for a in arrivals) for arrivals in other}) > 1


def test_a_session_larger_than_a_battery_gets_the_largest_car(tmp_path: Path) -> None:
    path = write(tmp_path, "arrival,departure,energy_kwh\n"
                 "2026-01-01T08:00:00+00:00,2026-01-01T18:00:00+00:00,80\n")  # fmt: skip
    (only,) = read_sessions(path, start=START, station_ids=STATIONS)
    assert only.ev.capacity_kwh == max(m.capacity_kwh for m, _ in EV_MIX)
    assert only.energy_kwh == pytest.approx(80.0)
    assert 0.0 <= only.soc < only.target_soc <= 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arrival,energy_kwh\n", "missing column\\(s\\) departure"),
        (
            "arrival,departure,energy_kwh\nyesterday,2026-01-01T10:00:00+00:00,1\n",
            "row 2, arrival: not an ISO 8601 time",
        ),
        (
            "arrival,departure,energy_kwh\n2026-01-01T08:00:00,2026-01-01T10:00:00+00:00,1\n",
            "row 2, arrival: the time needs an offset",
        ),
        (
            "arrival,departure,energy_kwh\n"
            "2026-01-01T08:00:00+00:00,2026-01-01T09:00:00+00:00,1\n"
            "2026-01-01T08:00:00+00:00,2026-01-01T07:00:00+00:00,1\n",
            "row 3: departure must be after arrival",
        ),
        (
            "arrival,departure,energy_kwh\n2026-01-01T08:00:00+00:00,2026-01-01T09:00:00+00:00,x\n",
            "row 2, energy_kwh: not a number",
        ),
        (
            "arrival,departure,energy_kwh\n2026-01-01T08:00:00+00:00,2026-01-01T09:00:00+00:00,-1\n",
            "row 2, energy_kwh: must be 0 or more",
        ),
    ],
)
def test_bad_dataset_is_refused_naming_row_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        read_sessions(write(tmp_path, text), start=START, station_ids=STATIONS)


def test_random_arrivals_are_the_same_for_a_seed() -> None:
    first = list(itertools.islice(RandomArrivals(7, 10).arrivals(START), 50))
    again = list(itertools.islice(RandomArrivals(7, 10).arrivals(START), 50))
    other = list(itertools.islice(RandomArrivals(8, 10).arrivals(START), 50))
    assert first == again
    assert first != other


def test_random_arrivals_are_ordered_and_plausible() -> None:
    end = START + timedelta(days=30)
    model = RandomArrivals(1, 10, sessions_per_station_day=1.2)
    arrivals = list(itertools.takewhile(lambda a: a.arrival < end, model.arrivals(START)))
    times = [a.arrival for a in arrivals]
    assert times == sorted(times)
    assert times[0] >= START
    # 30 days x 10 stations x 1.2 = 360 expected (Poisson: sd 19)
    assert 300 < len(arrivals) < 420
    for a in arrivals:
        assert timedelta(minutes=30) <= a.departure - a.arrival <= timedelta(hours=14)
        assert 0.1 <= a.soc <= 0.6 and 0.8 <= a.target_soc <= 1.0
        assert a.energy_kwh > 0
    assert {a.ev.name for a in arrivals} == {m.name for m, _ in EV_MIX}
    phases = {(a.ev.ac_phases, a.ev.ac_max_current_a) for a in arrivals}
    assert {(1, 16.0), (1, 32.0), (3, 16.0), (3, 32.0)} <= phases


def test_arrivals_follow_the_hourly_rate() -> None:
    only_eight = [0.0] * 24
    only_eight[8] = 1.0
    model = RandomArrivals(2, 5, by_hour=only_eight)
    arrivals = list(itertools.islice(model.arrivals(START), 40))
    assert {a.arrival.hour for a in arrivals} == {8}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by_hour": [1.0] * 23}, "by_hour"),
        ({"sessions_per_station_day": 0.0}, "sessions_per_station_day"),
        ({"soc_range": (0.5, 0.9)}, "soc_range"),
    ],
)
def test_bad_random_model_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RandomArrivals(1, 3, **kwargs)  # type: ignore[arg-type]

"""ReplaySite physics, capacity scaling, sweep parsing and the Caltech site file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ems.control.interface import LimitCommand
from ems.datasets import SessionRecord
from ems.replay.caltech import caltech_site_text
from ems.replay.scenario import with_capacity
from ems.replay.sessions import Knowledge, prepare_sessions
from ems.replay.site import ReplaySite
from ems.replay.sweep import parse_range
from ems.site import SiteConfig, load_site

from .conftest import hours

ROOT = Path(__file__).resolve().parents[2]


def _site_with_car(site: SiteConfig, need_kwh: float, ev_model: bool = False) -> ReplaySite:
    record = SessionRecord("A", "CP-1", hours(0), hours(8), need_kwh, need_kwh)
    prepared = prepare_sessions([record], site)
    replay = ReplaySite(site, hours(0), fallback_limits_a={"CP-1/1": 8.0}, ev_model=ev_model)
    replay.arrive(prepared.sessions[0])
    return replay


async def test_an_expired_tx_profile_falls_back_to_the_default_limit(
    tiny_site: SiteConfig,
) -> None:
    replay = _site_with_car(tiny_site, 50.0)
    command = LimitCommand("CP-1/1", "A", "A", 16.0, 16 * 230.0, 1, hours(0.25), "new")
    answers = await replay.apply([command])
    assert answers[0].accepted
    replay.advance(hours(0.5))
    # 16 A for 15 min, then the TxDefaultProfile's 8 A for 15 min.
    assert replay.outcomes["A"].delivered_kwh == 0.0  # counted when the car leaves
    replay.depart(prepared_session(replay))
    assert replay.outcomes["A"].delivered_kwh == pytest.approx((16 + 8) * 0.230 * 0.25)


def prepared_session(replay: ReplaySite):  # type: ignore[no-untyped-def]
    car = replay.points[0].car
    assert car is not None
    return car.session


def test_a_car_stops_when_full_within_a_step_and_reports_no_power_after(
    tiny_site: SiteConfig,
) -> None:
    replay = _site_with_car(tiny_site, 1.0)
    replay.advance(hours(1))  # 8 A = 1.84 kW: full after 1/1.84 h
    snapshot = replay.snapshot(hours(1))
    assert snapshot.sessions[0].energy_delivered_kwh == pytest.approx(1.0)
    assert not snapshot.sessions[0].charging
    full_s = 1.0 / 1.84 * 3600
    assert replay.pieces[0].duration_s == pytest.approx(full_s)
    assert replay.pieces[1].power_w == 0.0


def test_the_battery_model_tapers_so_a_nearly_full_car_takes_longer(
    tiny_site: SiteConfig,
) -> None:
    ideal = _site_with_car(tiny_site, 10.0)
    battery = _site_with_car(tiny_site, 10.0, ev_model=True)
    for replay in (ideal, battery):
        replay.advance(hours(5.5))
    delivered = [r.snapshot(hours(5.5)).sessions[0].energy_delivered_kwh for r in (ideal, battery)]
    # Ideal: 8 A = 1.84 kW until full after 5.43 h. The battery (60 kWh, from 83 %) takes 8 A
    # until its acceptance falls below a quarter of its 32 A, then less and less.
    assert delivered[0] == pytest.approx(10.0)
    assert 9.0 < delivered[1] < 10.0
    battery.advance(hours(8))
    assert delivered[1] < battery.snapshot(hours(8)).sessions[0].energy_delivered_kwh <= 10.0


def test_capacity_scales_the_root_and_its_named_constraints_only() -> None:
    site = load_site(ROOT / "data" / "sites" / "caltech.toml")
    scaled = with_capacity(site, 30.0)
    assert scaled.root.limit_kw == 30.0
    before = {c.id: c.upper_a for c in site.constraints}
    for constraint in scaled.constraints:
        factor = 0.2 if constraint.id.startswith("transformer/") else 1.0
        assert constraint.upper_a == pytest.approx(before[constraint.id] * factor)
    with pytest.raises(ValueError, match="capacity_kw"):
        with_capacity(site, 0.0)


def test_the_caltech_site_file_is_what_the_generator_writes() -> None:
    path = ROOT / "data" / "sites" / "caltech.toml"
    assert path.read_text() == caltech_site_text()
    site = load_site(path)
    assert len(site.chargers) == 54
    assert {c.voltage_v for c in site.chargers} == {208.0}


def test_sweep_ranges_include_their_stop_and_refuse_nonsense() -> None:
    assert parse_range("10:140:10") == [float(k) for k in range(10, 141, 10)]
    assert parse_range("50,100") == [50.0, 100.0]
    with pytest.raises(ValueError, match="start:stop:step"):
        parse_range("10:5:1")


def test_overlapping_records_at_one_station_go_to_a_free_charger_by_seed(
    tiny_site: SiteConfig,
) -> None:
    records = [
        SessionRecord("A", "CP-1", hours(0), hours(2), 5.0, 5.0),
        SessionRecord("B", "CP-1", hours(1), hours(3), 5.0, 5.0),
        SessionRecord("C", "CP-1", hours(1.5), hours(3), 5.0, 5.0),
    ]
    prepared = prepare_sessions(records, tiny_site, knowledge=Knowledge.NONE, seed=3)
    keys = {s.session_id: s.key for s in prepared.sessions}
    assert keys == {"A": "CP-1/1", "B": "CP-2/1"}
    assert prepared.dropped == (("C", "no free charger at arrival"),)
    assert all(s.driver_departure is None for s in prepared.sessions)


def test_acnportal_conventions_cut_times_to_the_step_grid_and_drop_short_stays(
    tiny_site: SiteConfig,
) -> None:
    records = [
        SessionRecord("A", "CP-1", hours(0) + timedelta(minutes=7), hours(1), 5.0, 3.0),
        SessionRecord("B", "CP-2", hours(0) + timedelta(minutes=1), hours(0.07), 1.0, 1.0),
    ]
    prepared = prepare_sessions(records, tiny_site, acnportal=True, knowledge=Knowledge.NONE)
    (a,) = prepared.sessions
    assert a.arrival == hours(0) + timedelta(minutes=5)
    assert a.need_kwh == 3.0 and a.driver_energy_kwh == 3.0 and a.driver_departure == hours(1)
    assert prepared.dropped == (("B", "stays less than one step"),)

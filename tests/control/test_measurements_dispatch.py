"""Meter values reduced to readings, and which limits leave ems after a plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ems.control.dispatch import decide, split_decreases
from ems.control.interface import ActiveSession, ChargerView
from ems.control.measurements import Measurements
from ems.domain import MeterSample
from optimizer.model import Charger, Circuit, Horizon, Problem, Session, Tariff

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def sample(measurand: str, value: float, unit: str | None = None, phase: str | None = None,
           at: datetime = T0) -> MeterSample:  # fmt: skip
    return MeterSample(timestamp=at, measurand=measurand, value=value, unit=unit, phase=phase)


def test_readings_scale_units_and_keep_the_newest() -> None:
    m = Measurements()
    m.add("CP", 1, [
        sample("Power.Active.Import", 7.2, "kW"),
        sample("Current.Import", 10.5, "A", "L1"),
        sample("Current.Import", 10.0, "A", "L2-N"),
        sample("Energy.Active.Import.Register", 12.5, "kWh"),
        sample("SoC", 55.0, "Percent"),
    ])  # fmt: skip
    reading = m.get("CP", 1)
    assert reading is not None
    assert reading.power_w == 7200.0
    assert reading.current_a == [10.5, 10.0, None]
    assert reading.max_current_a() == 10.5
    assert reading.energy_wh == 12500.0
    assert reading.soc_percent == 55.0
    # A late, older message does not overwrite.
    m.add("CP", 1, [sample("Power.Active.Import", 1000.0, "W", at=T0 - timedelta(seconds=30))])
    assert m.get("CP", 1).power_w == 7200.0  # type: ignore[union-attr]
    # Per-phase power without a total is summed; a newer current set replaces all phases.
    later = T0 + timedelta(seconds=10)
    m.add("CP", 1, [
        sample("Power.Active.Import", 1000.0, "W", "L1", later),
        sample("Power.Active.Import", 1500.0, "W", "L2", later),
        sample("Current.Import", 4.0, "A", "L3", later),
    ])  # fmt: skip
    reading = m.get("CP", 1)
    assert reading is not None and reading.power_w == 2500.0
    assert reading.current_a == [None, None, 4.0]
    m.clear("CP", 1)
    assert m.get("CP", 1) is None


def _problem(capacity_a: float) -> Problem:
    chargers = tuple(Charger(f"CP{i}/1", "grid", phases=(0,), max_current_a=32) for i in range(3))
    sessions = tuple(
        Session(f"s{i}", f"CP{i}/1", energy_requested_kwh=20, departure_s=8 * 3600)
        for i in range(3)
    )
    return Problem(
        horizon=Horizon.uniform(4, 900),
        chargers=chargers,
        sessions=sessions,
        circuits=(Circuit("grid", limit_a=(capacity_a, capacity_a, capacity_a)),),
        tariff=Tariff((0.2,) * 4),
    )


def _active(i: int) -> ActiveSession:
    return ActiveSession(f"CP{i}/1", f"s{i}", str(i), T0 - timedelta(hours=1), 1.0)


def _views(applied: dict[int, float], valid_for_s: float = 600) -> dict[str, ChargerView]:
    return {
        f"CP{i}/1": ChargerView(
            f"CP{i}/1", True, True, applied.get(i), T0 + timedelta(seconds=valid_for_s)
            if i in applied else None,
        )
        for i in range(3)
    }  # fmt: skip


def _decide(problem: Problem, limits: dict[str, float], views: dict[str, ChargerView]):  # type: ignore[no-untyped-def]
    return decide(
        problem, limits, [_active(i) for i in range(3)], views, T0,
        deadband_a=1.0, validity_s=120, interval_s=5,
    )  # fmt: skip


def test_new_sessions_get_limits_and_small_moves_stay_within_the_deadband() -> None:
    problem = _problem(48)
    commands = _decide(problem, {"CP0/1": 16, "CP1/1": 16, "CP2/1": 16}, _views({}))
    assert {(c.key, c.limit_a, c.reason) for c in commands} == {
        ("CP0/1", 16, "new"), ("CP1/1", 16, "new"), ("CP2/1", 16, "new")
    }  # fmt: skip
    assert all(c.number_phases == 1 and c.limit_w == c.limit_a * 230 for c in commands)
    assert all(c.valid_until == T0 + timedelta(seconds=120) for c in commands)
    # 16 -> 16.5 stays (deadband 1 A); 16 -> 14 goes; 0 always goes.
    views = _views({0: 16, 1: 16, 2: 16})
    commands = _decide(problem, {"CP0/1": 16.5, "CP1/1": 14, "CP2/1": 0}, views)
    assert {(c.key, c.limit_a, c.reason) for c in commands} == {
        ("CP1/1", 14, "change"), ("CP2/1", 0, "change")
    }  # fmt: skip


def test_limits_about_to_expire_are_renewed() -> None:
    views = _views({0: 16, 1: 16, 2: 16}, valid_for_s=8)  # expires within two intervals
    commands = _decide(_problem(48), {"CP0/1": 16, "CP1/1": 16, "CP2/1": 16}, views)
    assert {c.reason for c in commands} == {"refresh"} and len(commands) == 3


def test_kept_limits_and_new_ones_together_never_exceed_a_circuit() -> None:
    # In force: 20 + 14 + 6 = 40 A. The capacity drops to 38 A and the plan moves CP0 and CP1
    # down by 1 A each, within the 2 A deadband: sent alone, nothing would change and 40 A
    # would stay in force. The clamp of what stays in force cuts it, and the cuts are sent.
    problem = _problem(38)
    views = _views({0: 20, 1: 14, 2: 6})
    commands = decide(
        problem, {"CP0/1": 19, "CP1/1": 13, "CP2/1": 6}, [_active(i) for i in range(3)], views,
        T0, deadband_a=2.0, validity_s=120, interval_s=5,
    )  # fmt: skip
    assert commands and {c.reason for c in commands} == {"clamp"}
    in_force = {"CP0/1": 20.0, "CP1/1": 14.0, "CP2/1": 6.0}
    for c in commands:
        in_force[c.key] = c.limit_a
    assert sum(in_force.values()) <= 38
    assert all(value == 0 or value >= 6 for value in in_force.values())
    decreases, rest = split_decreases(commands, views)
    assert decreases == commands and rest == []


def test_uncontrollable_chargers_get_nothing() -> None:
    views = _views({})
    views["CP1/1"] = ChargerView("CP1/1", True, False)
    commands = _decide(_problem(48), {"CP0/1": 16, "CP1/1": 16, "CP2/1": 16}, views)
    assert {c.key for c in commands} == {"CP0/1", "CP2/1"}


def test_a_reported_phase_rotation_that_contradicts_the_site_file_is_found() -> None:
    from ems.control.live import _Charger, phase_mismatches
    from ems.ocpp.translate import bool_or_none, rate_units
    from ems.site import ChargerSpec

    straight = _Charger(ChargerSpec("A/1", "A", 1, "grid", phases=(0, 1, 2)))
    rotated = _Charger(ChargerSpec("A/2", "A", 2, "grid", phases=(1, 2, 0)))
    assert phase_mismatches([straight, rotated], "1.RST,2.STR") == []
    problems = phase_mismatches([straight, rotated], "0.RST")  # connector 0: all of them
    assert len(problems) == 1 and "EVSE 2" in problems[0]
    assert phase_mismatches([straight], None) == []
    assert rate_units("Current,Power") == rate_units("A,W") == ("A", "W")
    assert rate_units("Power") == ("W",) and rate_units(None) == ()
    assert (bool_or_none("true"), bool_or_none("False"), bool_or_none("x")) == (True, False, None)

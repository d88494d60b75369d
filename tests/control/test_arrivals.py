"""Cars still to come: the plan keeps room for them, and nothing is sent for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ems.control.dispatch import decide
from ems.control.forecast import HistoryForecast
from ems.control.interface import ActiveSession, ChargerView, Snapshot
from ems.control.problem import EXPECTED_PRIORITY, build_problem
from ems.domain import IdToken, Transaction
from ems.site import SiteConfig, load_site
from optimizer.lp_highs import HighsScheduler

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday

# Cheap from 13:00: a plan that ignores the car due at 13:00 would charge the present car then.
SITE = """
[site]
id = "arrivals"
name = "Arrivals"
timezone = "UTC"

[tariff]
id = "tou"
name = "TOU"
currency = "EUR"

[tariff.energy]
kind = "time_of_use"
default_name = "day"
default_price_per_kwh = 0.40

[[tariff.energy.periods]]
name = "cheap"
from = "13:00"
to = "23:00"
price_per_kwh = 0.10

[control]
horizon_h = 2
slot_s = 1800

[[circuits]]
id = "grid"
limit_a = 32

[[chargers]]
charge_point_id = "A"
circuit = "grid"
phases = "L1"

[[chargers]]
charge_point_id = "B"
circuit = "grid"
phases = "L1"
"""


class OneCarAt13:
    """A car expected at 13:00 that needs 32 A for the whole hour it stays."""

    def expected_cars(
        self, slot_starts: Sequence[datetime], durations_s: Sequence[float]
    ) -> list[tuple[datetime, datetime, float]]:
        at = NOW + timedelta(hours=1)
        return [(at, at + timedelta(hours=1), 32 * 230 / 1000)]


def _site(tmp_path: Path) -> SiteConfig:
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    return load_site(path)


def _snapshot(site: SiteConfig) -> Snapshot:
    present = ActiveSession(
        key="A/1", session_id="present", transaction_id="1", arrival=NOW, energy_delivered_kwh=0.0,
        driver_departure=NOW + timedelta(hours=2), driver_energy_kwh=32 * 230 / 1000,
    )  # fmt: skip
    views = {c.key: ChargerView(c.key, True, True) for c in site.chargers}
    return Snapshot(NOW, (present,), views)


def test_the_plan_keeps_room_for_a_car_still_to_come(tmp_path: Path) -> None:
    site = _site(tmp_path)
    snapshot = _snapshot(site)
    ignoring = build_problem(site, snapshot)
    keeping = build_problem(site, snapshot, arrivals=OneCarAt13())
    assert ignoring.expected_ids == frozenset()
    (expected,) = [s for s in keeping.problem.sessions if s.id in keeping.expected_ids]
    assert expected.charger_id == "B/1" and expected.priority == EXPECTED_PRIORITY
    assert expected.arrival_s == 3600.0

    # Without the expected car the present one waits for the cheap hour; with it, it charges
    # now and leaves that hour to the car that will need all of it.
    plan_ignoring = HighsScheduler().plan(ignoring.problem)
    plan_keeping = HighsScheduler().plan(keeping.problem)
    assert plan_ignoring.limit_now_a["A/1"] == 0.0
    assert plan_keeping.limit_now_a["A/1"] == 32.0
    assert keeping.real_unmet_kwh(plan_keeping.unmet_kwh) == 0.0
    # nothing is ever sent for a car that is not there
    commands = decide(
        keeping.problem, plan_keeping.limit_now_a, snapshot.sessions, snapshot.chargers, NOW,
        deadband_a=1.0, validity_s=120, interval_s=5,
    )  # fmt: skip
    assert [c.key for c in commands] == ["A/1"]


def test_expected_cars_go_only_to_free_controllable_chargers(tmp_path: Path) -> None:
    site = _site(tmp_path)
    snapshot = _snapshot(site)
    views = dict(snapshot.chargers)
    views["B/1"] = ChargerView("B/1", False, False)  # offline: no room to plan there
    offline = Snapshot(NOW, snapshot.sessions, views)
    assert build_problem(site, offline, arrivals=OneCarAt13()).expected_ids == frozenset()


def test_history_gives_the_cars_expected_at_their_usual_hour() -> None:
    # Every day for four weeks, one car arrives at 13:00 and stays two hours for 10 kWh.
    history = []
    for day in range(28):
        start = NOW - timedelta(days=day + 1) + timedelta(hours=1)
        tx = Transaction(
            id=f"t{day}", charge_point_id="A", transaction_id=str(day), evse_id=1,
            connector_id=1, started_at=start, id_token=IdToken(f"D{day}"), meter_start_wh=0.0,
            meter_stop_wh=10_000.0, stopped_at=start + timedelta(hours=2),
        )  # fmt: skip
        history.append(tx)
    forecast = HistoryForecast("UTC")
    forecast.fit(history)
    starts = [NOW + timedelta(minutes=30 * k) for k in range(6)]
    cars = forecast.expected_cars(starts, [1800.0] * 6)
    assert len(cars) == 1
    arrival, departure, energy_kwh = cars[0]
    assert arrival == NOW + timedelta(hours=1)
    assert departure - arrival == timedelta(hours=2) and energy_kwh == 10.0


def test_a_car_that_stops_drawing_is_planned_nothing_but_probed_now_and_then(
    tmp_path: Path,
) -> None:
    from dataclasses import replace

    from ems.control.idle import IdleTracker
    from ems.control.problem import IDLE_AFTER_S, PROBE_EVERY_S, PROBE_FOR_S

    site = _site(tmp_path)
    tracker = IdleTracker()
    # drawing 0 A under 6 A: idle from then on; under 0 A nothing is learnt; drawing resets it
    assert tracker.observe("s", NOW, 0.0, 6.0, 6.0) == NOW
    assert tracker.observe("s", NOW + timedelta(minutes=1), 0.0, 0.0, 6.0) == NOW
    assert tracker.observe("t", NOW, 0.0, 0.0, 6.0) is None
    assert tracker.observe("s", NOW + timedelta(minutes=2), 5.0, 6.0, 6.0) is None

    base = _snapshot(site)
    (present,) = base.sessions

    def planned_kwh(idle_for_s: float) -> float:
        session = replace(present, idle_since=NOW - timedelta(seconds=idle_for_s))
        built = build_problem(site, Snapshot(NOW, (session,), base.chargers))
        (planned,) = built.problem.sessions
        return planned.energy_remaining_kwh

    full_need = planned_kwh(0)
    assert full_need > 0
    assert planned_kwh(IDLE_AFTER_S - 1) == full_need  # a car slow to start is not idle yet
    assert planned_kwh(IDLE_AFTER_S) == 0.0
    assert planned_kwh(PROBE_EVERY_S + PROBE_FOR_S / 2) == full_need  # the probe
    assert planned_kwh(PROBE_EVERY_S + PROBE_FOR_S) == 0.0

"""A replay small enough to check by hand: two chargers, three sessions, known energies."""

from __future__ import annotations

import pytest

from ems.datasets import SessionRecord
from ems.replay.run import ReplayOptions, run_replay
from ems.replay.scenario import Policy
from ems.site import SiteConfig

from .conftest import hours

KW_PER_A = 0.230  # single phase at 230 V


def _run(site: SiteConfig, sessions: list[SessionRecord], policy: Policy) -> dict[str, float]:
    result = run_replay(site, sessions, ReplayOptions(policy=policy, start=hours(0), end=hours(24)))
    return {o.session.session_id: o.delivered_kwh for o in result.outcomes} | {
        "_pct": result.metrics.energy_delivered_pct,
        "_violations": result.metrics.violation_steps,
        "_peak": result.metrics.peak_kw,
        "_cost": result.metrics.energy_cost,
        "_demand": result.metrics.demand_charge,
    }


def test_uncontrolled_cars_draw_their_maximum_until_full_and_break_the_grid_limit(
    tiny_site: SiteConfig, tiny_sessions: list[SessionRecord]
) -> None:
    got = _run(tiny_site, tiny_sessions, Policy.UNCONTROLLED)
    # 32 A = 7.36 kW: S1 is full after 1 h, S2 after 15 min, S3 gets 2 h = 14.72 of 20 kWh.
    assert got["S1"] == pytest.approx(7.36)
    assert got["S2"] == pytest.approx(1.84)
    assert got["S3"] == pytest.approx(2 * 32 * KW_PER_A)
    assert got["_pct"] == pytest.approx(100 * (7.36 + 1.84 + 14.72) / 29.2)
    assert got["_peak"] == pytest.approx(2 * 32 * KW_PER_A)
    assert got["_cost"] == pytest.approx(0.30 * (7.36 + 1.84 + 14.72))
    assert got["_demand"] == pytest.approx(10.0 * 14.72)
    # Some car draws 32 A > 16 A in every 5-minute step from 00:00 to 03:00.
    assert got["_violations"] == 36


def test_edf_serves_the_earliest_departure_first_and_keeps_running_cars_at_their_minimum(
    tiny_site: SiteConfig, tiny_sessions: list[SessionRecord]
) -> None:
    got = _run(tiny_site, tiny_sessions, Policy.EDF)

    # 16 A in all. Both cars draw their fallback limit when they plug in, so both are charging
    # and the minimum-current rule keeps S1 at 6 A while EDF gives S2 (leaves 01:00) the other
    # 10 A. At 00:45 S2 misses 0.115 kWh: 6 A for 5 min fills it exactly at 00:50.
    # S1: 6 A 00:00-00:45, 10 A 00:45-00:50, 16 A 00:50-01:00, then S3 arrives (charging, so it
    # keeps 6 A) and S1 gets 10 A until it leaves at 02:00; S3 then has all 16 A until 03:00.
    def kwh(amps: float, minutes: float) -> float:
        return amps * KW_PER_A * minutes / 60.0

    assert got["S2"] == pytest.approx(kwh(10, 45) + kwh(6, 5))
    assert got["S2"] == pytest.approx(1.84)
    assert got["S1"] == pytest.approx(kwh(6, 45) + kwh(10, 5) + kwh(16, 10) + kwh(10, 60))
    assert got["S3"] == pytest.approx(kwh(6, 60) + kwh(16, 60))
    assert got["_peak"] == pytest.approx(16 * KW_PER_A)
    assert got["_violations"] == 0


@pytest.mark.parametrize("policy", [Policy.EQUAL, Policy.LLF, Policy.FCFS, Policy.LP_ENERGY])
def test_every_controlled_policy_keeps_the_limit_and_fills_it_while_cars_want_energy(
    tiny_site: SiteConfig, tiny_sessions: list[SessionRecord], policy: Policy
) -> None:
    got = _run(tiny_site, tiny_sessions, policy)
    assert got["_violations"] == 0
    assert got["_peak"] <= 16 * KW_PER_A + 1e-9
    # Someone wants energy for all 3 h and 16 A is all there is: 3 h x 3.68 kW at most.
    delivered = got["S1"] + got["S2"] + got["S3"]
    assert delivered <= 3 * 16 * KW_PER_A + 1e-9
    assert delivered >= 3 * 16 * KW_PER_A * 0.9

"""The sample sites load and become consistent optimizer inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from ems.site import SiteConfig, load_site
from ems.site.fallback import fallback_problem
from optimizer import model
from optimizer.circuits import CircuitTree, violations

SITES = Path(__file__).resolve().parents[2] / "data" / "sites"
SAMPLES = sorted(SITES.glob("*.toml"))


@pytest.fixture(scope="module")
def depot() -> SiteConfig:
    return load_site(SITES / "depot.toml")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_every_sample_site_loads_into_a_valid_optimizer_problem(path: Path) -> None:
    site = load_site(path)
    assert site.id == path.stem
    starts, horizon = site.horizon(datetime(2024, 6, 4, 8, 7, 31, tzinfo=UTC))
    durations = horizon.durations_s
    problem = model.Problem(
        horizon=horizon,
        chargers=site.optimizer_chargers(),
        sessions=(),
        circuits=site.optimizer_circuits(
            starts, durations, site.other_load_forecast_kw(starts, durations)
        ),
        tariff=site.tariff.optimizer_tariff(starts, durations),
        constraints=site.optimizer_constraints(),
    )
    assert [c.id for c in problem.chargers] == [c.key for c in site.chargers]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_fallback_limits_hold_all_at_once_and_respect_minimum_currents(path: Path) -> None:
    site = load_site(path)
    limits = site.fallback_limits_a()
    assert set(limits) == {c.key for c in site.chargers}
    for charger in site.chargers:
        value = limits[charger.key]
        assert value == 0 or charger.min_current_a <= value <= charger.max_current_a
    problem = fallback_problem(site)
    current = np.array([[limits[c.id]] for c in problem.chargers])
    assert violations(problem, current) == []
    assert min(limits.values()) > 0  # every sample leaves room for every charger


def test_depot_capacity_is_about_forty_percent_of_the_chargers_maxima(depot: SiteConfig) -> None:
    maxima_kw = sum(c.max_current_a * c.watts_per_amp for c in depot.chargers) / 1000
    assert maxima_kw == pytest.approx(18 * 32 * 3 * 0.230 + 2 * 50)
    assert 0.35 <= depot.root.limit_kw / maxima_kw <= 0.45  # type: ignore[operator]
    assert [c.key for c in depot.chargers[:2]] == ["DEPOT-01/1", "DEPOT-02/1"]
    assert depot.chargers[17].key == "DEPOT-18/1"
    assert depot.tariff.demand_charge_per_kw > 0


def test_dc_charger_is_its_power_as_per_phase_ac_current(depot: SiteConfig) -> None:
    dc = depot.charger("DEPOT-DC-1/1")
    assert dc.dc and dc.max_power_w == 50_000
    assert dc.max_current_a == pytest.approx(50_000 / (3 * 230))
    assert dc.min_current_a == pytest.approx(5_000 / (3 * 230))
    assert dc.optimizer_charger().watts_per_amp * dc.max_current_a == pytest.approx(50_000)


def test_rotated_and_single_phase_chargers_map_to_site_phases() -> None:
    garage = load_site(SITES / "garage.toml")
    north = [garage.charger(f"GARAGE-N{n:02}/1").phases for n in (1, 2, 3, 4)]
    assert north == [(0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 1, 2)]
    south = [garage.charger(f"GARAGE-S{n:02}/1").phases for n in range(1, 7)]
    assert south == [(0,), (1,), (2,), (0,), (1,), (2,)]
    assert garage.charger("GARAGE-S01/1").watts_per_amp == 230


def test_small_site_fallbacks_share_each_phase_within_its_fuse() -> None:
    small = load_site(SITES / "small.toml")
    limits = small.fallback_limits_a()
    per_phase = [0.0, 0.0, 0.0]
    for charger in small.chargers:
        for phase in charger.phases:
            per_phase[phase] += limits[charger.key]
    # 63 A less a 3 kW forecast base load (4.3 A per phase), two chargers per phase.
    assert per_phase == [58.0, 58.0, 58.0]


def test_charger_lookup_by_charge_point_and_evse(depot: SiteConfig) -> None:
    assert depot.charger_key("DEPOT-07", 1) == "DEPOT-07/1"
    assert depot.charger_key("DEPOT-07", 2) is None
    assert depot.charger_key("ELSEWHERE", 1) is None
    assert depot.is_site_meter("DEPOT-METER", 0)
    with pytest.raises(KeyError, match="no charger 'DEPOT-99/1'"):
        depot.charger("DEPOT-99/1")


def test_fallback_tree_rows_are_those_of_the_worst_case(depot: SiteConfig) -> None:
    tree = CircuitTree.build(fallback_problem(depot))
    root_power = tree.row_labels.index("circuit grid power")
    # 150 kW on weekdays less the 30 kW peak of the workshop profile.
    assert tree.rows_upper[root_power, 0] == pytest.approx(120.0)

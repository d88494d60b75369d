"""The Caltech ACN as optimizer inputs, checked against acnportal's own network (golden file).

``acnportal_caltech_network.json`` was written by ``scripts/acn_compare.py --dump-network`` from
acnportal 0.3.3's ``caltech_acn(transformer_cap=150)``.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ems.datasets.caltech import (
    PHASE_ANGLE_DEG,
    STATION_IDS,
    caltech_chargers,
    caltech_network,
    caltech_phasor_constraints,
    caltech_site_dict,
    caltech_site_toml,
    linear_constraints,
    phasor_magnitudes_a,
)
from optimizer.baselines import EarliestDeadlineFirst
from optimizer.model import Horizon, LinearConstraint, Problem, Session, Tariff

GOLDEN: dict[str, Any] = json.loads(
    (Path(__file__).parent / "acnportal_caltech_network.json").read_text()
)
PHASES_BY_ANGLE = {30.0: (0, 1), -90.0: (1, 2), 150.0: (2, 0)}


def test_chargers_are_acnportals_54_evses_with_their_wiring_and_rates() -> None:
    chargers = caltech_chargers()
    assert [c.id for c in chargers] == GOLDEN["station_ids"] == list(STATION_IDS)
    assert len(chargers) == 54
    for charger, angle, voltage, rates in zip(
        chargers, GOLDEN["phase_angles_deg"], GOLDEN["voltages_v"], GOLDEN["allowable_rates_a"],
        strict=True,
    ):
        assert PHASE_ANGLE_DEG[charger.id] == angle
        assert charger.phases == PHASES_BY_ANGLE[angle]
        assert charger.line_to_line and charger.voltage_v == voltage == 208
        positive = [r for r in rates if r > 0]
        assert charger.min_current_a == min(positive)
        assert charger.max_current_a == max(rates)
        steps = np.diff(sorted(positive))
        assert charger.current_step_a == float(np.gcd.reduce(steps.astype(int)))
        allowed = [0.0, *np.arange(charger.min_current_a, charger.max_current_a + 1e-9,
                                   charger.current_step_a)]
        assert allowed == rates  # every allowable rate, and only those
    assert all(c.min_current_a == 0 and c.current_step_a == 0 for c in caltech_chargers(
        basic_evse=True))


def test_phasor_constraints_are_acnportals_matrix_and_limits() -> None:
    constraints = caltech_phasor_constraints(150.0)
    assert [c.name for c in constraints] == GOLDEN["constraint_names"]
    matrix = np.array([[c.coefficients.get(s, 0.0) for s in STATION_IDS] for c in constraints])
    np.testing.assert_allclose(matrix, GOLDEN["constraint_matrix"], atol=1e-12)
    np.testing.assert_allclose([c.limit_a for c in constraints], GOLDEN["magnitudes_a"])
    halved = caltech_phasor_constraints(75.0)
    expected = [c.limit_a / 2 for c in constraints[2:]]
    assert [h.limit_a for h in halved[2:]] == pytest.approx(expected)
    assert halved[0].limit_a == constraints[0].limit_a == 80  # pods do not depend on it


def test_acnportal_linearization_is_its_linear_check_row_for_row() -> None:
    chargers, circuits, rows = caltech_network(150.0, linearization="acnportal")
    assert len(rows) == len(GOLDEN["constraint_names"]) == 8
    for row, golden_row, limit in zip(rows, GOLDEN["constraint_matrix"], GOLDEN["magnitudes_a"],
                                      strict=True):
        expected = {s: abs(v) for s, v in zip(STATION_IDS, golden_row, strict=True) if v != 0}
        assert dict(row.coefficients) == pytest.approx(expected)
        assert row.upper_a == pytest.approx(limit)
    assert len(circuits) == 1 and circuits[0].limit_a is None and circuits[0].limit_kw is None
    assert {c.circuit_id for c in chargers} == {circuits[0].id}


def _max_scale(rows: tuple[LinearConstraint, ...], currents: dict[str, float]) -> float:
    loads = [(r.upper_a, sum(c * currents.get(s, 0.0) for s, c in r.coefficients.items()))
             for r in rows]
    return min(upper / load for upper, load in loads if load > 0)


def _exact_scale(transformer_kw: float, currents: dict[str, float]) -> float:
    constraints = caltech_phasor_constraints(transformer_kw)
    magnitudes = phasor_magnitudes_a(constraints, currents)
    return min(c.limit_a / magnitudes[c.name] for c in constraints if magnitudes[c.name] > 1e-12)


@pytest.mark.parametrize("transformer_kw", [20.0, 75.0, 150.0])
def test_polygon_admits_only_feasible_currents_and_gives_away_at_most_half_a_percent(
    transformer_kw: float,
) -> None:
    rows = linear_constraints(caltech_phasor_constraints(transformer_kw), "polygon", 0.005)
    rng = np.random.default_rng(7)
    worst = 1.0
    for trial in range(400):
        active = rng.random(54) < rng.uniform(0.05, 1.0)
        if trial % 4 == 0:  # load one or two line pairs only: the cone's edges
            pairs = rng.choice([30.0, -90.0, 150.0], size=rng.integers(1, 3), replace=False)
            active &= np.array([PHASE_ANGLE_DEG[s] in pairs for s in STATION_IDS])
        currents = {s: float(x) for s, x, a in zip(STATION_IDS, rng.uniform(0, 32, 54), active,
                                                   strict=True) if a}
        if not currents:
            continue
        polygon, exact = _max_scale(rows, currents), _exact_scale(transformer_kw, currents)
        assert polygon <= exact * (1 + 1e-9)  # never admits what acnportal refuses
        worst = min(worst, polygon / exact)
    assert 0.995 - 1e-9 <= worst < 1.0


def test_polygon_is_tighter_than_acnportals_linear_check_where_phases_mix() -> None:
    currents = {s: 10.0 for s in STATION_IDS}
    polygon = _max_scale(caltech_network(150.0)[2], currents)
    absolute = _max_scale(caltech_network(150.0, linearization="acnportal")[2], currents)
    exact = _exact_scale(150.0, currents)
    assert absolute < polygon <= exact
    assert polygon >= 0.995 * exact


def test_row_count_follows_the_tolerance() -> None:
    constraints = caltech_phasor_constraints()
    coarse = linear_constraints(constraints, "polygon", 0.05)
    fine = linear_constraints(constraints, "polygon", 0.005)
    # pods: 1 row each; secondary lines span 60 deg, primary lines 120 deg.
    def rows(tolerance: float, span_deg: float) -> int:
        return math.ceil(math.radians(span_deg) / (2 * math.acos(1 - tolerance)))
    for tolerance, result in ((0.05, coarse), (0.005, fine)):
        assert len(result) == 2 + 3 * rows(tolerance, 60) + 3 * rows(tolerance, 120)
    assert len(fine) == 53


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="transformer_kw: must be a positive number"):
        caltech_network(0.0)
    with pytest.raises(ValueError, match="linearization: expected 'polygon' or 'acnportal'"):
        caltech_network(linearization="exact")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="polygon_tolerance"):
        caltech_network(polygon_tolerance=0.0)


def test_a_baseline_plan_on_the_network_is_feasible_for_acnportal() -> None:
    chargers, circuits, constraints = caltech_network(30.0)
    slots = 8
    sessions = tuple(
        Session(f"s{i}", c.id, energy_requested_kwh=20.0, departure_s=4 * 3600.0)
        for i, c in enumerate(chargers) if i % 2 == 0
    )
    problem = Problem(Horizon.uniform(slots, 900.0), chargers, sessions, circuits,
                      Tariff((0.2,) * slots), constraints)
    plan = EarliestDeadlineFirst().plan(problem)
    limits = {c.name: c.limit_a for c in caltech_phasor_constraints(30.0)}
    busiest = 0.0
    for t in range(slots):
        currents = {cid: float(plan.current_a[i, t]) for i, cid in enumerate(plan.charger_ids)}
        for name, magnitude in phasor_magnitudes_a(caltech_phasor_constraints(30.0),
                                                   currents).items():
            assert magnitude <= limits[name] + 1e-6
            busiest = max(busiest, magnitude / limits[name])
    assert busiest > 0.95  # the limits bind: the check is not vacuous


def test_site_toml_holds_the_same_network() -> None:
    text = caltech_site_toml(60.0)
    assert tomllib.loads(text) == caltech_site_dict(60.0)
    site = tomllib.loads(text)
    assert len(site["chargers"]) == 54 and len(site["constraints"]) == 53
    assert site["site"]["timezone"] == "America/Los_Angeles"

"""The circuit tree's rows, the checker and the clamp on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import CircuitTree, clamp, loaded_phases, present_mask, violations, watts_per_amp
from optimizer.model import Charger, Circuit, LinearConstraint, Session
from tests.optimizer.factories import car, problem, three_phase


def test_tree_maps_rotated_and_single_phase_chargers_to_site_phases() -> None:
    p = problem(
        (
            three_phase("a", "cab"),
            Charger("b", "root", phases=(1,)),
            Charger("c", "cab", phases=(2, 0, 1)),
        ),
        (car("a"), car("b"), car("c", phases_used=1)),
        circuits=(Circuit("cab", "root", limit_a=(20.0, 20.0, 20.0), limit_kw=11.0),),
    )
    tree = CircuitTree.build(p)
    assert tree.node_ids == ("root", "cab")
    assert tree.subtree_chargers == {"root": (0, 1, 2), "cab": (0, 2)}
    phase = tree.phase_matrix.toarray()
    assert phase.shape == (6, 3)
    # root L1, L2, L3: a on all three, b on L2, c (single-phase car) on its first phase = site L3
    np.testing.assert_array_equal(phase[0:3], [[1, 0, 0], [1, 1, 0], [1, 0, 1]])
    np.testing.assert_array_equal(phase[3:6], [[1, 0, 0], [1, 0, 0], [1, 0, 1]])
    np.testing.assert_allclose(
        tree.power_matrix_kw_per_a.toarray(), [[0.69, 0.23, 0.23], [0.69, 0.0, 0.23]]
    )
    assert tree.phase_limits_a.shape == (6, 4)
    assert tree.power_limits_kw[0, 0] == np.inf and tree.power_limits_kw[1, 0] == 11.0
    assert tree.rows.shape == (6 + 2, 3)


def test_line_to_line_charger_draws_through_both_lines_even_for_a_single_phase_car() -> None:
    charger = Charger("l2l", "root", phases=(0, 1), line_to_line=True, voltage_v=208.0)
    session = Session("s", "l2l", 10.0, 3600.0, phases_used=1)
    assert loaded_phases(charger, session) == (0, 1)
    assert watts_per_amp(charger, session) == 208.0


def test_constraint_rows_carry_coefficients_and_bounds() -> None:
    extra = LinearConstraint("ab", {"a": 1.0, "b": -1.0}, upper_a=5.0, lower_a=-5.0)
    p = problem((three_phase("a"), three_phase("b")), (car("a"), car("b")), constraints=(extra,))
    tree = CircuitTree.build(p)
    np.testing.assert_array_equal(tree.constraint_matrix.toarray(), [[1.0, -1.0]])
    assert tree.constraint_lower_a.tolist() == [-5.0]
    assert tree.constraint_upper_a.tolist() == [5.0]
    assert tree.row_labels[-1] == "constraint ab"


def test_a_slot_counts_only_when_the_car_is_present_for_all_of_it() -> None:
    p = problem(
        (three_phase("a"), three_phase("b"), three_phase("empty")),
        (
            car("a", arrival_s=600.0, departure_s=2700.0),
            car("b", arrival_s=-100.0, departure_s=1000.0),
        ),
    )
    np.testing.assert_array_equal(
        present_mask(p),
        [[False, True, True, False], [True, False, False, False], [False, False, False, False]],
    )


def test_violations_name_the_node_charger_slot_and_amounts() -> None:
    p = problem(
        (three_phase("a"), three_phase("b", max_current_a=16.0)), (car("a", max_current_a=20.0),)
    )
    schedule = np.zeros((2, 4))
    schedule[0, 0] = 25.0
    schedule[1, 1] = 50.0
    schedule[0, 2] = -1.0
    found = violations(p, schedule)
    assert "charger a slot 0: 25 A above session max 20" in found
    assert "charger b slot 1: 50 A with no car present" in found
    assert "circuit root phase L1 slot 1: 50 above 40" in found
    assert "charger a slot 2: negative current -1 A" in found
    assert len(found) == 6  # L1, L2 and L3 of the root in slot 1


def test_violations_reject_a_schedule_of_the_wrong_shape() -> None:
    p = problem((three_phase("a"),), (car("a"),))
    with pytest.raises(ValueError, match="expected"):
        violations(p, np.zeros((1, 3)))


def test_clamp_quantizes_down_and_switches_off_below_minimum() -> None:
    p = problem(
        (
            three_phase("a"),
            three_phase("b"),
            three_phase("c", current_step_a=0.0),
            three_phase("d"),
        ),
        (car("a"), car("b"), car("c")),
        root_a=None,
    )
    assert clamp(p, {"a": 13.7, "b": 5.5, "c": 13.7, "d": 16.0}) == {
        "a": 13.0,
        "b": 0.0,
        "c": 13.7,
        "d": 0.0,  # no car on d
    }


def test_clamp_scales_chargers_below_an_exceeded_node_proportionally() -> None:
    p = problem((three_phase("a"), three_phase("b")), (car("a"), car("b")))
    assert clamp(p, {"a": 32.0, "b": 32.0}) == {"a": 20.0, "b": 20.0}
    assert clamp(p, {"a": 13.7, "b": 40.0}) == {"a": 11.0, "b": 28.0}


def test_clamp_only_touches_chargers_below_the_exceeded_node() -> None:
    p = problem(
        (three_phase("a", "cab"), three_phase("b", "cab"), three_phase("c")),
        (car("a"), car("b"), car("c")),
        root_a=(63.0, 63.0, 63.0),
        circuits=(Circuit("cab", "root", limit_a=(16.0, 16.0, 16.0)),),
    )
    assert clamp(p, {"a": 16.0, "b": 16.0, "c": 32.0}) == {"a": 8.0, "b": 8.0, "c": 32.0}


def test_clamp_holds_a_power_limit_and_a_mixed_sign_constraint() -> None:
    extra = LinearConstraint("ab", {"a": 1.0, "b": -1.0}, upper_a=5.0, lower_a=-5.0)
    p = problem(
        (three_phase("a", current_step_a=0.0), three_phase("b", current_step_a=0.0)),
        (car("a"), car("b")),
        root_a=None,
        root_kw=11.0,
        constraints=(extra,),
    )
    out = clamp(p, {"a": 30.0, "b": 10.0})
    assert out["a"] - out["b"] <= 5.0
    assert (out["a"] + out["b"]) * 0.69 <= 11.0


def test_clamp_switches_off_chargers_under_a_negative_limit_and_never_adds_current() -> None:
    negative = problem((three_phase("a"),), (car("a"),), root_a=(-5.0, 40.0, 40.0))
    assert clamp(negative, {"a": 16.0}) == {"a": 0.0}
    asks = LinearConstraint("must", {"a": 1.0}, upper_a=32.0, lower_a=10.0)
    p = problem((three_phase("a"),), (car("a"),), constraints=(asks,))
    assert clamp(p, {"a": 0.0}) == {"a": 0.0}
    assert clamp(p, {"a": 16.0}) == {"a": 16.0}

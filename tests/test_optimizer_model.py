"""The optimizer's input model: consistency checks and the battery-tail rule."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.model import (
    Charger,
    Circuit,
    Horizon,
    LinearConstraint,
    Problem,
    Session,
    Tariff,
    session_max_current_a,
)


def problem(**changes: object) -> Problem:
    fields: dict[str, object] = {
        "horizon": Horizon((300.0, 900.0, 3600.0)),
        "chargers": (Charger("A", "root"), Charger("B", "feeder", phases=(1,))),
        "sessions": (Session("s1", "A", energy_requested_kwh=20, departure_s=7200),),
        "circuits": (Circuit("root", limit_a=(63, 63, 63)), Circuit("feeder", "root", limit_kw=11)),
        "tariff": Tariff((0.3, 0.2, 0.1)),
    }
    fields.update(changes)
    return Problem(**fields)  # type: ignore[arg-type]


def test_uneven_horizon_has_starts_and_hours() -> None:
    horizon = Horizon((300.0, 900.0, 3600.0))
    assert horizon.starts_s.tolist() == [0, 300, 1200]
    assert np.allclose(horizon.hours, [1 / 12, 0.25, 1.0])
    assert horizon.end_s == 4800


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"chargers": (Charger("A", "nowhere"),)}, "unknown circuit"),
        ({"circuits": (Circuit("root"), Circuit("other"))}, "exactly one root"),
        (
            {"circuits": (Circuit("root"), Circuit("x", "y"), Circuit("y", "x"))},
            "cycle",
        ),
        ({"tariff": Tariff((0.3,))}, "one import price per slot"),
        (
            {
                "sessions": (
                    Session("s1", "A", 1, 100),
                    Session("s2", "A", 1, 100),
                )
            },
            "two sessions",
        ),
        ({"constraints": (LinearConstraint("c", {"Z": 1.0}, 10),)}, "unknown chargers"),
        (
            {"circuits": (Circuit("root", limit_kw_by_slot=(1.0, 2.0)), Circuit("feeder", "root"))},
            "one limit per slot",
        ),
    ],
)
def test_inconsistent_problems_are_refused_with_a_reason(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        problem(**changes)


def test_chargers_and_sessions_check_their_own_values() -> None:
    with pytest.raises(ValueError, match="line-to-line"):
        Charger("L", "root", phases=(0,), line_to_line=True)
    with pytest.raises(ValueError, match="min_current_a"):
        Charger("M", "root", min_current_a=10, max_current_a=6)
    with pytest.raises(ValueError, match="departs before arriving"):
        Session("s", "A", 5, departure_s=100, arrival_s=200)


def test_power_per_amp_follows_phases_and_wiring() -> None:
    assert Charger("3p", "root").watts_per_amp == 690
    assert Charger("1p", "root", phases=(2,)).watts_per_amp == 230
    assert (
        Charger("ll", "root", phases=(0, 1), voltage_v=208, line_to_line=True).watts_per_amp == 208
    )


def test_a_car_drawing_well_below_its_limit_frees_the_rest() -> None:
    charger = Charger("A", "root", max_current_a=32)
    tail = Session("s", "A", 40, 3600, measured_power_w=690 * 8, applied_limit_a=32)
    assert session_max_current_a(charger, tail) == pytest.approx(9.0)
    throttled = Session("s", "A", 40, 3600, measured_power_w=690 * 8, applied_limit_a=8.5)
    assert session_max_current_a(charger, throttled) == 32
    single_phase_car = Session(
        "s", "A", 40, 3600, phases_used=1, measured_power_w=230 * 16, applied_limit_a=16
    )
    assert session_max_current_a(charger, single_phase_car) == 32
    capped = Session("s", "A", 40, 3600, max_current_a=16)
    assert session_max_current_a(charger, capped) == 16


def test_a_car_in_its_tail_is_never_limited_below_the_chargers_minimum() -> None:
    # 2 A measured plus the 1 A margin is 3 A, which the charger would take as 0: 6 A it is.
    charger = Charger("A", "root", max_current_a=32, min_current_a=6)
    tail = Session("s", "A", 40, 3600, measured_power_w=690 * 2, applied_limit_a=32)
    assert session_max_current_a(charger, tail) == 6
    coarse = Charger("A", "root", max_current_a=32, min_current_a=6, current_step_a=4)
    assert coarse.lowest_current_a == 8
    assert session_max_current_a(coarse, tail) == 8
    own_limit = Session(
        "s", "A", 40, 3600, max_current_a=5, measured_power_w=690, applied_limit_a=5
    )
    assert session_max_current_a(charger, own_limit) == 5  # the car's own limit still rules


def test_a_line_to_line_charger_draws_through_both_lines_whatever_the_car() -> None:
    charger = Charger("ll", "root", phases=(0, 1), voltage_v=208, line_to_line=True)
    car = Session("s", "ll", 40, 3600, phases_used=1, measured_power_w=208 * 8, applied_limit_a=32)
    assert session_max_current_a(charger, car) == pytest.approx(9.0)

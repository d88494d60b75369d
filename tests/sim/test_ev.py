"""The EV model: what a car draws from an offer, and how its state of charge moves."""

from __future__ import annotations

import math

import pytest

from ems.sim.ev import Ev, EvModel, Offer, Taper

THREE_PHASE_16A = EvModel("3x16", capacity_kwh=60.0, ac_max_current_a=16.0, ac_phases=3)
ONE_PHASE_32A = EvModel("1x32", capacity_kwh=40.0, ac_max_current_a=32.0, ac_phases=1)


def test_car_draws_the_offered_current_on_its_phases() -> None:
    draw = Ev(THREE_PHASE_16A, soc=0.2).draw(Offer(limit_a=10.0))
    assert (draw.current_a, draw.phases) == (10.0, 3)
    assert draw.power_w == pytest.approx(10.0 * 230.0 * 3)


def test_car_draws_at_most_its_on_board_charger() -> None:
    assert Ev(THREE_PHASE_16A, soc=0.2).power_w(Offer(limit_a=32.0)) == pytest.approx(11040.0)
    assert Ev(THREE_PHASE_16A, soc=0.2).power_w(Offer()) == pytest.approx(11040.0)


def test_single_phase_car_uses_one_phase_of_a_three_phase_offer() -> None:
    draw = Ev(ONE_PHASE_32A, soc=0.2).draw(Offer(limit_a=32.0, phases=3))
    assert (draw.current_a, draw.phases, draw.power_w) == (32.0, 1, pytest.approx(7360.0))


def test_limit_in_watts_is_shared_over_the_phases_used() -> None:
    draw = Ev(THREE_PHASE_16A, soc=0.2).draw(Offer(limit_w=6900.0))
    assert draw.current_a == pytest.approx(10.0)
    assert draw.power_w == pytest.approx(6900.0)
    assert Ev(ONE_PHASE_32A, soc=0.2).draw(Offer(limit_w=6900.0)).current_a == pytest.approx(30.0)


@pytest.mark.parametrize("offer", [Offer(limit_a=5.9), Offer(limit_a=0.0), Offer(limit_w=4000.0)])
def test_offer_below_six_amperes_suspends_charging(offer: Offer) -> None:
    assert Ev(THREE_PHASE_16A, soc=0.2).power_w(offer) == 0.0


def test_linear_taper_above_the_knee() -> None:
    # acceptance at 90 %: 1 - (1 - 0.05) * (0.9 - 0.8) / 0.2 = 0.525 -> 16 A * 0.525 = 8.4 A
    draw = Ev(THREE_PHASE_16A, soc=0.9).draw(Offer(limit_a=32.0))
    assert draw.current_a == pytest.approx(8.4)


def test_exponential_taper_above_the_knee() -> None:
    model = EvModel("exp", capacity_kwh=60.0, taper=Taper.EXPONENTIAL)
    # acceptance at 90 %: 0.05 ** 0.5 = 0.2236
    assert Ev(model, soc=0.9).draw(Offer(limit_a=32.0)).current_a == pytest.approx(16.0 * 0.05**0.5)


def test_constant_current_charge_for_an_hour() -> None:
    ev = Ev(THREE_PHASE_16A, soc=0.5)
    energy_kwh = ev.advance(3600.0, Offer(limit_a=16.0))
    assert energy_kwh == pytest.approx(11.04)
    assert ev.soc == pytest.approx(0.5 + 11.04 / 60.0)
    assert ev.energy_kwh == pytest.approx(11.04)


def test_taper_follows_the_exact_solution() -> None:
    # Above the knee dx/dt = (P0/C)(1 - a x), x = soc - knee, a = (1 - tail) / (1 - knee):
    # x(t) = (1 - exp(-a P0 t / C)) / a.
    ev = Ev(THREE_PHASE_16A, soc=0.8)
    ev.advance(3600.0, Offer(limit_a=16.0))
    a = 0.95 / 0.2
    expected = 0.8 + (1 - math.exp(-a * 11.04 * 1.0 / 60.0)) / a
    assert ev.soc == pytest.approx(expected, abs=1e-3)


def test_charge_stops_exactly_at_the_target() -> None:
    ev = Ev(THREE_PHASE_16A, soc=0.5, target_soc=0.6)
    energy_kwh = ev.advance(10 * 3600.0, Offer(limit_a=16.0))
    assert ev.soc == 0.6
    assert ev.full
    assert energy_kwh == pytest.approx(6.0)
    assert ev.power_w(Offer(limit_a=16.0)) == 0.0
    assert ev.advance(60.0, Offer(limit_a=16.0)) == 0.0


def test_no_energy_without_power() -> None:
    ev = Ev(THREE_PHASE_16A, soc=0.5)
    assert ev.advance(3600.0, Offer(limit_a=0.0)) == 0.0
    assert ev.soc == 0.5


def test_dc_charging_takes_the_dc_offer() -> None:
    dc_car = EvModel("dc", capacity_kwh=77.0, dc_max_power_w=50_000.0)
    assert Ev(dc_car, soc=0.2).power_w(Offer(limit_w=40_000.0, dc=True)) == 40_000.0
    assert Ev(dc_car, soc=0.2).power_w(Offer(dc=True)) == 50_000.0
    assert Ev(THREE_PHASE_16A, soc=0.2).power_w(Offer(limit_w=40_000.0, dc=True)) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ac_phases": 2}, "ac_phases"),
        ({"capacity_kwh": 0.0}, "capacity_kwh"),
        ({"knee_soc": 1.0}, "knee_soc"),
        ({"dc_max_power_w": -1.0}, "dc_max_power_w"),
    ],
)
def test_bad_model_is_refused_naming_the_field(kwargs: dict[str, float], field: str) -> None:
    params: dict[str, object] = {"name": "bad", "capacity_kwh": 50.0, **kwargs}
    with pytest.raises(ValueError, match=field):
        EvModel(**params)  # type: ignore[arg-type]


def test_bad_state_of_charge_is_refused() -> None:
    with pytest.raises(ValueError, match="soc"):
        Ev(THREE_PHASE_16A, soc=1.5)

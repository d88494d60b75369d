"""Small hand-made problems for the optimizer tests."""

from __future__ import annotations

from typing import Any

from optimizer.model import Charger, Circuit, Horizon, LinearConstraint, Problem, Session, Tariff


def problem(
    chargers: tuple[Charger, ...],
    sessions: tuple[Session, ...],
    root_a: tuple[float, float, float] | None = (40.0, 40.0, 40.0),
    *,
    slots: int = 4,
    slot_s: float = 900.0,
    circuits: tuple[Circuit, ...] = (),
    constraints: tuple[LinearConstraint, ...] = (),
    price: float = 0.25,
    demand_charge_per_kw: float = 0.0,
    peak_so_far_kw: float = 0.0,
    root_kw: float | None = None,
) -> Problem:
    return Problem(
        horizon=Horizon.uniform(slots, slot_s),
        chargers=chargers,
        sessions=sessions,
        circuits=(Circuit("root", limit_a=root_a, limit_kw=root_kw), *circuits),
        tariff=Tariff((price,) * slots, demand_charge_per_kw, peak_so_far_kw),
        constraints=constraints,
    )


def three_phase(charger_id: str, circuit_id: str = "root", **kwargs: Any) -> Charger:
    return Charger(charger_id, circuit_id, **kwargs)


def car(
    charger_id: str, energy_kwh: float = 50.0, departure_s: float = 36000.0, **kwargs: Any
) -> Session:
    return Session(f"s-{charger_id}", charger_id, energy_kwh, departure_s, **kwargs)

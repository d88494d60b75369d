"""From a schedule of charger currents to a :class:`~optimizer.model.Plan` with its figures.

Every scheduler (LP or baseline) ends in :func:`make_plan`, so energy, unmet energy, cost, peak
and the limit sent now are computed the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimizer.circuits import present_mask
from optimizer.minimum import limits_now_a
from optimizer.model import (
    FloatArray,
    Plan,
    PlanStatus,
    Problem,
    Session,
    kw_per_a,
    per_problem,
    session_arrays,
)


def power_w(problem: Problem, current_a: FloatArray) -> FloatArray:
    """(chargers, slots): the power each charger draws at the scheduled current [W]."""
    return np.asarray(current_a, dtype=float) * (1000.0 * kw_per_a(problem))[:, None]


def site_power_kw(problem: Problem, current_a: FloatArray) -> FloatArray:
    """(slots,): total EV power of the site per slot [kW]."""
    return power_w(problem, current_a).sum(axis=0) / 1000.0


def planned_energy_kwh(problem: Problem, current_a: FloatArray) -> FloatArray:
    """(chargers, slots): energy scheduled per charger and slot while its car is present [kWh].

    Not capped: a schedule may allow more than a car still wants (it stops drawing when full).
    """
    power = power_w(problem, current_a) * present_mask(problem)
    return power * problem.horizon.hours[None, :] / 1000.0


def delivered_kwh(problem: Problem, current_a: FloatArray) -> dict[str, float]:
    """Energy each session receives over the horizon [kWh], by session id.

    The sum of power times hours over the slots the car is present, capped at its remaining
    energy: a car stops drawing when it is full.
    """
    planned = planned_energy_kwh(problem, current_a).sum(axis=1)
    index = problem.charger_index
    return {
        s.id: float(min(planned[index[s.charger_id]], s.energy_remaining_kwh))
        for s in problem.sessions
    }


def required_kwh(problem: Problem, session: Session) -> float:
    """The energy the plan owes the session within the horizon [kWh].

    Departure within the horizon: all of the remaining energy (delivered before departure, see
    the presence rule in :mod:`optimizer.circuits`).

    Departure beyond the horizon's end: the plan cannot be blamed for energy it could still
    deliver later, nor credited for energy it merely postpones. It owes the pro-rata share of
    the remaining energy for the part of the car's stay that lies inside the horizon,
    ``remaining * (end - start) / (departure - start)`` with ``start = max(arrival, 0)``. A car
    arriving after the horizon has no share yet.
    """
    remaining = session.energy_remaining_kwh
    end_s = problem.horizon.end_s
    if session.departure_s <= end_s:
        return remaining
    start_s = max(session.arrival_s, 0.0)
    return remaining * max(0.0, end_s - start_s) / (session.departure_s - start_s)


@per_problem
def required_by_charger_kwh(problem: Problem) -> FloatArray:
    """(chargers,): :func:`required_kwh` of the session on each charger; 0 on a free charger."""
    on = session_arrays(problem)
    end_s = problem.horizon.end_s
    start_s = np.maximum(on.arrival_s, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.maximum(0.0, end_s - start_s) / (on.departure_s - start_s)
    required = np.where(on.departure_s <= end_s, 1.0, share) * on.remaining_kwh
    return np.where(on.occupied, required, 0.0)


def unmet_kwh(problem: Problem, session: Session, delivered: float) -> float:
    """Energy the session misses under this plan [kWh]: what it is owed minus what it gets."""
    return max(0.0, required_kwh(problem, session) - delivered)


def make_plan(
    problem: Problem,
    current_a: FloatArray,
    *,
    status: PlanStatus,
    solver: str,
    solve_time_s: float,
    notes: Sequence[str] = (),
) -> Plan:
    """A :class:`Plan` for a (chargers, slots) schedule, with every figure computed here.

    ``energy_cost`` and ``peak_kw`` are taken from the scheduled power as given (not reduced
    where a car would be full): the plan's limits, the most the site can draw under it.
    ``limit_now_a`` is the first slot made into limits by
    :func:`~optimizer.minimum.limits_now_a`: quantized, the minimum-current rule applied, the
    capacity rounding freed given back, and passed through :func:`~optimizer.circuits.clamp`.
    """
    current_a = np.asarray(current_a, dtype=float)
    shape = (len(problem.chargers), problem.horizon.slots)
    if current_a.shape != shape:
        raise ValueError(f"current_a has shape {current_a.shape}, expected {shape}")
    power = power_w(problem, current_a)  # once: the figures below are all made from it
    site_kw = power.sum(axis=0) / 1000.0
    price = np.asarray(problem.tariff.import_price_per_kwh, dtype=float)
    peak_kw = float(max(0.0, site_kw.max()))
    planned = (power * present_mask(problem) * problem.horizon.hours[None, :] / 1000.0).sum(axis=1)
    on = session_arrays(problem)
    delivered_by_charger = np.minimum(planned, on.remaining_kwh)  # as delivered_kwh
    unmet_by_charger = np.maximum(0.0, required_by_charger_kwh(problem) - delivered_by_charger)
    index = problem.charger_index
    rows = [index[s.charger_id] for s in problem.sessions]
    ids = [s.id for s in problem.sessions]
    delivered = dict(zip(ids, delivered_by_charger[rows].tolist(), strict=True))
    return Plan(
        charger_ids=tuple(c.id for c in problem.chargers),
        current_a=current_a,
        power_w=power,
        limit_now_a=limits_now_a(problem, current_a[:, 0]),
        delivered_kwh=delivered,
        unmet_kwh=dict(zip(ids, unmet_by_charger[rows].tolist(), strict=True)),
        energy_cost=float(np.sum(site_kw * problem.horizon.hours * price)),
        demand_charge=problem.tariff.demand_charge_per_kw
        * max(0.0, peak_kw - problem.tariff.peak_so_far_kw),
        peak_kw=peak_kw,
        solve_time_s=solve_time_s,
        status=status,
        solver=solver,
        notes=tuple(notes),
    )

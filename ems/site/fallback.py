"""Fallback limits: what each charger may draw when ems is not there to control it.

At boot every charger gets a TxDefaultProfile with its fallback limit; a TxProfile that expires
(ems crashed, the network is down) falls back to it. So the limits must hold *all at once*, with
every charger drawing its fallback at the worst moment of the week: against each circuit's
tightest capacity (any time-of-day window), less the highest other load the meter's forecast
expects, on every phase, power limit and extra constraint.

Computed limits are max-min fair (progressive filling): every charger's limit rises together
until a charger reaches its maximum or a limit binds; the chargers behind that limit stop, the
others go on. Then each limit is quantized down to the charger's step and set to 0 below its
minimum current (:func:`optimizer.circuits.clamp`, which also makes every limit hold exactly);
chargers left at 0 are raised to their minimum, in key order, as long as everything still holds.

Configured values (``control.fallback_limit_a``, or a charger's own ``fallback_limit_a``) are
used as they are, capped at the charger's maximum; :func:`fallback_violations` says which limits
they would break, and the site loader refuses such a file.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from optimizer import model
from optimizer.circuits import BoolArray, CircuitTree, allowed_current_a, clamp, violations
from optimizer.model import FloatArray

if TYPE_CHECKING:
    from ems.site.model import SiteConfig

_TOL = 1e-9


def worst_case_circuits(site: SiteConfig) -> tuple[model.Circuit, ...]:
    """Each circuit at its tightest limits of the week, less the peak forecast other load."""
    meter = site.meter
    peak_kw = meter.peak_forecast_kw() if meter is not None else 0.0
    loaded = set(site.meter_path()) if peak_kw else set()
    out = []
    for circuit in site.circuits:
        limit_a, limit_kw = circuit.tightest_limits()
        if circuit.id in loaded:
            load_a = peak_kw * 1000.0 / (3 * site.voltage_v)
            if limit_a is not None:
                limit_a = (
                    max(0.0, limit_a[0] - load_a),
                    max(0.0, limit_a[1] - load_a),
                    max(0.0, limit_a[2] - load_a),
                )
            if limit_kw is not None:
                limit_kw = max(0.0, limit_kw - peak_kw)
        out.append(model.Circuit(circuit.id, circuit.parent_id, limit_a, limit_kw))
    return tuple(out)


def fallback_problem(site: SiteConfig) -> model.Problem:
    """One slot in which every charger has a car and the worst-case capacity holds."""
    chargers = site.optimizer_chargers()
    return model.Problem(
        horizon=model.Horizon((1.0,)),
        chargers=chargers,
        sessions=tuple(
            model.Session(id=c.id, charger_id=c.id, energy_requested_kwh=1.0, departure_s=1.0)
            for c in chargers
        ),
        circuits=worst_case_circuits(site),
        tariff=model.Tariff((0.0,)),
        constraints=site.optimizer_constraints(),
    )


def configured_fallbacks_a(site: SiteConfig) -> dict[str, float]:
    """The fallback limits the site file sets, by charger key, capped at each maximum."""
    out = {}
    for charger in site.chargers:
        value = charger.fallback_limit_a
        if value is None:
            value = site.control.fallback_limit_a
        if value is not None:
            out[charger.key] = min(value, charger.max_current_a)
    return out


def fallback_violations(site: SiteConfig) -> list[str]:
    """The limits the configured fallbacks break when all chargers draw them at once."""
    configured = configured_fallbacks_a(site)
    if not configured:
        return []
    problem = fallback_problem(site)
    current = np.array([[configured.get(c.id, 0.0)] for c in problem.chargers], dtype=float)
    return violations(problem, current)


def fallback_limits_a(site: SiteConfig) -> dict[str, float]:
    """The fallback limit of every charger [A], by key (see the module docstring)."""
    problem = fallback_problem(site)
    chargers = problem.chargers
    configured = configured_fallbacks_a(site)
    cap = np.array([c.max_current_a for c in chargers], dtype=float)
    x = np.array([configured.get(c.id, 0.0) for c in chargers], dtype=float)
    free = np.array([c.id not in configured for c in chargers]) & (cap > 0)
    tree = CircuitTree.build(problem)
    finite = np.isfinite(tree.rows_upper[:, 0])
    rows = tree.rows.tocsr()[np.flatnonzero(finite)]
    upper = tree.rows_upper[finite, 0]
    x = _fill(rows, upper, x, cap, free)
    limits = clamp(problem, x)
    if configured:
        return {key: configured.get(key, value) for key, value in limits.items()}
    return _raise_zeros_to_minimum(problem, tree, limits)


def _fill(
    rows: sp.csr_matrix, upper: FloatArray, x: FloatArray, cap: FloatArray, free: BoolArray
) -> FloatArray:
    """Progressive filling of the ``free`` chargers' currents from ``x`` up to ``cap``."""
    x = x.copy()
    active = free.copy()
    for _ in range(len(x) + rows.shape[0] + 1):
        if not active.any():
            break
        slack = upper - rows @ x
        rate = rows @ active.astype(float)
        rising = rate > _TOL
        step = float((cap - x)[active].min())
        if rising.any():
            step = min(step, float((slack[rising] / rate[rising]).min()))
        x[active] += max(step, 0.0)
        binding = rising & (upper - rows @ x <= _TOL * np.maximum(1.0, np.abs(upper)))
        stopped = np.zeros_like(active)
        if binding.any():
            stopped[np.unique(rows[np.flatnonzero(binding)].indices)] = True
        active &= ~stopped & (cap - x > _TOL)
    return x


def _raise_zeros_to_minimum(
    problem: model.Problem, tree: CircuitTree, limits: dict[str, float]
) -> dict[str, float]:
    """Chargers the clamp set to 0 get their minimum current while every limit still holds."""
    x = np.array([limits[c.id] for c in problem.chargers], dtype=float)
    upper, lower = tree.rows_upper[:, 0], tree.rows_lower[:, 0]
    rows = tree.rows.tocsr()
    for i, charger in enumerate(problem.chargers):
        if x[i] > 0 or charger.max_current_a <= 0:
            continue
        minimum = charger.min_current_a
        if charger.current_step_a > 0:
            minimum = math.ceil(minimum / charger.current_step_a - 1e-9) * charger.current_step_a
        candidate = allowed_current_a(charger, minimum, charger.max_current_a)
        if candidate <= 0:
            continue
        trial = x.copy()
        trial[i] = candidate
        load = rows @ trial
        if np.all(load <= upper + _TOL) and np.all((load >= lower - _TOL) | (lower > 0)):
            x = trial
    return {c.id: float(x[i]) for i, c in enumerate(problem.chargers)}

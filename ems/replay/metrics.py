"""The figures of a replay, computed from what the cars actually drew.

energy
    requested = the sum of the cars' needs, delivered = what they received before leaving,
    ``delivered_pct`` = delivered / requested, unmet = requested - delivered [kWh].
peak, cost, demand charge
    From the pieces of constant draw (:class:`~ems.replay.site.Piece`): the highest site EV power
    [kW]; the energy cost at the billing tariff's prices (each piece at the time-weighted mean
    price of its own span, exact across price boundaries); the demand charge, per calendar month
    of the site's local time, on that month's highest power.
limit violations
    Every piece's currents are checked against every circuit phase, circuit power limit and
    extra constraint of the site in force at its start (:class:`LimitChecker`, the same rows as
    :func:`optimizer.circuits.violations`, with its tolerance of 1e-6); a control step counts once
    however many of its pieces or rows broke a limit.
fairness
    Jain's index of the fraction of its need each car received:
    ``(sum x)^2 / (n * sum x^2)``, 1 when all received the same share (also when all received
    nothing), 1/n when one car received everything.
solve time
    Median and 95th percentile of the scheduler's wall-clock time per cycle [ms].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from ems.replay.site import Piece, SessionOutcome
from ems.site import SiteConfig
from ems.tariffs import Tariff
from optimizer.circuits import CircuitTree
from optimizer.model import Circuit, FloatArray, Horizon, Problem
from optimizer.model import Tariff as SlotTariff

VIOLATION_TOLERANCE = 1e-6


@dataclass(frozen=True)
class RunMetrics:
    """One replay's figures (see the module docstring); JSON-able with :meth:`as_dict`."""

    policy: str
    capacity_kw: float | None
    tariff: str
    knowledge: str
    sessions: int
    sessions_dropped: int
    energy_requested_kwh: float
    energy_delivered_kwh: float
    energy_delivered_pct: float
    unmet_kwh: float
    peak_kw: float
    energy_cost: float
    demand_charge: float
    currency: str
    violation_steps: int
    steps: int
    fairness_jain: float
    cycles: int
    solve_ms_median: float
    solve_ms_p95: float
    run_s: float
    violation_examples: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["violation_examples"] = list(self.violation_examples)
        return out


def jain_index(values: Iterable[float]) -> float:
    """Jain's fairness index of ``values`` (1 for none or all equal, 1/n for one non-zero)."""
    x = np.asarray(list(values), dtype=float)
    if len(x) == 0:
        return 1.0
    squares = float((x * x).sum())
    if squares <= 0.0:
        return 1.0
    return float(x.sum() ** 2 / (len(x) * squares))


def percentile_ms(times_s: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``times_s`` in milliseconds (0 without any)."""
    if not times_s:
        return 0.0
    return float(np.percentile(np.asarray(times_s) * 1000.0, q))


def energy_figures(outcomes: Iterable[SessionOutcome]) -> tuple[float, float, float]:
    """``(requested, delivered, Jain's index)`` over the sessions [kWh]."""
    requested = delivered = 0.0
    shares = []
    for outcome in outcomes:
        need = outcome.session.need_kwh
        requested += need
        delivered += outcome.delivered_kwh
        if need > 0:
            shares.append(min(1.0, outcome.delivered_kwh / need))
    return requested, delivered, jain_index(shares)


def energy_cost(pieces: Sequence[Piece], tariff: Tariff) -> float:
    """What the pieces' energy costs at ``tariff``'s energy prices (tax excluded)."""
    drawing = [p for p in pieces if p.energy_kwh > 0]
    if not drawing:
        return 0.0
    prices = tariff.import_prices_per_kwh(
        [p.start for p in drawing], [p.duration_s for p in drawing]
    )
    return float(sum(price * p.energy_kwh for price, p in zip(prices, drawing, strict=True)))


def monthly_peaks_kw(pieces: Sequence[Piece], site: SiteConfig) -> dict[tuple[int, int], float]:
    """The highest site EV power per calendar month of the site's local time [kW]."""
    zone = site.tz
    peaks: dict[tuple[int, int], float] = {}
    for piece in pieces:
        local = piece.start.astimezone(zone)
        month = (local.year, local.month)
        peaks[month] = max(peaks.get(month, 0.0), piece.power_w / 1000.0)
    return peaks


class LimitChecker:
    """Checks drawn currents against the site's limits in force at a moment."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self._chargers = site.optimizer_chargers()
        self._constraints = site.optimizer_constraints()
        self._rows: dict[tuple[Circuit, ...], tuple[sp.csr_matrix, FloatArray, FloatArray,
                                                    tuple[str, ...]]] = {}  # fmt: skip

    def broken(self, start: datetime, duration_s: float, current_a: FloatArray) -> list[str]:
        """The limits ``current_a`` (per charger, site order) breaks during the span, in words."""
        starts, durations = [start], [duration_s]
        other = self.site.other_load_forecast_kw(starts, durations)
        circuits = self.site.optimizer_circuits(starts, durations, other)
        rows, lower, upper, labels = self._tree(circuits)
        load = rows @ current_a
        found = [
            f"{labels[r]}: {load[r]:.6g} above {upper[r]:.6g}"
            for r in np.flatnonzero(load > upper + VIOLATION_TOLERANCE)
        ]
        found += [
            f"{labels[r]}: {load[r]:.6g} below {lower[r]:.6g}"
            for r in np.flatnonzero(load < lower - VIOLATION_TOLERANCE)
        ]
        return found

    def _tree(
        self, circuits: tuple[Circuit, ...]
    ) -> tuple[sp.csr_matrix, FloatArray, FloatArray, tuple[str, ...]]:
        cached = self._rows.get(circuits)
        if cached is None:
            problem = Problem(
                horizon=Horizon((1.0,)),
                chargers=self._chargers,
                sessions=(),
                circuits=circuits,
                tariff=SlotTariff((0.0,)),
                constraints=self._constraints,
            )
            tree = CircuitTree.build(problem)
            cached = (
                tree.rows.tocsr(),
                np.asarray(tree.rows_lower[:, 0]),
                np.asarray(tree.rows_upper[:, 0]),
                tree.row_labels,
            )
            self._rows[circuits] = cached
        return cached


def count_violations(
    pieces: Sequence[Piece],
    site: SiteConfig,
    start: datetime,
    step_s: float,
    examples: int = 5,
) -> tuple[int, list[str]]:
    """How many control steps broke a limit, and the first few broken limits in words."""
    checker = LimitChecker(site)
    steps: set[int] = set()
    found: list[str] = []
    for piece in pieces:
        if not piece.current_a.any():
            continue
        broken = checker.broken(piece.start, piece.duration_s, piece.current_a)
        if broken:
            steps.add(math.floor((piece.start - start).total_seconds() / step_s))
            if len(found) < examples:
                found.append(f"{piece.start.isoformat()}: {broken[0]}")
    return len(steps), found

"""What a replay runs: the site as the loop sees it, the policy, and what the loop knows.

A replay changes the site only where the question asks it to:

capacity
    :func:`with_capacity` sets the grid connection (the root circuit) to ``capacity_kw`` and
    scales the root's per-phase limits and every extra constraint whose id starts with
    ``"<root id>/"`` by the same factor: those are the grid connection's own limits (the Caltech
    transformer's line currents). Other constraints (the Caltech pods' 80 A) stay.
control settings
    :func:`replay_control` runs the loop every ``step_s`` (5 minutes by default) instead of every
    few seconds, with TxProfiles valid for :data:`VALIDITY_STEPS` steps and a solver time budget
    large enough that no solve falls back for lack of wall-clock time (that would make a replay
    depend on the machine).
policy
    :data:`POLICIES`: no control at all (``uncontrolled``: every car at its charger's maximum,
    as acnportal's uncontrolled charging), the optimizer's baselines, and the LP with three
    objectives. ``lp-energy`` sees a flat price (unmet energy first, then charging early and
    fairly), ``lp-cost`` the tariff's energy prices, ``lp-demand`` also its demand charge.
    The energy cost and demand charge of every run are billed with the same tariff whatever the
    policy saw.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum

from ems.site import CircuitSpec, ConstraintSpec, ControlSettings, SiteConfig
from ems.tariffs import FlatPrice, Tariff
from optimizer.baselines import EarliestDeadlineFirst, EqualShare, LeastLaxityFirst, Uncontrolled
from optimizer.lp_highs import HighsScheduler
from optimizer.scheduler import Scheduler

# A TxProfile sent by the replay's loop holds this many steps (it is renewed well before).
VALIDITY_STEPS = 4.0
# The flat price ``lp-energy`` and the baselines see [per kWh]. Not 0: the LP's tie-breakers
# (charge early, share fairly) are scaled by the price, and at 0 they fall below the solver's
# tolerance, which leaves the LP free to postpone charging it could do now.
FLAT_PRICE_PER_KWH = Decimal(1)
# The LP's wall-clock budget per solve in a replay [s]: generous, so that no plan depends on
# how busy the machine is.
REPLAY_SOLVE_BUDGET_S = 60.0


class Policy(StrEnum):
    """How the site is controlled in a replay (see the module docstring)."""

    UNCONTROLLED = "uncontrolled"
    FCFS = "fcfs"
    EQUAL = "equal"
    EDF = "edf"
    LLF = "llf"
    LP_ENERGY = "lp-energy"
    LP_COST = "lp-cost"
    LP_DEMAND = "lp-demand"

    @property
    def controlled(self) -> bool:
        """Whether the control loop runs (everything but ``uncontrolled``)."""
        return self is not Policy.UNCONTROLLED

    @property
    def is_lp(self) -> bool:
        return self.value.startswith("lp-")


POLICIES = tuple(p.value for p in Policy)

_BASELINES: dict[Policy, Callable[[], Scheduler]] = {
    Policy.FCFS: Uncontrolled,
    Policy.EQUAL: EqualShare,
    Policy.EDF: EarliestDeadlineFirst,
    Policy.LLF: LeastLaxityFirst,
}


def parse_policy(name: str) -> Policy:
    """The policy called ``name``; ValueError listing the known ones."""
    try:
        return Policy(name.strip().lower())
    except ValueError:
        raise ValueError(f"unknown policy {name!r}; one of {', '.join(POLICIES)}") from None


def make_policy_scheduler(policy: Policy, solve_budget_s: float) -> Scheduler | None:
    """The scheduler of a controlled policy (None for ``uncontrolled``: nothing plans)."""
    if policy is Policy.UNCONTROLLED:
        return None
    if policy.is_lp:
        return HighsScheduler(time_limit_s=solve_budget_s, fallback=EarliestDeadlineFirst())
    return _BASELINES[policy]()


def policy_tariff(policy: Policy, tariff: Tariff) -> Tariff:
    """The tariff the loop's optimizer sees under ``policy`` (billing always uses ``tariff``).

    The baselines do not look at prices: they get the flat price too, which saves pricing the
    horizon every cycle.
    """
    if policy is Policy.LP_ENERGY or not policy.is_lp:
        return dataclasses.replace(
            tariff,
            id=f"{tariff.id}-flat",
            energy=FlatPrice(FLAT_PRICE_PER_KWH),
            demand_charge_per_kw=Decimal(0),
        )
    if policy is Policy.LP_DEMAND:
        return tariff
    return dataclasses.replace(tariff, demand_charge_per_kw=Decimal(0))


def replay_control(
    control: ControlSettings, step_s: float, policy: Policy | None = None
) -> ControlSettings:
    """The site's control settings for a loop run every ``step_s`` simulated seconds.

    A baseline plans slot by slot, first slot first, so the limits it sends now do not depend on
    any later slot: under a baseline policy the horizon is cut to one step (same limits, a
    fraction of the work). The LP keeps the site's horizon.
    """
    if not (math.isfinite(step_s) and step_s > 0):
        raise ValueError(f"step_s: must be a positive number of seconds, got {step_s!r}")
    settings = dataclasses.replace(
        control,
        interval_s=step_s,
        profile_validity_s=max(control.profile_validity_s, VALIDITY_STEPS * step_s),
        solve_time_budget_s=REPLAY_SOLVE_BUDGET_S,
    )
    if policy is not None and not policy.is_lp and 86_400 % step_s == 0:
        settings = dataclasses.replace(
            settings, horizon_h=step_s / 3600.0, slot_s=step_s, first_slots_s=()
        )
    return settings


def root_capacity_kw(site: SiteConfig) -> float | None:
    """The grid connection's power limit [kW], None when it has none."""
    return site.root.limit_kw


def with_capacity(site: SiteConfig, capacity_kw: float) -> SiteConfig:
    """``site`` with its grid connection rated ``capacity_kw`` (see the module docstring).

    The root's ``limit_kw`` becomes ``capacity_kw``; when it had one, its per-phase limits, its
    time-of-day windows and the constraints named ``"<root id>/..."`` scale by
    ``capacity_kw / limit_kw``. A root without a power limit gets one; then there is no factor,
    and scaling constraints named after the root is refused (ValueError naming them).
    """
    if not (math.isfinite(capacity_kw) and capacity_kw > 0):
        raise ValueError(f"capacity_kw: must be a positive number, got {capacity_kw!r}")
    root = site.root
    prefix = f"{root.id}/"
    scaled_constraints = [c.id for c in site.constraints if c.id.startswith(prefix)]
    reference = root.limit_kw
    if reference is None or reference <= 0:
        if scaled_constraints:
            raise ValueError(
                f"capacity_kw: circuit {root.id!r} has no limit_kw to scale constraints "
                f"{', '.join(scaled_constraints[:3])} from"
            )
        factor = None
    else:
        factor = capacity_kw / reference

    def scale_a(limits: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if limits is None or factor is None:
            return limits
        return (limits[0] * factor, limits[1] * factor, limits[2] * factor)

    windows = tuple(
        dataclasses.replace(
            w,
            limit_a=scale_a(w.limit_a),
            limit_kw=None if w.limit_kw is None or factor is None else w.limit_kw * factor,
        )
        for w in root.schedule
    )
    new_root = CircuitSpec(
        id=root.id,
        parent_id=None,
        limit_a=scale_a(root.limit_a),
        limit_kw=capacity_kw,
        schedule=windows,
        timezone=root.timezone,
    )
    circuits = tuple(new_root if c.id == root.id else c for c in site.circuits)
    constraints = tuple(
        _scaled_constraint(c, factor) if c.id.startswith(prefix) and factor is not None else c
        for c in site.constraints
    )
    return dataclasses.replace(site, circuits=circuits, constraints=constraints)


def _scaled_constraint(constraint: ConstraintSpec, factor: float) -> ConstraintSpec:
    return dataclasses.replace(
        constraint,
        upper_a=constraint.upper_a * factor,
        lower_a=None if constraint.lower_a is None else constraint.lower_a * factor,
    )

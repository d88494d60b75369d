"""Pure charge-scheduling library (LP over circuits, phases, tariffs and departures).

No I/O, no clock, no database, and nothing imported from ``ems``.
"""

from optimizer.baselines import EarliestDeadlineFirst, EqualShare, LeastLaxityFirst, Uncontrolled
from optimizer.circuits import (
    CircuitTree,
    allowed_current_a,
    clamp,
    current_bounds_a,
    max_current_a,
    present_mask,
    quantize_down_a,
    violations,
)
from optimizer.evaluate import (
    delivered_kwh,
    make_plan,
    planned_energy_kwh,
    power_w,
    site_power_kw,
    unmet_kwh,
)
from optimizer.minimum import limits_now_a, lowest_currents_a, minimum_floor_a
from optimizer.model import loaded_phases, watts_per_amp
from optimizer.scheduler import Scheduler

__all__ = [
    "CircuitTree",
    "EarliestDeadlineFirst",
    "EqualShare",
    "LeastLaxityFirst",
    "Scheduler",
    "Uncontrolled",
    "allowed_current_a",
    "clamp",
    "current_bounds_a",
    "delivered_kwh",
    "limits_now_a",
    "loaded_phases",
    "lowest_currents_a",
    "make_plan",
    "max_current_a",
    "minimum_floor_a",
    "planned_energy_kwh",
    "power_w",
    "present_mask",
    "quantize_down_a",
    "site_power_kw",
    "unmet_kwh",
    "violations",
    "watts_per_amp",
]

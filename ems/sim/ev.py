"""Electric vehicle and battery model: constant current, then a taper above a SoC knee.

Pure and deterministic: no clock, no randomness. The station tells the car what it offers
(:class:`Offer`: a limit in A per phase or in W, the phases wired, AC or DC); the car takes the
least of that offer and what its on-board charger and battery accept at the present state of
charge. :meth:`Ev.advance` integrates the state of charge over a time step in small sub-steps, so
a step that crosses the knee or reaches full is exact to a fraction of a percent.

Charging is assumed lossless: the energy the meter counts is the energy the battery stores.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

MIN_AC_CURRENT_A = 6.0
"""Below this a (IEC 61851) charger cannot signal a current: the EVSE suspends charging."""

_MAX_SOC_STEP = 0.002
"""Largest change of state of charge integrated at one power, as a fraction of capacity."""


class Taper(enum.StrEnum):
    """How the battery's acceptance falls from the knee to full."""

    LINEAR = "linear"
    EXPONENTIAL = "exponential"


@dataclass(frozen=True, slots=True)
class EvModel:
    """A kind of car: battery and chargers.

    Parameters
    ----------
    capacity_kwh
        Usable battery capacity [kWh].
    ac_max_current_a
        On-board charger's maximum current per phase [A].
    ac_phases
        Phases the on-board charger uses: 1 or 3.
    dc_max_power_w
        Maximum DC charging power [W]; None when the car cannot charge on DC.
    knee_soc
        State of charge [0..1] above which acceptance tapers.
    taper
        Shape of the taper from the knee to full.
    tail_fraction
        Acceptance at 100 % as a fraction of full power, so a charge ends in finite time.
    """

    name: str
    capacity_kwh: float
    ac_max_current_a: float = 16.0
    ac_phases: int = 3
    dc_max_power_w: float | None = None
    knee_soc: float = 0.8
    taper: Taper = Taper.LINEAR
    tail_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.capacity_kwh <= 0:
            raise ValueError(f"{self.name}: capacity_kwh must be positive")
        if self.ac_max_current_a <= 0:
            raise ValueError(f"{self.name}: ac_max_current_a must be positive")
        if self.ac_phases not in (1, 3):
            raise ValueError(f"{self.name}: ac_phases must be 1 or 3, got {self.ac_phases}")
        if self.dc_max_power_w is not None and self.dc_max_power_w <= 0:
            raise ValueError(f"{self.name}: dc_max_power_w must be positive or None")
        if not 0 < self.knee_soc < 1:
            raise ValueError(f"{self.name}: knee_soc must be between 0 and 1")
        if not 0 < self.tail_fraction <= 1:
            raise ValueError(f"{self.name}: tail_fraction must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class Offer:
    """What an EVSE offers a car: its limit now, its wiring and nominal voltage.

    ``limit_a`` is per phase (as in a charging schedule with unit A); ``limit_w`` is the total.
    Either or both may be given; None for both means the EVSE imposes nothing but its wiring.
    ``voltage_v`` is phase to neutral. On DC, a limit in A is taken as that current on each of
    ``phases`` AC phases at ``voltage_v`` (the grid side).
    """

    limit_a: float | None = None
    limit_w: float | None = None
    phases: int = 3
    voltage_v: float = 230.0
    dc: bool = False
    min_current_a: float = MIN_AC_CURRENT_A


@dataclass(frozen=True, slots=True)
class Draw:
    """What a car takes: total power [W], current per phase [A] and the phases it uses."""

    power_w: float
    current_a: float
    phases: int


NO_DRAW = Draw(0.0, 0.0, 0)


class Ev:
    """One car's state: its model and state of charge, charging up to ``target_soc``."""

    def __init__(self, model: EvModel, soc: float, target_soc: float = 1.0) -> None:
        if not 0 <= soc <= 1:
            raise ValueError(f"soc must be between 0 and 1, got {soc}")
        if not 0 < target_soc <= 1:
            raise ValueError(f"target_soc must be in (0, 1], got {target_soc}")
        self.model = model
        self.soc = soc
        self.target_soc = target_soc
        self.energy_kwh = 0.0
        """Energy taken since plug-in [kWh]."""

    @property
    def full(self) -> bool:
        return self.soc >= self.target_soc - 1e-9

    @property
    def energy_needed_kwh(self) -> float:
        return max(0.0, self.target_soc - self.soc) * self.model.capacity_kwh

    def acceptance(self) -> float:
        """Fraction [0..1] of its full power the battery accepts at the present state of charge."""
        if self.full:
            return 0.0
        knee = self.model.knee_soc
        if self.soc <= knee:
            return 1.0
        progress = (self.soc - knee) / (1.0 - knee)
        tail = self.model.tail_fraction
        if self.model.taper is Taper.EXPONENTIAL:
            return float(tail**progress)
        return 1.0 - (1.0 - tail) * progress

    def draw(self, offer: Offer) -> Draw:
        """What the car takes from ``offer`` now: the least of the offer and its own limits."""
        acceptance = self.acceptance()
        if acceptance <= 0:
            return NO_DRAW
        if offer.dc:
            return self._draw_dc(offer, acceptance)
        phases = min(self.model.ac_phases, offer.phases)
        offered_a = math.inf
        if offer.limit_a is not None:
            offered_a = offer.limit_a
        if offer.limit_w is not None:
            offered_a = min(offered_a, offer.limit_w / (offer.voltage_v * phases))
        if offered_a < offer.min_current_a:
            return NO_DRAW
        current_a = min(offered_a, self.model.ac_max_current_a * acceptance)
        return Draw(current_a * offer.voltage_v * phases, current_a, phases)

    def _draw_dc(self, offer: Offer, acceptance: float) -> Draw:
        if self.model.dc_max_power_w is None:
            return NO_DRAW
        grid_v = offer.voltage_v * offer.phases
        offered_w = math.inf
        if offer.limit_a is not None:
            offered_w = offer.limit_a * grid_v
        if offer.limit_w is not None:
            offered_w = min(offered_w, offer.limit_w)
        power_w = min(offered_w, self.model.dc_max_power_w * acceptance)
        if power_w <= 0:
            return NO_DRAW
        return Draw(power_w, power_w / grid_v, offer.phases)

    def power_w(self, offer: Offer) -> float:
        """Power [W] the car takes from ``offer`` at the present state of charge."""
        return self.draw(offer).power_w

    def advance(self, dt_s: float, offer: Offer) -> float:
        """Charge for ``dt_s`` seconds under ``offer``; returns the energy taken [kWh].

        The power is recomputed whenever the state of charge has moved by 0.2 %, so the taper
        and the end of charge are followed within a step.
        """
        if dt_s < 0:
            raise ValueError(f"dt_s must not be negative, got {dt_s}")
        capacity_kws = self.model.capacity_kwh * 3600.0
        remaining_s = dt_s
        taken_kwh = 0.0
        while remaining_s > 1e-9:
            power_w = self.power_w(offer)
            if power_w <= 0:
                break
            power_kw = power_w / 1000.0
            to_target_kws = (self.target_soc - self.soc) * capacity_kws
            step_s = min(remaining_s, _MAX_SOC_STEP * capacity_kws / power_kw)
            if power_kw * step_s >= to_target_kws:
                step_s = to_target_kws / power_kw
                self.soc = self.target_soc
            else:
                self.soc += power_kw * step_s / capacity_kws
            taken_kwh += power_kw * step_s / 3600.0
            remaining_s -= step_s
        self.energy_kwh += taken_kwh
        return taken_kwh

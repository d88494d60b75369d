"""The latest measured values of every EVSE and site meter, as the control loop needs them.

Meter values arrive in many shapes: power in W or kW, per phase or in total, current per phase
(``L1``, ``L1-N``), energy registers in Wh or kWh, sometimes with ``Inlet`` and ``Outlet``
locations. :class:`Measurements` reduces them to one reading per EVSE: power [W], current per site
phase of the charger [A], the energy register [Wh] and the state of charge [%], each with the time
it was measured. It is fed from the central system's events (live) or by the replay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ems.domain import MeterSample

POWER = "Power.Active.Import"
CURRENT = "Current.Import"
ENERGY = "Energy.Active.Import.Register"
SOC = "SoC"

_PHASES = {"L1": 0, "L2": 1, "L3": 2, "L1-N": 0, "L2-N": 1, "L3-N": 2}
_SCALE = {"W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0, "A": 1.0}


@dataclass(slots=True)
class Reading:
    """What an EVSE (or a site meter) last reported; None where it never reported it."""

    power_w: float | None = None
    power_at: datetime | None = None
    current_a: list[float | None] = field(default_factory=lambda: [None, None, None])
    current_at: datetime | None = None
    energy_wh: float | None = None
    energy_at: datetime | None = None
    soc_percent: float | None = None

    @property
    def measured_at(self) -> datetime | None:
        """When the most recent power or current value was measured."""
        times = [t for t in (self.power_at, self.current_at) if t is not None]
        return max(times) if times else None

    def max_current_a(self) -> float | None:
        """The highest per-phase current measured, None without a current measurement."""
        values = [c for c in self.current_a if c is not None]
        return max(values) if values else None


def _scaled(sample: MeterSample) -> float:
    return sample.value * _SCALE.get(sample.unit or "", 1.0)


class Measurements:
    """Latest readings by ``(charge_point_id, evse_id)``; older samples never overwrite newer."""

    def __init__(self) -> None:
        self._readings: dict[tuple[str, int], Reading] = {}

    def get(self, charge_point_id: str, evse_id: int) -> Reading | None:
        return self._readings.get((charge_point_id, evse_id))

    def clear(self, charge_point_id: str, evse_id: int) -> None:
        """Forget an EVSE's readings (its car left: the next car starts from nothing)."""
        self._readings.pop((charge_point_id, evse_id), None)

    def add(self, charge_point_id: str, evse_id: int, samples: Iterable[MeterSample]) -> None:
        """Take the power, current, energy and SoC samples of one meter-values message.

        Values at the inlet (the grid side of a site meter) and the outlet (the car) are treated
        alike; a sample without phase is the total. Per-phase power without a total is summed.
        """
        reading = self._readings.setdefault((charge_point_id, evse_id), Reading())
        phase_power: dict[datetime, float] = {}
        for sample in samples:
            if sample.location not in (None, "Outlet", "Inlet"):
                continue
            at = sample.timestamp
            if sample.measurand == POWER:
                if sample.phase is None:
                    if reading.power_at is None or at >= reading.power_at:
                        reading.power_w, reading.power_at = _scaled(sample), at
                elif sample.phase in _PHASES:
                    phase_power[at] = phase_power.get(at, 0.0) + _scaled(sample)
            elif sample.measurand == CURRENT and sample.phase in _PHASES:
                if reading.current_at is None or at > reading.current_at:
                    reading.current_a = [None, None, None]
                    reading.current_at = at
                if at == reading.current_at:
                    reading.current_a[_PHASES[sample.phase]] = _scaled(sample)
            elif sample.measurand == ENERGY and sample.phase is None:
                if reading.energy_at is None or at >= reading.energy_at:
                    reading.energy_wh, reading.energy_at = _scaled(sample), at
            elif sample.measurand == SOC:
                reading.soc_percent = sample.value
        for at, power_w in phase_power.items():
            if reading.power_at is None or at > reading.power_at:
                reading.power_w, reading.power_at = power_w, at

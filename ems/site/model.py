"""A site as ems sees it: circuit tree, chargers, meter, tariff and control settings.

:func:`ems.site.load_site` builds these frozen objects from a site file; the control loop and the
replay read them and turn them into the optimizer's inputs (:meth:`SiteConfig.optimizer_chargers`,
:meth:`SiteConfig.optimizer_circuits`, :meth:`SiteConfig.horizon`, ...).

Nomenclature
------------
charger key
    ``"{charge_point_id}/{evse_id}"``: one controllable outlet; the optimizer's charger id.
site phases
    0, 1, 2 for L1, L2, L3 of the grid connection. ``ChargerSpec.phases`` lists the site phases
    the charger's own L1, L2, L3 are wired to (phase rotation).
other load
    What the site draws besides the chargers (buildings, compressors), minus PV; it comes off
    the capacity of the meter's circuit and of every circuit above it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ems.site.fallback import fallback_limits_a
from ems.site.horizon import slot_edges
from ems.tariffs import Tariff
from ems.tariffs.weekly import ALL_DAYS, MINUTES_PER_DAY, WeeklySchedule, Window, overlaps
from optimizer import model

PhaseLimits = tuple[float, float, float]
PHASE_NAMES = ("L1", "L2", "L3")
Scheduler = Literal["lp", "edf", "llf", "equal", "uncontrolled"]
INF = float("inf")


@dataclass(frozen=True, slots=True)
class CapacityWindow:
    """Limits that replace a circuit's own during a weekly local-time window (a daytime cap).

    A limit left None keeps the circuit's own limit of that kind.
    """

    window: Window
    limit_a: PhaseLimits | None = None
    limit_kw: float | None = None


@dataclass(frozen=True, slots=True)
class CircuitSpec:
    """A node of the circuit tree: the grid connection (no parent), a transformer, a feeder.

    ``limit_a`` per site phase and ``limit_kw`` on total power hold for everything below the
    node; ``schedule`` overrides them in local-time windows of ``timezone``.
    """

    id: str
    parent_id: str | None = None
    limit_a: PhaseLimits | None = None
    limit_kw: float | None = None
    schedule: tuple[CapacityWindow, ...] = ()
    timezone: str = "UTC"
    _weekly: WeeklySchedule | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.schedule:
            weekly = WeeklySchedule([w.window for w in self.schedule], ZoneInfo(self.timezone))
            object.__setattr__(self, "_weekly", weekly)

    def _limits(self, window: int | None) -> tuple[PhaseLimits | None, float | None]:
        if window is None:
            return self.limit_a, self.limit_kw
        entry = self.schedule[window]
        limit_a = entry.limit_a if entry.limit_a is not None else self.limit_a
        limit_kw = entry.limit_kw if entry.limit_kw is not None else self.limit_kw
        return limit_a, limit_kw

    def tightest_limits(self) -> tuple[PhaseLimits | None, float | None]:
        """The lowest limits at any time of the week (per phase, and on power)."""
        candidates = [self._limits(None)] + [self._limits(i) for i in range(len(self.schedule))]
        return _tightest(candidates)

    def limits_by_slot(
        self, slot_starts: Sequence[datetime], durations_s: Sequence[float]
    ) -> list[tuple[PhaseLimits | None, float | None]]:
        """Per slot, the tightest limits in force at any moment of it."""
        if self._weekly is None or not slot_starts:
            return [self._limits(None)] * len(slot_starts)
        first = min(slot_starts)
        last = max(s + timedelta(seconds=d) for s, d in zip(slot_starts, durations_s, strict=True))
        segments = self._weekly.segments(first, last)
        return [
            _tightest([self._limits(seg.window) for _, seg in pieces])
            for pieces in overlaps(segments, slot_starts, durations_s)
        ]


def _tightest(
    candidates: Sequence[tuple[PhaseLimits | None, float | None]],
) -> tuple[PhaseLimits | None, float | None]:
    phase = [c[0] for c in candidates if c[0] is not None]
    power = [c[1] for c in candidates if c[1] is not None]
    limit_a = None
    if phase:  # moments without a phase limit do not loosen the others
        limit_a = (min(p[0] for p in phase), min(p[1] for p in phase), min(p[2] for p in phase))
    return limit_a, (min(power) if power else None)


@dataclass(frozen=True, slots=True)
class ChargerSpec:
    """One controllable outlet (an EVSE of a charge point) and how it hangs in the site.

    Currents are per phase [A]. A DC charger is given by the per-phase AC current of its power
    at ``voltage_v`` (``max_current_a = max_power_w / (len(phases) * voltage_v)``).
    ``fallback_limit_a`` overrides the computed fallback (TxDefaultProfile) limit.
    """

    key: str
    charge_point_id: str
    evse_id: int
    circuit_id: str
    phases: tuple[int, ...] = (0, 1, 2)
    min_current_a: float = 6.0
    max_current_a: float = 32.0
    current_step_a: float = 1.0
    voltage_v: float = 230.0
    dc: bool = False
    max_power_w: float | None = None
    line_to_line: bool = False
    fallback_limit_a: float | None = None

    @property
    def watts_per_amp(self) -> float:
        """Power per ampere of per-phase current [W/A]."""
        return self.voltage_v * (1 if self.line_to_line else len(self.phases))

    @property
    def phase_names(self) -> str:
        """The site phases as written in a site file: ``"L2L3L1"``."""
        return "".join(PHASE_NAMES[p] for p in self.phases)

    def optimizer_charger(self) -> model.Charger:
        return model.Charger(
            id=self.key,
            circuit_id=self.circuit_id,
            phases=self.phases,
            min_current_a=self.min_current_a,
            max_current_a=self.max_current_a,
            current_step_a=self.current_step_a,
            voltage_v=self.voltage_v,
            line_to_line=self.line_to_line,
            dc=self.dc,
        )


@dataclass(frozen=True, slots=True)
class ConstraintSpec:
    """``lower_a <= sum(coefficient * current of charger key) <= upper_a``, always."""

    id: str
    coefficients: Mapping[str, float]
    upper_a: float
    lower_a: float | None = None


@dataclass(frozen=True, slots=True)
class SiteMeterSpec:
    """Where the site's other (non-EV) load comes from.

    ``charge_point_id``/``evse_id`` name an OCPP meter (EVSE 0 of a charge point, or a meter
    that connects as a charge point) measuring ``measures``: "total" (the grid connection,
    chargers included; other load = total - chargers) or "other" (only the other load). A
    forecast is ``base_load_kw`` (constant) or ``profile_kw`` (equal parts of the local day,
    e.g. 24 hourly values). ``pv_peak_kw`` is the PV plant's peak, for PV forecasts.
    """

    circuit_id: str
    charge_point_id: str | None = None
    evse_id: int = 0
    measures: Literal["total", "other"] = "total"
    base_load_kw: float | None = None
    profile_kw: tuple[float, ...] | None = None
    pv_peak_kw: float | None = None

    @property
    def has_forecast(self) -> bool:
        return self.base_load_kw is not None or self.profile_kw is not None

    def peak_forecast_kw(self) -> float:
        """The highest other load the forecast expects [kW] (0 without a forecast)."""
        if self.profile_kw is not None:
            return max(self.profile_kw)
        return self.base_load_kw or 0.0

    def forecast_kw(
        self, slot_starts: Sequence[datetime], durations_s: Sequence[float], timezone: ZoneInfo
    ) -> tuple[float, ...] | None:
        """The forecast's mean other load per slot [kW], or None without a forecast."""
        if self.profile_kw is None:
            if self.base_load_kw is None:
                return None
            return (self.base_load_kw,) * len(slot_starts)
        if not slot_starts:
            return ()
        schedule = _day_parts(len(self.profile_kw), timezone.key)
        last = max(s + timedelta(seconds=d) for s, d in zip(slot_starts, durations_s, strict=True))
        segments = schedule.segments(min(slot_starts), last)
        out = []
        for pieces in overlaps(segments, slot_starts, durations_s):
            seconds = sum(s for s, _ in pieces)
            weighted = sum(s * self.profile_kw[seg.window or 0] for s, seg in pieces)
            out.append(weighted / seconds if seconds > 0 else self.profile_kw[0])
        return tuple(out)


@functools.lru_cache(maxsize=16)
def _day_parts(parts: int, timezone: str) -> WeeklySchedule:
    """Windows splitting every local day into ``parts`` equal parts (window i = part i)."""
    step = MINUTES_PER_DAY // parts
    windows = [Window(i * step, (i + 1) * step, ALL_DAYS) for i in range(parts)]
    return WeeklySchedule(windows, ZoneInfo(timezone))


@dataclass(frozen=True, slots=True)
class ControlSettings:
    """How the control loop runs (see the site file documentation for each key)."""

    interval_s: float = 5.0
    deadband_a: float = 1.0
    horizon_h: float = 24.0
    slot_s: float = 900.0
    first_slots_s: tuple[float, ...] = ()
    profile_validity_s: float = 120.0
    fallback_limit_a: float | None = None
    default_departure_h: float = 8.0
    default_energy_kwh: float = 30.0
    scheduler: Scheduler = "lp"
    solve_time_budget_s: float = 1.0


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """One site, checked: every reference resolves, the tree has one root and no cycle."""

    id: str
    name: str
    timezone: str
    circuits: tuple[CircuitSpec, ...]
    chargers: tuple[ChargerSpec, ...]
    constraints: tuple[ConstraintSpec, ...]
    meter: SiteMeterSpec | None
    tariff: Tariff
    control: ControlSettings
    voltage_v: float = 230.0
    description: str = ""
    _by_key: dict[str, ChargerSpec] = field(init=False, repr=False, compare=False)
    _optimizer_chargers: tuple[model.Charger, ...] = field(
        init=False, repr=False, compare=False
    )
    _optimizer_constraints: tuple[model.LinearConstraint, ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {c.key: c for c in self.chargers})
        # Built once: the control loop asks every cycle, and the optimizer caches its circuit
        # matrices by these (equal) chargers.
        chargers = tuple(c.optimizer_charger() for c in self.chargers)
        object.__setattr__(self, "_optimizer_chargers", chargers)
        constraints = tuple(
            model.LinearConstraint(c.id, dict(c.coefficients), c.upper_a, c.lower_a)
            for c in self.constraints
        )
        object.__setattr__(self, "_optimizer_constraints", constraints)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def root(self) -> CircuitSpec:
        return next(c for c in self.circuits if c.parent_id is None)

    def circuit(self, circuit_id: str) -> CircuitSpec:
        return next(c for c in self.circuits if c.id == circuit_id)

    def charger(self, key: str) -> ChargerSpec:
        """The charger with this key; KeyError naming it when there is none."""
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"site {self.id} has no charger {key!r}") from None

    def charger_key(self, charge_point_id: str, evse_id: int) -> str | None:
        """The key of the charger at this charge point and EVSE, None when not part of the site."""
        key = f"{charge_point_id}/{evse_id}"
        return key if key in self._by_key else None

    def is_site_meter(self, charge_point_id: str, evse_id: int) -> bool:
        meter = self.meter
        return (
            meter is not None
            and meter.charge_point_id == charge_point_id
            and meter.evse_id == evse_id
        )

    def optimizer_chargers(self) -> tuple[model.Charger, ...]:
        """The chargers as the optimizer sees them, in site order; id = ``ChargerSpec.key``."""
        return self._optimizer_chargers

    def optimizer_constraints(self) -> tuple[model.LinearConstraint, ...]:
        """The extra constraints, built once (the same objects every cycle)."""
        return self._optimizer_constraints

    def meter_path(self) -> tuple[str, ...]:
        """The meter's circuit and every circuit above it: where other load flows."""
        if self.meter is None:
            return ()
        parent = {c.id: c.parent_id for c in self.circuits}
        path: list[str] = []
        node: str | None = self.meter.circuit_id
        while node is not None:
            path.append(node)
            node = parent[node]
        return tuple(path)

    def optimizer_circuits(
        self,
        slot_starts: Sequence[datetime],
        durations_s: Sequence[float],
        other_load_kw: Sequence[float] | None = None,
    ) -> tuple[model.Circuit, ...]:
        """The tree with each slot's capacity: the tightest in force during the slot, minus the
        other load on the meter's path (kW off power limits and, balanced at the nominal
        voltage, ``kW * 1000 / (3 * voltage_v)`` A off each phase). Never below 0.

        Without ``other_load_kw`` nothing is subtracted; pass the meter's forecast
        (:meth:`SiteMeterSpec.forecast_kw`) or a live estimate.
        """
        if len(slot_starts) != len(durations_s):
            raise ValueError("need one duration per slot start")
        if other_load_kw is not None and len(other_load_kw) != len(slot_starts):
            raise ValueError("need one other load per slot")
        loaded = set(self.meter_path()) if other_load_kw is not None else set()
        out = []
        for circuit in self.circuits:
            if not circuit.schedule and circuit.id not in loaded:
                out.append(
                    model.Circuit(circuit.id, circuit.parent_id, circuit.limit_a, circuit.limit_kw)
                )
                continue
            limits = circuit.limits_by_slot(slot_starts, durations_s)
            load = other_load_kw if circuit.id in loaded else None
            out.append(self._circuit_by_slot(circuit, limits, load))
        return tuple(out)

    def _circuit_by_slot(
        self,
        circuit: CircuitSpec,
        limits: Sequence[tuple[PhaseLimits | None, float | None]],
        other_load_kw: Sequence[float] | None,
    ) -> model.Circuit:
        loads = other_load_kw if other_load_kw is not None else [0.0] * len(limits)
        has_a = any(a is not None for a, _ in limits)
        has_kw = any(kw is not None for _, kw in limits)
        by_a: list[PhaseLimits] = []
        by_kw: list[float] = []
        for (limit_a, limit_kw), load_kw in zip(limits, loads, strict=True):
            load_a = load_kw * 1000.0 / (3 * self.voltage_v)
            phases = limit_a if limit_a is not None else (INF, INF, INF)
            by_a.append(
                (
                    max(0.0, phases[0] - load_a),
                    max(0.0, phases[1] - load_a),
                    max(0.0, phases[2] - load_a),
                )
            )
            by_kw.append(max(0.0, (INF if limit_kw is None else limit_kw) - load_kw))
        return model.Circuit(
            circuit.id,
            circuit.parent_id,
            limit_a_by_slot=tuple(by_a) if has_a else None,
            limit_kw_by_slot=tuple(by_kw) if has_kw else None,
        )

    def horizon(self, now: datetime) -> tuple[list[datetime], model.Horizon]:
        """Slot starts (aware UTC) and the optimizer's horizon from ``now``, on the shared grid
        of :mod:`ems.site.horizon`."""
        control = self.control
        starts, durations = slot_edges(
            now,
            control.horizon_h * 3600.0,
            control.slot_s,
            control.first_slots_s,
            min_first_s=control.interval_s,
        )
        return starts, model.Horizon(tuple(durations))

    def other_load_forecast_kw(
        self, slot_starts: Sequence[datetime], durations_s: Sequence[float]
    ) -> tuple[float, ...] | None:
        """The meter's configured forecast of other load per slot [kW], if any."""
        if self.meter is None:
            return None
        return self.meter.forecast_kw(slot_starts, durations_s, self.tz)

    def fallback_limits_a(self) -> dict[str, float]:
        """The TxDefaultProfile limit per charger key [A]: all of them at once fit the tightest
        capacity of every circuit, phase and constraint (see :mod:`ems.site.fallback`)."""
        return fallback_limits_a(self)

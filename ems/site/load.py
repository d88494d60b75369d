"""Site files (``data/sites/*.toml``): read, checked, and turned into a :class:`SiteConfig`.

Every error names the file and the key (``chargers[3].max_current_a: must be >= min_current_a``);
all errors of a file are reported at once. The format is documented in ``data/sites/README.md``;
in short::

    [site]
    id = "depot"                        # no '/' or spaces
    name = "Bus depot"
    timezone = "Europe/Amsterdam"       # IANA; capacity windows and tariff periods are local
    voltage_v = 230                     # nominal line-to-neutral voltage
    tariff = "../tariffs/tou.toml"      # relative to this file, or an inline [tariff] table

    [[circuits]]                        # exactly one without parent: the grid connection
    id = "grid"
    limit_a = 250                       # per phase: one number, or [L1, L2, L3]
    limit_kw = 160                      # on total power (optional)
    [[circuits.schedule]]               # other limits in a local-time window (optional)
    from = "07:00"
    to = "19:00"
    days = ["mon", "tue", "wed", "thu", "fri"]   # optional: every day
    limit_kw = 120

    [[circuits]]
    id = "cabinet-a"
    parent = "grid"
    limit_a = [100, 100, 100]

    [[chargers]]
    charge_point_id = "DEPOT-{n:02}"    # {n} numbers the copies when count > 1
    count = 18                          # optional, default 1; first = 1 is the first n
    evses = 1                           # EVSEs 1..evses per charge point (or evse_id = N)
    circuit = "cabinet-a"               # default: the grid connection
    phases = ["L1L2L3", "L2L3L1", "L3L1L2"]  # one, or a list the copies take in turn
    min_current_a = 6
    max_current_a = 32
    current_step_a = 1                  # 0: any value
    # dc = true with max_power_kw (and min_power_kw) instead of the currents;
    # line_to_line = true for a charger across two lines (208 V networks); voltage_v override;
    # fallback_limit_a overrides the computed fallback.

    [[constraints]]                     # extra linear limits on charger currents
    id = "pair"
    upper_a = 40
    coefficients = { "DEPOT-01/1" = 1, "DEPOT-02/1" = 1 }

    [meter]                             # the site's other load (optional)
    charge_point_id = "DEPOT-GRID"      # an OCPP meter, evse_id = 0
    measures = "total"                  # or "other"
    base_load_kw = 12                   # or profile_kw = [24 hourly values, local time]

    [control]                           # all optional, see ControlSettings
    interval_s = 5
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ems.config import ConfigError
from ems.site.fallback import fallback_violations
from ems.site.model import (
    PHASE_NAMES,
    CapacityWindow,
    ChargerSpec,
    CircuitSpec,
    ConstraintSpec,
    ControlSettings,
    SiteConfig,
    SiteMeterSpec,
)
from ems.tariffs import Tariff
from ems.tariffs.load import (
    StrictModel,
    WindowFields,
    error_lines,
    load_tariff,
    parse_tariff,
    zone_named,
)
from ems.tariffs.weekly import MINUTES_PER_DAY

_ID = r"^[^/\s]+$"
_PHASES = re.compile(r"^(L[123]){1,3}$")


def _phase_limits(value: Any) -> Any:
    """One number for all three phases, or a list [L1, L2, L3]."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (value, value, value)
    if isinstance(value, list) and len(value) != 3:
        raise ValueError("give one number (every phase) or three, [L1, L2, L3]")
    return value


PhaseLimitsA = Annotated[
    tuple[
        Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]
    ],
    BeforeValidator(_phase_limits),
]


def parse_phases(text: str) -> tuple[int, ...]:
    """``"L2L3L1"`` as site phases ``(1, 2, 0)``; ValueError for anything else."""
    upper = text.strip().upper()
    if not _PHASES.match(upper):
        raise ValueError(f"{text!r} is not a phase list like 'L1L2L3', 'L2L3L1' or 'L3'")
    phases = tuple(PHASE_NAMES.index(upper[i : i + 2]) for i in range(0, len(upper), 2))
    if len(set(phases)) != len(phases):
        raise ValueError(f"{text!r} names a phase twice")
    return phases


_Strict = StrictModel


class _Site(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=_ID)
    name: str | None = None
    description: str = ""
    timezone: str
    voltage_v: float = Field(230.0, gt=0)
    tariff: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_named(value)
        return value


class _Window(WindowFields):
    limit_a: PhaseLimitsA | None = None
    limit_kw: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some_limit(self) -> _Window:
        if self.limit_a is None and self.limit_kw is None:
            raise ValueError("a schedule entry needs limit_a or limit_kw")
        if self.from_ == self.to:
            raise ValueError("from and to are equal (use 00:00 to 24:00 for a whole day)")
        return self

    def capacity_window(self) -> CapacityWindow:
        return CapacityWindow(self.window(), self.limit_a, self.limit_kw)


class _Circuit(_Strict):
    id: str = Field(min_length=1, max_length=64)
    parent: str | None = None
    limit_a: PhaseLimitsA | None = None
    limit_kw: float | None = Field(None, ge=0)
    schedule: list[_Window] = []


class _Charger(_Strict):
    charge_point_id: str = Field(min_length=1, max_length=48)
    count: int = Field(1, ge=1, le=10_000)
    first: int = Field(1, ge=0)
    evse_id: int | None = Field(None, ge=1)
    evses: int = Field(1, ge=1, le=16)
    circuit: str | None = None
    phases: str | list[str] = "L1L2L3"
    line_to_line: bool = False
    min_current_a: float | None = Field(None, ge=0)
    max_current_a: float | None = Field(None, gt=0)
    current_step_a: float | None = Field(None, ge=0)
    dc: bool = False
    max_power_kw: float | None = Field(None, gt=0)
    min_power_kw: float | None = Field(None, ge=0)
    voltage_v: float | None = Field(None, gt=0)
    fallback_limit_a: float | None = Field(None, ge=0)

    @field_validator("phases")
    @classmethod
    def _phases(cls, value: str | list[str]) -> str | list[str]:
        for entry in [value] if isinstance(value, str) else value:
            parse_phases(entry)
        if isinstance(value, list) and not value:
            raise ValueError("list at least one phase set")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _Charger:
        if self.evse_id is not None and self.evses != 1:
            raise ValueError("evses: give evse_id or evses, not both")
        if self.count > 1 and "{n" not in self.charge_point_id:
            raise ValueError("charge_point_id: needs {n} (e.g. 'CP-{n:02}') when count > 1")
        if self.dc:
            for key in ("min_current_a", "max_current_a", "line_to_line"):
                if getattr(self, key):
                    raise ValueError(f"{key}: a DC charger is given by max_power_kw")
            if self.max_power_kw is None:
                raise ValueError("max_power_kw: required for a DC charger")
        else:
            for key in ("max_power_kw", "min_power_kw"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: only for DC chargers (dc = true)")
        return self

    def phase_sets(self) -> list[tuple[int, ...]]:
        entries = [self.phases] if isinstance(self.phases, str) else self.phases
        return [parse_phases(p) for p in entries]


class _Constraint(_Strict):
    id: str = Field(min_length=1)
    coefficients: dict[str, float] = Field(min_length=1)
    upper_a: float
    lower_a: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> _Constraint:
        if self.lower_a is not None and self.lower_a > self.upper_a:
            raise ValueError("lower_a: must be <= upper_a")
        return self


class _Meter(_Strict):
    charge_point_id: str | None = Field(None, min_length=1, max_length=48, pattern=_ID)
    evse_id: int = Field(0, ge=0)
    measures: Literal["total", "other"] = "total"
    circuit: str | None = None
    base_load_kw: float | None = None
    profile_kw: list[float] | None = None
    pv_peak_kw: float | None = Field(None, ge=0)

    @field_validator("profile_kw")
    @classmethod
    def _profile(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (not value or MINUTES_PER_DAY % len(value)):
            raise ValueError("needs a number of values that splits the day into whole minutes")
        return value

    @model_validator(mode="after")
    def _source(self) -> _Meter:
        if self.base_load_kw is not None and self.profile_kw is not None:
            raise ValueError("profile_kw: give base_load_kw or profile_kw, not both")
        if self.charge_point_id is None and self.base_load_kw is None and self.profile_kw is None:
            raise ValueError("give charge_point_id (a meter) and/or base_load_kw or profile_kw")
        return self


class _Control(_Strict):
    interval_s: float = Field(5.0, gt=0)
    deadband_a: float = Field(1.0, ge=0)
    horizon_h: float = Field(24.0, gt=0, le=24 * 14)
    slot_s: float = Field(900.0, gt=0)
    first_slots: list[float] = []
    profile_validity_s: float = Field(120.0, gt=0)
    fallback_limit_a: float | None = Field(None, ge=0)
    default_departure_h: float = Field(8.0, gt=0)
    default_energy_kwh: float = Field(30.0, ge=0)
    scheduler: Literal["lp", "edf", "llf", "equal", "uncontrolled"] = "lp"
    solve_time_budget_s: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> _Control:
        if self.slot_s != int(self.slot_s) or 86_400 % int(self.slot_s):
            raise ValueError("slot_s: must be whole seconds that divide a day (e.g. 900)")
        for i, length in enumerate(self.first_slots):
            if length <= 0 or length != int(length) or int(self.slot_s) % int(length):
                raise ValueError(f"first_slots[{i}]: must be whole seconds that divide slot_s")
        if self.horizon_h * 3600 < self.slot_s:
            raise ValueError("horizon_h: must be at least one slot long")
        if self.profile_validity_s <= self.interval_s:
            raise ValueError("profile_validity_s: must be longer than interval_s")
        if self.solve_time_budget_s > self.interval_s:
            raise ValueError("solve_time_budget_s: must fit in interval_s")
        return self

    def settings(self) -> ControlSettings:
        return ControlSettings(
            interval_s=self.interval_s,
            deadband_a=self.deadband_a,
            horizon_h=self.horizon_h,
            slot_s=self.slot_s,
            first_slots_s=tuple(self.first_slots),
            profile_validity_s=self.profile_validity_s,
            fallback_limit_a=self.fallback_limit_a,
            default_departure_h=self.default_departure_h,
            default_energy_kwh=self.default_energy_kwh,
            scheduler=self.scheduler,
            solve_time_budget_s=self.solve_time_budget_s,
        )


class _SiteFile(_Strict):
    site: _Site
    tariff: dict[str, Any] | None = None
    circuits: list[_Circuit] = Field(min_length=1)
    chargers: list[_Charger] = []
    constraints: list[_Constraint] = []
    meter: _Meter | None = None
    control: _Control = _Control()


def load_site(path: str | Path) -> SiteConfig:
    """Read and check a site file. Raises ConfigError naming the file and every bad key."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"site file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"site file {file} is not valid TOML: {exc}") from None
    try:
        spec = _SiteFile.model_validate(data)
    except ValidationError as exc:
        raise _error(file, error_lines(exc)) from None
    builder = _Builder(spec, file)
    site = builder.build()
    if builder.errors or site is None:
        raise _error(file, builder.errors)
    return site


def _error(file: Path, lines: Sequence[str]) -> ConfigError:
    return ConfigError("\n  ".join([f"invalid site configuration ({file}):", *lines]))


class _Builder:
    """Resolves references of a parsed site file; collects every error on the way."""

    def __init__(self, spec: _SiteFile, file: Path) -> None:
        self.spec = spec
        self.file = file
        self.errors: list[str] = []

    def build(self) -> SiteConfig | None:
        spec = self.spec
        circuits = self._circuits()
        circuit_ids = {c.id for c in circuits}
        root = next((c.id for c in circuits if c.parent_id is None), "")
        chargers = self._chargers(circuit_ids, root)
        constraints = self._constraints(chargers)
        meter = self._meter(circuit_ids, root)
        tariff = self._tariff()
        if self.errors or tariff is None:
            return None
        site = SiteConfig(
            id=spec.site.id,
            name=spec.site.name or spec.site.id,
            timezone=spec.site.timezone,
            circuits=tuple(circuits),
            chargers=tuple(chargers),
            constraints=tuple(constraints),
            meter=meter,
            tariff=tariff,
            control=spec.control.settings(),
            voltage_v=spec.site.voltage_v,
            description=spec.site.description,
        )
        broken = fallback_violations(site)
        if broken:
            self.errors.append(
                "control.fallback_limit_a: the configured fallback limits, drawn by every charger"
                f" at once, break {'; '.join(broken[:5])}"
            )
            return None
        return site

    def _circuits(self) -> list[CircuitSpec]:
        entries = self.spec.circuits
        index: dict[str, int] = {}
        for i, entry in enumerate(entries):
            if entry.id in index:
                self.errors.append(
                    f"circuits[{i}].id: duplicate id {entry.id!r} "
                    f"(also circuits[{index[entry.id]}])"
                )
            index.setdefault(entry.id, i)
        roots = [e.id for e in entries if e.parent is None]
        if len(roots) != 1:
            found = ", ".join(roots) or "none"
            self.errors.append(
                "circuits: exactly one circuit needs no parent (the grid connection); "
                f"found {found}"
            )
        for i, entry in enumerate(entries):
            if entry.parent is not None and entry.parent not in index:
                self.errors.append(f"circuits[{i}].parent: unknown circuit {entry.parent!r}")
        self._check_cycles(entries, index)
        out = []
        for i, entry in enumerate(entries):
            try:
                out.append(
                    CircuitSpec(
                        id=entry.id,
                        parent_id=entry.parent,
                        limit_a=entry.limit_a,
                        limit_kw=entry.limit_kw,
                        schedule=tuple(w.capacity_window() for w in entry.schedule),
                        timezone=self.spec.site.timezone,
                    )
                )
            except ValueError as exc:
                self.errors.append(f"circuits[{i}].schedule: {exc}")
        return out

    def _check_cycles(self, entries: Sequence[_Circuit], index: dict[str, int]) -> None:
        parent = {e.id: e.parent for e in entries}
        reported: set[str] = set()
        for start in parent:
            path: list[str] = []
            node: str | None = start
            while node is not None and node in parent and node not in path:
                path.append(node)
                node = parent[node]
            if node is not None and node in path and node not in reported:
                cycle = path[path.index(node) :]
                reported.update(cycle)
                self.errors.append(
                    f"circuits[{index[node]}].parent: the tree has a cycle "
                    + " -> ".join([*cycle, node])
                )

    def _chargers(self, circuit_ids: set[str], root: str) -> list[ChargerSpec]:
        out: list[ChargerSpec] = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(self.spec.chargers):
            where = f"chargers[{i}]"
            if entry.circuit is not None and entry.circuit not in circuit_ids:
                self.errors.append(f"{where}.circuit: unknown circuit {entry.circuit!r}")
                continue
            try:
                specs = self._expand(entry, entry.circuit or root)
            except ValueError as exc:
                self.errors.append(f"{where}.{exc}")
                continue
            for spec in specs:
                if spec.key in seen:
                    self.errors.append(
                        f"{where}: duplicate charger {spec.key!r} "
                        f"(also chargers[{seen[spec.key]}])"
                    )
                    break
                seen[spec.key] = i
                out.append(spec)
        return out

    def _expand(self, entry: _Charger, circuit_id: str) -> list[ChargerSpec]:
        """The chargers one entry declares; ValueError as ``key: message``."""
        voltage_v = entry.voltage_v or self.spec.site.voltage_v
        phase_sets = entry.phase_sets()
        out = []
        for copy in range(entry.count):
            try:
                cp_id = entry.charge_point_id.format(n=entry.first + copy)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"charge_point_id: not a valid template ({exc})") from None
            if not re.match(_ID, cp_id):
                raise ValueError(f"charge_point_id: {cp_id!r} must not contain '/' or spaces")
            phases = phase_sets[copy % len(phase_sets)]
            if entry.line_to_line and len(phases) != 2:
                raise ValueError("phases: a line-to-line charger uses exactly two phases")
            if entry.dc:
                watts_per_amp = voltage_v * len(phases)
                assert entry.max_power_kw is not None  # checked by the model
                max_power_w = entry.max_power_kw * 1000.0
                minimum_a = (entry.min_power_kw or 0.0) * 1000.0 / watts_per_amp
                maximum_a = max_power_w / watts_per_amp
                step_a = entry.current_step_a if entry.current_step_a is not None else 0.0
            else:
                max_power_w = None
                minimum_a = entry.min_current_a if entry.min_current_a is not None else 6.0
                maximum_a = entry.max_current_a if entry.max_current_a is not None else 32.0
                step_a = entry.current_step_a if entry.current_step_a is not None else 1.0
            if maximum_a < minimum_a:
                key = "max_power_kw" if entry.dc else "max_current_a"
                lower = "min_power_kw" if entry.dc else "min_current_a"
                raise ValueError(f"{key}: must be >= {lower}")
            evse_ids = [entry.evse_id] if entry.evse_id is not None else range(1, entry.evses + 1)
            for evse_id in evse_ids:
                out.append(
                    ChargerSpec(
                        key=f"{cp_id}/{evse_id}",
                        charge_point_id=cp_id,
                        evse_id=evse_id,
                        circuit_id=circuit_id,
                        phases=phases,
                        min_current_a=minimum_a,
                        max_current_a=maximum_a,
                        current_step_a=step_a,
                        voltage_v=voltage_v,
                        dc=entry.dc,
                        max_power_w=max_power_w,
                        line_to_line=entry.line_to_line,
                        fallback_limit_a=entry.fallback_limit_a,
                    )
                )
        return out

    def _constraints(self, chargers: Sequence[ChargerSpec]) -> list[ConstraintSpec]:
        keys = {c.key for c in chargers}
        evses: dict[str, list[str]] = {}
        for charger in chargers:
            evses.setdefault(charger.charge_point_id, []).append(charger.key)
        out = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(self.spec.constraints):
            if entry.id in seen:
                self.errors.append(
                    f"constraints[{i}].id: duplicate id {entry.id!r} "
                    f"(also constraints[{seen[entry.id]}])"
                )
            seen.setdefault(entry.id, i)
            coefficients: dict[str, float] = {}
            for name, value in entry.coefficients.items():
                # A charge point with one EVSE may be named without "/1".
                key = name if name in keys else next(iter(evses.get(name, [])), None)
                if key is None or (name not in keys and len(evses[name]) != 1):
                    self.errors.append(
                        f"constraints[{i}].coefficients.{name}: unknown charger "
                        "(use a charger key such as 'CP-1/1')"
                    )
                    continue
                coefficients[key] = coefficients.get(key, 0.0) + value
            out.append(ConstraintSpec(entry.id, coefficients, entry.upper_a, entry.lower_a))
        return out

    def _meter(self, circuit_ids: set[str], root: str) -> SiteMeterSpec | None:
        entry = self.spec.meter
        if entry is None:
            return None
        if entry.circuit is not None and entry.circuit not in circuit_ids:
            self.errors.append(f"meter.circuit: unknown circuit {entry.circuit!r}")
            return None
        return SiteMeterSpec(
            circuit_id=entry.circuit or root,
            charge_point_id=entry.charge_point_id,
            evse_id=entry.evse_id,
            measures=entry.measures,
            base_load_kw=entry.base_load_kw,
            profile_kw=tuple(entry.profile_kw) if entry.profile_kw is not None else None,
            pv_peak_kw=entry.pv_peak_kw,
        )

    def _tariff(self) -> Tariff | None:
        reference, inline = self.spec.site.tariff, self.spec.tariff
        timezone = self.spec.site.timezone
        if (reference is None) == (inline is None):
            self.errors.append(
                "site.tariff: give a tariff file (site.tariff = '../tariffs/x.toml') "
                "or an inline [tariff] table, one of them"
            )
            return None
        if inline is not None:
            tariff, errors = parse_tariff(inline, self.file.parent, timezone, prefix="tariff")
            self.errors += errors
            return tariff
        assert reference is not None
        try:
            return load_tariff(self.file.parent / reference, default_timezone=timezone)
        except ConfigError as exc:
            self.errors.append(f"site.tariff: {exc}")
            return None

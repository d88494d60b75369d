"""Caltech's ACN garage as acnportal models it, as optimizer inputs.

acnportal (``acnportal.acnsim.network.sites.caltech_acn``, BSD) models the garage as 54 EVSEs
wired line to line at 208 V on a three-phase network behind a transformer (the capacity is a
parameter, 150 kW as built). The EVSEs sit on the three line pairs: AB (phase angle 30 deg), BC
(-90 deg) and CA (150 deg). Two pods of eight EVSEs on AB have an 80 A breaker each. The
transformer's secondary (wye, 120 V line to neutral) and primary (delta, 277 V) limit the
magnitude of each line's current; the line currents are linear combinations of the line-to-line
EVSE currents with *complex* weights, so acnportal's limit reads

    | sum_i c_ji * I_i * exp(j * angle_i) | <= limit_j        (constraint j, EVSE currents I_i >= 0)

with the real coefficients ``c_ji`` of its constraint matrix. That is convex but not linear. This
module keeps acnportal's constraints exactly (:func:`caltech_phasor_constraints`, checked by
:func:`phasor_magnitudes_a`) and gives the optimizer linear inner approximations of them:

``"polygon"`` (default)
    For each constraint the EVSE phasors span a cone of directions (0 deg for a pod, 60 deg for
    a secondary line, 120 deg for a primary line); the circle of radius ``limit`` is replaced,
    within that cone, by the inscribed polygon whose vertices lie on the circle. Every current
    the polygon admits satisfies acnportal's exact limit, and it gives away at most
    ``polygon_tolerance`` (0.5 %) of the limit. 53 rows.
``"acnportal"``
    acnportal's own ``linear=True`` check: ``sum_i |c_ji| * I_i <= limit_j``; exactly acnportal's
    eight constraints, more conservative (up to 13 % on a secondary line with both pairs loaded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from optimizer.model import Charger, Circuit, LinearConstraint

VOLTAGE_V = 208.0
TIMEZONE = "America/Los_Angeles"
ROOT_CIRCUIT_ID = "caltech-transformer"

CC_POD_IDS = ("CA-322", "CA-493", "CA-496", "CA-320", "CA-495", "CA-321", "CA-323", "CA-494")
AV_POD_IDS = ("CA-324", "CA-325", "CA-326", "CA-327", "CA-489", "CA-490", "CA-491", "CA-492")
AB_IDS = (
    tuple(f"CA-{n}" for n in (308, 508, 303, 513, 310, 506, 316, 500, 318, 498))
    + AV_POD_IDS
    + CC_POD_IDS
)
BC_IDS = tuple(
    f"CA-{n}" for n in (304, 512, 305, 511, 313, 503, 311, 505, 317, 499, 148, 149, 212, 213)
)
CA_IDS = tuple(
    f"CA-{n}" for n in (307, 509, 309, 507, 306, 510, 315, 501, 319, 497, 312, 504, 314, 502)
)
STATION_IDS = AB_IDS + BC_IDS + CA_IDS  # acnportal's registration order

# Line pair -> (site phases of the two lines, phase angle of the line-to-line current [deg]).
_LINE_PAIRS: dict[str, tuple[tuple[int, int], float, tuple[str, ...]]] = {
    "AB": ((0, 1), 30.0, AB_IDS),
    "BC": ((1, 2), -90.0, BC_IDS),
    "CA": ((2, 0), 150.0, CA_IDS),
}
PHASE_ANGLE_DEG: dict[str, float] = {
    station: angle for _, angle, ids in _LINE_PAIRS.values() for station in ids
}
POD_LIMIT_A = 80.0
PRIMARY_LINE_TO_LINE_V = 277.0
SECONDARY_LINE_TO_NEUTRAL_V = 120.0

Linearization = Literal["polygon", "acnportal"]


@dataclass(frozen=True, slots=True)
class PhasorConstraint:
    """acnportal's current constraint: ``|sum c_i I_i exp(j angle_i)| <= limit_a``.

    ``coefficients`` is the constraint's row of acnportal's constraint matrix (station -> real
    coefficient); the angles are :data:`PHASE_ANGLE_DEG`.
    """

    name: str
    coefficients: Mapping[str, float]
    limit_a: float


def caltech_phasor_constraints(transformer_kw: float = 150.0) -> tuple[PhasorConstraint, ...]:
    """acnportal's eight Caltech constraints, in its order: the pods, secondary A-C, primary A-C.

    The transformer's rating [kW] sets the line current limits: ``kW / 3 / 120 V`` on the
    secondary side and ``kW / 3 / 277 V`` on the primary side, as in acnportal.
    """
    if not (math.isfinite(transformer_kw) and transformer_kw > 0):
        raise ValueError(f"transformer_kw: must be a positive number, got {transformer_kw!r}")
    ab = dict.fromkeys(AB_IDS, 1.0)
    bc = dict.fromkeys(BC_IDS, 1.0)
    ca = dict.fromkeys(CA_IDS, 1.0)
    # acnportal: I3a = AB - CA, I3b = BC - AB, I3c = CA - BC; I2x = (I3x - I3prev) / 4.
    i3a = _combine((1.0, ab), (-1.0, ca))
    i3b = _combine((1.0, bc), (-1.0, ab))
    i3c = _combine((1.0, ca), (-1.0, bc))
    i2a = _combine((0.25, i3a), (-0.25, i3c))
    i2b = _combine((0.25, i3b), (-0.25, i3a))
    i2c = _combine((0.25, i3c), (-0.25, i3b))
    secondary_a = transformer_kw * 1000 / 3 / SECONDARY_LINE_TO_NEUTRAL_V
    primary_a = transformer_kw * 1000 / 3 / PRIMARY_LINE_TO_LINE_V
    return (
        PhasorConstraint("CC Pod", dict.fromkeys(CC_POD_IDS, 1.0), POD_LIMIT_A),
        PhasorConstraint("AV Pod", dict.fromkeys(AV_POD_IDS, 1.0), POD_LIMIT_A),
        PhasorConstraint("Secondary A", i3a, secondary_a),
        PhasorConstraint("Secondary B", i3b, secondary_a),
        PhasorConstraint("Secondary C", i3c, secondary_a),
        PhasorConstraint("Primary A", i2a, primary_a),
        PhasorConstraint("Primary B", i2b, primary_a),
        PhasorConstraint("Primary C", i2c, primary_a),
    )


def _combine(*terms: tuple[float, Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for weight, current in terms:
        for station, coefficient in current.items():
            out[station] = out.get(station, 0.0) + weight * coefficient
    return {s: c for s, c in out.items() if c != 0.0}


def phasor_magnitudes_a(
    constraints: tuple[PhasorConstraint, ...], currents_a: Mapping[str, float]
) -> dict[str, float]:
    """The magnitude of each constraint's current [A] for EVSE currents ``currents_a``.

    acnportal's exact feasibility check (``ChargingNetwork.is_feasible``): feasible when every
    magnitude is at most the constraint's ``limit_a``. Stations not in ``currents_a`` draw 0 A.
    """
    out: dict[str, float] = {}
    for constraint in constraints:
        total = sum(
            coefficient
            * currents_a.get(station, 0.0)
            * complex(math.cos(math.radians(angle)), math.sin(math.radians(angle)))
            for station, coefficient in constraint.coefficients.items()
            for angle in (PHASE_ANGLE_DEG[station],)
        )
        out[constraint.name] = abs(total)
    return out


def caltech_chargers(*, basic_evse: bool = False) -> tuple[Charger, ...]:
    """The 54 EVSEs as optimizer chargers, in acnportal's order.

    Line to line at 208 V on their pair's two site phases (AB = phases 0 and 1, BC = 1 and 2,
    CA = 2 and 0). acnportal's EVSE types: AeroVironment accept 0 or 6..32 A in whole amps,
    ClipperCreek (the CC pod) 0, 8, 16, 24 or 32 A. ``basic_evse`` gives acnportal's BASIC type
    instead: any current from 0 to 32 A.
    """
    chargers = []
    for phases, _, ids in _LINE_PAIRS.values():
        for station in ids:
            if basic_evse:
                minimum_a, step_a = 0.0, 0.0
            elif station in CC_POD_IDS:
                minimum_a, step_a = 8.0, 8.0
            else:
                minimum_a, step_a = 6.0, 1.0
            chargers.append(
                Charger(
                    id=station,
                    circuit_id=ROOT_CIRCUIT_ID,
                    phases=phases,
                    min_current_a=minimum_a,
                    max_current_a=32.0,
                    current_step_a=step_a,
                    voltage_v=VOLTAGE_V,
                    line_to_line=True,
                )
            )
    order = {station: i for i, station in enumerate(STATION_IDS)}
    return tuple(sorted(chargers, key=lambda c: order[c.id]))


def linear_constraints(
    constraints: tuple[PhasorConstraint, ...],
    linearization: Linearization = "polygon",
    polygon_tolerance: float = 0.005,
) -> tuple[LinearConstraint, ...]:
    """Linear inner approximations of acnportal's constraints (see the module docstring).

    Row ids are the constraint's name, followed by ``/k`` for the k-th polygon edge when a
    constraint needs more than one row.
    """
    if linearization == "acnportal":
        return tuple(
            LinearConstraint(c.name, {s: abs(v) for s, v in c.coefficients.items()}, c.limit_a)
            for c in constraints
        )
    if linearization != "polygon":
        raise ValueError(f"linearization: expected 'polygon' or 'acnportal', got {linearization!r}")
    if not 0 < polygon_tolerance < 1:
        raise ValueError(f"polygon_tolerance: must be in (0, 1), got {polygon_tolerance!r}")
    rows: list[LinearConstraint] = []
    for c in constraints:
        rows.extend(_polygon_rows(c, polygon_tolerance))
    return tuple(rows)


def _polygon_rows(constraint: PhasorConstraint, tolerance: float) -> list[LinearConstraint]:
    """Edges of the polygon inscribed in the limit circle over the cone the phasors span.

    A sum of phasors at angles within ``[low, low + span]`` (all currents >= 0) whose projection
    onto the bisector of each of ``k`` equal sub-arcs is at most ``limit * cos(span / 2k)`` has
    magnitude at most ``limit``; the smallest magnitude the rows refuse is that bound, so ``k`` is
    chosen to keep ``1 - cos(span / 2k) <= tolerance``.
    """
    directions = {
        station: math.radians(PHASE_ANGLE_DEG[station]) + (math.pi if c < 0 else 0.0)
        for station, c in constraint.coefficients.items()
    }
    low, span = _covering_arc(list(directions.values()))
    if span < 1e-12:
        coefficients = {s: abs(c) for s, c in constraint.coefficients.items()}
        return [LinearConstraint(constraint.name, coefficients, constraint.limit_a)]
    half_max = math.acos(1.0 - tolerance)
    edges = math.ceil(span / (2 * half_max) - 1e-12)
    width = span / edges
    rows = []
    for k in range(edges):
        bisector = low + (k + 0.5) * width
        coefficients = {
            station: abs(c) * math.cos(directions[station] - bisector)
            for station, c in constraint.coefficients.items()
        }
        upper_a = constraint.limit_a * math.cos(width / 2)
        rows.append(LinearConstraint(f"{constraint.name}/{k}", coefficients, upper_a))
    return rows


def _covering_arc(angles: list[float]) -> tuple[float, float]:
    """The shortest arc ``(start, length)`` [rad] holding every angle; it must be under pi."""
    ordered = sorted(a % (2 * math.pi) for a in angles)
    gaps = [
        ((ordered[(i + 1) % len(ordered)] - a) % (2 * math.pi), i) for i, a in enumerate(ordered)
    ]
    if len(ordered) == 1 or max(gaps)[0] == 0.0:
        return ordered[0], 0.0
    largest, i = max(gaps)
    span = 2 * math.pi - largest
    if span >= math.pi:
        raise ValueError("phasors span half a turn or more; the cone is not pointed")
    return ordered[(i + 1) % len(ordered)], span


def caltech_network(
    transformer_kw: float = 150.0,
    *,
    linearization: Linearization = "polygon",
    polygon_tolerance: float = 0.005,
    basic_evse: bool = False,
) -> tuple[tuple[Charger, ...], tuple[Circuit, ...], tuple[LinearConstraint, ...]]:
    """The Caltech ACN as optimizer inputs: 54 chargers, the circuit tree, the constraints.

    The tree is one root node without limits of its own (the transformer); every limit of
    acnportal's model is among the linear constraints (see the module docstring for the two
    ``linearization`` s). ``transformer_kw`` is the transformer's rating [kW].
    """
    constraints = caltech_phasor_constraints(transformer_kw)
    return (
        caltech_chargers(basic_evse=basic_evse),
        (Circuit(ROOT_CIRCUIT_ID),),
        linear_constraints(constraints, linearization, polygon_tolerance),
    )


def caltech_site_dict(
    transformer_kw: float = 150.0,
    *,
    linearization: Linearization = "polygon",
    basic_evse: bool = False,
) -> dict[str, Any]:
    """The Caltech site as plain data for a site file (``data/sites/caltech.toml``).

    ``{"site": {...}, "circuits": [...], "chargers": [...], "constraints": [...]}`` with the
    optimizer models' field names; :func:`caltech_site_toml` renders it.
    """
    chargers, circuits, constraints = caltech_network(
        transformer_kw, linearization=linearization, basic_evse=basic_evse
    )
    return {
        "site": {
            "id": "caltech",
            "name": "Caltech ACN garage (acnportal model)",
            "timezone": TIMEZONE,
            "transformer_kw": float(transformer_kw),
            "source": "acnportal.acnsim.network.sites.caltech_acn (BSD-3-Clause)",
        },
        "circuits": [{"id": c.id} for c in circuits],
        "chargers": [
            {
                "id": c.id,
                "circuit_id": c.circuit_id,
                "phases": list(c.phases),
                "line_to_line": c.line_to_line,
                "voltage_v": c.voltage_v,
                "min_current_a": c.min_current_a,
                "max_current_a": c.max_current_a,
                "current_step_a": c.current_step_a,
            }
            for c in chargers
        ],
        "constraints": [
            {"id": c.id, "upper_a": c.upper_a, "coefficients": dict(c.coefficients)}
            for c in constraints
        ],
    }


def caltech_site_toml(transformer_kw: float = 150.0, **options: Any) -> str:
    """:func:`caltech_site_dict` as TOML text (``options`` as for that function)."""
    site = caltech_site_dict(transformer_kw, **options)
    lines = [
        "# The Caltech ACN garage as acnportal models it; generated by",
        "# ems.datasets.caltech.caltech_site_toml. Currents in A, power in kW.",
        "",
        "[site]",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in site["site"].items()]
    for table in ("circuits", "chargers", "constraints"):
        for entry in site[table]:
            lines += ["", f"[[{table}]]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")

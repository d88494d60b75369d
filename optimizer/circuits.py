"""The circuit tree as linear limits on charger currents, the checker, and the final clamp.

Every limit of a :class:`~optimizer.model.Problem` is a row ``lower <= row @ current_a <= upper``
per slot: per-phase current of a node [A], power of a node [kW] and the extra
:class:`~optimizer.model.LinearConstraint` s. :class:`CircuitTree` builds those rows once;
:func:`violations` checks a schedule against them (and against charger, session and presence
limits); :func:`clamp` is the safety net every limit passes before it leaves ems.

Rules
-----
presence
    A session may draw current in a slot only when it is present for the whole slot:
    ``arrival_s <= slot start`` and ``slot end <= departure_s`` (see :func:`present_mask`).
    A car that leaves mid-slot is not planned in that slot, so no plan counts on a car that
    may be gone.
phases and power
    :func:`loaded_phases` and :func:`watts_per_amp` are the one place that says which site
    phases a session loads and what power a current means; everyone uses them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from optimizer.model import (
    PHASES,
    Charger,
    FloatArray,
    LinearConstraint,
    Problem,
    kw_per_a,
    loaded_phases,
    per_problem,
    session_arrays,
    session_max_current_a,
)

BoolArray = npt.NDArray[np.bool_]

# Time comparisons of slot edges against arrivals and departures [s].
TIME_EPSILON_S = 1e-9
# How many proportional reductions the clamp tries before it switches off whole rows.
_CLAMP_ROUNDS = 100


@per_problem
def present_mask(problem: Problem) -> BoolArray:
    """(chargers, slots): True where a session is present for the whole slot."""
    starts_s = problem.horizon.starts_s
    ends_s = starts_s + np.asarray(problem.horizon.durations_s, dtype=float)
    on = session_arrays(problem)
    arrival_s, departure_s = on.arrival_s, on.departure_s
    return (starts_s[None, :] >= arrival_s[:, None] - TIME_EPSILON_S) & (
        ends_s[None, :] <= departure_s[:, None] + TIME_EPSILON_S
    )


@per_problem
def max_current_a(problem: Problem) -> FloatArray:
    """(chargers,): the most current each charger's session may draw [A]; 0 without a session."""
    on = problem.session_on()
    return np.array(
        [session_max_current_a(c, on[c.id]) if c.id in on else 0.0 for c in problem.chargers],
        dtype=float,
    )


@per_problem
def current_bounds_a(problem: Problem) -> FloatArray:
    """(chargers, slots): upper bound of each charger's current [A]; 0 where no car is present."""
    return np.where(present_mask(problem), max_current_a(problem)[:, None], 0.0)


def quantize_down_a(current_a: float, step_a: float) -> float:
    """The largest multiple of ``step_a`` not above ``current_a`` (``step_a`` 0: unchanged).

    A value within 1e-9 of a step below it counts as that step, so that 15.9999999 from a solver
    becomes 16, not 15; callers that must not exceed a bound re-check it.
    """
    if step_a <= 0:
        return max(0.0, current_a)
    return max(0.0, float(np.floor(current_a / step_a + 1e-9)) * step_a)


@dataclass(frozen=True)
class CircuitTree:
    """All limits of a problem as sparse rows over charger currents.

    Node order is ``problem.circuits``; phase row ``3 * node + phase``. Limits are (rows, slots)
    with ``+inf`` (or ``-inf`` for lower bounds) where there is none.

    ``rows`` stacks phase rows [A], power rows [kW] and constraint rows [A] into one matrix with
    ``rows_lower`` and ``rows_upper`` and a readable ``row_labels`` entry each: the form the
    checker, the clamp and the greedy schedulers work on.
    """

    node_ids: tuple[str, ...]
    subtree_chargers: Mapping[str, tuple[int, ...]]
    phase_matrix: sp.csr_matrix  # (nodes * 3, chargers) [A/A]
    power_matrix_kw_per_a: sp.csr_matrix  # (nodes, chargers) [kW/A]
    phase_limits_a: FloatArray  # (nodes * 3, slots)
    power_limits_kw: FloatArray  # (nodes, slots)
    constraint_ids: tuple[str, ...]
    constraint_matrix: sp.csr_matrix  # (constraints, chargers)
    constraint_lower_a: FloatArray  # (constraints,), -inf when none
    constraint_upper_a: FloatArray  # (constraints,)
    rows: sp.csr_matrix
    rows_lower: FloatArray  # (rows, slots)
    rows_upper: FloatArray  # (rows, slots)
    row_labels: tuple[str, ...]

    @classmethod
    def build(cls, problem: Problem) -> CircuitTree:
        """The tree of ``problem`` (the same object for the same problem object)."""
        return _tree(problem)

    @classmethod
    def _build(cls, problem: Problem) -> CircuitTree:
        slots = problem.horizon.slots
        structure = _structure(problem)
        n, constraints = len(structure.node_ids), len(problem.constraints)
        phase_limits = np.full((n * PHASES, slots), np.inf)
        power_limits = np.full((n, slots), np.inf)
        for k, circuit_node in enumerate(problem.circuits):
            by_phase = circuit_node.phase_limits_a(slots)
            if by_phase is not None:
                phase_limits[PHASES * k : PHASES * (k + 1)] = by_phase.T
            power = circuit_node.power_limits_kw(slots)
            if power is not None:
                power_limits[k] = power
        lower = np.array(
            [-np.inf if c.lower_a is None else c.lower_a for c in problem.constraints], dtype=float
        )
        upper = np.array([c.upper_a for c in problem.constraints], dtype=float)
        return cls(
            node_ids=structure.node_ids,
            subtree_chargers=structure.subtree_chargers,
            phase_matrix=structure.phase_matrix,
            power_matrix_kw_per_a=structure.power_matrix,
            phase_limits_a=phase_limits,
            power_limits_kw=power_limits,
            constraint_ids=tuple(c.id for c in problem.constraints),
            constraint_matrix=structure.constraint_matrix,
            constraint_lower_a=lower,
            constraint_upper_a=upper,
            rows=structure.rows,
            rows_lower=np.vstack(
                [
                    np.full((n * PHASES + n, slots), -np.inf),
                    np.tile(lower[:, None], (1, slots)).reshape(constraints, slots),
                ]
            ),
            rows_upper=np.vstack(
                [
                    phase_limits,
                    power_limits,
                    np.tile(upper[:, None], (1, slots)).reshape(constraints, slots),
                ]
            ),
            row_labels=structure.row_labels,
        )


@per_problem
def _tree(problem: Problem) -> CircuitTree:
    tree = CircuitTree._build(problem)
    for array in (tree.phase_limits_a, tree.power_limits_kw, tree.rows_lower, tree.rows_upper):
        array.flags.writeable = False
    return tree


@dataclass(frozen=True)
class _Structure:
    """The slot-independent part of a :class:`CircuitTree`: its matrices and labels."""

    node_ids: tuple[str, ...]
    subtree_chargers: Mapping[str, tuple[int, ...]]
    phase_matrix: sp.csr_matrix
    power_matrix: sp.csr_matrix
    constraint_matrix: sp.csr_matrix
    rows: sp.csr_matrix
    row_labels: tuple[str, ...]


class _StructureKey:
    """A problem, compared only by what its tree's matrices depend on.

    That is the chargers, the circuits' ids and parents, the constraints' coefficients and,
    through :func:`loaded_phases`, each session's ``phases_used``; not the limits. A re-plan
    seconds later has the same ones, and building the matrices is most of the work.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.key = (
            problem.chargers,
            tuple((c.id, c.parent_id) for c in problem.circuits),
            _constraints_key(problem.constraints),
            frozenset((s.charger_id, s.phases_used) for s in problem.sessions if s.phases_used),
        )

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _StructureKey) and self.key == other.key


_constraints_keys: list[tuple[object, tuple[object, ...]]] = [(None, ())]


def _constraints_key(constraints: tuple[LinearConstraint, ...]) -> tuple[object, ...]:
    """What the constraints' matrix depends on; remembered for the same tuple object (a site
    passes the same constraints every cycle, and reading 150 of them costs a millisecond)."""
    known, key = _constraints_keys[0]
    if known is constraints:
        return key
    key = tuple((c.id, tuple(c.coefficients.items())) for c in constraints)
    _constraints_keys[0] = (constraints, key)
    return key


def _structure(problem: Problem) -> _Structure:
    """The matrices of ``problem``'s tree, from the cache when their inputs are unchanged."""
    return _cached_structure(_StructureKey(problem))


@functools.lru_cache(maxsize=4)
def _cached_structure(key: _StructureKey) -> _Structure:
    return _build_structure(key.problem)


def _build_structure(problem: Problem) -> _Structure:
    """The matrices, built per group of chargers with the same circuit and loaded phases."""
    node_ids = tuple(c.id for c in problem.circuits)
    node = {n: k for k, n in enumerate(node_ids)}
    parent = {c.id: c.parent_id for c in problem.circuits}
    on = problem.session_on()
    groups: dict[tuple[str, tuple[int, ...]], list[int]] = {}
    for i, charger in enumerate(problem.chargers):
        phases = loaded_phases(charger, on.get(charger.id))
        groups.setdefault((charger.circuit_id, phases), []).append(i)
    n, m = len(node_ids), len(problem.chargers)
    subtree: list[list[npt.NDArray[np.intp]]] = [[] for _ in node_ids]
    phase_rows, phase_cols, power_rows, power_cols = [], [], [], []
    for (circuit_id, phases), members in groups.items():
        chargers = np.asarray(members, dtype=np.intp)
        nodes: list[int] = []
        circuit: str | None = circuit_id
        while circuit is not None:
            nodes.append(node[circuit])
            subtree[node[circuit]].append(chargers)
            circuit = parent[circuit]
        rows = np.array([PHASES * k + p for k in nodes for p in phases], dtype=np.intp)
        phase_rows.append(np.tile(rows, len(chargers)))
        phase_cols.append(np.repeat(chargers, len(rows)))
        power_rows.append(np.tile(np.asarray(nodes, dtype=np.intp), len(chargers)))
        power_cols.append(np.repeat(chargers, len(nodes)))
    phase_matrix = _csr_of(phase_rows, phase_cols, None, (n * PHASES, m))
    power_matrix = _csr_of(power_rows, power_cols, kw_per_a(problem), (n, m))
    index = problem.charger_index
    constraint_matrix = _csr(
        [
            (r, index[cid], float(coefficient))
            for r, con in enumerate(problem.constraints)
            for cid, coefficient in con.coefficients.items()
        ],
        (len(problem.constraints), m),
    )
    labels = (
        tuple(f"circuit {n_id} phase L{p + 1}" for n_id in node_ids for p in range(PHASES))
        + tuple(f"circuit {n_id} power" for n_id in node_ids)
        + tuple(f"constraint {c.id}" for c in problem.constraints)
    )
    return _Structure(
        node_ids=node_ids,
        subtree_chargers={
            n_id: tuple(sorted(np.concatenate(parts).tolist())) if parts else ()
            for n_id, parts in zip(node_ids, subtree, strict=True)
        },
        phase_matrix=phase_matrix,
        power_matrix=power_matrix,
        constraint_matrix=constraint_matrix,
        rows=sp.csr_matrix(sp.vstack([phase_matrix, power_matrix, constraint_matrix])),
        row_labels=labels,
    )


def _csr_of(
    rows: list[npt.NDArray[np.intp]],
    cols: list[npt.NDArray[np.intp]],
    column_values: FloatArray | None,
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """A matrix of the given entries, each 1 or the value of its column in ``column_values``."""
    if not rows:
        return sp.csr_matrix(shape, dtype=float)
    r, c = np.concatenate(rows), np.concatenate(cols)
    values = np.ones(len(c)) if column_values is None else column_values[c]
    return sp.csr_matrix((values, (r, c)), shape=shape)


def _csr(entries: list[tuple[int, int, float]], shape: tuple[int, int]) -> sp.csr_matrix:
    if not entries:
        return sp.csr_matrix(shape, dtype=float)
    r, c, v = zip(*entries, strict=True)
    return sp.csr_matrix((np.asarray(v, dtype=float), (r, c)), shape=shape)


def violations(problem: Problem, current_a: FloatArray, tol: float = 1e-6) -> list[str]:
    """Every limit a (chargers, slots) schedule breaks by more than ``tol``, in words.

    Checks node phase currents, node power, extra constraints (both bounds), the charger's and
    the session's maximum, current where no car is present, negative and non-finite current.
    An empty list means the schedule is safe to send.
    """
    current_a = _as_schedule(problem, current_a)
    found: list[str] = []
    bad = ~np.isfinite(current_a)
    for i, t in zip(*np.nonzero(bad), strict=True):
        found.append(f"charger {problem.chargers[i].id} slot {t}: current {current_a[i, t]}")
    current_a = np.where(bad, 0.0, current_a)
    tree = CircuitTree.build(problem)
    load = tree.rows @ current_a
    upper, lower = tree.rows_upper, tree.rows_lower
    for r, t in zip(*np.nonzero(load > upper + tol), strict=True):
        found.append(f"{tree.row_labels[r]} slot {t}: {load[r, t]:.6g} above {upper[r, t]:.6g}")
    for r, t in zip(*np.nonzero(load < lower - tol), strict=True):
        found.append(f"{tree.row_labels[r]} slot {t}: {load[r, t]:.6g} below {lower[r, t]:.6g}")
    present = present_mask(problem)
    session_max = max_current_a(problem)
    for i, charger in enumerate(problem.chargers):
        for t in range(problem.horizon.slots):
            value = current_a[i, t]
            name = f"charger {charger.id} slot {t}"
            if value < -tol:
                found.append(f"{name}: negative current {value:.6g} A")
            if value > tol and not present[i, t]:
                found.append(f"{name}: {value:.6g} A with no car present")
            elif value > charger.max_current_a + tol:
                found.append(f"{name}: {value:.6g} A above charger max {charger.max_current_a}")
            elif value > session_max[i] + tol:
                found.append(f"{name}: {value:.6g} A above session max {session_max[i]:.6g}")
    return found


def _as_schedule(problem: Problem, current_a: FloatArray) -> FloatArray:
    current_a = np.asarray(current_a, dtype=float)
    shape = (len(problem.chargers), problem.horizon.slots)
    if current_a.shape != shape:
        raise ValueError(f"current_a has shape {current_a.shape}, expected {shape}")
    return current_a


def clamp(problem: Problem, current_now_a: Mapping[str, float] | FloatArray) -> dict[str, float]:
    """The first slot's limits, made safe to send: the last step before a limit leaves ems.

    Each charger's current is cut to what its session may draw now (0 without a car present for
    slot 0, at most the charger's and the session's maximum), quantized down to its
    ``current_step_a`` and set to 0 below its ``min_current_a``. While any slot-0 row (node
    phase, node power, extra constraint) is exceeded, the chargers that push it over are scaled
    down proportionally, deepest nodes first and extra constraints last, then re-quantized (a
    hair below a step counts as the step, so a broken row may need another round) and
    min-ruled again. Rows hold exactly, without tolerance, on the return value.

    Termination: after a bounded number of proportional rounds the chargers of rows still
    broken are switched off, each round at least one more, which ends at the latest at all
    zeros; zero satisfies every row whose bounds contain 0. Rows zero cannot satisfy are not
    chased: for a negative upper limit (other load above the capacity) the chargers that add
    to it are switched off; an extra constraint's ``lower_a > 0`` is not enforced, because it
    asks for current and a safety net never adds any. :func:`violations` reports both.

    ``current_now_a`` is a mapping by charger id (missing chargers get 0) or a (chargers,) array.
    """
    tree = CircuitTree.build(problem)
    x = _clamp_to_chargers(problem, as_current_vector(problem, current_now_a))
    rows = tree.rows.tocsr()
    lower, upper = tree.rows_lower[:, 0], tree.rows_upper[:, 0]
    hopeless = upper < 0.0
    if hopeless.any():
        x[_columns(rows, np.flatnonzero(hopeless), positive=True)] = 0.0
    lower = np.where(lower > 0.0, -np.inf, lower)
    checked = ~hopeless
    depth = _row_depths(problem)
    for round_ in range(_CLAMP_ROUNDS + len(problem.chargers) + 1):
        load = rows @ x
        over = checked & ((load > upper) | (load < lower))
        if not over.any():
            break
        if round_ < _CLAMP_ROUNDS:
            # Deepest nodes first: fixing a cabinet often fixes its feeder without touching
            # chargers elsewhere; extra constraints come last.
            over &= depth == depth[over].max()
            x = _scale_down(problem, rows, x, load, lower, upper, over)
        else:
            x[_columns(rows, np.flatnonzero(over), positive=None)] = 0.0
    else:
        x[:] = 0.0
    return {c.id: float(x[i]) for i, c in enumerate(problem.chargers)}


def as_current_vector(
    problem: Problem, current_now_a: Mapping[str, float] | FloatArray
) -> FloatArray:
    """A (chargers,) copy of one current per charger, given by charger id or as an array [A]."""
    if isinstance(current_now_a, Mapping):
        unknown = set(current_now_a) - set(problem.charger_index)
        if unknown:
            raise ValueError(f"unknown chargers {sorted(unknown)}")
        return np.array([float(current_now_a.get(c.id, 0.0)) for c in problem.chargers])
    x = np.asarray(current_now_a, dtype=float).reshape(-1)
    if x.shape != (len(problem.chargers),):
        raise ValueError(f"need one current per charger ({len(problem.chargers)}), got {x.shape}")
    return x.copy()


def _clamp_to_chargers(problem: Problem, x: FloatArray) -> FloatArray:
    """Per-charger rules for slot 0: presence, maxima, steps and the minimum current."""
    bound = current_bounds_a(problem)[:, 0]
    return allowed_currents_a(problem, np.where(np.isfinite(x), x, 0.0), bound)


def allowed_current_a(charger: Charger, current_a: float, max_a: float) -> float:
    """The largest current the charger accepts that is at most ``current_a`` and ``max_a`` [A].

    On the charger's steps, and 0 when that would be below its minimum current.
    """
    value = quantize_down_a(min(current_a, max_a), charger.current_step_a)
    if value > max_a:  # the snap in quantize_down_a went up past the bound
        value = quantize_down_a(value - charger.current_step_a, charger.current_step_a)
    if value > max_a:
        value = 0.0
    return value if value >= charger.min_current_a and value > 0 else 0.0


def allowed_currents_a(problem: Problem, current_a: FloatArray, max_a: FloatArray) -> FloatArray:
    """:func:`allowed_current_a` for every charger at once: (chargers,) in, (chargers,) out."""
    steps, minimum = charger_steps_a(problem), charger_minimums_a(problem)
    stepped = steps > 0
    safe = np.where(stepped, steps, 1.0)

    def down(value: FloatArray) -> FloatArray:
        snapped = np.floor(value / safe + 1e-9) * safe
        return np.maximum(0.0, np.where(stepped, snapped, value))

    value = down(np.minimum(current_a, max_a))
    value = np.where(value > max_a, down(value - steps), value)
    value = np.where(value > max_a, 0.0, value)
    return np.where((value >= minimum) & (value > 0), value, 0.0)


def charger_steps_a(problem: Problem) -> FloatArray:
    """(chargers,): each charger's ``current_step_a`` [A]."""
    return np.array([c.current_step_a for c in problem.chargers], dtype=float)


def charger_minimums_a(problem: Problem) -> FloatArray:
    """(chargers,): each charger's ``min_current_a`` [A]."""
    return np.array([c.min_current_a for c in problem.chargers], dtype=float)


def _row_depths(problem: Problem) -> npt.NDArray[np.int_]:
    """Depth in the tree of each row's node (root 0); -1 for extra constraints."""
    parent = {c.id: c.parent_id for c in problem.circuits}

    def depth(node: str | None) -> int:
        return -1 if node is None else 1 + depth(parent[node])

    nodes = [depth(c.id) for c in problem.circuits]
    return np.array(
        [d for d in nodes for _ in range(PHASES)] + nodes + [-1] * len(problem.constraints),
        dtype=int,
    )


def _columns(rows: sp.csr_matrix, which: npt.NDArray[np.intp], positive: bool | None) -> list[int]:
    """Chargers in the given rows: all of them, or those with positive coefficients."""
    cols: set[int] = set()
    for r in which:
        start, end = rows.indptr[r], rows.indptr[r + 1]
        keep = rows.data[start:end] > 0 if positive else np.ones(end - start, dtype=bool)
        cols.update(int(c) for c in rows.indices[start:end][keep])
    return sorted(cols)


def _scale_down(
    problem: Problem,
    rows: sp.csr_matrix,
    x: FloatArray,
    load: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    over: FloatArray,
) -> FloatArray:
    """One proportional round: each charger takes the smallest factor any broken row asks of it.

    For a row above its upper bound the chargers with positive coefficients shrink; for one below
    its lower bound those with negative coefficients. Every charger asked to shrink does shrink
    (by at least a step), so rounds make progress; continuous chargers get a tiny extra margin
    so that rounding does not leave a row over by one ulp.
    """
    factor = np.ones_like(x)
    for r in np.flatnonzero(over):
        start, end = rows.indptr[r], rows.indptr[r + 1]
        cols, coef = rows.indices[start:end], rows.data[start:end]
        contrib = coef * x[cols]
        positive = contrib[coef > 0].sum()
        negative = contrib[coef < 0].sum()
        if load[r] > upper[r]:
            side = coef > 0
            f = (upper[r] - negative) / positive if positive > 0 else 0.0
        else:
            side = coef < 0
            f = (lower[r] - positive) / negative if negative < 0 else 0.0
        factor[cols[side]] = np.minimum(factor[cols[side]], min(max(f, 0.0), 1.0))
    out = x.copy()
    for i in np.flatnonzero(factor < 1.0):
        charger = problem.chargers[i]
        continuous = charger.current_step_a <= 0
        scaled = x[i] * factor[i] * (1.0 - 1e-12 if continuous else 1.0)
        out[i] = allowed_current_a(charger, scaled, x[i])
        if out[i] >= x[i]:  # rounding kept it where it was: force progress
            out[i] = allowed_current_a(charger, x[i] - max(charger.current_step_a, 1e-9), x[i])
    return out

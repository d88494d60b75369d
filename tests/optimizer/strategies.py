"""Hypothesis strategies for random valid optimizer problems."""

from __future__ import annotations

from hypothesis import strategies as st

from optimizer.model import (
    Charger,
    Circuit,
    Horizon,
    LinearConstraint,
    Problem,
    Session,
    Tariff,
)

WIRINGS: tuple[tuple[tuple[int, ...], bool], ...] = (
    ((0, 1, 2), False),
    ((1, 2, 0), False),
    ((2, 0, 1), False),
    ((0,), False),
    ((1,), False),
    ((2,), False),
    ((0, 1), True),
    ((1, 2), True),
    ((2, 0), True),
)


def limits(high: float) -> st.SearchStrategy[float]:
    """Mostly realistic ratings, sometimes any value from 0 (a full or switched-off feeder)."""
    return st.one_of(
        st.sampled_from((16.0, 25.0, 32.0, 40.0, 63.0, 80.0)).filter(lambda v: v <= high),
        st.floats(high / 8, high),
        st.floats(0, high),
    )


def _amps(draw: st.DrawFn, high: float) -> float:
    return draw(limits(high))


@st.composite
def circuits(draw: st.DrawFn, slots: int) -> tuple[Circuit, ...]:
    """A tree of 1-3 levels; the root has per-phase limits, sometimes varying by slot."""
    if draw(st.booleans()):
        root = Circuit(
            "root",
            limit_a_by_slot=tuple(
                (_amps(draw, 80), _amps(draw, 80), _amps(draw, 80)) for _ in range(slots)
            ),
            limit_kw=draw(st.none() | limits(60)),
        )
    else:
        root = Circuit(
            "root",
            limit_a=(_amps(draw, 80), _amps(draw, 80), _amps(draw, 80)),
            limit_kw_by_slot=draw(st.none() | st.tuples(*[limits(60)] * slots)),
        )
    nodes = [root]
    for k in range(draw(st.integers(0, 3))):
        child = Circuit(
            f"feeder{k}",
            "root",
            limit_a=draw(st.none() | st.tuples(*[limits(63)] * 3)),
            limit_kw=draw(st.none() | limits(40)),
        )
        nodes.append(child)
        for j in range(draw(st.integers(0, 2))):
            nodes.append(
                Circuit(
                    f"cabinet{k}.{j}",
                    child.id,
                    limit_a=draw(st.none() | st.tuples(*[limits(40)] * 3)),
                    limit_kw=draw(st.none() | limits(25)),
                )
            )
    return tuple(nodes)


@st.composite
def chargers(draw: st.DrawFn, circuit_ids: list[str]) -> tuple[Charger, ...]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        phases, line_to_line = draw(st.sampled_from(WIRINGS))
        low = draw(st.sampled_from((0.0, 6.0, 6.0, 8.0)))
        out.append(
            Charger(
                f"c{i}",
                draw(st.sampled_from(circuit_ids)),
                phases=phases,
                line_to_line=line_to_line,
                min_current_a=low,
                max_current_a=draw(st.sampled_from((16.0, 32.0, 40.0, 13.5))),
                current_step_a=draw(st.sampled_from((1.0, 1.0, 0.5, 0.0))),
                voltage_v=208.0 if line_to_line else 230.0,
            )
        )
    return tuple(out)


@st.composite
def sessions(draw: st.DrawFn, ids: list[str], end_s: float) -> tuple[Session, ...]:
    out = []
    for charger_id in ids:
        if not draw(st.booleans()) and len(ids) > 1:
            continue
        arrival_s = draw(st.sampled_from((-3600.0, 0.0, 0.0, 450.0, 900.0, end_s / 2)))
        requested = draw(st.floats(0, 60) | st.floats(5, 60))
        measured = draw(st.none() | st.none() | st.floats(0, 20000))
        out.append(
            Session(
                f"s{charger_id}",
                charger_id,
                energy_requested_kwh=requested,
                energy_delivered_kwh=draw(st.floats(0, 1)) * requested,
                arrival_s=arrival_s,
                departure_s=max(arrival_s, 0.0) + draw(st.floats(60, 2 * end_s + 60)),
                max_current_a=draw(st.none() | st.none() | st.floats(0, 40) | st.just(16.0)),
                phases_used=draw(st.none() | st.integers(1, 3)),
                measured_power_w=measured,
                applied_limit_a=None if measured is None else draw(limits(40)),
                charging=draw(st.booleans()),
            )
        )
    return tuple(out)


@st.composite
def constraints(draw: st.DrawFn, ids: list[str]) -> tuple[LinearConstraint, ...]:
    """Sometimes one extra constraint with mixed-sign coefficients; zero always satisfies it."""
    if not draw(st.booleans()):
        return ()
    chosen = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
    coefficients = {
        cid: draw(st.sampled_from((1.0, 1.0, -1.0, 0.5, 1.732, -0.866))) for cid in chosen
    }
    return (
        LinearConstraint(
            "extra",
            coefficients,
            upper_a=draw(limits(60)),
            lower_a=draw(st.none() | st.floats(-60, 0)),
        ),
    )


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    slots = draw(st.integers(1, 6))
    durations = tuple(draw(st.sampled_from((300.0, 900.0, 1800.0, 3600.0))) for _ in range(slots))
    horizon = Horizon(durations)
    tree = draw(circuits(slots))
    fleet = draw(chargers([c.id for c in tree]))
    ids = [c.id for c in fleet]
    return Problem(
        horizon=horizon,
        chargers=fleet,
        sessions=draw(sessions(ids, horizon.end_s)),
        circuits=tree,
        tariff=Tariff(
            tuple(draw(st.floats(0, 0.5)) for _ in range(slots)),
            demand_charge_per_kw=draw(st.floats(0, 20)),
            peak_so_far_kw=draw(st.floats(0, 30)),
        ),
        constraints=draw(constraints(ids)),
    )

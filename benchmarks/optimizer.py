"""How fast the HiGHS scheduler plans a site, cold and warm, against PuLP + CBC.

Sites of N chargers (7.4 to 22 kW AC, single- and three-phase with rotated phases, some 50 to
150 kW DC) under a root and a few feeders, the root at about 40% of the chargers' summed maxima,
96 slots of 15 minutes with time-of-use prices and a demand charge, most chargers occupied.

Cold: a new :class:`~optimizer.lp_highs.HighsScheduler` builds and solves the instance.
Warm: the same scheduler re-plans 5 simulated seconds later on the same slot grid (first slot
5 s shorter): energy delivered at the planned currents, a few arrivals and departures, and the
site capacity lowered by 2%. A car the previous plan let charge is ``charging`` (the
minimum-current rule keeps it at its minimum at least). PuLP + CBC solves the cold instance
once per size for the ratio.

    .venv/bin/python benchmarks/optimizer.py [--sizes 10 100 1000 5000] [--skip-pulp-above 1000]

Prints figures, and as its last line a JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from optimizer.lp_highs import HighsScheduler
from optimizer.model import (
    Charger,
    Circuit,
    Horizon,
    Plan,
    Problem,
    Session,
    Tariff,
)

SLOTS = 96
SLOT_S = 900.0
STEP_S = 5.0
ROTATIONS = ((0, 1, 2), (1, 2, 0), (2, 0, 1))


def _charger(i: int, feeder: str, rng: np.random.Generator) -> Charger:
    kind = rng.random()
    if kind < 0.12:  # DC, given by the per-phase AC current of its power
        kw = float(rng.choice((50.0, 100.0, 150.0)))
        return Charger(f"c{i}", feeder, ROTATIONS[i % 3], 0.0, kw * 1000 / 690, 1.0, dc=True)
    if kind < 0.30:  # 7.4 kW single phase, spread over the phases
        return Charger(f"c{i}", feeder, (i % 3,), 6.0, 32.0)
    amps = 32.0 if kind < 0.50 else 16.0  # 22 kW or 11 kW three-phase
    return Charger(f"c{i}", feeder, ROTATIONS[i % 3], 6.0, amps)


def _phase_load_a(chargers: list[Charger]) -> np.ndarray:
    load = np.zeros(3)
    for c in chargers:
        for p in c.phases:
            load[p] += c.max_current_a
    return load


def _session(charger: Charger, rng: np.random.Generator, arrival_s: float) -> Session:
    if charger.dc:
        energy, stay_h = rng.uniform(20, 80), rng.uniform(0.5, 2.0)
    else:
        energy, stay_h = rng.uniform(5, 50), rng.choice((rng.uniform(1, 12), rng.uniform(12, 30)))
    single = len(charger.phases) == 3 and not charger.dc and rng.random() < 0.1
    return Session(
        f"s-{charger.id}-{arrival_s:.0f}",
        charger.id,
        energy_requested_kwh=float(energy),
        departure_s=max(arrival_s, 0.0) + float(stay_h) * 3600.0,
        energy_delivered_kwh=float(rng.uniform(0, 0.3) * energy) if arrival_s <= 0 else 0.0,
        arrival_s=arrival_s,
        phases_used=1 if single else None,
    )


def site(n: int, seed: int = 0) -> Problem:
    """A site of ``n`` chargers with most of them occupied."""
    rng = np.random.default_rng(seed)
    feeders = [f"feeder{k}" for k in range(max(2, min(6, n // 40)))]
    chargers = [_charger(i, feeders[i % len(feeders)], rng) for i in range(n)]
    circuits = [Circuit("root", limit_a=tuple(0.4 * _phase_load_a(chargers)))]  # type: ignore[arg-type]
    for feeder in feeders:
        load = _phase_load_a([c for c in chargers if c.circuit_id == feeder])
        circuits.append(Circuit(feeder, "root", limit_a=tuple(0.7 * load)))  # type: ignore[arg-type]
    sessions = []
    for charger in chargers:
        draw = rng.random()
        if draw < 0.8:
            sessions.append(_session(charger, rng, -float(rng.uniform(0, 8 * 3600))))
        elif draw < 0.9:
            sessions.append(_session(charger, rng, float(rng.uniform(0, 12 * 3600))))
    hours = (16 + np.arange(SLOTS) * SLOT_S / 3600) % 24  # the horizon starts at 16:00
    price = np.where((hours >= 17) & (hours < 21), 0.38, np.where(hours < 7, 0.16, 0.27))
    total_kw = sum(c.watts_per_amp * c.max_current_a for c in chargers) / 1000
    return Problem(
        horizon=Horizon.uniform(SLOTS, SLOT_S),
        chargers=tuple(chargers),
        sessions=tuple(sessions),
        circuits=tuple(circuits),
        tariff=Tariff(tuple(price), demand_charge_per_kw=8.0, peak_so_far_kw=0.25 * total_kw),
    )


def five_seconds_later(problem: Problem, plan: Plan, rng: np.random.Generator) -> Problem:
    """The site ``STEP_S`` later on the same slot grid, after the plan's first slot ran."""
    durations = list(problem.horizon.durations_s)
    if durations[0] <= STEP_S:
        raise ValueError("the benchmark steps stay within the first slot")
    durations[0] -= STEP_S
    index = problem.charger_index
    sessions = []
    for s in problem.sessions:
        if rng.random() < 0.01:
            continue  # leaves early
        power_kw = plan.power_w[index[s.charger_id], 0] / 1000
        sessions.append(
            replace(
                s,
                energy_delivered_kwh=min(
                    s.energy_requested_kwh, s.energy_delivered_kwh + power_kw * STEP_S / 3600
                ),
                arrival_s=s.arrival_s - STEP_S,
                departure_s=s.departure_s - STEP_S,
                charging=plan.limit_now_a[s.charger_id] > 0,
            )
        )
    taken = {s.charger_id for s in sessions}
    free = [c for c in problem.chargers if c.id not in taken]
    for charger in free:
        if rng.random() < 0.05:
            sessions.append(_session(charger, rng, 0.0))
    root, *rest = problem.circuits
    assert root.limit_a is not None
    root = replace(root, limit_a=tuple(0.98 * a for a in root.limit_a))  # type: ignore[arg-type]
    return replace(
        problem,
        horizon=Horizon(tuple(durations)),
        sessions=tuple(sessions),
        circuits=(root, *rest),
    )


def _pulp_scheduler() -> Any:
    try:
        from optimizer.lp_pulp import PulpScheduler, objective_value
    except ImportError:
        return None
    return PulpScheduler("CBC"), objective_value


def measure(n: int, repeats: int, warm_steps: int, pulp: Any) -> dict[str, Any]:
    problem = site(n)
    cold_s, objective = [], float("nan")
    for _ in range(repeats):
        scheduler = HighsScheduler()
        started = time.perf_counter()
        solution = scheduler.solve(problem)
        cold_s.append(time.perf_counter() - started)
        objective = solution.objective
    plan = scheduler.plan(problem)  # a warm no-op re-plan, for the currents of the first step
    rng = np.random.default_rng(n)
    warm_s, warm_iterations, now = [], [], problem
    for _ in range(warm_steps):
        now = five_seconds_later(now, plan, rng)
        started = time.perf_counter()
        plan = scheduler.plan(now)
        warm_s.append(time.perf_counter() - started)
        warm_iterations.append(plan.notes[0])
        if plan.status != "optimal" or not plan.notes[0].startswith("warm"):
            raise RuntimeError(f"N={n}: the re-plan was not a warm optimal solve: {plan.notes}")
    check = HighsScheduler().solve(now)
    warm_gap = abs(check.objective - scheduler.solve(now).objective) / abs(check.objective)
    result: dict[str, Any] = {
        "n": n,
        "sessions": len(problem.sessions),
        "cold_s": statistics.median(cold_s),
        "warm_ms": 1000 * statistics.median(warm_s),
        "warm_notes": warm_iterations,
        "warm_vs_cold_gap": warm_gap,
        "objective": objective,
    }
    if pulp is not None:
        scheduler_pulp, objective_value = pulp
        started = time.perf_counter()
        pulp_plan = scheduler_pulp.plan(problem)
        result["pulp_s"] = time.perf_counter() - started
        pulp_objective = objective_value(problem, pulp_plan.current_a)
        result["pulp_status"] = str(pulp_plan.status)
        result["rel_gap"] = abs(objective - pulp_objective) / max(abs(pulp_objective), 1e-9)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--skip-pulp-above", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="cold solves per size")
    parser.add_argument("--warm-steps", type=int, default=5, help="warm re-plans per size")
    args = parser.parse_args(argv)
    pulp = _pulp_scheduler()
    if pulp is None:
        print("optimizer.lp_pulp not importable: no PuLP comparison")
    results = {}
    for n in args.sizes:
        r = measure(n, args.repeats, args.warm_steps, pulp if n <= args.skip_pulp_above else None)
        results[n] = r
        line = (
            f"N={n:5d} sessions={r['sessions']:5d}  cold {r['cold_s']:7.3f} s  "
            f"warm {r['warm_ms']:8.1f} ms  warm-vs-cold gap {r['warm_vs_cold_gap']:.1e}"
        )
        if "pulp_s" in r:
            line += (
                f"  pulp+cbc {r['pulp_s']:7.2f} s ({r['pulp_status']}) "
                f"x{r['pulp_s'] / r['cold_s']:.1f}  rel gap {r['rel_gap']:.1e}"
            )
        print(line)
        print(f"        warm notes: {'; '.join(r['warm_notes'])}")

    def get(n: int, key: str, scale: float = 1.0) -> float | None:
        return round(results[n][key] * scale, 4) if key in results.get(n, {}) else None

    speedup = None
    if "pulp_s" in results.get(1000, {}):
        speedup = round(results[1000]["pulp_s"] / results[1000]["cold_s"], 1)
    gaps = [r["rel_gap"] for r in results.values() if "rel_gap" in r]
    print(
        json.dumps(
            {
                "warm_ms_1000": get(1000, "warm_ms"),
                "cold_s_1000": get(1000, "cold_s"),
                "warm_ms_5000": get(5000, "warm_ms"),
                "cold_s_5000": get(5000, "cold_s"),
                "speedup_vs_pulp_cbc_1000": speedup,
                "max_rel_gap": max(gaps) if gaps else None,
            }
        )
    )


if __name__ == "__main__":
    main()

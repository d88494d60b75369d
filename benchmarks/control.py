"""Control-cycle benchmark: one cycle (snapshot, problem, solve, dispatch decisions) at N sessions.

A synthetic site of N three-phase 22 kW chargers on cabinets of 20 behind a grid connection of
about 40 % of their summed maxima, a time-of-use tariff, every charger with a car. Each cycle
the simulated clock moves 5 s on, the cars deliver energy at their limits, a few leave and
others arrive, and the loop runs :meth:`ems.control.loop.ControlLoop.cycle` against an
in-memory :class:`~ems.control.interface.SiteInterface` that accepts every limit (no network):
the figure is ems's own work per cycle.

Usage: ``python benchmarks/control.py [--sessions 1000] [--cycles 40]``. The last line printed
is a JSON object with ``cycle_ms_<N>`` (median over the warm cycles) and more figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ems.control.interface import (
    ActiveSession,
    ChargerView,
    LimitAnswer,
    LimitCommand,
    Snapshot,
)
from ems.control.loop import ControlLoop
from ems.site import SiteConfig, load_site

SITE = """
[site]
id = "bench"
name = "Benchmark site"
timezone = "Europe/Amsterdam"
tariff = "{tariff}"

[control]
interval_s = 5
deadband_a = 1.0
horizon_h = 24
slot_s = 900
first_slots = [300, 300, 300]
profile_validity_s = 120
default_departure_h = 10
default_energy_kwh = 40

[[circuits]]
id = "grid"
limit_a = {grid_a}
{cabinets}
"""

CABINET = """
[[circuits]]
id = "cabinet-{k}"
parent = "grid"
limit_a = 400

[[chargers]]
charge_point_id = "B{k:03}-{{n:02}}"
count = {count}
circuit = "cabinet-{k}"
phases = ["L1L2L3", "L2L3L1", "L3L1L2"]
min_current_a = 6
max_current_a = 32
current_step_a = 1
"""


def make_site(n: int, folder: Path) -> SiteConfig:
    root = Path(__file__).resolve().parent.parent
    tariff = root / "data" / "tariffs" / "tou.toml"
    cabinets = "".join(
        CABINET.format(k=k, count=min(20, n - 20 * k)) for k in range((n + 19) // 20)
    )
    grid_a = round(0.4 * n * 32)
    path = folder / "bench.toml"
    path.write_text(SITE.format(tariff=tariff, grid_a=grid_a, cabinets=cabinets))
    return load_site(path)


class BenchSite:
    """An in-memory site: N cars that charge at their limits; accepts every limit."""

    def __init__(self, site: SiteConfig, start: datetime, seed: int) -> None:
        self.site = site
        self.rng = random.Random(seed)
        self.keys = [c.key for c in site.chargers]
        self.sessions: dict[str, ActiveSession] = {}
        self.limits: dict[str, tuple[float, datetime]] = {}
        self.counter = 0
        for key in self.keys:
            self._arrive(key, start - timedelta(minutes=self.rng.uniform(0, 300)))

    def _arrive(self, key: str, at: datetime) -> None:
        self.counter += 1
        self.sessions[key] = ActiveSession(
            key=key,
            session_id=f"s{self.counter}",
            transaction_id=str(self.counter),
            arrival=at,
            energy_delivered_kwh=self.rng.uniform(0, 20),
            driver_departure=at + timedelta(hours=self.rng.uniform(2, 12)),
            driver_energy_kwh=self.rng.uniform(10, 60),
            charging=True,
        )
        self.limits.pop(key, None)

    def advance(self, now: datetime, step_s: float, turnover: int) -> None:
        """Deliver energy for ``step_s`` at each limit; ``turnover`` cars leave and arrive."""
        for key, session in list(self.sessions.items()):
            limit_a = self.limits.get(key, (6.0, now))[0]
            power_w = limit_a * self.site.charger(key).watts_per_amp
            energy = session.energy_delivered_kwh + power_w * step_s / 3.6e6
            self.sessions[key] = ActiveSession(
                **{
                    **{f: getattr(session, f) for f in session.__dataclass_fields__},
                    "energy_delivered_kwh": energy,
                    "measured_power_w": power_w,
                    "measured_at": now,
                    "applied_limit_a": limit_a if key in self.limits else None,
                }
            )
        for key in self.rng.sample(self.keys, turnover):
            self._arrive(key, now)

    def snapshot(self, now: datetime) -> Snapshot:
        chargers = {
            key: ChargerView(
                key,
                True,
                True,
                self.limits[key][0] if key in self.limits else None,
                self.limits[key][1] if key in self.limits else None,
            )
            for key in self.keys
        }
        return Snapshot(now, tuple(self.sessions.values()), chargers, None, 0.0)

    async def apply(self, commands: Sequence[LimitCommand]) -> Sequence[LimitAnswer]:
        for command in commands:
            self.limits[command.key] = (command.limit_a, command.valid_until)
        return [LimitAnswer(c, True, "Accepted") for c in commands]


async def run(n: int, cycles: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        site = make_site(n, Path(folder))
    now = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    world = BenchSite(site, now, seed)
    clock_now = [now]
    loop = ControlLoop(site, world, clock=lambda: clock_now[0])
    decide_ms: list[float] = []
    solve_ms: list[float] = []
    sent: list[int] = []
    for cycle in range(cycles):
        result = await loop.cycle("bench")
        decide_ms.append(result.decide_s * 1000.0)
        solve_ms.append(result.plan.solve_time_s * 1000.0)
        sent.append(len(result.commands))
        if cycle == 0:
            print(f"N={n}: first cycle {decide_ms[0]:.0f} ms ({result.plan.notes})")
        clock_now[0] += timedelta(seconds=5)
        world.advance(clock_now[0], 5.0, turnover=max(1, n // 200))
    warm = decide_ms[2:]
    median = statistics.median(warm)
    p95 = sorted(warm)[int(0.95 * (len(warm) - 1))]
    print(
        f"N={n}: cycle median {median:.1f} ms, p95 {p95:.1f} ms, solve median "
        f"{statistics.median(solve_ms[2:]):.1f} ms, limits sent per cycle median "
        f"{statistics.median(sent[2:]):.0f}"
    )
    return {
        f"cycle_ms_{n}": round(median, 1),
        f"cycle_p95_ms_{n}": round(p95, 1),
        f"solve_ms_{n}": round(statistics.median(solve_ms[2:]), 1),
        f"first_cycle_ms_{n}": round(decide_ms[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1000])
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}")  # fmt: skip
    figures: dict[str, float] = {}
    for n in args.sessions:
        figures |= asyncio.run(run(n, args.cycles, args.seed))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

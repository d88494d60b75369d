"""One month of the 54-EVSE Caltech ACN garage replayed at 5-minute control steps with the LP.

The sessions are the real ACN-Data ones of October 2019 (930) (``data/sessions/``), the site is
``data/sites/caltech.toml`` (acnportal's network, 150 kW transformer unless ``--capacity-kw``),
the policy ``lp-energy`` by default: every 5 minutes (and at every arrival and departure) the
live control loop snapshots the simulated site, builds the problem, solves the LP warm and
dispatches the limits. The goal is a month in at most 60 s on the project's 2-core machine.

    .venv/bin/python benchmarks/replay.py [--policy lp-energy] [--capacity-kw 50] [--profile]

It prints the run's figures and, as its last line, a JSON object with ``replay_month_s`` (wall
time of the whole replay, loading excluded) and ``energy_delivered_pct``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems.datasets import CALTECH_SESSION_FILES, load_sessions  # noqa: E402
from ems.replay.run import ReplayOptions, run_replay  # noqa: E402
from ems.replay.scenario import parse_policy  # noqa: E402
from ems.site import load_site  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default="lp-energy")
    parser.add_argument("--capacity-kw", type=float, default=50.0)
    parser.add_argument("--month", default="2019-10", help="YYYY-MM within the bundled data")
    parser.add_argument("--no-event-cycles", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()

    zone = ZoneInfo("America/Los_Angeles")
    year, month = (int(part) for part in args.month.split("-"))
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    records = [r for path in CALTECH_SESSION_FILES.values() for r in load_sessions(path)]
    site = load_site(ROOT / "data" / "sites" / "caltech.toml")
    options = ReplayOptions(
        policy=parse_policy(args.policy),
        start=start,
        end=end,
        capacity_kw=args.capacity_kw,
        event_cycles=not args.no_event_cycles,
    )
    profiler = cProfile.Profile() if args.profile else None
    began = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = run_replay(site, records, options)
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - began
    m = result.metrics
    print(
        f"{args.month}: {m.sessions} sessions on {len(site.chargers)} EVSEs, "
        f"{args.capacity_kw:g} kW, policy {m.policy}"
    )
    print(
        f"  {m.cycles} control cycles in {elapsed:.1f} s "
        f"({elapsed / max(m.cycles, 1) * 1000:.2f} ms per cycle)"
    )
    print(f"  solve median {m.solve_ms_median:.2f} ms, p95 {m.solve_ms_p95:.2f} ms")
    print(
        f"  energy delivered {m.energy_delivered_pct:.2f} % of {m.energy_requested_kwh:.0f} kWh, "
        f"peak {m.peak_kw:.1f} kW, limit violations {m.violation_steps}"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    print(
        json.dumps(
            {
                "replay_month_s": round(elapsed, 2),
                "energy_delivered_pct": round(m.energy_delivered_pct, 3),
                "sessions": m.sessions,
                "cycles": m.cycles,
                "solve_ms_median": round(m.solve_ms_median, 3),
                "solve_ms_p95": round(m.solve_ms_p95, 3),
                "violation_steps": m.violation_steps,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reference figures from acnportal's own simulator on our Caltech session windows.

acnportal (Caltech's simulator, PyPI ``acnportal``, BSD) is not a dependency of ems: run this
with a Python that has it, and ems's source on the path::

    python3 -m venv /tmp/acn && /tmp/acn/bin/pip install acnportal
    PYTHONPATH=. /tmp/acn/bin/python scripts/acn_compare.py \
        --start 2019-07-01 --end 2019-07-08 --transformer-kw 30 50 70 150

It replays the sessions on ``caltech_acn(transformer_cap=...)`` with acnportal's conventions
(as its ``acndata_events`` does): 5-minute periods, 208 V, each car an ideal battery whose
capacity is the energy the session really delivered and whose maximum power is 32 A * 208 V, the
true departure known to the algorithm. It runs uncontrolled charging (which ignores the network's
limits), round robin, earliest deadline first and least laxity first, and prints the energy
delivered [% of requested] for each algorithm and transformer size. The last line is JSON.

``--dump-network FILE`` writes acnportal's Caltech network (stations, phase angles, EVSE rates,
constraint matrix and limits) as JSON, the golden file ems's tests compare
:mod:`ems.datasets.caltech` against.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ems.datasets import CALTECH_SESSION_FILES, SessionRecord, load_sessions
from ems.datasets.caltech import TIMEZONE

PERIOD_MIN = 5
VOLTAGE_V = 208.0
MAX_BATTERY_KW = 32 * VOLTAGE_V / 1000
ALGORITHMS = ("uncontrolled", "round_robin", "edf", "llf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=Path, nargs="+", default=None,
                        help="session files (default: both bundled Caltech 2019 windows)")
    parser.add_argument("--start", help="first local day (YYYY-MM-DD, America/Los_Angeles)")
    parser.add_argument("--end", help="day after the last local day (YYYY-MM-DD)")
    parser.add_argument("--transformer-kw", type=float, nargs="+", default=[150.0])
    parser.add_argument("--algorithms", nargs="+", choices=ALGORITHMS, default=list(ALGORITHMS))
    parser.add_argument("--basic-evse", action="store_true",
                        help="continuous 0-32 A EVSEs instead of the real AV/CC types")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    parser.add_argument("--dump-network", type=Path, metavar="FILE",
                        help="write acnportal's Caltech network as JSON and exit")
    args = parser.parse_args(argv)
    if args.dump_network:
        args.dump_network.write_text(json.dumps(dump_network(), indent=1) + "\n")
        print(f"wrote {args.dump_network}")
        return 0

    zone = ZoneInfo(TIMEZONE)
    files = args.sessions or list(CALTECH_SESSION_FILES.values())
    sessions = [s for f in files for s in load_sessions(f)]
    start = _local_day(args.start, zone) if args.start else _first_midnight(sessions, zone)
    end = _local_day(args.end, zone) if args.end else _last_midnight(sessions, zone)
    window = [s for s in sessions if start <= s.arrival < end]
    print(f"{len(window)} sessions from {start.date()} to {end.date()} (local), "
          f"{sum(s.energy_delivered_kwh for s in window):.1f} kWh delivered in the data")

    rows = []
    for transformer_kw in args.transformer_kw:
        for name in args.algorithms:
            began = time.perf_counter()
            pct = simulate(window, start, transformer_kw, name, args.basic_evse)
            elapsed = time.perf_counter() - began
            rows.append({"transformer_kw": transformer_kw, "algorithm": name,
                         "energy_delivered_pct": round(pct, 3), "run_s": round(elapsed, 1)})
            print(f"{transformer_kw:8.0f} kW  {name:13s} {pct:8.2f} %   ({elapsed:.0f} s)",
                  flush=True)
    result = {
        "sessions": [Path(f).name for f in files],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "session_count": len(window),
        "period_min": PERIOD_MIN,
        "basic_evse": args.basic_evse,
        "results": rows,
    }
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))
    return 0


def simulate(
    sessions: list[SessionRecord], start: datetime, transformer_kw: float, algorithm: str,
    basic_evse: bool,
) -> float:
    """Energy delivered [% of requested] by acnportal's ``algorithm`` on these sessions."""
    from acnportal import acnsim, algorithms

    network = acnsim.sites.caltech_acn(basic_evse=basic_evse, voltage=VOLTAGE_V,
                                       transformer_cap=transformer_kw)
    offset = _periods(start)
    evs = []
    for s in sessions:
        arrival, departure = _periods(s.arrival) - offset, _periods(s.departure) - offset
        if departure <= arrival:
            continue  # shorter than one period: acnportal could not charge it either
        battery = acnsim.Battery(s.energy_delivered_kwh, 0, MAX_BATTERY_KW)
        evs.append(acnsim.EV(arrival, departure, s.energy_delivered_kwh, s.station_id,
                             s.session_id, battery))
    events = acnsim.EventQueue([acnsim.PluginEvent(ev.arrival, ev) for ev in evs])
    scheduler: Any
    if algorithm == "uncontrolled":
        scheduler = algorithms.UncontrolledCharging()
    elif algorithm == "round_robin":
        scheduler = algorithms.RoundRobin(algorithms.first_come_first_served)
    elif algorithm == "edf":
        scheduler = algorithms.SortedSchedulingAlgo(algorithms.earliest_deadline_first)
    else:
        scheduler = algorithms.SortedSchedulingAlgo(algorithms.least_laxity_first)
    sim = acnsim.Simulator(network, scheduler, events, start, period=PERIOD_MIN, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # uncontrolled breaks tight limits, by design
        sim.run()
    return 100.0 * float(acnsim.proportion_of_energy_delivered(sim))


def dump_network(transformer_kw: float = 150.0) -> dict[str, Any]:
    """acnportal's Caltech network as plain JSON data."""
    from acnportal import acnsim

    network = acnsim.sites.caltech_acn(transformer_cap=transformer_kw)
    evses = {sid: network._EVSEs[sid] for sid in network.station_ids}
    return {
        "acnportal_function": "acnportal.acnsim.network.sites.caltech_acn",
        "transformer_kw": transformer_kw,
        "station_ids": list(network.station_ids),
        "phase_angles_deg": [network.phase_angles[s] for s in network.station_ids],
        "voltages_v": [network.voltages[s] for s in network.station_ids],
        "allowable_rates_a": [list(map(float, evses[s].allowable_pilot_signals))
                              for s in network.station_ids],
        "is_continuous": [bool(evses[s].is_continuous) for s in network.station_ids],
        "constraint_names": list(network.constraint_index),
        "constraint_matrix": network.constraint_matrix.tolist(),
        "magnitudes_a": network.magnitudes.tolist(),
    }


def _periods(moment: datetime) -> int:
    return int(moment.timestamp() / (60 * PERIOD_MIN))


def _local_day(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def _first_midnight(sessions: list[SessionRecord], zone: ZoneInfo) -> datetime:
    first = min(s.arrival for s in sessions).astimezone(zone)
    return first.replace(hour=0, minute=0, second=0, microsecond=0)


def _last_midnight(sessions: list[SessionRecord], zone: ZoneInfo) -> datetime:
    last = max(s.arrival for s in sessions).astimezone(zone)
    return (last + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


if __name__ == "__main__":
    sys.exit(main())

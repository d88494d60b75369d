"""``ems forecast-backtest`` and ``ems export-sessions``: recorded sessions out, forecasts scored.

``forecast-backtest`` shows how good the departure, energy and arrival forecasts are on data.

A rolling-origin backtest (:func:`forecasts.backtest.backtest_sessions`) on recorded sessions (any
format :func:`ems.datasets.load_sessions` reads): at every weekly origin the models learn from
what had ended and predict the sessions of the following week. It prints MAE and interval
coverage per forecaster as a table, and writes them as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ems.config import Settings


def add_forecast_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "forecast-backtest",
        help="backtest the departure/energy/arrival forecasts on recorded sessions",
    )
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=Path, required=True,
                        help="sessions file (ACN CSV or JSON, ems CSV; .gz ok)")  # fmt: skip
    parser.add_argument("--timezone", default="UTC", help="the site's time zone (arrival hours)")
    parser.add_argument("--interval", type=float, default=0.9, help="nominal interval coverage")
    parser.add_argument(
        "--initial-days", type=float, default=28.0, help="history before the first origin"
    )
    parser.add_argument("--step-days", type=float, default=7.0, help="days between origins")
    parser.add_argument("--json", type=Path, help="also write the scores to this JSON file")
    parser.set_defaults(func=cmd_forecast_backtest)


def add_export_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export-sessions",
        help="write the finished sessions ems recorded as a session CSV (for replay, forecasts)",
    )
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, required=True, help="CSV file (.csv.gz compresses)")
    parser.add_argument("--since", type=_aware, help="started at or after (ISO 8601 with offset)")
    parser.add_argument("--until", type=_aware, help="started before (ISO 8601 with offset)")
    parser.add_argument("--charge-point", help="only this charge point")
    parser.set_defaults(func=cmd_export_sessions)


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. 2026-10-01T00:00+00:00")
    return value.astimezone(UTC)


def cmd_export_sessions(args: argparse.Namespace, settings: Settings) -> int:
    from ems.datasets import write_sessions_csv
    from ems.datasets.export import recorded_sessions
    from ems.store import Store

    store = Store(settings.database.url)
    try:
        store.migrate()
        count = write_sessions_csv(
            recorded_sessions(
                store, since=args.since, until=args.until, charge_point_id=args.charge_point
            ),
            args.out,
        )
    finally:
        store.dispose()
    print(f"{count} sessions written to {args.out}")
    return 0


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}{unit}"


def cmd_forecast_backtest(args: argparse.Namespace, settings: Settings) -> int:
    from ems.datasets import DatasetError, load_sessions
    from forecasts.backtest import backtest_sessions

    try:
        data = load_sessions(args.sessions)
        result = backtest_sessions(
            list(data.sessions),
            timezone=args.timezone,
            interval=args.interval,
            initial=timedelta(days=args.initial_days),
            step=timedelta(days=args.step_days),
        )
    except (DatasetError, ValueError, OSError) as error:
        print(f"ems forecast-backtest: {error}", file=sys.stderr)
        return 2
    print(f"{len(data.sessions)} sessions, {result.origins} origins, "
          f"{result.interval:.0%} intervals")  # fmt: skip
    header = ("forecaster", "subset", "sessions", "departure MAE", "coverage", "energy MAE",
              "coverage")  # fmt: skip
    rows = [
        (s.forecaster, s.subset, str(s.sessions), _fmt(s.departure_mae_h, " h"),
         _fmt(s.departure_coverage), _fmt(s.energy_mae_kwh, " kWh"), _fmt(s.energy_coverage))
        for s in result.scores
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"arrivals per hour: MAE {result.arrivals_mae_per_h:.2f} "
          f"(flat rate {result.arrivals_flat_mae_per_h:.2f})")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps({
            "sessions": len(data.sessions), "origins": result.origins,
            "interval": result.interval, "scores": result.rows(),
            "arrivals_mae_per_h": result.arrivals_mae_per_h,
            "arrivals_flat_mae_per_h": result.arrivals_flat_mae_per_h,
        }, indent=2))  # fmt: skip
    return 0

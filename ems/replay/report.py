"""A replay's results as a terminal table (rich), JSON and CSV files.

Files written to the output folder (:func:`write_results`):

``results.json``
    ``{"inputs": {...}, "runs": [{label, ...RunMetrics}]}``: every figure of every run.
``results.csv``
    The same runs, one row each, the columns of :class:`~ems.replay.metrics.RunMetrics`.
``series.csv``
    Per run and control step: ``run, start (UTC ISO 8601), mean_kw, max_kw, capacity_kw``.
``sessions.csv``
    Per run and session: ``run, session_id, station_id, charger, arrival, departure, need_kwh,
    delivered_kwh``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ems.replay.run import ReplayResult

_COLUMNS = (
    "label",
    "policy",
    "capacity_kw",
    "tariff",
    "knowledge",
    "sessions",
    "sessions_dropped",
    "energy_requested_kwh",
    "energy_delivered_kwh",
    "energy_delivered_pct",
    "unmet_kwh",
    "peak_kw",
    "energy_cost",
    "demand_charge",
    "currency",
    "violation_steps",
    "steps",
    "fairness_jain",
    "cycles",
    "solve_ms_median",
    "solve_ms_p95",
    "run_s",
)


@dataclass(frozen=True)
class LabelledResult:
    """A run's result and the label that tells it apart from the others of the same call."""

    label: str
    result: ReplayResult

    def row(self) -> dict[str, object]:
        return {"label": self.label, **self.result.metrics.as_dict()}


def results_table(runs: Sequence[LabelledResult], title: str = "ems replay") -> Table:
    """The runs as a rich table: one row per run, the figures that compare policies."""
    table = Table(title=title)
    for name, justify in (
        ("run", "left"),
        ("sessions", "right"),
        ("delivered", "right"),
        ("unmet kWh", "right"),
        ("peak kW", "right"),
        ("energy cost", "right"),
        ("demand charge", "right"),
        ("violations", "right"),
        ("fairness", "right"),
        ("solve ms p50/p95", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for run in runs:
        m = run.result.metrics
        table.add_row(
            run.label,
            str(m.sessions),
            f"{m.energy_delivered_pct:.2f} %",
            f"{m.unmet_kwh:.1f}",
            f"{m.peak_kw:.1f}",
            f"{m.energy_cost:,.2f} {m.currency}",
            f"{m.demand_charge:,.2f} {m.currency}",
            f"{m.violation_steps} / {m.steps}",
            f"{m.fairness_jain:.3f}",
            f"{m.solve_ms_median:.1f} / {m.solve_ms_p95:.1f}",
        )
    return table


def print_results(
    runs: Sequence[LabelledResult], console: Console | None = None, title: str = "ems replay"
) -> None:
    """Print the table of ``runs``, and the first broken limits of any run that broke one."""
    console = console or Console()
    console.print(results_table(runs, title))
    for run in runs:
        examples = run.result.metrics.violation_examples
        if examples:
            console.print(f"[yellow]{run.label}[/]: limits broken, first: {examples[0]}")


def write_results(
    runs: Sequence[LabelledResult], out: Path, inputs: Mapping[str, object]
) -> list[Path]:
    """Write ``results.json``, ``results.csv``, ``series.csv`` and ``sessions.csv`` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "results.json"
    path.write_text(
        json.dumps({"inputs": dict(inputs), "runs": [r.row() for r in runs]}, indent=1) + "\n"
    )
    written.append(path)
    path = out / "results.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for run in runs:
            writer.writerow(run.row())
    written.append(path)
    path = out / "series.csv"
    with path.open("w", newline="") as handle:
        writer_ = csv.writer(handle)
        writer_.writerow(["run", "start", "mean_kw", "max_kw", "capacity_kw"])
        for run in runs:
            series = run.result.series
            for start, mean, high, capacity in zip(
                series.starts, series.mean_kw, series.max_kw, series.capacity_kw, strict=True
            ):
                writer_.writerow(
                    [
                        run.label,
                        start.isoformat(),
                        f"{mean:.4f}",
                        f"{high:.4f}",
                        "" if capacity is None else f"{capacity:.4f}",
                    ]
                )
    written.append(path)
    path = out / "sessions.csv"
    with path.open("w", newline="") as handle:
        writer_ = csv.writer(handle)
        writer_.writerow(
            ["run", "session_id", "station_id", "charger", "arrival", "departure", "need_kwh",
             "delivered_kwh"]
        )  # fmt: skip
        for run in runs:
            for outcome in run.result.outcomes:
                s = outcome.session
                writer_.writerow(
                    [run.label, s.session_id, s.station_id, s.key, s.arrival.isoformat(),
                     s.departure.isoformat(), f"{s.need_kwh:.4f}", f"{outcome.delivered_kwh:.4f}"]
                )  # fmt: skip
    written.append(path)
    return written

"""Plots of replays: PNG with matplotlib, interactive HTML with plotly.

``load.png`` / ``load.html``
    Site EV load against the grid connection's capacity over time, one panel per run, stacked
    on one time axis so that policies compare side by side (at most :data:`MAX_LOAD_PANELS`
    runs; a sweep's first ones).
``comparison.png`` / ``comparison.html``
    Per run: energy delivered [%], peak [kW] and energy cost plus demand charge, as bars.
``sweep.png`` / ``sweep.html`` (only when runs differ in capacity)
    Energy delivered [%] against capacity [kW], one line per policy (and tariff).

The HTML files load ``plotly.min.js`` from the same folder (written once), so they work offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ems.replay.report import LabelledResult

MAX_LOAD_PANELS = 8


def write_plots(runs: Sequence[LabelledResult], out: Path, timezone: str) -> list[Path]:
    """Write the plots of ``runs`` to ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = _load_plots(runs[:MAX_LOAD_PANELS], out, timezone)
    written += _comparison_plots(runs, out)
    if len({r.result.metrics.capacity_kw for r in runs}) > 1:
        written += _sweep_plots(runs, out)
    return written


def _load_plots(runs: Sequence[LabelledResult], out: Path, timezone: str) -> list[Path]:
    if not runs:
        return []
    zone = ZoneInfo(timezone)
    height = 2.2 * len(runs) + 0.8
    fig, axes = plt.subplots(len(runs), 1, sharex=True, figsize=(12, height), squeeze=False)
    plotly_fig = make_subplots(
        rows=len(runs), cols=1, shared_xaxes=True, subplot_titles=[r.label for r in runs]
    )
    for row, run in enumerate(runs):
        series = run.result.series
        times = [t.astimezone(zone).replace(tzinfo=None) for t in series.starts]
        ax = axes[row][0]
        ax.fill_between(times, series.mean_kw, step="post", alpha=0.6, label="EV load (mean)")
        ax.step(times, series.max_kw, where="post", linewidth=0.6, label="EV load (highest)")
        capacity = [float("nan") if c is None else c for c in series.capacity_kw]
        ax.step(times, capacity, where="post", color="red", linewidth=1.0, label="capacity")
        ax.set_ylabel("kW")
        ax.set_title(run.label, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        legend = row == 0
        plotly_fig.add_trace(
            go.Scatter(x=times, y=list(series.mean_kw), name="EV load (mean)",
                       line_shape="hv", fill="tozeroy", showlegend=legend,
                       line={"color": "#1f77b4"}),
            row=row + 1, col=1,
        )  # fmt: skip
        plotly_fig.add_trace(
            go.Scatter(x=times, y=capacity, name="capacity", line_shape="hv",
                       showlegend=legend, line={"color": "red"}),
            row=row + 1, col=1,
        )  # fmt: skip
        plotly_fig.update_yaxes(title_text="kW", row=row + 1, col=1)
    axes[0][0].legend(loc="upper right", fontsize=8)
    axes[-1][0].set_xlabel(f"local time ({timezone})")
    fig.tight_layout()
    png = out / "load.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    plotly_fig.update_layout(
        title="Site EV load against capacity", height=int(260 * len(runs) + 120)
    )
    html = out / "load.html"
    plotly_fig.write_html(html, include_plotlyjs="directory")
    return [png, html]


def _comparison_plots(runs: Sequence[LabelledResult], out: Path) -> list[Path]:
    labels = [r.label for r in runs]
    metrics = [r.result.metrics for r in runs]
    currency = metrics[0].currency if metrics else ""
    panels = (
        ("energy delivered [%]", [m.energy_delivered_pct for m in metrics]),
        ("peak [kW]", [m.peak_kw for m in metrics]),
        (f"energy cost + demand charge [{currency}]",
         [m.energy_cost + m.demand_charge for m in metrics]),
    )  # fmt: skip
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 0.35 * len(runs) + 2))
    plotly_fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels])
    for k, (title, values) in enumerate(panels):
        ax = axes[k]
        ax.barh(labels, values)
        ax.set_title(title, fontsize=9)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        if k:
            ax.set_yticklabels([])
        plotly_fig.add_trace(
            go.Bar(x=values, y=labels, orientation="h", showlegend=False), row=1, col=k + 1
        )
    fig.tight_layout()
    png = out / "comparison.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    plotly_fig.update_yaxes(autorange="reversed")
    plotly_fig.update_layout(title="Policies side by side", height=int(30 * len(runs) + 250))
    html = out / "comparison.html"
    plotly_fig.write_html(html, include_plotlyjs="directory")
    return [png, html]


def _sweep_plots(runs: Sequence[LabelledResult], out: Path) -> list[Path]:
    lines: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        m = run.result.metrics
        if m.capacity_kw is None:
            continue
        lines.setdefault(f"{m.policy} ({m.tariff})", []).append(
            (m.capacity_kw, m.energy_delivered_pct)
        )
    fig, ax = plt.subplots(figsize=(8, 5))
    plotly_fig = go.Figure()
    for name, points in lines.items():
        points.sort()
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        ax.plot(xs, ys, marker="o", label=name)
        plotly_fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name))
    ax.set_xlabel("capacity [kW]")
    ax.set_ylabel("energy delivered [%]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = out / "sweep.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    plotly_fig.update_layout(
        title="Energy delivered against capacity",
        xaxis_title="capacity [kW]",
        yaxis_title="energy delivered [%]",
    )
    html = out / "sweep.html"
    plotly_fig.write_html(html, include_plotlyjs="directory")
    return [png, html]

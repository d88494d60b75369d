"""The HTML report: one self-contained file (plotly.js inlined), a section per site.

Each site has its headline figures over the range, charts per period (energy and sessions,
charging against idle time, peak power, energy cost against revenue) and per charger, and the
tables behind them. The file opens offline and prints well enough; the PDF is the print version.
"""

from __future__ import annotations

import math
from typing import Any

import jinja2
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from ems.report.build import Report
from ems.stats import DESCRIPTIONS, METRICS, Stats

CHARGING = "#2a9d8f"
IDLE = "#e9c46a"
ENERGY = "#264653"
COST = "#e76f51"
REVENUE = "#2a9d8f"

_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ems report {{ report.label }}</title>
<script>{{ plotly_js | safe }}</script>
<style>
 body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem;
        color: #222; }
 h1 { margin-bottom: 0; } .meta { color: #666; margin-top: .2rem; }
 .kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
         gap: .6rem; margin: 1rem 0; }
 .kpi { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .7rem; }
 .kpi .value { font-size: 1.35rem; font-weight: 600; } .kpi .name { color: #666; font-size: .8rem; }
 table { border-collapse: collapse; width: 100%; font-size: .8rem; margin: .5rem 0 1.5rem; }
 th, td { border-bottom: 1px solid #eee; padding: .25rem .4rem; text-align: right; }
 th:first-child, td:first-child { text-align: left; }
 .scroll { overflow-x: auto; } section { margin-bottom: 3rem; }
 dl { font-size: .85rem; } dt { font-weight: 600; } dd { margin: 0 0 .4rem 1rem; color: #444; }
</style>
</head>
<body>
<h1>Charging report {{ report.label }}</h1>
<p class="meta">Generated {{ report.generated_at.strftime("%Y-%m-%d %H:%M UTC") }} by ems</p>
{% for site in sites %}
<section id="site-{{ site.id }}">
<h2>{{ site.name }}</h2>
<p class="meta">{{ site.range }} ({{ site.timezone }}) · {{ site.chargers }} chargers ·
 by {{ site.period }}{% if site.currency %} · money in {{ site.currency }},
 excluding tax{% endif %}</p>
<div class="kpis">
{% for name, value in site.kpis %}<div class="kpi"><div class="value">{{ value }}</div>
<div class="name">{{ name }}</div></div>
{% endfor %}</div>
{% for chart in site.charts %}{{ chart | safe }}{% endfor %}
<h3>Per {{ site.period }}</h3>
<div class="scroll">{{ site.period_table | safe }}</div>
<h3>Per charger</h3>
<div class="scroll">{{ site.charger_table | safe }}</div>
</section>
{% endfor %}
<section>
<h2>Definitions</h2>
<dl>{% for name, text in definitions %}<dt>{{ name }}</dt><dd>{{ text }}</dd>{% endfor %}</dl>
<p class="meta">Energy and time are split between periods pro rata by time; a session's count,
duration, revenue and unmet energy belong to the period it started in.</p>
</section>
</body>
</html>
"""
)


def render_html(report: Report) -> str:
    """The report as one HTML document (about 5 MB, most of it plotly.js)."""
    sites = [_site(stats) for stats in report.sites]
    definitions = [(name, DESCRIPTIONS[name]) for name in (*METRICS, "peak_measured_kw")]
    return _TEMPLATE.render(
        report=report, sites=sites, plotly_js=get_plotlyjs(), definitions=definitions
    )


def fmt(value: Any, decimals: int = 1) -> str:
    """A figure for people: thousands separated, a dash for what does not exist."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{decimals}f}"


def headline(stats: Stats) -> list[tuple[str, str]]:
    """The figures over the whole range, as (name, formatted value)."""
    total = stats.total.iloc[0]
    currency = stats.currency
    kpis = [
        ("sessions", fmt(int(total["sessions"]))),
        ("energy delivered [kWh]", fmt(total["energy_kwh"])),
        ("occupancy [%]", fmt(total["occupancy_pct"])),
        ("charging [%]", fmt(total["charging_pct"])),
        ("mean session [h]", fmt(total["mean_session_duration_h"], 2)),
        ("mean session [kWh]", fmt(total["mean_session_energy_kwh"])),
        ("peak 15 min [kW]", fmt(total["peak_power_kw"])),
        ("peak measured [kW]", fmt(total["peak_measured_kw"])),
        ("unmet [kWh]", fmt(total["unmet_kwh"])),
    ]
    if currency is not None:
        kpis += [
            (f"energy cost [{currency}]", fmt(total["energy_cost"], 2)),
            (f"revenue [{currency}]", fmt(total["revenue"], 2)),
        ]
    return kpis


def range_text(stats: Stats) -> str:
    tz = stats.scope.tz
    start = stats.start.astimezone(tz)
    end = stats.end.astimezone(tz)
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


def _site(stats: Stats) -> dict[str, Any]:
    return {
        "id": stats.scope.id,
        "name": stats.scope.name,
        "timezone": stats.scope.timezone,
        "currency": stats.currency,
        "period": str(stats.period),
        "range": range_text(stats),
        "chargers": int(stats.total["chargers"].iloc[0]),
        "kpis": headline(stats),
        "charts": [_html(figure) for figure in figures(stats)],
        "period_table": _table(stats.site, "period"),
        "charger_table": _table(stats.charger_totals, "charger"),
    }


def figures(stats: Stats) -> list[go.Figure]:
    """The site's charts: per period, then per charger."""
    site = stats.site
    x = site["period"]
    energy = make_subplots(specs=[[{"secondary_y": True}]])
    energy.add_bar(x=x, y=site["energy_kwh"], name="energy [kWh]", marker_color=ENERGY)
    energy.add_scatter(x=x, y=site["sessions"], name="sessions", mode="lines+markers",
                       secondary_y=True)  # fmt: skip
    energy.update_layout(title="Energy delivered and sessions")
    energy.update_yaxes(title_text="kWh", secondary_y=False)
    energy.update_yaxes(title_text="sessions", secondary_y=True, rangemode="tozero",
                        tickformat=",d")  # fmt: skip

    time = go.Figure()
    time.add_bar(x=x, y=site["charging_h"], name="charging [h]", marker_color=CHARGING)
    time.add_bar(x=x, y=site["idle_h"], name="plugged in, idle [h]", marker_color=IDLE)
    time.update_layout(title="Time plugged in: charging and idle", barmode="stack",
                       yaxis_title="hours")  # fmt: skip

    peak = go.Figure()
    peak.add_scatter(x=x, y=site["peak_power_kw"], name="15-minute peak [kW]", mode="lines+markers")
    if site["peak_measured_kw"].notna().any():
        peak.add_scatter(x=x, y=site["peak_measured_kw"], name="measured peak [kW]",
                         mode="lines+markers")  # fmt: skip
    peak.update_layout(title="Peak site power", yaxis_title="kW", yaxis_rangemode="tozero")

    charts = [energy, time, peak]
    if stats.currency is not None:
        money = go.Figure()
        money.add_bar(x=x, y=site["energy_cost"], name="energy cost", marker_color=COST)
        money.add_bar(x=x, y=site["revenue"], name="revenue", marker_color=REVENUE)
        money.update_layout(title=f"Energy cost and revenue [{stats.currency}]", barmode="group")
        charts.append(money)

    chargers = stats.charger_totals
    per_charger = make_subplots(specs=[[{"secondary_y": True}]])
    per_charger.add_bar(x=chargers["charger"], y=chargers["energy_kwh"], name="energy [kWh]",
                        marker_color=ENERGY, offsetgroup=0)  # fmt: skip
    per_charger.add_bar(x=chargers["charger"], y=chargers["occupancy_pct"], name="occupancy [%]",
                        marker_color=IDLE, offsetgroup=1, secondary_y=True)  # fmt: skip
    per_charger.update_layout(title="Per charger over the range", barmode="group")
    per_charger.update_yaxes(title_text="kWh", secondary_y=False)
    per_charger.update_yaxes(title_text="%", secondary_y=True)
    charts.append(per_charger)
    for chart in charts:
        chart.update_layout(height=360, margin={"l": 50, "r": 30, "t": 50, "b": 40},
                            legend={"orientation": "h", "y": -0.2})  # fmt: skip
    return charts


def _html(figure: go.Figure) -> str:
    html: str = figure.to_html(full_html=False, include_plotlyjs=False,
                               config={"displaylogo": False, "responsive": True})  # fmt: skip
    return html


#: Columns of the report's tables and their headings.
TABLE_COLUMNS = {
    "sessions": "sessions",
    "energy_kwh": "kWh",
    "charging_h": "charging h",
    "idle_h": "idle h",
    "occupancy_pct": "occupancy %",
    "charging_pct": "charging %",
    "mean_session_duration_h": "mean h",
    "mean_session_energy_kwh": "mean kWh",
    "peak_power_kw": "peak kW",
    "energy_cost": "cost",
    "revenue": "revenue",
    "unmet_kwh": "unmet kWh",
}


def table_rows(table: pd.DataFrame, key: str) -> tuple[list[str], list[list[str]]]:
    """(headings, formatted rows) of a statistics table, first column ``key``."""
    headings = [key, *TABLE_COLUMNS.values()]
    rows = []
    for record in table.to_dict(orient="records"):
        cells = [str(record[key])]
        for column in TABLE_COLUMNS:
            value = record[column]
            decimals = 2 if column in ("energy_cost", "revenue", "mean_session_duration_h") else 1
            cells.append(fmt(int(value) if column == "sessions" else value, decimals))
        rows.append(cells)
    return headings, rows


def _table(table: pd.DataFrame, key: str) -> str:
    headings, rows = table_rows(table, key)
    out = (
        jinja2.Environment(autoescape=True)
        .from_string(
            "<table><thead><tr>{% for h in headings %}<th>{{ h }}</th>{% endfor %}</tr></thead>"
            "<tbody>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>"
            "{% endfor %}</tr>{% endfor %}</tbody></table>"
        )
        .render(headings=headings, rows=rows)
    )
    return out

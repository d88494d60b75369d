"""The PDF report (fpdf2): per site its headline figures, charts as images (matplotlib) and
the tables per period and per charger. DejaVu Sans (shipped with matplotlib) prints any name."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
from fpdf import FPDF
from fpdf.fonts import FontFace
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ems.report.build import Report
from ems.report.html import CHARGING, COST, ENERGY, IDLE, REVENUE, headline, range_text, table_rows
from ems.stats import Stats

FONT = "DejaVu"
_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
# Chart size on the page [mm] and resolution of its image [dpi].
CHART_W_MM, CHART_H_MM, CHART_DPI = 180.0, 70.0, 150


def render_pdf(report: Report) -> bytes:
    """The report as a PDF document (A4)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font(FONT, "", str(_FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(_FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"Charging report {report.label}")
    pdf.set_creator("ems")
    for stats in report.sites:
        _site(pdf, report, stats)
    return bytes(pdf.output())


def _site(pdf: FPDF, report: Report, stats: Stats) -> None:
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, f"Charging report {report.label}: {stats.scope.name}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.set_font(FONT, "", 9)
    money = f", money in {stats.currency} excluding tax" if stats.currency else ""
    pdf.multi_cell(
        0,
        5,
        f"{range_text(stats)} ({stats.scope.timezone}), by {stats.period}{money}. "
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    kpis = headline(stats)
    with pdf.table(col_widths=(60, 30, 60, 30), text_align=("LEFT", "RIGHT", "LEFT", "RIGHT"),
                   first_row_as_headings=False) as table:  # fmt: skip
        for i in range(0, len(kpis), 2):
            row = table.row()
            for name, value in kpis[i : i + 2]:
                row.cell(name)
                row.cell(value)
    pdf.ln(3)
    for chart in _charts(stats):
        if pdf.will_page_break(CHART_H_MM):
            pdf.add_page()
        pdf.image(chart, w=CHART_W_MM, h=CHART_H_MM)
        pdf.ln(2)
    _table(pdf, f"Per {stats.period}", *table_rows(stats.site, "period"))
    _table(pdf, "Per charger", *table_rows(stats.charger_totals, "charger"))


def _table(pdf: FPDF, title: str, headings: list[str], rows: list[list[str]]) -> None:
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 6.5)
    widths = (22, *([13] * (len(headings) - 1)))
    with pdf.table(col_widths=widths, text_align="RIGHT", line_height=3.6,
                   headings_style=FontFace(emphasis="BOLD")) as table:  # fmt: skip
        for cells in [headings, *rows]:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.ln(3)


def _charts(stats: Stats) -> list[io.BytesIO]:
    site = stats.site
    labels = list(site["period"])
    x = np.arange(len(labels))
    images = []

    figure, axes = _figure("Energy delivered and sessions")
    axes.bar(x, site["energy_kwh"], color=ENERGY, label="energy [kWh]")
    axes.set_ylabel("kWh")
    sessions = axes.twinx()
    sessions.plot(x, site["sessions"], color=COST, marker="o", label="sessions")
    sessions.set_ylabel("sessions")
    sessions.set_ylim(bottom=0)
    images.append(_png(figure, axes, labels))

    figure, axes = _figure("Time plugged in: charging and idle [h]")
    axes.bar(x, site["charging_h"], color=CHARGING, label="charging")
    axes.bar(x, site["idle_h"], bottom=site["charging_h"], color=IDLE, label="idle")
    axes.legend(loc="upper left", fontsize=7)
    images.append(_png(figure, axes, labels))

    if stats.currency is not None:
        figure, axes = _figure(f"Energy cost and revenue [{stats.currency}]")
        axes.bar(x - 0.2, site["energy_cost"], width=0.4, color=COST, label="energy cost")
        axes.bar(x + 0.2, site["revenue"], width=0.4, color=REVENUE, label="revenue")
        axes.legend(loc="upper left", fontsize=7)
        images.append(_png(figure, axes, labels))

    chargers = stats.charger_totals
    figure, axes = _figure("Energy per charger over the range [kWh]")
    axes.bar(np.arange(len(chargers)), chargers["energy_kwh"], color=ENERGY)
    images.append(_png(figure, axes, list(chargers["charger"])))
    return images


def _figure(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(CHART_W_MM / 25.4, CHART_H_MM / 25.4), dpi=CHART_DPI)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=9)
    axes.tick_params(labelsize=7)
    return figure, axes


def _png(figure: Figure, axes: Axes, labels: list[str]) -> io.BytesIO:
    """Label the x axis (thinned out when crowded) and render the figure as PNG."""
    step = max(1, len(labels) // 16)
    ticks = np.arange(0, len(labels), step)
    axes.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    return buffer

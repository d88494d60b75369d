"""``ems report``: the HTML report (plotly inlined) and the PDF, from the seeded dataset."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from ems.config import Settings
from ems.report.build import build_report, report_scopes
from ems.report.cli import add_report_parser
from ems.report.html import render_html
from ems.report.pdf import render_pdf
from ems.store import Store
from tests.conftest import make_settings
from tests.stats.seed import NOW, site, write_site


@pytest.fixture
def settings(seeded: Store, tmp_path: Path) -> Settings:
    """Settings of the seeded database (SQLite only: the report reads what the stats read)."""
    return make_settings(seeded.url, control={"sites": [str(write_site(tmp_path))]})


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ems")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *argv])
    result: int = args.func(args, settings)
    return result


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_report_command_writes_html_with_charts_and_a_pdf(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    assert run(settings, "--period", "2026-10", "--out", str(out)) == 0
    html_path, pdf_path = out / "ems-report-2026-10.html", out / "ems-report-2026-10.pdf"
    assert capsys.readouterr().out.split() == [str(html_path), str(pdf_path)]
    html = html_path.read_text(encoding="utf-8")
    assert "Office car park" in html
    assert "<script src=" not in html and get_plotlyjs()[:500] in html  # plotly.js inlined
    assert len(re.findall(r"Plotly\.newPlot\(", html)) == 5  # energy, time, peak, money, chargers
    assert "2026-10-31" in html  # a row for every local day of October
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 2  # the site's page and its tables
    assert len(re.findall(rb"/Subtype /Image", pdf)) == 4  # matplotlib charts as images


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_report_figures_are_the_statistics_of_the_range(seeded: Store, tmp_path: Path) -> None:
    scopes = report_scopes([site(tmp_path)])
    report = build_report(seeded.engine, scopes, NOW, from_="2026-10-05", to="2026-10-07")
    (stats,) = report.sites
    assert report.label == "2026-10-05 to 2026-10-07"
    assert list(stats.site["period"]) == ["2026-10-05", "2026-10-06"]
    html = render_html(report)
    headline = re.sub(r"\s+", " ", html)
    assert '<div class="value">4</div> <div class="name">sessions</div>' in headline
    assert '<div class="value">9.0</div> <div class="name">energy delivered [kWh]</div>' in headline
    assert '<div class="value">4.50</div> <div class="name">revenue [EUR]</div>' in headline
    assert "<td>CP-A/2</td><td>1</td><td>4.0</td>" in html  # per-charger table
    assert render_pdf(report).startswith(b"%PDF-")


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "2026-13"], "ems report: period: '2026-13' has no month 13"),
        (["--period", "2026-10", "--site", "depot"], "ems report: --site depot: no such site"),
        (["--period", "2026-10", "--from", "2026-10-01"], "give --period or --from/--to"),
        (["--from", "2026-10-01"], "give --period (2026-10) or both --from and --to"),
        (["--period", "2026-10", "--format", "docx"], "ems report: --format: docx"),
    ],
)
def test_bad_report_arguments_exit_2_and_say_why(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    assert run(settings, *argv, "--out", str(tmp_path / "out")) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

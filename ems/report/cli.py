"""``ems report``: an HTML report with charts and its PDF, for a month, week, day or range.

Wiring (in ``ems/cli.py``): ``add_report_parser(sub)`` adds the ``report`` command with
``func=cmd_report`` (the ``(args, settings) -> int`` signature of the other commands). Examples::

    ems report --period 2026-10                       # October in each site's local time
    ems report --from 2026-10-01 --to 2026-10-15 --by week --site depot --out reports/

Ranges are read in each site's time zone (without sites: UTC, every charger, no money). The
files are ``ems-report-<range>.html`` (self-contained, plotly.js inlined) and ``.pdf``; the
command prints their paths. Exit status 2 for a bad argument, with a message naming it.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ems.config import Settings

FORMATS = ("html", "pdf")
BREAKDOWNS = ("day", "week", "month")  # ems.stats.Period, not imported here


def add_report_parser(subparsers: Any) -> None:
    """Add ``ems report`` to the ``ems`` command's subparsers."""
    report = subparsers.add_parser(
        "report",
        help="write an HTML report with charts and a PDF of a period's statistics",
        description="Statistics per site, charger and period (sessions, energy, charging and "
        "idle time, utilization, peak power, cost, revenue, unmet energy) as an HTML report "
        "with charts and as a PDF.",
    )
    report.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    report.add_argument("--period", help="a month (2026-10), ISO week (2026-W41) or day")
    report.add_argument("--from", dest="from_", metavar="FROM", help="start date (or time)")
    report.add_argument("--to", metavar="TO", help="end date, exclusive (or time)")
    report.add_argument("--by", choices=BREAKDOWNS, help="breakdown (default: by the range)")
    report.add_argument(
        "--site", action="append", default=[], help="only this site (repeatable; default: all)"
    )
    report.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    report.add_argument(
        "--format",
        default=",".join(FORMATS),
        help="html, pdf or both (html,pdf: the default)",
    )
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Compute the statistics and write the files; 2 with a message for bad arguments."""
    from ems.report.build import build_report, report_scopes
    from ems.report.html import render_html
    from ems.report.pdf import render_pdf
    from ems.site import load_site
    from ems.stats import Period
    from ems.store import Store

    formats = [f.strip() for f in str(args.format).split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        print(f"ems report: --format: {', '.join(unknown) or 'empty'}; use html, pdf or "
              "html,pdf", file=sys.stderr)  # fmt: skip
        return 2
    store = Store(settings.database.url)
    try:
        store.migrate()
        sites = [load_site(path) for path in settings.control.sites]
        scopes = report_scopes(sites, args.site)
        report = build_report(
            store.engine,
            scopes,
            datetime.now(UTC),
            period=args.period,
            from_=args.from_,
            to=args.to,
            by=Period(args.by) if args.by else None,
        )
    except ValueError as error:
        print(f"ems report: {error}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "ems-report-" + re.sub(r"[^A-Za-z0-9._-]+", "_", report.label)
    if "html" in formats:
        path = args.out / f"{stem}.html"
        path.write_text(render_html(report), encoding="utf-8")
        print(path)
    if "pdf" in formats:
        path = args.out / f"{stem}.pdf"
        path.write_bytes(render_pdf(report))
        print(path)
    return 0

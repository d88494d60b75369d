"""What a report holds: the statistics of each site (or of every charger) over one range."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from ems.site import SiteConfig
from ems.stats import Period, Stats, StatsScope, compute_stats, parse_instant, parse_period_label

#: Ranges up to this long are broken down by day, up to :data:`WEEKS_UP_TO_DAYS` by week.
DAYS_UP_TO_DAYS = 62
WEEKS_UP_TO_DAYS = 366


@dataclass(frozen=True, slots=True)
class Report:
    """A report: ``label`` names the range (``2026-10`` or ``2026-10-01 to 2026-10-15``)."""

    label: str
    generated_at: datetime
    sites: tuple[Stats, ...]


def report_scopes(sites: Sequence[SiteConfig], only: Sequence[str] = ()) -> list[StatsScope]:
    """One scope per site (those named in ``only``, when given; ValueError naming an unknown
    one); without sites, one scope of every charger in UTC without money figures."""
    if not sites:
        if only:
            raise ValueError(f"--site {only[0]}: no sites are configured (control.sites)")
        return [StatsScope(id="all", name="All charge points")]
    known = {site.id: site for site in sites}
    for site_id in only:
        if site_id not in known:
            raise ValueError(f"--site {site_id}: no such site; sites: {', '.join(known)}")
    chosen = [known[s] for s in only] if only else list(sites)
    return [StatsScope.of_site(site) for site in chosen]


def resolve_range(
    scope: StatsScope,
    period: str | None,
    from_: str | None,
    to: str | None,
    by: Period | None,
) -> tuple[datetime, datetime, Period]:
    """``[start, end)`` and the breakdown for a scope, in its time zone.

    Either ``period`` (``2026-10``, ``2026-W41``, ``2026-10-05``) or ``from_`` and ``to``
    (dates, ``to`` exclusive, or ISO 8601 times). Without ``by`` the breakdown is by day up to
    :data:`DAYS_UP_TO_DAYS` days, by week up to :data:`WEEKS_UP_TO_DAYS`, by month beyond.
    """
    tz = scope.tz
    if period is not None:
        if from_ is not None or to is not None:
            raise ValueError("give --period or --from/--to, not both")
        start, end, natural = parse_period_label(period, tz)
        return start, end, by or natural
    if from_ is None or to is None:
        raise ValueError("give --period (2026-10) or both --from and --to")
    start, end = parse_instant(from_, tz, "--from"), parse_instant(to, tz, "--to")
    if by is None:
        span = end - start
        by = (
            Period.DAY
            if span <= timedelta(days=DAYS_UP_TO_DAYS)
            else Period.WEEK
            if span <= timedelta(days=WEEKS_UP_TO_DAYS)
            else Period.MONTH
        )
    return start, end, by


def build_report(
    engine: Engine,
    scopes: Sequence[StatsScope],
    now: datetime,
    *,
    period: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    by: Period | None = None,
) -> Report:
    """Compute every scope's statistics for the range (see :func:`resolve_range`)."""
    sites = []
    for scope in scopes:
        start, end, breakdown = resolve_range(scope, period, from_, to, by)
        sites.append(compute_stats(engine, scope, start, end, breakdown, now))
    label = period if period is not None else f"{from_} to {to}"
    return Report(label=label, generated_at=now, sites=tuple(sites))

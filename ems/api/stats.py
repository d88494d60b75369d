"""``/stats``: statistics per site, per charger and per period, as JSON, CSV or Parquet.

Every endpoint takes ``from`` and ``to`` (a date, read as local midnight in the scope's time zone,
or an ISO 8601 time with an offset, on a quarter hour; default: the current local month) and
``period`` (``day``, ``week`` or ``month``: the breakdown, in local time), and ``format``
(``json`` by default; ``csv`` or ``parquet`` download the table, with the range's total as a last
row whose ``period`` is "total"). Definitions of every figure: :mod:`ems.stats.compute` and the
field descriptions of the schema.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, create_model
from starlette.concurrency import run_in_threadpool

from ems.api.auth import EmsDep
from ems.api.schemas import ErrorOut
from ems.app import Ems
from ems.site import SiteConfig
from ems.stats import DESCRIPTIONS, METRICS, Period, Stats, StatsScope, compute_stats
from ems.stats.export import CSV_MEDIA_TYPE, PARQUET_MEDIA_TYPE, records, to_csv, to_parquet
from ems.stats.periods import local_midnight, parse_instant

router = APIRouter(prefix="/stats", tags=["statistics"])

Format = Literal["json", "csv", "parquet"]

_METRIC_TYPES: dict[str, Any] = {
    name: (int if name in ("sessions", "sessions_with_need") else float | None) for name in METRICS
}


def _fields(names: dict[str, Any]) -> dict[str, Any]:
    return {name: (kind, Field(description=DESCRIPTIONS.get(name))) for name, kind in names.items()}


_PeriodFields = _fields(_METRIC_TYPES)
PeriodStatsOut: type[BaseModel] = create_model(
    "PeriodStatsOut",
    __doc__="The figures of one period (or of the whole range: period 'total').",
    period=(str, Field(description="Local label: 2026-10-05, 2026-W41, 2026-10 or 'total'")),
    start=(datetime, Field(description="Start of the period (UTC), clipped to the range")),
    end=(datetime, Field(description="End of the period (UTC, exclusive)")),
    **_PeriodFields,
)
SitePeriodStatsOut: type[BaseModel] = create_model(
    "SitePeriodStatsOut",
    __base__=PeriodStatsOut,
    __doc__="A site's figures in one period: its chargers together.",
    **_fields({"chargers": int, "peak_measured_kw": float | None}),
)
ChargerPeriodStatsOut: type[BaseModel] = create_model(
    "ChargerPeriodStatsOut",
    __base__=PeriodStatsOut,
    __doc__="One charger's (EVSE's) figures in one period.",
    charger=(str, Field(description="Charger key: {charge_point_id}/{evse_id}")),
    charge_point_id=(str, ...),
    evse_id=(int, ...),
)


class ScopeOut(BaseModel):
    """What the statistics cover and in which units."""

    id: str
    name: str
    timezone: str = Field(description="IANA zone of the periods")
    currency: str | None = Field(description="Currency of money figures; null without a tariff")
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    period: Period


class SiteStatsOut(BaseModel):
    scope: ScopeOut
    periods: list[SitePeriodStatsOut]
    total: SitePeriodStatsOut


class ChargerStatsOut(BaseModel):
    scope: ScopeOut
    periods: list[ChargerPeriodStatsOut]
    totals: list[ChargerPeriodStatsOut] = Field(
        description="Each charger over the whole range"
    )


class StatsSiteOut(BaseModel):
    id: str
    name: str
    timezone: str
    currency: str
    chargers: list[str]


_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON, or with format=csv / format=parquet the table as a file download",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            PARQUET_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    404: {"model": ErrorOut, "description": "No such site"},
}

FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        description="Start: a date (local midnight of the scope's zone) or an ISO 8601 time "
        "with offset on a quarter hour; default: the first day of the current local month",
    ),
]
ToQuery = Annotated[
    str | None,
    Query(description="End (exclusive), as from; default: the first day of the next month"),
]
PeriodQuery = Annotated[Period, Query(description="Breakdown: day, week (ISO) or month")]
FormatQuery = Annotated[Format, Query(description="json, csv or parquet")]


def configured_sites(request: Request, ems: Ems) -> list[SiteConfig]:
    """The controlled sites, or (control off) the site files of ``control.sites``, loaded once."""
    if ems.control is not None:
        return list(ems.control.sites.values())
    cached: list[SiteConfig] | None = getattr(request.app.state, "stats_sites", None)
    if cached is None:
        from ems.site import load_site

        cached = [load_site(path) for path in ems.settings.control.sites]
        request.app.state.stats_sites = cached
    return cached


def _site(request: Request, ems: Ems, site_id: str) -> SiteConfig:
    sites = configured_sites(request, ems)
    site = next((s for s in sites if s.id == site_id), None)
    if site is None:
        known = ", ".join(s.id for s in sites) or "none configured (control.sites)"
        raise HTTPException(404, f"no site {site_id!r}; sites: {known}")
    return site


def _range(
    scope: StatsScope, ems: Ems, from_: str | None, to: str | None
) -> tuple[datetime, datetime]:
    tz = scope.tz
    today = ems.csms.clock().astimezone(tz).date()
    try:
        start = (
            parse_instant(from_, tz, "from")
            if from_ is not None
            else local_midnight(today.replace(day=1), tz)
        )
        if to is not None:
            end = parse_instant(to, tz, "to")
        else:
            first = start.astimezone(tz).date().replace(day=1)
            end = local_midnight((first + timedelta(days=32)).replace(day=1), tz)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return start, end


async def _compute(
    ems: Ems, scope: StatsScope, from_: str | None, to: str | None, period: Period
) -> Stats:
    start, end = _range(scope, ems, from_, to)
    await ems.recorder.barrier()
    try:
        return await run_in_threadpool(
            compute_stats, ems.store.engine, scope, start, end, period, ems.csms.clock()
        )
    except ValueError as error:
        raise HTTPException(422, str(error)) from None


def _scope_out(stats: Stats) -> ScopeOut:
    scope = stats.scope
    return ScopeOut.model_validate(
        {
            "id": scope.id,
            "name": scope.name,
            "timezone": scope.timezone,
            "currency": scope.currency,
            "from": stats.start,
            "to": stats.end,
            "period": stats.period,
        }
    )


def _download(stats: Stats, table: pd.DataFrame, format: Format, what: str) -> Response:
    tz = stats.scope.tz
    first = stats.start.astimezone(tz).date()
    last = (stats.end - timedelta(microseconds=1)).astimezone(tz).date()
    scope_id = re.sub(r"[^A-Za-z0-9._-]", "_", stats.scope.id)
    name = f"{what}-{scope_id}-{first}-{last}-{stats.period}"
    if format == "csv":
        return Response(
            to_csv(table),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    metadata = {
        "ems.scope": stats.scope.id,
        "ems.timezone": stats.scope.timezone,
        "ems.currency": stats.scope.currency or "",
        "ems.from": stats.start.isoformat(),
        "ems.to": stats.end.isoformat(),
        "ems.period": str(stats.period),
    }
    return Response(
        to_parquet(table, metadata),
        media_type=PARQUET_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.parquet"'},
    )


@router.get("/sites", response_model=list[StatsSiteOut], summary="The sites statistics cover")
async def list_stats_sites(request: Request, ems: EmsDep) -> list[StatsSiteOut]:
    sites = await asyncio.to_thread(configured_sites, request, ems)
    return [
        StatsSiteOut(
            id=site.id,
            name=site.name,
            timezone=site.timezone,
            currency=site.tariff.currency,
            chargers=[c.key for c in site.chargers],
        )
        for site in sites
    ]


@router.get(
    "/sites/{site_id}",
    response_model=SiteStatsOut,
    responses=_FILES,
    summary="A site's statistics per period (its chargers together) and over the range",
)
async def get_site_stats(
    site_id: str,
    request: Request,
    ems: EmsDep,
    from_: FromQuery = None,
    to: ToQuery = None,
    period: PeriodQuery = Period.DAY,
    format: FormatQuery = "json",
) -> Any:
    scope = StatsScope.of_site(_site(request, ems, site_id))
    stats = await _compute(ems, scope, from_, to, period)
    if format != "json":
        return _download(
            stats, pd.concat([stats.site, stats.total], ignore_index=True), format, "site"
        )
    return SiteStatsOut(
        scope=_scope_out(stats),
        periods=[SitePeriodStatsOut.model_validate(r) for r in records(stats.site)],
        total=SitePeriodStatsOut.model_validate(records(stats.total)[0]),
    )


@router.get(
    "/sites/{site_id}/chargers",
    response_model=ChargerStatsOut,
    responses=_FILES,
    summary="A site's statistics per charger and period, and per charger over the range",
)
async def get_site_charger_stats(
    site_id: str,
    request: Request,
    ems: EmsDep,
    from_: FromQuery = None,
    to: ToQuery = None,
    period: PeriodQuery = Period.DAY,
    format: FormatQuery = "json",
) -> Any:
    scope = StatsScope.of_site(_site(request, ems, site_id))
    return _charger_answer(await _compute(ems, scope, from_, to, period), format)


@router.get(
    "/charge-points/{charge_point_id}",
    response_model=ChargerStatsOut,
    responses={200: _FILES[200]},
    summary="A charge point's statistics per EVSE and period (its site's zone and tariff)",
    description="Every EVSE of the charge point that has data in the range, also of a charge "
    "point removed from ems (its history is kept); no rows for an id without data.",
)
async def get_charge_point_stats(
    charge_point_id: str,
    request: Request,
    ems: EmsDep,
    from_: FromQuery = None,
    to: ToQuery = None,
    period: PeriodQuery = Period.DAY,
    format: FormatQuery = "json",
    tz: Annotated[
        str | None,
        Query(description="IANA time zone of the periods; default: its site's, else UTC"),
    ] = None,
) -> Any:
    sites = await asyncio.to_thread(configured_sites, request, ems)
    try:
        scope = StatsScope.of_charge_point(charge_point_id, sites, tz)
    except (ValueError, KeyError):
        raise HTTPException(422, f"tz: unknown time zone {tz!r}; use an IANA name") from None
    return _charger_answer(await _compute(ems, scope, from_, to, period), format)


def _charger_answer(stats: Stats, format: Format) -> Any:
    if format != "json":
        table = pd.concat([stats.chargers, stats.charger_totals], ignore_index=True)
        return _download(stats, table, format, "chargers")
    return ChargerStatsOut(
        scope=_scope_out(stats),
        periods=[ChargerPeriodStatsOut.model_validate(r) for r in records(stats.chargers)],
        totals=[ChargerPeriodStatsOut.model_validate(r) for r in records(stats.charger_totals)],
    )

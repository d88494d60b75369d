"""``/sites``: the controlled sites, their live plan and limits, and the control-cycle log.

The plan is the latest control cycle's, straight from memory (live, at most one interval old);
the cycle log and the limits sent come from the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ems.api.auth import EmsDep
from ems.api.schemas import ErrorOut, as_utc
from ems.app import Ems
from ems.control.loop import ControlLoop, CycleResult, plan_summary
from ems.control.service import ControlService

router = APIRouter(tags=["sites"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such site (or no transaction)"}
}


class SiteOut(BaseModel):
    id: str
    name: str
    chargers: int
    interval_s: float
    scheduler: str
    last_cycle_at: datetime | None
    cycles: int


class ChargerPlanOut(BaseModel):
    """One charger in the current plan."""

    key: str
    charge_point_id: str
    evse_id: int
    online: bool
    controllable: bool
    session_id: str | None
    limit_now_a: float = Field(description="The plan's limit for now, after the final clamp [A]")
    applied_limit_a: float | None = Field(description="The TxProfile limit in force [A]")
    measured_power_w: float | None
    energy_delivered_kwh: float | None
    energy_requested_kwh: float | None
    departure: datetime | None
    departure_source: str | None
    unmet_kwh: float | None
    current_a_by_slot: list[float]


class PlanOut(BaseModel):
    """The latest control cycle of a site: its figures, the limits and the plan per slot."""

    summary: dict[str, Any]
    slot_starts: list[datetime]
    price_per_kwh_by_slot: list[float]
    capacity_kw_by_slot: list[float | None]
    chargers: list[ChargerPlanOut]


class NeedsIn(BaseModel):
    """What the driver says: when they leave and how much energy they need (both optional)."""

    departure_at: datetime | None = None
    energy_kwh: float | None = Field(None, gt=0, le=1000)


class NeedsOut(BaseModel):
    transaction_pk: str
    site_id: str | None
    departure_at: datetime | None
    energy_kwh: float | None


def _control(ems: Ems) -> ControlService:
    if ems.control is None:
        raise HTTPException(404, "no site is controlled (control.sites is empty or disabled)")
    return ems.control


def _loop(ems: Ems, site_id: str) -> ControlLoop:
    control = _control(ems)
    loop = control.loops.get(site_id)
    if loop is None:
        raise HTTPException(404, f"no site {site_id!r}; sites: {', '.join(control.loops)}")
    return loop


@router.get("/sites", response_model=list[SiteOut], summary="The controlled sites")
async def list_sites(ems: EmsDep) -> list[SiteOut]:
    if ems.control is None:
        return []
    out = []
    for site_id, loop in ems.control.loops.items():
        site = loop.site
        out.append(
            SiteOut(
                id=site_id,
                name=site.name,
                chargers=len(site.chargers),
                interval_s=site.control.interval_s,
                scheduler=site.control.scheduler,
                last_cycle_at=loop.latest.started_at if loop.latest else None,
                cycles=loop.cycles,
            )
        )
    return out


@router.get(
    "/sites/{site_id}/plan",
    response_model=PlanOut,
    responses=_NOT_FOUND,
    summary="The current plan and limits of a site (the latest control cycle), live",
)
async def get_plan(site_id: str, ems: EmsDep) -> PlanOut:
    loop = _loop(ems, site_id)
    result = loop.latest
    if result is None:
        raise HTTPException(404, f"site {site_id!r} has not completed a control cycle yet")
    return plan_out(result)


def plan_out(result: CycleResult) -> PlanOut:
    """The API's view of one cycle."""
    problem = result.site_problem.problem
    plan = result.plan
    slots = problem.horizon.slots
    sessions = {s.key: s for s in result.snapshot.sessions}
    expected = result.site_problem.expected_ids
    planned = {s.charger_id: s for s in problem.sessions if s.id not in expected}
    root = next(c for c in problem.circuits if c.parent_id is None)
    capacity = root.power_limits_kw(slots)
    chargers = []
    for i, charger in enumerate(problem.chargers):
        active = sessions.get(charger.id)
        view = result.snapshot.chargers.get(charger.id)
        need = result.site_problem.needs.get(active.session_id) if active else None
        session = planned.get(charger.id)
        charge_point_id, _, evse = charger.id.rpartition("/")
        chargers.append(
            ChargerPlanOut(
                key=charger.id,
                charge_point_id=charge_point_id,
                evse_id=int(evse),
                online=view.online if view else False,
                controllable=view.controllable if view else False,
                session_id=active.session_id if active else None,
                limit_now_a=plan.limit_now_a.get(charger.id, 0.0),
                applied_limit_a=view.applied_limit_a if view else None,
                measured_power_w=active.measured_power_w if active else None,
                energy_delivered_kwh=active.energy_delivered_kwh if active else None,
                energy_requested_kwh=session.energy_requested_kwh if session else None,
                departure=need.departure if need else None,
                departure_source=str(need.departure_source) if need else None,
                unmet_kwh=plan.unmet_kwh.get(session.id) if session else None,
                current_a_by_slot=[float(v) for v in plan.current_a[i]],
            )
        )
    return PlanOut(
        summary=plan_summary(result),
        slot_starts=list(result.site_problem.slot_starts),
        price_per_kwh_by_slot=list(problem.tariff.import_price_per_kwh),
        capacity_kw_by_slot=[None] * slots if capacity is None else [float(v) for v in capacity],
        chargers=chargers,
    )


@router.get(
    "/sites/{site_id}/cycles",
    responses=_NOT_FOUND,
    summary="The site's control cycles, newest first (inputs, solve time, status, limits sent)",
)
async def list_cycles(
    site_id: str,
    ems: EmsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(description="Page back: cycles older than this")] = None,
) -> list[dict[str, Any]]:
    _loop(ems, site_id)
    await ems.recorder.barrier()
    return await run_in_threadpool(ems.store.control_cycles, site_id, limit, before_id)


@router.get(
    "/sites/{site_id}/cycles/{cycle_id}/limits",
    responses=_NOT_FOUND,
    summary="The limits one control cycle sent and the chargers' answers",
)
async def list_cycle_limits(site_id: str, cycle_id: int, ems: EmsDep) -> list[dict[str, Any]]:
    _loop(ems, site_id)
    await ems.recorder.barrier()
    return await run_in_threadpool(
        lambda: ems.store.control_limits(cycle_id=cycle_id, limit=10_000)
    )


@router.put(
    "/transactions/{transaction_pk}/needs",
    response_model=NeedsOut,
    responses=_NOT_FOUND,
    summary="The driver's departure time and energy need for a running transaction",
)
async def put_needs(transaction_pk: str, body: NeedsIn, ems: EmsDep) -> NeedsOut:
    tx = next((t for t in ems.csms.open_transactions() if t.id == transaction_pk), None)
    if tx is None:
        raise HTTPException(404, f"no running transaction with id {transaction_pk!r}")
    departure = as_utc(body.departure_at)
    if departure is not None and departure <= ems.csms.clock():
        raise HTTPException(422, "departure_at must be in the future")
    control = _control(ems)
    control.set_driver_needs(
        transaction_pk, tx.charge_point_id, tx.evse_id, departure, body.energy_kwh
    )
    return NeedsOut(
        transaction_pk=transaction_pk,
        site_id=control.site_of(tx.charge_point_id, tx.evse_id),
        departure_at=departure,
        energy_kwh=body.energy_kwh,
    )

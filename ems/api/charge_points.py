"""``/charge-points``: registration (admin), live state, configuration and history of each."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ems.api.auth import EmsDep
from ems.api.schemas import (
    BootOut,
    ChargePointCreate,
    ChargePointDetailOut,
    ChargePointOut,
    ChargePointUpdate,
    ErrorOut,
    EventOut,
    FrameOut,
    ProfileOut,
    SettingOut,
    StatusReportOut,
    TransactionOut,
    as_utc,
)
from ems.app import Ems
from ems.csms import ChargePointState

router = APIRouter(prefix="/charge-points", tags=["charge points"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No charge point with this id"}
}
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first")]


def registration_lock(request: Request) -> asyncio.Lock:
    """Serializes registration changes, so that two POSTs of one id give one 201 and one 409."""
    lock: asyncio.Lock = request.app.state.api_registration_lock
    return lock


RegistrationLock = Annotated[asyncio.Lock, Depends(registration_lock)]


def charge_point_state(ems: Ems, charge_point_id: str) -> ChargePointState:
    """The live state of a registered charge point; 404 naming the id otherwise."""
    state = ems.csms.charge_points.get(charge_point_id)
    if state is None:
        raise HTTPException(404, f"no charge point with id {charge_point_id!r}")
    return state


@router.get("", response_model=list[ChargePointOut], summary="List charge points")
async def list_charge_points(ems: EmsDep) -> list[ChargePointOut]:
    rows = {row.id: row for row in await run_in_threadpool(ems.store.list_charge_points)}
    csms = ems.csms
    return [
        ChargePointOut.of(state, rows.get(cp_id), cp_id in csms.sessions)
        for cp_id, state in sorted(csms.charge_points.items())
    ]


@router.get(
    "/{charge_point_id}",
    response_model=ChargePointDetailOut,
    responses=_NOT_FOUND,
    summary="One charge point with boot info, configuration and open transactions",
)
async def get_charge_point(charge_point_id: str, ems: EmsDep) -> ChargePointDetailOut:
    state = charge_point_state(ems, charge_point_id)
    await ems.recorder.barrier()
    row = await run_in_threadpool(ems.store.get_charge_point, charge_point_id)
    settings = await run_in_threadpool(ems.store.settings_of, charge_point_id)
    now = ems.csms.clock()
    return ChargePointDetailOut(
        **ChargePointOut.fields_of(state, row, charge_point_id in ems.csms.sessions),
        boot=BootOut.of(state, row),
        created_at=row.created_at if row else None,
        configuration=[SettingOut.of(s) for s in settings],
        open_transactions=[
            TransactionOut.of(tx, now) for tx in ems.csms.open_transactions(charge_point_id)
        ],
    )


@router.post(
    "",
    response_model=ChargePointOut,
    status_code=201,
    responses={409: {"model": ErrorOut, "description": "The id is registered already"}},
    summary="Register a charge point",
)
async def create_charge_point(
    body: ChargePointCreate,
    ems: EmsDep,
    lock: RegistrationLock,
    request: Request,
    response: Response,
) -> ChargePointOut:
    csms = ems.csms
    async with lock:
        if body.id in csms.charge_points:
            raise HTTPException(
                409, f"charge point {body.id!r} is registered already; PATCH it to change it"
            )
        state = await csms.register_charge_point(
            body.id,
            body.security_profile,
            body.password,
            body.registration,
        )
    response.headers["Location"] = str(request.url_for("get_charge_point", charge_point_id=body.id))
    return ChargePointOut.of(state, None, body.id in csms.sessions)


@router.patch(
    "/{charge_point_id}",
    response_model=ChargePointOut,
    responses=_NOT_FOUND,
    summary="Change registration, security profile or password",
)
async def update_charge_point(
    charge_point_id: str, body: ChargePointUpdate, ems: EmsDep, lock: RegistrationLock
) -> ChargePointOut:
    csms = ems.csms
    async with lock:
        state = charge_point_state(ems, charge_point_id)
        profile = body.security_profile
        if profile is None:
            profile = state.security_profile
        if profile in (1, 2) and body.password is None and state.password_hash is None:
            raise HTTPException(
                422,
                f"password: security_profile {profile} uses HTTP Basic authentication and "
                f"charge point {charge_point_id!r} has no password yet; send one "
                "(16-40 characters)",
            )
        state = await csms.register_charge_point(
            charge_point_id,
            profile,
            body.password,
            body.registration or state.registration,
        )
    row = await run_in_threadpool(ems.store.get_charge_point, charge_point_id)
    return ChargePointOut.of(state, row, charge_point_id in csms.sessions)


@router.delete(
    "/{charge_point_id}",
    status_code=204,
    responses=_NOT_FOUND,
    summary="Forget a charge point (its connection is closed; its history is kept)",
)
async def delete_charge_point(
    charge_point_id: str, ems: EmsDep, lock: RegistrationLock
) -> Response:
    csms = ems.csms
    async with lock:
        charge_point_state(ems, charge_point_id)
        await csms.remove_charge_point(charge_point_id)
    return Response(status_code=204)


@router.get(
    "/{charge_point_id}/status-history",
    response_model=list[StatusReportOut],
    responses=_NOT_FOUND,
    summary="Status reports, newest first",
)
async def status_history(
    charge_point_id: str,
    ems: EmsDep,
    limit: Limit = 100,
    before: Annotated[
        datetime | None, Query(description="Only reports older than this (for paging)")
    ] = None,
) -> list[StatusReportOut]:
    charge_point_state(ems, charge_point_id)
    await ems.recorder.barrier()
    reports = await run_in_threadpool(
        ems.store.status_history, charge_point_id, limit, as_utc(before)
    )
    return [StatusReportOut.of(r) for r in reports]


@router.get(
    "/{charge_point_id}/messages",
    response_model=list[FrameOut],
    responses=_NOT_FOUND,
    summary="Raw OCPP-J frames, newest first",
)
async def messages(
    charge_point_id: str,
    ems: EmsDep,
    limit: Limit = 100,
    before_id: Annotated[
        int | None, Query(ge=1, description="Only frames older than this id (for paging)")
    ] = None,
) -> list[FrameOut]:
    charge_point_state(ems, charge_point_id)
    await ems.recorder.barrier()
    frames = await run_in_threadpool(ems.store.frames_of, charge_point_id, limit, before_id)
    return [FrameOut.of(f) for f in frames]


@router.get(
    "/{charge_point_id}/charging-profiles",
    response_model=list[ProfileOut],
    responses=_NOT_FOUND,
    summary="Charging profiles sent, with the answers, newest first",
)
async def charging_profiles(
    charge_point_id: str, ems: EmsDep, limit: Limit = 100
) -> list[ProfileOut]:
    charge_point_state(ems, charge_point_id)
    await ems.recorder.barrier()
    profiles = await run_in_threadpool(ems.store.profiles_of, charge_point_id, limit)
    return [ProfileOut.of(p) for p in profiles]


@router.get(
    "/{charge_point_id}/events",
    response_model=list[EventOut],
    responses=_NOT_FOUND,
    summary="Notifications (firmware, diagnostics, security events ...), newest first",
)
async def events(
    charge_point_id: str,
    ems: EmsDep,
    kind: Annotated[str | None, Query(description="Only events of this kind")] = None,
    limit: Limit = 100,
) -> list[EventOut]:
    charge_point_state(ems, charge_point_id)
    await ems.recorder.barrier()
    rows = await run_in_threadpool(ems.store.events_of, charge_point_id, kind, limit)
    return [EventOut.of(r) for r in rows]

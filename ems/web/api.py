"""``/web/api``: the little the dashboard needs that the REST API does not answer.

Behind the same bearer tokens and roles as ``/api/v1`` (:func:`ems.api.auth.authorize`):

* ``GET /web/api/me``: who the token is (name, role), so that the pages know whether to show
  commands, and which optional parts of the API this ems serves;
* ``GET /web/api/transactions/{id}/cost``: what a session costs under its site's tariff, from its
  energy register readings (running sessions up to now).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ems.api.auth import EmsDep, authorize
from ems.api.schemas import ErrorOut
from ems.app import Ems
from ems.control.measurements import ENERGY
from ems.domain import MeterSample, Transaction
from ems.store import ApiTokenRow
from ems.tariffs.tariff import Tariff

router = APIRouter(prefix="/web/api", tags=["dashboard"], dependencies=[Depends(authorize)])

# Optional parts of the API, by a path each one serves (landing in other work).
FEATURES = {
    "stats": "/api/v1/stats",
    "metrics": "/metrics",
    "id_tokens": "/api/v1/id-tokens",
    "accounts": "/api/v1/accounts",
    "tariffs": "/api/v1/tariffs",
}


def features(app: FastAPI) -> dict[str, bool]:
    """Which optional parts this app serves: a route whose path is, or starts, each one's."""
    paths = [getattr(route, "path", "") for route in app.routes]
    return {
        name: any(p == prefix or p.startswith(prefix + "/") for p in paths)
        for name, prefix in FEATURES.items()
    }


@router.get("/me", summary="The token's name and role, and the optional API parts served")
async def me(
    request: Request, principal: Annotated[ApiTokenRow, Depends(authorize)]
) -> dict[str, Any]:
    return {
        "name": principal.name,
        "role": principal.role,
        "features": features(request.app),
    }


def energy_register(tx: Transaction, samples: list[MeterSample]) -> list[tuple[Any, float]]:
    """The session's register readings [Wh] in time order: meterStart, samples, meterStop.

    Only the whole-EVSE register at the outlet counts (no per-phase or inlet values); readings
    that would go backwards (a sample older than one already taken) are left out.
    """
    readings: list[tuple[Any, float]] = []
    if tx.meter_start_wh is not None:
        readings.append((tx.started_at, tx.meter_start_wh))
    for sample in samples:
        if sample.phase is not None or sample.location not in (None, "Outlet"):
            continue
        wh = sample.value * 1000.0 if sample.unit == "kWh" else sample.value
        readings.append((sample.timestamp, wh))
    if tx.meter_stop_wh is not None and tx.stopped_at is not None:
        readings.append((tx.stopped_at, tx.meter_stop_wh))
    ordered: list[tuple[Any, float]] = []
    for at, wh in sorted(readings, key=lambda r: r[0]):
        if not ordered or wh >= ordered[-1][1]:
            ordered.append((at, wh))
    return ordered


def _tariff_of(ems: Ems, tx: Transaction) -> tuple[str, Tariff] | None:
    control = ems.control
    if control is None:
        return None
    site_id = control.site_of(tx.charge_point_id, tx.evse_id)
    if site_id is None:
        return None
    return site_id, control.sites[site_id].tariff


def _money(value: Decimal) -> str:
    return str(value)


@router.get(
    "/transactions/{transaction_pk}/cost",
    responses={404: {"model": ErrorOut, "description": "No such transaction, or no tariff"}},
    summary="A session's cost under its site's tariff (a running one up to now)",
)
async def transaction_cost(transaction_pk: str, ems: EmsDep) -> dict[str, Any]:
    await ems.recorder.barrier()
    tx = await run_in_threadpool(ems.store.get_transaction, transaction_pk)
    if tx is None:
        raise HTTPException(404, f"no transaction with id {transaction_pk!r}")
    found = _tariff_of(ems, tx)
    if found is None:
        raise HTTPException(
            404,
            f"charge point {tx.charge_point_id!r} EVSE {tx.evse_id} is in no controlled site, "
            "so no tariff applies to this session",
        )
    site_id, tariff = found
    samples = await run_in_threadpool(ems.store.samples_of, transaction_pk, ENERGY)
    cost = tariff.session_cost(
        energy_register(tx, samples), tx.started_at, tx.stopped_at, ems.csms.clock()
    )
    return {
        "site_id": site_id,
        "tariff_id": tariff.id,
        "tariff_name": tariff.name,
        "currency": cost.currency,
        "final": cost.final,
        "energy_kwh": float(cost.energy_kwh),
        "energy_cost": _money(cost.energy_cost),
        "session_fee": _money(cost.session_fee),
        "time_fee": _money(cost.time_fee),
        "idle_fee": _money(cost.idle_fee),
        "subtotal": _money(cost.subtotal),
        "tax_rate": _money(cost.tax_rate),
        "tax": _money(cost.tax),
        "total": _money(cost.total),
        "lines": [
            {
                "kind": str(line.kind),
                "label": line.label,
                "quantity": float(line.quantity),
                "unit": line.unit,
                "unit_price": _money(line.unit_price),
                "amount": _money(line.amount_rounded),
            }
            for line in cost.lines
        ],
    }

"""``/transactions``: charging sessions with their energy and meter samples.

Every read waits for the recorder's barrier first, so a session that a charge point reported a
moment ago is already there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from ems.api.auth import EmsDep
from ems.api.schemas import (
    ErrorOut,
    SampleOut,
    TransactionDetailOut,
    TransactionOut,
    as_utc,
)

router = APIRouter(prefix="/transactions", tags=["transactions"])


@router.get("", response_model=list[TransactionOut], summary="Transactions, newest started first")
async def list_transactions(
    ems: EmsDep,
    charge_point_id: str | None = None,
    active: Annotated[
        bool | None, Query(description="true: only running ones; false: only finished ones")
    ] = None,
    since: Annotated[datetime | None, Query(description="Started at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="Started before this time")] = None,
    id_token: Annotated[str | None, Query(description="Started with this id token")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TransactionOut]:
    since, until = as_utc(since), as_utc(until)
    if since is not None and until is not None and until <= since:
        raise HTTPException(422, "until must be later than since")
    await ems.recorder.barrier()
    transactions = await run_in_threadpool(
        lambda: ems.store.list_transactions(
            charge_point_id=charge_point_id,
            active=active,
            since=since,
            until=until,
            id_token=id_token,
            limit=limit,
            offset=offset,
        )
    )
    now = ems.csms.clock()
    return [TransactionOut.of(tx, now) for tx in transactions]


@router.get(
    "/{transaction_pk}",
    response_model=TransactionDetailOut,
    responses={404: {"model": ErrorOut, "description": "No transaction with this id"}},
    summary="One transaction (by ems's id) with its meter samples",
)
async def get_transaction(
    transaction_pk: str,
    ems: EmsDep,
    measurand: Annotated[
        str | None,
        Query(description="Only samples of this measurand, e.g. Energy.Active.Import.Register"),
    ] = None,
) -> TransactionDetailOut:
    await ems.recorder.barrier()
    tx = await run_in_threadpool(ems.store.get_transaction, transaction_pk)
    if tx is None:
        raise HTTPException(
            404,
            f"no transaction with id {transaction_pk!r} (this is ems's id, the 'id' field of "
            "GET /transactions, not the transaction id on the wire)",
        )
    samples = await run_in_threadpool(ems.store.samples_of, transaction_pk, measurand)
    return TransactionDetailOut(
        **TransactionOut.fields_of(tx, ems.csms.clock()),
        samples=[SampleOut.of(s) for s in samples],
    )

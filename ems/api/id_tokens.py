"""``/id-tokens`` and ``/local-auth-lists``: drivers' id tokens and the chargers' local lists.

Tokens: list with filters, create, read, change (PATCH), delete, CSV export
(``GET /id-tokens.csv``) and import (``POST /id-tokens.csv``: every row is checked and every
problem is reported with its line; nothing is imported unless all rows are good). Every change
is followed by a sync of the connected chargers' local lists, and by clearing their
authorization caches when it takes a right away (see :mod:`ems.identity.service`).

Errors: 404 unknown token or charge point, 409 a token with this id (in any case) exists,
422 a bad field (named) or CSV rows (``errors``: line, field, message), 409 on a sync of a
charge point that is not connected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ems.api.auth import EmsDep
from ems.api.schemas import ErrorOut
from ems.identity import (
    CsvImportError,
    Identity,
    Location,
    SyncOutcome,
    TokenConflict,
    TokenError,
    TokenFilter,
    TokenRecord,
    TokenStatus,
    TokenType,
    UnknownToken,
    write_tokens_csv,
)
from ems.identity.policy import status_of
from ems.identity.repository import ListState
from ems.identity.tokens import MAX_ID_TOKEN, check_record

router = APIRouter(tags=["id tokens"])

MAX_CSV_BYTES = 20 * 1024 * 1024
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No id token with this id"}
}
Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many, by id")]


class IdTokenFields(BaseModel):
    """The fields of a token an operator sets (all optional in a PATCH)."""

    model_config = ConfigDict(extra="forbid")

    type: TokenType | None = Field(None, description="2.0.1 IdTokenEnumType; 1.6 tags: ISO14443")
    status: TokenStatus | None = Field(
        None, description="Stored status; ConcurrentTx and expiry are decided when presented"
    )
    expires_at: AwareDatetime | None = Field(None, description="From then on: Expired")
    group_id: str | None = Field(
        None,
        max_length=MAX_ID_TOKEN,
        description="Group (1.6 parentIdTag, 2.0.1 groupIdToken); a stored token with this id "
        "lends its status, expiry, account, locations and concurrency to its members",
    )
    account_id: str | None = Field(None, description="Payments wallet or fleet account")
    max_concurrent_tx: int | None = Field(
        None, ge=1, description="Transactions at once; empty: as its group, else 1"
    )
    valid_at: list[str] | None = Field(
        None,
        description="Only valid at these charge points ('CP-1') or EVSEs ('CP-1/2'); "
        "empty: everywhere",
        examples=[["CP-1", "CP-2/1"]],
    )
    label: str | None = Field(None, max_length=200, description="Whose card, which vehicle")


class IdTokenCreate(IdTokenFields):
    id_token: str = Field(
        min_length=1, max_length=MAX_ID_TOKEN, description="Case-insensitive", examples=["04A1B2"]
    )


class IdTokenOut(BaseModel):
    id_token: str
    type: TokenType
    status: TokenStatus
    effective_status: str = Field(
        description="What the token is answered now anywhere it is valid: its status after "
        "expiry, group and account (locations and concurrency aside)"
    )
    expires_at: datetime | None
    group_id: str | None
    account_id: str | None
    max_concurrent_tx: int | None
    valid_at: list[str]
    label: str | None
    created_at: datetime | None


class ImportOut(BaseModel):
    created: int
    updated: int


class LocalListOut(BaseModel):
    charge_point_id: str
    connected: bool
    version: int = Field(description="List version the charger last accepted (0: none)")
    status: str | None = Field(description="Outcome of the last attempt")
    synced_at: datetime | None
    cache_clear_pending: bool

    @classmethod
    def of(cls, state: ListState, connected: bool) -> Self:
        return cls(
            charge_point_id=state.charge_point_id,
            connected=connected,
            version=state.version,
            status=state.status,
            synced_at=state.synced_at,
            cache_clear_pending=state.cache_clear_pending,
        )


class SyncOut(BaseModel):
    charge_point_id: str
    action: str = Field(description="full, differential, none, not_supported or failed")
    version: int | None
    entries_sent: int
    cache_cleared: bool
    detail: str | None

    @classmethod
    def of(cls, outcome: SyncOutcome) -> Self:
        return cls(
            charge_point_id=outcome.charge_point_id,
            action=outcome.action,
            version=outcome.version,
            entries_sent=outcome.entries_sent,
            cache_cleared=outcome.cache_cleared,
            detail=outcome.detail,
        )


def _identity(ems: Any) -> Identity:
    identity: Identity = ems.csms.identity
    return identity


async def _out(identity: Identity, record: TokenRecord) -> IdTokenOut:
    facts = await identity.facts(record.id_token)
    effective = status_of(facts, identity.clock()).value if facts else record.status.value
    return IdTokenOut(
        id_token=record.id_token,
        type=record.type,
        status=record.status,
        effective_status=effective,
        expires_at=record.expires_at,
        group_id=record.group_id,
        account_id=record.account_id,
        max_concurrent_tx=record.max_concurrent_tx,
        valid_at=[str(loc) for loc in record.valid_at],
        label=record.label,
        created_at=record.created_at,
    )


def _record(fields: IdTokenFields, base: TokenRecord) -> TokenRecord:
    """A record from the fields sent, the others from ``base`` (the stored token, or defaults)."""
    sent = fields.model_fields_set

    def pick(name: str) -> Any:
        return getattr(fields, name) if name in sent else getattr(base, name)

    try:
        valid_at = (
            tuple(Location.parse(text) for text in fields.valid_at or [])
            if "valid_at" in sent
            else base.valid_at
        )
        record = TokenRecord(
            id_token=base.id_token,
            type=pick("type") or TokenType.ISO14443,
            status=pick("status") or TokenStatus.ACCEPTED,
            expires_at=pick("expires_at"),
            group_id=pick("group_id") or None,
            account_id=pick("account_id") or None,
            max_concurrent_tx=pick("max_concurrent_tx"),
            valid_at=valid_at,
            label=pick("label"),
        )
        check_record(record)
    except TokenError as error:
        raise HTTPException(422, f"body.{error.field}: {error.message}") from None
    return record


def _filter(
    status: TokenStatus | None,
    type: TokenType | None,
    group_id: str | None,
    account_id: str | None,
    charge_point_id: str | None,
    search: str | None,
) -> TokenFilter:
    return TokenFilter(status, type, group_id, account_id, charge_point_id, search)


StatusQ = Annotated[TokenStatus | None, Query(description="Stored status")]
TypeQ = Annotated[TokenType | None, Query(description="Token type")]
GroupQ = Annotated[str | None, Query(description="Members of this group")]
AccountQ = Annotated[str | None, Query(description="Tokens of this payments account")]
ChargePointQ = Annotated[
    str | None, Query(description="Tokens valid at this charge point (unrestricted included)")
]
SearchQ = Annotated[str | None, Query(description="Part of the id or label, any case")]


@router.get("/id-tokens", response_model=list[IdTokenOut], summary="List id tokens")
async def list_id_tokens(
    ems: EmsDep,
    status: StatusQ = None,
    type: TypeQ = None,
    group_id: GroupQ = None,
    account_id: AccountQ = None,
    charge_point_id: ChargePointQ = None,
    search: SearchQ = None,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[IdTokenOut]:
    identity = _identity(ems)
    where = _filter(status, type, group_id, account_id, charge_point_id, search)
    records = await identity.tokens(where, limit, offset)
    return [await _out(identity, record) for record in records]


@router.get(
    "/id-tokens.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The tokens as CSV"}},
    summary="Export id tokens as CSV (the columns the import reads)",
)
async def export_id_tokens(
    ems: EmsDep,
    status: StatusQ = None,
    type: TypeQ = None,
    group_id: GroupQ = None,
    account_id: AccountQ = None,
    charge_point_id: ChargePointQ = None,
    search: SearchQ = None,
) -> Response:
    where = _filter(status, type, group_id, account_id, charge_point_id, search)
    records = await _identity(ems).tokens(where, None)
    return Response(
        write_tokens_csv(records),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="id-tokens.csv"'},
    )


@router.post(
    "/id-tokens.csv",
    response_model=ImportOut,
    responses={422: {"model": ErrorOut, "description": "Rows with errors (by line); none saved"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    summary="Import id tokens from CSV: create or replace each, all rows or none",
)
async def import_id_tokens(request: Request, ems: EmsDep) -> ImportOut | JSONResponse:
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise HTTPException(413, f"the CSV file is larger than {MAX_CSV_BYTES} bytes: split it")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(422, f"the CSV file is not UTF-8 text: {error}") from None
    try:
        result = await _identity(ems).import_csv(text)
    except CsvImportError as error:
        errors = [{"line": e.line, "field": e.field, "message": e.message} for e in error.errors]
        return JSONResponse({"detail": str(error), "errors": errors}, 422)
    return ImportOut(created=result.created, updated=result.updated)


@router.post(
    "/id-tokens",
    response_model=IdTokenOut,
    status_code=201,
    responses={409: {"model": ErrorOut, "description": "A token with this id exists"}},
    summary="Create an id token",
)
async def create_id_token(
    body: IdTokenCreate, ems: EmsDep, request: Request, response: Response
) -> IdTokenOut:
    identity = _identity(ems)
    record = _record(body, TokenRecord(body.id_token))
    try:
        created = await identity.create(record)
    except TokenConflict as error:
        raise HTTPException(409, f"{error}; PATCH it to change it") from None
    except TokenError as error:
        raise HTTPException(422, f"body.{error.field}: {error.message}") from None
    response.headers["Location"] = str(
        request.url_for("get_id_token", id_token=created.id_token)
    )
    return await _out(identity, created)


async def _existing(identity: Identity, id_token: str) -> TokenRecord:
    record = await identity.get(id_token)
    if record is None:
        raise HTTPException(404, f"no id token {id_token!r}")
    return record


@router.get(
    "/id-tokens/{id_token:path}",
    response_model=IdTokenOut,
    responses=_NOT_FOUND,
    summary="One id token (found in any case)",
)
async def get_id_token(id_token: str, ems: EmsDep) -> IdTokenOut:
    identity = _identity(ems)
    return await _out(identity, await _existing(identity, id_token))


@router.patch(
    "/id-tokens/{id_token:path}",
    response_model=IdTokenOut,
    responses=_NOT_FOUND,
    summary="Change an id token's fields (those sent; null clears one)",
)
async def update_id_token(id_token: str, body: IdTokenFields, ems: EmsDep) -> IdTokenOut:
    identity = _identity(ems)
    record = _record(body, await _existing(identity, id_token))
    try:
        updated = await identity.replace(record)
    except UnknownToken as error:
        raise HTTPException(404, str(error)) from None
    except TokenError as error:
        raise HTTPException(422, f"body.{error.field}: {error.message}") from None
    return await _out(identity, updated)


@router.delete(
    "/id-tokens/{id_token:path}",
    status_code=204,
    responses=_NOT_FOUND,
    summary="Delete an id token (chargers' lists and caches forget it)",
)
async def delete_id_token(id_token: str, ems: EmsDep) -> Response:
    try:
        await _identity(ems).delete(id_token)
    except UnknownToken as error:
        raise HTTPException(404, str(error)) from None
    return Response(status_code=204)


@router.get(
    "/local-auth-lists",
    response_model=list[LocalListOut],
    summary="Each charge point's local list version, last outcome and pending cache clearing",
)
async def list_local_auth_lists(ems: EmsDep) -> list[LocalListOut]:
    states = {s.charge_point_id: s for s in await _identity(ems).list_states()}
    csms = ems.csms
    ids = sorted(set(states) | set(csms.charge_points))
    return [
        LocalListOut.of(states.get(cp) or ListState(cp), cp in csms.sessions) for cp in ids
    ]


@router.post(
    "/local-auth-lists/{charge_point_id}/sync",
    response_model=SyncOut,
    responses={
        404: {"model": ErrorOut, "description": "No charge point with this id"},
        409: {"model": ErrorOut, "description": "The charge point is not connected"},
    },
    summary="Bring a charger's local list and cache up to date now",
)
async def sync_local_auth_list(charge_point_id: str, ems: EmsDep) -> SyncOut:
    csms = ems.csms
    if charge_point_id not in csms.charge_points:
        raise HTTPException(404, f"no charge point with id {charge_point_id!r}")
    outcome = await _identity(ems).sync_now(charge_point_id)
    if outcome.action == "offline":
        raise HTTPException(409, f"charge point {charge_point_id!r} is not connected")
    return SyncOut.of(outcome)

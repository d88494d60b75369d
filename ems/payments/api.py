"""REST routes of the ledger: accounts, top-ups, adjustments, statements, holds, refunds.

Mounted under ``/api/v1`` like the other routers; it reads the :class:`~ems.payments.Ledger`
from ``app.state.ledger``. Amounts travel as decimal strings with their currency
(``{"amount": "12.50", "currency": "EUR"}``): JSON numbers are refused so that no float ever
touches money. Every write that moves money needs an ``Idempotency-Key`` header; repeating the
request with the same key answers the first result, the same key with another body is a 409.

Errors are ``{"detail": ...}`` with 404 (unknown account, hold or payment), 409 (insufficient
funds, closed account, hold no longer active, idempotency key reused, account id taken) and 422
(bad amount, currency mismatch, capture or refund beyond what is left).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ems.api.auth import authenticate, authorize
from ems.api.schemas import ErrorOut
from ems.payments.accounts_csv import (
    IMPORTABLE_KINDS,
    AccountsCsvError,
    import_accounts_csv,
    write_accounts_csv,
)
from ems.payments.errors import (
    AccountClosed,
    AccountExists,
    CardProcessorError,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    PaymentDeclined,
    PaymentError,
    UnknownAccount,
    UnknownHold,
    UnknownPayment,
)
from ems.payments.ledger import LEDGER_PROVIDER, Ledger
from ems.payments.money import Money
from ems.payments.types import Account, Hold, Journal, Refund, StatementLine
from ems.store import ApiTokenRow

T = TypeVar("T")

_STATUS: tuple[tuple[type[PaymentError], int], ...] = (
    (InvalidRequest, 422),
    (UnknownAccount, 404),
    (UnknownHold, 404),
    (UnknownPayment, 404),
    (AccountExists, 409),
    (AccountClosed, 409),
    (InsufficientFunds, 409),
    (HoldNotActive, 409),
    (IdempotencyConflict, 409),
    (PaymentDeclined, 402),
    (CardProcessorError, 502),
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown account, hold or payment"},
    409: {"model": ErrorOut, "description": "Refused: funds, state or idempotency key"},
}

router = APIRouter(tags=["Payments"], dependencies=[Depends(authorize)], responses=_ERRORS)

DecimalAmount = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+(\.[0-9]+)?$",
        description="A decimal string with at most the currency's decimal places",
        examples=["12.50"],
    ),
]
Currency = Annotated[str, Field(pattern="^[A-Z]{3}$", description="ISO 4217", examples=["EUR"])]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Unique per intended operation (e.g. a UUID); a retry sends the same key",
    ),
]


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger | None = getattr(request.app.state, "ledger", None)
    if ledger is None:
        raise RuntimeError("the payment routes need app.state.ledger (an ems.payments.Ledger)")
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


async def _call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a ledger call in a worker thread; its PaymentErrors become JSON errors."""
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except PaymentError as error:
        status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
        raise HTTPException(status, str(error)) from None


def _money(amount: str, currency: str) -> Money:
    try:
        return Money.of(amount, currency)
    except PaymentError as error:
        raise HTTPException(422, f"amount: {error}") from None


# -- bodies ------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Body):
    id: str | None = Field(
        None, description="1-64 letters, digits, '.', '_', '-'; id tokens refer to it"
    )
    kind: Literal["wallet", "fleet"]
    name: str = Field("", max_length=200)
    currency: Currency
    credit_limit: DecimalAmount | None = Field(None, description="Fleet accounts only")


class AccountUpdate(_Body):
    name: str | None = Field(None, max_length=200)
    credit_limit: DecimalAmount | None = None
    status: Literal["open", "closed"] | None = None


class TopUpIn(_Body):
    amount: DecimalAmount
    currency: Currency
    reference: str | None = Field(None, max_length=200, description="The external payment")


class AdjustmentIn(_Body):
    amount: DecimalAmount = Field(description="Negative takes money from the account")
    currency: Currency
    reason: str = Field(min_length=1, max_length=1000)


class RefundIn(_Body):
    amount: DecimalAmount
    currency: Currency
    reason: str | None = Field(None, max_length=1000)


# -- answers -----------------------------------------------------------------------------------


class AccountOut(BaseModel):
    id: str
    kind: str
    name: str
    currency: str
    balance: Decimal
    held: Decimal
    available: Decimal = Field(description="balance - held")
    credit_limit: Decimal
    spendable: Decimal = Field(description="What a new hold may take: available + credit_limit")
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id,
            kind=account.kind.value,
            name=account.name,
            currency=account.currency,
            balance=account.balance.amount,
            held=account.held.amount,
            available=account.available.amount,
            credit_limit=account.credit_limit.amount,
            spendable=account.spendable.amount,
            status=account.status.value,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


class EntryOut(BaseModel):
    account_id: str
    amount: Decimal
    currency: str
    balance_after: Decimal


class JournalOut(BaseModel):
    id: int
    kind: str
    created_at: datetime
    reference: str | None
    reason: str | None
    actor: str | None
    entries: list[EntryOut]

    @classmethod
    def of(cls, journal: Journal) -> JournalOut:
        return cls(
            id=journal.id,
            kind=journal.kind.value,
            created_at=journal.created_at,
            reference=journal.reference,
            reason=journal.reason,
            actor=journal.actor,
            entries=[
                EntryOut(
                    account_id=entry.account_id,
                    amount=entry.amount.amount,
                    currency=entry.amount.currency,
                    balance_after=entry.balance_after.amount,
                )
                for entry in journal.entries
            ],
        )


class StatementLineOut(BaseModel):
    entry_id: int
    journal_id: int
    kind: str
    created_at: datetime
    amount: Decimal
    balance_after: Decimal
    currency: str
    reference: str | None
    reason: str | None
    hold_id: str | None
    payment_id: str | None

    @classmethod
    def of(cls, line: StatementLine) -> StatementLineOut:
        return cls(
            entry_id=line.entry_id,
            journal_id=line.journal_id,
            kind=line.kind.value,
            created_at=line.created_at,
            amount=line.amount.amount,
            balance_after=line.balance_after.amount,
            currency=line.amount.currency,
            reference=line.reference,
            reason=line.reason,
            hold_id=line.hold_id,
            payment_id=line.payment_id,
        )


class HoldOut(BaseModel):
    id: str
    account_id: str
    amount: Decimal
    currency: str
    status: str
    reference: str | None
    provider: str
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    captured: Decimal | None
    payment_id: str | None

    @classmethod
    def of(cls, hold: Hold) -> HoldOut:
        return cls(
            id=hold.id,
            account_id=hold.account_id,
            amount=hold.amount.amount,
            currency=hold.amount.currency,
            status=hold.status.value,
            reference=hold.reference,
            provider=hold.provider,
            created_at=hold.created_at,
            expires_at=hold.expires_at,
            closed_at=hold.closed_at,
            captured=None if hold.captured is None else hold.captured.amount,
            payment_id=hold.payment_id,
        )


class RefundOut(BaseModel):
    id: int
    payment_id: str
    account_id: str
    amount: Decimal
    currency: str
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls(
            id=refund.id,
            payment_id=refund.payment_id,
            account_id=refund.account_id,
            amount=refund.amount.amount,
            currency=refund.amount.currency,
            reason=refund.reason,
            created_at=refund.created_at,
        )


# -- routes ------------------------------------------------------------------------------------


@router.get("/accounts", response_model=list[AccountOut], summary="Ledger accounts by id")
async def list_accounts(
    ledger: LedgerDep,
    kind: Annotated[
        Literal["wallet", "fleet", "cash", "card", "revenue", "refunds", "adjustments"] | None,
        Query(),
    ] = None,
) -> list[AccountOut]:
    return [AccountOut.of(account) for account in await _call(ledger.list_accounts, kind)]


@router.post(
    "/accounts", response_model=AccountOut, status_code=201, summary="Open a wallet or fleet"
)
async def create_account(body: AccountCreate, ledger: LedgerDep) -> AccountOut:
    limit = None if body.credit_limit is None else _money(body.credit_limit, body.currency)
    account = await _call(
        ledger.open_account,
        body.kind,
        body.currency,
        account_id=body.id,
        name=body.name,
        credit_limit=limit,
    )
    return AccountOut.of(account)


@router.get(
    "/accounts.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The accounts as CSV"}},
    summary="Export wallets and fleet accounts with their balances as CSV",
)
async def export_accounts(ledger: LedgerDep) -> Response:
    accounts = [
        a
        for kind in IMPORTABLE_KINDS
        for a in await _call(ledger.list_accounts, kind)
    ]
    return Response(
        write_accounts_csv(accounts),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )


@router.post(
    "/accounts.csv",
    response_model=list[AccountOut],
    status_code=201,
    responses={422: {"description": "Rows with errors (by line); nothing opened"}},
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
    summary="Open wallets and fleet accounts from CSV (id, kind, currency, name, credit_limit, "
    "opening_balance); all rows are checked first",
)
async def import_accounts(request: Request, ledger: LedgerDep) -> list[AccountOut] | JSONResponse:
    text = (await request.body()).decode("utf-8-sig", errors="replace")
    try:
        opened = await _call(import_accounts_csv, ledger, text)
    except AccountsCsvError as error:
        return JSONResponse(
            status_code=422,
            content={
                "detail": f"{len(error.errors)} problem(s) in the CSV; no account was opened",
                "errors": [
                    {"line": e.line, "field": e.field, "message": e.message} for e in error.errors
                ],
            },
        )
    return [AccountOut.of(a) for a in opened]


@router.get("/accounts/{account_id}", response_model=AccountOut, summary="Balance and holds")
async def get_account(account_id: str, ledger: LedgerDep) -> AccountOut:
    return AccountOut.of(await _call(ledger.get_account, account_id))


@router.patch(
    "/accounts/{account_id}",
    response_model=AccountOut,
    summary="Rename, change the credit limit, close or reopen",
)
async def update_account(account_id: str, body: AccountUpdate, ledger: LedgerDep) -> AccountOut:
    limit = None
    if body.credit_limit is not None:
        currency = (await _call(ledger.get_account, account_id)).currency
        limit = _money(body.credit_limit, currency)
    account = await _call(
        ledger.update_account, account_id, name=body.name, credit_limit=limit, status=body.status
    )
    return AccountOut.of(account)


@router.post(
    "/accounts/{account_id}/top-ups",
    response_model=JournalOut,
    status_code=201,
    summary="Credit money paid from outside",
)
async def top_up(
    account_id: str, body: TopUpIn, idempotency_key: IdempotencyKey, ledger: LedgerDep
) -> JournalOut:
    amount = _money(body.amount, body.currency)
    journal = await _call(
        ledger.top_up, account_id, amount, idempotency_key, reference=body.reference
    )
    return JournalOut.of(journal)


@router.post(
    "/accounts/{account_id}/adjustments",
    response_model=JournalOut,
    status_code=201,
    summary="An admin's correction with a reason",
)
async def adjust(
    account_id: str,
    body: AdjustmentIn,
    idempotency_key: IdempotencyKey,
    ledger: LedgerDep,
    principal: Annotated[ApiTokenRow, Depends(authenticate)],
) -> JournalOut:
    amount = _money(body.amount, body.currency)
    journal = await _call(
        ledger.adjust,
        account_id,
        amount,
        idempotency_key,
        reason=body.reason,
        actor=principal.name,
    )
    return JournalOut.of(journal)


@router.get(
    "/accounts/{account_id}/statement",
    response_model=list[StatementLineOut],
    summary="Entries, oldest first, with the running balance",
)
async def statement(
    account_id: str,
    ledger: LedgerDep,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    after_entry_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[StatementLineOut]:
    lines = await _call(
        ledger.statement,
        account_id,
        since=since,
        until=until,
        after_entry_id=after_entry_id,
        limit=limit,
    )
    return [StatementLineOut.of(line) for line in lines]


@router.get(
    "/accounts/{account_id}/holds", response_model=list[HoldOut], summary="Holds, newest first"
)
async def list_holds(
    account_id: str,
    ledger: LedgerDep,
    status: Literal["active", "captured", "voided", "expired"] | None = None,
) -> list[HoldOut]:
    return [HoldOut.of(hold) for hold in await _call(ledger.holds, account_id, status)]


@router.get("/holds/{hold_id}", response_model=HoldOut, summary="One hold")
async def get_hold(hold_id: str, ledger: LedgerDep) -> HoldOut:
    return HoldOut.of(await _call(ledger.get_hold, hold_id))


@router.post("/holds/{hold_id}/void", response_model=HoldOut, summary="Release a hold")
async def void_hold(hold_id: str, idempotency_key: IdempotencyKey, ledger: LedgerDep) -> HoldOut:
    hold = await _call(ledger.get_hold, hold_id)
    if hold.provider != LEDGER_PROVIDER:
        raise HTTPException(409, f"hold {hold_id} is a {hold.provider} hold: void it there")
    return HoldOut.of(await _call(ledger.void, hold_id, idempotency_key))


@router.post(
    "/payments/{payment_id}/refunds",
    response_model=RefundOut,
    status_code=201,
    summary="Refund part or all of a payment",
)
async def refund(
    payment_id: str, body: RefundIn, idempotency_key: IdempotencyKey, ledger: LedgerDep
) -> RefundOut:
    amount = _money(body.amount, body.currency)
    payment = await _call(ledger.get_payment, payment_id)
    if payment.provider != LEDGER_PROVIDER:
        raise HTTPException(
            409, f"payment {payment_id} was made by {payment.provider}: refund it there"
        )
    result = await _call(ledger.refund, payment_id, amount, idempotency_key, reason=body.reason)
    return RefundOut.of(result)

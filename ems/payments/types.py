"""What the ledger hands out: frozen values, safe to keep and share between threads."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from ems.payments.money import Money


class AccountKind(enum.StrEnum):
    """Customer accounts (wallet, fleet) and the system accounts that are their counterparts.

    System accounts exist once per currency (id ``sys:<kind>:<currency>``) and may go negative:
    ``cash`` is where top-ups come from, ``card`` where card payments come from (the processor
    owes them to the operator), ``revenue`` where captured charges go, ``refunds`` where refunds
    come from (a contra-revenue account), ``adjustments`` where an admin's corrections come from.
    """

    WALLET = "wallet"
    FLEET = "fleet"
    CASH = "cash"
    CARD = "card"
    REVENUE = "revenue"
    REFUNDS = "refunds"
    ADJUSTMENTS = "adjustments"

    @property
    def is_customer(self) -> bool:
        return self in (AccountKind.WALLET, AccountKind.FLEET)


class AccountStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class HoldStatus(enum.StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"


class JournalKind(enum.StrEnum):
    TOP_UP = "top_up"
    ADJUSTMENT = "adjustment"
    CAPTURE = "capture"
    REFUND = "refund"


@dataclass(frozen=True)
class Account:
    """A ledger account and its figures.

    ``balance`` is the sum of the account's entries; ``held`` the sum of its active holds;
    ``available = balance - held`` may go down to ``-credit_limit`` (0 for a wallet, so a wallet
    never owes anything); ``spendable`` is what a new hold may still take.
    """

    id: str
    kind: AccountKind
    name: str
    currency: str
    credit_limit: Money
    balance: Money
    held: Money
    status: AccountStatus
    created_at: datetime
    updated_at: datetime

    @property
    def available(self) -> Money:
        return self.balance - self.held

    @property
    def spendable(self) -> Money:
        return self.available + self.credit_limit


@dataclass(frozen=True)
class Entry:
    """One leg of a journal: ``amount`` added to the account (negative: taken from it)."""

    id: int
    journal_id: int
    account_id: str
    amount: Money
    balance_after: Money
    created_at: datetime


@dataclass(frozen=True)
class Journal:
    """One balanced movement: its entries sum to zero in every currency."""

    id: int
    kind: JournalKind
    created_at: datetime
    reference: str | None
    reason: str | None
    actor: str | None
    hold_id: str | None
    payment_id: str | None
    external_id: str | None
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class StatementLine:
    """An entry of one account with what its journal was for, and the running balance."""

    entry_id: int
    journal_id: int
    kind: JournalKind
    created_at: datetime
    amount: Money
    balance_after: Money
    reference: str | None
    reason: str | None
    hold_id: str | None
    payment_id: str | None


@dataclass(frozen=True)
class Hold:
    """Funds reserved for a charging session until it is captured, voided or expires.

    ``account_id`` is the payer's account for the built-in ledger; card holds sit on the
    ``sys:card:<currency>`` account with the processor's authorization id in ``external_id``.
    """

    id: str
    account_id: str
    amount: Money
    status: HoldStatus
    reference: str | None
    provider: str
    payment_method: str | None
    external_id: str | None
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    captured: Money | None
    payment_id: str | None


@dataclass(frozen=True)
class Payment:
    """A captured hold: ``amount`` went to revenue; ``refunded`` of it has gone back."""

    id: str
    hold_id: str
    account_id: str
    amount: Money
    refunded: Money
    journal_id: int | None
    provider: str
    external_id: str | None
    created_at: datetime

    @property
    def refundable(self) -> Money:
        return self.amount - self.refunded


@dataclass(frozen=True)
class Refund:
    """Money given back from a payment; ``id`` is the refund journal's id."""

    id: int
    payment_id: str
    account_id: str
    amount: Money
    reason: str | None
    external_id: str | None
    created_at: datetime

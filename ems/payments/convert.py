"""Database rows of the payment tables -> the frozen values of :mod:`ems.payments.types`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from ems.payments.money import Money
from ems.payments.types import (
    Account,
    AccountKind,
    AccountStatus,
    Entry,
    Hold,
    HoldStatus,
    JournalKind,
    Payment,
    Refund,
    StatementLine,
)


def account_from_row(row: Row[Any]) -> Account:
    currency = row.currency
    return Account(
        id=row.id,
        kind=AccountKind(row.kind),
        name=row.name,
        currency=currency,
        credit_limit=Money(row.credit_limit_minor, currency),
        balance=Money(row.balance_minor, currency),
        held=Money(row.held_minor, currency),
        status=AccountStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def entry_from_row(row: Row[Any]) -> Entry:
    return Entry(
        id=row.id,
        journal_id=row.journal_id,
        account_id=row.account_id,
        amount=Money(row.amount_minor, row.currency),
        balance_after=Money(row.balance_after_minor, row.currency),
        created_at=row.created_at,
    )


def statement_line_from_row(row: Any) -> StatementLine:
    """A row of entries joined with journals (``entry_id``, ``kind`` and the journal's fields)."""
    return StatementLine(
        entry_id=row.entry_id,
        journal_id=row.journal_id,
        kind=JournalKind(row.kind),
        created_at=row.created_at,
        amount=Money(row.amount_minor, row.currency),
        balance_after=Money(row.balance_after_minor, row.currency),
        reference=row.reference,
        reason=row.reason,
        hold_id=row.hold_id,
        payment_id=row.payment_id,
    )


def hold_from_row(row: Row[Any]) -> Hold:
    currency = row.currency
    captured = None if row.captured_minor is None else Money(row.captured_minor, currency)
    return Hold(
        id=row.id,
        account_id=row.account_id,
        amount=Money(row.amount_minor, currency),
        status=HoldStatus(row.status),
        reference=row.reference,
        provider=row.provider,
        payment_method=row.payment_method,
        external_id=row.external_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        closed_at=row.closed_at,
        captured=captured,
        payment_id=row.payment_id,
    )


def payment_from_row(row: Row[Any]) -> Payment:
    return Payment(
        id=row.id,
        hold_id=row.hold_id,
        account_id=row.account_id,
        amount=Money(row.amount_minor, row.currency),
        refunded=Money(row.refunded_minor, row.currency),
        journal_id=row.journal_id,
        provider=row.provider,
        external_id=row.external_id,
        created_at=row.created_at,
    )


def refund_from_rows(journal: Row[Any], customer_entry: Row[Any]) -> Refund:
    """A refund journal and its entry on the account the money went back to."""
    return Refund(
        id=journal.id,
        payment_id=journal.payment_id,
        account_id=customer_entry.account_id,
        amount=Money(customer_entry.amount_minor, customer_entry.currency),
        reason=journal.reason,
        external_id=journal.external_id,
        created_at=journal.created_at,
    )

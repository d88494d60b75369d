"""The read side of the ledger: accounts, holds, payments, journals, statements, integrity."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Row, func, select

from ems.payments.convert import (
    account_from_row,
    entry_from_row,
    hold_from_row,
    payment_from_row,
    refund_from_rows,
    statement_line_from_row,
)
from ems.payments.errors import InvalidRequest, UnknownAccount, UnknownHold, UnknownPayment
from ems.payments.money import check_currency
from ems.payments.types import (
    Account,
    AccountKind,
    AccountStatus,
    Hold,
    HoldStatus,
    Journal,
    JournalKind,
    Payment,
    Refund,
    StatementLine,
)
from ems.store import models as m

_E = TypeVar("_E", AccountKind, AccountStatus, HoldStatus)


class LedgerQueries:
    """Queries of :class:`ems.payments.Ledger`; each reads in one short transaction."""

    engine: Engine

    def get_account(self, account_id: str) -> Account:
        a = m.payment_accounts
        row = self._first(select(a).where(a.c.id == account_id))
        if row is None:
            raise UnknownAccount(f"no payment account {account_id!r}")
        return account_from_row(row)

    def list_accounts(self, kind: AccountKind | str | None = None) -> list[Account]:
        """All accounts (system ones included unless ``kind`` says otherwise), by id."""
        a = m.payment_accounts
        query = select(a).order_by(a.c.id)
        if kind is not None:
            query = query.where(a.c.kind == parse_enum(AccountKind, kind, "kind").value)
        with self.engine.connect() as conn:
            return [account_from_row(row) for row in conn.execute(query)]

    def system_account_id(self, kind: AccountKind | str, currency: str) -> str:
        """Id of the system account of ``kind`` in ``currency`` (it may not exist yet)."""
        kind = parse_enum(AccountKind, kind, "kind")
        if kind.is_customer:
            raise InvalidRequest(f"{kind.value} is not a system account kind")
        return f"sys:{kind.value}:{check_currency(currency)}"

    def get_hold(self, hold_id: str) -> Hold:
        h = m.payment_holds
        row = self._first(select(h).where(h.c.id == hold_id))
        if row is None:
            raise UnknownHold(f"no hold {hold_id!r}")
        return hold_from_row(row)

    def hold_by_external_id(self, provider: str, external_id: str) -> Hold:
        """The hold recorded for a card processor's authorization id."""
        h = m.payment_holds
        query = select(h).where(h.c.provider == provider, h.c.external_id == external_id)
        row = self._first(query)
        if row is None:
            raise UnknownHold(f"no {provider} hold for authorization {external_id!r}")
        return hold_from_row(row)

    def holds(self, account_id: str, status: HoldStatus | str | None = None) -> list[Hold]:
        """Holds of an account, newest first; only those of ``status`` if given."""
        self.get_account(account_id)
        h = m.payment_holds
        query = select(h).where(h.c.account_id == account_id)
        if status is not None:
            query = query.where(h.c.status == parse_enum(HoldStatus, status, "status").value)
        query = query.order_by(h.c.created_at.desc(), h.c.id)
        with self.engine.connect() as conn:
            return [hold_from_row(row) for row in conn.execute(query)]

    def get_payment(self, payment_id: str) -> Payment:
        p = m.payments
        row = self._first(select(p).where(p.c.id == payment_id))
        if row is None:
            raise UnknownPayment(f"no payment {payment_id!r}")
        return payment_from_row(row)

    def get_journal(self, journal_id: int) -> Journal:
        j, e = m.payment_journals, m.payment_entries
        with self.engine.connect() as conn:
            row = conn.execute(select(j).where(j.c.id == journal_id)).first()
            if row is None:
                raise LookupError(f"no journal {journal_id}")
            entries = conn.execute(select(e).where(e.c.journal_id == journal_id).order_by(e.c.id))
            return Journal(
                id=row.id,
                kind=JournalKind(row.kind),
                created_at=row.created_at,
                reference=row.reference,
                reason=row.reason,
                actor=row.actor,
                hold_id=row.hold_id,
                payment_id=row.payment_id,
                external_id=row.external_id,
                entries=tuple(entry_from_row(entry) for entry in entries),
            )

    def get_refund(self, refund_id: int) -> Refund:
        j, e, p = m.payment_journals, m.payment_entries, m.payments
        with self.engine.connect() as conn:
            journal = conn.execute(
                select(j).where(j.c.id == refund_id, j.c.kind == JournalKind.REFUND.value)
            ).first()
            if journal is None:
                raise LookupError(f"no refund {refund_id}")
            entry = conn.execute(
                select(e)
                .join(p, p.c.id == journal.payment_id)
                .where(e.c.journal_id == refund_id, e.c.account_id == p.c.account_id)
            ).one()
            return refund_from_rows(journal, entry)

    def statement(
        self,
        account_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after_entry_id: int | None = None,
        limit: int = 100,
    ) -> list[StatementLine]:
        """Entries of an account, oldest first, each with the balance right after it.

        ``since`` <= time < ``until``; page on with ``after_entry_id`` = the last line's id.
        """
        if limit < 1:
            raise InvalidRequest(f"limit must be at least 1, not {limit}")
        self.get_account(account_id)
        e, j = m.payment_entries, m.payment_journals
        query = (
            select(
                e.c.id.label("entry_id"),
                e.c.journal_id,
                e.c.currency,
                e.c.amount_minor,
                e.c.balance_after_minor,
                e.c.created_at,
                j.c.kind,
                j.c.reference,
                j.c.reason,
                j.c.hold_id,
                j.c.payment_id,
            )
            .join(j, j.c.id == e.c.journal_id)
            .where(e.c.account_id == account_id)
        )
        if since is not None:
            query = query.where(e.c.created_at >= since)
        if until is not None:
            query = query.where(e.c.created_at < until)
        if after_entry_id is not None:
            query = query.where(e.c.id > after_entry_id)
        query = query.order_by(e.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [statement_line_from_row(row) for row in conn.execute(query)]

    def check_integrity(self) -> list[str]:
        """Every way the stored ledger breaks its invariants, in words; ``[]`` when sound.

        Journals that do not balance per currency, cached balances or holds that differ from the
        entries and active holds, customer accounts beyond their limit, entries whose running
        balance does not add up.
        """
        a, e, h = m.payment_accounts, m.payment_entries, m.payment_holds
        problems: list[str] = []
        with self.engine.connect() as conn:
            unbalanced = conn.execute(
                select(e.c.journal_id, e.c.currency, func.sum(e.c.amount_minor))
                .group_by(e.c.journal_id, e.c.currency)
                .having(func.sum(e.c.amount_minor) != 0)
            )
            problems += [f"journal {j} sums to {s} in {c}" for j, c, s in unbalanced]
            sums = dict(
                conn.execute(
                    select(e.c.account_id, func.sum(e.c.amount_minor)).group_by(e.c.account_id)
                ).all()
            )
            held = dict(
                conn.execute(
                    select(h.c.account_id, func.sum(h.c.amount_minor))
                    .where(h.c.status == HoldStatus.ACTIVE.value)
                    .group_by(h.c.account_id)
                ).all()
            )
            entries = conn.execute(
                select(e.c.account_id, e.c.amount_minor, e.c.balance_after_minor, e.c.id).order_by(
                    e.c.account_id, e.c.id
                )
            ).all()
            accounts = conn.execute(select(a)).all()
        running: dict[str, int] = defaultdict(int)
        for account_id, amount, after, entry_id in entries:
            running[account_id] += amount
            if running[account_id] != after:
                problems.append(
                    f"entry {entry_id}: balance after {after}, entries give {running[account_id]}"
                )
        for row in accounts:
            if row.balance_minor != int(sums.get(row.id, 0)):
                problems.append(
                    f"account {row.id}: balance {row.balance_minor}, entries sum "
                    f"to {sums.get(row.id, 0)}"
                )
            if row.held_minor != int(held.get(row.id, 0)):
                problems.append(
                    f"account {row.id}: held {row.held_minor}, active holds sum "
                    f"to {held.get(row.id, 0)}"
                )
            if AccountKind(row.kind).is_customer and (
                row.balance_minor - row.held_minor + row.credit_limit_minor < 0
            ):
                problems.append(f"account {row.id} is beyond its limit")
        return problems

    def _first(self, query: Any) -> Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(query).first()


def parse_enum(cls: type[_E], value: _E | str, field: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in cls)
        raise InvalidRequest(f"{field}: {value!r} is not one of {allowed}") from None

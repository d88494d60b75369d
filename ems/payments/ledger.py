"""The built-in double-entry ledger: prepaid wallets and fleet accounts, holds, captures, refunds.

Every movement of money is a journal whose entries sum to zero per currency (signed amounts:
positive adds to an account, negative takes from it), so the sum over all accounts, system ones
included, is zero in every currency at all times. A hold is a reservation, not a movement (the
two-phase transfer of TigerBeetle and of card networks): it raises the account's ``held`` and
lowers what it can spend; capturing posts one journal from the payer to revenue for the final
amount and releases the rest; voiding or expiry only releases it.

Invariants, checked before every write and backed by check constraints in the database:

- a wallet's ``balance - held`` never goes below 0, a fleet account's never below
  ``-credit_limit`` (postpaid up to the limit); system accounts are unconstrained;
- a capture takes at most what was held; refunds of a payment at most what was captured;
- every write takes an idempotency key: the same key with the same request returns the first
  result (the same journal, hold or payment, in its current state) without writing anything;
  the same key with a different request is an ``IdempotencyConflict``.

Concurrency: the ledger writes synchronously in its own short transactions (never through the
batching recorder). On PostgreSQL a write first locks the payer's account row
(``SELECT ... FOR UPDATE``; READ COMMITTED), so two holds on one wallet are serialized and the
second sees the first's; other accounts touched (revenue, cash ...) are updated after it in id
order, which rules out deadlocks. On SQLite the first statement of every write transaction is a
write, which takes the database's write lock at once (the effect of ``BEGIN IMMEDIATE``; the
engine waits up to its busy timeout for it), so reads inside it are never stale. A concurrent
request with the same idempotency key that wins the race makes the loser's insert of the key fail;
the loser then replays the winner's result.

The methods block on the database: call them from a thread (``asyncio.to_thread``) in async code,
as :class:`ems.payments.provider.LedgerPaymentProvider` does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ems.payments.errors import (
    AccountClosed,
    AccountExists,
    AmountExceedsHold,
    CurrencyMismatch,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    RefundExceedsPayment,
    UnknownAccount,
    UnknownHold,
    UnknownPayment,
)
from ems.payments.money import Money, check_currency
from ems.payments.queries import LedgerQueries, parse_enum
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
)
from ems.store import models as m

Clock = Callable[[], datetime]

#: How long a hold lasts unless told otherwise: longer than any charging session should be.
DEFAULT_HOLD_TTL = timedelta(days=7)
MAX_IDEMPOTENCY_KEY_LENGTH = 255
ACCOUNT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
LEDGER_PROVIDER = "ledger"
CARD_PROVIDER = "card"

# A write that matches nothing but still takes SQLite's write lock for the transaction.
_SQLITE_WRITE_LOCK = text("UPDATE payment_accounts SET id = id WHERE 1 = 0")


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Replayed(Exception):
    """Raised inside a write when its idempotency key turns out to be used already."""

    def __init__(self, result_id: str) -> None:
        self.result_id = result_id


class Ledger(LedgerQueries):
    """Wallets, fleet accounts and their holds, captures and refunds in the database.

    ``engine`` is the store's (``Store.engine``), migrated to at least revision 0003. ``clock``
    gives the time of journals and holds and decides expiry; ``hold_ttl`` is the default life of
    a hold.
    """

    def __init__(
        self, engine: Engine, *, clock: Clock = utc_now, hold_ttl: timedelta = DEFAULT_HOLD_TTL
    ) -> None:
        if hold_ttl <= timedelta(0):
            raise ValueError(f"hold_ttl must be positive, not {hold_ttl}")
        self.engine = engine
        self.hold_ttl = hold_ttl
        self._clock = clock
        self._sqlite = engine.dialect.name == "sqlite"

    # -- accounts ----------------------------------------------------------------------------

    def open_account(
        self,
        kind: AccountKind | str,
        currency: str,
        *,
        account_id: str | None = None,
        name: str = "",
        credit_limit: Money | None = None,
    ) -> Account:
        """Open a wallet (prepaid) or a fleet account (postpaid up to ``credit_limit``).

        ``account_id`` (1-64 letters, digits, ``.``, ``_``, ``-``) is the id id tokens refer to;
        a random ``acct_...`` one by default. ``AccountExists`` if it is taken.
        """
        kind = _customer_kind(kind)
        check_currency(currency)
        limit = self._credit_limit(kind, currency, credit_limit)
        if account_id is None:
            account_id = f"acct_{secrets.token_hex(8)}"
        elif ACCOUNT_ID_PATTERN.fullmatch(account_id) is None:
            raise InvalidRequest(
                f"account id {account_id!r}: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        now = self._clock()
        values = {
            "id": account_id,
            "kind": kind.value,
            "name": _name(name),
            "currency": currency,
            "credit_limit_minor": limit,
            "balance_minor": 0,
            "held_minor": 0,
            "status": AccountStatus.OPEN.value,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(m.payment_accounts).values(values))
        except IntegrityError:
            raise AccountExists(f"a payment account {account_id!r} exists already") from None
        return self.get_account(account_id)

    def update_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        credit_limit: Money | None = None,
        status: AccountStatus | str | None = None,
    ) -> Account:
        """Rename, change a fleet's credit limit, close or reopen a customer account.

        A credit limit below what the fleet already uses is refused (``InsufficientFunds``), and
        only an account with nothing on it (zero balance, no holds) can be closed.
        """
        with self._write() as conn:
            row = self._lock_account(conn, account_id)
            kind = _customer_kind(row.kind, account_id)
            values: dict[str, Any] = {"updated_at": self._clock()}
            if name is not None:
                values["name"] = _name(name)
            if credit_limit is not None:
                limit = self._credit_limit(kind, row.currency, credit_limit)
                if row.balance_minor - row.held_minor + limit < 0:
                    used = Money(row.held_minor - row.balance_minor, row.currency)
                    raise InsufficientFunds(
                        f"account {account_id} uses {used} of credit already; its credit limit "
                        f"cannot go below that (asked {credit_limit})"
                    )
                values["credit_limit_minor"] = limit
            if status is not None:
                status = parse_enum(AccountStatus, status, "status")
                if status is AccountStatus.CLOSED and (row.balance_minor or row.held_minor):
                    raise InvalidRequest(
                        f"account {account_id} still has a balance of "
                        f"{Money(row.balance_minor, row.currency)} and "
                        f"{Money(row.held_minor, row.currency)} held; settle it before closing"
                    )
                values["status"] = status.value
            a = m.payment_accounts
            conn.execute(update(a).where(a.c.id == account_id).values(values))
        return self.get_account(account_id)

    # -- money in and out --------------------------------------------------------------------

    def top_up(
        self,
        account_id: str,
        amount: Money,
        idempotency_key: str,
        *,
        reference: str | None = None,
    ) -> Journal:
        """Credit ``amount`` paid from outside (cash, bank transfer, a card top-up, a fleet's
        invoice payment) to a customer account; ``reference`` names that payment."""
        _positive(amount, "top-up")

        def run(conn: Connection, recheck: Callable[[], None]) -> str:
            row = self._lock_account(conn, account_id)
            recheck()
            _customer_kind(row.kind, account_id)
            _same_currency(row, amount)
            _open(row, "top up")
            now = self._clock()
            cash = self._system_account(conn, AccountKind.CASH, amount.currency, now)
            legs = [(cash, -amount), (account_id, amount)]
            journal_id = self._post(conn, JournalKind.TOP_UP, legs, now, reference=reference)
            return str(journal_id)

        params = {"account": account_id, "amount": amount, "reference": reference}
        return self.get_journal(int(self._idempotent(idempotency_key, "top_up", params, run)))

    def adjust(
        self,
        account_id: str,
        amount: Money,
        idempotency_key: str,
        *,
        reason: str,
        actor: str | None = None,
    ) -> Journal:
        """An admin's correction: ``amount`` (negative to take money away) with a ``reason``.

        A negative adjustment may not take the account below what it may owe
        (``InsufficientFunds``); ``actor`` is who made it (e.g. the API token's name).
        """
        if amount.minor == 0:
            raise InvalidAmount("an adjustment of 0 changes nothing: give a non-zero amount")
        if not reason or not reason.strip():
            raise InvalidRequest("reason: an adjustment needs a reason (it goes on the statement)")

        def run(conn: Connection, recheck: Callable[[], None]) -> str:
            row = self._lock_account(conn, account_id)
            recheck()
            _customer_kind(row.kind, account_id)
            _same_currency(row, amount)
            if amount.minor < 0:
                _cover(row, -amount, "take")
            now = self._clock()
            source = self._system_account(conn, AccountKind.ADJUSTMENTS, amount.currency, now)
            legs = [(source, -amount), (account_id, amount)]
            journal_id = self._post(
                conn, JournalKind.ADJUSTMENT, legs, now, reason=reason.strip(), actor=actor
            )
            return str(journal_id)

        params = {"account": account_id, "amount": amount, "reason": reason, "actor": actor}
        return self.get_journal(int(self._idempotent(idempotency_key, "adjust", params, run)))

    # -- holds -------------------------------------------------------------------------------

    def authorize_hold(
        self,
        account_id: str,
        amount: Money,
        idempotency_key: str,
        *,
        reference: str | None = None,
        expires_at: datetime | None = None,
    ) -> Hold:
        """Reserve ``amount`` on a wallet or fleet account, e.g. before a charging session.

        ``InsufficientFunds`` when the account cannot cover it; holds of the account past their
        expiry are released first. ``expires_at`` defaults to now + ``hold_ttl``.
        """
        _positive(amount, "hold")

        def run(conn: Connection, recheck: Callable[[], None]) -> str:
            row = self._lock_account(conn, account_id)
            recheck()
            _customer_kind(row.kind, account_id)
            _same_currency(row, amount)
            _open(row, "place a hold on")
            now = self._clock()
            if self._expire_due_holds(conn, account_id, now):
                row = self._lock_account(conn, account_id)
            _cover(row, amount, "hold")
            return self._insert_hold(
                conn, account_id, amount, now, expires_at, reference, LEDGER_PROVIDER, None, None
            )

        params = {
            "account": account_id,
            "amount": amount,
            "reference": reference,
            "expires_at": expires_at,
        }
        return self.get_hold(self._idempotent(idempotency_key, "hold", params, run))

    def record_card_hold(
        self,
        amount: Money,
        idempotency_key: str,
        *,
        payment_method: str,
        external_id: str,
        reference: str | None = None,
        expires_at: datetime | None = None,
    ) -> Hold:
        """Record a card authorization the processor granted (``external_id``) as a hold.

        The hold sits on the ``sys:card:<currency>`` account; its ``held`` is the total of the
        card authorizations outstanding. Used by :class:`ems.payments.card.CardPaymentProvider`.
        """
        _positive(amount, "hold")

        def run(conn: Connection, recheck: Callable[[], None]) -> str:
            now = self._clock()
            account_id = self._system_account(conn, AccountKind.CARD, amount.currency, now)
            self._lock_account(conn, account_id)
            recheck()
            return self._insert_hold(
                conn,
                account_id,
                amount,
                now,
                expires_at,
                reference,
                CARD_PROVIDER,
                payment_method,
                external_id,
            )

        params = card_hold_request(payment_method, amount, reference)
        return self.get_hold(self._idempotent(idempotency_key, "card_hold", params, run))

    def capture(
        self,
        hold_id: str,
        amount: Money,
        idempotency_key: str,
        *,
        external_id: str | None = None,
    ) -> Payment:
        """Charge ``amount`` (at most what was held; 0 is allowed) and release the rest.

        Posts payer -> revenue and returns the payment; ``HoldNotActive`` if the hold was
        captured, voided or has expired. ``external_id`` is the card processor's capture id.
        """
        if amount.minor < 0:
            raise InvalidAmount(f"capture amount {amount} is negative")

        def run(conn: Connection, recheck: Callable[[], None]) -> str:
            hold = self._locked_hold(conn, hold_id)
            recheck()
            if hold.currency != amount.currency:
                raise CurrencyMismatch(
                    f"hold {hold_id} is in {hold.currency}; cannot capture {amount}"
                )
            now = self._clock()
            _require_active(hold, now, "capture")
            if amount.minor > hold.amount_minor:
                raise AmountExceedsHold(
                    f"cannot capture {amount} on hold {hold_id}: only "
                    f"{Money(hold.amount_minor, hold.currency)} was held"
                )
            payment_id = f"pay_{secrets.token_hex(10)}"
            self._close_hold(conn, hold, HoldStatus.CAPTURED, now, amount.minor, payment_id)
            journal_id = None
            if amount.minor:
                revenue = self._system_account(conn, AccountKind.REVENUE, amount.currency, now)
                journal_id = self._post(
                    conn,
                    JournalKind.CAPTURE,
                    [(hold.account_id, -amount), (revenue, amount)],
                    now,
                    reference=hold.reference,
                    hold_id=hold_id,
                    payment_id=payment_id,
                    external_id=external_id,
                )
            conn.execute(
                insert(m.payments).values(
                    id=payment_id,
                    hold_id=hold_id,
                    account_id=hold.account_id,
                    currency=amount.currency,
                    amount_minor=amount.minor,
                    refunded_minor=0,
                    journal_id=journal_id,
                    provider=hold.provider,
                    external_id=external_id,
                    created_at=now,
                )
            )
            return payment_id

        params = capture_request(hold_id, amount)
        return self.get_payment(self._idempotent(idempotency_key, "capture", params, run))

    def void(self, hold_id: str, idempotency_key: str) -> Hold:
        """Release a hold without charging, e.g. when the charging session failed to start.

        Voiding a hold that was voided or has expired already changes nothing; a captured one is
        ``HoldNotActive`` (refund the payment instead).
        """

        def run(conn: Connection, recheck: Callable[[], None]) -> str:
            hold = self._locked_hold(conn, hold_id)
            recheck()
            now = self._clock()
            if hold.status == HoldStatus.CAPTURED:
                raise HoldNotActive(
                    f"hold {hold_id} was captured (payment {hold.payment_id}); refund the "
                    "payment instead of voiding the hold"
                )
            if hold.status == HoldStatus.ACTIVE:
                self._close_hold(conn, hold, HoldStatus.VOIDED, now, None, None)
            return hold_id

        return self.get_hold(self._idempotent(idempotency_key, "void", {"hold": hold_id}, run))

    def expire_hold(self, hold_id: str) -> Hold:
        """Release a hold now as expired (the card processor reported its authorization gone).

        Nothing happens to a hold that is not active.
        """
        with self._write() as conn:
            hold = self._locked_hold(conn, hold_id)
            if hold.status == HoldStatus.ACTIVE:
                self._close_hold(conn, hold, HoldStatus.EXPIRED, self._clock(), None, None)
        return self.get_hold(hold_id)

    def expire_holds(self, now: datetime | None = None) -> list[str]:
        """Release every active hold past its expiry (call it periodically); their ids.

        Expired holds are also released lazily whenever their account takes a new hold.
        """
        now = now or self._clock()
        h = m.payment_holds
        due = (
            select(h.c.account_id)
            .where(h.c.status == HoldStatus.ACTIVE.value, h.c.expires_at <= now)
            .distinct()
        )
        with self.engine.connect() as conn:
            account_ids = sorted(conn.execute(due).scalars())
        expired: list[str] = []
        for account_id in account_ids:
            with self._write() as conn:
                self._lock_account(conn, account_id)
                expired += self._expire_due_holds(conn, account_id, now)
        return expired

    # -- refunds -----------------------------------------------------------------------------

    def refund(
        self,
        payment_id: str,
        amount: Money,
        idempotency_key: str,
        *,
        reason: str | None = None,
        external_id: str | None = None,
    ) -> Refund:
        """Give back part or all of a payment; the total refunded never exceeds what was paid.

        Posts refunds -> payer. ``RefundExceedsPayment`` names what is left to refund.
        """
        _positive(amount, "refund")

        def run(conn: Connection, recheck: Callable[[], None]) -> str:
            payment = self._payment_row(conn, payment_id)
            self._lock_account(conn, payment.account_id)
            recheck()
            payment = self._payment_row(conn, payment_id)
            if payment.currency != amount.currency:
                raise CurrencyMismatch(
                    f"payment {payment_id} is in {payment.currency}; cannot refund {amount}"
                )
            left = payment.amount_minor - payment.refunded_minor
            if amount.minor > left:
                paid = Money(payment.amount_minor, payment.currency)
                refunded = Money(payment.refunded_minor, payment.currency)
                raise RefundExceedsPayment(
                    f"cannot refund {amount} of payment {payment_id}: {paid} was captured and "
                    f"{refunded} refunded already, so {Money(left, payment.currency)} is left"
                )
            now = self._clock()
            source = self._system_account(conn, AccountKind.REFUNDS, amount.currency, now)
            p = m.payments
            conn.execute(
                update(p)
                .where(p.c.id == payment_id)
                .values(refunded_minor=p.c.refunded_minor + amount.minor)
            )
            journal_id = self._post(
                conn,
                JournalKind.REFUND,
                [(source, -amount), (payment.account_id, amount)],
                now,
                reason=reason,
                hold_id=payment.hold_id,
                payment_id=payment_id,
                external_id=external_id,
            )
            return str(journal_id)

        params = refund_request(payment_id, amount, reason)
        return self.get_refund(int(self._idempotent(idempotency_key, "refund", params, run)))

    def replay(self, idempotency_key: str, operation: str, params: dict[str, Any]) -> str | None:
        """The result id of an earlier request with this key, None if the key is new.

        ``IdempotencyConflict`` if the key was used for another request. For providers that
        must not repeat an outside call (the card processor) for a request already done.
        """
        request = _Request(idempotency_key, operation, params)
        with self.engine.connect() as conn:
            return self._replay(conn, request)

    # -- internals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction that holds SQLite's write lock from its first statement."""
        with self.engine.begin() as conn:
            if self._sqlite:
                conn.execute(_SQLITE_WRITE_LOCK)
            yield conn

    def _idempotent(
        self,
        key: str,
        operation: str,
        params: dict[str, Any],
        run: Callable[[Connection, Callable[[], None]], str],
    ) -> str:
        """Run a write once per idempotency key; the result id of the first run otherwise.

        ``run`` gets the connection and a ``recheck`` to call once it holds its account lock:
        a request with the same key may have committed while it waited.
        """
        request = _Request(key, operation, params)
        for attempt in (1, 2):
            try:
                with self._write() as conn:

                    def recheck(conn: Connection = conn) -> None:
                        found = self._replay(conn, request)
                        if found is not None:
                            raise _Replayed(found)

                    recheck()
                    result_id = run(conn, recheck)
                    conn.execute(
                        insert(m.payment_idempotency_keys).values(
                            key=key,
                            operation=operation,
                            request_hash=request.fingerprint,
                            result_id=result_id,
                            created_at=self._clock(),
                        )
                    )
                    return result_id
            except _Replayed as replayed:
                return replayed.result_id
            except IntegrityError:
                # Another request with this key committed first (PostgreSQL); replay its result.
                if attempt == 2 or self.replay(key, operation, params) is None:
                    raise
        raise AssertionError("unreachable")

    def _replay(self, conn: Connection, request: _Request) -> str | None:
        k = m.payment_idempotency_keys
        row = conn.execute(select(k).where(k.c.key == request.key)).first()
        if row is None:
            return None
        if row.operation != request.operation or row.request_hash != request.fingerprint:
            raise IdempotencyConflict(
                f"idempotency key {request.key!r} was used for a different request "
                f"({row.operation}, result {row.result_id}); use a new key for a new request"
            )
        result_id: str = row.result_id
        return result_id

    def _lock_account(self, conn: Connection, account_id: str) -> Row[Any]:
        a = m.payment_accounts
        query = select(a).where(a.c.id == account_id)
        if not self._sqlite:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise UnknownAccount(f"no payment account {account_id!r}")
        return row

    def _locked_hold(self, conn: Connection, hold_id: str) -> Row[Any]:
        """The hold, read again once its account is locked (only then is its state stable)."""
        h = m.payment_holds
        query = select(h).where(h.c.id == hold_id)
        row = conn.execute(query).first()
        if row is None:
            raise UnknownHold(f"no hold {hold_id!r}")
        self._lock_account(conn, row.account_id)
        locked: Row[Any] = conn.execute(query).one()
        return locked

    def _payment_row(self, conn: Connection, payment_id: str) -> Row[Any]:
        p = m.payments
        row = conn.execute(select(p).where(p.c.id == payment_id)).first()
        if row is None:
            raise UnknownPayment(f"no payment {payment_id!r}")
        return row

    def _system_account(
        self, conn: Connection, kind: AccountKind, currency: str, now: datetime
    ) -> str:
        """Id of the system account of ``kind`` in ``currency``, created if missing."""
        account_id = self.system_account_id(kind, currency)
        dialect: Any = sqlite if self._sqlite else postgresql
        stmt = (
            dialect.insert(m.payment_accounts)
            .values(
                id=account_id,
                kind=kind.value,
                name=f"{kind.value} ({currency})",
                currency=currency,
                credit_limit_minor=0,
                balance_minor=0,
                held_minor=0,
                status=AccountStatus.OPEN.value,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        conn.execute(stmt)
        return account_id

    def _post(
        self,
        conn: Connection,
        kind: JournalKind,
        legs: Sequence[tuple[str, Money]],
        now: datetime,
        **fields: Any,
    ) -> int:
        """Write one journal with an entry per leg and move the accounts' balances.

        Accounts are updated in id order so that concurrent journals never deadlock.
        """
        totals: dict[str, int] = defaultdict(int)
        for _, amount in legs:
            totals[amount.currency] += amount.minor
        unbalanced = {currency: total for currency, total in totals.items() if total}
        if unbalanced:
            raise RuntimeError(f"a {kind.value} journal would not balance: {unbalanced}")
        j, a, e = m.payment_journals, m.payment_accounts, m.payment_entries
        journal_id: int = conn.execute(
            insert(j).values(kind=kind.value, created_at=now, **fields).returning(j.c.id)
        ).scalar_one()
        for account_id, amount in sorted(legs, key=lambda leg: leg[0]):
            if amount.minor == 0:
                continue
            balance_after = conn.execute(
                update(a)
                .where(a.c.id == account_id, a.c.currency == amount.currency)
                .values(balance_minor=a.c.balance_minor + amount.minor, updated_at=now)
                .returning(a.c.balance_minor)
            ).scalar_one_or_none()
            if balance_after is None:
                raise RuntimeError(f"no account {account_id} in {amount.currency} to post to")
            conn.execute(
                insert(e).values(
                    journal_id=journal_id,
                    account_id=account_id,
                    currency=amount.currency,
                    amount_minor=amount.minor,
                    balance_after_minor=balance_after,
                    created_at=now,
                )
            )
        return journal_id

    def _insert_hold(
        self,
        conn: Connection,
        account_id: str,
        amount: Money,
        now: datetime,
        expires_at: datetime | None,
        reference: str | None,
        provider: str,
        payment_method: str | None,
        external_id: str | None,
    ) -> str:
        expires_at = expires_at or now + self.hold_ttl
        if expires_at <= now:
            raise InvalidRequest(f"expires_at {expires_at.isoformat()} is not in the future")
        hold_id = f"hold_{secrets.token_hex(10)}"
        conn.execute(
            insert(m.payment_holds).values(
                id=hold_id,
                account_id=account_id,
                currency=amount.currency,
                amount_minor=amount.minor,
                status=HoldStatus.ACTIVE.value,
                reference=reference,
                provider=provider,
                payment_method=payment_method,
                external_id=external_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        self._change_held(conn, account_id, amount.minor, now)
        return hold_id

    def _change_held(self, conn: Connection, account_id: str, delta: int, now: datetime) -> None:
        a = m.payment_accounts
        conn.execute(
            update(a)
            .where(a.c.id == account_id)
            .values(held_minor=a.c.held_minor + delta, updated_at=now)
        )

    def _close_hold(
        self,
        conn: Connection,
        hold: Row[Any],
        status: HoldStatus,
        now: datetime,
        captured_minor: int | None,
        payment_id: str | None,
    ) -> None:
        h = m.payment_holds
        conn.execute(
            update(h)
            .where(h.c.id == hold.id, h.c.status == HoldStatus.ACTIVE.value)
            .values(
                status=status.value,
                closed_at=now,
                captured_minor=captured_minor,
                payment_id=payment_id,
            )
        )
        self._change_held(conn, hold.account_id, -hold.amount_minor, now)

    def _expire_due_holds(self, conn: Connection, account_id: str, now: datetime) -> list[str]:
        """Release the account's active holds past their expiry (its row must be locked)."""
        h = m.payment_holds
        due = conn.execute(
            select(h).where(
                and_(
                    h.c.account_id == account_id,
                    h.c.status == HoldStatus.ACTIVE.value,
                    h.c.expires_at <= now,
                )
            )
        ).all()
        for hold in due:
            self._close_hold(conn, hold, HoldStatus.EXPIRED, now, None, None)
        return [hold.id for hold in due]

    def _credit_limit(self, kind: AccountKind, currency: str, limit: Money | None) -> int:
        if limit is None or limit.minor == 0:
            return 0
        if kind is not AccountKind.FLEET:
            raise InvalidRequest(
                f"credit_limit: only fleet accounts have one; a {kind.value} is prepaid"
            )
        if limit.currency != currency:
            raise CurrencyMismatch(f"credit_limit {limit} is not in the account's {currency}")
        if limit.minor < 0:
            raise InvalidAmount(f"credit_limit {limit} is negative")
        return limit.minor


class _Request:
    """An idempotency key with the operation and a fingerprint of its parameters."""

    def __init__(self, key: str, operation: str, params: dict[str, Any]) -> None:
        if not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise InvalidRequest(
                f"idempotency_key must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} characters, e.g. a UUID"
            )
        self.key = key
        self.operation = operation
        canonical = json.dumps({"op": operation, **params}, sort_keys=True, default=_canonical)
        self.fingerprint = hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> str:
    if isinstance(value, Money):
        return f"{value.minor} {value.currency}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{type(value).__name__} in an idempotent request")


def card_hold_request(payment_method: str, amount: Money, reference: str | None) -> dict[str, Any]:
    """The parameters that identify a ``card_hold`` request (for :meth:`Ledger.replay`)."""
    return {"payment_method": payment_method, "amount": amount, "reference": reference}


def capture_request(hold_id: str, amount: Money) -> dict[str, Any]:
    return {"hold": hold_id, "amount": amount}


def refund_request(payment_id: str, amount: Money, reason: str | None) -> dict[str, Any]:
    return {"payment": payment_id, "amount": amount, "reason": reason}


def _customer_kind(kind: AccountKind | str, account_id: str | None = None) -> AccountKind:
    kind = parse_enum(AccountKind, kind, "kind")
    if not kind.is_customer:
        if account_id is not None:
            raise InvalidRequest(f"account {account_id} is a system account ({kind.value})")
        raise InvalidRequest(
            f"kind: open a wallet or fleet account; {kind.value} accounts are the ledger's own"
        )
    return kind


def _name(name: str) -> str:
    if len(name) > 200:
        raise InvalidRequest("name: at most 200 characters")
    return name.strip()


def _positive(amount: Money, what: str) -> None:
    if not isinstance(amount, Money):
        raise InvalidAmount(f"the {what} amount must be Money, not {type(amount).__name__}")
    if amount.minor <= 0:
        raise InvalidAmount(f"a {what} must be a positive amount, not {amount}")


def _same_currency(account: Row[Any], amount: Money) -> None:
    if amount.currency != account.currency:
        raise CurrencyMismatch(
            f"account {account.id} holds {account.currency}; {amount} is in another currency"
        )


def _open(account: Row[Any], verb: str) -> None:
    if account.status != AccountStatus.OPEN:
        raise AccountClosed(f"account {account.id} is closed; cannot {verb} it")


def _cover(account: Row[Any], amount: Money, verb: str) -> None:
    """``InsufficientFunds`` unless ``account`` can give ``amount`` within its credit limit."""
    spendable = account.balance_minor - account.held_minor + account.credit_limit_minor
    if amount.minor > spendable:
        currency = account.currency
        raise InsufficientFunds(
            f"account {account.id} cannot {verb} {amount}: {Money(spendable, currency)} "
            f"spendable (balance {Money(account.balance_minor, currency)}, held "
            f"{Money(account.held_minor, currency)}, credit limit "
            f"{Money(account.credit_limit_minor, currency)})"
        )


def _require_active(hold: Row[Any], now: datetime, verb: str) -> None:
    if hold.status != HoldStatus.ACTIVE:
        raise HoldNotActive(f"hold {hold.id} is {hold.status}; only an active hold can be {verb}d")
    if hold.expires_at <= now:
        raise HoldNotActive(
            f"hold {hold.id} expired at {hold.expires_at.isoformat()}; cannot {verb} it"
        )

"""Property tests: random sequences of top-ups, adjustments, holds, captures, voids, refunds,
expiries and retried requests against a plain Python model of the ledger.

After every step: each journal balances, the accounts sum to zero per currency, no customer
account is beyond its limit, cached balances agree with the entries, and every balance and hold
is what the model says. A retried request returns the first result and changes nothing.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ems.payments import (
    AmountExceedsHold,
    CurrencyMismatch,
    HoldNotActive,
    InsufficientFunds,
    Ledger,
    Money,
    RefundExceedsPayment,
)
from ems.store import Store
from tests.payments.conftest import ManualClock, clear_payments

# id -> (currency, credit limit in minor units); a wallet's limit is 0.
ACCOUNTS = {"w1": ("EUR", 0), "w2": ("EUR", 0), "f1": ("EUR", 10_000), "u1": ("USD", 0)}
CUSTOMERS = sorted(ACCOUNTS)
minor_amounts = st.integers(min_value=1, max_value=15_000)


@dataclass
class ModelHold:
    account_id: str
    amount: int
    expires_at: Any
    status: str = "active"


@dataclass
class ModelPayment:
    account_id: str
    amount: int
    refunded: int = 0


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    payments = Bundle("payments")

    def __init__(self, store: Store) -> None:
        super().__init__()
        clear_payments(store.engine)
        self.clock = ManualClock()
        self.ledger = Ledger(store.engine, clock=self.clock)
        self.keys = itertools.count()
        self.balance: dict[str, int] = defaultdict(int)
        self.model_holds: dict[str, ModelHold] = {}
        self.model_payments: dict[str, ModelPayment] = {}
        self.done: list[tuple[Callable[[], Any], Any]] = []  # requests that succeeded
        for account_id, (currency, limit) in ACCOUNTS.items():
            kind = "fleet" if limit else "wallet"
            credit = Money(limit, currency) if limit else None
            self.ledger.open_account(kind, currency, account_id=account_id, credit_limit=credit)

    # -- model helpers -----------------------------------------------------------------------

    def money(self, account_id: str, minor: int) -> Money:
        return Money(minor, ACCOUNTS[account_id][0])

    def held(self, account_id: str) -> int:
        return sum(
            h.amount
            for h in self.model_holds.values()
            if h.account_id == account_id and h.status == "active"
        )

    def spendable(self, account_id: str) -> int:
        return self.balance[account_id] - self.held(account_id) + ACCOUNTS[account_id][1]

    def call(self, request: Callable[[], Any]) -> Any:
        """Make a request; remember it for a retry if it succeeded."""
        result = request()
        self.done.append((request, result))
        return result

    def key(self) -> str:
        return f"key-{next(self.keys)}"

    # -- rules -------------------------------------------------------------------------------

    @rule(
        account_id=st.sampled_from(CUSTOMERS),
        minor=minor_amounts,
        wrong_currency=st.integers(min_value=0, max_value=9).map(lambda n: n == 0),
    )
    def top_up(self, account_id: str, minor: int, wrong_currency: bool) -> None:
        key = self.key()
        if wrong_currency:
            other = "USD" if ACCOUNTS[account_id][0] == "EUR" else "EUR"
            with pytest.raises(CurrencyMismatch):
                self.ledger.top_up(account_id, Money(minor, other), key)
            return
        amount = self.money(account_id, minor)
        self.call(lambda: self.ledger.top_up(account_id, amount, key))
        self.balance[account_id] += minor

    @rule(
        account_id=st.sampled_from(CUSTOMERS),
        minor=st.integers(min_value=-15_000, max_value=15_000).filter(bool),
    )
    def adjust(self, account_id: str, minor: int) -> None:
        amount, key = self.money(account_id, minor), self.key()
        request = lambda: self.ledger.adjust(account_id, amount, key, reason="property test")  # noqa: E731
        if -minor > self.spendable(account_id):
            with pytest.raises(InsufficientFunds):
                request()
            return
        self.call(request)
        self.balance[account_id] += minor

    @rule(
        target=holds,
        account_id=st.sampled_from(CUSTOMERS),
        minor=st.integers(min_value=1, max_value=5_000),
        ttl_h=st.integers(min_value=1, max_value=96),
    )
    def authorize_hold(self, account_id: str, minor: int, ttl_h: int) -> Any:
        amount, key = self.money(account_id, minor), self.key()
        expires_at = self.clock.now + timedelta(hours=ttl_h)
        due = [  # the ledger releases these first, and keeps them if it refuses the hold
            hold
            for hold in self.model_holds.values()
            if hold.account_id == account_id
            and hold.status == "active"
            and hold.expires_at <= self.clock.now
        ]
        request = lambda: self.ledger.authorize_hold(account_id, amount, key, expires_at=expires_at)  # noqa: E731
        if minor > self.spendable(account_id) + sum(hold.amount for hold in due):
            with pytest.raises(InsufficientFunds):
                request()
            return multiple()
        for hold in due:
            hold.status = "expired"
        hold = self.call(request)
        self.model_holds[hold.id] = ModelHold(account_id, minor, expires_at)
        return hold.id

    @rule(target=payments, hold_id=holds, per_mille=st.integers(min_value=0, max_value=1_100))
    def capture(self, hold_id: str, per_mille: int) -> Any:
        hold = self.model_holds[hold_id]
        minor = hold.amount * per_mille // 1000  # up to 10 % more than held
        amount, key = self.money(hold.account_id, minor), self.key()
        request = lambda: self.ledger.capture(hold_id, amount, key)  # noqa: E731
        if hold.status != "active" or hold.expires_at <= self.clock.now:
            with pytest.raises(HoldNotActive):
                request()
            return multiple()
        if minor > hold.amount:
            with pytest.raises(AmountExceedsHold):
                request()
            return multiple()
        payment = self.call(request)
        hold.status = "captured"
        self.balance[hold.account_id] -= minor
        self.model_payments[payment.id] = ModelPayment(hold.account_id, minor)
        return payment.id

    @rule(
        target=payments,
        account_id=st.sampled_from(CUSTOMERS),
        minor=st.integers(min_value=1, max_value=5_000),
        per_mille=st.integers(min_value=0, max_value=1_000),
    )
    def charging_session(self, account_id: str, minor: int, per_mille: int) -> Any:
        """The usual sequence: a hold at the start, a capture of the cost at the end."""
        hold_ids = self.authorize_hold(account_id, minor, ttl_h=24)
        if not isinstance(hold_ids, str):
            return multiple()
        return self.capture(hold_ids, per_mille)

    @rule(hold_id=consumes(holds))
    def void(self, hold_id: str) -> None:
        hold = self.model_holds[hold_id]
        key = self.key()
        request = lambda: self.ledger.void(hold_id, key)  # noqa: E731
        if hold.status == "captured":
            with pytest.raises(HoldNotActive):
                request()
            return
        self.call(request)
        if hold.status == "active":
            hold.status = "voided"

    @rule(payment_id=payments, per_mille=st.integers(min_value=1, max_value=1_200))
    def refund(self, payment_id: str, per_mille: int) -> None:
        payment = self.model_payments[payment_id]
        minor = max(1, payment.amount * per_mille // 1000)
        amount, key = self.money(payment.account_id, minor), self.key()
        request = lambda: self.ledger.refund(payment_id, amount, key)  # noqa: E731
        if payment.refunded + minor > payment.amount:
            with pytest.raises(RefundExceedsPayment):
                request()
            return
        self.call(request)
        payment.refunded += minor
        self.balance[payment.account_id] += minor

    @rule(hours=st.integers(min_value=0, max_value=12), sweep=st.booleans())
    def time_passes(self, hours: int, sweep: bool) -> None:
        """Time goes by; the periodic sweep may release the holds that expired meanwhile."""
        self.clock.advance(timedelta(hours=hours))
        if not sweep:
            return
        expired = self.ledger.expire_holds()
        due = {
            hold_id
            for hold_id, hold in self.model_holds.items()
            if hold.status == "active" and hold.expires_at <= self.clock.now
        }
        assert set(expired) == due
        for hold_id in due:
            self.model_holds[hold_id].status = "expired"

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def retry_a_request(self, data: st.DataObject) -> None:
        request, first = data.draw(st.sampled_from(self.done))
        before = self.snapshot()
        again = request()
        assert getattr(again, "id", again) == getattr(first, "id", first)
        assert self.snapshot() == before

    # -- invariants --------------------------------------------------------------------------

    def snapshot(self) -> list[tuple[str, int, int]]:
        return [(a.id, a.balance.minor, a.held.minor) for a in self.ledger.list_accounts()]

    @invariant()
    def ledger_is_sound_and_matches_the_model(self) -> None:
        assert self.ledger.check_integrity() == []
        totals: dict[str, int] = defaultdict(int)
        for account in self.ledger.list_accounts():
            totals[account.currency] += account.balance.minor
            if account.kind.is_customer:
                assert account.spendable.minor >= 0, account
                assert account.balance.minor == self.balance[account.id], account
                assert account.held.minor == self.held(account.id), account
        assert all(total == 0 for total in totals.values()), totals


EXAMPLES = 40


def test_random_operations_keep_the_ledger_balanced_and_never_overdrawn(store: Store) -> None:
    examples = EXAMPLES
    if store.engine.dialect.name == "postgresql":
        examples //= 3  # each step is a few round trips to a server sharing the same two cores
    run_state_machine_as_test(
        lambda: LedgerMachine(store),  # type: ignore[arg-type]  # a factory is accepted too
        settings=settings(
            max_examples=examples,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

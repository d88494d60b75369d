"""Concurrent writers on real SQLite and PostgreSQL never overdraw, over-refund or double-book."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ems.payments import (
    InsufficientFunds,
    Ledger,
    Money,
    PaymentError,
    RefundExceedsPayment,
)

THREADS = 8
T = TypeVar("T")


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def race(tasks: list[Callable[[], T]]) -> list[T | PaymentError]:
    """Run ``tasks`` on ``THREADS`` threads, released ``THREADS`` at a time; their results or
    payment errors."""
    assert len(tasks) % THREADS == 0
    barrier = threading.Barrier(THREADS)

    def run(task: Callable[[], T]) -> T | PaymentError:
        barrier.wait(timeout=30)
        try:
            return task()
        except PaymentError as error:
            return error

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, tasks))


def test_concurrent_holds_on_one_wallet_never_overdraw(ledger: Ledger) -> None:
    ledger.open_account("wallet", "EUR", account_id="w")
    ledger.top_up("w", eur("45.00"), "topup")

    results = race(
        [
            lambda i=i: ledger.authorize_hold("w", eur("10.00"), f"hold-{i}")  # type: ignore[misc]
            for i in range(THREADS * 3)
        ]
    )

    granted = [r for r in results if not isinstance(r, PaymentError)]
    refused = [r for r in results if isinstance(r, PaymentError)]
    assert len(granted) == 4
    assert all(isinstance(error, InsufficientFunds) for error in refused)
    account = ledger.get_account("w")
    assert (account.held, account.available) == (eur("40.00"), eur("5.00"))
    assert ledger.check_integrity() == []


def test_concurrent_holds_on_a_fleet_stop_at_its_credit_limit(ledger: Ledger) -> None:
    ledger.open_account("fleet", "EUR", account_id="f", credit_limit=eur("100.00"))

    results = race(
        [
            lambda i=i: ledger.authorize_hold("f", eur("30.00"), f"hold-{i}")  # type: ignore[misc]
            for i in range(THREADS * 2)
        ]
    )

    assert sum(not isinstance(r, PaymentError) for r in results) == 3
    assert ledger.get_account("f").spendable == eur("10.00")
    assert ledger.check_integrity() == []


def test_concurrent_retries_with_one_key_make_one_hold(ledger: Ledger) -> None:
    ledger.open_account("wallet", "EUR", account_id="w")
    ledger.top_up("w", eur("100.00"), "topup")

    results = race(
        [lambda: ledger.authorize_hold("w", eur("30.00"), "same-key") for _ in range(THREADS)]
    )

    ids = {getattr(r, "id", r) for r in results}
    assert len(ids) == 1, results
    assert ledger.get_account("w").held == eur("30.00")
    assert ledger.check_integrity() == []


def test_concurrent_refunds_never_exceed_the_payment(ledger: Ledger) -> None:
    ledger.open_account("wallet", "EUR", account_id="w")
    ledger.top_up("w", eur("50.00"), "topup")
    hold = ledger.authorize_hold("w", eur("50.00"), "hold")
    payment = ledger.capture(hold.id, eur("25.00"), "capture")

    results = race(
        [
            lambda i=i: ledger.refund(payment.id, eur("4.00"), f"refund-{i}")  # type: ignore[misc]
            for i in range(THREADS * 2)
        ]
    )

    assert sum(not isinstance(r, PaymentError) for r in results) == 6
    assert all(isinstance(r, RefundExceedsPayment) for r in results if isinstance(r, PaymentError))
    assert ledger.get_payment(payment.id).refunded == eur("24.00")
    assert ledger.get_account("w").balance == eur("49.00")
    assert ledger.check_integrity() == []


def test_sessions_on_many_wallets_at_once_all_book_without_deadlock(ledger: Ledger) -> None:
    """Holds and captures on different wallets share the revenue and cash rows."""
    wallets = [f"w{i}" for i in range(THREADS)]
    for wallet in wallets:
        ledger.open_account("wallet", "EUR", account_id=wallet)

    def session(wallet: str) -> None:
        for n in range(3):
            ledger.top_up(wallet, eur("20.00"), f"{wallet}-topup-{n}")
            hold = ledger.authorize_hold(wallet, eur("20.00"), f"{wallet}-hold-{n}")
            ledger.capture(hold.id, eur("7.50"), f"{wallet}-capture-{n}")

    results = race([lambda w=w: session(w) for w in wallets])  # type: ignore[misc]

    assert results == [None] * THREADS
    assert {ledger.get_account(w).balance for w in wallets} == {eur("37.50")}
    revenue = ledger.get_account(ledger.system_account_id("revenue", "EUR"))
    assert revenue.balance == Money(750 * 3 * THREADS, "EUR")
    assert ledger.check_integrity() == []

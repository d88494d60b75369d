"""The ledger on real SQLite and PostgreSQL: wallets, fleets, holds, captures, refunds, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ems.payments import (
    AccountClosed,
    AccountExists,
    AccountKind,
    AmountExceedsHold,
    CurrencyMismatch,
    HoldNotActive,
    HoldStatus,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    JournalKind,
    Ledger,
    Money,
    RefundExceedsPayment,
    UnknownAccount,
    UnknownHold,
)
from ems.store import models as m
from tests.payments.conftest import ManualClock


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def funded_wallet(ledger: Ledger, amount: str = "50.00", account_id: str = "driver-1") -> str:
    ledger.open_account("wallet", "EUR", account_id=account_id, name="Driver")
    ledger.top_up(account_id, eur(amount), f"topup-{account_id}", reference="bank 4711")
    return account_id


def test_top_up_credits_the_wallet_from_the_cash_account(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    account = ledger.get_account(wallet)
    assert (account.balance, account.held, account.available) == (eur("50"), eur("0"), eur("50"))
    cash = ledger.get_account(ledger.system_account_id("cash", "EUR"))
    assert cash.balance == eur("-50")
    assert ledger.check_integrity() == []


def test_hold_reserves_funds_and_capture_charges_only_the_final_amount(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    hold = ledger.authorize_hold(wallet, eur("30.00"), "hold-1", reference="tx-7")
    account = ledger.get_account(wallet)
    assert (account.balance, account.held, account.available) == (eur("50"), eur("30"), eur("20"))

    payment = ledger.capture(hold.id, eur("18.40"), "capture-1")

    account = ledger.get_account(wallet)
    assert (account.balance, account.held, account.available) == (
        eur("31.60"),
        eur("0"),
        eur("31.60"),
    )
    assert ledger.get_account(ledger.system_account_id("revenue", "EUR")).balance == eur("18.40")
    closed = ledger.get_hold(hold.id)
    assert (closed.status, closed.captured, closed.payment_id) == (
        HoldStatus.CAPTURED,
        eur("18.40"),
        payment.id,
    )
    assert (payment.amount, payment.refunded, payment.account_id) == (
        eur("18.40"),
        eur("0"),
        wallet,
    )
    assert ledger.check_integrity() == []


def test_hold_released_when_the_start_fails(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "20.00")
    hold = ledger.authorize_hold(wallet, eur("20.00"), "hold-1")
    with pytest.raises(InsufficientFunds):
        ledger.authorize_hold(wallet, eur("1.00"), "hold-2")

    voided = ledger.void(hold.id, "void-1")  # e.g. RemoteStart rejected by the charger

    assert voided.status is HoldStatus.VOIDED
    assert ledger.get_account(wallet).available == eur("20.00")
    assert ledger.authorize_hold(wallet, eur("20.00"), "hold-3").status is HoldStatus.ACTIVE
    assert [line.kind for line in ledger.statement(wallet)] == [JournalKind.TOP_UP]


def test_hold_beyond_the_wallet_balance_is_refused_with_the_figures(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "10.00")
    ledger.authorize_hold(wallet, eur("4.00"), "hold-1")
    with pytest.raises(InsufficientFunds, match=r"cannot hold 6\.01 EUR: 6\.00 EUR spendable"):
        ledger.authorize_hold(wallet, eur("6.01"), "hold-2")
    ledger.authorize_hold(wallet, eur("6.00"), "hold-3")
    assert ledger.get_account(wallet).available == eur("0")


def test_fleet_account_is_postpaid_up_to_its_credit_limit(ledger: Ledger) -> None:
    ledger.open_account("fleet", "EUR", account_id="acme-fleet", credit_limit=eur("500"))
    hold = ledger.authorize_hold("acme-fleet", eur("450"), "hold-1")
    with pytest.raises(InsufficientFunds):
        ledger.authorize_hold("acme-fleet", eur("50.01"), "hold-2")
    ledger.capture(hold.id, eur("420"), "capture-1")
    fleet = ledger.get_account("acme-fleet")
    assert (fleet.balance, fleet.available, fleet.spendable) == (
        eur("-420"),
        eur("-420"),
        eur("80"),
    )
    with pytest.raises(InsufficientFunds, match=r"uses 420\.00 EUR of credit"):
        ledger.update_account("acme-fleet", credit_limit=eur("400"))
    ledger.top_up("acme-fleet", eur("420"), "invoice-2026-03", reference="invoice 2026-03")
    assert ledger.get_account("acme-fleet").balance == eur("0")
    assert ledger.check_integrity() == []


def test_wallet_cannot_have_a_credit_limit(ledger: Ledger) -> None:
    with pytest.raises(InvalidRequest, match="credit_limit: only fleet accounts"):
        ledger.open_account("wallet", "EUR", credit_limit=eur("10"))


def test_capture_of_more_than_held_is_refused(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    hold = ledger.authorize_hold(wallet, eur("10.00"), "hold-1")
    with pytest.raises(AmountExceedsHold, match=r"cannot capture 10\.01 EUR .* only 10\.00 EUR"):
        ledger.capture(hold.id, eur("10.01"), "capture-1")
    assert ledger.get_hold(hold.id).status is HoldStatus.ACTIVE


def test_capture_of_zero_releases_the_hold_without_a_journal(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    hold = ledger.authorize_hold(wallet, eur("10.00"), "hold-1")
    payment = ledger.capture(hold.id, eur("0"), "capture-1")
    assert (payment.amount, payment.journal_id) == (eur("0"), None)
    assert ledger.get_account(wallet).available == eur("50.00")


def test_captured_or_voided_hold_cannot_be_captured_again(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    hold = ledger.authorize_hold(wallet, eur("10.00"), "hold-1")
    ledger.capture(hold.id, eur("5.00"), "capture-1")
    with pytest.raises(HoldNotActive, match="is captured"):
        ledger.capture(hold.id, eur("5.00"), "capture-2")
    with pytest.raises(HoldNotActive, match="refund the payment instead"):
        ledger.void(hold.id, "void-1")
    other = ledger.authorize_hold(wallet, eur("10.00"), "hold-2")
    ledger.void(other.id, "void-2")
    assert ledger.void(other.id, "void-3").status is HoldStatus.VOIDED  # releasing twice is fine
    with pytest.raises(HoldNotActive, match="is voided"):
        ledger.capture(other.id, eur("1.00"), "capture-3")


def test_refund_of_more_than_captured_is_refused_with_what_is_left(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    hold = ledger.authorize_hold(wallet, eur("30.00"), "hold-1")
    payment = ledger.capture(hold.id, eur("18.40"), "capture-1")
    ledger.refund(payment.id, eur("5.00"), "refund-1", reason="idle fee waived")

    with pytest.raises(RefundExceedsPayment) as refused:
        ledger.refund(payment.id, eur("13.41"), "refund-2")

    assert str(refused.value) == (
        f"cannot refund 13.41 EUR of payment {payment.id}: 18.40 EUR was captured and "
        "5.00 EUR refunded already, so 13.40 EUR is left"
    )
    refund = ledger.refund(payment.id, eur("13.40"), "refund-3")
    assert (refund.amount, refund.account_id) == (eur("13.40"), wallet)
    assert ledger.get_payment(payment.id).refunded == eur("18.40")
    assert ledger.get_account(wallet).balance == eur("50.00")
    assert ledger.get_account(ledger.system_account_id("refunds", "EUR")).balance == eur("-18.40")
    assert ledger.check_integrity() == []


@pytest.mark.parametrize("operation", ["top_up", "hold", "adjust"])
def test_amount_in_another_currency_is_refused(ledger: Ledger, operation: str) -> None:
    wallet = funded_wallet(ledger)
    dollars = Money.of("5.00", "USD")
    with pytest.raises(CurrencyMismatch, match=f"account {wallet} holds EUR; 5.00 USD"):
        if operation == "top_up":
            ledger.top_up(wallet, dollars, "k")
        elif operation == "hold":
            ledger.authorize_hold(wallet, dollars, "k")
        else:
            ledger.adjust(wallet, dollars, "k", reason="goodwill")
    assert ledger.get_account(wallet).balance == eur("50.00")


def test_capture_and_refund_in_another_currency_are_refused(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger)
    hold = ledger.authorize_hold(wallet, eur("10"), "hold-1")
    with pytest.raises(CurrencyMismatch, match=f"hold {hold.id} is in EUR"):
        ledger.capture(hold.id, Money.of("5", "USD"), "capture-1")
    payment = ledger.capture(hold.id, eur("5"), "capture-2")
    with pytest.raises(CurrencyMismatch, match=f"payment {payment.id} is in EUR"):
        ledger.refund(payment.id, Money.of("1", "USD"), "refund-1")


def test_same_idempotency_key_returns_the_first_result_and_writes_nothing(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    first = ledger.authorize_hold(wallet, eur("30.00"), "hold-1", reference="tx-1")
    again = ledger.authorize_hold(wallet, eur("30.00"), "hold-1", reference="tx-1")
    assert again.id == first.id
    assert ledger.get_account(wallet).held == eur("30.00")

    payment = ledger.capture(first.id, eur("12.00"), "capture-1")
    assert ledger.capture(first.id, eur("12.00"), "capture-1").id == payment.id
    top_up = ledger.top_up(wallet, eur("5.00"), "topup-2")
    assert ledger.top_up(wallet, eur("5.00"), "topup-2") == top_up
    assert ledger.get_account(wallet).balance == eur("43.00")
    assert len(ledger.statement(wallet)) == 3
    assert ledger.check_integrity() == []


def test_idempotency_key_reused_for_another_request_is_an_error(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "50.00")
    ledger.authorize_hold(wallet, eur("30.00"), "key-1")
    with pytest.raises(IdempotencyConflict, match="'key-1' was used for a different request"):
        ledger.authorize_hold(wallet, eur("31.00"), "key-1")
    with pytest.raises(IdempotencyConflict):
        ledger.top_up(wallet, eur("30.00"), "key-1")
    assert ledger.get_account(wallet).held == eur("30.00")


def test_failed_request_does_not_use_up_its_key(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "10.00")
    with pytest.raises(InsufficientFunds):
        ledger.authorize_hold(wallet, eur("20.00"), "hold-1")
    ledger.top_up(wallet, eur("10.00"), "topup-2")
    assert ledger.authorize_hold(wallet, eur("20.00"), "hold-1").amount == eur("20.00")


def test_expired_holds_are_released_lazily_and_by_the_sweep(
    ledger: Ledger, clock: ManualClock
) -> None:
    wallet = funded_wallet(ledger, "30.00")
    short = ledger.authorize_hold(
        wallet, eur("30.00"), "hold-1", expires_at=clock.now + timedelta(hours=1)
    )
    clock.advance(timedelta(hours=2))
    with pytest.raises(HoldNotActive, match="expired at"):
        ledger.capture(short.id, eur("1.00"), "capture-1")

    replacement = ledger.authorize_hold(wallet, eur("30.00"), "hold-2")  # expires the first
    assert ledger.get_hold(short.id).status is HoldStatus.EXPIRED

    clock.advance(ledger.hold_ttl)
    assert ledger.expire_holds() == [replacement.id]
    assert ledger.get_account(wallet).held == eur("0")
    assert [h.status for h in ledger.holds(wallet)] == [HoldStatus.EXPIRED, HoldStatus.EXPIRED]
    assert ledger.holds(wallet, "active") == []


def test_adjustment_needs_a_reason_and_cannot_overdraw(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "10.00")
    with pytest.raises(InvalidRequest, match="reason"):
        ledger.adjust(wallet, eur("5"), "adj-1", reason=" ")
    with pytest.raises(InsufficientFunds):
        ledger.adjust(wallet, eur("-10.01"), "adj-2", reason="duplicate top-up")
    journal = ledger.adjust(wallet, eur("-10.00"), "adj-3", reason="duplicate top-up", actor="ops")
    assert (journal.kind, journal.reason, journal.actor) == (
        JournalKind.ADJUSTMENT,
        "duplicate top-up",
        "ops",
    )
    assert ledger.get_account(wallet).balance == eur("0")
    assert ledger.get_account(ledger.system_account_id("adjustments", "EUR")).balance == eur("10")


def test_statement_has_a_running_balance_and_pages(ledger: Ledger, clock: ManualClock) -> None:
    wallet = funded_wallet(ledger, "50.00")
    clock.advance(timedelta(hours=1))
    hold = ledger.authorize_hold(wallet, eur("30.00"), "hold-1", reference="tx-1")
    payment = ledger.capture(hold.id, eur("12.30"), "capture-1")
    clock.advance(timedelta(hours=1))
    ledger.refund(payment.id, eur("2.30"), "refund-1", reason="broken cable")

    lines = ledger.statement(wallet)

    assert [(line.kind, line.amount, line.balance_after) for line in lines] == [
        (JournalKind.TOP_UP, eur("50.00"), eur("50.00")),
        (JournalKind.CAPTURE, eur("-12.30"), eur("37.70")),
        (JournalKind.REFUND, eur("2.30"), eur("40.00")),
    ]
    assert (lines[1].reference, lines[1].payment_id, lines[2].reason) == (
        "tx-1",
        payment.id,
        "broken cable",
    )
    assert ledger.statement(wallet, after_entry_id=lines[0].entry_id, limit=1) == [lines[1]]
    assert ledger.statement(wallet, since=clock.now) == [lines[2]]
    assert ledger.statement(wallet, until=lines[1].created_at) == [lines[0]]


def test_closed_account_takes_no_holds_and_closing_needs_a_zero_balance(ledger: Ledger) -> None:
    wallet = funded_wallet(ledger, "5.00")
    with pytest.raises(InvalidRequest, match=r"still has a balance of 5\.00 EUR"):
        ledger.update_account(wallet, status="closed")
    ledger.adjust(wallet, eur("-5.00"), "adj-1", reason="paid out in cash")
    assert ledger.update_account(wallet, status="closed").status == "closed"
    with pytest.raises(AccountClosed):
        ledger.authorize_hold(wallet, eur("1"), "hold-1")
    with pytest.raises(AccountClosed):
        ledger.top_up(wallet, eur("1"), "topup-2")


def test_accounts_are_found_by_id_and_unknown_ids_are_named(ledger: Ledger) -> None:
    ledger.open_account("wallet", "EUR", account_id="w-1")
    ledger.open_account("fleet", "EUR", account_id="f-1", credit_limit=eur("100"))
    with pytest.raises(AccountExists, match="'w-1' exists already"):
        ledger.open_account("wallet", "EUR", account_id="w-1")
    with pytest.raises(UnknownAccount, match="'nobody'"):
        ledger.authorize_hold("nobody", eur("1"), "hold-1")
    with pytest.raises(UnknownHold, match="'hold_x'"):
        ledger.void("hold_x", "void-1")
    with pytest.raises(InvalidRequest, match="account id 'a b'"):
        ledger.open_account("wallet", "EUR", account_id="a b")
    with pytest.raises(InvalidRequest, match="kind: open a wallet or fleet"):
        ledger.open_account(AccountKind.REVENUE, "EUR")
    with pytest.raises(InvalidAmount, match="'EURO' is not an ISO 4217"):
        ledger.open_account("wallet", "EURO")
    assert [a.id for a in ledger.list_accounts("wallet")] == ["w-1"]
    assert [a.id for a in ledger.list_accounts()] == ["f-1", "w-1"]


def test_system_account_cannot_be_held_or_topped_up_directly(ledger: Ledger) -> None:
    funded_wallet(ledger)
    cash = ledger.system_account_id("cash", "EUR")
    with pytest.raises(InvalidRequest, match="is a system account"):
        ledger.authorize_hold(cash, eur("1"), "hold-1")


def test_database_refuses_an_overdraft_even_past_the_code(ledger: Ledger) -> None:
    """The check constraint is the last line of defence should any write skip the checks."""
    wallet = funded_wallet(ledger, "10.00")
    a = m.payment_accounts
    with pytest.raises(IntegrityError), ledger.engine.begin() as connection:
        connection.execute(update(a).where(a.c.id == wallet).values(held_minor=1001))
    with pytest.raises(IntegrityError), ledger.engine.begin() as connection:
        connection.execute(update(a).where(a.c.id == wallet).values(balance_minor=-1))
    assert ledger.check_integrity() == []

"""The PaymentProvider implementations: the ledger's, and cards through a (fake) processor with
the ledger kept in step."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from ems.payments import (
    CardProcessorError,
    HoldNotActive,
    HoldStatus,
    InsufficientFunds,
    Ledger,
    Money,
    PaymentDeclined,
    RefundExceedsPayment,
)
from ems.payments.card import AuthorizationStatus, CardPaymentProvider, CardProcessor
from ems.payments.provider import LedgerPaymentProvider, PaymentProvider
from tests.payments.fake_processor import FakeCardProcessor


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


@pytest.fixture
def processor() -> FakeCardProcessor:
    return FakeCardProcessor()


@pytest.fixture
def cards(processor: FakeCardProcessor, ledger: Ledger) -> CardPaymentProvider:
    return CardPaymentProvider(processor, ledger)


def balance(ledger: Ledger, kind: str) -> Money:
    return ledger.get_account(ledger.system_account_id(kind, "EUR")).balance


def test_both_providers_and_the_fake_processor_implement_the_protocols(
    ledger: Ledger, processor: FakeCardProcessor
) -> None:
    assert isinstance(processor, CardProcessor)
    assert isinstance(LedgerPaymentProvider(ledger), PaymentProvider)
    assert isinstance(CardPaymentProvider(processor, ledger), PaymentProvider)


async def test_wallet_hold_is_voided_when_the_start_fails(ledger: Ledger) -> None:
    provider = LedgerPaymentProvider(ledger)
    ledger.open_account("wallet", "EUR", account_id="driver")
    ledger.top_up("driver", eur("25.00"), "topup")

    hold = await provider.authorize_hold("driver", eur("25.00"), "hold:tx-1", reference="tx-1")
    with pytest.raises(InsufficientFunds):
        await provider.authorize_hold("driver", eur("0.01"), "hold:tx-2")
    voided = await provider.void(hold.id, "void:tx-1")  # the charger rejected RemoteStart

    assert voided.status is HoldStatus.VOIDED
    again = await provider.authorize_hold("driver", eur("25.00"), "hold:tx-3")
    payment = await provider.capture(again.id, eur("9.99"), "capture:tx-3")
    refund = await provider.refund(payment.id, eur("1.00"), "refund:tx-3", reason="goodwill")
    assert refund.amount == eur("1.00")
    assert ledger.get_account("driver").balance == eur("16.01")


async def test_card_session_books_capture_and_refund_in_the_ledger(
    cards: CardPaymentProvider, processor: FakeCardProcessor, ledger: Ledger
) -> None:
    hold = await cards.authorize_hold("pm_visa", eur("50.00"), "hold:tx-1", reference="tx-1")
    assert (hold.provider, hold.payment_method, hold.status) == ("card", "pm_visa", "active")
    assert processor.authorizations[hold.external_id or ""].status == "authorized"
    card_account = ledger.get_account(ledger.system_account_id("card", "EUR"))
    assert card_account.held == eur("50.00")

    payment = await cards.capture(hold.id, eur("21.35"), "capture:tx-1")
    refund = await cards.refund(payment.id, eur("1.35"), "refund:tx-1", reason="idle fee")

    assert payment.external_id in processor.captures
    assert processor.captures[payment.external_id or ""].refunded_minor == 135
    assert refund.external_id is not None and refund.external_id.startswith("re_")
    assert balance(ledger, "revenue") == eur("21.35")
    assert balance(ledger, "refunds") == eur("-1.35")
    assert balance(ledger, "card") == eur("-20.00")
    assert ledger.get_account(ledger.system_account_id("card", "EUR")).held == eur("0")
    assert ledger.check_integrity() == []


async def test_declined_card_leaves_nothing_in_the_ledger(
    cards: CardPaymentProvider, processor: FakeCardProcessor, ledger: Ledger
) -> None:
    processor.declined_methods.add("pm_empty")
    with pytest.raises(PaymentDeclined, match="insufficient_funds"):
        await cards.authorize_hold("pm_empty", eur("50.00"), "hold:tx-1")
    assert ledger.list_accounts() == []


async def test_processor_failure_writes_nothing_and_a_retry_completes(
    cards: CardPaymentProvider, processor: FakeCardProcessor, ledger: Ledger
) -> None:
    hold = await cards.authorize_hold("pm_visa", eur("50.00"), "hold:tx-1")
    processor.fail_next.add("capture")
    with pytest.raises(CardProcessorError, match="503"):
        await cards.capture(hold.id, eur("10.00"), "capture:tx-1")
    assert ledger.get_hold(hold.id).status is HoldStatus.ACTIVE
    assert balance(ledger, "card") == eur("0")

    payment = await cards.capture(hold.id, eur("10.00"), "capture:tx-1")
    assert payment.amount == eur("10.00")
    assert len(processor.captures) == 1


async def test_crash_after_the_processor_captured_is_healed_by_a_retry(
    cards: CardPaymentProvider,
    processor: FakeCardProcessor,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hold = await cards.authorize_hold("pm_visa", eur("50.00"), "hold:tx-1")
    real_capture = ledger.capture

    def lost_connection(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(ledger, "capture", lost_connection)
    with pytest.raises(OperationalError):
        await cards.capture(hold.id, eur("30.00"), "capture:tx-1")
    monkeypatch.setattr(ledger, "capture", real_capture)

    payment = await cards.capture(hold.id, eur("30.00"), "capture:tx-1")

    assert processor.calls["capture"] == 2
    assert list(processor.captures) == [payment.external_id]  # captured once at the processor
    assert balance(ledger, "revenue") == eur("30.00")
    assert await cards.capture(hold.id, eur("30.00"), "capture:tx-1") == payment
    assert processor.calls["capture"] == 2  # answered from the ledger
    assert ledger.check_integrity() == []


async def test_void_cancels_the_authorization_and_releases_the_hold(
    cards: CardPaymentProvider, processor: FakeCardProcessor, ledger: Ledger
) -> None:
    hold = await cards.authorize_hold("pm_visa", eur("50.00"), "hold:tx-1")
    voided = await cards.void(hold.id, "void:tx-1")
    assert voided.status is HoldStatus.VOIDED
    assert processor.authorizations[hold.external_id or ""].status == "canceled"
    with pytest.raises(HoldNotActive):
        await cards.capture(hold.id, eur("1.00"), "capture:tx-1")
    assert processor.calls["capture"] == 0


async def test_capture_of_zero_cancels_the_authorization(
    cards: CardPaymentProvider, processor: FakeCardProcessor, ledger: Ledger
) -> None:
    hold = await cards.authorize_hold("pm_visa", eur("50.00"), "hold:tx-1")
    payment = await cards.capture(hold.id, eur("0.00"), "capture:tx-1")
    assert (payment.amount, payment.journal_id) == (eur("0"), None)
    assert processor.authorizations[hold.external_id or ""].status == "canceled"
    assert processor.calls["capture"] == 0


async def test_refund_beyond_the_capture_is_refused_before_the_processor(
    cards: CardPaymentProvider, processor: FakeCardProcessor
) -> None:
    hold = await cards.authorize_hold("pm_visa", eur("50.00"), "hold:tx-1")
    payment = await cards.capture(hold.id, eur("20.00"), "capture:tx-1")
    with pytest.raises(RefundExceedsPayment, match=r"20\.00 EUR is left"):
        await cards.refund(payment.id, eur("20.01"), "refund:tx-1")
    assert processor.calls["refund"] == 0


async def test_webhook_and_polling_release_holds_the_processor_dropped(
    cards: CardPaymentProvider, processor: FakeCardProcessor, ledger: Ledger
) -> None:
    first = await cards.authorize_hold("pm_visa", eur("50.00"), "hold:tx-1")
    second = await cards.authorize_hold("pm_visa", eur("40.00"), "hold:tx-2")

    payload, headers = processor.webhook("authorization.expired", first.external_id or "")
    with pytest.raises(CardProcessorError, match="signature"):
        await cards.handle_event(payload, {"x-fake-signature": "forged"})
    assert ledger.get_hold(first.id).status is HoldStatus.ACTIVE
    expired = await cards.handle_event(payload, headers)
    assert expired is not None and expired.status is HoldStatus.EXPIRED
    assert await cards.handle_event(*processor.webhook("charge.updated", "x")) is None

    assert (await cards.refresh(second.id)).status is HoldStatus.ACTIVE
    processor.expire(second.external_id or "")
    assert processor.authorizations[second.external_id or ""].status is (
        AuthorizationStatus.EXPIRED
    )
    assert (await cards.refresh(second.id)).status is HoldStatus.EXPIRED
    assert ledger.get_account(ledger.system_account_id("card", "EUR")).held == eur("0")

"""Card payments through an external processor, with the ledger kept in step.

An adapter for a real processor (Stripe, Adyen, Worldline, a terminal vendor's API ...)
implements :class:`CardProcessor`: six calls, amounts as :class:`Money` in minor units, and the
processor's own idempotency keys passed through. :class:`CardPaymentProvider` turns it into a
:class:`~ems.payments.provider.PaymentProvider` and records every step in the ledger:

- ``authorize_hold``: processor ``authorize`` (an authorization for manual capture); the ledger
  records a hold on ``sys:card:<currency>`` with the authorization's id.
- ``capture``: processor ``capture`` (``cancel`` when the final amount is 0); the ledger posts
  card -> revenue and records the payment with the capture's id.
- ``void``: processor ``cancel``; the ledger voids the hold.
- ``refund``: processor ``refund``; the ledger posts refunds -> card.
- ``handle_event`` (webhooks, via ``parse_event``) and ``refresh`` (polling, via
  ``get_authorization``): an authorization the processor canceled or let expire releases its
  hold in the ledger.

Order and failure: the processor is called first and the ledger written after it, so the ledger
never shows money the processor did not move. If the ledger write fails after the processor
succeeded (a crash, a lost connection), retrying with the same idempotency key repeats the
processor call, which the processor answers with its first result, and then writes the ledger.
A request already in the ledger is answered from it without calling the processor again. The
processor's errors must be raised as ``CardProcessorError`` (nothing is written then); a declined
card is ``PaymentDeclined``.

The ``sys:card:<currency>`` account mirrors what the processor owes the operator: captures take
from it (money on its way), refunds give back to it; its balance is what the processor's payouts
are reconciled against (outside this module). Its ``held`` is the total of card authorizations
outstanding.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ems.payments.errors import (
    AmountExceedsHold,
    CardProcessorError,
    CurrencyMismatch,
    HoldNotActive,
    InvalidRequest,
    PaymentDeclined,
    RefundExceedsPayment,
)
from ems.payments.ledger import (
    CARD_PROVIDER,
    Ledger,
    capture_request,
    card_hold_request,
    refund_request,
)
from ems.payments.money import Money
from ems.payments.types import Hold, HoldStatus, Payment, Refund


class AuthorizationStatus(enum.StrEnum):
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    CANCELED = "canceled"
    EXPIRED = "expired"
    CAPTURED = "captured"


@dataclass(frozen=True)
class CardAuthorization:
    """The processor's authorization (a payment intent with manual capture)."""

    id: str
    status: AuthorizationStatus
    amount: Money
    expires_at: datetime | None = None
    decline_reason: str | None = None


@dataclass(frozen=True)
class CardCapture:
    id: str
    authorization_id: str
    amount: Money


@dataclass(frozen=True)
class CardRefund:
    id: str
    capture_id: str
    amount: Money


@dataclass(frozen=True)
class CardEvent:
    """A webhook event about an authorization: it was canceled or expired at the processor."""

    authorization_id: str
    status: AuthorizationStatus


@runtime_checkable
class CardProcessor(Protocol):
    """What an adapter for an external card processor implements.

    Every call that changes something takes ``idempotency_key`` and must pass it to the
    processor (or deduplicate itself): the same key must return the first result. Failures are
    raised as ``CardProcessorError`` with the processor's message.
    """

    async def authorize(
        self,
        payment_method: str,
        amount: Money,
        idempotency_key: str,
        reference: str | None,
    ) -> CardAuthorization:
        """Authorize ``amount`` on the card for capture later; a decline is a result with
        status ``declined``, not an error."""
        ...

    async def capture(
        self, authorization_id: str, amount: Money, idempotency_key: str
    ) -> CardCapture:
        """Capture ``amount`` (> 0, at most what was authorized) once; the rest is released."""
        ...

    async def cancel(self, authorization_id: str, idempotency_key: str) -> CardAuthorization:
        """Release the authorization without capturing."""
        ...

    async def refund(self, capture_id: str, amount: Money, idempotency_key: str) -> CardRefund:
        """Refund ``amount`` of a capture (several partial refunds allowed)."""
        ...

    async def get_authorization(self, authorization_id: str) -> CardAuthorization:
        """The authorization's current state (for polling when webhooks are not used)."""
        ...

    def parse_event(self, payload: bytes, headers: Mapping[str, str]) -> CardEvent | None:
        """Verify a webhook's signature and read it; None for events ems does not need.

        A bad signature is a ``CardProcessorError``.
        """
        ...


class CardPaymentProvider:
    """A ``PaymentProvider`` for card payments; ``payer`` is the processor's payment method."""

    def __init__(self, processor: CardProcessor, ledger: Ledger) -> None:
        self.processor = processor
        self.ledger = ledger

    async def authorize_hold(
        self, payer: str, amount: Money, idempotency_key: str, reference: str | None = None
    ) -> Hold:
        params = card_hold_request(payer, amount, reference)
        prior = await asyncio.to_thread(self.ledger.replay, idempotency_key, "card_hold", params)
        if prior is not None:
            return await asyncio.to_thread(self.ledger.get_hold, prior)
        if amount.minor <= 0:
            raise InvalidRequest(f"a card hold must be a positive amount, not {amount}")
        auth = await self.processor.authorize(payer, amount, idempotency_key, reference)
        if auth.status is AuthorizationStatus.DECLINED:
            raise PaymentDeclined(
                f"the card was declined: {auth.decline_reason or 'no reason given'}"
            )
        if auth.status is not AuthorizationStatus.AUTHORIZED or auth.amount != amount:
            raise CardProcessorError(
                f"authorization {auth.id} is {auth.status} for {auth.amount}; "
                f"expected authorized for {amount}"
            )
        return await asyncio.to_thread(
            self.ledger.record_card_hold,
            amount,
            idempotency_key,
            payment_method=payer,
            external_id=auth.id,
            reference=reference,
            expires_at=auth.expires_at,
        )

    async def capture(self, hold_id: str, amount: Money, idempotency_key: str) -> Payment:
        params = capture_request(hold_id, amount)
        prior = await asyncio.to_thread(self.ledger.replay, idempotency_key, "capture", params)
        if prior is not None:
            return await asyncio.to_thread(self.ledger.get_payment, prior)
        hold = await self._card_hold(hold_id)
        _check_capturable(hold, amount)
        external_id = None
        if amount.minor == 0:
            await self.processor.cancel(_external(hold), idempotency_key)
        else:
            captured = await self.processor.capture(_external(hold), amount, idempotency_key)
            external_id = captured.id
        return await asyncio.to_thread(
            self.ledger.capture, hold_id, amount, idempotency_key, external_id=external_id
        )

    async def void(self, hold_id: str, idempotency_key: str) -> Hold:
        prior = await asyncio.to_thread(
            self.ledger.replay, idempotency_key, "void", {"hold": hold_id}
        )
        if prior is None:
            hold = await self._card_hold(hold_id)
            if hold.status is HoldStatus.ACTIVE:
                await self.processor.cancel(_external(hold), idempotency_key)
        return await asyncio.to_thread(self.ledger.void, hold_id, idempotency_key)

    async def refund(
        self, payment_id: str, amount: Money, idempotency_key: str, reason: str | None = None
    ) -> Refund:
        params = refund_request(payment_id, amount, reason)
        prior = await asyncio.to_thread(self.ledger.replay, idempotency_key, "refund", params)
        if prior is not None:
            return await asyncio.to_thread(self.ledger.get_refund, int(prior))
        payment = await asyncio.to_thread(self.ledger.get_payment, payment_id)
        if payment.provider != CARD_PROVIDER:
            raise InvalidRequest(f"payment {payment_id} was not made by card")
        if amount.currency != payment.amount.currency:
            raise CurrencyMismatch(f"payment {payment_id} is in {payment.amount.currency}")
        if amount.minor <= 0 or amount > payment.refundable or payment.external_id is None:
            raise RefundExceedsPayment(
                f"cannot refund {amount} of payment {payment_id}: {payment.refundable} is left"
            )
        refunded = await self.processor.refund(payment.external_id, amount, idempotency_key)
        return await asyncio.to_thread(
            self.ledger.refund,
            payment_id,
            amount,
            idempotency_key,
            reason=reason,
            external_id=refunded.id,
        )

    async def handle_event(self, payload: bytes, headers: Mapping[str, str]) -> Hold | None:
        """Apply a webhook: a canceled or expired authorization releases its hold."""
        event = self.processor.parse_event(payload, headers)
        if event is None:
            return None
        hold = await asyncio.to_thread(
            self.ledger.hold_by_external_id, CARD_PROVIDER, event.authorization_id
        )
        return await self._apply(hold, event.status)

    async def refresh(self, hold_id: str) -> Hold:
        """Poll the processor for an active hold's authorization and apply what it says."""
        hold = await self._card_hold(hold_id)
        if hold.status is not HoldStatus.ACTIVE:
            return hold
        auth = await self.processor.get_authorization(_external(hold))
        return await self._apply(hold, auth.status)

    async def _apply(self, hold: Hold, status: AuthorizationStatus) -> Hold:
        gone = (AuthorizationStatus.CANCELED, AuthorizationStatus.EXPIRED)
        if status in gone and hold.status is HoldStatus.ACTIVE:
            return await asyncio.to_thread(self.ledger.expire_hold, hold.id)
        return hold

    async def _card_hold(self, hold_id: str) -> Hold:
        hold = await asyncio.to_thread(self.ledger.get_hold, hold_id)
        if hold.provider != CARD_PROVIDER:
            raise InvalidRequest(f"hold {hold_id} is not a card hold ({hold.provider})")
        return hold


def _external(hold: Hold) -> str:
    if hold.external_id is None:
        raise CardProcessorError(f"card hold {hold.id} has no authorization id")
    return hold.external_id


def _check_capturable(hold: Hold, amount: Money) -> None:
    """The ledger's own checks, made before the processor is asked to move money."""
    if amount.currency != hold.amount.currency:
        raise CurrencyMismatch(
            f"hold {hold.id} is in {hold.amount.currency}; cannot capture {amount}"
        )
    if hold.status is not HoldStatus.ACTIVE:
        raise HoldNotActive(f"hold {hold.id} is {hold.status}; only an active hold can be captured")
    if amount.minor < 0 or amount > hold.amount:
        raise AmountExceedsHold(
            f"cannot capture {amount} on hold {hold.id}: only {hold.amount} was held"
        )

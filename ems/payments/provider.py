"""The ``PaymentProvider`` interface and the built-in ledger as one.

A provider is what the charging flow talks to: place a hold before a session starts, capture the
final cost when it ends, void the hold when the start fails, refund afterwards. The interface is
async because the FastAPI app and the OCPP handlers are; the ledger's database work is
synchronous and runs in a worker thread (``asyncio.to_thread``) so the event loop never waits on
a lock or a commit.

Every call takes an idempotency key. Derive it from what the call is for (for example
``f"hold:{transaction_pk}"``, ``f"capture:{transaction_pk}"``) so that a retry after a timeout or a
crash repeats the same request and gets the first result instead of charging twice.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from ems.payments.ledger import Ledger
from ems.payments.money import Money
from ems.payments.types import Hold, Payment, Refund


@runtime_checkable
class PaymentProvider(Protocol):
    """Hold, capture, void and refund; errors are ``ems.payments.errors.PaymentError``s."""

    async def authorize_hold(
        self, payer: str, amount: Money, idempotency_key: str, reference: str | None = None
    ) -> Hold:
        """Reserve ``amount`` of ``payer`` (a ledger account id, or a card payment method).

        ``reference`` says what for (e.g. the transaction's id); it goes on the statement.
        """
        ...

    async def capture(self, hold_id: str, amount: Money, idempotency_key: str) -> Payment:
        """Charge ``amount`` (at most what was held, 0 allowed) and release the rest."""
        ...

    async def void(self, hold_id: str, idempotency_key: str) -> Hold:
        """Release a hold without charging, e.g. when the charging session did not start."""
        ...

    async def refund(
        self, payment_id: str, amount: Money, idempotency_key: str, reason: str | None = None
    ) -> Refund:
        """Give back up to what is left of a payment."""
        ...


class LedgerPaymentProvider:
    """Wallets and fleet accounts of the built-in :class:`Ledger` as a ``PaymentProvider``.

    ``payer`` is the ledger account id (the wallet or fleet account of the driver's id token).
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def authorize_hold(
        self, payer: str, amount: Money, idempotency_key: str, reference: str | None = None
    ) -> Hold:
        return await asyncio.to_thread(
            self.ledger.authorize_hold, payer, amount, idempotency_key, reference=reference
        )

    async def capture(self, hold_id: str, amount: Money, idempotency_key: str) -> Payment:
        return await asyncio.to_thread(self.ledger.capture, hold_id, amount, idempotency_key)

    async def void(self, hold_id: str, idempotency_key: str) -> Hold:
        return await asyncio.to_thread(self.ledger.void, hold_id, idempotency_key)

    async def refund(
        self, payment_id: str, amount: Money, idempotency_key: str, reason: str | None = None
    ) -> Refund:
        return await asyncio.to_thread(
            self.ledger.refund, payment_id, amount, idempotency_key, reason=reason
        )

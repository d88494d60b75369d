"""Payment: a ``PaymentProvider`` interface and two implementations.

- :class:`Ledger` (``ems.payments.ledger``): the built-in double-entry ledger in the database with
  prepaid wallets and fleet accounts (postpaid up to a credit limit), holds, captures, voids,
  refunds, top-ups and admin adjustments, idempotency keys on every write;
  :class:`LedgerPaymentProvider` exposes it as a ``PaymentProvider``.
- :class:`CardPaymentProvider` (``ems.payments.card``): card payments through any processor that
  implements the small :class:`CardProcessor` protocol, with the ledger kept in step.

Money is :class:`Money`: integer minor units of an ISO 4217 currency, never a float. The REST
routes are in ``ems.payments.api``; ``docs/payments.md`` describes the whole design.
"""

from ems.payments.card import CardPaymentProvider, CardProcessor
from ems.payments.errors import (
    AccountClosed,
    AccountExists,
    AmountExceedsHold,
    CardProcessorError,
    CurrencyMismatch,
    HoldNotActive,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    PaymentDeclined,
    PaymentError,
    RefundExceedsPayment,
    UnknownAccount,
    UnknownHold,
    UnknownPayment,
)
from ems.payments.ledger import Ledger
from ems.payments.money import Money
from ems.payments.provider import LedgerPaymentProvider, PaymentProvider
from ems.payments.types import (
    Account,
    AccountKind,
    AccountStatus,
    Entry,
    Hold,
    HoldStatus,
    Journal,
    JournalKind,
    Payment,
    Refund,
    StatementLine,
)

__all__ = [
    "Account",
    "AccountClosed",
    "AccountExists",
    "AccountKind",
    "AccountStatus",
    "AmountExceedsHold",
    "CardPaymentProvider",
    "CardProcessor",
    "CardProcessorError",
    "CurrencyMismatch",
    "Entry",
    "Hold",
    "HoldNotActive",
    "HoldStatus",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidRequest",
    "Journal",
    "JournalKind",
    "Ledger",
    "LedgerPaymentProvider",
    "Money",
    "Payment",
    "PaymentDeclined",
    "PaymentError",
    "PaymentProvider",
    "Refund",
    "RefundExceedsPayment",
    "StatementLine",
    "UnknownAccount",
    "UnknownHold",
    "UnknownPayment",
]

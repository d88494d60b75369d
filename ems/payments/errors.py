"""Errors of the payment layer; every message names the account, hold or payment and the amounts.

::

    PaymentError
    ├── InvalidRequest           a malformed id, key, name or reason                  (422)
    │   ├── InvalidAmount        malformed or out-of-range amount or currency code    (422)
    │   ├── CurrencyMismatch     amount in another currency than the account's        (422)
    │   ├── AmountExceedsHold    capture of more than was held                        (422)
    │   └── RefundExceedsPayment refund of more than is left to refund                (422)
    ├── UnknownAccount, UnknownHold, UnknownPayment                                   (404)
    ├── AccountExists            an account with this id exists already               (409)
    ├── AccountClosed            no new holds or top-ups on a closed account          (409)
    ├── InsufficientFunds        would take an account below zero / its credit limit  (409)
    ├── HoldNotActive            capture or void of a hold already captured/expired   (409)
    ├── IdempotencyConflict      a key reused for a different request                 (409)
    ├── PaymentDeclined          the card processor declined the authorization        (402)
    └── CardProcessorError       the card processor failed or is unreachable          (502)

The status in brackets is what :mod:`ems.payments.api` answers.
"""

from __future__ import annotations


class PaymentError(Exception):
    """Base of every error the payment layer raises on purpose."""


class InvalidRequest(PaymentError, ValueError):
    pass


class InvalidAmount(InvalidRequest):
    pass


class CurrencyMismatch(InvalidRequest):
    pass


class UnknownAccount(PaymentError, LookupError):
    pass


class UnknownHold(PaymentError, LookupError):
    pass


class UnknownPayment(PaymentError, LookupError):
    pass


class AccountExists(PaymentError):
    pass


class AccountClosed(PaymentError):
    pass


class InsufficientFunds(PaymentError):
    pass


class HoldNotActive(PaymentError):
    pass


class AmountExceedsHold(InvalidRequest):
    pass


class RefundExceedsPayment(InvalidRequest):
    pass


class IdempotencyConflict(PaymentError):
    pass


class PaymentDeclined(PaymentError):
    pass


class CardProcessorError(PaymentError):
    pass

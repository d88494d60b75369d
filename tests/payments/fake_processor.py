"""An in-memory card processor for tests only: idempotent by key like real ones, with decline
and failure switches, and HMAC-signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ems.payments.card import (
    AuthorizationStatus,
    CardAuthorization,
    CardCapture,
    CardEvent,
    CardRefund,
)
from ems.payments.errors import CardProcessorError
from ems.payments.money import Money

SIGNATURE_HEADER = "x-fake-signature"


@dataclass
class _Capture:
    capture: CardCapture
    refunded_minor: int = 0


class FakeCardProcessor:
    """Implements ``CardProcessor``; ``calls`` counts the calls that reached it."""

    def __init__(self, secret: bytes = b"whsec-test", expires_at: datetime | None = None) -> None:
        self.secret = secret
        self.expires_at = expires_at
        self.declined_methods: set[str] = set()
        self.fail_next: set[str] = set()  # method names that raise once
        self.calls: Counter[str] = Counter()
        self.authorizations: dict[str, CardAuthorization] = {}
        self.captures: dict[str, _Capture] = {}
        self._by_key: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self._ids = itertools.count(1)

    def _enter(self, method: str, key: str | None, request: tuple[Any, ...]) -> Any:
        self.calls[method] += 1
        if method in self.fail_next:
            self.fail_next.discard(method)
            raise CardProcessorError(f"fake processor: {method} failed (503)")
        if key is not None and key in self._by_key:
            first_request, result = self._by_key[key]
            if first_request != request:
                raise CardProcessorError(f"fake processor: key {key} reused with other parameters")
            return result
        return None

    def _remember(self, key: str, request: tuple[Any, ...], result: Any) -> Any:
        self._by_key[key] = (request, result)
        return result

    async def authorize(
        self, payment_method: str, amount: Money, idempotency_key: str, reference: str | None
    ) -> CardAuthorization:
        request = ("authorize", payment_method, amount, reference)
        if (done := self._enter("authorize", idempotency_key, request)) is not None:
            return done
        status = (
            AuthorizationStatus.DECLINED
            if payment_method in self.declined_methods
            else AuthorizationStatus.AUTHORIZED
        )
        auth = CardAuthorization(
            id=f"auth_{next(self._ids)}",
            status=status,
            amount=amount,
            expires_at=self.expires_at,
            decline_reason="insufficient_funds" if status == "declined" else None,
        )
        self.authorizations[auth.id] = auth
        return self._remember(idempotency_key, request, auth)

    async def capture(
        self, authorization_id: str, amount: Money, idempotency_key: str
    ) -> CardCapture:
        request = ("capture", authorization_id, amount)
        if (done := self._enter("capture", idempotency_key, request)) is not None:
            return done
        auth = self._auth(authorization_id)
        if auth.status != AuthorizationStatus.AUTHORIZED:
            raise CardProcessorError(f"fake processor: {authorization_id} is {auth.status}")
        if not 0 < amount.minor <= auth.amount.minor:
            raise CardProcessorError(f"fake processor: cannot capture {amount}")
        self.authorizations[auth.id] = replace(auth, status=AuthorizationStatus.CAPTURED)
        capture = CardCapture(f"cap_{next(self._ids)}", authorization_id, amount)
        self.captures[capture.id] = _Capture(capture)
        return self._remember(idempotency_key, request, capture)

    async def cancel(self, authorization_id: str, idempotency_key: str) -> CardAuthorization:
        request = ("cancel", authorization_id)
        if (done := self._enter("cancel", idempotency_key, request)) is not None:
            return done
        auth = self._auth(authorization_id)
        if auth.status == AuthorizationStatus.CAPTURED:
            raise CardProcessorError(f"fake processor: {authorization_id} is captured")
        canceled = replace(auth, status=AuthorizationStatus.CANCELED)
        self.authorizations[auth.id] = canceled
        return self._remember(idempotency_key, request, canceled)

    async def refund(self, capture_id: str, amount: Money, idempotency_key: str) -> CardRefund:
        request = ("refund", capture_id, amount)
        if (done := self._enter("refund", idempotency_key, request)) is not None:
            return done
        captured = self.captures.get(capture_id)
        if captured is None:
            raise CardProcessorError(f"fake processor: no capture {capture_id}")
        if captured.refunded_minor + amount.minor > captured.capture.amount.minor:
            raise CardProcessorError(f"fake processor: refund of {amount} exceeds the capture")
        captured.refunded_minor += amount.minor
        refund = CardRefund(f"re_{next(self._ids)}", capture_id, amount)
        return self._remember(idempotency_key, request, refund)

    async def get_authorization(self, authorization_id: str) -> CardAuthorization:
        self._enter("get_authorization", None, ())
        return self._auth(authorization_id)

    def parse_event(self, payload: bytes, headers: Mapping[str, str]) -> CardEvent | None:
        expected = hmac.new(self.secret, payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, "")):
            raise CardProcessorError("webhook signature does not match")
        body = json.loads(payload)
        if body["type"] not in ("authorization.canceled", "authorization.expired"):
            return None
        return CardEvent(body["authorization_id"], AuthorizationStatus(body["type"].split(".")[1]))

    # -- test controls -----------------------------------------------------------------------

    def expire(self, authorization_id: str) -> None:
        """The card network dropped the authorization (as after 7 days)."""
        auth = self._auth(authorization_id)
        self.authorizations[auth.id] = replace(auth, status=AuthorizationStatus.EXPIRED)

    def webhook(self, kind: str, authorization_id: str) -> tuple[bytes, dict[str, str]]:
        """A signed webhook delivery: body and headers."""
        payload = json.dumps({"type": kind, "authorization_id": authorization_id}).encode()
        signature = hmac.new(self.secret, payload, hashlib.sha256).hexdigest()
        return payload, {SIGNATURE_HEADER: signature}

    def _auth(self, authorization_id: str) -> CardAuthorization:
        auth = self.authorizations.get(authorization_id)
        if auth is None:
            raise CardProcessorError(f"fake processor: no authorization {authorization_id}")
        return auth

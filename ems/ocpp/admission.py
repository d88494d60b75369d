"""Abuse limits on HTTP Basic admission: failure counters, lockouts and bounded Argon2.

Rules, in the order a handshake with Basic credentials meets them:

1. A password whose SHA-256 equals that of the charge point's last verified password passes
   at once (``CentralSystem.check_password``): no Argon2 and no lockout applies, so guesses by
   someone else can never lock out a charger that has connected before.
2. A locked-out charge point id or remote address gets HTTP 429 with ``Retry-After``, before
   any hashing.
3. When ``max_pending_checks`` Argon2 checks already run or wait, HTTP 503 with ``Retry-After``
   (:class:`ems.passwords.PasswordExecutor`): a burst cannot queue work.
4. Otherwise Argon2 decides; a wrong password (or a user that is not the charge point id) counts
   one failure for the id and one for the address. ``failures_per_id`` / ``failures_per_address``
   failures within ``window_s`` lock the key out for ``lockout_s``; each lockout that follows
   within ``max_lockout_s`` of the previous one's end lasts twice as long, up to ``max_lockout_s``.
   A correct password that Argon2 checked clears the id's failures; a remembered one (rule 1)
   does not, nor does any success clear an address's (one's own charger must not reset a
   guesser's count).

IPv6 addresses count per /64, the block one host usually holds. Time comes from an injected
monotonic clock [s]. Memory is bounded: once ``MAX_KEYS`` keys are held, idle ones are swept
and, if that is not enough, the oldest dropped. One :class:`Admission` per running ems
(``Ems.admission``), made from its ``[admission]`` settings.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ems.config import AdmissionSettings
from ems.metrics import count_auth_lockout
from ems.passwords import HashingBusy, PasswordExecutor

if TYPE_CHECKING:
    from ems.csms import CentralSystem

log = logging.getLogger(__name__)

MonotonicClock = Callable[[], float]
MAX_KEYS = 10_000
# What a handshake refused for lack of hashing capacity is told to wait [s].
BUSY_RETRY_AFTER_S = 5
# One Argon2 thread leaves the other cores to the event loop and the database threads.
HASHING_THREADS = 1


class Refused(Exception):
    """Admission refused before any password check: ``status`` 429 or 503, retry after [s]."""

    def __init__(self, status: int, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


def address_key(host: str | None) -> str:
    """The key failures of ``host`` count under: the address, or its /64 for IPv6."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = -math.inf
    lockouts: int = 0  # in a row; the next one lasts lockout_s * 2**lockouts


class _Counter:
    """Failures per key in a sliding window, and the key's lockout."""

    def __init__(self, scope: str, limit: int, settings: AdmissionSettings) -> None:
        self.scope = scope
        self.limit = limit
        self.settings = settings
        self._records: dict[str, _Record] = {}

    def locked_for(self, key: str, now: float) -> float:
        """Seconds the key stays locked out; 0 when it is not."""
        record = self._records.get(key)
        return max(0.0, record.locked_until - now) if record is not None else 0.0

    def fail(self, key: str, now: float) -> float:
        """Count one failure; the lockout it starts [s], or 0."""
        if self.limit == 0:
            return 0.0
        settings = self.settings
        record = self._records.get(key)
        if record is None:
            self._sweep(now)
            record = self._records[key] = _Record()
        if now < record.locked_until:
            return 0.0  # a check that began before the lockout; it must not extend it
        if now - record.locked_until > settings.max_lockout_s:
            record.lockouts = 0  # quiet long enough: start over at lockout_s
        failures = record.failures
        failures.append(now)
        while failures and failures[0] <= now - settings.window_s:
            failures.popleft()
        if len(failures) < self.limit:
            return 0.0
        duration = min(settings.lockout_s * 2**record.lockouts, settings.max_lockout_s)
        record.lockouts += 1
        record.locked_until = now + duration
        failures.clear()
        return duration

    def forget(self, key: str) -> None:
        self._records.pop(key, None)

    def _sweep(self, now: float) -> None:
        if len(self._records) < MAX_KEYS:
            return
        idle_since = now - max(self.settings.window_s, self.settings.max_lockout_s)
        for key, record in list(self._records.items()):
            newest = record.failures[-1] if record.failures else -math.inf
            if record.locked_until < idle_since and newest < idle_since:
                del self._records[key]
        # still full of active keys: drop the oldest tenth, so the next sweep is far off
        while len(self._records) > MAX_KEYS - MAX_KEYS // 10:
            del self._records[next(iter(self._records))]


class AuthLimiter:
    """Failure counters and lockouts per charge point id and per remote address."""

    def __init__(self, settings: AdmissionSettings, clock: MonotonicClock = time.monotonic) -> None:
        self.clock = clock
        self._ids = _Counter("id", settings.failures_per_id, settings)
        self._addresses = _Counter("address", settings.failures_per_address, settings)

    def check(self, charge_point_id: str, address: str) -> None:
        """Raise :class:`Refused` (429) while the id or the address is locked out."""
        now = self.clock()
        for counter, key in ((self._ids, charge_point_id), (self._addresses, address)):
            left = counter.locked_for(key, now)
            if left > 0:
                raise Refused(
                    429,
                    f"too many wrong passwords for this {counter.scope}; try again later",
                    math.ceil(left),
                )

    def failed(self, charge_point_id: str, address: str) -> None:
        """Count a wrong password; log and count the lockouts it starts."""
        now = self.clock()
        for counter, key in ((self._ids, charge_point_id), (self._addresses, address)):
            duration = counter.fail(key, now)
            if duration:
                log.warning(
                    "charge point %r from %s: too many wrong passwords, %s %s locked out for %d s",
                    charge_point_id,
                    address,
                    counter.scope,
                    key,
                    duration,
                )
                count_auth_lockout(counter.scope)

    def succeeded(self, charge_point_id: str) -> None:
        """The id proved its password: its failures and lockouts are forgotten."""
        self._ids.forget(charge_point_id)


class Admission:
    """The limiter and the password executor of one central system."""

    def __init__(self, settings: AdmissionSettings, clock: MonotonicClock = time.monotonic) -> None:
        self.limiter = AuthLimiter(settings, clock)
        self.hasher = PasswordExecutor(HASHING_THREADS, settings.max_pending_checks)

    def close(self) -> None:
        """End the password thread (ems is stopping)."""
        self.hasher.shutdown()

    async def check_basic(
        self, csms: CentralSystem, charge_point_id: str, host: str | None, user: str, password: str
    ) -> bool:
        """True when ``user``/``password`` are the charge point's credentials; False when not.

        Raises :class:`Refused` when the answer is "not now" (lockout, no hashing capacity).
        """
        address = address_key(host)
        hashed = False

        async def verify(password_hash: str, candidate: str) -> bool:
            nonlocal hashed
            self.limiter.check(charge_point_id, address)
            try:
                ok = await self.hasher.verify(password_hash, candidate)
            except HashingBusy:
                raise Refused(
                    503, "too many password checks in progress", BUSY_RETRY_AFTER_S
                ) from None
            hashed = True
            return ok

        if user == charge_point_id:
            ok = await csms.check_password(charge_point_id, password, verify)
        else:
            self.limiter.check(charge_point_id, address)
            ok = False
        if not ok:
            self.limiter.failed(charge_point_id, address)
        elif hashed:  # a remembered password proves nothing new, and must not reset the count
            self.limiter.succeeded(charge_point_id)
        return ok

"""Hashing of charge point passwords (HTTP Basic auth, security profiles 1 and 2).

Argon2id with RFC 9106's low-memory profile: strong against offline guessing, yet cheap enough
that a reconnect storm of a few thousand chargers after a restart is verified in seconds. Each
verified password is remembered (as a SHA-256 digest) by the central system, so a reconnect costs
one hash lookup.

Argon2 is slow on purpose (about 20 ms of CPU and 19 MiB per check), so the checks that anyone
on the network can cause (a WebSocket handshake with a password) run on a :class:`PasswordExecutor`
of their own: a burst of guesses neither queues ahead of the database reads the rest of ems runs
in the default executor nor builds a queue of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
T = TypeVar("T")


def hash_password(password: str) -> str:
    """A salted Argon2id hash in PHC string form, safe to store."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch or a broken hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class HashingBusy(Exception):
    """Every place of the :class:`PasswordExecutor` is taken; try again later."""


class PasswordExecutor:
    """Argon2 on ``threads`` dedicated threads, with at most ``max_pending`` checks in flight.

    A check that would be the ``max_pending + 1``-th (running or waiting) raises
    :class:`HashingBusy` at once instead of queueing, so the wait for a check stays bounded
    (about ``max_pending / threads`` Argon2 runs) however many handshakes arrive. Thread-safe;
    the threads end with :meth:`shutdown` (or when the executor is garbage-collected).
    """

    def __init__(self, threads: int = 1, max_pending: int = 4) -> None:
        if threads < 1 or max_pending < 1:
            raise ValueError("threads and max_pending must be at least 1")
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="ems-argon2")
        self._lock = threading.Lock()
        self._pending = 0

    @property
    def pending(self) -> int:
        """Checks running or waiting now."""
        return self._pending

    async def verify(self, password_hash: str, password: str) -> bool:
        """:func:`verify_password` on the dedicated threads; HashingBusy when full."""
        return await self._run(verify_password, password_hash, password)

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        with self._lock:
            if self._pending >= self.max_pending:
                raise HashingBusy(f"{self._pending} password checks in progress")
            self._pending += 1
        try:
            future = self._executor.submit(work, *args)
        except BaseException:
            self._release()
            raise
        # released when the work ends, not when the caller stops waiting (a cancelled
        # handshake does not free a thread that is still hashing)
        future.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        """Let the threads end once the checks in progress are done."""
        self._executor.shutdown(wait=False, cancel_futures=True)

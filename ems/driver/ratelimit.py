"""Token buckets that limit start attempts per connector and per client address.

A bucket holds at most ``capacity`` tokens and gains ``refill_per_s`` per second; an attempt
takes one. When it is empty the caller is told how long until the next token
(``Retry-After``). Buckets are in memory (one ems process serves the driver pages); idle full
buckets are dropped so that many addresses cannot grow the table without bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated_s: float


class RateLimiter:
    """Token buckets by key, with one ``capacity`` and ``refill_per_s`` for all."""

    def __init__(
        self,
        capacity: int,
        refill_per_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if capacity < 1 or refill_per_s <= 0:
            raise ValueError("need capacity >= 1 and refill_per_s > 0")
        self.capacity = capacity
        self.refill_per_s = refill_per_s
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, key: str, now_s: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now_s)
            bucket = self._buckets[key] = _Bucket(float(self.capacity), now_s)
        else:
            elapsed = max(0.0, now_s - bucket.updated_s)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.refill_per_s)
            bucket.updated_s = now_s
        return bucket

    def _prune(self, now_s: float) -> None:
        full_after_s = self.capacity / self.refill_per_s
        self._buckets = {
            k: b for k, b in self._buckets.items() if now_s - b.updated_s < full_after_s
        }

    def retry_after_s(self, key: str) -> int:
        """0 if an attempt under ``key`` may go ahead now, else whole seconds to wait."""
        bucket = self._bucket(key, self.clock())
        if bucket.tokens >= 1.0:
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.refill_per_s))

    def take(self, key: str) -> int:
        """Take a token for ``key``: 0 if there was one, else seconds until there is."""
        wait_s = self.retry_after_s(key)
        if wait_s == 0:
            self._buckets[key].tokens -= 1.0
        return wait_s


class StartLimits:
    """Start attempts: both the connector's and the client address's bucket must have a token.

    Defaults: 3 starts per connector, one more every 20 s; 6 per address, one more a minute.
    """

    def __init__(
        self,
        per_connector: RateLimiter | None = None,
        per_client: RateLimiter | None = None,
    ) -> None:
        self.per_connector = per_connector or RateLimiter(3, 1 / 20)
        self.per_client = per_client or RateLimiter(6, 1 / 60)

    def take(self, connector: str, client: str) -> int:
        """0 if the attempt may go ahead (a token is taken from both), else seconds to wait."""
        wait_s = max(
            self.per_connector.retry_after_s(connector), self.per_client.retry_after_s(client)
        )
        if wait_s:
            return wait_s
        self.per_connector.take(connector)
        self.per_client.take(client)
        return 0

"""A token bucket per API key: `rate` requests per second with a burst of one second's worth."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate_per_s
        self.capacity = burst if burst is not None else rate_per_s
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def try_take(self) -> float:
        """Take one token; return 0 when allowed, else the seconds to wait until one is available."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


class RateLimiter:
    """One bucket per client. The limit holds per API worker process (uvicorn workers share nothing)."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after(self, client: str) -> int:
        """0 when the request may proceed, else whole seconds for the Retry-After header (at least 1)."""
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = TokenBucket(self.rate, clock=self._clock)
        wait = bucket.try_take()
        return 0 if wait == 0 else max(1, math.ceil(wait))

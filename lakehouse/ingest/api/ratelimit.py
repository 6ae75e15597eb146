"""Token buckets: per API key (`rate` requests a second, a burst of one second's worth), and per client
address for failed authentications."""

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

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def wait(self) -> float:
        """Seconds until a token is available (0: now), taking none."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def try_take(self) -> float:
        """Take one token; return 0 when allowed, else the seconds to wait until one is available."""
        wait = self.wait()
        if wait == 0:
            self._tokens -= 1
        return wait

    @property
    def full(self) -> bool:
        self._refill()
        return self._tokens >= self.capacity


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


class FailureLimiter:
    """Failed authentications per client address: `per_minute` a minute, with a burst of as many.

    An address that used them up gets 429 before its key is even looked at, so guessing keys (or
    flooding the log with 401s) costs a minute per `per_minute` tries. A valid key from that address
    waits too, for at most a minute: on a shared address that is the price of not letting a guesser
    through. Per worker process, like RateLimiter; addresses whose budget is whole again are forgotten.
    """

    MAX_TRACKED = 10_000

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after(self, address: str) -> int:
        """0 when the address may present a key, else whole seconds for the Retry-After header."""
        bucket = self._buckets.get(address)
        wait = bucket.wait() if bucket is not None else 0.0
        return 0 if wait == 0 else max(1, math.ceil(wait))

    def failed(self, address: str) -> None:
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.MAX_TRACKED:
                self._buckets = {key: kept for key, kept in self._buckets.items() if not kept.full}
            bucket = self._buckets[address] = TokenBucket(self.per_minute / 60, self.per_minute, self._clock)
        bucket.try_take()

    def __len__(self) -> int:
        return len(self._buckets)

"""Per-key rate and concurrency limits: requests per minute, tokens per minute, requests in flight.

Requests per minute use a moving window and tokens per minute a fixed one
(from the `limits` library, in memory: one server process). Tokens are only
known once a completion ends, so they are booked afterwards: the request that
crosses the line completes, and the key's next request is refused until the
window moves on. Concurrency is a plain count per key on the event loop.
A refusal is a 429 `RequestError` naming the limit, with the seconds to wait
for `Retry-After`.

Not here: size caps of a request (`reasoner.service.caps`), job queues
(`reasoner.service.job_manager`).
"""

from __future__ import annotations

import math
import time
from collections import Counter

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from reasoner.errors import RequestError
from reasoner.service.config import Limits


class KeyLimiter:
    """The limits of every key of one app."""

    def __init__(self, limits: Limits) -> None:
        storage = MemoryStorage()
        self.limits = limits
        self._requests = RateLimitItemPerMinute(limits.requests_per_minute, namespace="requests")
        self._tokens = RateLimitItemPerMinute(limits.tokens_per_minute, namespace="tokens")
        self._moving = MovingWindowRateLimiter(storage)
        self._fixed = FixedWindowRateLimiter(storage)
        self._in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        """Most requests each key had in flight at once (for tests, benchmarks and `/metrics` readers)."""

    def request(self, owner: str) -> None:
        """Count one request of `owner`; 429 if its requests or tokens per minute are used up."""
        if not self._fixed.test(self._tokens, owner):
            raise _refused("tokens_per_minute", self.limits.tokens_per_minute,
                           self._retry(self._fixed, self._tokens, owner))
        if not self._moving.hit(self._requests, owner):
            raise _refused("requests_per_minute", self.limits.requests_per_minute,
                           self._retry(self._moving, self._requests, owner))

    def book_tokens(self, owner: str, tokens: int) -> None:
        """Book the tokens a finished request used."""
        if tokens > 0:
            self._fixed.hit(self._tokens, owner, cost=tokens)

    def acquire(self, owner: str) -> None:
        """Take one of `owner`'s concurrent request slots; 429 if none is free. `release` gives it back."""
        cap = self.limits.max_concurrent_requests
        if self._in_flight[owner] >= cap:
            raise _refused("max_concurrent_requests", cap, 1, "requests in flight")
        self._in_flight[owner] += 1
        self.peak[owner] = max(self.peak[owner], self._in_flight[owner])

    def release(self, owner: str) -> None:
        self._in_flight[owner] -= 1
        if self._in_flight[owner] <= 0:
            del self._in_flight[owner]

    @staticmethod
    def _retry(limiter, item, owner: str) -> int:
        reset = limiter.get_window_stats(item, owner).reset_time
        return max(1, math.ceil(reset - time.time()))


def _refused(limit: str, cap: int, retry_after: int, what: str = "per minute") -> RequestError:
    return RequestError(f"this key is over the server's limit {limit}={cap} ({what}); retry after {retry_after}s",
                        param=limit, status=429, code="rate_limit_exceeded", retry_after=retry_after)

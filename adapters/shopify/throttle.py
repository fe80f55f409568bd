"""Client-side leaky bucket for Shopify's GraphQL cost limit (NOTES §2.2).

Shopify admits a query only when its bucket holds the query's *requested* cost and answers
``THROTTLED`` (HTTP 200) otherwise. Waiting for that answer wastes a round trip and, with several
workers on one shop, turns into a storm of retries. So every worker of a shop shares one
:class:`ShopBucket` that mirrors the server's bucket and makes the caller wait *before* a call
would be refused: ``wait = (cost + reserve − estimate) / restore_rate``.

The estimate leaks back at ``restore_rate`` per second and is reset from every response's
``extensions.cost.throttleStatus``. Costs of calls still in flight are subtracted from that reset,
because the server has not charged them yet when it reports the figure we read. A ``reserve``
(10 % of the bucket by default) is kept free for priority traffic: webhook-triggered reads and
perk writes pass ``priority=True`` and may dip into it, bulk reads may not.

Clock and sleep are injectable so tests drive time by hand.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAXIMUM = 2000.0  # observed on every capture (Standard plan)
DEFAULT_RESTORE_RATE = 100.0


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    """``extensions.cost.throttleStatus`` as numbers (the server sends ints or floats)."""

    maximum: float
    available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: Mapping[str, Any] | None) -> ThrottleStatus | None:
        cost = (extensions or {}).get("cost") or {}
        status = cost.get("throttleStatus") if isinstance(cost, Mapping) else None
        if not isinstance(status, Mapping):
            return None
        try:
            return cls(
                maximum=float(status["maximumAvailable"]),
                available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class Permit:
    """Proof that ``cost`` points were set aside; hand it back with :meth:`ShopBucket.settle`."""

    cost: float
    waited: float


@dataclass(slots=True)
class BucketStats:
    calls: int = 0
    waited_seconds: float = 0.0
    throttled: int = 0
    min_available: float | None = None


class ShopBucket:
    """One shop's cost budget, shared by every worker of that shop (thread-safe)."""

    def __init__(
        self,
        *,
        maximum: float = DEFAULT_MAXIMUM,
        restore_rate: float = DEFAULT_RESTORE_RATE,
        reserve_fraction: float = 0.10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        if maximum <= 0 or restore_rate <= 0:
            raise ValueError("bucket maximum and restore rate must be positive")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter or (lambda: random.uniform(0.05, 0.25))
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self.reserve_fraction = reserve_fraction
        self._available = float(maximum)
        self._t = clock()
        self._in_flight = 0.0
        self._learned: dict[str, float] = {}
        self.stats = BucketStats()

    # --- state ----------------------------------------------------------------------------------

    @property
    def reserve(self) -> float:
        return self.maximum * self.reserve_fraction

    def _estimate(self, now: float) -> float:
        return min(self.maximum, self._available + self.restore_rate * (now - self._t))

    def estimate(self) -> float:
        """Points the server's bucket should hold now, by our reckoning."""
        with self._lock:
            return self._estimate(self._clock())

    # --- learned costs (shared by all workers of the shop) ---------------------------------------

    def learned_cost(self, key: str) -> float | None:
        with self._lock:
            return self._learned.get(key)

    def learn_cost(self, key: str, requested: float) -> None:
        with self._lock:
            self._learned[key] = float(requested)

    # --- the protocol: acquire → call → settle ---------------------------------------------------

    def acquire(self, cost: float, *, priority: bool = False) -> Permit:
        """Set ``cost`` aside, sleeping first if the bucket would not admit it.

        The deduction happens under the lock *before* sleeping, so a second worker arriving
        meanwhile sees the debt and queues behind this one instead of racing it.
        """
        cost = max(0.0, min(float(cost), self.maximum))
        reserve = 0.0 if priority else self.reserve
        with self._lock:
            now = self._clock()
            est = self._estimate(now)
            wait = max(0.0, (cost + reserve - est) / self.restore_rate)
            self._available = est - cost
            self._t = now
            self._in_flight += cost
            self.stats.calls += 1
            self.stats.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return Permit(cost=cost, waited=wait)

    def settle(self, permit: Permit, status: ThrottleStatus | None) -> None:
        """The call is over; adopt the server's figures when the response carried them."""
        with self._lock:
            self._in_flight = max(0.0, self._in_flight - permit.cost)
            if status is None:
                return
            self.maximum = status.maximum
            self.restore_rate = status.restore_rate
            # The server already refunded (requested − actual) for this call; calls still in
            # flight have not been charged in the figure we read, so keep them deducted.
            self._available = status.available - self._in_flight
            self._t = self._clock()
            low = self.stats.min_available
            self.stats.min_available = status.available if low is None else min(low, status.available)

    def throttled(
        self, permit: Permit, requested: float, status: ThrottleStatus | None, *, priority: bool = False
    ) -> float:
        """The server refused the call: wait until it would admit ``requested`` (plus jitter).

        The wait keeps the same reserve as :meth:`acquire`, so the re-acquire that follows finds
        the points there and does not wait a second time. Returns the seconds slept. The refused
        call cost nothing, so its permit is released.
        """
        with self._lock:
            self._in_flight = max(0.0, self._in_flight - permit.cost)
            self.stats.throttled += 1
            if status is not None:
                self.maximum = status.maximum
                self.restore_rate = status.restore_rate
                self._available = status.available - self._in_flight
                self._t = self._clock()
            reserve = 0.0 if priority else self.reserve  # of the maximum just reported
            now = self._clock()
            deficit = max(0.0, requested + reserve - self._estimate(now))
            wait = deficit / self.restore_rate + self._jitter()
            self.stats.waited_seconds += wait
        self._sleep(wait)
        return wait


# --- one bucket per shop, shared by the workers of this process ---------------------------------

_BUCKETS: dict[str, ShopBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for(shop_domain: str, **kwargs: Any) -> ShopBucket:
    """The process's bucket for ``shop_domain``, created on first use.

    A plain dict behind an explicit function (not a hidden singleton): callers who want
    isolation, such as tests, build their own :class:`ShopBucket` and pass it in.
    """
    key = shop_domain.strip().lower()
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = ShopBucket(**kwargs)
        return bucket

"""Shopify's cost leaky bucket, per app token and shop (NOTES §2.1).

Continuous leak at ``restore_rate`` points per second up to ``maximum``; a query is admitted
only when the bucket holds its *requested* cost, and the unused part (requested − actual)
is given back after execution.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

# Restore rates per plan [S1]; bucket size 20× the rate (2000 observed for Standard).
PLANS: dict[str, tuple[int, int]] = {
    "standard": (2000, 100),
    "advanced": (4000, 200),
    "plus": (20000, 1000),
    "enterprise": (40000, 2000),
}


@dataclass
class ThrottleStatus:
    maximum: int
    available: float
    rate: int

    def as_json(self) -> dict[str, int]:
        return {"maximumAvailable": self.maximum, "currentlyAvailable": int(self.available),
                "restoreRate": self.rate}


class LeakyBucket:
    def __init__(self, clock: Callable[[], float], plan: str = "standard") -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.maximum, self.rate = PLANS[plan]
        self.available = float(self.maximum)
        self.t = clock()

    def set_plan(self, plan: str) -> None:
        with self.lock:
            self.maximum, self.rate = PLANS[plan]
            self.available = float(self.maximum)
            self.t = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.available = min(float(self.maximum), self.available + (now - self.t) * self.rate)
        self.t = now

    def try_take(self, cost: int) -> tuple[bool, ThrottleStatus]:
        with self.lock:
            self._refill()
            if cost > self.available:
                return False, ThrottleStatus(self.maximum, self.available, self.rate)
            self.available -= cost
            return True, ThrottleStatus(self.maximum, self.available, self.rate)

    def give_back(self, points: int) -> ThrottleStatus:
        with self.lock:
            self._refill()
            self.available = min(float(self.maximum), self.available + max(0, points))
            return ThrottleStatus(self.maximum, self.available, self.rate)

    def status(self) -> ThrottleStatus:
        with self.lock:
            self._refill()
            return ThrottleStatus(self.maximum, self.available, self.rate)

    def drain(self, to: float = 0.0) -> None:
        """Test helper: leave only ``to`` points in the bucket."""
        with self.lock:
            self._refill()
            self.available = max(0.0, min(float(self.maximum), to))

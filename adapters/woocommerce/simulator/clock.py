"""Injectable clock: tests move store time without sleeping.

The store stamps every write with ``int(clock.time())`` (WooCommerce keeps one-second resolution),
and OAuth timestamp checks use the same clock, so moving it far ahead makes real clients fail with
"Invalid timestamp." exactly as a store with a skewed clock would.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SimClock:
    """Wall clock plus an adjustable offset, or a frozen instant."""

    def __init__(self, start: datetime | float | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = None
        if start is not None:
            ts = start.timestamp() if isinstance(start, datetime) else float(start)
            self._offset = ts - time.time()
            if frozen:
                self._frozen = ts
        elif frozen:
            self._frozen = time.time()

    def time(self) -> float:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def set(self, when: datetime | float) -> None:
        ts = when.timestamp() if isinstance(when, datetime) else float(when)
        with self._lock:
            if self._frozen is not None:
                self._frozen = ts
            else:
                self._offset = ts - time.time()

    def freeze(self) -> None:
        with self._lock:
            if self._frozen is None:
                self._frozen = time.time() + self._offset

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
                self._frozen = None

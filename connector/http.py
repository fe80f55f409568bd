"""HTTP facts every platform client needs the same answer to, whatever the platform.

Why here and not in each adapter: how long a ``Retry-After`` asks us to wait, and whether a failed
request ever left this machine, are questions about HTTP and sockets, not about WooCommerce or
Shopify. Answering them once keeps every client's retry policy (STYLE §2) reading the same facts
the same way. Adapters may import this module (the layering rules allow it); it imports nothing
from the connector and no HTTP library.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RETRY_AFTER_CEILING", "never_connected", "parse_retry_after"]

# Longer hints are read as this long, so one odd header cannot park a store's work for days.
RETRY_AFTER_CEILING = 3600.0

# Raised (by name, so no HTTP library is imported here) when a connection was never established:
# refused, or the host name did not resolve. urllib3 wraps them; requests wraps urllib3.
_NOT_CONNECTED = frozenset({"NewConnectionError", "NameResolutionError", "ConnectionRefusedError"})


def parse_retry_after(
    value: str | None, *, now: datetime | None = None, ceiling: float = RETRY_AFTER_CEILING
) -> float | None:
    """Retry-After as delta-seconds or an HTTP date, clamped to [0, ceiling]; junk → None.

    ``now`` is for HTTP dates only (a date in the past means "now"); a date without a zone is
    read as UTC, which is what HTTP dates are.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds: float
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), ceiling)


def never_connected(exc: BaseException) -> bool:
    """True when the request bytes provably never left this machine (refused or unresolvable),
    so even a write without an idempotency key may be sent again.

    Walks the whole wrapping chain (``reason``, first argument, cause, context) because requests
    reports every failure as one ``ConnectionError`` whatever happened underneath.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if type(cur).__name__ in _NOT_CONNECTED:
            return True
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException) and id(reason) not in seen:
            cur = reason
            continue
        nested = cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else None
        cur = nested or cur.__cause__ or cur.__context__
    return False

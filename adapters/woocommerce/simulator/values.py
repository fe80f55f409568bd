"""Wire formats shared by every resource: money strings, site dates, date filters.

Money is kept as ``Decimal`` inside the store and only turned into WooCommerce's strings at the
edge. Dates are stored as integer UTC epoch seconds because WooCommerce stores one-second
resolution; ``date_x`` is rendered in site time and ``date_x_gmt`` in UTC, both without suffix.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")

# WordPress rest_parse_date pattern (RFC 3339 with optional T/space, fraction and offset).
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def dec(value: Any, default: str = "0") -> Decimal:
    """Parse a money-ish value the way PHP's numeric-string juggling would (lenient)."""
    if value is None or value == "":
        return Decimal(default)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return Decimal(default)


def money(value: Decimal, dp: int = 2) -> str:
    """Order money: fixed ``dp`` decimals, half-up like ``wc_format_decimal``/``round``."""
    if dp <= 0:
        return str(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return str(value.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP))


def raw_decimal(value: Decimal) -> str:
    """Stored decimal without padding, as coupon-line ``discount`` shows it (``"2"``, ``"1.5"``)."""
    q = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize()
    text = format(q, "f")
    return "0" if text in ("-0", "0", "") else text


def php_number(value: Decimal) -> int | float:
    """A PHP number that prints whole values without ``.0`` (``nominal_amount``)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def to_cents(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


class SiteTime:
    """Converts between stored UTC seconds and the site's local wall time."""

    def __init__(self, utc_offset_minutes: int = 0) -> None:
        self.offset = timedelta(minutes=utc_offset_minutes)
        self.tz = timezone(self.offset)

    def local(self, ts: int | None) -> str | None:
        if ts is None:
            return None
        return datetime.fromtimestamp(ts, tz=self.tz).strftime("%Y-%m-%dT%H:%M:%S")

    @staticmethod
    def gmt(ts: int | None) -> str | None:
        if ts is None:
            return None
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def parse_input(self, value: str, *, gmt: bool = False) -> int:
        """A date sent in a body: no offset means site-local (or UTC for ``*_gmt`` fields)."""
        m = _RFC3339.match(value.strip())
        if not m:
            raise ValueError(value)
        naive = _naive(m)
        zone = m.group(8)
        if zone:
            return int(_with_zone(naive, zone).timestamp())
        tz = UTC if gmt else self.tz
        return int(naive.replace(tzinfo=tz).timestamp())

    def filter_bound(self, value: str, dates_are_gmt: bool) -> int:
        """Where a ``modified_after``-style value lands on the GMT column (HPOS semantics, NOTES 3.1).

        dates_are_gmt=false: value without offset is site-local; with offset it is honoured.
        dates_are_gmt=true: value without offset is UTC; with offset it is first converted to
        site-local wall time and then compared to the GMT column as if it were UTC (the trap).
        """
        m = _RFC3339.match(value.strip())
        if not m:
            raise ValueError(value)
        naive = _naive(m)
        zone = m.group(8)
        if not dates_are_gmt:
            if zone:
                return int(_with_zone(naive, zone).timestamp())
            return int(naive.replace(tzinfo=self.tz).timestamp())
        if zone:
            local_wall = _with_zone(naive, zone).astimezone(self.tz).replace(tzinfo=None)
            return int(local_wall.replace(tzinfo=UTC).timestamp())
        return int(naive.replace(tzinfo=UTC).timestamp())


def _naive(m: re.Match[str]) -> datetime:
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    return datetime(y, mo, d, h, mi, s)


def is_rfc3339(value: str) -> bool:
    return bool(_RFC3339.match(value.strip()))


def _with_zone(naive: datetime, zone: str) -> datetime:
    if zone in ("Z", "z"):
        return naive.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    return naive.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def truthy(value: Any) -> bool:
    """WordPress ``rest_sanitize_boolean``: "false", "0", "" and 0 are false."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() not in ("", "0", "false", "no", "off")

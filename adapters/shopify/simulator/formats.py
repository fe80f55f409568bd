"""Value formats exactly as Shopify serialises them (NOTES §6)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

TWO = Decimal("0.01")


def gid(kind: str, num: int) -> str:
    return f"gid://shopify/{kind}/{num}"


def parse_gid(value: Any) -> tuple[str, int] | None:
    """``gid://shopify/Customer/12`` → ("Customer", 12); anything else → None."""
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        return None
    rest = value[len("gid://shopify/"):].split("?", 1)[0]
    parts = rest.split("/")
    if len(parts) != 2 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def decimal_text(d: Decimal) -> str:
    """GraphQL ``Decimal``: no fixed scale, trailing zeros dropped, one decimal kept."""
    s = format(d.normalize(), "f")
    if "." not in s:
        s += ".0"
    return "0.0" if s in ("-0.0", "-0") else s


def money_text(d: Decimal) -> str:
    """Deprecated ``Money`` scalar and webhook amounts: two decimals."""
    return str(d.quantize(TWO, rounding=ROUND_HALF_UP))


def money_v2(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": decimal_text(amount), "currencyCode": currency}


def money_bag(shop: Decimal, currency: str, presentment: Decimal | None = None,
              presentment_currency: str | None = None) -> dict[str, Any]:
    return {
        "shopMoney": money_v2(shop, currency),
        "presentmentMoney": money_v2(shop if presentment is None else presentment,
                                     presentment_currency or currency),
    }


def dt_text(d: datetime | None) -> str | None:
    """``DateTime``: UTC, whole seconds, ``Z``."""
    if d is None:
        return None
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip().replace("Z", "+00:00")
    d = datetime.fromisoformat(text)
    d = d if d.tzinfo else d.replace(tzinfo=UTC)
    return d.replace(microsecond=0)

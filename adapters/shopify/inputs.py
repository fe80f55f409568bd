"""Domain → GraphQL mutation inputs. Pure, so tests coerce every one against the 2026-01 schema.

Decimal inputs go as strings (``"5.00"``) and never through float; the one Float Shopify wants
is a discount percentage (0–1), which is not money. Times are sent as whole-second UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.shopify.mapping import loyalty_json
from connector.domain import Customer, IssueCoupon, normalise_phone
from connector.errors import InvalidValue

METAFIELD_NAMESPACE = "vinculo"
TIER_TAG_PREFIX = "vinculo-tier-"
METAFIELDS_PER_CALL = 25  # metafieldsSet refuses a 26th entry (NOTES §5.3)

# (key, type, name) of the customer metafields Vínculo publishes (LOYALTY §5.13).
LOYALTY_METAFIELDS: tuple[tuple[str, str, str], ...] = (
    ("loyalty", "json", "Loyalty balance"),
    ("points_available", "number_integer", "Loyalty points available"),
    ("tier", "single_line_text_field", "Loyalty tier"),
)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tier_tag(tier: str) -> str:
    """``Gold Plus`` → ``vinculo-tier-gold-plus`` (Shopify tags compare case-insensitively).

    The loyalty engine already sends the full tag (a program may name its own tags), so a value
    that carries the prefix is kept as it is instead of being prefixed twice.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", tier.strip().lower()).strip("-")
    if slug.startswith(TIER_TAG_PREFIX):
        return slug
    if not slug:
        raise InvalidValue(f"tier name {tier!r} gives an empty tag", reference="shopify-tier-invalid",
                           platform="shopify")
    return TIER_TAG_PREFIX + slug


def customer_input(customer: Customer, *, gid: str | None = None) -> dict[str, Any]:
    """``CustomerInput`` with only the fields we know, so an update never blanks Shopify's data.

    Shopify accepts only E.164 phones; a phone without a country code is left out rather than
    letting it reject the whole customer.
    """
    data: dict[str, Any] = {}
    if gid:
        data["id"] = gid
    if customer.email_key:
        data["email"] = customer.email_key
    phone = normalise_phone(customer.phone or customer.billing.phone)
    if phone and phone.startswith("+"):
        data["phone"] = phone
    if customer.first_name:
        data["firstName"] = customer.first_name
    if customer.last_name:
        data["lastName"] = customer.last_name
    return data


def loyalty_metafields(owner_gid: str, snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON snapshot plus typed ``points_available`` and ``tier`` for segments."""
    entries = [{
        "ownerId": owner_gid, "namespace": METAFIELD_NAMESPACE, "key": "loyalty", "type": "json",
        "value": loyalty_json(snapshot),
    }]
    points = snapshot.get("available", snapshot.get("points_available"))
    if points is not None:
        try:
            whole = Decimal(str(points))
        except ArithmeticError:
            whole = Decimal("NaN")
        if not whole.is_finite() or whole != whole.to_integral_value():
            raise InvalidValue(f"points {points!r} are not a whole number", reference="shopify-points-invalid",
                               platform="shopify")
        entries.append({"ownerId": owner_gid, "namespace": METAFIELD_NAMESPACE, "key": "points_available",
                        "type": "number_integer", "value": str(int(whole))})
    tier = snapshot.get("tier")
    if tier:
        entries.append({"ownerId": owner_gid, "namespace": METAFIELD_NAMESPACE, "key": "tier",
                        "type": "single_line_text_field", "value": str(tier)})
    return entries


def metafield_definition(key: str, type_name: str, name: str) -> dict[str, Any]:
    return {
        "namespace": METAFIELD_NAMESPACE, "key": key, "name": name, "ownerType": "CUSTOMER",
        "type": type_name, "access": {"storefront": "PUBLIC_READ"},
    }


def coupon_input(command: IssueCoupon, customer_gid: str) -> tuple[str, str, dict[str, Any]]:
    """(document, variable name, input) for the reward code: single use, this customer only."""
    base: dict[str, Any] = {
        "title": command.description or f"Reward {command.code}",
        "code": command.code,
        "startsAt": iso(command.starts_at),
        "endsAt": iso(command.expires_at),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"customers": {"add": [customer_gid]}},
    }
    if command.expires_at <= command.starts_at:
        raise InvalidValue(f"coupon {command.code} expires before it starts", reference="coupon-dates-invalid",
                           platform="shopify", obj=command.code)
    if command.min_subtotal is not None:
        base["minimumRequirement"] = {"subtotal": {"greaterThanOrEqualToSubtotal": str(command.min_subtotal.amount)}}
    if command.kind == "free_shipping":
        base["destination"] = {"all": True}
        if command.max_shipping is not None:
            base["maximumShippingPrice"] = str(command.max_shipping.amount)
        return "discount_free_shipping_create", "freeShippingCodeDiscount", base
    if command.kind == "fixed_amount":
        if command.amount is None or command.amount.amount <= 0:
            raise InvalidValue(f"coupon {command.code}: a fixed amount needs a positive amount",
                               reference="coupon-amount-invalid", platform="shopify", obj=command.code)
        value: dict[str, Any] = {"discountAmount": {"amount": str(command.amount.amount), "appliesOnEachItem": False}}
    elif command.kind == "percentage":
        if command.percent is None or not (0 < command.percent <= 100):
            raise InvalidValue(f"coupon {command.code}: percentage must be in (0, 100], got {command.percent}",
                               reference="coupon-percent-invalid", platform="shopify", obj=command.code)
        value = {"percentage": float(command.percent / 100)}
    else:
        raise InvalidValue(f"unknown reward kind {command.kind!r}", reference="coupon-kind-invalid",
                           platform="shopify", obj=command.code)
    base["customerGets"] = {"value": value, "items": {"all": True}}
    return "discount_basic_create", "basicCodeDiscount", base


def tracking_input(number: str, carrier: str, url: str) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if number:
        info["number"] = number
    if carrier:
        info["company"] = carrier
    if url:
        info["url"] = url
    return info

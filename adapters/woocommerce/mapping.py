"""WooCommerce JSON ↔ domain objects. Pure functions: no I/O, no clock, no adapter state.

Rules taken from the wire (NOTES §4): money arrives as strings (coupon-line discounts unformatted,
``"2"``) and is read with ``Decimal(str)``, never from the float line ``price``; dates come twice,
site-local ``date_x`` and UTC ``date_x_gmt``, both without a zone, so only the ``_gmt`` twin is
read as UTC; empty text is ``""``; a deleted product leaves ``sku: null``. A record that breaks a
rule raises a named error whose ``obj`` is the platform id, so the adapter can quarantine it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connector.domain import (
    Address,
    CouponLine,
    Customer,
    FeeLine,
    IssueCoupon,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    ShippingLine,
    check_currency,
    normalise_email,
    platform_id,
    to_decimal,
    utc,
)
from connector.errors import InvalidValue, MalformedPayload, MissingField, VinculoError

PLATFORM = "woo"

STATUS_MAP: Mapping[str, OrderStatus] = {
    "pending": OrderStatus.PENDING,
    "processing": OrderStatus.PAID,
    "on-hold": OrderStatus.ON_HOLD,
    "completed": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
    "checkout-draft": OrderStatus.DRAFT,
}

# Our own published customer meta (LOYALTY.md §5.13), read back to suppress echo writes.
LOYALTY_JSON_KEY = "_vinculo_loyalty"
PERK_META_KEY = "vinculo_perk_key"
TIER_TAG_KEY = "vinculo_tier_tag"  # the tier as a segment tag (SetTier); vinculo_tier is its name
LOYALTY_SCALAR_KEYS: Mapping[str, tuple[str, ...]] = {
    # meta key → snapshot keys accepted for it, first present wins
    "vinculo_points_available": ("available", "points_available"),
    "vinculo_points_pending": ("pending", "points_pending"),
    "vinculo_tier": ("tier",),
    "vinculo_next_reward": ("next_reward",),
    "vinculo_points_to_next_reward": ("points_to_next_reward",),
    "vinculo_expiring_points": ("expiring_points",),
    "vinculo_expiring_on": ("expiring_on",),
}
# Keys that change on every publish without the customer's numbers changing.
VOLATILE_SNAPSHOT_KEYS = frozenset({"as_of"})

_CUSTOMER_BILLING = ("first_name", "last_name", "company", "address_1", "address_2", "city",
                     "postcode", "country", "state", "email", "phone")
_CUSTOMER_SHIPPING = ("first_name", "last_name", "company", "address_1", "address_2", "city",
                      "postcode", "country", "state", "phone")


# --- small readers ---------------------------------------------------------------------------


def _text(value: object) -> str:
    return "" if value is None else str(value)


def parse_woo_date(value: object, *, what: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SS`` with or without a zone; naive stays naive for the caller to judge."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"{what} {value!r} is not a date", reference="date-invalid")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not an ISO 8601 date", reference="date-invalid") from None


def read_date(record: Mapping[str, Any], name: str, *, required: bool = False) -> datetime | None:
    """The ``<name>_gmt`` twin read as UTC. Without it, ``<name>`` counts only if it carries its
    own offset: a bare site-local time would be a guess (``date-without-zone``)."""
    gmt = record.get(f"{name}_gmt")
    if gmt not in (None, ""):
        parsed = parse_woo_date(gmt, what=f"{name}_gmt")
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    local = record.get(name)
    if local not in (None, ""):
        return utc(parse_woo_date(local, what=name), what=f"{name} (no {name}_gmt twin)")
    if required:
        raise MissingField(
            f"{name}_gmt is missing",
            reference="date-missing",
            hint=f"the store must send {name}_gmt (WooCommerce REST API v3)",
        )
    return None


def money(value: object, currency: str, *, what: str) -> Money:
    """A money string (``"44.88"``, ``"2"``, ``"-1.00"``); an absent amount is zero."""
    if value is None or value == "":
        return Money.zero(currency)
    return Money(to_decimal(value, what=what), currency)


def _positive(m: Money) -> Money:
    return Money(abs(m.amount), m.currency)


def _int(value: object, *, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidValue(f"{what} {value!r} is not an integer", reference="integer-invalid")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise InvalidValue(f"{what} {value!r} is not an integer", reference="integer-invalid")


def _object(value: object, *, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{what} is {type(value).__name__}, expected an object", reference="woo-shape-invalid")
    return value


def _list(value: object, *, what: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedPayload(f"{what} is {type(value).__name__}, expected a list", reference="woo-shape-invalid")
    return value


def meta_value_text(value: object) -> str:
    """Meta values as strings: we publish strings; arrays come back as JSON structures."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def meta_dict(meta_data: object) -> dict[str, str]:
    """``meta_data`` as key → value text; the first row per key wins, as update-by-key keeps it."""
    result: dict[str, str] = {}
    for row in _list(meta_data, what="meta_data"):
        if isinstance(row, Mapping) and isinstance(row.get("key"), str):
            result.setdefault(row["key"], meta_value_text(row.get("value")))
    return result


def _is_ours(key: str) -> bool:
    return key.startswith("vinculo_") or key == LOYALTY_JSON_KEY


def _stamp(err: VinculoError, source: str) -> VinculoError:
    if err.platform is None:
        err.platform = PLATFORM
    if err.obj is None:
        err.obj = source
    return err


def address_from_woo(data: object, *, what: str) -> Address:
    if data is None or data == []:  # PHP renders an empty array for unset addresses on some paths
        return Address()
    a = _object(data, what=what)
    return Address(
        first_name=_text(a.get("first_name")),
        last_name=_text(a.get("last_name")),
        company=_text(a.get("company")),
        line1=_text(a.get("address_1")),
        line2=_text(a.get("address_2")),
        city=_text(a.get("city")),
        state=_text(a.get("state")),
        postcode=_text(a.get("postcode")),
        country=_text(a.get("country")),
        phone=_text(a.get("phone")),
        email=_text(a.get("email")),
    )


# --- customers -------------------------------------------------------------------------------


def customer_from_woo(store: str, data: object) -> Customer:
    record = _object(data, what="customer")
    source = platform_id(PLATFORM, store, record.get("id"))
    try:
        local_id = _int(record.get("id"), what="customer id")
        source = platform_id(PLATFORM, store, local_id)
        email = normalise_email(_text(record.get("email")))
        if email is None:
            raise MissingField(
                "customer has no e-mail",
                reference="customer-email-missing",
                hint="give the account an e-mail in WordPress → Users; customers are matched by e-mail",
            )
        billing = address_from_woo(record.get("billing"), what="billing")
        meta = {k: v for k, v in meta_dict(record.get("meta_data")).items() if _is_ours(k)}
        return Customer(
            id=source,
            email=_text(record.get("email")).strip(),
            first_name=_text(record.get("first_name")),
            last_name=_text(record.get("last_name")),
            phone=billing.phone,
            billing=billing,
            shipping=address_from_woo(record.get("shipping"), what="shipping"),
            created_at=read_date(record, "date_created"),
            updated_at=read_date(record, "date_modified"),
            meta=meta,
        )
    except VinculoError as err:
        raise _stamp(err, source) from None


def _address_to_woo(address: Address, keys: Iterable[str], *, email: str = "", phone: str = "") -> dict[str, str]:
    values = {
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": address.company,
        "address_1": address.line1,
        "address_2": address.line2,
        "city": address.city,
        "postcode": address.postcode,
        "country": address.country,
        "state": address.state,
        "email": address.email or email,
        "phone": address.phone or phone,
    }
    return {k: values[k] for k in keys}


def customer_to_woo(customer: Customer, *, for_create: bool) -> dict[str, Any]:
    """Body for ``POST customers`` / a batch item. ``username`` is never sent: the store derives
    it on create and refuses to change it on update (NOTES §5.1)."""
    email = (customer.email or "").strip()
    if not email:
        raise MissingField(
            "a WooCommerce customer needs an e-mail",
            reference="customer-email-missing",
            platform=PLATFORM,
            obj=customer.id,
            hint="add an e-mail to the customer in the ERP; WooCommerce accounts are keyed by e-mail",
        )
    body: dict[str, Any] = {
        "email": email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
    }
    billing = customer.billing
    if for_create or not billing.is_empty() or customer.phone:
        body["billing"] = _address_to_woo(billing, _CUSTOMER_BILLING, email=email, phone=customer.phone)
    if for_create or not customer.shipping.is_empty():
        body["shipping"] = _address_to_woo(customer.shipping, _CUSTOMER_SHIPPING)
    return body


# --- orders ----------------------------------------------------------------------------------


def status_from_woo(value: object) -> OrderStatus:
    status = STATUS_MAP.get(_text(value))
    if status is None:
        raise InvalidValue(
            f"order status {value!r} is not one Vínculo knows",
            reference="order-status-unknown",
            hint="a plugin added a custom status; map it to a WooCommerce core status or extend the mapping",
        )
    return status


def line_from_woo(data: object, currency: str) -> OrderLine:
    line = _object(data, what="line item")
    line_id = _text(line.get("id"))
    name = _text(line.get("name"))
    sku = line.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise MissingField(
            f"line {line_id} ({name!r}) has no SKU",
            reference="line-sku-missing",
            hint="give the product a SKU in WooCommerce (a deleted product leaves none); "
            "the order stays quarantined until then, then retry it",
        )
    product = line.get("variation_id") or line.get("product_id") or ""
    return OrderLine(
        line_id=line_id,
        sku=sku.strip(),
        name=name,
        quantity=_int(line.get("quantity"), what=f"line {line_id} quantity"),
        subtotal=money(line.get("subtotal"), currency, what="line subtotal"),
        total=money(line.get("total"), currency, what="line total"),
        total_tax=money(line.get("total_tax"), currency, what="line total_tax"),
        product_id=_text(product),
    )


def refund_from_woo(store: str, order_id: str, data: object, currency: str) -> Refund:
    """A full refund object (``orders/{id}/refunds`` or ``refunds``). Woo stores refund lines
    with negative quantities and totals; the domain keeps positive amounts."""
    record = _object(data, what="refund")
    local_id = _int(record.get("id"), what="refund id")
    lines = []
    for raw in _list(record.get("line_items"), what="refund line_items"):
        item = _object(raw, what="refund line")
        lines.append(
            RefundLine(
                line_id=_text(item.get("id")),
                sku=_text(item.get("sku")).strip(),
                quantity=abs(_int(item.get("quantity") or 0, what="refund line quantity")),
                amount=_positive(money(item.get("total"), currency, what="refund line total")),
            )
        )
    shipping_lines = _list(record.get("shipping_lines"), what="refund shipping_lines")
    shipping = None
    if shipping_lines:
        shipping = _positive(
            sum(
                (money(_object(s, what="refund shipping").get("total"), currency, what="refund shipping")
                 for s in shipping_lines),
                Money.zero(currency),
            )
        )
    created = read_date(record, "date_created", required=True)
    assert created is not None
    return Refund(
        id=platform_id(PLATFORM, store, local_id),
        order_id=order_id,
        created_at=created,
        amount=_positive(money(record.get("amount"), currency, what="refund amount")),
        reason=_text(record.get("reason")),
        lines=tuple(lines),
        shipping=shipping,
    )


def refund_ids(order: object) -> list[int]:
    """Ids from the order's ``refunds[]`` summary ({id, reason, total}); [] when none."""
    if not isinstance(order, Mapping):
        return []
    ids = []
    for row in order.get("refunds") or ():
        if isinstance(row, Mapping) and isinstance(row.get("id"), int) and not isinstance(row.get("id"), bool):
            ids.append(row["id"])
    return ids


def order_from_woo(store: str, data: object, refunds: Sequence[object] = ()) -> Order:
    """Map one order. ``refunds`` are the full refund objects of the ids in its summary."""
    record = _object(data, what="order")
    source = platform_id(PLATFORM, store, record.get("id"))
    try:
        local_id = _int(record.get("id"), what="order id")
        source = platform_id(PLATFORM, store, local_id)
        currency = check_currency(record.get("currency"))
        billing = address_from_woo(record.get("billing"), what="billing")
        customer_local = _int(record.get("customer_id") or 0, what="customer_id")
        created = read_date(record, "date_created", required=True)
        updated = read_date(record, "date_modified", required=True)
        assert created is not None and updated is not None
        lines = tuple(line_from_woo(x, currency) for x in _list(record.get("line_items"), what="line_items"))
        shipping_lines = tuple(
            ShippingLine(
                line_id=_text(s.get("id")),
                method=_text(s.get("method_id")),
                title=_text(s.get("method_title")),
                total=money(s.get("total"), currency, what="shipping total"),
                total_tax=money(s.get("total_tax"), currency, what="shipping total_tax"),
            )
            for s in (_object(x, what="shipping line") for x in _list(record.get("shipping_lines"), what="shipping_lines"))
        )
        fee_lines = tuple(
            FeeLine(
                line_id=_text(f.get("id")),
                name=_text(f.get("name")),
                total=money(f.get("total"), currency, what="fee total"),
                total_tax=money(f.get("total_tax"), currency, what="fee total_tax"),
            )
            for f in (_object(x, what="fee line") for x in _list(record.get("fee_lines"), what="fee_lines"))
        )
        coupon_lines = tuple(
            CouponLine(
                code=_text(c.get("code")).lower(),
                discount=money(c.get("discount"), currency, what="coupon discount"),
                discount_tax=money(c.get("discount_tax"), currency, what="coupon discount_tax"),
                free_shipping=bool(c.get("free_shipping")),
            )
            for c in (_object(x, what="coupon line") for x in _list(record.get("coupon_lines"), what="coupon_lines"))
        )
        mapped_refunds = tuple(
            sorted(
                (refund_from_woo(store, source, r, currency) for r in refunds),
                key=lambda r: (r.created_at, r.id),
            )
        )
        return Order(
            id=source,
            number=_text(record.get("number")) or str(local_id),
            currency=currency,
            status=status_from_woo(record.get("status")),
            created_at=created,
            updated_at=updated,
            email=billing.email.strip() or None,
            customer_id=platform_id(PLATFORM, store, customer_local) if customer_local else None,
            lines=lines,
            total=money(record.get("total"), currency, what="order total"),
            total_tax=money(record.get("total_tax"), currency, what="order total_tax"),
            shipping_total=money(record.get("shipping_total"), currency, what="shipping_total"),
            discount_total=money(record.get("discount_total"), currency, what="discount_total"),
            shipping_lines=shipping_lines,
            fee_lines=fee_lines,
            coupon_lines=coupon_lines,
            refunds=mapped_refunds,
            billing=billing,
            shipping=address_from_woo(record.get("shipping"), what="shipping"),
            paid_at=read_date(record, "date_paid"),
            completed_at=read_date(record, "date_completed"),
            prices_include_tax=bool(record.get("prices_include_tax")),
        )
    except VinculoError as err:
        raise _stamp(err, source) from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise MalformedPayload(
            f"order has an unexpected shape: {type(exc).__name__}",
            reference="woo-shape-invalid",
            platform=PLATFORM,
            obj=source,
        ) from None


# --- coupons ---------------------------------------------------------------------------------


def _amount_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def woo_datetime(value: datetime) -> str:
    """An instant with an explicit ``Z``: a bare value would be read as site-local time."""
    return utc(value, what="coupon date").strftime("%Y-%m-%dT%H:%M:%SZ")


def coupon_to_woo(command: IssueCoupon) -> dict[str, Any]:
    """Body for ``POST coupons`` (NOTES §6.1). Not expressible on Woo, and so not sent:
    ``starts_at`` (the coupon is valid once created) and ``max_shipping``."""
    body: dict[str, Any] = {"code": command.code.strip().lower()}
    if command.kind == "fixed_amount":
        if command.amount is None:
            raise MissingField("fixed_amount coupon without amount", reference="coupon-amount-missing",
                               platform=PLATFORM, obj=command.key)
        body.update(discount_type="fixed_cart", amount=_amount_text(command.amount.amount))
    elif command.kind == "percentage":
        if command.percent is None:
            raise MissingField("percentage coupon without percent", reference="coupon-amount-missing",
                               platform=PLATFORM, obj=command.key)
        body.update(discount_type="percent", amount=_amount_text(command.percent))
    elif command.kind == "free_shipping":
        body.update(discount_type="fixed_cart", amount="0", free_shipping=True)
    else:
        raise InvalidValue(f"reward kind {command.kind!r} unknown", reference="coupon-kind-unknown",
                           platform=PLATFORM, obj=command.key)
    body.update(
        individual_use=True,
        usage_limit=1,
        usage_limit_per_user=1,
        email_restrictions=[command.email.strip().lower()],
        date_expires=woo_datetime(command.expires_at),
        description=command.description,
        meta_data=[{"key": PERK_META_KEY, "value": command.key}],
    )
    if command.min_subtotal is not None:
        body["minimum_amount"] = format(command.min_subtotal.amount, "f")
    return body


def coupon_perk_key(coupon: object) -> str | None:
    if not isinstance(coupon, Mapping):
        return None
    return meta_dict(coupon.get("meta_data")).get(PERK_META_KEY)


# --- loyalty meta ----------------------------------------------------------------------------


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


def snapshot_json(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(dict(snapshot), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def loyalty_meta(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Customer meta for a balance snapshot: the JSON under ``_vinculo_loyalty`` and one string
    per figure, because scalar strings round-trip unchanged (NOTES §5.4)."""
    meta = {LOYALTY_JSON_KEY: snapshot_json(snapshot)}
    for key, sources in LOYALTY_SCALAR_KEYS.items():
        value = next((snapshot[s] for s in sources if s in snapshot), None)
        meta[key] = _scalar_text(value)
    return meta


def _comparable(key: str, value: str) -> object:
    if key != LOYALTY_JSON_KEY:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        return {k: v for k, v in parsed.items() if k not in VOLATILE_SNAPSHOT_KEYS}
    return parsed


def meta_is_current(current: Mapping[str, str], desired: Mapping[str, str]) -> bool:
    """True when the store already holds ``desired`` (ignoring ``as_of``): then writing would
    only bump ``date_modified`` and fire a webhook back at us."""
    return all(
        key in current and _comparable(key, current[key]) == _comparable(key, value)
        for key, value in desired.items()
    )


def meta_to_woo(meta: Mapping[str, str]) -> list[dict[str, str]]:
    """Update-by-key rows (no ids): the store updates the first row with each key."""
    return [{"key": k, "value": v} for k, v in meta.items()]

"""Shopify GraphQL JSON → Vínculo domain objects. Pure functions: no I/O, no clock.

Choices that matter for loyalty and the ERP mirror (LOYALTY.md §5.2, NOTES §4.3, §6):

- Money is read in **shop currency** (``MoneyBag.shopMoney``); presentment money is what the
  buyer saw, the ERP and the ledger work in the shop's currency. Amounts are Decimal strings with
  no fixed scale (``"13.5"``), compared as Decimal.
- A line's total after discounts is ``originalTotalSet`` minus the line's ``discountAllocations``
  (Shopify's own per-line allocation of line, code *and* order-level discounts). Shopify's
  ``discountedTotalSet`` leaves order-level discounts out, so it is not the loyalty basis. When
  the order's prices include tax the line's tax is subtracted, so totals always exclude tax.
- Status comes from ``displayFinancialStatus`` / ``displayFulfillmentStatus`` / ``cancelledAt``.
- A record that cannot become a domain object raises a named ``DataError``; the adapter turns it
  into a ``Rejected`` for quarantine and carries on with the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from connector.domain import (
    Address,
    CouponLine,
    Customer,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    ShippingLine,
    platform_id,
    utc,
)
from connector.errors import DataError, InvalidValue, MalformedPayload, MissingField
from connector.ports import Page, Rejected

PLATFORM = "shopify"
T = TypeVar("T")

_FINANCIAL = {
    "PENDING": OrderStatus.PENDING,
    "AUTHORIZED": OrderStatus.ON_HOLD,  # payment authorised, not captured: not yet earned
    "PARTIALLY_PAID": OrderStatus.PAID,
    "PAID": OrderStatus.PAID,
    "PARTIALLY_REFUNDED": OrderStatus.PAID,
    "REFUNDED": OrderStatus.REFUNDED,
    "VOIDED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.FAILED,
}
_FULFILLED = frozenset({"FULFILLED"})


# --- small readers ------------------------------------------------------------------------------


def gid_type(gid: str) -> str:
    """``gid://shopify/Order/1`` → ``Order`` (MailingAddress gids may carry a query string)."""
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
        raise InvalidValue(f"{gid!r} is not a Shopify global id", reference="shopify-gid-invalid",
                           platform=PLATFORM)
    return gid.split("/")[3]


def parse_time(value: object, *, what: str, obj: str | None = None) -> datetime:
    """Shopify DateTime (``2026-07-14T15:49:38Z``, or a shop-local offset in webhooks) → UTC."""
    if not isinstance(value, str) or not value:
        raise MissingField(f"{what} is missing", reference="shopify-date-missing",
                           platform=PLATFORM, obj=obj)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not an ISO 8601 time", reference="shopify-date-invalid",
                           platform=PLATFORM, obj=obj) from None
    return utc(parsed, what=what)


def _opt_time(value: object, *, what: str, obj: str | None) -> datetime | None:
    return parse_time(value, what=what, obj=obj) if value else None


def money(value: object, *, what: str, obj: str | None = None) -> Money:
    """``MoneyBag`` (shop money) or ``MoneyV2`` → :class:`Money`."""
    if isinstance(value, Mapping) and "shopMoney" in value:
        value = value["shopMoney"]
    if not isinstance(value, Mapping) or "amount" not in value or "currencyCode" not in value:
        raise MissingField(f"{what} is missing", reference="shopify-money-missing",
                           platform=PLATFORM, obj=obj)
    return Money.of(value["amount"], str(value["currencyCode"]))


def _opt_money(value: object, currency: str, *, what: str, obj: str | None) -> Money:
    return money(value, what=what, obj=obj) if value else Money.zero(currency)


def nodes(connection: object) -> list[dict[str, Any]]:
    """Items of a connection read with ``nodes`` or ``edges { node }``, or of a plain list."""
    if connection is None:
        return []
    if isinstance(connection, list):
        return [n for n in connection if isinstance(n, dict)]
    if isinstance(connection, Mapping):
        if "nodes" in connection:
            return [n for n in connection["nodes"] or [] if isinstance(n, dict)]
        if "edges" in connection:
            return [e["node"] for e in connection["edges"] or [] if isinstance(e, dict) and e.get("node")]
    raise MalformedPayload(f"expected a connection, got {type(connection).__name__}",
                           reference="shopify-connection-malformed", platform=PLATFORM)


def _sum(items: Iterable[Money], currency: str) -> Money:
    return sum(items, Money.zero(currency))


def _tax(line: Mapping[str, Any], currency: str, obj: str) -> Money:
    return _sum((money(t.get("priceSet"), what="tax line", obj=obj) for t in line.get("taxLines") or []),
                currency)


def _allocations(line: Mapping[str, Any], currency: str, obj: str) -> list[tuple[str | None, Money]]:
    out: list[tuple[str | None, Money]] = []
    for alloc in line.get("discountAllocations") or []:
        amount = money(alloc.get("allocatedAmountSet"), what="discount allocation", obj=obj)
        app = alloc.get("discountApplication") or {}
        out.append((app.get("code") if isinstance(app, Mapping) else None, amount))
    return out


def address(raw: object) -> Address:
    if not isinstance(raw, Mapping):
        return Address()
    return Address(
        first_name=raw.get("firstName") or "",
        last_name=raw.get("lastName") or "",
        company=raw.get("company") or "",
        line1=raw.get("address1") or "",
        line2=raw.get("address2") or "",
        city=raw.get("city") or "",
        state=raw.get("provinceCode") or raw.get("province") or "",
        postcode=raw.get("zip") or "",
        country=raw.get("countryCodeV2") or "",
        phone=raw.get("phone") or "",
    )


# --- customers ----------------------------------------------------------------------------------


def customer_email(node: Mapping[str, Any]) -> str | None:
    box = node.get("defaultEmailAddress")
    if isinstance(box, Mapping) and box.get("emailAddress"):
        return str(box["emailAddress"])
    return node.get("email") or None


def customer_phone(node: Mapping[str, Any]) -> str:
    box = node.get("defaultPhoneNumber")
    if isinstance(box, Mapping) and box.get("phoneNumber"):
        return str(box["phoneNumber"])
    return node.get("phone") or ""


def map_customer(node: Mapping[str, Any], store: str) -> Customer:
    """A Customer node (our CustomerFields fragment or a capture of it) → :class:`Customer`."""
    gid = node.get("id")
    if not gid:
        raise MissingField("customer without id", reference="shopify-customer-id-missing", platform=PLATFORM)
    pid = platform_id(PLATFORM, store, gid)
    email = customer_email(node)
    phone = customer_phone(node)
    if not email and not phone:
        raise MissingField(
            f"customer {gid} has neither e-mail nor phone",
            reference="shopify-customer-unidentifiable",
            platform=PLATFORM,
            obj=pid,
            hint="the shop may hide protected customer data from this app (Level 2 access needed)",
        )
    meta: dict[str, str] = {}
    for alias, key in (("loyalty", "vinculo_loyalty"), ("pointsAvailable", "vinculo_points_available"),
                       ("tier", "vinculo_tier")):
        field = node.get(alias)
        if isinstance(field, Mapping) and field.get("value") is not None:
            meta[key] = str(field["value"])
    billing = address(node.get("defaultAddress"))
    return Customer(
        id=pid,
        email=email,
        first_name=node.get("firstName") or "",
        last_name=node.get("lastName") or "",
        phone=phone,
        billing=billing,
        shipping=billing,
        tags=tuple(node.get("tags") or ()),
        created_at=_opt_time(node.get("createdAt"), what="createdAt", obj=pid),
        updated_at=_opt_time(node.get("updatedAt"), what="updatedAt", obj=pid),
        meta=meta,
    )


# --- orders -------------------------------------------------------------------------------------


def order_status(financial: object, fulfillment: object, cancelled_at: object) -> OrderStatus:
    """Shopify's two display statuses plus cancellation → one :class:`OrderStatus`."""
    if cancelled_at:
        return OrderStatus.CANCELLED
    if not isinstance(financial, str) or financial not in _FINANCIAL:
        raise InvalidValue(f"unknown financial status {financial!r}", reference="shopify-status-unknown",
                           platform=PLATFORM)
    status = _FINANCIAL[financial]
    if status is OrderStatus.PAID and fulfillment in _FULFILLED:
        return OrderStatus.COMPLETED
    return status


def map_line(node: Mapping[str, Any], currency: str, *, taxes_included: bool, obj: str) -> OrderLine:
    line_id = str(node.get("id") or "")
    where = f"{obj} line {line_id}"
    if "quantity" not in node:
        raise MissingField(f"{where}: quantity missing", reference="shopify-line-malformed",
                           platform=PLATFORM, obj=obj)
    quantity = int(node["quantity"])
    if node.get("originalTotalSet"):
        original = money(node["originalTotalSet"], what="line originalTotalSet", obj=where)
    elif node.get("originalUnitPriceSet"):
        original = money(node["originalUnitPriceSet"], what="line originalUnitPriceSet", obj=where) * quantity
    else:
        raise MissingField(f"{where}: no price", reference="shopify-line-malformed", platform=PLATFORM, obj=obj)
    _same_currency(original, currency, where)
    tax = _tax(node, currency, where)
    allocations = _allocations(node, currency, where)
    if allocations:
        discounts = _sum((amount for _, amount in allocations), currency)
    elif node.get("totalDiscountSet"):
        # No allocation list read: the line-level total is all there is to go on.
        discounts = money(node["totalDiscountSet"], what="line totalDiscountSet", obj=where)
    else:
        discounts = Money.zero(currency)
    subtotal = original
    total = original - discounts
    if taxes_included:
        subtotal = subtotal - tax
        total = total - tax
    product = node.get("product")
    return OrderLine(
        line_id=line_id,
        sku=node.get("sku") or "",
        name=node.get("name") or node.get("title") or "",
        quantity=quantity,
        subtotal=subtotal,
        total=total,
        total_tax=tax,
        product_id=str(product["id"]) if isinstance(product, Mapping) and product.get("id") else "",
        is_gift_card=bool(node.get("isGiftCard")),
    )


def map_shipping_line(node: Mapping[str, Any], currency: str, *, taxes_included: bool, obj: str) -> ShippingLine:
    where = f"{obj} shipping {node.get('title', '')}"
    tax = _tax(node, currency, where)
    if node.get("discountedPriceSet"):
        total = money(node["discountedPriceSet"], what="shipping discountedPriceSet", obj=where)
    else:
        total = money(node.get("originalPriceSet"), what="shipping price", obj=where)
    if taxes_included:
        total = total - tax
    return ShippingLine(
        line_id=str(node.get("id") or ""),
        method=node.get("code") or "",
        title=node.get("title") or "",
        total=total,
        total_tax=tax,
    )


def map_refund(node: Mapping[str, Any], order_id: str, currency: str, store: str, *,
               taxes_included: bool = False) -> Refund:
    gid = node.get("id")
    if not gid:
        raise MissingField(f"refund on {order_id} without id", reference="shopify-refund-malformed",
                           platform=PLATFORM, obj=order_id)
    pid = platform_id(PLATFORM, store, gid)
    conn = node.get("refundLineItems")
    if isinstance(conn, Mapping) and (conn.get("pageInfo") or {}).get("hasNextPage"):
        raise MalformedPayload(
            f"refund {gid} has more lines than one page holds", reference="shopify-refund-too-long",
            platform=PLATFORM, obj=order_id, hint="read the refund on its own and retry the order",
        )
    lines = []
    for item in nodes(conn):
        amount = money(item.get("subtotalSet"), what="refund line subtotalSet", obj=pid)
        if taxes_included and item.get("totalTaxSet"):
            amount = amount - money(item["totalTaxSet"], what="refund line tax", obj=pid)
        line = item.get("lineItem") or {}
        lines.append(RefundLine(
            line_id=str(line.get("id") or ""),
            sku=line.get("sku") or "",
            quantity=int(item.get("quantity") or 0),
            amount=amount,
        ))
    total = money(node.get("totalRefundedSet"), what="refund totalRefundedSet", obj=pid)
    _same_currency(total, currency, pid)
    return Refund(
        id=pid,
        order_id=order_id,
        created_at=parse_time(node.get("createdAt"), what="refund createdAt", obj=pid),
        amount=total,
        reason=node.get("note") or "",
        lines=tuple(lines),
    )


def _coupons(line_nodes: list[dict[str, Any]], shipping_nodes: list[dict[str, Any]],
             codes: Iterable[str], currency: str, obj: str) -> tuple[CouponLine, ...]:
    per_code: dict[str, Money] = {}
    shipping_only: dict[str, bool] = {}
    for is_shipping, group in ((False, line_nodes), (True, shipping_nodes)):
        for node in group:
            for code, amount in _allocations(node, currency, obj):
                if code is None:
                    continue
                key = code.upper()
                per_code[key] = per_code.get(key, Money.zero(currency)) + amount
                shipping_only[key] = shipping_only.get(key, True) and is_shipping
    result = []
    for code in codes:
        key = code.upper()
        result.append(CouponLine(
            code=code,
            discount=per_code.get(key, Money.zero(currency)),
            discount_tax=Money.zero(currency),
            free_shipping=bool(shipping_only.get(key)) and key in per_code,
        ))
    return tuple(result)


def _same_currency(m: Money, currency: str, where: str) -> None:
    if m.currency != currency:
        raise InvalidValue(f"{where}: amount in {m.currency} on a {currency} order",
                           reference="currency-mismatch", platform=PLATFORM, obj=where)


def map_order(node: Mapping[str, Any], store: str, *, taxes_included: bool = False) -> Order:
    """An Order node (our OrderFields fragment, a bulk line rebuilt, or a capture) → :class:`Order`.

    ``taxes_included`` is the shop's setting, used when the node does not carry the order's own
    ``taxesIncluded``.
    """
    gid = node.get("id")
    if not gid:
        raise MissingField("order without id", reference="shopify-order-id-missing", platform=PLATFORM)
    pid = platform_id(PLATFORM, store, gid)
    total_raw = node.get("totalPriceSet") or node.get("currentTotalPriceSet")
    total = money(total_raw, what="totalPriceSet", obj=pid)
    currency = node.get("currencyCode") or total.currency
    _same_currency(total, currency, pid)
    created = parse_time(node.get("createdAt"), what="createdAt", obj=pid)
    updated = parse_time(node.get("updatedAt"), what="updatedAt", obj=pid)
    status = order_status(node.get("displayFinancialStatus"), node.get("displayFulfillmentStatus"),
                          node.get("cancelledAt"))
    if "taxesIncluded" in node:
        taxes_included = bool(node["taxesIncluded"])
    line_nodes = nodes(node.get("lineItems"))
    shipping_nodes = nodes(node.get("shippingLines"))
    lines = tuple(map_line(n, currency, taxes_included=taxes_included, obj=pid) for n in line_nodes)
    shipping = tuple(map_shipping_line(n, currency, taxes_included=taxes_included, obj=pid)
                     for n in shipping_nodes)
    refunds = tuple(map_refund(r, pid, currency, store, taxes_included=taxes_included)
                    for r in nodes(node.get("refunds")))
    customer = node.get("customer")
    customer_gid = customer.get("id") if isinstance(customer, Mapping) else None
    email = node.get("email") or (customer.get("email") if isinstance(customer, Mapping) else None)
    fulfilled = [f.get("createdAt") for f in node.get("fulfillments") or [] if f.get("createdAt")]
    processed = _opt_time(node.get("processedAt"), what="processedAt", obj=pid)
    return Order(
        id=pid,
        number=str(node.get("name") or ""),
        currency=currency,
        status=status,
        created_at=created,
        updated_at=updated,
        email=email or None,
        customer_id=platform_id(PLATFORM, store, customer_gid) if customer_gid else None,
        lines=lines,
        total=total,
        total_tax=_opt_money(node.get("totalTaxSet"), currency, what="totalTaxSet", obj=pid),
        shipping_total=_opt_money(node.get("totalShippingPriceSet"), currency,
                                  what="totalShippingPriceSet", obj=pid),
        discount_total=_opt_money(node.get("totalDiscountsSet"), currency, what="totalDiscountsSet", obj=pid),
        shipping_lines=shipping,
        coupon_lines=_coupons(line_nodes, shipping_nodes, node.get("discountCodes") or (), currency, pid),
        refunds=refunds,
        billing=address(node.get("billingAddress")),
        shipping=address(node.get("shippingAddress")),
        paid_at=(processed or created) if status.is_paid else None,
        completed_at=max(parse_time(t, what="fulfillment createdAt", obj=pid) for t in fulfilled)
        if status is OrderStatus.COMPLETED and fulfilled else None,
        prices_include_tax=taxes_included,
    )


def node_updated_at(node: Mapping[str, Any]) -> datetime | None:
    """The change time of a raw node, for watermarks even when the node is rejected."""
    try:
        return parse_time(node.get("updatedAt"), what="updatedAt")
    except (MissingField, InvalidValue):
        return None


def loyalty_json(snapshot: Mapping[str, Any]) -> str:
    """The ``vinculo.loyalty`` JSON metafield value: stable key order, Decimals as strings."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    raise TypeError(f"cannot serialise {type(value).__name__}")


# --- pages ----------------------------------------------------------------------------------------


def page_from(
    raw_nodes: Iterable[Mapping[str, Any]],
    mapper: Callable[[Mapping[str, Any], str], T],
    store: str,
    *,
    skip: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Page[T]:
    """Map a page of nodes; a bad node becomes a :class:`Rejected` (quarantine), never an
    exception, and still counts towards ``high_water`` so the watermark can pass it."""
    items: list[T] = []
    rejected: list[Rejected] = []
    high: datetime | None = None
    for node in raw_nodes:
        changed = node_updated_at(node)
        if changed is not None and (high is None or changed > high):
            high = changed
        if skip is not None and skip(node):
            continue
        try:
            items.append(mapper(node, store))
        except DataError as err:
            gid = node.get("id")
            source = platform_id(PLATFORM, store, gid) if gid else f"{PLATFORM}:{store}:?"
            rejected.append(Rejected(source=source, error=err, payload=dict(node)))
    return Page(items=items, rejected=rejected, high_water=high)

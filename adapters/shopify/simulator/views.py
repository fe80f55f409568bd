"""Read model: stored objects rendered as GraphQL-shaped dicts for graphql-core.

Each view is a dict keyed by schema field name; values that need arguments (connections,
``metafield(namespace:, key:)``) are callables the default resolver invokes with the
field's arguments. A field a view does not know resolves to null, which graphql-core turns
into an error for non-null fields, so unsupported selections fail loudly instead of
returning invented data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from . import search as s
from .connections import check_window, list_connection, paginate
from .formats import decimal_text, dt_text, gid, money_bag, money_text, money_v2, parse_gid
from .pricing import DiscountApplication, TaxLine
from .store import (
    Address,
    BulkOperation,
    Customer,
    Discount,
    Fulfillment,
    LineItem,
    Metafield,
    MetafieldDefinition,
    Order,
    Refund,
    ShippingLine,
    Store,
    WebhookSubscription,
)


@dataclass
class Context:
    store: Store
    base_url: str
    api_version: str
    search: list[dict[str, Any]] = field(default_factory=list)


def resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Default resolver over view dicts; callables receive (info, args)."""
    if isinstance(source, dict):
        v = source.get(info.field_name)
        if callable(v):
            return v(info, args)
        return v
    return None


def _resp_key(info: GraphQLResolveInfo) -> str:
    node = info.field_nodes[0]
    return node.alias.value if node.alias else node.name.value


def _search(info: GraphQLResolveInfo | None, q: str | None, fields: dict[str, s.FieldSpec],
            free: Callable[[Any], str]) -> s.SearchResult:
    res = s.compile_search(q, fields, free)
    if res.warnings and info is not None:
        ctx: Context = info.context
        ctx.search.append({"path": list(info.path.as_list()), "query": q, "parsed": res.parsed,
                           "warnings": res.warnings})
    return res


# -- addresses, metafields -------------------------------------------------------------

def address_view(a: Address | None, model: str = "CustomerAddress") -> dict[str, Any] | None:
    if a is None:
        return None
    parts = [p for p in (a.city, a.country) if p]
    name = " ".join(p for p in (a.first_name, a.last_name) if p) or None
    return {
        "__typename": "MailingAddress",
        "id": f"gid://shopify/MailingAddress/{a.id}?model_name={model}",
        "address1": a.address1, "address2": a.address2, "city": a.city,
        "province": a.province, "provinceCode": a.province_code, "country": a.country,
        "countryCodeV2": a.country_code, "countryCode": a.country_code, "zip": a.zip,
        "firstName": a.first_name, "lastName": a.last_name, "name": name, "phone": a.phone,
        "company": a.company, "formattedArea": ", ".join(parts) or None,
        "formatted": lambda _i, _a: [p for p in (a.address1, a.city, a.zip, a.country) if p],
    }


def metafield_view(m: Metafield) -> dict[str, Any]:
    return {
        "__typename": "Metafield",
        "id": gid("Metafield", m.id), "legacyResourceId": str(m.id),
        "namespace": m.namespace, "key": m.key, "type": m.type, "value": m.value,
        "jsonValue": json_value(m.type, m.value), "ownerType": m.owner_type.upper(),
        "createdAt": dt_text(m.created_at), "updatedAt": dt_text(m.updated_at),
        "compareDigest": m.digest, "description": None,
    }


def json_value(type_: str, value: str) -> Any:
    import json as _json

    if type_ == "number_integer":
        return int(value)
    if type_ == "boolean":
        return True if value == "true" else "false"
    if type_ in ("json", "money", "rating", "dimension", "volume", "weight") or type_.startswith("list."):
        try:
            return _json.loads(value)
        except ValueError:
            return value
    return value


def _metafield_fields(store: Store, owner_type: str, owner_id: int) -> dict[str, Any]:
    def one(_info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
        ns = args.get("namespace") or f"app--{store.app_id}"
        ns = resolve_namespace(store, ns)
        m = store.owner_metafields(owner_type, owner_id).get((ns, args["key"]))
        return metafield_view(m) if m else None

    def many(_info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
        items = list(store.owner_metafields(owner_type, owner_id).values())
        if args.get("namespace"):
            ns = resolve_namespace(store, args["namespace"])
            items = [m for m in items if m.namespace == ns]
        if args.get("keys"):
            keys = set(args["keys"])
            items = [m for m in items if f"{m.namespace}.{m.key}" in keys]
        return list_connection(items, args, metafield_view)

    return {"metafield": one, "metafields": many}


def resolve_namespace(store: Store, ns: str) -> str:
    if ns.startswith("$app:"):
        return f"app--{store.app_id}--{ns[5:]}"
    if ns == "$app":
        return f"app--{store.app_id}"
    return ns


# -- customers ---------------------------------------------------------------------------

CUSTOMER_SEARCH: dict[str, s.FieldSpec] = {
    "email": s.FieldSpec(s.EXACT, lambda c: c.email),
    "phone": s.FieldSpec(s.EXACT, lambda c: c.phone),
    "first_name": s.FieldSpec(s.EXACT, lambda c: c.first_name),
    "last_name": s.FieldSpec(s.EXACT, lambda c: c.last_name),
    "tag": s.FieldSpec(s.TAG, lambda c: c.tags),
    "state": s.FieldSpec(s.ENUM, lambda c: c.state,
                         frozenset({"DISABLED", "ENABLED", "INVITED", "DECLINED"})),
    "country": s.FieldSpec(s.TEXT, lambda c: c.address.country if c.address else None),
    "updated_at": s.FieldSpec(s.DATE, lambda c: c.updated_at),
    "created_at": s.FieldSpec(s.DATE, lambda c: c.created_at),
    "id": s.FieldSpec(s.ID, lambda c: c.id),
    "orders_count": s.FieldSpec(s.NUMBER, lambda c: Decimal(c.number_of_orders)),
    "amount_spent": s.FieldSpec(s.NUMBER, lambda c: c.amount_spent),
}
CUSTOMER_COUNT_SEARCH = {k: CUSTOMER_SEARCH[k] for k in ("created_at", "updated_at", "id")}
CUSTOMER_SORT: dict[str, tuple[Callable[[Any], Any], str | None]] = {
    "ID": (lambda c: c.id, None),
    "RELEVANCE": (lambda c: c.id, None),
    "UPDATED_AT": (lambda c: c.updated_at, "updated_at"),
    "CREATED_AT": (lambda c: c.created_at, "created_at"),
    "NAME": (lambda c: f"{c.first_name or ''} {c.last_name or ''}".strip().lower(), None),
    "LOCATION": (lambda c: (c.address.country or "") if c.address else "", None),
}


def _customer_text(c: Customer) -> str:
    return " ".join(x for x in (c.first_name, c.last_name, c.email, c.phone) if x)


def customer_view(store: Store, c: Customer) -> dict[str, Any]:
    display = " ".join(x for x in (c.first_name, c.last_name) if x) or c.email or c.phone or ""
    v: dict[str, Any] = {
        "__typename": "Customer",
        "id": gid("Customer", c.id), "legacyResourceId": str(c.id),
        "firstName": c.first_name, "lastName": c.last_name, "displayName": display,
        "email": c.email, "phone": c.phone, "locale": c.locale, "note": c.note,
        "verifiedEmail": c.verified_email, "taxExempt": c.tax_exempt,
        "taxExemptions": list(c.tax_exemptions), "tags": sorted(c.tags, key=str.lower),
        "state": c.state, "canDelete": c.number_of_orders == 0,
        "numberOfOrders": str(c.number_of_orders),
        "amountSpent": money_v2(c.amount_spent, store.currency),
        "defaultEmailAddress": {"emailAddress": c.email, "marketingState": "NOT_SUBSCRIBED",
                                "marketingOptInLevel": None, "marketingUpdatedAt": None,
                                "validFormat": True, "sourceLocation": None,
                                "openTrackingLevel": "UNKNOWN", "openTrackingUrl": None}
        if c.email else None,
        "defaultPhoneNumber": {"phoneNumber": c.phone, "marketingState": "NOT_SUBSCRIBED",
                               "marketingOptInLevel": None, "marketingUpdatedAt": None,
                               "marketingCollectedFrom": None, "smsMarketingConsent": None}
        if c.phone else None,
        "defaultAddress": address_view(c.address),
        "addresses": [address_view(c.address)] if c.address else [],
        "addressesV2": lambda _i, a: list_connection(
            [c.address] if c.address else [], a, lambda x: address_view(x)),
        "createdAt": dt_text(c.created_at), "updatedAt": dt_text(c.updated_at),
        "lifetimeDuration": "", "productSubscriberStatus": "NEVER_SUBSCRIBED",
        "dataSaleOptOut": False, "multipassIdentifier": None,
        "orders": lambda i, a: orders_connection(i, a, store, customer_id=c.id),
    }
    v.update(_metafield_fields(store, "customer", c.id))
    return v


def customers_connection(info: GraphQLResolveInfo, args: dict[str, Any], store: Store) -> Any:
    check_window(args)
    res = _search(info, args.get("query"), CUSTOMER_SEARCH, _customer_text)
    sort_key = args.get("sortKey") or "ID"
    sv, bound_field = CUSTOMER_SORT.get(sort_key, CUSTOMER_SORT["ID"])
    items = store.sorted_view("customers", sort_key, sv)
    start = res.lower_bounds.get(bound_field)[0] if bound_field in res.lower_bounds else None  # type: ignore[index]
    has_query = bool(args.get("query"))
    pred = (lambda c: store.visible_in_search(c) and res.predicate(c)) if has_query else None
    return paginate(items, args, sort_value=sv, view=lambda c: customer_view(store, c),
                    predicate=pred, start_at=start)


def count_view(n: int, limit: int | None) -> dict[str, Any]:
    if limit is not None and n > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": n, "precision": "EXACT"}


# -- orders ------------------------------------------------------------------------------

ORDER_SEARCH: dict[str, s.FieldSpec] = {
    "updated_at": s.FieldSpec(s.DATE, lambda o: o.updated_at),
    "created_at": s.FieldSpec(s.DATE, lambda o: o.created_at),
    "processed_at": s.FieldSpec(s.DATE, lambda o: o.processed_at),
    "id": s.FieldSpec(s.ID, lambda o: o.id),
    "name": s.FieldSpec(s.EXACT, lambda o: str(o.number)),
    "email": s.FieldSpec(s.EXACT, lambda o: o.email),
    "tag": s.FieldSpec(s.TAG, lambda o: o.tags),
    "sku": s.FieldSpec(s.TAG, lambda o: [li.sku for li in o.line_items if li.sku]),
    "discount_code": s.FieldSpec(s.TAG, lambda o: o.discount_codes),
    "customer_id": s.FieldSpec(s.ID, lambda o: o.customer_id),
    "test": s.FieldSpec(s.EXACT, lambda o: "true" if o.test else "false"),
    "financial_status": s.FieldSpec(
        s.ENUM, lambda o: o.display_financial_status,
        frozenset({"AUTHORIZED", "PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED", "PENDING",
                   "REFUNDED", "VOIDED", "EXPIRED"})),
    "fulfillment_status": s.FieldSpec(
        s.ENUM, lambda o: o.fulfillment_status,
        frozenset({"UNFULFILLED", "PARTIALLY_FULFILLED", "FULFILLED", "SHIPPED", "UNSHIPPED",
                   "PARTIAL", "RESTOCKED", "ANY"})),
}
ORDER_SORT: dict[str, tuple[Callable[[Any], Any], str | None]] = {
    "ID": (lambda o: o.id, None),
    "RELEVANCE": (lambda o: o.id, None),
    "UPDATED_AT": (lambda o: o.updated_at, "updated_at"),
    "CREATED_AT": (lambda o: o.created_at, "created_at"),
    "PROCESSED_AT": (lambda o: o.processed_at, "processed_at"),
    "ORDER_NUMBER": (lambda o: o.number, None),
    "TOTAL_PRICE": (lambda o: o.total, None),
    "CURRENT_TOTAL_PRICE": (lambda o: o.total - o.refunded_total, None),
    "FINANCIAL_STATUS": (lambda o: o.display_financial_status, None),
    "FULFILLMENT_STATUS": (lambda o: o.fulfillment_status, None),
    "TOTAL_ITEMS_QUANTITY": (lambda o: sum(li.quantity for li in o.line_items), None),
    "CUSTOMER_NAME": (lambda o: o.email or "", None),
}


def _order_text(o: Order) -> str:
    return f"{o.name} {o.email or ''}"


def orders_connection(info: GraphQLResolveInfo, args: dict[str, Any], store: Store,
                      customer_id: int | None = None) -> Any:
    check_window(args)
    res = _search(info, args.get("query"), ORDER_SEARCH, _order_text)
    sort_key = args.get("sortKey") or ("ID" if customer_id is None else "ID")
    sv, bound_field = ORDER_SORT.get(sort_key, ORDER_SORT["ID"])
    items = store.sorted_view("orders", sort_key, sv)
    start = res.lower_bounds.get(bound_field)[0] if bound_field in res.lower_bounds else None  # type: ignore[index]
    has_query = bool(args.get("query"))

    def pred(o: Order) -> bool:
        if customer_id is not None and o.customer_id != customer_id:
            return False
        if has_query:
            return store.visible_in_search(o) and res.predicate(o)
        return True

    return paginate(items, args, sort_value=sv, view=lambda o: order_view(store, o),
                    predicate=pred, start_at=start)


def tax_line_view(t: TaxLine, cur: str) -> dict[str, Any]:
    return {"__typename": "TaxLine", "title": t.title, "rate": float(t.rate),
            "ratePercentage": float(t.rate * 100), "priceSet": money_bag(t.amount, cur),
            "price": money_text(t.amount), "source": "Shopify", "channelLiable": False}


def discount_application_view(app: DiscountApplication, cur: str) -> dict[str, Any]:
    value: dict[str, Any] = (
        {"__typename": "PricingPercentageValue", "percentage": float(app.percentage * 100)}
        if app.percentage is not None else
        {"__typename": "MoneyV2", **money_v2(app.amount or Decimal("0"), cur)})
    v: dict[str, Any] = {
        "allocationMethod": app.allocation_method, "index": app.index,
        "targetSelection": app.target_selection, "targetType": app.target_type, "value": value,
    }
    if app.code is not None:
        v.update({"__typename": "DiscountCodeApplication", "code": app.code})
    else:
        v.update({"__typename": "ManualDiscountApplication", "title": app.title, "description": None})
    return v


def allocations_view(o: Order, allocations: list[tuple[int, Decimal]], cur: str) -> list[dict[str, Any]]:
    apps = o.discount_applications
    return [{"__typename": "DiscountAllocation", "allocatedAmountSet": money_bag(amount, cur),
             "allocatedAmount": money_v2(amount, cur),
             "discountApplication": discount_application_view(apps[i], cur)}
            for i, amount in allocations]


def _line_level(o: Order, li: LineItem, *, with_codes: bool) -> Decimal:
    """Allocations of product (line-level) discounts; code ones only when asked for."""
    apps = o.discount_applications
    return sum((a for i, a in li.allocations
                if apps[i].line_level and (with_codes or apps[i].code is None)), Decimal("0"))


def line_item_view(store: Store, o: Order, li: LineItem) -> dict[str, Any]:
    cur = store.currency
    refunded = o.refunded_quantity(li.id)
    fulfilled = o.fulfilled_quantity(li.id)
    current = li.quantity - refunded
    qty = li.quantity or 1
    line_level = _line_level(o, li, with_codes=False)
    unit_disc = (li.original_total - line_level) / qty
    return {
        "__typename": "LineItem",
        "id": gid("LineItem", li.id), "sku": li.sku, "title": li.title, "name": li.title,
        "quantity": li.quantity, "currentQuantity": current,
        "refundableQuantity": current, "fulfillableQuantity": max(0, current - fulfilled),
        "unfulfilledQuantity": max(0, current - fulfilled),
        "nonFulfillableQuantity": refunded, "variantTitle": li.variant_title, "vendor": li.vendor,
        "taxable": li.taxable, "requiresShipping": True, "isGiftCard": False,
        "merchantEditable": True, "restockable": True, "canRestock": True,
        "originalUnitPriceSet": money_bag(li.unit_price, cur),
        "originalTotalSet": money_bag(li.original_total, cur),
        # Order-level discounts are left out; code discounts only withCodeDiscounts: true.
        "discountedTotalSet": lambda _i, a: money_bag(
            li.original_total - _line_level(o, li, with_codes=bool(a.get("withCodeDiscounts"))), cur),
        "discountedUnitPriceSet": money_bag(unit_disc.quantize(Decimal("0.01")), cur),
        "discountedUnitPriceAfterAllDiscountsSet": money_bag(
            (li.discounted_total / qty).quantize(Decimal("0.01")), cur),
        "totalDiscountSet": money_bag(_line_level(o, li, with_codes=True), cur),
        "originalUnitPrice": money_text(li.unit_price),
        "discountedTotal": money_text(li.original_total - line_level),
        "product": None, "variant": None, "image": None,
        "customAttributes": [],
        "taxLines": lambda _i, a: [tax_line_view(t, cur) for t in li.tax_lines[: a.get("first") or None]],
        "discountAllocations": allocations_view(o, li.allocations, cur), "duties": [],
    }


def shipping_line_view(store: Store, o: Order, sl: ShippingLine) -> dict[str, Any]:
    cur = store.currency
    return {"__typename": "ShippingLine", "id": gid("ShippingLine", sl.id),
            "title": sl.title, "code": sl.code, "source": "shopify", "custom": False,
            "isRemoved": False, "carrierIdentifier": None, "deliveryCategory": None,
            "phone": None, "shippingRateHandle": None,
            "originalPriceSet": money_bag(sl.price, cur), "originalPrice": money_v2(sl.price, cur),
            "price": money_text(sl.price),
            "discountedPriceSet": money_bag(sl.discounted_price, cur),
            "discountedPrice": money_v2(sl.discounted_price, cur),
            "currentDiscountedPriceSet": money_bag(sl.discounted_price, cur),
            "taxLines": [tax_line_view(t, cur) for t in sl.tax_lines],
            "discountAllocations": allocations_view(o, sl.allocations, cur)}


def order_tax_lines(o: Order) -> list[TaxLine]:
    """``Order.taxLines``: one per (rate, title), summing the lines' taxes (shipping included)."""
    sums: dict[tuple[Decimal, str], Decimal] = {}
    taxes = [t for li in o.line_items for t in li.tax_lines]
    taxes += [t for sl in o.shipping_lines for t in sl.tax_lines]
    for t in taxes:
        sums[(t.rate, t.title)] = sums.get((t.rate, t.title), Decimal("0")) + t.amount
    return [TaxLine(title=title, rate=rate, amount=amount) for (rate, title), amount in sums.items()]


def refund_view(store: Store, o: Order, r: Refund) -> dict[str, Any]:
    cur = store.currency
    by_id = {li.id: li for li in o.line_items}

    def rli(rl: Any) -> dict[str, Any]:
        li = by_id[rl.line_item_id]
        unit = (rl.subtotal / rl.quantity) if rl.quantity else Decimal("0")
        return {"__typename": "RefundLineItem", "id": gid("RefundLineItem", rl.id),
                "quantity": rl.quantity, "restockType": rl.restock_type,
                "restocked": rl.restock_type != "NO_RESTOCK",
                "lineItem": line_item_view(store, o, li),
                "priceSet": money_bag(unit, cur), "subtotalSet": money_bag(rl.subtotal, cur),
                "totalTaxSet": money_bag(rl.tax, cur), "location": None}

    return {
        "__typename": "Refund",
        "id": gid("Refund", r.id), "legacyResourceId": str(r.id),
        "createdAt": dt_text(r.created_at), "updatedAt": dt_text(r.created_at),
        "processedAt": dt_text(r.created_at), "note": r.note,
        "totalRefundedSet": money_bag(r.total, cur),
        "refundLineItems": lambda _i, a: list_connection(r.lines, a, rli),
        "refundShippingLines": lambda _i, a: list_connection([], a, lambda x: x),
        "transactions": lambda _i, a: list_connection([], a, lambda x: x),
        "duties": [], "order": None, "return": None, "staffMember": None,
    }


def fulfillment_view(store: Store, o: Order, f: Fulfillment) -> dict[str, Any]:
    tracking = []
    if f.tracking_number or f.tracking_company:
        tracking = [{"company": f.tracking_company, "number": f.tracking_number,
                     "url": f.tracking_url}]
    by_id = {li.id: li for li in o.line_items}
    return {
        "__typename": "Fulfillment",
        "id": gid("Fulfillment", f.id), "legacyResourceId": str(f.id), "name": f.name,
        "status": f.status, "displayStatus": "FULFILLED",
        "createdAt": dt_text(f.created_at), "updatedAt": dt_text(f.updated_at),
        "deliveredAt": None, "inTransitAt": None, "estimatedDeliveryAt": None,
        "requiresShipping": True, "totalQuantity": sum(q for _, q in f.lines),
        "trackingInfo": lambda _i, _a: tracking,
        "fulfillmentLineItems": lambda _i, a: list_connection(
            [type("FLI", (), {"id": lid, "q": q})() for lid, q in f.lines], a,
            lambda x: {"id": gid("FulfillmentLineItem", x.id), "quantity": x.q,
                       "lineItem": line_item_view(store, o, by_id[x.id])}),
        "order": None, "location": None, "service": None, "originAddress": None,
    }


def fulfillment_order_view(store: Store, o: Order) -> dict[str, Any]:
    """One fulfillment order per order (id shared with the order), as on a one-location shop."""
    remaining = {li.id: li.quantity - o.refunded_quantity(li.id) - o.fulfilled_quantity(li.id)
                 for li in o.line_items}
    open_qty = sum(max(0, q) for q in remaining.values())
    status = "OPEN" if open_qty > 0 else "CLOSED"

    def foli(li: LineItem) -> dict[str, Any]:
        return {"__typename": "FulfillmentOrderLineItem",
                "id": gid("FulfillmentOrderLineItem", li.id), "sku": li.sku,
                "productTitle": li.title, "totalQuantity": li.quantity,
                "remainingQuantity": max(0, remaining[li.id]),
                "lineItem": line_item_view(store, o, li)}

    return {
        "__typename": "FulfillmentOrder",
        "id": gid("FulfillmentOrder", o.id), "orderId": gid("Order", o.id),
        "orderName": o.name, "status": status, "requestStatus": "UNSUBMITTED",
        "createdAt": dt_text(o.created_at), "updatedAt": dt_text(o.updated_at),
        "fulfillAt": None, "fulfillBy": None, "orderProcessedAt": dt_text(o.processed_at),
        "lineItems": lambda _i, a: list_connection(o.line_items, a, foli),
        "fulfillments": lambda _i, a: list_connection(
            o.fulfillments, a, lambda f: fulfillment_view(store, o, f)),
        "order": lambda _i, _a: order_view(store, o),
        "supportedActions": [{"action": "CREATE_FULFILLMENT"}] if status == "OPEN" else [],
        "fulfillmentHolds": [], "merchantRequests": lambda _i, a: list_connection([], a, lambda x: x),
    }


def order_view(store: Store, o: Order) -> dict[str, Any]:
    cur = store.currency
    cust = store.customers.get(o.customer_id) if o.customer_id else None
    refunded = o.refunded_total
    v: dict[str, Any] = {
        "__typename": "Order",
        "id": gid("Order", o.id), "legacyResourceId": str(o.id), "name": o.name,
        "number": o.number, "email": o.email, "phone": None,
        "createdAt": dt_text(o.created_at), "updatedAt": dt_text(o.updated_at),
        "processedAt": dt_text(o.processed_at), "cancelledAt": dt_text(o.cancelled_at),
        "cancelReason": o.cancel_reason, "closedAt": dt_text(o.closed_at),
        "closed": o.closed_at is not None, "cancelled": o.cancelled_at is not None,
        "test": o.test, "confirmed": True, "sourceName": o.source_name, "note": o.note,
        "displayFinancialStatus": o.display_financial_status,
        "displayFulfillmentStatus": o.fulfillment_status,
        "fullyPaid": o.financial_status in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED"),
        "currencyCode": o.currency, "presentmentCurrencyCode": o.presentment_currency,
        "tags": sorted(o.tags, key=str.lower), "discountCodes": list(o.discount_codes),
        "discountCode": o.discount_codes[0] if o.discount_codes else None,
        "customer": (lambda _i, _a: customer_view(store, cust)) if cust else None,
        "totalPriceSet": money_bag(o.total, cur),
        "subtotalPriceSet": money_bag(o.subtotal, cur),
        "totalShippingPriceSet": money_bag(o.shipping_total, cur),
        "totalDiscountsSet": money_bag(o.discount_total, cur),
        "totalTaxSet": money_bag(o.total_tax, cur),
        "currentTotalTaxSet": money_bag(
            o.total_tax - sum((rl.tax for r in o.refunds for rl in r.lines), Decimal("0")), cur),
        "totalLineItemsPriceSet": money_bag(sum((li.original_total for li in o.line_items), Decimal("0")), cur),
        "taxesIncluded": o.taxes_included, "taxExempt": False,
        "taxLines": [tax_line_view(t, cur) for t in order_tax_lines(o)],
        "discountApplications": lambda _i, a: list_connection(
            o.discount_applications, a, lambda app: discount_application_view(app, cur)),
        "totalRefundedSet": money_bag(refunded, cur),
        "totalRefundedShippingSet": money_bag(sum((r.shipping for r in o.refunds), Decimal("0")), cur),
        "currentTotalPriceSet": money_bag(o.total - refunded, cur),
        "currentSubtotalPriceSet": money_bag(o.subtotal - refunded, cur),
        "totalReceivedSet": money_bag(o.total, cur),
        "netPaymentSet": money_bag(o.total - refunded, cur),
        "totalOutstandingSet": money_bag(Decimal("0"), cur),
        "totalPrice": money_text(o.total), "subtotalPrice": money_text(o.subtotal),
        "totalDiscounts": money_text(o.discount_total),
        "lineItems": lambda _i, a: list_connection(
            o.line_items, a, lambda li: line_item_view(store, o, li)),
        "shippingLines": lambda _i, a: list_connection(
            o.shipping_lines, a, lambda sl: shipping_line_view(store, o, sl)),
        "refunds": lambda _i, a: [refund_view(store, o, r)
                                  for r in o.refunds[: a.get("first") or len(o.refunds)]],
        "fulfillments": lambda _i, a: [fulfillment_view(store, o, f)
                                       for f in o.fulfillments[: a.get("first") or len(o.fulfillments)]],
        "fulfillmentOrders": lambda _i, a: list_connection(
            [o], a, lambda x: fulfillment_order_view(store, x)),
        "transactions": lambda _i, _a: [],
        "shippingAddress": None, "billingAddress": None,
    }
    v.update(_metafield_fields(store, "order", o.id))
    return v


# -- discounts ---------------------------------------------------------------------------

def discount_status(store: Store, d: Discount) -> str:
    now = store.now()
    if d.ends_at is not None and d.ends_at <= now:
        return "EXPIRED"
    if d.starts_at > now:
        return "SCHEDULED"
    return "ACTIVE"


def _money_sym(store: Store, amount: Decimal) -> str:
    sym = {"EUR": "€", "USD": "$", "CAD": "$", "GBP": "£"}.get(store.currency, "")
    return f"{sym}{money_text(amount)}"


def discount_summary(store: Store, d: Discount) -> str:
    if d.kind == "free_shipping":
        parts = ["Free shipping on all products"]
    elif d.percentage is not None:
        parts = [f"{decimal_text(Decimal(str(d.percentage * 100))).removesuffix('.0')}% off "
                 "one-time purchase products"]
    else:
        parts = [f"{_money_sym(store, d.amount or Decimal('0'))} off one-time purchase products"]
    if d.minimum_subtotal is not None:
        parts.append(f"Minimum purchase of {_money_sym(store, d.minimum_subtotal)}")
    if d.minimum_quantity is not None:
        parts.append(f"Minimum quantity of {d.minimum_quantity}")
    if d.kind == "free_shipping":
        parts.append("For all countries" if d.destination_all else f"For {len(d.countries)} countries")
    if d.applies_once_per_customer:
        parts.append("One use per customer")
    return " • ".join(parts)


def code_discount_view(store: Store, d: Discount) -> dict[str, Any]:
    cur = store.currency
    typename = "DiscountCodeBasic" if d.kind == "basic" else "DiscountCodeFreeShipping"
    if d.customer_ids is None:
        context: dict[str, Any] = {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"}
        selection: dict[str, Any] = {"__typename": "DiscountCustomerAll", "allCustomers": True}
    else:
        custs = [customer_view(store, store.customers[i]) for i in d.customer_ids
                 if i in store.customers]
        context = {"__typename": "DiscountCustomers", "customers": custs}
        selection = context
    if d.minimum_subtotal is not None:
        minimum: dict[str, Any] | None = {
            "__typename": "DiscountMinimumSubtotal",
            "greaterThanOrEqualToSubtotal": money_v2(d.minimum_subtotal, cur)}
    elif d.minimum_quantity is not None:
        minimum = {"__typename": "DiscountMinimumQuantity",
                   "greaterThanOrEqualToQuantity": str(d.minimum_quantity)}
    else:
        minimum = None
    code_obj = type("Code", (), {"id": d.code_id, "code": d.code})()
    v: dict[str, Any] = {
        "__typename": typename,
        "title": d.title, "status": discount_status(store, d), "summary": discount_summary(store, d),
        "shortSummary": discount_summary(store, d).split(" • ")[0],
        "startsAt": dt_text(d.starts_at), "endsAt": dt_text(d.ends_at),
        "createdAt": dt_text(d.created_at), "updatedAt": dt_text(d.updated_at),
        "usageLimit": d.usage_limit, "appliesOncePerCustomer": d.applies_once_per_customer,
        "asyncUsageCount": d.async_usage_count, "recurringCycleLimit": d.recurring_cycle_limit,
        "hasTimelineComment": False, "shareableUrls": [], "totalSales": money_v2(Decimal("0"), cur),
        "discountClass": "ORDER" if d.kind == "basic" else "SHIPPING",
        "discountClasses": ["ORDER"] if d.kind == "basic" else ["SHIPPING"],
        "combinesWith": {"orderDiscounts": d.combines_with.get("orderDiscounts", False),
                         "productDiscounts": d.combines_with.get("productDiscounts", False),
                         "shippingDiscounts": d.combines_with.get("shippingDiscounts", False)},
        "context": context, "customerSelection": selection, "minimumRequirement": minimum,
        "codes": lambda _i, a: list_connection(
            [code_obj], a, lambda c: {"__typename": "DiscountRedeemCode",
                                      "id": gid("DiscountRedeemCode", c.id), "code": c.code,
                                      "asyncUsageCount": d.async_usage_count, "createdBy": None}),
        "codesCount": {"count": 1, "precision": "EXACT"},
    }
    if d.kind == "basic":
        if d.percentage is not None:
            value: dict[str, Any] = {"__typename": "DiscountPercentage", "percentage": d.percentage}
        else:
            value = {"__typename": "DiscountAmount",
                     "amount": money_v2(d.amount or Decimal("0"), cur),
                     "appliesOnEachItem": d.applies_on_each_item}
        v["customerGets"] = {"value": value,
                             "items": {"__typename": "AllDiscountItems", "allItems": True},
                             "appliesOnOneTimePurchase": True, "appliesOnSubscription": False}
    else:
        v["destinationSelection"] = (
            {"__typename": "DiscountCountryAll", "allCountries": True} if d.destination_all
            else {"__typename": "DiscountCountries", "countries": [], "includeRestOfWorld": False})
        v["maximumShippingPrice"] = None
        v["appliesOnOneTimePurchase"] = True
        v["appliesOnSubscription"] = False
    return v


def discount_node_view(store: Store, d: Discount) -> dict[str, Any]:
    v = {"__typename": "DiscountCodeNode", "id": gid("DiscountCodeNode", d.id),
         "codeDiscount": code_discount_view(store, d)}
    v.update(_metafield_fields(store, "discount", d.id))
    return v


# -- misc --------------------------------------------------------------------------------

def bulk_view(ctx_base: str, b: BulkOperation) -> dict[str, Any]:
    url = f"{ctx_base}/bulk/{b.id}.jsonl?token={b.token}" if b.status == "COMPLETED" else None
    return {
        "__typename": "BulkOperation",
        "id": gid("BulkOperation", b.id), "status": b.status, "type": b.type,
        "errorCode": b.error_code, "createdAt": dt_text(b.created_at),
        "completedAt": dt_text(b.completed_at), "objectCount": str(b.object_count),
        "rootObjectCount": str(b.root_object_count),
        "fileSize": str(b.file_size) if b.file_size is not None else None,
        "url": url, "partialDataUrl": None, "query": b.query,
    }


def webhook_view(w: WebhookSubscription, api_version: str) -> dict[str, Any]:
    return {
        "__typename": "WebhookSubscription",
        "id": gid("WebhookSubscription", w.id), "legacyResourceId": str(w.id),
        "topic": w.topic, "format": w.format, "uri": w.uri, "callbackUrl": w.uri,
        "filter": w.filter, "includeFields": list(w.include_fields), "metafieldNamespaces": [],
        "createdAt": dt_text(w.created_at), "updatedAt": dt_text(w.updated_at),
        "apiVersion": {"handle": api_version, "displayName": api_version, "supported": True},
        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": w.uri},
        "metafields": [],
    }


def definition_view(d: MetafieldDefinition) -> dict[str, Any]:
    return {
        "__typename": "MetafieldDefinition",
        "id": gid("MetafieldDefinition", d.id), "namespace": d.namespace, "key": d.key,
        "name": d.name, "description": d.description, "ownerType": d.owner_type,
        "type": {"name": d.type, "category": "NUMBER" if d.type.startswith("number") else "TEXT"},
        "access": {"admin": d.access.get("admin", "MERCHANT_READ_WRITE"),
                   "storefront": d.access.get("storefront", "NONE"),
                   "customerAccount": d.access.get("customerAccount", "NONE")},
        "validations": [], "pinnedPosition": None, "useAsCollectionCondition": False,
        "validationStatus": "ALL_VALID",
    }


def shop_view(store: Store) -> dict[str, Any]:
    return {
        "__typename": "Shop",
        "id": gid("Shop", store.shop_id), "name": store.shop_name,
        "currencyCode": store.currency, "ianaTimezone": store.timezone,
        "timezoneAbbreviation": "CET", "myshopifyDomain": store.domain,
        "email": f"owner@{store.domain}", "contactEmail": f"owner@{store.domain}",
        "url": f"https://{store.domain}", "primaryDomain": {"host": store.domain,
                                                             "url": f"https://{store.domain}",
                                                             "id": gid("Domain", 1), "sslEnabled": True},
        "plan": {"displayName": store.plan_name, "shopifyPlus": False, "partnerDevelopment": False,
                 "publicDisplayName": store.plan_name},
        "enabledPresentmentCurrencies": [store.currency], "weightUnit": "KILOGRAMS",
        "taxesIncluded": store.taxes_included, "setupRequired": False, "checkoutApiSupported": True,
        "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
        "description": None, "currencyFormats": {"moneyFormat": "€{{amount}}"},
    }


def node_by_gid(store: Store, value: str) -> dict[str, Any] | None:
    parsed = parse_gid(value)
    if parsed is None:
        return None
    kind, num = parsed
    if kind == "Customer" and num in store.customers:
        return customer_view(store, store.customers[num])
    if kind == "Order" and num in store.orders:
        return order_view(store, store.orders[num])
    if kind == "DiscountCodeNode" and num in store.discounts:
        return discount_node_view(store, store.discounts[num])
    if kind == "FulfillmentOrder" and num in store.orders:
        return fulfillment_order_view(store, store.orders[num])
    if kind == "WebhookSubscription" and num in store.webhooks:
        return webhook_view(store.webhooks[num], "2026-01")
    return None


def expect_gid(value: str, kind: str) -> int | None:
    """The number of a gid of ``kind``; wrong type → Shopify's RESOURCE_NOT_FOUND error."""
    parsed = parse_gid(value)
    if parsed is None or parsed[0] != kind:
        raise GraphQLError(f"Invalid id: {value}", extensions={"code": "RESOURCE_NOT_FOUND"})
    return parsed[1]

"""Mapping tested on Shopify's real response bodies (captures), plus hand-built edge cases.

Expected figures are read off the captured JSON by eye, or worked out by hand below.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.shopify.mapping import (
    gid_type,
    map_customer,
    map_line,
    map_order,
    map_refund,
    money,
    order_status,
)
from connector.domain import Money, OrderStatus
from connector.errors import DataError, InvalidValue, MissingField

CAPTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "shopify" / "captures"


def capture(name: str) -> Any:
    return json.loads((CAPTURES / name).read_text())


def eur(v: str) -> Money:
    return Money(Decimal(v), "EUR")


# --- customers ------------------------------------------------------------------------------


def test_customer_detail_capture() -> None:
    node = capture("2025-01__customers__customer-detail.json")["data"]["customer"]
    c = map_customer(node, "eu")
    assert c.id == "shopify:eu:gid://shopify/Customer/9522206933298"
    assert c.email == "karine.ruby@example.com"
    assert c.phone == "+16135550142"
    assert (c.first_name, c.last_name) == ("Karine", "Ruby")
    assert c.billing.line1 == "Box 42 - 151 O'Connor St"
    assert (c.billing.city, c.billing.postcode) == ("Ottawa", "K2P2L8")
    assert c.created_at == datetime(2025, 3, 26, 19, 51, 37, tzinfo=UTC)
    assert c.updated_at == datetime(2026, 5, 6, 2, 40, 36, tzinfo=UTC)
    assert c.tags == ()


def test_every_customer_of_the_big_catalog_maps() -> None:
    data = capture("very-big-test-store.myshopify.com__2025-01__customers__customers-catalog.json")
    edges = data["data"]["customers"]["edges"]
    customers = [map_customer(e["node"], "eu") for e in edges]
    assert len(customers) == len(edges) > 0
    assert customers[0].email == "egnition_sample_29@egnition.com"
    assert customers[0].phone == "+2911120123"


def test_customer_with_hidden_contact_data_is_a_named_data_error() -> None:
    node = dict(capture("2025-01__customers__customer-detail.json")["data"]["customer"])
    for key in ("email", "defaultEmailAddress", "defaultPhoneNumber"):
        node[key] = None
    with pytest.raises(MissingField) as info:
        map_customer(node, "eu")
    assert info.value.reference == "shopify-customer-unidentifiable"
    assert info.value.kind == "data"
    assert "Level 2" in (info.value.hint or "")


def test_customer_reads_our_metafields_back() -> None:
    node = dict(capture("2025-01__customers__customer-detail.json")["data"]["customer"])
    node["pointsAvailable"] = {"value": "150"}
    node["tier"] = {"value": "gold"}
    node["loyalty"] = None
    assert map_customer(node, "eu").meta == {"vinculo_points_available": "150", "vinculo_tier": "gold"}


# --- money ----------------------------------------------------------------------------------


def test_money_bag_uses_shop_money_not_presentment() -> None:
    order = capture("2025-01__orders__money-bag-presentment-parity.json")
    created = order["orderCreate"]["response"]["payload"]["data"]["orderCreate"]["order"]
    # CAD shop, USD presentment: 13.5 CAD / 9.0 USD.
    assert money(created["totalPriceSet"], what="total") == Money(Decimal("13.50"), "CAD")
    assert money(created["totalTaxSet"], what="tax") == Money(Decimal("1.5"), "CAD")


def test_money_missing_is_named() -> None:
    with pytest.raises(MissingField):
        money(None, what="totalPriceSet")


def test_float_amounts_are_refused() -> None:
    with pytest.raises(InvalidValue):
        money({"amount": 13.5, "currencyCode": "CAD"}, what="total")


# --- orders ---------------------------------------------------------------------------------


def test_order_from_the_catalog_capture() -> None:
    node = capture("2026-04__orders__order-catalog-count-read.json")["response"]["data"]["seedCatalog"]["nodes"][0]
    o = map_order(node, "eu")
    assert o.id == "shopify:eu:gid://shopify/Order/8837991727410"
    assert o.number == "#1494"
    assert o.status is OrderStatus.PAID  # PAID + UNFULFILLED
    assert o.total == Money(Decimal("55"), "CAD")
    assert o.currency == "CAD"
    assert o.email == "hermes-draft-order-complete-20260622223358@example.com"
    assert o.created_at == datetime(2026, 6, 22, 22, 34, 0, tzinfo=UTC)
    assert o.updated_at == datetime(2026, 6, 22, 22, 34, 2, tzinfo=UTC)
    assert o.customer_id is None and o.lines == ()


def test_captured_order_without_dates_is_rejected_by_name() -> None:
    node = capture("very-big-test-store.myshopify.com__2025-01__orders__order-create-parity.json")
    order = node["downstreamRead"]["response"]["data"]["order"]
    with pytest.raises(MissingField) as info:
        map_order(order, "eu")
    assert "createdAt" in str(info.value)
    assert isinstance(info.value, DataError)


def test_line_from_the_line_item_capture() -> None:
    order = capture("2025-01__orders__order-create-line-item-fields.json")["downstreamRead"]["response"]["data"]["order"]
    node = order["lineItems"]["nodes"][0]
    line = map_line(node, "USD", taxes_included=False, obj="o")
    # 2 × 12.0 USD, no discount allocations, no tax lines selected: 24.0 before and after.
    assert line.quantity == 2
    assert line.sku == "LINE-FIELDS-1778207356340"
    assert line.subtotal == Money(Decimal("24"), "USD")
    assert line.total == Money(Decimal("24"), "USD")
    assert line.total_tax == Money(Decimal("0"), "USD")
    assert line.product_id == "gid://shopify/Product/9801098789170"
    # The capture's own order subtotal agrees.
    assert money(order["subtotalPriceSet"], what="subtotal").amount == line.total.amount


def test_line_total_takes_all_allocations_and_strips_included_tax() -> None:
    # 2 × 12.00 EUR = 24.00; an order-level discount allocated 4.00 and a code 2.00 to this line;
    # VAT included in prices: 3.00. Total after discounts, ex tax: 24 − 4 − 2 − 3 = 15.00;
    # subtotal before discounts, ex tax: 24 − 3 = 21.00.
    node = {
        "id": "gid://shopify/LineItem/1", "sku": "A", "name": "A", "quantity": 2,
        "originalTotalSet": {"shopMoney": {"amount": "24.0", "currencyCode": "EUR"}},
        "taxLines": [{"priceSet": {"shopMoney": {"amount": "3.0", "currencyCode": "EUR"}}}],
        "discountAllocations": [
            {"allocatedAmountSet": {"shopMoney": {"amount": "4.0", "currencyCode": "EUR"}},
             "discountApplication": {"__typename": "ManualDiscountApplication"}},
            {"allocatedAmountSet": {"shopMoney": {"amount": "2.0", "currencyCode": "EUR"}},
             "discountApplication": {"__typename": "DiscountCodeApplication", "code": "VIN-ABC"}},
        ],
    }
    line = map_line(node, "EUR", taxes_included=True, obj="o")
    assert line.total == eur("15.00")
    assert line.subtotal == eur("21.00")
    assert line.total_tax == eur("3.00")


def full_order(**over: Any) -> dict[str, Any]:
    """An OrderFields-shaped node, values chosen by hand."""
    bag = lambda v: {"shopMoney": {"amount": v, "currencyCode": "EUR"}}  # noqa: E731
    node: dict[str, Any] = {
        "id": "gid://shopify/Order/42", "name": "#1042", "email": "Ana@Example.com",
        "createdAt": "2026-02-01T10:00:00Z", "updatedAt": "2026-02-03T09:30:00Z",
        "processedAt": "2026-02-01T10:00:05Z", "cancelledAt": None, "closedAt": None, "test": False,
        "taxesIncluded": False, "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "FULFILLED", "currencyCode": "EUR", "discountCodes": ["vin-abc", "SHIPFREE"],
        "customer": {"id": "gid://shopify/Customer/7"},
        "totalPriceSet": bag("55.5"), "totalTaxSet": bag("0.0"), "totalShippingPriceSet": bag("4.9"),
        "totalDiscountsSet": bag("9.9"),
        "billingAddress": {"firstName": "Ana", "countryCodeV2": "ES", "zip": "28001", "city": "Madrid"},
        "shippingAddress": None,
        "lineItems": {"nodes": [
            {"id": "gid://shopify/LineItem/1", "sku": "A", "name": "Mug", "quantity": 2, "isGiftCard": False,
             "originalTotalSet": bag("30.0"), "taxLines": [],
             "discountAllocations": [{"allocatedAmountSet": bag("5.0"),
                                      "discountApplication": {"__typename": "DiscountCodeApplication", "code": "VIN-ABC"}}]},
            {"id": "gid://shopify/LineItem/2", "sku": "GC", "name": "Gift card", "quantity": 1, "isGiftCard": True,
             "originalTotalSet": bag("25.5"), "taxLines": [], "discountAllocations": []},
        ], "pageInfo": {"hasNextPage": False, "endCursor": None}},
        "shippingLines": {"nodes": [
            {"id": "gid://shopify/ShippingLine/9", "title": "Standard", "code": "STD",
             "discountedPriceSet": bag("0.0"), "taxLines": [],
             "discountAllocations": [{"allocatedAmountSet": bag("4.9"),
                                      "discountApplication": {"__typename": "DiscountCodeApplication", "code": "SHIPFREE"}}]},
        ]},
        "refunds": [
            {"id": "gid://shopify/Refund/5", "createdAt": "2026-02-03T09:29:00Z", "note": "damaged",
             "totalRefundedSet": bag("12.5"),
             "refundLineItems": {"nodes": [{"quantity": 1, "lineItem": {"id": "gid://shopify/LineItem/1", "sku": "A"},
                                            "subtotalSet": bag("12.5"), "totalTaxSet": bag("0.0")}],
                                 "pageInfo": {"hasNextPage": False}}},
        ],
        "fulfillments": [{"createdAt": "2026-02-02T08:00:00Z", "status": "SUCCESS"}],
    }
    node.update(over)
    return node


def test_full_order_hand_computed() -> None:
    o = map_order(full_order(), "eu")
    assert o.status is OrderStatus.COMPLETED  # partially refunded, fulfilled
    assert o.customer_id == "shopify:eu:gid://shopify/Customer/7"
    assert [(line.sku, line.total) for line in o.lines] == [("A", eur("25.0")), ("GC", eur("25.5"))]
    # Loyalty basis excludes the gift card: 30.0 − 5.0 = 25.0.
    assert o.merchandise_after_discounts == eur("25.0")
    assert o.shipping_lines[0].total == eur("0") and o.shipping_lines[0].method == "STD"
    coupons = {c.code: c for c in o.coupon_lines}
    assert coupons["vin-abc"].discount == eur("5.0") and not coupons["vin-abc"].free_shipping
    assert coupons["SHIPFREE"].discount == eur("4.9") and coupons["SHIPFREE"].free_shipping
    (refund,) = o.refunds
    assert refund.id == "shopify:eu:gid://shopify/Refund/5"
    assert refund.amount == eur("12.5") and refund.reason == "damaged"
    assert refund.lines[0].line_id == "gid://shopify/LineItem/1" and refund.lines[0].amount == eur("12.5")
    assert o.refunded_total == eur("12.5")
    assert o.completed_at == datetime(2026, 2, 2, 8, 0, tzinfo=UTC)
    assert o.paid_at == datetime(2026, 2, 1, 10, 0, 5, tzinfo=UTC)
    assert o.billing.country == "ES" and o.shipping.is_empty()


def test_refund_line_overflow_is_quarantined_not_truncated() -> None:
    node = full_order()
    node["refunds"][0]["refundLineItems"]["pageInfo"]["hasNextPage"] = True
    with pytest.raises(DataError) as info:
        map_order(node, "eu")
    assert info.value.reference == "shopify-refund-too-long"


def test_bulk_shaped_children_map_like_nodes() -> None:
    node = full_order()
    node["lineItems"] = {"edges": [{"node": n} for n in node["lineItems"]["nodes"]]}
    assert len(map_order(node, "eu").lines) == 2


@pytest.mark.parametrize("name", ["2025-01__orders__refund-create-partial-shipping-restock-parity.json",
                                  "2025-01__orders__refund-create-full-parity.json"])
def test_refunds_from_the_refund_captures(name: str) -> None:
    data = capture(name)
    refund = data["mutation"]["response"]["data"]["refundCreate"]["refund"]
    r = map_refund(refund, "shopify:eu:gid://shopify/Order/1", "CAD", "eu")
    # Both refunds returned 15.0 CAD; the partial one's line subtotal is 10.0, the full one's 0.0.
    assert r.amount == Money(Decimal("15"), "CAD")
    expected_line = Decimal("10") if "partial" in name else Decimal("0")
    assert [(ln.quantity, ln.amount.amount) for ln in r.lines] == [(1, expected_line)]
    assert r.lines[0].line_id == refund["refundLineItems"]["nodes"][0]["lineItem"]["id"]
    assert r.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled", "expected"),
    [
        ("PENDING", "UNFULFILLED", None, OrderStatus.PENDING),
        ("AUTHORIZED", "UNFULFILLED", None, OrderStatus.ON_HOLD),
        ("PAID", "UNFULFILLED", None, OrderStatus.PAID),
        ("PARTIALLY_PAID", "UNFULFILLED", None, OrderStatus.PAID),
        ("PAID", "FULFILLED", None, OrderStatus.COMPLETED),
        ("PAID", "PARTIALLY_FULFILLED", None, OrderStatus.PAID),
        ("PARTIALLY_REFUNDED", "FULFILLED", None, OrderStatus.COMPLETED),
        ("REFUNDED", "FULFILLED", None, OrderStatus.REFUNDED),
        ("VOIDED", "UNFULFILLED", None, OrderStatus.CANCELLED),
        ("EXPIRED", "UNFULFILLED", None, OrderStatus.FAILED),
        ("PAID", "UNFULFILLED", "2026-01-01T00:00:00Z", OrderStatus.CANCELLED),
    ],
)
def test_status_table(financial: str, fulfillment: str, cancelled: str | None, expected: OrderStatus) -> None:
    assert order_status(financial, fulfillment, cancelled) is expected


def test_unknown_status_is_named() -> None:
    with pytest.raises(InvalidValue) as info:
        order_status("SETTLED", "UNFULFILLED", None)
    assert info.value.reference == "shopify-status-unknown"


def test_gid_type() -> None:
    assert gid_type("gid://shopify/MailingAddress/12264345076018?model_name=CustomerAddress") == "MailingAddress"
    with pytest.raises(InvalidValue):
        gid_type("12345")

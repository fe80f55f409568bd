"""Reads: pagination, search, money/time formats, merchant helpers, index lag."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.shopify.simulator import ManualClock
from tests.fixtures.shopify_simulator import post_graphql

CUSTOMERS = """query C($first: Int!, $after: String, $q: String) {
  customers(first: $first, after: $after, query: $q, sortKey: UPDATED_AT) {
    edges { cursor node { id email updatedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

ORDER = """query O($id: ID!) { order(id: $id) {
  id name displayFinancialStatus displayFulfillmentStatus discountCodes tags
  totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
  totalRefundedSet { shopMoney { amount } }
  lineItems(first: 10) { nodes { id sku quantity currentQuantity
    discountedTotalSet { shopMoney { amount } } } }
  refunds { id refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } subtotalSet { shopMoney { amount } } } } }
  fulfillments { id status trackingInfo { company number } }
  customer { id }
} }"""


def test_incremental_customer_pull_pages_in_updated_order(shopify_sim_factory):
    clock = ManualClock()
    sim = shopify_sim_factory(clock=clock)
    made = []
    for i in range(7):
        made.append(sim.create_customer(first_name=f"C{i}", email=f"c{i}@example.com"))
        clock.advance(60)
    since = datetime.fromtimestamp(clock() - 5 * 60 - 30, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    q = f"updated_at:>='{since}'"
    seen, after, pages = [], None, 0
    while True:
        _, _, body = post_graphql(sim, CUSTOMERS, {"first": 2, "after": after, "q": q})
        conn = body["data"]["customers"]
        seen += [e["node"]["email"] for e in conn["edges"]]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    # customers 2..6 were created within the last 5.5 minutes (one per minute)
    assert seen == [f"c{i}@example.com" for i in range(2, 7)]
    assert pages == 3
    cursor = json.loads(base64.b64decode(conn["edges"][-1]["cursor"]))
    assert cursor == {"last_id": made[6].id, "last_value": int(made[6].updated_at.timestamp() * 1000)}


def test_empty_page_has_null_cursors(shopify_sim):
    _, _, body = post_graphql(shopify_sim, CUSTOMERS, {"first": 5, "q": "email:nobody@example.com"})
    assert body["data"]["customers"] == {"edges": [], "pageInfo": {
        "hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}


def test_email_and_phone_search(shopify_sim):
    shopify_sim.create_customer(first_name="A", email="ana@example.com", phone="+34600000001")
    shopify_sim.create_customer(first_name="B", email="bea@example.com", phone="+34600000002")
    q = "query S($q: String) { customers(first: 5, query: $q) { nodes { email } } }"
    _, _, body = post_graphql(shopify_sim, q, {"q": "email:ANA@example.com"})
    assert body["data"]["customers"]["nodes"] == [{"email": "ana@example.com"}]
    _, _, body = post_graphql(shopify_sim, q, {"q": "phone:+34600000002"})
    assert body["data"]["customers"]["nodes"] == [{"email": "bea@example.com"}]


def test_unknown_search_field_is_ignored_with_warning(shopify_sim):
    shopify_sim.create_customer(first_name="A", email="a@example.com")
    shopify_sim.create_customer(first_name="B", email="b@example.com")
    q = "query { matching: customersCount(query: \"email:a@example.com\") { count precision } }"
    _, _, body = post_graphql(shopify_sim, q)
    assert body["data"]["matching"] == {"count": 2, "precision": "EXACT"}
    assert body["extensions"]["search"] == [{
        "path": ["matching"], "query": "email:a@example.com",
        "parsed": {"field": "email", "match_all": "a@example.com"},
        "warnings": [{"field": "email", "message": "Invalid search field for this query.",
                      "code": "invalid_field"}]}]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10


def test_order_read_model_money_and_children(shopify_sim):
    c = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    o = shopify_sim.create_order(customer_id=c.id, lines=[("SKU-1", "Mug", 2, Decimal("12.50")),
                                                          ("SKU-2", "Tee", 1, Decimal("20.00"))],
                                 shipping=Decimal("4.95"), discount_codes=["WELCOME"])
    li1, li2 = o.line_items
    shopify_sim.add_refund(o.id, [(li1.id, 1)])
    shopify_sim.add_fulfillment(o.id, tracking_company="Correos", tracking_number="PK1")
    _, _, body = post_graphql(shopify_sim, ORDER, {"id": f"gid://shopify/Order/{o.id}"})
    d = body["data"]["order"]
    # 2 × 12.50 + 20.00 + 4.95 = 49.95; refund of one mug = 12.50
    assert d["totalPriceSet"] == {"shopMoney": {"amount": "49.95", "currencyCode": "EUR"},
                                  "presentmentMoney": {"amount": "49.95", "currencyCode": "EUR"}}
    assert d["totalRefundedSet"] == {"shopMoney": {"amount": "12.5"}}
    assert d["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert d["displayFulfillmentStatus"] == "FULFILLED"  # the remaining 1 mug + 1 tee shipped
    assert d["discountCodes"] == ["WELCOME"]
    assert d["lineItems"]["nodes"][0] == {"id": f"gid://shopify/LineItem/{li1.id}", "sku": "SKU-1",
                                          "quantity": 2, "currentQuantity": 1,
                                          "discountedTotalSet": {"shopMoney": {"amount": "25.0"}}}
    rli = d["refunds"][0]["refundLineItems"]["nodes"][0]
    assert rli == {"quantity": 1, "restockType": "RETURN",
                   "lineItem": {"id": f"gid://shopify/LineItem/{li1.id}"},
                   "subtotalSet": {"shopMoney": {"amount": "12.5"}}}
    assert d["fulfillments"][0]["trackingInfo"] == [{"company": "Correos", "number": "PK1"}]
    assert d["customer"] == {"id": f"gid://shopify/Customer/{c.id}"}


def test_merchant_helpers_bump_updated_at(shopify_sim_factory):
    clock = ManualClock()
    sim = shopify_sim_factory(clock=clock)
    o = sim.create_order(customer_id=None, email="g@example.com", lines=[("S", "T", 1, Decimal("5"))])
    before = o.updated_at
    clock.advance(90)
    sim.add_fulfillment(o.id)
    assert o.updated_at == before + timedelta(seconds=90)
    clock.advance(30)
    sim.update_order(o.id, tags=["erp"])
    q = "query($q: String) { orders(first: 5, query: $q, sortKey: UPDATED_AT) { nodes { name updatedAt tags } } }"
    since = (before + timedelta(seconds=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, _, body = post_graphql(sim, q, {"q": f"updated_at:>='{since}'"})
    assert body["data"]["orders"]["nodes"] == [
        {"name": o.name, "updatedAt": (before + timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "tags": ["erp"]}]


def test_index_lag_hides_fresh_writes_from_search_but_not_direct_reads(shopify_sim_factory):
    clock = ManualClock()
    sim = shopify_sim_factory(clock=clock)
    sim.set_index_lag(60)
    sim.create_customer(first_name="N", email="new@example.com")
    q = """query { customers(first: 1, query: "email:new@example.com") { nodes { email } }
      customerByIdentifier(identifier: {emailAddress: " New@Example.com"}) { email } }"""
    _, _, body = post_graphql(sim, q)
    assert body["data"]["customers"]["nodes"] == []
    assert body["data"]["customerByIdentifier"] == {"email": "new@example.com"}
    clock.advance(61)
    _, _, body = post_graphql(sim, q)
    assert body["data"]["customers"]["nodes"] == [{"email": "new@example.com"}]


def test_wrong_gid_type_is_resource_not_found(shopify_sim):
    _, _, body = post_graphql(shopify_sim, '{ customer(id: "gid://shopify/Order/1") { id } }')
    assert body["data"] == {"customer": None}
    assert body["errors"][0]["message"] == "Invalid id: gid://shopify/Order/1"
    assert body["errors"][0]["extensions"] == {"code": "RESOURCE_NOT_FOUND"}


def test_seeded_shop_is_deterministic(shopify_sim_factory):
    a = shopify_sim_factory(clock=ManualClock())
    b = shopify_sim_factory(clock=ManualClock())
    a.seed(customers=30, orders=100, seed=7)
    b.seed(customers=30, orders=100, seed=7)
    q = "{ orders(first: 100) { nodes { name email totalPriceSet { shopMoney { amount } } } } }"
    ra, rb = post_graphql(a, q)[2], post_graphql(b, q)[2]
    assert ra["data"] == rb["data"]
    orders = a.store.orders.values()
    assert any(o.refunds for o in orders) and any(o.fulfillments for o in orders)
    assert any(o.discount_codes for o in orders) and any(o.customer_id is None for o in orders)
    assert {o.currency for o in orders} == {"EUR"}

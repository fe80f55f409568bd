"""Bulk operations (NOTES §4.4) and signed webhooks (NOTES §7) of the Shopify simulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import jsonschema

from adapters.shopify.simulator.store import Address
from tests.fixtures.shopify_simulator import SHOPIFY_SIM_SECRET, post_graphql

WEBHOOKS = Path(__file__).resolve().parents[3] / ".." / "shared" / "shopify" / "webhooks" / "2026-01"
RUN = """mutation R($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id status } userErrors { field message code } } }"""
POLL = """query P($id: ID!) { bulkOperation(id: $id) { id status objectCount rootObjectCount fileSize url } }"""
ORDERS_BULK = """{ orders(query: "updated_at:>'2020-01-01T00:00:00Z'") { edges { node { id name
  totalPriceSet { shopMoney { amount } } lineItems { edges { node { id sku quantity } } } } } } }"""


def test_bulk_run_poll_and_download_jsonl(shopify_sim):
    o1 = shopify_sim.create_order(customer_id=None, email="a@example.com",
                                  lines=[("S1", "Mug", 1, Decimal("5")), ("S2", "Tee", 2, Decimal("9"))])
    o2 = shopify_sim.create_order(customer_id=None, email="b@example.com", lines=[("S3", "Cap", 1, Decimal("7"))])
    _, _, body = post_graphql(shopify_sim, RUN, {"q": ORDERS_BULK})
    assert "errors" not in body, body
    run = body["data"]["bulkOperationRunQuery"]
    assert run["userErrors"] == [] and run["bulkOperation"]["status"] == "CREATED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    bid = run["bulkOperation"]["id"]
    statuses = []
    for _ in range(200):
        op = post_graphql(shopify_sim, POLL, {"id": bid})[2]["data"]["bulkOperation"]
        statuses.append(op["status"])
        if op["status"] == "COMPLETED":
            break
        time.sleep(0.01)
    assert statuses[0] == "RUNNING" and statuses[-1] == "COMPLETED"
    assert set(statuses) == {"RUNNING", "COMPLETED"}
    # 2 orders + 3 line items, counts as strings
    assert (op["objectCount"], op["rootObjectCount"]) == ("5", "2")
    with urllib.request.urlopen(op["url"]) as resp:  # no token header: the URL is signed
        assert resp.headers["Content-Type"] == "application/jsonl"
        raw = resp.read()
    assert op["fileSize"] == str(len(raw))
    assert b'gid:\\/\\/shopify\\/Order\\/' in raw
    lines = [json.loads(x) for x in raw.decode().splitlines()]
    assert lines[0] == {"id": f"gid://shopify/Order/{o1.id}", "name": o1.name,
                        "totalPriceSet": {"shopMoney": {"amount": "23.0"}}}
    children = [x for x in lines if "__parentId" in x]
    assert [(c["sku"], c["__parentId"]) for c in children] == [
        ("S1", f"gid://shopify/Order/{o1.id}"), ("S2", f"gid://shopify/Order/{o1.id}"),
        ("S3", f"gid://shopify/Order/{o2.id}")]


def test_bulk_concurrency_limit_is_five(shopify_sim):
    q = "{ customers { edges { node { id } } } }"
    ids = [post_graphql(shopify_sim, RUN, {"q": q})[2]["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
           for _ in range(5)]
    sixth = post_graphql(shopify_sim, RUN, {"q": q})[2]["data"]["bulkOperationRunQuery"]
    assert sixth == {"bulkOperation": None, "userErrors": [{
        "field": None, "code": "OPERATION_IN_PROGRESS",
        "message": "A bulk query operation for this app and shop is already in progress: "
                   + ", ".join(ids) + "."}]}


def test_bulk_validators(shopify_sim):
    def errors(q):
        return post_graphql(shopify_sim, RUN, {"q": q})[2]["data"]["bulkOperationRunQuery"]["userErrors"]

    assert errors("{ orders { nodes { id } } }")[0]["message"].startswith(
        "All connection fields in a bulk query must select their contents using 'edges' > 'node'")
    assert errors("{ shop { id } }") == [{"field": ["query"], "code": "INVALID",
                                           "message": "Bulk queries must contain at least one connection."}]
    assert errors("")[0]["message"] == "Invalid bulk query: syntax error, unexpected end of file"
    assert errors("{ orders { edges { node { id fulfillments { fulfillmentLineItems { edges { node { id } } } } } } } }") == [
        {"field": ["query"], "code": "INVALID", "message":
         "Queries that contain a connection field within a list field are not currently supported."}]


def _address() -> Address:
    return Address(address1="Calle Mayor 1", address2="2B", city="Madrid", province="Madrid", province_code="M",
                   country="Spain", country_code="ES", zip="28001", first_name="Ana",
                   last_name="Lopez", phone="+34600000000", company="Cafes Lopez SL")


def _sig(body: bytes) -> str:
    return base64.b64encode(hmac.new(SHOPIFY_SIM_SECRET.encode(), body, hashlib.sha256).digest()).decode()


# The 2026-01 payload schemas are inferred from one example each, so they mark fields such as
# ``last_name`` or ``note`` non-null; the data below fills them (Shopify sends null when empty).
def test_signed_order_webhooks_match_2026_01_schema(shopify_sim, shopify_webhook_receiver):
    post_graphql(shopify_sim, """mutation W($uri: String!) { webhookSubscriptionCreate(topic: ORDERS_CREATE,
      webhookSubscription: {uri: $uri, format: JSON}) { userErrors { message } } }""",
                 {"uri": shopify_webhook_receiver.url})
    c = shopify_sim.create_customer(first_name="Ana", last_name="Lopez", email="ana@example.com",
                                    address=_address())
    o = shopify_sim.create_order(customer_id=c.id, lines=[("S1", "Mug", 2, Decimal("12.50"))],
                                 discount_codes=["WELCOME"], tags=["a", "b"])
    assert shopify_sim.wait_webhooks(5)
    (headers, body), = shopify_webhook_receiver.received
    h = {k.lower(): v for k, v in headers.items()}
    assert h["x-shopify-topic"] == "orders/create"
    assert h["x-shopify-hmac-sha256"] == _sig(body)
    assert h["x-shopify-shop-domain"] == shopify_sim.shop_domain
    assert h["x-shopify-api-version"] == "2026-01"
    assert h["x-shopify-webhook-id"] and h["x-shopify-event-id"] and h["x-shopify-triggered-at"]
    payload = json.loads(body, parse_float=Decimal)
    schema = json.loads((WEBHOOKS / "orders_create.schema.json").read_text())
    jsonschema.validate(payload, schema)
    assert payload["admin_graphql_api_id"] == f"gid://shopify/Order/{o.id}"
    assert payload["total_price"] == "25.00" and payload["tags"] == "a, b"
    assert payload["financial_status"] == "paid"
    assert payload["customer"]["admin_graphql_api_id"] == f"gid://shopify/Customer/{c.id}"


def test_customer_and_refund_webhooks_and_redelivery(shopify_sim, shopify_webhook_receiver):
    for topic in ("customers/create", "refunds/create"):
        shopify_sim.subscribe_webhook(topic, shopify_webhook_receiver.url)
    c = shopify_sim.create_customer(first_name="Ana", last_name="Lopez", email="ana@example.com",
                                    address=_address(), note="Loves coffee")
    o = shopify_sim.create_order(customer_id=c.id, lines=[("S1", "Mug", 2, Decimal("12.50"))])
    shopify_sim.add_refund(o.id, [(o.line_items[0].id, 1)], note="Damaged")
    assert shopify_sim.wait_webhooks(5)
    got = {json.loads(b).get("admin_graphql_api_id", "").split("/")[3]: (h, b)
           for h, b in shopify_webhook_receiver.received}
    jsonschema.validate(json.loads(got["Customer"][1]),
                        json.loads((WEBHOOKS / "customers_create.schema.json").read_text()))
    refund = json.loads(got["Refund"][1], parse_float=Decimal)
    jsonschema.validate(json.loads(got["Refund"][1]),
                        json.loads((WEBHOOKS / "refunds_create.schema.json").read_text()))
    assert refund["order_id"] == o.id
    assert refund["refund_line_items"][0]["subtotal"] == Decimal("12.5")  # a JSON number, as Shopify
    delivery = next(d for d in shopify_sim.webhooks.deliveries if d.topic == "refunds/create")
    shopify_sim.redeliver(delivery)
    assert shopify_sim.wait_webhooks(5)
    again = shopify_webhook_receiver.received[-1]
    assert again[1] == delivery.body
    assert again[0]["X-Shopify-Webhook-Id"] == delivery.webhook_id
    assert again[0]["X-Shopify-Event-Id"] == delivery.event_id


def test_failed_delivery_is_retried(shopify_sim, shopify_webhook_receiver):
    shopify_webhook_receiver.status = 500
    shopify_sim.subscribe_webhook("customers/update", shopify_webhook_receiver.url)
    c = shopify_sim.create_customer(first_name="A", emit=False)
    shopify_sim.update_customer(c.id, note="x")
    assert shopify_sim.wait_webhooks(5)
    # first attempt plus the fixture's two compressed retries
    assert len(shopify_webhook_receiver.received) == 3
    assert shopify_sim.webhooks.deliveries[0].statuses == [500, 500, 500]


def test_compliance_topics(shopify_sim, shopify_webhook_receiver):
    c = shopify_sim.create_customer(first_name="A", email="a@example.com", phone="+34600000009")
    shopify_sim.send_compliance("customers/redact", shopify_webhook_receiver.url, c, [11, 12])
    shopify_sim.send_compliance("shop/redact", shopify_webhook_receiver.url)
    assert shopify_sim.wait_webhooks(5)
    (h1, b1), (h2, b2) = shopify_webhook_receiver.received
    assert h1["X-Shopify-Topic"] == "customers/redact" and h1["X-Shopify-Hmac-Sha256"] == _sig(b1)
    assert json.loads(b1) == {"shop_id": shopify_sim.store.shop_id, "shop_domain": shopify_sim.shop_domain,
                              "customer": {"id": c.id, "email": "a@example.com", "phone": "+34600000009"},
                              "orders_to_redact": [11, 12]}
    assert json.loads(b2) == {"shop_id": shopify_sim.store.shop_id, "shop_domain": shopify_sim.shop_domain}

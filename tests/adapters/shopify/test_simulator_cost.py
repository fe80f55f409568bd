"""Cost model (NOTES §3) and leaky bucket (NOTES §2) of the Shopify simulator."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.shopify.simulator import ManualClock
from tests.fixtures.shopify_simulator import post_graphql

QUERIES = Path(__file__).resolve().parents[3] / ".." / "shared" / "shopify" / "queries"


def _sample(name: str) -> tuple[str, dict | None]:
    q = (QUERIES / f"{name}.graphql").read_text()
    vf = QUERIES / f"{name}.vars.json"
    return q, (json.loads(vf.read_text())["sample"] if vf.exists() else None)


def _requested(sim, name: str) -> int:
    q, v = _sample(name)
    _, _, body = post_graphql(sim, q, v)
    return body["extensions"]["cost"]["requestedQueryCost"]


def test_project_documents_cost_as_worked_out_in_notes(shopify_sim):
    # NOTES §3.3: orders page 2 + 7 × 39 = 275; customers 2 + 7 × 2 = 16; shop 1 + plan 1 = 2;
    # basic discount 10 + codeDiscount 1 + codes 3 + customerGets 1 + value 1 + items 1 = 17.
    assert _requested(shopify_sim, "orders_incremental") == 275
    assert _requested(shopify_sim, "customers_incremental") == 16
    assert _requested(shopify_sim, "shop") == 2
    assert _requested(shopify_sim, "discount_basic_create") == 17
    assert _requested(shopify_sim, "discount_freeshipping_create") == 14
    assert _requested(shopify_sim, "discount_by_code") == 7
    assert _requested(shopify_sim, "customers_literal") == 9
    assert _requested(shopify_sim, "bulk_poll") == 1
    for name in ("customer_create", "customer_update", "tags_add", "metafields_set",
                 "webhook_subscribe", "bulk_run_query"):
        assert _requested(shopify_sim, name) == 10, name


def test_actual_cost_never_exceeds_requested_and_is_refunded(shopify_sim_factory):
    clock = ManualClock()
    sim = shopify_sim_factory(clock=clock)
    q, v = _sample("orders_incremental")
    _, _, body = post_graphql(sim, q, v)  # empty shop: one (missing) item charged per connection
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 275
    assert cost["actualQueryCost"] == 2 + 1 * 39
    assert cost["throttleStatus"]["currentlyAvailable"] == 2000 - cost["actualQueryCost"]


def test_throttled_when_bucket_lacks_requested_cost_then_restores(shopify_sim_factory):
    clock = ManualClock()
    sim = shopify_sim_factory(clock=clock)
    sim.seed(customers=5, orders=60)
    q, v = _sample("orders_incremental")
    sim.bucket.drain(to=200)
    status, _, body = post_graphql(sim, q, v)
    assert status == 200 and "data" not in body
    assert body["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 275, "actualQueryCost": None,
        "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 200, "restoreRate": 100}}
    clock.advance(0.75)  # 200 + 0.75 s × 100/s = 275: just enough
    _, _, body = post_graphql(sim, q, v)
    assert "data" in body and body["extensions"]["cost"]["actualQueryCost"] == 275
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


def test_plus_plan_has_bigger_bucket(shopify_sim_factory):
    sim = shopify_sim_factory(clock=ManualClock(), plan="plus")
    _, _, body = post_graphql(sim, "{ shop { id } }")
    ts = body["extensions"]["cost"]["throttleStatus"]
    assert ts["restoreRate"] == 1000 and ts["maximumAvailable"] == 20000


def test_query_above_single_query_limit_is_refused(shopify_sim):
    # orders(first:250) 2 + 11 × (1 + lineItems(first:250) 2 + 11 × (1 + lineItem children 0)) …
    q = ("{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id "
         "discountAllocations { allocatedAmountSet { shopMoney { amount } } } } } } } }")
    # node = 1 + (2 + 11 × (1 + 1)) = 25; total = 2 + 11 × 25 = 277 → under the limit
    _, _, body = post_graphql(shopify_sim, q)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 277
    big = ("{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id "
           "refunds: discountAllocations { discountApplication { index } } } } "
           "fulfillmentOrders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } } } }")
    # node = 1 + lineItems(2 + 11 × (1 + 1 + 1)) 35 + fulfillmentOrders(2 + 11 × (1 + 2 + 11 × 1)) 156
    #      = 192 → 2 + 11 × 192 = 2114
    _, _, body = post_graphql(shopify_sim, big)
    assert "data" not in body
    err = body["errors"][0]
    assert err["message"].startswith(
        "Query cost is 2114, which exceeds the single query max cost limit (1000).")
    assert err["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 2114, "maxCost": 1000}

"""HTTP surface of the Shopify simulator: auth, versions, faults, counters, ShopifyAPI."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error

import pytest

from tests.fixtures.shopify_simulator import post_graphql, shopify_api_session

SHOP_Q = "query ShopInfo { shop { id name currencyCode myshopifyDomain } }"


def test_wrong_token_gets_shopify_401_string_body(shopify_sim):
    status, headers, body = post_graphql(shopify_sim, SHOP_Q, token="shpat_wrong")
    assert status == 401
    assert body == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert headers["WWW-Authenticate"] == 'Basic Realm="Shopify API Authentication"'
    assert headers["X-Request-Id"]


def test_supported_version_is_echoed_and_retired_version_falls_forward(shopify_sim):
    status, headers, body = post_graphql(shopify_sim, SHOP_Q)
    assert status == 200 and headers["X-Shopify-API-Version"] == "2026-01"
    assert body["data"]["shop"]["currencyCode"] == "EUR"
    _, headers, body = post_graphql(shopify_sim, SHOP_Q, version="2023-04")
    assert headers["X-Shopify-API-Version"] == "2026-01"
    assert body["data"]["shop"]["myshopifyDomain"] == shopify_sim.shop_domain


def test_shop_query_cost_is_two_and_bucket_reports_it(shopify_sim):
    # shop (object) 1 + plan-free selection: id/name/currency/domain are scalars → 1.
    _, _, body = post_graphql(shopify_sim, SHOP_Q)
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 and cost["actualQueryCost"] == 1
    assert cost["throttleStatus"]["maximumAvailable"] == 2000
    assert cost["throttleStatus"]["restoreRate"] == 100
    assert 1999 <= cost["throttleStatus"]["currentlyAvailable"] <= 2000


def test_http_429_with_retry_after_then_normal(shopify_sim):
    shopify_sim.faults.http_429 = 1
    shopify_sim.faults.retry_after = "1.5"
    status, headers, body = post_graphql(shopify_sim, SHOP_Q)
    assert status == 429 and headers["Retry-After"] == "1.5"
    assert isinstance(body["errors"], str)
    status, _, _ = post_graphql(shopify_sim, SHOP_Q)
    assert status == 200


def test_5xx_then_normal(shopify_sim):
    shopify_sim.faults.http_5xx = 2
    assert post_graphql(shopify_sim, SHOP_Q)[0] == 503
    assert post_graphql(shopify_sim, SHOP_Q)[0] == 503
    assert post_graphql(shopify_sim, SHOP_Q)[0] == 200


def test_connection_reset(shopify_sim):
    shopify_sim.faults.reset = 1
    conn = http.client.HTTPConnection("127.0.0.1", shopify_sim.port, timeout=5)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        conn.request("POST", "/admin/api/2026-01/graphql.json", body=json.dumps({"query": SHOP_Q}),
                     headers={"X-Shopify-Access-Token": shopify_sim.access_token})
        conn.getresponse().read()
    assert post_graphql(shopify_sim, SHOP_Q)[0] == 200


def test_latency_and_slow_body(shopify_sim):
    shopify_sim.faults.latency = 0.2
    shopify_sim.faults.slow_body = 0.2
    t = time.monotonic()
    assert post_graphql(shopify_sim, SHOP_Q)[0] == 200
    assert time.monotonic() - t >= 0.4


def test_forced_throttle_returns_200_without_data(shopify_sim):
    shopify_sim.faults.throttle = 1
    status, _, body = post_graphql(shopify_sim, SHOP_Q)
    assert status == 200 and "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1


def test_counters_by_operation_and_root_field(shopify_sim):
    post_graphql(shopify_sim, SHOP_Q)
    post_graphql(shopify_sim, "{ customers(first: 1) { nodes { id } } }")
    post_graphql(shopify_sim, SHOP_Q)
    assert shopify_sim.counts["op:ShopInfo"] == 2
    assert shopify_sim.counts["shop"] == 2
    assert shopify_sim.counts["customers"] == 1
    assert shopify_sim.counts["requests"] == 3
    shopify_sim.reset_counts()
    assert shopify_sim.counts["requests"] == 0


def test_shopify_api_package_works_unchanged(shopify_sim):
    c = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    with shopify_api_session(shopify_sim) as shopify:
        text = shopify.GraphQL().execute(
            "query C($id: ID!) { customer(id: $id) { id email } }", {"id": f"gid://shopify/Customer/{c.id}"})
    body = json.loads(text)
    assert body["data"]["customer"] == {"id": f"gid://shopify/Customer/{c.id}", "email": "ana@example.com"}


def test_shopify_api_package_sees_401_as_http_error(shopify_sim, capsys):
    with shopify_api_session(shopify_sim) as shopify, pytest.raises(urllib.error.HTTPError) as err:
        shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = "shpat_revoked"
        shopify.GraphQL().execute(SHOP_Q)
    assert err.value.code == 401
    # the package prints error bodies to stdout (NOTES §1.6): the simulator's body is that string
    assert "Invalid API key or access token" in capsys.readouterr().out

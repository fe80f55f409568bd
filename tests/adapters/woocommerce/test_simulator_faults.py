"""Fault knobs and request accounting, observed from a real HTTP client."""

from __future__ import annotations

import json
import time

import pytest
import requests
from woocommerce import API

from adapters.woocommerce.simulator import WooSimulator


def test_faults_are_off_by_default(woo_api: API) -> None:
    assert woo_api.get("orders").status_code == 200


def test_next_429_with_retry_after_and_html_then_recovers(woo_sim: WooSimulator,
                                                          woo_api: API) -> None:
    woo_sim.faults.next_429(2, retry_after=7)
    for _ in range(2):
        resp = woo_api.get("orders")
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "7"
        assert resp.headers["Content-Type"].startswith("text/html")
        assert resp.text.startswith("<!DOCTYPE html>")
    assert woo_api.get("orders").status_code == 200


def test_503_and_500_and_route_scoping(woo_sim: WooSimulator, woo_api: API) -> None:
    woo_sim.faults.next_503(1, retry_after=3, path="customers")
    woo_sim.faults.next_500(1, method="POST")
    assert woo_api.get("orders").status_code == 200  # neither rule matches
    assert woo_api.get("customers").status_code == 503
    assert woo_api.post("coupons", {"code": "a"}).status_code == 500
    assert woo_api.post("coupons", {"code": "a"}).status_code == 201


def test_connection_reset_without_response(woo_sim: WooSimulator, woo_api: API) -> None:
    woo_sim.faults.next_reset(1)
    with pytest.raises(requests.ConnectionError):
        woo_api.get("orders")
    assert woo_api.get("orders").status_code == 200
    assert woo_sim.requests[0].fault == "reset"


def test_slow_body_dribbles_past_a_short_read_timeout(woo_sim: WooSimulator) -> None:
    woo_sim.create_customer(email="slow@example.test")
    woo_sim.faults.slow_body(1, chunk_delay=0.3, chunk_size=200)
    api = API(url=woo_sim.url, consumer_key=woo_sim.consumer_key,
              consumer_secret=woo_sim.consumer_secret, timeout=0.2)
    with pytest.raises(requests.exceptions.RequestException):
        api.get("customers").json()


def test_malformed_json_for_one_path(woo_sim: WooSimulator, woo_api: API) -> None:
    woo_sim.create_customer(email="a@example.test")
    woo_sim.faults.malformed_json(path="customers")
    assert woo_api.get("orders").json() == []
    broken = woo_api.get("customers")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)
    assert len(woo_api.get("customers").json()) == 1


def test_latency_is_added(woo_sim: WooSimulator, woo_api: API) -> None:
    woo_sim.faults.latency = 0.3
    start = time.monotonic()
    woo_api.get("orders")
    assert time.monotonic() - start >= 0.3
    woo_sim.faults.clear()


def test_override_and_blocked_put(woo_sim: WooSimulator, woo_api: API) -> None:
    c = woo_sim.create_coupon(code="x")
    woo_sim.faults.block_method("PUT")
    woo_sim.faults.override(418, '{"code":"teapot"}', path=r"coupons/\d+", method="GET")
    assert woo_api.put(f"coupons/{c['id']}", {"amount": "2"}).status_code == 501
    assert woo_api.post(f"coupons/{c['id']}", {"amount": "2"}).status_code == 200  # workaround
    assert woo_api.get(f"coupons/{c['id']}").json() == {"code": "teapot"}


def test_stripped_authorization_and_https_redirect(woo_sim_https: WooSimulator) -> None:
    sim = woo_sim_https
    auth = (sim.consumer_key, sim.consumer_secret)
    assert requests.get(f"{sim.api_url}/orders", auth=auth, timeout=5).status_code == 200
    sim.faults.strip_authorization()
    stripped = requests.get(f"{sim.api_url}/orders", auth=auth, timeout=5)
    assert stripped.json()["code"] == "woocommerce_rest_cannot_view"
    qs = requests.get(f"{sim.api_url}/orders", timeout=5,
                      params={"consumer_key": auth[0], "consumer_secret": auth[1]})
    assert qs.status_code == 200  # the documented workaround
    sim.faults.clear()
    sim.faults.redirect_to_https(1)
    redirected = requests.get(f"{sim.api_url}/orders", auth=auth, timeout=5,
                              allow_redirects=False)
    assert redirected.status_code == 301
    assert redirected.headers["Location"].startswith("https://")


def test_every_request_is_counted_and_counts_reset(woo_sim: WooSimulator, woo_api: API) -> None:
    woo_sim.faults.next_429(1)
    woo_api.get("orders")
    woo_api.get("orders", params={"page": 1})
    woo_api.get("orders/5")
    woo_api.post("coupons", {"code": "a"})
    assert woo_sim.count("GET", "orders") == 2
    assert woo_sim.count("GET") == 3
    assert woo_sim.count(path="coupons") == 1
    assert woo_sim.counts[("GET", "orders/5")] == 1
    assert [r.status for r in woo_sim.requests] == [429, 200, 404, 201]
    woo_sim.reset_counts()
    assert woo_sim.count() == 0 and woo_sim.requests == []

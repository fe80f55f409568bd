"""Webhook deliveries: asynchronous, coalesced, rendered at delivery time, signed, disabled after
repeated failures."""

from __future__ import annotations

import json
import time
from typing import Any

from woocommerce import API

from adapters.woocommerce.simulator import WooSimulator, verify_signature

SECRET = "test-webhook-secret"


def _hook(api: API, receiver: Any, topic: str) -> dict[str, Any]:
    resp = api.post("webhooks", {"name": topic, "topic": topic, "status": "active",
                                 "delivery_url": f"{receiver.url}/hook/{topic}",
                                 "secret": SECRET})
    assert resp.status_code == 201
    return dict(resp.json())


def _deliveries(receiver: Any, topic: str) -> list[Any]:
    return [r for r in receiver.received if r.header("X-WC-Webhook-Topic") == topic]


def test_webhook_create_shape_and_hooks(woo_api: API, webhook_receiver: Any) -> None:
    body = _hook(woo_api, webhook_receiver, "customer.created")
    assert body["hooks"] == ["user_register", "woocommerce_created_customer",
                             "woocommerce_new_customer"]
    assert "secret" not in body and body["date_modified"] is None
    bad = woo_api.post("webhooks", {"topic": "order.exploded", "delivery_url": "http://x.test/"})
    assert (bad.status_code, bad.json()["code"]) == \
        (400, "woocommerce_rest_shop_webhook_invalid_topic")
    bad_url = woo_api.post("webhooks", {"topic": "order.created", "delivery_url": "ftp://x/"})
    assert bad_url.json()["code"] == "woocommerce_rest_shop_webhook_invalid_delivery_url"


def test_delivery_waits_for_the_tick_and_coalesces_to_latest_state(
        woo_sim: WooSimulator, woo_api: API, webhook_receiver: Any) -> None:
    woo_sim.dispatcher.delay = 0.4
    _hook(woo_api, webhook_receiver, "order.updated")
    pid = woo_sim.create_product(name="P", sku="P", regular_price="5.00")["id"]
    order = woo_sim.create_order(line_items=[{"product_id": pid}])
    for status in ("on-hold", "processing", "completed"):
        woo_api.put(f"orders/{order['id']}", {"status": status})
    assert _deliveries(webhook_receiver, "order.updated") == []  # never inline
    deadline = time.monotonic() + 5
    while not _deliveries(webhook_receiver, "order.updated") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    got = _deliveries(webhook_receiver, "order.updated")
    assert len(got) == 1  # three updates, one delivery
    payload = json.loads(got[0].body)
    assert payload["id"] == order["id"] and payload["status"] == "completed"
    assert verify_signature(got[0].body, SECRET, got[0].header("X-WC-Webhook-Signature") or "")


def test_deleted_topics_carry_only_the_id(woo_sim: WooSimulator, woo_api: API,
                                          webhook_receiver: Any) -> None:
    _hook(woo_api, webhook_receiver, "coupon.deleted")
    c = woo_sim.create_coupon(code="bye")
    woo_api.delete(f"coupons/{c['id']}")  # trash fires the hook
    woo_sim.flush_webhooks()
    (delivery,) = _deliveries(webhook_receiver, "coupon.deleted")
    assert delivery.body == f'{{"id":{c["id"]}}}'.encode()


def test_php_escaping_in_delivered_bytes(woo_sim: WooSimulator, woo_api: API,
                                         webhook_receiver: Any) -> None:
    _hook(woo_api, webhook_receiver, "customer.created")
    woo_api.post("customers", {"email": "jose@example.test", "first_name": "José"})
    woo_sim.flush_webhooks()
    (delivery,) = _deliveries(webhook_receiver, "customer.created")
    assert b'"first_name":"Jos\\u00e9"' in delivery.body
    assert b"https:\\/\\/secure.gravatar.com" in delivery.body


def test_seventh_consecutive_failure_disables_the_webhook(woo_sim: WooSimulator, woo_api: API,
                                                          webhook_receiver: Any) -> None:
    hook = _hook(woo_api, webhook_receiver, "coupon.created")
    webhook_receiver.status = 500
    for i in range(7):
        woo_sim.create_coupon(code=f"f{i}")
        woo_sim.flush_webhooks()
        status = woo_api.get(f"webhooks/{hook['id']}").json()["status"]
        assert status == ("disabled" if i == 6 else "active"), i
    assert len(_deliveries(webhook_receiver, "coupon.created")) == 7
    assert woo_api.get("webhooks", params={"status": "disabled"}).json()[0]["id"] == hook["id"]


def test_redirect_counts_as_success(woo_sim: WooSimulator, woo_api: API,
                                    webhook_receiver: Any) -> None:
    hook = _hook(woo_api, webhook_receiver, "coupon.created")
    webhook_receiver.status = 302
    for i in range(8):
        woo_sim.create_coupon(code=f"r{i}")
        woo_sim.flush_webhooks()
    assert woo_api.get(f"webhooks/{hook['id']}").json()["status"] == "active"


def test_bad_signature_knob(woo_sim: WooSimulator, woo_api: API, webhook_receiver: Any) -> None:
    _hook(woo_api, webhook_receiver, "coupon.created")
    woo_sim.dispatcher.bad_signatures = True
    woo_sim.create_coupon(code="sig")
    woo_sim.flush_webhooks()
    (delivery,) = _deliveries(webhook_receiver, "coupon.created")
    assert not verify_signature(delivery.body, SECRET,
                                delivery.header("X-WC-Webhook-Signature") or "")

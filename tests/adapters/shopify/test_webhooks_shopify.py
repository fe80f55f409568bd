"""Webhook verification, dedupe keys, hints and GDPR requests.

HMAC vectors: the published HMAC-SHA256("key", "The quick brown fox…") test vector and one
computed with `openssl dgst -sha256 -hmac hush -binary | base64`, both written here as literals;
bodies are Shopify's example payloads from webhooks/2026-01/*.metadata.json.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.shopify.webhooks import (
    CustomerDataRequest,
    CustomerRedact,
    ShopRedact,
    WebhookHint,
    parse_delivery,
    read_delivery,
    signature,
    verify_hmac,
)
from connector.errors import AuthRejected, MalformedPayload

WEBHOOKS = Path(__file__).resolve().parents[3] / ".." / "shared" / "shopify" / "webhooks" / "2026-01"
SECRET = "hush"


def example(topic_file: str) -> bytes:
    body = json.loads((WEBHOOKS / topic_file).read_text())["response"]
    return json.dumps(body).encode()


def signed_headers(raw: bytes, topic: str, secret: str = SECRET, **extra: str) -> dict[str, str]:
    mac = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": mac,
        "X-Shopify-Shop-Domain": "eu-shop.myshopify.com",
        "X-Shopify-API-Version": "2026-01",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-02-01T10:00:00.123456Z",
    }
    headers.update(extra)
    return headers


def test_published_hmac_sha256_vector() -> None:
    assert signature(b"The quick brown fox jumps over the lazy dog", "key") == \
        "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="


def test_openssl_vector() -> None:
    assert signature(b'{"id":1}', "hush") == "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY="
    assert verify_hmac(b'{"id":1}', "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY=", ["hush"])
    assert not verify_hmac(b'{"id":2}', "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY=", ["hush"])


def test_customer_create_becomes_a_refresh_hint_keyed_on_the_exact_gid() -> None:
    raw = example("customers_create.metadata.json")
    hint = parse_delivery(signed_headers(raw, "customers/create"), raw, secret=SECRET, store="eu")
    assert isinstance(hint, WebhookHint)
    assert (hint.kind, hint.action) == ("customer", "refresh")
    # The numeric id in the example is float-rounded (…370000); the gid is exact (…370084).
    assert hint.gid == "gid://shopify/Customer/706405506930370084"
    assert hint.platform_id == "shopify:eu:gid://shopify/Customer/706405506930370084"
    assert hint.dedupe_key == "shopify:eu-shop.myshopify.com:event:98880550-7158-44d4-b7cd-2c97c8a091b5"


def test_orders_paid_hint() -> None:
    raw = example("orders_paid.metadata.json")
    body = json.loads(raw)
    hint = parse_delivery(signed_headers(raw, "orders/paid"), raw, secret=SECRET, store="eu")
    assert isinstance(hint, WebhookHint)
    assert (hint.kind, hint.action, hint.gid) == ("order", "refresh", body["admin_graphql_api_id"])


def test_refund_points_at_its_order_with_an_exact_big_id() -> None:
    # 820982911946154507 > 2**53: parsed as an exact int, never through a float.
    raw = b'{"id": 890088186047892319, "order_id": 820982911946154507, "refund_line_items": []}'
    hint = parse_delivery(signed_headers(raw, "refunds/create"), raw, secret=SECRET, store="eu")
    assert isinstance(hint, WebhookHint)
    assert hint.gid == "gid://shopify/Order/820982911946154507"


def test_refund_body_money_parsed_as_decimal() -> None:
    raw = example("refunds_create.metadata.json")
    delivery = read_delivery(signed_headers(raw, "refunds/create"), raw, secret=SECRET, store="eu")
    line = delivery.body["refund_line_items"][0]
    assert line["subtotal"] == Decimal("89.99") and isinstance(line["subtotal"], Decimal)


def test_bulk_finish_hint() -> None:
    raw = example("bulk_operations_finish.metadata.json")
    hint = parse_delivery(signed_headers(raw, "bulk_operations/finish"), raw, secret=SECRET, store="eu")
    assert isinstance(hint, WebhookHint)
    assert hint.kind == "bulk_operation" and hint.action == "bulk_finished"
    assert hint.gid is not None and hint.gid.startswith("gid://shopify/BulkOperation/")


def test_bad_hmac_is_rejected_by_name_without_the_body() -> None:
    raw = example("customers_create.metadata.json")
    headers = signed_headers(raw, "customers/create")
    tampered = raw.replace(b"bob@biller.com", b"eve@biller.com")
    with pytest.raises(AuthRejected) as info:
        parse_delivery(headers, tampered, secret=SECRET, store="eu")
    err = info.value
    assert err.reference == "shopify-webhook-hmac-invalid"
    assert err.key == "webhook_secret"
    assert "biller.com" not in str(err) and "biller.com" not in json.dumps(err.to_dict())


def test_wrong_secret_missing_header_and_no_secret() -> None:
    raw = b'{"id": 1}'
    with pytest.raises(AuthRejected):
        parse_delivery(signed_headers(raw, "orders/create", secret="other"), raw, secret=SECRET, store="eu")
    headers = signed_headers(raw, "orders/create")
    del headers["X-Shopify-Hmac-Sha256"]
    with pytest.raises(AuthRejected) as info:
        parse_delivery(headers, raw, secret=SECRET, store="eu")
    assert info.value.reference == "shopify-webhook-unsigned"
    with pytest.raises(AuthRejected) as info:
        parse_delivery(signed_headers(raw, "orders/create"), raw, secret=None, store="eu")
    assert info.value.reference == "shopify-webhook-secret-missing"


def test_previous_secret_accepted_during_rotation_and_headers_case_insensitive() -> None:
    raw = b'{"id": 5, "admin_graphql_api_id": "gid://shopify/Order/5"}'
    headers = {k.lower(): v for k, v in signed_headers(raw, "orders/create", secret="old").items()}
    hint = parse_delivery(headers, raw, secret="new", previous_secret="old", store="eu")
    assert isinstance(hint, WebhookHint) and hint.gid == "gid://shopify/Order/5"


def test_dedupe_prefers_event_id_then_webhook_id() -> None:
    raw = b'{"id": 5}'
    a = read_delivery(signed_headers(raw, "orders/updated", **{"X-Shopify-Webhook-Id": "w1"}), raw,
                      secret=SECRET, store="eu")
    b = read_delivery(signed_headers(raw, "orders/updated", **{"X-Shopify-Webhook-Id": "w2"}), raw,
                      secret=SECRET, store="eu")
    assert a.dedupe_key == b.dedupe_key  # same event delivered to two subscriptions
    headers = signed_headers(raw, "orders/updated", **{"X-Shopify-Webhook-Id": "w3"})
    del headers["X-Shopify-Event-Id"]
    c = read_delivery(headers, raw, secret=SECRET, store="eu")
    assert c.dedupe_key == "shopify:eu-shop.myshopify.com:webhook:w3"


def test_signed_garbage_is_malformed() -> None:
    raw = b"<html>oops</html>"
    with pytest.raises(MalformedPayload):
        parse_delivery(signed_headers(raw, "orders/create"), raw, secret=SECRET, store="eu")


def gdpr(topic: str, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return parse_delivery(signed_headers(raw, topic), raw, secret=SECRET, store="eu")


def test_customers_data_request() -> None:
    req = gdpr("customers/data_request", {
        "shop_id": 954889, "shop_domain": "eu-shop.myshopify.com", "orders_requested": [299938, 280263],
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "data_request": {"id": 9999},
    })
    assert isinstance(req, CustomerDataRequest)
    assert req.customer_platform_id == "shopify:eu:gid://shopify/Customer/191167"
    assert req.email == "john@example.com" and req.phone == "555-625-1199"
    assert req.order_gids == ("gid://shopify/Order/299938", "gid://shopify/Order/280263")
    assert (req.shop_id, req.data_request_id) == (954889, 9999)


def test_customers_redact() -> None:
    req = gdpr("customers/redact", {
        "shop_id": 954889, "shop_domain": "eu-shop.myshopify.com",
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [299938],
    })
    assert isinstance(req, CustomerRedact)
    assert req.customer_gid == "gid://shopify/Customer/191167"
    assert req.order_gids == ("gid://shopify/Order/299938",)


def test_shop_redact() -> None:
    req = gdpr("shop/redact", {"shop_id": 954889, "shop_domain": "eu-shop.myshopify.com"})
    assert req == ShopRedact(store="eu", shop_domain="eu-shop.myshopify.com", shop_id=954889,
                             dedupe_key=req.dedupe_key)


def test_unknown_topic_is_acknowledged_and_ignored() -> None:
    raw = b'{"id": 1}'
    hint = parse_delivery(signed_headers(raw, "products/create"), raw, secret=SECRET, store="eu")
    assert isinstance(hint, WebhookHint) and hint.action == "ignore"

"""Webhook intake against the real recorded deliveries (secret `test-webhook-secret`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.woocommerce.webhooks import Ping, WebhookHint, parse_delivery, verify_signature
from connector.errors import AuthRejected, MalformedPayload

DELIVERIES = Path(__file__).resolve().parents[3] / ".." / "shared" / "woocommerce" / "recorded" / "webhook-deliveries"
SECRET = "test-webhook-secret"


def delivery(name: str) -> tuple[dict[str, str], bytes, dict[str, Any]]:
    rec = json.loads((DELIVERIES / name).read_text(encoding="utf-8"))
    return rec["headers"], rec["body_raw"].encode("utf-8"), rec


SIGNED = sorted(p.name for p in DELIVERIES.glob("18*.json"))


@pytest.mark.parametrize("name", SIGNED)
def test_every_recorded_delivery_verifies_and_names_its_resource(name: str) -> None:
    headers, raw, rec = delivery(name)
    assert rec["signature_valid"] is True
    assert len(raw) == int(headers["Content-Length"])  # the exact bytes that were signed
    hint = parse_delivery(headers, raw, secret=SECRET, store="main")
    assert isinstance(hint, WebhookHint)
    assert hint.resource == headers["X-WC-Webhook-Resource"]
    assert hint.resource_id == rec["body"]["id"]
    assert hint.platform_id == f"woo:main:{rec['body']['id']}"
    assert hint.topic == headers["X-WC-Webhook-Topic"]


def test_expected_hints_by_hand() -> None:
    got = {n: parse_delivery(*delivery(n)[:2], secret=SECRET, store="main") for n in SIGNED}
    summary = {n: (h.resource, h.resource_id) for n, h in got.items() if isinstance(h, WebhookHint)}
    assert summary == {
        "180614-001-customer_created.json": ("customer", 4),
        "180614-002-coupon_created.json": ("coupon", 20),
        "180614-003-order_created.json": ("order", 21),
        "180635-004-order_created.json": ("order", 22),
        "180636-005-order_created.json": ("order", 23),
        "180826-006-order_created.json": ("order", 24),
        "180826-007-coupon_created.json": ("coupon", 25),
    }


def test_ping_is_acknowledged_without_signature() -> None:
    headers, raw, _ = delivery("ping-coupon.created.json")
    assert parse_delivery(headers, raw, secret=SECRET, store="main") == Ping(webhook_id=3)
    # even before a secret is configured
    assert parse_delivery(headers, raw, secret=None, store="main") == Ping(webhook_id=3)


def test_wrong_secret_is_refused_naming_the_key() -> None:
    headers, raw, _ = delivery("180826-006-order_created.json")
    with pytest.raises(AuthRejected) as err:
        parse_delivery(headers, raw, secret="other-secret", store="main")
    assert err.value.key == "webhook_secret" and err.value.hint
    assert "test-webhook-secret" not in str(err.value) and "other-secret" not in str(err.value)


def test_one_changed_byte_fails_verification() -> None:
    headers, raw, _ = delivery("180826-006-order_created.json")
    assert verify_signature(raw, headers["X-WC-Webhook-Signature"], SECRET)
    tampered = raw.replace(b'"total":"24.89"', b'"total":"24.88"')
    assert tampered != raw
    assert not verify_signature(tampered, headers["X-WC-Webhook-Signature"], SECRET)
    # re-serialised JSON (no \/ escapes, different spacing) is not the signed body
    reserialised = json.dumps(json.loads(raw)).encode()
    assert not verify_signature(reserialised, headers["X-WC-Webhook-Signature"], SECRET)


def test_unsigned_json_is_refused() -> None:
    headers, raw, _ = delivery("180826-006-order_created.json")
    unsigned = {k: v for k, v in headers.items() if k != "X-WC-Webhook-Signature"}
    with pytest.raises(AuthRejected) as err:
        parse_delivery(unsigned, raw, secret=SECRET, store="main")
    assert err.value.reference == "woo-webhook-unsigned"


def test_form_body_with_extra_fields_is_not_a_ping() -> None:
    headers, _, _ = delivery("ping-coupon.created.json")
    with pytest.raises(AuthRejected):
        parse_delivery(headers, b"webhook_id=3&action=x", secret=SECRET, store="main")


def test_signed_garbage_is_malformed() -> None:
    headers, _, _ = delivery("180826-006-order_created.json")
    from adapters.woocommerce.webhooks import signature

    raw = b"not json"
    signed = {**headers, "X-WC-Webhook-Signature": signature(raw, SECRET)}
    with pytest.raises(MalformedPayload):
        parse_delivery(signed, raw, secret=SECRET, store="main")


def test_dedupe_key() -> None:
    # Two deliveries of webhook 1 in different seconds for different orders: different keys.
    a = parse_delivery(*delivery("180635-004-order_created.json")[:2], secret=SECRET, store="main")
    b = parse_delivery(*delivery("180636-005-order_created.json")[:2], secret=SECRET, store="main")
    assert isinstance(a, WebhookHint) and isinstance(b, WebhookHint)
    assert a.dedupe_key != b.dedupe_key
    # The same delivery received twice: same key.
    again = parse_delivery(*delivery("180635-004-order_created.json")[:2], secret=SECRET, store="main")
    assert isinstance(again, WebhookHint) and again.dedupe_key == a.dedupe_key
    # Same Delivery-ID (same webhook, same second) but another resource: different key.
    headers, raw, _ = delivery("180635-004-order_created.json")
    other_headers, other_raw, _ = delivery("180636-005-order_created.json")
    same_second = {**other_headers, "X-WC-Webhook-Delivery-ID": headers["X-WC-Webhook-Delivery-ID"]}
    c = parse_delivery(same_second, other_raw, secret=SECRET, store="main")
    assert isinstance(c, WebhookHint) and c.delivery_id == a.delivery_id and c.dedupe_key != a.dedupe_key


def test_header_names_are_case_insensitive() -> None:
    headers, raw, _ = delivery("180614-001-customer_created.json")
    lowered = {k.lower(): v for k, v in headers.items()}
    hint = parse_delivery(lowered, raw, secret=SECRET, store="eu")
    assert isinstance(hint, WebhookHint) and hint.platform_id == "woo:eu:4"

"""Mapping of real recorded WooCommerce 9.9.5 bodies (../shared/woocommerce/recorded) to domain
objects. Expected figures are read off the recordings by hand (see NOTES §4)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.woocommerce import mapping
from connector.domain import IssueCoupon, Money, OrderStatus
from connector.errors import InvalidValue, MalformedPayload, MissingField

RECORDED = Path(__file__).resolve().parents[3] / ".." / "shared" / "woocommerce" / "recorded"


def recorded(name: str) -> Any:
    # Parse floats as Decimal, exactly as the client does.
    return json.loads((RECORDED / name).read_text(encoding="utf-8"), parse_float=Decimal)["body"]


def delivery_body(name: str) -> Any:
    raw = json.loads((RECORDED / "webhook-deliveries" / name).read_text(encoding="utf-8"))["body_raw"]
    return json.loads(raw, parse_float=Decimal)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


# --- orders ---------------------------------------------------------------------------------


def test_processing_order_from_recording() -> None:
    order = mapping.order_from_woo("main", recorded("order-get.json"))
    assert order.id == "woo:main:13"
    assert order.number == "13"
    assert order.status is OrderStatus.PAID  # processing
    assert order.currency == "EUR"
    assert order.customer_id == "woo:main:2"
    assert order.email == "anna.180440@example.test"
    assert order.total == eur("44.88")  # 2 × 19.99 + 4.90 shipping
    assert order.shipping_total == eur("4.90")
    assert order.discount_total == eur("0.00")
    assert order.created_at == datetime(2026, 11, 22, 18, 4, 43, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 22, 18, 4, 43, tzinfo=UTC)
    assert order.completed_at is None
    (line,) = order.lines
    assert (line.sku, line.quantity, line.subtotal, line.total) == ("WID-180440", 2, eur("39.98"), eur("39.98"))
    assert line.product_id == "10"
    (ship,) = order.shipping_lines
    assert (ship.method, ship.title, ship.total) == ("flat_rate", "Flat Rate", eur("4.90"))
    assert order.billing.line1 == "Hauptstr. 1" and order.billing.country == "DE"


def test_discounted_line_money_comes_from_strings_not_price() -> None:
    order = mapping.order_from_woo("main", recorded("order-create-with-coupon.json"))
    (line,) = order.lines
    # 10 % off 19.99 → 2.00 rounded, line total 17.99; the float `price` is never read.
    assert line.subtotal == eur("19.99") and line.total == eur("17.99")
    assert line.total.amount == Decimal("17.99")
    (coupon,) = order.coupon_lines
    assert coupon.code == "loyal10-180440"
    assert coupon.discount == eur("2")  # raw "2" on the wire
    assert order.discount_total == eur("2.00")
    assert order.status is OrderStatus.PENDING


def test_free_shipping_coupon_line() -> None:
    order = mapping.order_from_woo("main", recorded("order-update-add-freeship-coupon.json"))
    (coupon,) = order.coupon_lines
    assert coupon.free_shipping is True
    assert coupon.discount == eur("0")
    assert order.total == eur("24.89")  # free shipping does not touch the existing 4.90 line


def test_completed_order_dates() -> None:
    order = mapping.order_from_woo("main", recorded("order-update-status.json"))
    assert order.status is OrderStatus.COMPLETED
    assert order.completed_at == datetime(2026, 11, 22, 18, 4, 43, tzinfo=UTC)


def test_order_with_refund_summary_and_full_refund() -> None:
    body = delivery_body("180826-006-order_created.json")
    assert mapping.refund_ids(body) == [26]
    order = mapping.order_from_woo("main", body, refunds=[recorded("order-refund-create.json")])
    (refund,) = order.refunds
    assert refund.id == "woo:main:26"
    assert refund.order_id == "woo:main:24"
    assert refund.amount == eur("1.00")  # positive in the domain
    assert refund.reason == "loyalty goodwill"
    assert refund.created_at == datetime(2026, 11, 22, 18, 7, 15, tzinfo=UTC)
    assert order.total == eur("24.89")  # Woo does not reduce the order total by refunds
    assert order.refunded_total == eur("1.00")


def test_refund_lines_are_made_positive() -> None:
    refund = copy.deepcopy(recorded("order-refund-create.json"))
    refund["line_items"] = [{"id": 30, "sku": "WID-180440", "quantity": -1, "total": "-19.99"}]
    refund["shipping_lines"] = [{"id": 31, "total": "-4.90"}]
    mapped = mapping.refund_from_woo("main", "woo:main:24", refund, "EUR")
    (line,) = mapped.lines
    assert (line.sku, line.quantity, line.amount) == ("WID-180440", 1, eur("19.99"))
    assert mapped.shipping == eur("4.90")


def test_guest_order_keeps_billing_email_and_no_customer() -> None:
    body = copy.deepcopy(recorded("order-get.json"))
    body["customer_id"] = 0
    body["billing"]["email"] = "Guest.Buyer@Example.test "
    order = mapping.order_from_woo("main", body)
    assert order.customer_id is None
    assert order.is_guest
    assert order.email_key == "guest.buyer@example.test"


@pytest.mark.parametrize(
    ("woo", "domain"),
    [
        ("pending", OrderStatus.PENDING),
        ("processing", OrderStatus.PAID),
        ("on-hold", OrderStatus.ON_HOLD),
        ("completed", OrderStatus.COMPLETED),
        ("cancelled", OrderStatus.CANCELLED),
        ("refunded", OrderStatus.REFUNDED),
        ("failed", OrderStatus.FAILED),
        ("checkout-draft", OrderStatus.DRAFT),
    ],
)
def test_status_map(woo: str, domain: OrderStatus) -> None:
    body = copy.deepcopy(recorded("order-get.json"))
    body["status"] = woo
    assert mapping.order_from_woo("main", body).status is domain


def test_unknown_status_is_named() -> None:
    body = copy.deepcopy(recorded("order-get.json"))
    body["status"] = "wc-shipped"
    with pytest.raises(InvalidValue) as err:
        mapping.order_from_woo("main", body)
    assert err.value.reference == "order-status-unknown"
    assert err.value.obj == "woo:main:13"


def test_all_recorded_orders_map() -> None:
    seen = 0
    for path in sorted(RECORDED.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal).get("body")
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict) and "line_items" in item and "status" in item and "currency" in item:
                order = mapping.order_from_woo("main", item)
                assert order.total.currency == "EUR"
                seen += 1
    assert seen >= 14


# --- bad input: every one a named error with a hint ---------------------------------------------


def _bad_order(mutate: Any) -> Exception:
    body = copy.deepcopy(recorded("order-get.json"))
    mutate(body)
    with pytest.raises((InvalidValue, MissingField, MalformedPayload)) as err:
        mapping.order_from_woo("main", body)
    assert err.value.obj == "woo:main:13"  # type: ignore[union-attr]
    assert err.value.platform == "woo"  # type: ignore[union-attr]
    return err.value


def test_unknown_currency() -> None:
    err = _bad_order(lambda b: b.update(currency="EURO"))
    assert isinstance(err, InvalidValue) and err.reference == "currency-unknown" and err.hint


def test_negative_quantity() -> None:
    err = _bad_order(lambda b: b["line_items"][0].update(quantity=-2))
    assert isinstance(err, InvalidValue) and err.reference == "quantity-negative" and err.hint


@pytest.mark.parametrize("sku", [None, "", "   "])
def test_line_without_sku(sku: object) -> None:
    err = _bad_order(lambda b: b["line_items"][0].update(sku=sku))
    assert isinstance(err, MissingField) and err.reference == "line-sku-missing"
    assert err.hint and "SKU" in err.hint


def test_date_without_zone_when_gmt_twin_missing() -> None:
    def drop_gmt(b: dict[str, Any]) -> None:
        del b["date_modified_gmt"]

    err = _bad_order(drop_gmt)
    assert isinstance(err, InvalidValue) and err.reference == "date-without-zone" and err.hint


def test_local_date_with_offset_is_accepted_when_gmt_missing() -> None:
    body = copy.deepcopy(recorded("order-get.json"))
    del body["date_modified_gmt"]
    body["date_modified"] = "2026-11-22T15:04:43-03:00"
    order = mapping.order_from_woo("main", body)
    assert order.updated_at == datetime(2026, 11, 22, 18, 4, 43, tzinfo=UTC)


def test_gmt_twin_wins_over_site_local() -> None:
    # A UTC−3 store: site-local 16:09:28, GMT 19:09:28 (docs example pattern).
    body = copy.deepcopy(recorded("order-get.json"))
    body["date_created"] = "2026-11-22T15:04:43"
    order = mapping.order_from_woo("main", body)
    assert order.created_at == datetime(2026, 11, 22, 18, 4, 43, tzinfo=UTC)


def test_money_as_float_is_refused() -> None:
    err = _bad_order(lambda b: b.update(total=Decimal("44.88")) or b.update(total=44.88))
    assert isinstance(err, InvalidValue) and err.reference == "money-float"


def test_line_items_not_a_list_is_malformed() -> None:
    err = _bad_order(lambda b: b.update(line_items={"0": {}}))
    assert isinstance(err, MalformedPayload)


# --- customers ------------------------------------------------------------------------------


def test_customer_from_recording() -> None:
    c = mapping.customer_from_woo("main", recorded("customer-get.json"))
    assert c.id == "woo:main:2"
    assert c.email == "anna.180440@example.test"
    assert (c.first_name, c.last_name) == ("Anna", "Schmidt")
    assert c.phone == "+49 30 123456"  # billing phone: Woo customers have no top-level phone
    assert c.billing.postcode == "10115" and c.billing.state == "BE"
    assert c.shipping.line1 == "Hauptstr. 1"
    assert c.updated_at == datetime(2026, 11, 22, 18, 4, 41, tzinfo=UTC)
    assert c.meta == {}  # default_password_nag, erp_customer_id, loyalty_points are not ours


def test_customer_meta_keeps_only_our_keys() -> None:
    body = copy.deepcopy(recorded("customer-get.json"))
    body["meta_data"] += [
        {"id": 90, "key": "_vinculo_loyalty", "value": '{"available":120}'},
        {"id": 91, "key": "vinculo_points_available", "value": "120"},
        {"id": 92, "key": "vinculo_tier", "value": "gold"},
    ]
    c = mapping.customer_from_woo("main", body)
    assert c.meta == {
        "_vinculo_loyalty": '{"available":120}',
        "vinculo_points_available": "120",
        "vinculo_tier": "gold",
    }


def test_customer_without_email() -> None:
    body = copy.deepcopy(recorded("customer-get.json"))
    body["email"] = ""
    with pytest.raises(MissingField) as err:
        mapping.customer_from_woo("main", body)
    assert err.value.reference == "customer-email-missing"
    assert err.value.obj == "woo:main:2" and err.value.hint


def test_batch_created_customer_with_blank_addresses() -> None:
    created = recorded("customers-batch.json")["create"][0]
    c = mapping.customer_from_woo("main", created)
    assert c.id == "woo:main:3" and c.email == "b1.180440@example.test"
    assert c.billing.is_empty() and c.shipping.is_empty()


def test_customer_to_woo_round_trip() -> None:
    c = mapping.customer_from_woo("main", recorded("customer-get.json"))
    body = mapping.customer_to_woo(c, for_create=True)
    original = recorded("customer-get.json")
    assert body["email"] == original["email"]
    assert body["billing"] == original["billing"]
    assert body["shipping"] == original["shipping"]
    assert list(body["billing"]) == list(original["billing"])  # customer key order
    assert "username" not in body


def test_customer_to_woo_needs_email() -> None:
    c = mapping.customer_from_woo("main", recorded("customer-get.json"))
    from dataclasses import replace

    with pytest.raises(MissingField) as err:
        mapping.customer_to_woo(replace(c, email=None), for_create=True)
    assert err.value.reference == "customer-email-missing"


# --- coupons and meta -------------------------------------------------------------------------


def _perk(**kw: Any) -> IssueCoupon:
    base: dict[str, Any] = dict(
        key="perk:42",
        customer_id="C-1",
        email="Anna.180440@Example.test",
        code="VIN-ABC123",
        reward_id="r10",
        kind="fixed_amount",
        starts_at=datetime(2026, 11, 1, tzinfo=UTC),
        expires_at=datetime(2027, 1, 31, 22, 59, 59, tzinfo=UTC),
        amount=Money(Decimal("10.00"), "EUR"),
    )
    base.update(kw)
    return IssueCoupon(**base)


def test_fixed_coupon_body() -> None:
    body = mapping.coupon_to_woo(_perk(min_subtotal=Money(Decimal("30.00"), "EUR")))
    assert body == {
        "code": "vin-abc123",
        "discount_type": "fixed_cart",
        "amount": "10",
        "individual_use": True,
        "usage_limit": 1,
        "usage_limit_per_user": 1,
        "email_restrictions": ["anna.180440@example.test"],
        "date_expires": "2027-01-31T22:59:59Z",
        "description": "",
        "meta_data": [{"key": "vinculo_perk_key", "value": "perk:42"}],
        "minimum_amount": "30.00",
    }


def test_percent_and_free_shipping_bodies() -> None:
    pct = mapping.coupon_to_woo(_perk(kind="percentage", amount=None, percent=Decimal("12.5")))
    assert (pct["discount_type"], pct["amount"]) == ("percent", "12.5")
    free = mapping.coupon_to_woo(_perk(kind="free_shipping", amount=None))
    assert (free["discount_type"], free["amount"], free["free_shipping"]) == ("fixed_cart", "0", True)


def test_coupon_perk_key_read_back() -> None:
    coupon = copy.deepcopy(recorded("coupon-create-percent.json"))
    assert mapping.coupon_perk_key(coupon) is None  # recorded with erp_perk_id
    coupon["meta_data"].append({"id": 99, "key": "vinculo_perk_key", "value": "perk:42"})
    assert mapping.coupon_perk_key(coupon) == "perk:42"


def test_loyalty_meta_and_echo_suppression() -> None:
    snap = {
        "available": 120,
        "pending": 30,
        "tier": "gold",
        "next_reward": "r10",
        "points_to_next_reward": 380,
        "expiring_points": 0,
        "expiring_on": None,
        "as_of": "2026-11-22T18:00:00+00:00",
    }
    meta = mapping.loyalty_meta(snap)
    assert meta["vinculo_points_available"] == "120"
    assert meta["vinculo_points_pending"] == "30"
    assert meta["vinculo_tier"] == "gold"
    assert meta["vinculo_points_to_next_reward"] == "380"
    assert meta["vinculo_expiring_on"] == ""
    assert json.loads(meta["_vinculo_loyalty"])["available"] == 120
    assert mapping.meta_is_current(meta, meta)
    later = mapping.loyalty_meta({**snap, "as_of": "2026-11-23T08:00:00+00:00"})
    assert mapping.meta_is_current(meta, later)  # only as_of moved: no write
    changed = mapping.loyalty_meta({**snap, "available": 121})
    assert not mapping.meta_is_current(meta, changed)
    assert not mapping.meta_is_current({}, meta)

"""Writes: meta semantics, batches, coupon maths, status effects, refunds, notes, errors and IDs.

Expected amounts are worked out by hand from WooCommerce's rules (NOTES 5, 6) and the recordings.
"""

from __future__ import annotations

import json

import pytest
import requests
from woocommerce import API

from adapters.woocommerce.simulator import WooSimulator
from adapters.woocommerce.simulator.meta import Meta


def _product(sim: WooSimulator, price: str = "19.99", sku: str = "WID-1") -> int:
    return int(sim.create_product(name=f"Widget {sku}", sku=sku, regular_price=price,
                                  manage_stock=True, stock_quantity=100)["id"])


# ---- meta_data ---------------------------------------------------------------------------------

def test_meta_update_by_key_keeps_id_dedupes_and_null_deletes(woo_sim: WooSimulator,
                                                              woo_api: API) -> None:
    created = woo_api.post("customers", {"email": "m@example.test", "meta_data": [
        {"key": "loyalty_points", "value": "0"}, {"key": "tier", "value": "silver"}]}).json()
    meta = {m["key"]: m for m in created["meta_data"]}
    assert list(meta) == ["default_password_nag", "loyalty_points", "tier"]
    assert meta["default_password_nag"]["value"] == "1"
    ids = [m["id"] for m in created["meta_data"]]
    assert len(set(ids)) == 3 and all(isinstance(i, int) for i in ids)
    points_id = meta["loyalty_points"]["id"]

    # A plugin added a second row with the same key (add_meta_data); update-by-key drops it.
    woo_sim.store.customers[created["id"]].meta.append(Meta(9999, "loyalty_points", "stale"))
    updated = woo_api.put(f"customers/{created['id']}", {"meta_data": [
        {"key": "loyalty_points", "value": "150"}]}).json()
    rows = [m for m in updated["meta_data"] if m["key"] == "loyalty_points"]
    assert rows == [{"id": points_id, "key": "loyalty_points", "value": "150"}]
    assert {"id": meta["tier"]["id"], "key": "tier", "value": "silver"} in updated["meta_data"]

    by_id = woo_api.put(f"customers/{created['id']}", {"meta_data": [
        {"id": meta["tier"]["id"], "key": "tier", "value": "gold"}]}).json()
    assert {"id": meta["tier"]["id"], "key": "tier", "value": "gold"} in by_id["meta_data"]

    deleted = woo_api.put(f"customers/{created['id']}", {"meta_data": [
        {"key": "tier", "value": None}]}).json()
    assert [m["key"] for m in deleted["meta_data"]] == ["default_password_nag", "loyalty_points"]


# ---- batches -----------------------------------------------------------------------------------

def test_customer_batch_positional_errors_and_omitted_keys(woo_sim: WooSimulator,
                                                           woo_api: API) -> None:
    anna = woo_sim.create_customer(email="anna@example.test", first_name="Anna")
    resp = woo_api.post("customers/batch", {
        "create": [{"email": "ben@example.test", "first_name": "Ben"},
                   {"email": "anna@example.test", "first_name": "Dup"}],
        "update": [{"id": anna["id"], "first_name": "Anna-Maria"}, {"id": 999, "first_name": "X"}],
        "delete": []})
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["create", "update"]
    assert body["create"][0]["username"] == "ben"
    assert body["create"][1] == {"id": 0, "error": {
        "code": "registration-error-email-exists",
        "message": "An account is already registered with anna@example.test. Please log in or "
                   "use a different email address.",
        "data": {"status": 400}}}
    assert body["update"][0]["first_name"] == "Anna-Maria"
    assert body["update"][1] == {"id": 999, "error": {
        "code": "wc_user_invalid_id", "message": "Invalid user ID.", "data": {"status": 404}}}


def test_batch_over_100_items_is_413(woo_api: API) -> None:
    resp = woo_api.post("coupons/batch", {"create": [{"code": f"c{i}"} for i in range(60)],
                                          "delete": list(range(41))})
    assert resp.status_code == 413
    assert resp.json() == {"code": "woocommerce_rest_request_entity_too_large",
                           "message": "Unable to accept more than 100 items for this request.",
                           "data": {"status": 413}}


def test_batch_deletes_are_forced_and_not_atomic(woo_sim: WooSimulator, woo_api: API) -> None:
    c = woo_sim.create_coupon(code="gone")
    body = woo_api.put("coupons/batch", {"create": [{"code": "kept"}, {"code": "kept"}],
                                         "delete": [c["id"]]}).json()
    assert body["create"][0]["code"] == "kept"
    assert body["create"][1]["error"]["code"] == "woocommerce_rest_coupon_code_already_exists"
    assert body["delete"][0]["id"] == c["id"]
    assert woo_api.get(f"coupons/{c['id']}").status_code == 404


# ---- coupon maths ------------------------------------------------------------------------------

def test_percent_coupon_rounding_and_replace_all(woo_sim: WooSimulator, woo_api: API) -> None:
    pid = _product(woo_sim)
    woo_sim.create_coupon(code="loyal10", discount_type="percent", amount="10")
    pct5 = woo_sim.create_coupon(code="pct5", discount_type="percent", amount="5")
    free = woo_sim.create_coupon(code="freeship", amount="0", free_shipping=True)
    order = woo_api.post("orders", {"line_items": [{"product_id": pid, "quantity": 1}],
                                    "coupon_lines": [{"code": "loyal10"}]}).json()
    # 10 % of 19.99 = 1.999 -> 2.00 off
    assert (order["discount_total"], order["total"]) == ("2.00", "17.99")
    assert order["line_items"][0]["total"] == "17.99" and order["line_items"][0]["price"] == 17.99
    assert order["coupon_lines"][0]["discount"] == "2"
    assert order["coupon_lines"][0]["nominal_amount"] == 10

    order = woo_api.put(f"orders/{order['id']}", {"shipping_lines": [
        {"method_id": "flat_rate", "method_title": "Flat Rate", "total": "4.90"}],
        "coupon_lines": [{"code": "PCT5"}]}).json()
    # replaced: 5 % of 19.99 = 0.9995 -> 1.00 off; 18.99 + 4.90 shipping
    assert [c["code"] for c in order["coupon_lines"]] == ["pct5"]
    assert (order["discount_total"], order["total"]) == ("1.00", "23.89")
    assert json.loads(order["coupon_lines"][0]["meta_data"][0]["value"]) == \
        [pct5["id"], "pct5", "percent", 5]

    order = woo_api.put(f"orders/{order['id']}", {"coupon_lines": [{"code": "freeship"}]}).json()
    # free shipping does not touch the existing shipping line
    assert (order["discount_total"], order["shipping_total"], order["total"]) == \
        ("0.00", "4.90", "24.89")
    line = order["coupon_lines"][0]
    assert (line["discount"], line["discount_type"], line["free_shipping"]) == \
        ("0", "fixed_cart", True)
    assert line["meta_data"][0]["value"] == f'[{free["id"]},"freeship",null,0,true]'

    cleared = woo_api.put(f"orders/{order['id']}", {"coupon_lines": []}).json()
    assert cleared["coupon_lines"] == [] and cleared["total"] == "24.89"


def test_fixed_cart_discount_is_split_by_line_value(woo_sim: WooSimulator, woo_api: API) -> None:
    cheap, dear = _product(woo_sim, "10.00", "A"), _product(woo_sim, "30.00", "B")
    woo_sim.create_coupon(code="five", discount_type="fixed_cart", amount="5")
    order = woo_api.post("orders", {"line_items": [{"product_id": cheap}, {"product_id": dear}],
                                    "coupon_lines": [{"code": "five"}]}).json()
    # 5.00 over 10.00 : 30.00 -> 1.25 and 3.75
    assert [li["total"] for li in order["line_items"]] == ["8.75", "26.25"]
    assert (order["discount_total"], order["total"]) == ("5.00", "35.00")


def test_percent_remainder_cents_are_distributed(woo_sim: WooSimulator, woo_api: API) -> None:
    pids = [_product(woo_sim, "0.05", f"P{i}") for i in range(3)]
    woo_sim.create_coupon(code="ten", discount_type="percent", amount="10")
    order = woo_api.post("orders", {"line_items": [{"product_id": p} for p in pids],
                                    "coupon_lines": [{"code": "ten"}]}).json()
    # per line floor(0.5 ct) = 0, total round(1.5 ct) = 2 ct -> first two lines get a cent
    assert [li["total"] for li in order["line_items"]] == ["0.04", "0.04", "0.05"]
    assert order["coupon_lines"][0]["discount"] == "0.02"


def test_invalid_coupons_are_rejected(woo_sim: WooSimulator, woo_api: API) -> None:
    pid = _product(woo_sim)
    woo_sim.create_coupon(code="old", amount="1", date_expires="2020-01-01T00:00:00")
    woo_sim.create_coupon(code="once", amount="1", usage_limit=1)
    woo_sim.create_order(line_items=[{"product_id": pid}], coupon_lines=[{"code": "once"}],
                         status="processing")

    def err(body: dict[str, object]) -> tuple[int, str, str]:
        r = woo_api.post("orders", {"line_items": [{"product_id": pid}], **body})
        return r.status_code, r.json()["code"], r.json()["message"]

    assert err({"coupon_lines": [{"code": "nope"}]}) == (
        400, "woocommerce_rest_invalid_coupon", 'Coupon "nope" does not exist!')
    assert err({"coupon_lines": [{"code": "old"}]})[2] == "This coupon has expired."
    assert err({"coupon_lines": [{"code": "once"}]})[2] == "Coupon usage limit has been reached."
    assert err({"coupon_lines": [{"id": 5, "code": "x"}]})[1] == \
        "woocommerce_rest_coupon_item_id_readonly"


# ---- status effects ----------------------------------------------------------------------------

def test_set_paid_complete_and_cancel_effects(woo_sim: WooSimulator, woo_api: API) -> None:
    pid = _product(woo_sim)
    anna = woo_sim.create_customer(email="anna@example.test")
    coupon = woo_sim.create_coupon(code="pct5", discount_type="percent", amount="5")
    order = woo_api.post("orders", {"customer_id": anna["id"], "status": "pending",
                                    "line_items": [{"product_id": pid, "quantity": 2}],
                                    "coupon_lines": [{"code": "pct5"}]}).json()
    assert order["billing"]["email"] == "anna@example.test"  # copied from the account
    assert (order["is_editable"], order["needs_payment"], order["date_paid"]) == (True, True, None)
    assert woo_sim.get_coupon(coupon["id"])["usage_count"] == 0  # created pending: not counted

    paid = woo_api.put(f"orders/{order['id']}", {"set_paid": True}).json()
    assert paid["status"] == "processing"
    assert paid["date_paid"] is not None and paid["date_paid_gmt"] is not None
    assert (paid["is_editable"], paid["needs_payment"], paid["needs_processing"]) == \
        (False, False, True)
    assert [(m["key"], m["value"]) for m in paid["line_items"][0]["meta_data"]] == \
        [("_reduced_stock", "2")]
    assert woo_sim.get_customer(anna["id"])["is_paying_customer"] is True
    used = woo_sim.get_coupon(coupon["id"])
    assert (used["usage_count"], used["used_by"]) == (1, [str(anna["id"])])

    done = woo_api.put(f"orders/{order['id']}", {"status": "completed"}).json()
    assert done["date_completed"] is not None and done["date_completed_gmt"] is not None
    cancelled = woo_api.put(f"orders/{order['id']}", {"status": "cancelled"}).json()
    assert cancelled["status"] == "cancelled"
    assert woo_sim.get_coupon(coupon["id"])["usage_count"] == 0


def test_guest_coupon_use_is_recorded_by_email(woo_sim: WooSimulator) -> None:
    pid = _product(woo_sim)
    c = woo_sim.create_coupon(code="g", amount="1")
    woo_sim.create_order(billing={"email": "guest@example.test"}, status="processing",
                         line_items=[{"product_id": pid}], coupon_lines=[{"code": "g"}])
    assert woo_sim.get_coupon(c["id"])["used_by"] == ["guest@example.test"]


def test_writes_bump_date_modified_at_second_resolution(woo_sim: WooSimulator,
                                                        woo_api: API) -> None:
    woo_sim.clock.freeze()
    c = woo_sim.create_customer(email="t@example.test")
    woo_sim.clock.advance(5.7)
    updated = woo_api.put(f"customers/{c['id']}", {"first_name": "T"}).json()
    assert updated["date_created"] == c["date_created"]
    from datetime import datetime
    delta = datetime.fromisoformat(updated["date_modified_gmt"]) - \
        datetime.fromisoformat(c["date_modified_gmt"])
    assert delta.total_seconds() in (5, 6)
    woo_sim.clock.advance(10)
    helper = woo_sim.update_customer(c["id"], last_name="Helper")
    assert helper["date_modified_gmt"] > updated["date_modified_gmt"]


# ---- refunds and notes -------------------------------------------------------------------------

def test_refund_summary_and_failures(woo_sim: WooSimulator, woo_api: API) -> None:
    pid = _product(woo_sim)
    order = woo_sim.create_order(line_items=[{"product_id": pid}], payment_method="bacs",
                                 shipping_lines=[{"method_id": "flat_rate", "total": "4.90"}],
                                 set_paid=True)
    made = woo_api.post(f"orders/{order['id']}/refunds",
                        {"amount": "1.00", "reason": "goodwill", "api_refund": False})
    assert made.status_code == 201
    refund = made.json()
    assert (refund["amount"], refund["reason"], refund["refunded_payment"]) == \
        ("1.00", "goodwill", False)
    after = woo_api.get(f"orders/{order['id']}").json()
    assert after["refunds"] == [{"id": refund["id"], "reason": "goodwill", "total": "-1.00"}]
    assert after["total"] == "24.89"  # refunds never reduce the order total

    gateway = woo_api.post(f"orders/{order['id']}/refunds", {"amount": "1.00"})
    assert (gateway.status_code, gateway.json()["code"]) == \
        (500, "woocommerce_rest_cannot_create_order_refund")
    too_much = woo_api.post(f"orders/{order['id']}/refunds",
                            {"amount": "24.00", "api_refund": False})
    assert (too_much.status_code, too_much.json()["message"]) == (500, "Invalid refund amount.")
    negative = woo_api.post(f"orders/{order['id']}/refunds",
                            {"amount": "-1", "api_refund": False})
    assert (negative.status_code, negative.json()["code"]) == \
        (400, "woocommerce_rest_invalid_order_refund")
    listed = woo_api.get(f"orders/{order['id']}/refunds")
    assert listed.headers["X-WP-Total"] == "1"
    assert woo_api.get("refunds").json()[0]["id"] == refund["id"]


def test_notes_have_no_pagination_and_system_author(woo_sim: WooSimulator, woo_api: API) -> None:
    order = woo_sim.create_order(line_items=[{"product_id": _product(woo_sim)}])
    note = woo_api.post(f"orders/{order['id']}/notes", {"note": "Synced"})
    assert note.status_code == 201
    assert (note.json()["author"], note.json()["customer_note"]) == ("WooCommerce", False)
    listed = woo_api.get(f"orders/{order['id']}/notes")
    assert "X-WP-Total" not in listed.headers
    assert [n["note"] for n in listed.json()] == ["Synced"]


def test_one_id_sequence_for_posts_and_another_for_customers(woo_sim: WooSimulator) -> None:
    product = woo_sim.create_product(name="P", sku="P", regular_price="5.00")
    coupon = woo_sim.create_coupon(code="c")
    order = woo_sim.create_order(line_items=[{"product_id": product["id"]}], set_paid=True,
                                 payment_method="bacs")
    refund = woo_sim.add_refund(order["id"], "1.00")
    assert [product["id"], coupon["id"], order["id"], refund["id"]] == [10, 11, 12, 13]
    assert [woo_sim.create_customer(email=f"{i}@example.test")["id"] for i in range(2)] == [2, 3]


# ---- errors ------------------------------------------------------------------------------------

def test_unknown_ids_404_on_get_400_on_put(woo_api: API) -> None:
    assert (woo_api.get("orders/999").status_code,
            woo_api.get("orders/999").json()["code"]) == (404, "woocommerce_rest_shop_order_invalid_id")
    put = woo_api.put("orders/999", {"status": "completed"})
    assert (put.status_code, put.json()["code"]) == (400, "woocommerce_rest_shop_order_invalid_id")
    put = woo_api.put("coupons/999", {"amount": "1"})
    assert (put.status_code, put.json()["code"]) == (400, "woocommerce_rest_shop_coupon_invalid_id")
    get = woo_api.get("customers/999")
    assert (get.status_code, get.json()) == (404, {"code": "wc_user_invalid_id",
                                                   "message": "Invalid user ID.",
                                                   "data": {"status": 404}})


def test_customer_rules(woo_sim: WooSimulator, woo_api: API) -> None:
    c = woo_sim.create_customer(email="a@example.test", username="anna")
    woo_sim.create_customer(email="b@example.test")
    assert woo_api.put(f"customers/{c['id']}", {"username": "other"}).json()["code"] == \
        "woocommerce_rest_customer_invalid_argument"
    assert woo_api.put(f"customers/{c['id']}", {"email": "b@example.test"}).json()["code"] == \
        "woocommerce_rest_customer_invalid_email"
    no_force = woo_api.delete(f"customers/{c['id']}")
    assert (no_force.status_code, no_force.json()["code"]) == \
        (501, "woocommerce_rest_trash_not_supported")
    assert woo_api.delete(f"customers/{c['id']}", params={"force": "true"}).status_code == 200


def test_duplicate_code_and_sku_bodies(woo_sim: WooSimulator, woo_api: API) -> None:
    pid = _product(woo_sim, sku="WID-180440")
    woo_sim.create_product(name="Other", sku="WID-180440-1")
    dup = woo_api.post("products", {"name": "Dup", "sku": "WID-180440"}).json()
    assert dup == {"code": "product_invalid_sku", "message": "Invalid or duplicated SKU.",
                   "data": {"status": 400, "resource_id": pid, "unique_sku": "WID-180440-2"}}
    woo_sim.create_coupon(code="abc")
    assert woo_api.post("coupons", {"code": "ABC"}).json() == {
        "code": "woocommerce_rest_coupon_code_already_exists",
        "message": "The coupon code already exists", "data": {"status": 400}}


def test_order_body_problems(woo_sim: WooSimulator, woo_api: API) -> None:
    def code(body: dict[str, object]) -> str:
        return str(woo_api.post("orders", body).json()["code"])

    assert code({"customer_id": 77}) == "woocommerce_rest_invalid_customer_id"
    assert code({"line_items": [{"quantity": 1}]}) == "woocommerce_rest_required_product_reference"
    assert code({"shipping_lines": [{"total": "1"}]}) == "woocommerce_rest_invalid_shipping_item"
    assert code({"fee_lines": [{"total": "1"}]}) == "woocommerce_rest_invalid_fee_item"
    assert woo_sim.store.orders == {}


def test_update_via_post_and_patch_and_malformed_json(woo_sim: WooSimulator,
                                                      woo_api: API) -> None:
    c = woo_sim.create_coupon(code="x")
    assert woo_api.post(f"coupons/{c['id']}", {"amount": "3"}).json()["amount"] == "3.00"
    url = f"{woo_sim.api_url}/coupons/{c['id']}"
    anonymous = requests.patch(url, data=b"{nope", timeout=5,
                               headers={"Content-Type": "application/json"})
    # WordPress parses the JSON body while validating params, before the permission check.
    assert (anonymous.status_code, anonymous.json()["code"]) == (400, "rest_invalid_json")
    woo_sim.add_key("ck_other", "cs_other")
    from tests.adapters.woocommerce.test_simulator_auth import signed_query

    q = signed_query("PATCH", f"{woo_sim.home_url}/wp-json/wc/v3/coupons/{c['id']}", {},
                     key="ck_other", secret="cs_other", ts=int(woo_sim.clock.time()), nonce="j")
    bad = requests.patch(f"{url}?{q}", data=b"{nope", timeout=5,
                         headers={"Content-Type": "application/json"})
    assert (bad.status_code, bad.json()["code"]) == (400, "rest_invalid_json")


def test_unknown_route_is_rest_no_route(woo_api: API) -> None:
    resp = woo_api.get("reports/sales")
    assert (resp.status_code, resp.json()["code"]) == (404, "rest_no_route")
    assert woo_api.delete("orders").json()["code"] == "rest_no_route"


@pytest.mark.parametrize("endpoint", ["orders/batch", "customers/batch", "coupons/batch"])
def test_batch_routes_allow_post_put_patch(woo_api: API, endpoint: str) -> None:
    assert woo_api.post(endpoint, {}).headers["Allow"] == "POST, PUT, PATCH"

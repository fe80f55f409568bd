"""Collections: per_page limits, totals, Link headers, ordering, filters and ``_fields``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from woocommerce import API

from adapters.woocommerce.simulator import SimClock, WooSimulator

PER_PAGE_MSG = "per_page must be between 1 (inclusive) and 100 (inclusive)"


def _links(resp: Any) -> dict[str, dict[str, str]]:
    out = {}
    for url, rel in re.findall(r'<([^>]+)>; rel="([^"]+)"', resp.headers.get("Link", "")):
        out[rel] = dict(parse_qsl(urlsplit(url).query))
    return out


def _orders(sim: WooSimulator, n: int, **extra: Any) -> list[int]:
    product = sim.create_product(name="Widget", sku=f"W-{len(sim.store.products)}",
                                 regular_price="10.00")
    return [sim.create_order(line_items=[{"product_id": product["id"], "quantity": 1}],
                             **extra)["id"] for _ in range(n)]


@pytest.mark.parametrize("value", [0, 101])
def test_per_page_out_of_bounds_is_the_exact_wordpress_400(woo_api: API, value: int) -> None:
    resp = woo_api.get("orders", params={"per_page": value})
    assert resp.status_code == 400
    assert resp.json() == {
        "code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
        "data": {"status": 400, "params": {"per_page": PER_PAGE_MSG},
                 "details": {"per_page": {"code": "rest_out_of_bounds", "message": PER_PAGE_MSG,
                                          "data": None}}}}
    assert resp.headers["Allow"] == "GET, POST"


def test_per_page_is_validated_before_permissions(woo_sim: WooSimulator) -> None:
    import requests

    resp = requests.get(f"{woo_sim.api_url}/orders", params={"per_page": 101}, timeout=5)
    assert resp.status_code == 400 and resp.json()["code"] == "rest_invalid_param"


def test_page_zero_and_bad_enum_are_rejected(woo_api: API) -> None:
    page = woo_api.get("orders", params={"page": 0}).json()
    assert page["data"]["params"] == {"page": "page must be greater than or equal to 1"}
    orderby = woo_api.get("orders", params={"orderby": "total"}).json()
    assert orderby["data"]["details"]["orderby"]["code"] == "rest_not_in_enum"
    assert orderby["data"]["params"]["orderby"] == \
        "orderby is not one of date, id, include, title, slug, modified."


def test_totals_pages_and_prev_next_links(woo_sim: WooSimulator, woo_api: API) -> None:
    ids = _orders(woo_sim, 5)
    first = woo_api.get("orders", params={"per_page": 2, "page": 1, "orderby": "id",
                                          "order": "asc"})
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("5", "3")
    assert [o["id"] for o in first.json()] == ids[:2]
    links = _links(first)
    assert list(links) == ["next"]
    assert links["next"]["page"] == "2"
    assert links["next"]["status[0]"] == "any"
    assert (links["next"]["dp"], links["next"]["context"]) == ("2", "view")
    middle = woo_api.get("orders", params={"per_page": 2, "page": 2, "orderby": "id",
                                           "order": "asc"})
    assert list(_links(middle)) == ["prev", "next"]
    assert [o["id"] for o in middle.json()] == ids[2:4]
    last = woo_api.get("orders", params={"per_page": 2, "page": 3, "orderby": "id",
                                         "order": "asc"})
    assert list(_links(last)) == ["prev"] and [o["id"] for o in last.json()] == ids[4:]


def test_single_page_keeps_the_discovery_link(woo_sim: WooSimulator, woo_api: API) -> None:
    _orders(woo_sim, 2)
    resp = woo_api.get("orders")
    assert resp.headers["Link"] == f'<{woo_sim.url}/wp-json/>; rel="https://api.w.org/"'
    assert resp.headers["X-WP-Total"] == "2" and resp.headers["X-WP-TotalPages"] == "1"


def test_orders_beyond_last_page_report_zero_but_customers_recount(woo_sim: WooSimulator,
                                                                   woo_api: API) -> None:
    _orders(woo_sim, 3)
    for i in range(3):
        woo_sim.create_customer(email=f"c{i}@example.test")
    orders = woo_api.get("orders", params={"per_page": 2, "page": 99})
    assert orders.json() == []
    assert (orders.headers["X-WP-Total"], orders.headers["X-WP-TotalPages"]) == ("0", "0")
    assert _links(orders)["prev"]["page"] == "0"
    customers = woo_api.get("customers", params={"per_page": 2, "page": 99})
    assert customers.json() == []
    assert (customers.headers["X-WP-Total"], customers.headers["X-WP-TotalPages"]) == ("3", "2")
    assert _links(customers)["prev"]["page"] == "2"


def test_default_order_is_date_desc_with_id_tie_break(woo_sim: WooSimulator,
                                                      woo_api: API) -> None:
    woo_sim.clock.freeze()
    same_second = _orders(woo_sim, 3)
    woo_sim.clock.advance(5)
    later = _orders(woo_sim, 1)
    desc = [o["id"] for o in woo_api.get("orders").json()]
    assert desc == later + sorted(same_second, reverse=True)
    asc = [o["id"] for o in woo_api.get("orders", params={"order": "asc"}).json()]
    assert asc == sorted(same_second) + later


def test_orderby_modified_follows_writes(woo_sim: WooSimulator, woo_api: API) -> None:
    woo_sim.clock.freeze()
    a, b, c = _orders(woo_sim, 3)
    woo_sim.clock.advance(10)
    woo_sim.set_order_status(a, "processing")
    resp = woo_api.get("orders", params={"orderby": "modified", "order": "asc"})
    assert [o["id"] for o in resp.json()] == [b, c, a]


def test_modified_after_is_strict_at_second_resolution(woo_sim: WooSimulator,
                                                       woo_api: API) -> None:
    woo_sim.clock.freeze()
    woo_sim.clock.set(datetime(2026, 11, 22, 18, 4, 44, 700000, tzinfo=UTC))
    a, b = _orders(woo_sim, 2)
    woo_sim.clock.advance(1)  # 18:04:45
    c = _orders(woo_sim, 1)[0]
    woo_sim.clock.set(datetime.now(UTC))  # OAuth timestamps come from the real clock
    at_44 = woo_api.get("orders", params={"modified_after": "2026-11-22T18:04:44",
                                          "dates_are_gmt": "true", "order": "asc"})
    assert [o["id"] for o in at_44.json()] == [c]
    at_43 = woo_api.get("orders", params={"modified_after": "2026-11-22T18:04:43",
                                          "dates_are_gmt": "true", "order": "asc"})
    assert [o["id"] for o in at_43.json()] == [a, b, c]
    before = woo_api.get("orders", params={"modified_before": "2026-11-22T18:04:45",
                                           "dates_are_gmt": "true"})
    assert sorted(o["id"] for o in before.json()) == [a, b]


def test_dates_are_gmt_semantics_on_a_utc_minus_3_site() -> None:
    """Order modified at 12:00:00 UTC = 09:00:00 site time (UTC-3)."""
    clock = SimClock(datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC), frozen=True)
    with WooSimulator(clock=clock, utc_offset_minutes=-180) as sim:
        oid = _orders(sim, 1)[0]
        body = sim.get_order(oid)
        assert (body["date_modified"], body["date_modified_gmt"]) == \
            ("2026-11-22T09:00:00", "2026-11-22T12:00:00")
        clock.set(datetime.now(UTC))
        api = API(url=sim.url, consumer_key=sim.consumer_key,
                  consumer_secret=sim.consumer_secret, timeout=5)

        def hit(value: str, gmt: bool) -> bool:
            params = {"modified_after": value, "dates_are_gmt": "true" if gmt else "false"}
            return bool(api.get("orders", params=params).json())

        assert hit("2026-11-22T08:59:59", gmt=False)  # site-local wall time
        assert not hit("2026-11-22T09:00:00", gmt=False)
        assert hit("2026-11-22T11:59:59", gmt=True)  # UTC without offset
        assert not hit("2026-11-22T12:00:00", gmt=True)
        assert hit("2026-11-22T11:59:59Z", gmt=False)  # offsets honoured when not gmt
        # The trap: with dates_are_gmt=true an offset value is shifted to site time first
        # (14:59:59Z -> 11:59:59 compared as UTC), so the 12:00 UTC row wrongly matches.
        assert hit("2026-11-22T14:59:59Z", gmt=True)


def test_status_comma_list_customer_and_fields(woo_sim: WooSimulator, woo_api: API) -> None:
    c = woo_sim.create_customer(email="anna@example.test")
    paid = _orders(woo_sim, 1, customer_id=c["id"], status="processing")[0]
    _orders(woo_sim, 1, customer_id=c["id"], status="on-hold")
    _orders(woo_sim, 1, status="processing")  # guest
    resp = woo_api.get("orders", params={"customer": c["id"],
                                         "status": "processing,completed"})
    assert [o["id"] for o in resp.json()] == [paid]
    fields = woo_api.get("orders", params={"_fields": "total,date_modified_gmt,status"}).json()
    assert all(list(o) == ["id", "status", "total", "date_modified_gmt"] for o in fields)


def test_status_any_hides_trash(woo_sim: WooSimulator, woo_api: API) -> None:
    keep, gone = _orders(woo_sim, 2)
    assert woo_api.delete(f"orders/{gone}").json()["status"] == "trash"
    assert [o["id"] for o in woo_api.get("orders").json()] == [keep]
    assert [o["id"] for o in woo_api.get("orders", params={"status": "trash"}).json()] == [gone]


def test_customers_email_exact_and_role_default(woo_sim: WooSimulator, woo_api: API) -> None:
    anna = woo_sim.create_customer(email="anna@example.test", first_name="Anna")
    woo_sim.create_customer(email="anna.other@example.test")
    woo_sim.create_customer(email="anna@example.test.evil", role="subscriber")
    by_email = woo_api.get("customers", params={"email": "Anna@Example.test"}).json()
    assert [c["id"] for c in by_email] == [anna["id"]]
    assert woo_api.get("customers", params={"email": "anna"}).json() == []
    default = woo_api.get("customers").json()
    assert len(default) == 2 and all(c["role"] == "customer" for c in default)
    assert len(woo_api.get("customers", params={"role": "all"}).json()) == 3


def test_coupon_code_filter_is_case_insensitive(woo_sim: WooSimulator, woo_api: API) -> None:
    made = woo_api.post("coupons", {"code": "Loyal10-ABC", "amount": "10"}).json()
    assert made["code"] == "loyal10-abc"
    found = woo_api.get("coupons", params={"code": "LOYAL10-abc"})
    assert [c["id"] for c in found.json()] == [made["id"]]
    missing = woo_api.get("coupons", params={"code": "nope"})
    assert missing.json() == [] and missing.headers["X-WP-Total"] == "0"


def test_coupons_modified_after(woo_sim: WooSimulator, woo_api: API) -> None:
    woo_sim.clock.freeze()
    woo_sim.clock.set(datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC))
    woo_sim.create_coupon(code="old")
    woo_sim.clock.set(datetime(2026, 1, 1, 10, 0, 1, tzinfo=UTC))
    new = woo_sim.create_coupon(code="new")
    woo_sim.clock.set(datetime.now(UTC))
    resp = woo_api.get("coupons", params={"modified_after": "2026-01-01T10:00:00",
                                          "dates_are_gmt": "true"})
    assert [c["id"] for c in resp.json()] == [new["id"]]


def test_large_seeded_listing_pages_cover_every_order_once(woo_sim_seeded: WooSimulator) -> None:
    api = API(url=woo_sim_seeded.url, consumer_key=woo_sim_seeded.consumer_key,
              consumer_secret=woo_sim_seeded.consumer_secret, timeout=10)
    seen: list[int] = []
    page = 1
    while True:
        resp = api.get("orders", params={"per_page": 100, "page": page, "orderby": "modified",
                                         "order": "asc", "status": "any"})
        batch = resp.json()
        seen += [o["id"] for o in batch]
        if len(batch) < 100:
            break
        page += 1
    expected = sum(1 for o in woo_sim_seeded.store.orders.values()
                   if o.status not in ("trash", "auto-draft"))
    assert len(seen) == len(set(seen)) == expected == 1000

"""The real ``woocommerce`` 3.0.0 PyPI client works against the simulator unchanged (OAuth over
http), including its quirks (NOTES 9), plus reproducible seeding."""

from __future__ import annotations

from collections import Counter

from woocommerce import API

from adapters.woocommerce.simulator import WooSimulator


def test_paginate_create_update_and_batch_with_the_pypi_client(woo_sim: WooSimulator,
                                                               woo_api: API) -> None:
    woo_sim.seed(customers=30, orders=25, seed=7)
    ids: list[int] = []
    page = 1
    while True:
        resp = woo_api.get("orders", params={"per_page": 10, "page": page, "orderby": "id",
                                             "order": "asc"})
        assert resp.status_code == 200
        ids += [o["id"] for o in resp.json()]
        if page == 1:
            assert resp.headers["X-WP-TotalPages"] == "3"
        if len(resp.json()) < 10:
            break
        page += 1
    assert ids == sorted(woo_sim.store.orders)
    assert woo_sim.count("GET", "orders") == 3

    sku = next(iter(woo_sim.store.sku_index))
    created = woo_api.post("orders", {"status": "pending", "billing": {"email": "g@example.test"},
                                      "line_items": [{"sku": sku, "quantity": 2}]})
    assert created.status_code == 201
    assert created.headers["Location"].endswith(f"/orders/{created.json()['id']}")
    updated = woo_api.put(f"orders/{created.json()['id']}", {"status": "processing"})
    assert updated.json()["status"] == "processing"

    batch = woo_api.post("coupons/batch", {"create": [{"code": "b-1", "amount": "5"},
                                                      {"code": "b-2", "amount": "5"}]})
    assert [c["code"] for c in batch.json()["create"]] == ["b-1", "b-2"]


def test_client_list_params_break_signing_as_on_a_real_store(woo_api: API) -> None:
    """The client signs ``[1, 2]`` as its repr but sends ``include=1&include=2``."""
    broken = woo_api.get("orders", params={"include": [1, 2]})
    assert broken.json()["message"] == "Invalid signature - provided signature does not match."
    assert woo_api.get("orders", params={"include": "1,2"}).status_code == 200


def test_client_slash_in_value_breaks_signing(woo_api: API) -> None:
    assert woo_api.get("orders", params={"search": "a/b"}).json()["message"] == \
        "Invalid signature - provided signature does not match."
    assert woo_api.get("orders", params={"search": "a b+c:ü"}).status_code == 200


def test_seed_is_reproducible_and_realistic() -> None:
    with WooSimulator() as a, WooSimulator() as b:
        a.seed(customers=40, orders=300, seed=42)
        b.seed(customers=40, orders=300, seed=42)
        assert [a.get_order(i)["billing"] for i in sorted(a.store.orders)[:20]] == \
            [b.get_order(i)["billing"] for i in sorted(b.store.orders)[:20]]
        orders = list(a.store.orders.values())
        statuses = Counter(o.status for o in orders)
        assert statuses["completed"] + statuses["processing"] > len(orders) / 2
        assert {"pending", "cancelled", "on-hold"} <= set(statuses)
        assert any(o.customer_id == 0 and o.billing["email"] for o in orders)  # guests
        assert any(o.coupon_lines for o in orders)
        assert any(o.shipping_lines for o in orders)
        assert a.store.refunds  # a few partial refunds
        assert {o.currency for o in orders} == {"EUR"}
        assert all(p.sku for p in a.store.products.values())
        created = sorted(o.created for o in orders)
        assert created[-1] - created[0] > 60 * 86400  # spread over months
        assert len({c.email for c in a.store.customers.values()}) == 40

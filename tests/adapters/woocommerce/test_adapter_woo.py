"""WooCommerceAdapter end to end over real HTTP against the WooCommerce simulator (``woo_sim``),
plus the error paths every operator meets: bad keys, vanished records, hosts that answer HTML."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.woocommerce.adapter import WooCommerceAdapter
from adapters.woocommerce.simulator import WooSimulator
from adapters.woocommerce.webhooks import Ping, WebhookHint
from connector.domain import (
    Address,
    Customer,
    Fulfilment,
    IssueCoupon,
    Money,
    OrderStatus,
    PublishLoyalty,
    SetTier,
)
from connector.errors import AuthRejected, MalformedPayload, MissingField, PlatformUnavailable
from connector.ports import CustomerWrite, StoreAdapter

RECORDED = Path(__file__).resolve().parents[3] / ".." / "shared" / "woocommerce" / "recorded"


def adapter_for(sim: WooSimulator, key: str = "ck_simulator_key", secret: str = "cs_simulator_secret",
                **kw: Any) -> WooCommerceAdapter:
    options: dict[str, Any] = dict(store="main", url=sim.url, consumer_key=key, consumer_secret=secret,
                                   sleep=lambda s: None)
    options.update(kw)
    return WooCommerceAdapter(**options)


def test_is_a_store_adapter(woo_sim: WooSimulator) -> None:
    adapter = adapter_for(woo_sim)
    assert isinstance(adapter, StoreAdapter)
    assert adapter.platform == "woo" and adapter.store == "main"


def test_check_proves_credentials_in_one_call(woo_sim: WooSimulator) -> None:
    woo_sim.seed(customers=3, orders=5)
    woo_sim.reset_counts()
    info = adapter_for(woo_sim).check()
    assert info.platform == "woo" and info.currency == "EUR"
    assert info.details["auth"] == "oauth1"
    assert woo_sim.count() == 1


# --- reads ---------------------------------------------------------------------------------------


@pytest.fixture
def seeded(woo_sim: WooSimulator) -> WooSimulator:
    woo_sim.seed(customers=40, orders=250, seed=7)
    woo_sim.reset_counts()
    return woo_sim


def test_full_pull_reads_every_order_once_with_refunds(seeded: WooSimulator) -> None:
    adapter = adapter_for(seeded)
    pages = list(adapter.pull_orders(None))
    orders = [o for p in pages for o in p.items]
    assert not [r for p in pages for r in p.rejected]
    store_orders = seeded.store.orders
    expected = {f"woo:main:{i}" for i, o in store_orders.items() if o.status not in ("checkout-draft", "trash")}
    assert {o.id for o in orders} == expected and len(orders) == len(expected) == 250
    # modified ascending: each page's high water is the last row's modification time
    assert [p.high_water for p in pages] == sorted(p.high_water for p in pages)  # type: ignore[type-var]
    assert pages[-1].high_water == max(o.updated_at for o in orders)
    # refunds: full objects attached wherever the store has them, positive amounts
    refunds_by_order: dict[int, Decimal] = {}
    for r in seeded.store.refunds.values():
        refunds_by_order[r.order_id] = refunds_by_order.get(r.order_id, Decimal(0)) + r.amount
    assert refunds_by_order  # the seed makes some
    for o in orders:
        local = int(o.id.rsplit(":", 1)[1])
        assert o.refunded_total.amount == refunds_by_order.get(local, Decimal(0))
    # calls: ⌈250/100⌉ = 3 order pages + 1 refunds page (fewer than 100 refunds), nothing per order
    assert len(seeded.store.refunds) < 100
    assert seeded.count() == 3 + 1
    assert seeded.count("GET", "orders") == 3


def test_incremental_pull_after_50_changes(seeded: WooSimulator) -> None:
    adapter = adapter_for(seeded)
    first = [o for p in adapter.pull_orders(None) for o in p.items]
    mark = max(o.updated_at for o in first)
    in_overlap = {o.id for o in first if o.updated_at > mark - timedelta(minutes=10)}
    refunded = {r.order_id for r in seeded.store.refunds.values()}
    candidates = [i for i, o in sorted(seeded.store.orders.items())
                  if o.status in ("processing", "completed") and i not in refunded and o.customer_id]
    changed = candidates[:50]
    assert len(changed) == 50
    seeded.clock.advance(60)
    for i in changed:
        seeded.update_order(i, customer_note="gift wrap please")
    seeded.reset_counts()

    pages = list(adapter.pull_orders(mark))
    got = {o.id for p in pages for o in p.items}
    assert got == {f"woo:main:{i}" for i in changed} | in_overlap
    assert all(p.high_water and p.high_water > mark for p in pages)
    customers = adapter.get_customers(sorted({o.customer_id for p in pages for o in p.items if o.customer_id}))
    assert customers and all(c.email for c in customers)
    # 1 orders page (50 + overlap < 100: a short page) + 1 customers include= call, plus one
    # refunds include= call only if an order re-read from the overlap window carries refunds.
    overlap_refunds = any(int(i.rsplit(":", 1)[1]) in refunded for i in in_overlap)
    assert seeded.count() == 2 + overlap_refunds <= 3
    (req,) = [r for r in seeded.requests if r.path == "orders"]
    assert req.query["modified_after"] == (mark - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S")
    assert (req.query["dates_are_gmt"], req.query["orderby"], req.query["order"]) == ("true", "modified", "asc")
    assert (req.query["per_page"], req.query["status"]) == ("100", "any")


def test_incremental_refund_is_read_with_one_include_call(woo_sim: WooSimulator) -> None:
    woo_sim.seed(customers=5, orders=20, seed=3)
    adapter = adapter_for(woo_sim)
    mark = max(o.updated_at for p in adapter.pull_orders(None) for o in p.items)
    target = next(i for i, o in sorted(woo_sim.store.orders.items()) if o.status == "completed")
    woo_sim.clock.advance(60)
    woo_sim.add_refund(target, "3.00", reason="scratched")
    woo_sim.reset_counts()
    orders = {o.id: o for p in adapter.pull_orders(mark) for o in p.items}
    refund = orders[f"woo:main:{target}"].refunds[-1]
    assert refund.amount == Money(Decimal("3.00"), "EUR") and refund.reason == "scratched"
    assert woo_sim.count() == 2  # orders page + refunds?include=
    assert woo_sim.count("GET", "refunds") == 1


def test_bad_records_are_rejected_and_the_page_goes_on(woo_sim: WooSimulator) -> None:
    woo_sim.seed(customers=3, orders=6, seed=5)
    ids = sorted(woo_sim.store.orders)
    woo_sim.store.orders[ids[1]].line_items[0].sku = None  # product deleted: no SKU
    adapter = adapter_for(woo_sim)
    (page,) = list(adapter.pull_orders(None))
    assert len(page.items) == 5
    (rejected,) = page.rejected
    assert rejected.source == f"woo:main:{ids[1]}"
    assert isinstance(rejected.error, MissingField) and rejected.error.reference == "line-sku-missing"
    assert rejected.error.hint and rejected.payload["id"] == ids[1]


def test_malformed_page_raises(woo_sim: WooSimulator) -> None:
    woo_sim.seed(customers=2, orders=3)
    woo_sim.faults.malformed_json("orders")
    with pytest.raises(MalformedPayload) as err:
        list(adapter_for(woo_sim).pull_orders(None))
    assert err.value.hint


def test_within_run_duplicates_are_dropped(woo_sim: WooSimulator) -> None:
    from adapters.woocommerce.adapter import _Run

    body = json.loads((RECORDED / "order-get.json").read_text(), parse_float=Decimal)["body"]
    page = adapter_for(woo_sim)._orders_page([body, body], _Run(refunds={}, seen=set()))
    assert [o.id for o in page.items] == ["woo:main:13"]


def test_get_order_and_vanished(woo_sim: WooSimulator) -> None:
    woo_sim.seed(customers=2, orders=4)
    adapter = adapter_for(woo_sim)
    first = sorted(woo_sim.store.orders)[0]
    order = adapter.get_order(f"woo:main:{first}")
    assert order is not None and order.id == f"woo:main:{first}"
    assert adapter.get_order("woo:main:999999") is None  # 404: vanished


def test_full_customer_sweep(seeded: WooSimulator) -> None:
    adapter = adapter_for(seeded)
    pages = list(adapter.pull_customers(None))
    customers = [c for p in pages for c in p.items]
    assert len(customers) == 40 and len({c.id for c in customers}) == 40
    assert seeded.count("GET", "customers") == 1  # 40 < 100: one short page


def test_find_customer_by_email_only(woo_sim: WooSimulator) -> None:
    made = woo_sim.create_customer(email="ana.lopez@example.com", first_name="Ana")
    adapter = adapter_for(woo_sim)
    found = adapter.find_customer("  Ana.Lopez@Example.com ", None)
    assert found is not None and found.id == f"woo:main:{made['id']}"
    assert adapter.find_customer(None, "+34 600 000 000") is None  # Woo cannot filter by phone
    assert adapter.find_customer("nobody@example.com", None) is None


# --- writes --------------------------------------------------------------------------------------


def _customer(email: str | None, first: str = "Eva") -> Customer:
    return Customer(
        id="V-1", email=email, first_name=first, last_name="Ruiz", phone="+34 600 111 222",
        billing=Address(first_name=first, last_name="Ruiz", line1="Calle Mayor 1", city="Madrid",
                        postcode="28013", country="ES"),
    )


def test_upsert_customers_create_update_duplicate_and_bad(woo_sim: WooSimulator) -> None:
    existing = woo_sim.create_customer(email="taken@example.com", first_name="Old")
    other = woo_sim.create_customer(email="upd@example.com", first_name="Upd")
    adapter = adapter_for(woo_sim)
    woo_sim.reset_counts()
    writes = [
        CustomerWrite(key="v-new", customer=_customer("new@example.com")),
        CustomerWrite(key="v-dup", customer=_customer("Taken@example.com", first="Renamed")),
        CustomerWrite(key="v-upd", customer=_customer("upd@example.com", first="Updated"),
                      target_id=f"woo:main:{other['id']}"),
        CustomerWrite(key="v-bad", customer=_customer(None)),
    ]
    new, dup, upd, bad = adapter.upsert_customers(writes)
    assert new.ok and new.created and new.platform_id
    assert dup.ok and not dup.created and dup.platform_id == f"woo:main:{existing['id']}"
    assert upd.ok and not upd.created
    assert isinstance(bad.error, MissingField) and bad.error.reference == "customer-email-missing"
    assert woo_sim.get_customer(existing["id"])["first_name"] == "Renamed"
    assert woo_sim.get_customer(other["id"])["first_name"] == "Updated"
    made = woo_sim.get_customer(int(new.platform_id.rsplit(":", 1)[1]))  # type: ignore[union-attr]
    assert made["billing"]["email"] == "new@example.com" and made["billing"]["city"] == "Madrid"
    # batch, lookup of the duplicate e-mail, update batch
    assert woo_sim.count("POST", "customers/batch") == 2 and woo_sim.count("GET", "customers") == 1
    again = adapter.upsert_customers(writes[:1])  # a retried create does not make a second account
    assert again[0].ok and again[0].platform_id == new.platform_id and not again[0].created


def test_batches_are_chunked(woo_sim: WooSimulator) -> None:
    adapter = adapter_for(woo_sim, batch_size=4)
    writes = [CustomerWrite(key=f"v{i}", customer=_customer(f"c{i}@example.com")) for i in range(10)]
    woo_sim.reset_counts()
    results = adapter.upsert_customers(writes)
    assert all(r.ok and r.created for r in results)
    assert [r.key for r in results] == [w.key for w in writes]
    assert woo_sim.count("POST", "customers/batch") == math.ceil(10 / 4)


def test_413_splits_the_batch(woo_sim: WooSimulator) -> None:
    adapter = adapter_for(woo_sim, batch_size=8)
    too_large = json.dumps({"code": "woocommerce_rest_request_entity_too_large",
                            "message": "Unable to accept more than 100 items for this request.",
                            "data": {"status": 413}})
    woo_sim.faults.override(413, too_large, n=1, method="POST", path="customers/batch")
    writes = [CustomerWrite(key=f"v{i}", customer=_customer(f"s{i}@example.com")) for i in range(8)]
    woo_sim.reset_counts()
    results = adapter.upsert_customers(writes)
    assert all(r.ok for r in results)
    assert woo_sim.count("POST", "customers/batch") == 3  # refused 8, then 4 + 4


def _perk(**kw: Any) -> IssueCoupon:
    base: dict[str, Any] = dict(
        key="perk:1", customer_id="V-1", email="eva@example.com", code="VIN-7QX2", reward_id="r5",
        kind="fixed_amount", starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        expires_at=datetime(2027, 3, 31, 21, 59, 59, tzinfo=UTC), amount=Money(Decimal("5.00"), "EUR"),
        min_subtotal=Money(Decimal("20.00"), "EUR"),
    )
    base.update(kw)
    return IssueCoupon(**base)


def test_ensure_coupon_creates_once(woo_sim: WooSimulator) -> None:
    adapter = adapter_for(woo_sim)
    woo_sim.reset_counts()
    first = adapter.ensure_coupon(_perk(), "woo:main:5")
    assert first.ok and first.created
    assert woo_sim.count() == 2  # GET by code, POST
    coupon = woo_sim.get_coupon(int(first.platform_id.rsplit(":", 1)[1]))  # type: ignore[union-attr]
    assert coupon["code"] == "vin-7qx2"
    assert (coupon["discount_type"], coupon["amount"]) == ("fixed_cart", "5.00")
    assert (coupon["usage_limit"], coupon["usage_limit_per_user"], coupon["individual_use"]) == (1, 1, True)
    assert coupon["email_restrictions"] == ["eva@example.com"]
    assert coupon["date_expires_gmt"] == "2027-03-31T21:59:59"
    assert coupon["minimum_amount"] == "20.00"
    assert {"key": "vinculo_perk_key", "value": "perk:1"} in [
        {"key": m["key"], "value": m["value"]} for m in coupon["meta_data"]]
    woo_sim.reset_counts()
    second = adapter.ensure_coupon(_perk(), "woo:main:5")
    assert second.ok and not second.created and second.platform_id == first.platform_id
    assert woo_sim.count() == 1  # found by code: no POST


def test_free_shipping_and_percent_coupons(woo_sim: WooSimulator) -> None:
    adapter = adapter_for(woo_sim)
    free = adapter.ensure_coupon(_perk(key="perk:2", code="vin-free1", kind="free_shipping", amount=None,
                                       min_subtotal=None), "")
    pct = adapter.ensure_coupon(_perk(key="perk:3", code="vin-pct1", kind="percentage", amount=None,
                                      percent=Decimal("15"), min_subtotal=None), "")
    f = woo_sim.get_coupon(int(free.platform_id.rsplit(":", 1)[1]))  # type: ignore[union-attr]
    p = woo_sim.get_coupon(int(pct.platform_id.rsplit(":", 1)[1]))  # type: ignore[union-attr]
    assert (f["discount_type"], f["amount"], f["free_shipping"]) == ("fixed_cart", "0.00", True)
    assert (p["discount_type"], p["amount"]) == ("percent", "15.00")


def test_coupon_code_owned_by_someone_else(woo_sim: WooSimulator) -> None:
    woo_sim.create_coupon(code="vin-7qx2", discount_type="percent", amount="50")
    result = adapter_for(woo_sim).ensure_coupon(_perk(), "")
    assert not result.ok and result.error is not None
    assert result.error.reference == "woo-coupon-code-taken" and result.error.hint


def test_publish_loyalty_then_echo_is_suppressed(woo_sim: WooSimulator) -> None:
    c = woo_sim.create_customer(email="eva@example.com")
    adapter = adapter_for(woo_sim)
    snap = {"available": 120, "pending": 30, "tier": "silver", "next_reward": "r5", "points_to_next_reward": 80,
            "expiring_points": 20, "expiring_on": "2027-01-31", "as_of": "2026-11-22T18:00:00+00:00"}
    woo_sim.reset_counts()
    first = adapter.publish_loyalty(PublishLoyalty(key="pub:1", customer_id="V-1", snapshot=snap), f"woo:main:{c['id']}")
    assert first.ok and woo_sim.count("PUT", f"customers/{c['id']}") == 1
    meta = {m["key"]: m["value"] for m in woo_sim.get_customer(c["id"])["meta_data"]}
    assert meta["vinculo_points_available"] == "120" and meta["vinculo_tier"] == "silver"
    assert meta["vinculo_expiring_on"] == "2027-01-31"
    assert json.loads(meta["_vinculo_loyalty"])["pending"] == 30
    stamp = woo_sim.get_customer(c["id"])["date_modified_gmt"]
    woo_sim.clock.advance(5)
    woo_sim.reset_counts()
    again = adapter.publish_loyalty(
        PublishLoyalty(key="pub:2", customer_id="V-1", snapshot={**snap, "as_of": "2026-11-23T08:00:00+00:00"}),
        f"woo:main:{c['id']}",
    )
    assert again.ok and again.payload == {"skipped": "unchanged"}
    assert woo_sim.count() == 1  # the read; no write, no date_modified bump, no webhook echo
    assert woo_sim.get_customer(c["id"])["date_modified_gmt"] == stamp
    # pulled back, our keys are in Customer.meta
    (page,) = list(adapter.pull_customers(None))
    assert page.items[0].meta["vinculo_points_available"] == "120"


def test_publish_many_reads_once_writes_once_and_leaves_what_one_at_a_time_leaves(woo_sim: WooSimulator) -> None:
    people = [woo_sim.create_customer(email=f"p{i}@example.com") for i in range(6)]
    twins = [woo_sim.create_customer(email=f"t{i}@example.com") for i in range(6)]
    gone = woo_sim.create_customer(email="gone@example.com")
    adapter = adapter_for(woo_sim, batch_size=4)

    def snap(n: int) -> dict[str, Any]:
        return {"available": n, "pending": 0, "tier": "bronze", "as_of": "2026-11-22T18:00:00+00:00"}

    def commands(rows: list[dict[str, Any]]) -> list[tuple[PublishLoyalty | SetTier, str]]:
        out: list[tuple[PublishLoyalty | SetTier, str]] = [
            (PublishLoyalty(key=f"pub:{c['id']}", customer_id=f"V{i}", snapshot=snap(10 * i)), f"woo:main:{c['id']}")
            for i, c in enumerate(rows)
        ]
        tier = SetTier(key="tier:0", customer_id="V0", tier="vinculo-tier-gold", all_tiers=("vinculo-tier-gold",))
        out.append((tier, f"woo:main:{rows[0]['id']}"))  # a second write for the first customer
        return out

    adapter.publish_loyalty(commands(people)[1][0], f"woo:main:{people[1]['id']}")  # already current
    for command, ref in commands(twins):
        assert (adapter.publish_loyalty(command, ref) if isinstance(command, PublishLoyalty)
                else adapter.set_tier(command, ref)).ok
    del woo_sim.store.customers[gone["id"]]  # deleted on the store since it was mapped
    woo_sim.reset_counts()
    items = [*commands(people), (PublishLoyalty(key="pub:gone", customer_id="VX", snapshot=snap(1)), f"woo:main:{gone['id']}"),
             (PublishLoyalty(key="pub:other", customer_id="VY", snapshot=snap(1)), "woo:elsewhere:5")]
    results = adapter.publish_many(items)

    assert [r.key for r in results] == [c.key for c, _ref in items]
    # one include= read for all 7 customers; 5 customer updates (5 changed balances, the first
    # customer's tier in the same update as its balance) in batches of 4
    assert woo_sim.count("GET", "customers") == 1
    assert woo_sim.count("POST", "customers/batch") == 2 and woo_sim.count() == 3
    assert [r.ok for r in results] == [True] * 7 + [False, False]
    assert results[1].payload == {"skipped": "unchanged"}
    assert results[7].error is not None and results[7].error.reference == "woo-customer-missing"
    assert results[8].error is not None and "woo:elsewhere" in results[8].error.message
    for person, twin in zip(people, twins, strict=True):
        ours = {m["key"]: m["value"] for m in woo_sim.get_customer(person["id"])["meta_data"]}
        theirs = {m["key"]: m["value"] for m in woo_sim.get_customer(twin["id"])["meta_data"]}
        assert ours == theirs
    assert {m["key"]: m["value"] for m in woo_sim.get_customer(people[0]["id"])["meta_data"]}["vinculo_tier_tag"] == "vinculo-tier-gold"


def test_set_tier_is_one_meta_key(woo_sim: WooSimulator) -> None:
    c = woo_sim.create_customer(email="t@example.com")
    adapter = adapter_for(woo_sim)
    for tier in ("silver", "gold"):
        r = adapter.set_tier(SetTier(key=f"tier:{tier}", customer_id="V-1", tier=tier,
                                     all_tiers=("silver", "gold")), f"woo:main:{c['id']}")
        assert r.ok
    rows = [m for m in woo_sim.get_customer(c["id"])["meta_data"] if m["key"].startswith("vinculo_tier")]
    assert [(m["key"], m["value"]) for m in rows] == [("vinculo_tier_tag", "gold")]


def test_balance_and_tier_tag_never_overwrite_each_other(woo_sim: WooSimulator) -> None:
    c = woo_sim.create_customer(email="both@example.com")
    adapter = adapter_for(woo_sim)
    ref = f"woo:main:{c['id']}"
    publish = PublishLoyalty(key="pub:1", customer_id="V-1", snapshot={"available": 5, "tier": "silver"})
    tier = SetTier(key="tier:1", customer_id="V-1", tier="vinculo-tier-silver", all_tiers=("vinculo-tier-silver",))
    assert adapter.publish_loyalty(publish, ref).ok and adapter.set_tier(tier, ref).ok
    woo_sim.reset_counts()
    # sent again in either order, both find the store current: no write
    assert adapter.publish_loyalty(publish, ref).payload == {"skipped": "unchanged"}
    assert adapter.set_tier(tier, ref).payload == {"skipped": "unchanged"}
    assert woo_sim.count("PUT") == 0
    meta = {m["key"]: m["value"] for m in woo_sim.get_customer(c["id"])["meta_data"]}
    assert (meta["vinculo_tier"], meta["vinculo_tier_tag"]) == ("silver", "vinculo-tier-silver")


def test_complete_order_is_idempotent(woo_sim: WooSimulator) -> None:
    woo_sim.seed(customers=2, orders=12, seed=11)
    target = next(i for i, o in sorted(woo_sim.store.orders.items()) if o.status == "processing")
    adapter = adapter_for(woo_sim)
    shipment = Fulfilment(order_id=f"woo:main:{target}", shipped_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
                          tracking_number="1Z999AA10123456784", carrier="UPS")
    first = adapter.complete_order(shipment)
    assert first.ok and first.created
    order = adapter.get_order(f"woo:main:{target}")
    assert order is not None and order.status is OrderStatus.COMPLETED
    notes = [n for n in woo_sim.store.notes.values() if n.order_id == target and "1Z999AA10123456784" in n.note]
    assert len(notes) == 1 and not notes[0].customer_note
    woo_sim.reset_counts()
    second = adapter.complete_order(shipment)
    assert second.ok and not second.created
    assert woo_sim.count("POST") == 0 and woo_sim.count("PUT") == 0
    vanished = adapter.complete_order(Fulfilment(order_id="woo:main:999999", shipped_at=shipment.shipped_at))
    assert not vanished.ok and vanished.error is not None and vanished.error.kind == "rejected"


# --- auth, hosts, secrets --------------------------------------------------------------------------


def test_wrong_secret_names_consumer_secret(woo_sim: WooSimulator) -> None:
    adapter = adapter_for(woo_sim, secret="cs_wrong_secret_value")
    with pytest.raises(AuthRejected) as err:
        adapter.check()
    assert err.value.key == "consumer_secret" and err.value.hint
    assert "cs_wrong_secret_value" not in str(err.value) and "cs_simulator_secret" not in str(err.value)


def test_unknown_key_names_consumer_key(woo_sim: WooSimulator) -> None:
    with pytest.raises(AuthRejected) as err:
        adapter_for(woo_sim, key="ck_unknown").check()
    assert err.value.key == "consumer_key" and "ck_unknown" not in str(err.value)


def test_basic_over_http_is_reported_as_ignored(woo_sim: WooSimulator) -> None:
    with pytest.raises(AuthRejected) as err:
        adapter_for(woo_sim, auth="basic").check()
    assert err.value.reference == "woo-auth-ignored"
    assert err.value.hint and "oauth1" in err.value.hint


def test_https_store_with_basic_and_query_auth(woo_sim_https: WooSimulator) -> None:
    # The simulator believes it runs on https; we reach it over plain http on 127.0.0.1.
    for auth in ("basic", "query"):
        info = adapter_for(woo_sim_https, auth=auth).check()
        assert info.details["auth"] == auth


def test_transient_host_errors_are_retried(woo_sim: WooSimulator) -> None:
    woo_sim.seed(customers=2, orders=3)
    woo_sim.faults.next_429(1, retry_after=2, path="orders")
    woo_sim.faults.next_503(1, retry_after=1, path="orders")
    sleeps: list[float] = []
    adapter = adapter_for(woo_sim, sleep=sleeps.append)
    (page,) = list(adapter.pull_orders(None))
    assert len(page.items) == 3
    assert sleeps == [2.0, 1.0]


def test_waf_page_is_named(woo_sim: WooSimulator) -> None:
    woo_sim.faults.waf_403(None, path="orders")
    with pytest.raises(PlatformUnavailable) as err:
        adapter_for(woo_sim, max_retries=1).check()
    assert err.value.reference == "woo-non-json-response" and err.value.hint


# --- webhooks end to end ------------------------------------------------------------------------------


def test_webhook_delivery_to_hint(woo_sim: WooSimulator, webhook_receiver: Any) -> None:
    adapter = adapter_for(woo_sim, webhook_secret="s3cret-hook")
    adapter.client.post("webhooks", {"name": "orders", "topic": "order.created",
                                     "delivery_url": webhook_receiver.url + "/hook", "secret": "s3cret-hook",
                                     "status": "active"})
    ping = webhook_receiver.received[0]
    assert adapter.parse_webhook(dict(ping.headers), ping.body) == Ping(webhook_id=ping.body and int(
        ping.body.decode().split("=")[1]))
    woo_sim.seed(customers=1, orders=1)
    woo_sim.flush_webhooks()
    deliveries = [r for r in webhook_receiver.received[1:] if r.header("X-WC-Webhook-Topic") == "order.created"]
    assert deliveries
    hint = adapter.parse_webhook(dict(deliveries[0].headers), deliveries[0].body)
    assert isinstance(hint, WebhookHint) and hint.resource == "order"
    fresh = adapter.get_order(hint.platform_id)
    assert fresh is not None and fresh.id == hint.platform_id


def test_order_modified_mid_walk_does_not_hide_its_neighbour(
    woo_sim: WooSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    woo_sim.seed(customers=5, orders=30, seed=9)
    adapter = adapter_for(woo_sim, per_page=10)
    walk = adapter.pull_orders(None)
    first_page = next(walk)
    assert len(first_page.items) == 10
    # The merchant edits an order from page 1 while we are between pages: it jumps to the end and
    # the first row of page 2 slides onto page 1, where a plain page walk would never see it.
    moved = int(first_page.items[0].id.rsplit(":", 1)[1])
    woo_sim.clock.advance(1)
    woo_sim.update_order(moved, customer_note="call before delivery")
    rest = list(walk)
    seen = [o.id for o in first_page.items] + [o.id for p in rest for o in p.items]
    assert set(seen) == {f"woo:main:{i}" for i in woo_sim.store.orders}
    assert seen.count(f"woo:main:{moved}") == 2  # once as it was, once as modified
    assert len(seen) == 31
    assert "walking again" in caplog.text  # the skip happened and was repaired by the second walk


def _snap(n: int) -> dict[str, Any]:
    return {"available": n, "pending": 0, "tier": "bronze", "as_of": "2026-11-22T18:00:00+00:00"}


def test_publish_many_lets_the_newest_item_of_a_customer_win(woo_sim: WooSimulator) -> None:
    c = woo_sim.create_customer(email="order@example.com")
    ref = f"woo:main:{c['id']}"
    adapter = adapter_for(woo_sim)
    assert adapter.publish_loyalty(PublishLoyalty(key="p:0", customer_id="V", snapshot=_snap(20)), ref).ok
    woo_sim.reset_counts()
    # an older publish still waiting beside the newest one, which the store already shows
    results = adapter.publish_many([(PublishLoyalty(key="p:old", customer_id="V", snapshot=_snap(10)), ref),
                                    (PublishLoyalty(key="p:new", customer_id="V", snapshot=_snap(20)), ref)])
    assert [(r.key, r.payload) for r in results] == [("p:old", {"skipped": "unchanged"}), ("p:new", {"skipped": "unchanged"})]
    assert woo_sim.count("POST") == 0
    meta = {m["key"]: m["value"] for m in woo_sim.get_customer(c["id"])["meta_data"]}
    assert meta["vinculo_points_available"] == "20"


def test_publish_many_never_reports_a_refused_write_as_done(woo_sim: WooSimulator) -> None:
    c = woo_sim.create_customer(email="refused@example.com")
    ref = f"woo:main:{c['id']}"
    woo_sim.faults.override(
        400, '{"code":"rest_invalid_param","message":"Invalid parameter(s): update","data":{"status":400}}',
        method="POST", path="customers/batch",
    )
    results = adapter_for(woo_sim).publish_many(
        [(PublishLoyalty(key="p:1", customer_id="V", snapshot=_snap(5)), ref),
         (PublishLoyalty(key="p:2", customer_id="V", snapshot=_snap(5)), ref)])
    assert [r.ok for r in results] == [False, False]
    assert all(m["key"] != "vinculo_points_available" for m in woo_sim.get_customer(c["id"])["meta_data"])

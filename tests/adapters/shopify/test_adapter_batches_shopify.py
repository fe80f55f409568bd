"""Reads the sync engine batches: customers of changed orders in one call, refunded orders of
a bulk backfill 40 per call, customers pulled incrementally. Call counts come from the
simulator's own request counter (``sim.counts``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.shopify.adapter import ShopifyAdapter
from adapters.shopify.simulator import ManualClock, ShopifySimulator
from adapters.shopify.throttle import ShopBucket


def adapter_for(sim: ShopifySimulator) -> ShopifyAdapter:
    return ShopifyAdapter(store="eu", shop_domain=sim.shop_domain, access_token=sim.access_token,
                          base_url=sim.url, bucket=ShopBucket(), sleep=lambda s: None)


def pid(num: int) -> str:
    return f"shopify:eu:gid://shopify/Customer/{num}"


def test_get_customers_reads_several_in_one_call(shopify_sim: ShopifySimulator) -> None:
    ana = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    luis = shopify_sim.create_customer(first_name="Luis", phone="+34600000001")
    nameless = shopify_sim.create_customer(first_name="Sin datos")  # neither e-mail nor phone
    shopify_sim.reset_counts()
    got = adapter_for(shopify_sim).get_customers([
        pid(ana.id), pid(luis.id), pid(ana.id),  # a repeat is read once
        pid(999999),  # unknown: left out
        pid(nameless.id),  # cannot become a Customer: skipped, not raised
        "shopify:other:gid://shopify/Customer/1",  # another store's id: skipped
    ])
    assert sorted(c.id for c in got) == sorted([pid(ana.id), pid(luis.id)])
    assert {c.id: (c.email, c.phone) for c in got}[pid(luis.id)] == (None, "+34600000001")
    assert shopify_sim.counts["op:CustomersByIds"] == 1
    assert sum(shopify_sim.counts[k] for k in shopify_sim.counts if k.startswith("op:")) == 1


def test_get_customers_past_250_ids_takes_two_calls(shopify_sim: ShopifySimulator) -> None:
    made = [shopify_sim.create_customer(email=f"c{i}@example.com", emit=False) for i in range(260)]
    shopify_sim.reset_counts()
    got = adapter_for(shopify_sim).get_customers([pid(c.id) for c in made])
    assert len(got) == 260
    assert shopify_sim.counts["op:CustomersByIds"] == 2  # ⌈260 / 250⌉
    assert adapter_for(shopify_sim).get_customers([]) == []


def test_customers_are_pulled_incrementally(shopify_sim_factory) -> None:  # type: ignore[no-untyped-def]
    assert ShopifyAdapter.incremental_customers is True
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ManualClock(t0.timestamp())
    sim = shopify_sim_factory(clock=clock)
    old = sim.create_customer(email="old@example.com")
    clock.advance(3600)
    new = sim.create_customer(email="new@example.com")
    pages = list(adapter_for(sim).pull_customers(t0 + timedelta(minutes=30)))
    assert [c.id for p in pages for c in p.items] == [pid(new.id)]
    assert old.id != new.id


def test_backfill_rereads_refunded_orders_forty_per_call(shopify_sim: ShopifySimulator) -> None:
    # The seed refunds every 11th order: j = 0, 11, …, 198 → 19 of 200, none of them a test
    # order (j = 5, 102, 199: every 97th from 5). One nodes(ids:) call re-reads all 19; no order(id:) call is made.
    shopify_sim.seed(customers=20, orders=200, seed=3)
    refunded = [o for o in shopify_sim.store.orders.values() if o.refunds and not o.test]
    assert len(refunded) == 19
    adapter = adapter_for(shopify_sim)
    adapter.bulk.poll_start = 0.05
    shopify_sim.reset_counts()
    pages = list(adapter.backfill_orders())
    orders = {o.id: o for p in pages for o in p.items}
    assert len(orders) == 197  # 200 − 3 test orders
    assert shopify_sim.counts["op:OrdersByIds"] == 1
    assert shopify_sim.counts["op:OrderById"] == 0
    for o in refunded:
        mapped = orders[f"shopify:eu:gid://shopify/Order/{o.id}"]
        assert [len(r.lines) for r in mapped.refunds] == [1]  # refund lines came with the re-read


def test_backfill_batches_keep_file_order_and_page_size(shopify_sim: ShopifySimulator) -> None:
    shopify_sim.seed(customers=20, orders=200, seed=3)
    adapter = adapter_for(shopify_sim)
    adapter.bulk.poll_start = 0.05
    paged = [o.id for p in adapter.pull_orders(None) for o in p.items]
    shopify_sim.reset_counts()
    pages = list(adapter.backfill_orders(page_size=30))
    assert all(len(p.items) <= 30 for p in pages)
    assert sorted(o.id for p in pages for o in p.items) == sorted(paged)
    # Small pages hold at most max(2 × 30, 40) = 60 orders while waiting: 200 / 60 → 4 calls at most.
    assert 1 <= shopify_sim.counts["op:OrdersByIds"] <= 4

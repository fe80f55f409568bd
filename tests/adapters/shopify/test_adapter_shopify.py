"""The adapter end to end against the Shopify simulator over real HTTP on 127.0.0.1.

Expected values are set up by hand in the simulator's store (times on a manual clock, prices,
tags), then read back through the adapter's public surface.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from adapters.shopify.adapter import ShopifyAdapter
from adapters.shopify.simulator import ManualClock, ShopifySimulator
from adapters.shopify.throttle import ShopBucket
from adapters.shopify.webhooks import CustomerRedact, WebhookHint
from connector.domain import (
    Customer,
    Fulfilment,
    IssueCoupon,
    Money,
    OrderStatus,
    PublishLoyalty,
    SetTier,
)
from connector.errors import AuthRejected, UnsupportedApiVersion
from connector.ports import CustomerWrite, StoreAdapter


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def adapter_for(sim: ShopifySimulator, **kw: Any) -> ShopifyAdapter:
    kw.setdefault("bucket", ShopBucket())
    kw.setdefault("access_token", sim.access_token)
    return ShopifyAdapter(store="eu", shop_domain=sim.shop_domain, base_url=sim.url,
                          webhook_secret=sim.api_secret, **kw)


T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clocked(shopify_sim_factory: Callable[..., ShopifySimulator]) -> tuple[ShopifySimulator, ManualClock]:
    clock = ManualClock(T0.timestamp())
    return shopify_sim_factory(clock=clock), clock


def line(sku: str, qty: int, price: str) -> tuple[str, str, int, Decimal]:
    return (sku, f"Product {sku}", qty, Decimal(price))


# --- contract and reads ---------------------------------------------------------------------


def test_is_a_store_adapter_and_check_reads_the_shop(shopify_sim: ShopifySimulator) -> None:
    adapter = adapter_for(shopify_sim)
    assert isinstance(adapter, StoreAdapter)
    info = adapter.check()
    assert (info.platform, info.store, info.currency) == ("shopify", "eu", "EUR")
    assert info.details["api_version"] == "2026-01"


def test_incremental_pull_rereads_the_overlap_window(clocked: tuple[ShopifySimulator, ManualClock]) -> None:
    sim, clock = clocked
    a = sim.create_order(customer_id=None, email="a@example.com", lines=[line("A", 1, "10.00")])
    clock.advance(20 * 60)
    b = sim.create_order(customer_id=None, email="b@example.com", lines=[line("B", 2, "5.00")])
    clock.advance(10 * 60)
    c = sim.create_order(customer_id=None, email="c@example.com", lines=[line("C", 1, "7.50")])
    watermark = T0 + timedelta(minutes=25)  # between b (T0+20) and c (T0+30)

    pages = list(adapter_for(sim).pull_orders(watermark))
    ids = {o.id for p in pages for o in p.items}
    # Overlap 10 min: the filter starts at T0+15, so b is re-read; a (T0) is not.
    assert ids == {f"shopify:eu:gid://shopify/Order/{b.id}", f"shopify:eu:gid://shopify/Order/{c.id}"}
    assert pages[-1].high_water == T0 + timedelta(minutes=30)

    no_overlap = list(adapter_for(sim, overlap=timedelta(0)).pull_orders(watermark))
    assert {o.id for p in no_overlap for o in p.items} == {f"shopify:eu:gid://shopify/Order/{c.id}"}
    assert a.id not in {o.id for p in pages for o in p.items}


def test_pull_maps_lines_refunds_and_status(shopify_sim: ShopifySimulator) -> None:
    cust = shopify_sim.create_customer(first_name="Ana", last_name="Ruiz", email="ana@example.com")
    order = shopify_sim.create_order(customer_id=cust.id, lines=[line("MUG", 2, "12.50"), line("TEE", 1, "20.00")],
                                     shipping=Decimal("4.95"))
    mug = order.line_items[0]
    shopify_sim.add_refund(order.id, [(mug.id, 1)], note="chipped")
    (page,) = list(adapter_for(shopify_sim).pull_orders(None))
    (o,) = page.items
    assert o.customer_id == f"shopify:eu:gid://shopify/Customer/{cust.id}"
    # The simulated shop's prices include 21 % IVA, worked out per line and rounded to the cent:
    # mugs 25.00 · 21/121 = 4.3388 → 4.34 tax, 20.66 net; tee 20.00 · 21/121 = 3.4711 → 3.47,
    # 16.53 net; shipping 4.95 · 21/121 = 0.8591 → 0.86, 4.09 net. Totals exclude tax.
    assert [(ln.sku, ln.quantity, ln.total, ln.total_tax) for ln in o.lines] == [
        ("MUG", 2, Money(Decimal("20.66"), "EUR"), Money(Decimal("4.34"), "EUR")),
        ("TEE", 1, Money(Decimal("16.53"), "EUR"), Money(Decimal("3.47"), "EUR"))]
    assert o.prices_include_tax
    assert (o.shipping_lines[0].total, o.shipping_lines[0].total_tax) == (
        Money(Decimal("4.09"), "EUR"), Money(Decimal("0.86"), "EUR"))
    # 4.34 + 3.47 + 0.86; the buyer paid 25.00 + 20.00 + 4.95.
    assert (o.total_tax, o.total) == (Money(Decimal("8.67"), "EUR"), Money(Decimal("49.95"), "EUR"))
    (refund,) = o.refunds
    # One of two mugs: 12.50 with half the line's tax (2.17) inside, so 10.33 net.
    assert refund.lines[0].quantity == 1 and refund.lines[0].amount == Money(Decimal("10.33"), "EUR")
    assert refund.amount == Money(Decimal("12.50"), "EUR")
    assert refund.reason == "chipped"
    assert o.status is OrderStatus.PAID


def test_test_orders_are_left_out(shopify_sim: ShopifySimulator) -> None:
    shopify_sim.create_order(customer_id=None, email="t@example.com", lines=[line("A", 1, "1.00")], test=True)
    real = shopify_sim.create_order(customer_id=None, email="r@example.com", lines=[line("A", 1, "1.00")])
    (page,) = list(adapter_for(shopify_sim).pull_orders(None))
    assert [o.id for o in page.items] == [f"shopify:eu:gid://shopify/Order/{real.id}"]


def test_pagination_walks_every_page(shopify_sim: ShopifySimulator) -> None:
    for i in range(12):
        shopify_sim.create_customer(first_name=f"C{i}", email=f"c{i}@example.com")
    shopify_sim.reset_counts()
    pages = list(adapter_for(shopify_sim, page_size=5).pull_customers(None))
    assert [len(p.items) for p in pages] == [5, 5, 2]
    assert len({c.id for p in pages for c in p.items}) == 12
    assert shopify_sim.counts["op:CustomersIncremental"] == 3


def test_get_order_fresh_and_missing(shopify_sim: ShopifySimulator) -> None:
    order = shopify_sim.create_order(customer_id=None, email="x@example.com", lines=[line("A", 3, "2.00")])
    adapter = adapter_for(shopify_sim)
    got = adapter.get_order(f"shopify:eu:gid://shopify/Order/{order.id}")
    assert got is not None and got.total == Money(Decimal("6.00"), "EUR")
    assert adapter.get_order("gid://shopify/Order/999999999") is None


# --- failures -------------------------------------------------------------------------------


def test_wrong_token_names_the_config_key(shopify_sim: ShopifySimulator) -> None:
    with pytest.raises(AuthRejected) as info:
        adapter_for(shopify_sim, access_token="shpat_wrong_token_value").check()
    assert info.value.key == "access_token"
    assert "shpat_wrong_token_value" not in str(info.value)


def test_unsupported_version_says_which(shopify_sim: ShopifySimulator) -> None:
    with pytest.raises(UnsupportedApiVersion) as info:
        adapter_for(shopify_sim, api_version="2023-01").check()
    assert "2023-01" in str(info.value) and "2026-01" in str(info.value)


def test_throttled_storm_and_429_are_waited_out(shopify_sim: ShopifySimulator) -> None:
    shopify_sim.seed(customers=5, orders=10, seed=5)
    sleeps = Sleeps()
    adapter = adapter_for(shopify_sim, sleep=sleeps, bucket=ShopBucket(sleep=sleeps))
    shopify_sim.faults.throttle = 3
    shopify_sim.faults.http_429 = 1
    pages = list(adapter.pull_orders(None))
    assert sum(len(p.items) for p in pages) >= 9
    assert adapter.client.bucket.stats.throttled == 3
    assert 2.0 in sleeps  # the simulator's Retry-After


def test_shared_bucket_keeps_workers_clear_of_throttling(
    clocked: tuple[ShopifySimulator, ManualClock],
) -> None:
    # Three workers of one shop, stepped page by page in turn, share one bucket. Time is the
    # simulator's manual clock on both sides and only moves when the bucket makes a worker wait.
    # 18 pages × 278 points (first: 10) = 5004 points against a 2000-point bucket refilled at
    # 100/s: without the shared estimate they would be refused; with it, never.
    sim, clock = clocked
    sim.seed(customers=10, orders=60, seed=9)
    bucket = ShopBucket(clock=clock, sleep=clock.advance)
    workers = [adapter_for(sim, bucket=bucket, page_size=10, sleep=clock.advance).pull_orders(None)
               for _ in range(3)]
    done: list[int] = [0, 0, 0]
    while any(w is not None for w in workers):
        for i, w in enumerate(workers):
            if w is None:
                continue
            page = next(w, None)
            if page is None:
                workers[i] = None
            else:
                done[i] += len(page.items)
    assert done[0] == done[1] == done[2] >= 55
    assert bucket.stats.throttled == 0
    assert bucket.stats.waited_seconds > 20  # the bucket really was the limit


# --- bulk -----------------------------------------------------------------------------------


@pytest.mark.parametrize("grouped", [True, False])
def test_bulk_backfill_equals_the_paginated_read(shopify_sim: ShopifySimulator, grouped: bool) -> None:
    shopify_sim.seed(customers=10, orders=30, seed=11)
    adapter = adapter_for(shopify_sim, sleep=lambda s: None)
    adapter.bulk.poll_start = 0.05
    paged = {o.id: o for p in adapter.pull_orders(None) for o in p.items}
    bulk_pages = list(adapter.backfill_orders(group_objects=grouped, page_size=7))
    backfilled = {o.id: o for p in bulk_pages for o in p.items}
    assert backfilled.keys() == paged.keys()
    for oid, order in paged.items():
        assert backfilled[oid] == order  # same lines, refunds (re-read), totals
    assert all(len(p.items) <= 7 for p in bulk_pages)


# --- writes ---------------------------------------------------------------------------------


def coupon(code: str, cid: str, **kw: Any) -> IssueCoupon:
    base: dict[str, Any] = {
        "key": f"k-{code}", "customer_id": "v-1", "email": "ana@example.com", "code": code, "reward_id": "r5",
        "kind": "fixed_amount", "starts_at": T0, "expires_at": T0 + timedelta(days=60),
        "amount": Money(Decimal("5.00"), "EUR"), "min_subtotal": Money(Decimal("30.00"), "EUR"),
    }
    base.update(kw)
    return IssueCoupon(**base)


def test_coupon_created_exactly_once_across_retries(shopify_sim: ShopifySimulator) -> None:
    cust = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    ref = f"shopify:eu:gid://shopify/Customer/{cust.id}"
    adapter = adapter_for(shopify_sim, sleep=lambda s: None)
    shopify_sim.faults.http_5xx = 1  # the first create attempt fails before reaching the shop
    first = adapter.ensure_coupon(coupon("VINABCDEFGH2", ref), ref)
    again = adapter.ensure_coupon(coupon("VINABCDEFGH2", ref), ref)
    assert first.ok and first.created
    assert again.ok and not again.created and again.platform_id == first.platform_id
    (made,) = [d for d in shopify_sim.store.discounts.values() if d.code == "VINABCDEFGH2"]
    assert made.usage_limit == 1 and made.applies_once_per_customer


def test_taken_on_our_code_is_already_done(shopify_sim: ShopifySimulator) -> None:
    """A second worker creates the code between our lookup and our create: TAKEN → re-read."""
    cust = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    ref = f"shopify:eu:gid://shopify/Customer/{cust.id}"
    rival = adapter_for(shopify_sim)
    command = coupon("VINRACE12345", ref)

    class RacingSession(requests.Session):
        raced = False

        def post(self, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            if kwargs.get("json", {}).get("operationName") == "DiscountCodeBasicCreate" and not self.raced:
                self.raced = True
                assert rival.ensure_coupon(command, ref).created
            return super().post(url, *args, **kwargs)

    ours = adapter_for(shopify_sim, session=RacingSession())
    result = ours.ensure_coupon(command, ref)
    assert result.ok and not result.created
    assert len([d for d in shopify_sim.store.discounts.values() if d.code == "VINRACE12345"]) == 1


def test_free_shipping_and_percentage_coupons(shopify_sim: ShopifySimulator) -> None:
    cust = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    ref = f"shopify:eu:gid://shopify/Customer/{cust.id}"
    adapter = adapter_for(shopify_sim)
    ship = adapter.ensure_coupon(coupon("VINSHIP00001", ref, kind="free_shipping", amount=None,
                                        max_shipping=Money(Decimal("6.00"), "EUR")), ref)
    pct = adapter.ensure_coupon(coupon("VINPCT000001", ref, kind="percentage", amount=None,
                                       percent=Decimal("15")), ref)
    assert ship.created and pct.created
    by_code = {d.code: d for d in shopify_sim.store.discounts.values()}
    assert by_code["VINSHIP00001"].kind == "free_shipping"
    assert by_code["VINPCT000001"].percentage == pytest.approx(0.15)


def test_bad_coupon_is_a_rejected_result_not_an_exception(shopify_sim: ShopifySimulator) -> None:
    cust = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    ref = f"shopify:eu:gid://shopify/Customer/{cust.id}"
    result = adapter_for(shopify_sim).ensure_coupon(coupon("VINBAD000001", ref, kind="percentage", amount=None,
                                                           percent=Decimal("150")), ref)
    assert not result.ok and result.error is not None and result.error.kind == "data"


def test_set_tier_leaves_exactly_one_tier_tag(shopify_sim: ShopifySimulator) -> None:
    cust = shopify_sim.create_customer(first_name="Ana", email="ana@example.com",
                                       tags=["vip", "vinculo-tier-silver"])
    ref = f"shopify:eu:gid://shopify/Customer/{cust.id}"
    adapter = adapter_for(shopify_sim)
    command = SetTier(key="t1", customer_id="v-1", tier="Gold", all_tiers=("Bronze", "Silver", "Gold"))
    assert adapter.set_tier(command, ref).ok
    assert adapter.set_tier(command, ref).ok  # idempotent
    assert sorted(shopify_sim.store.customers[cust.id].tags) == ["vinculo-tier-gold", "vip"]


def test_publish_loyalty_metafields_and_read_back(shopify_sim: ShopifySimulator) -> None:
    cust = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    ref = f"shopify:eu:gid://shopify/Customer/{cust.id}"
    adapter = adapter_for(shopify_sim)
    snapshot = {"available": 150, "pending": 20, "tier": "gold", "next_reward": "r5",
                "points_to_next_reward": 350, "spend_to_next_reward": Decimal("70.00")}
    result = adapter.publish_loyalty(PublishLoyalty(key="p1", customer_id="v-1", snapshot=snapshot), ref)
    assert result.ok and result.payload == {"metafields": 3}
    back = adapter.get_customer(ref)
    assert back is not None
    assert back.meta["vinculo_points_available"] == "150"
    assert back.meta["vinculo_tier"] == "gold"
    assert '"spend_to_next_reward":"70.00"' in back.meta["vinculo_loyalty"].replace(" ", "")


def test_install_creates_definitions_once(shopify_sim: ShopifySimulator) -> None:
    adapter = adapter_for(shopify_sim)
    first = adapter.install()
    second = adapter.install()
    assert [r.created for r in first] == [True, True, True]
    assert [r.ok and not r.created for r in second] == [True, True, True]
    assert len(shopify_sim.store.metafield_definitions) == 3


def test_upsert_matches_before_creating_even_before_search_indexes_it(shopify_sim: ShopifySimulator) -> None:
    shopify_sim.set_index_lag(60)  # customers(query:) would not see a new customer for a minute
    adapter = adapter_for(shopify_sim)
    person = Customer(id="v-9", email="Marta.Ruiz@Example.com", first_name="Marta", last_name="Ruiz",
                      phone="+34600111222")
    (made,) = adapter.upsert_customers([CustomerWrite(key="v-9", customer=person)])
    (again,) = adapter.upsert_customers([CustomerWrite(key="v-9", customer=person)])
    assert made.ok and made.created
    assert again.ok and not again.created and again.platform_id == made.platform_id
    assert [c.email for c in shopify_sim.store.customers.values()] == ["marta.ruiz@example.com"]
    found = adapter.find_customer(None, "+34600111222")
    assert found is not None and found.id == made.platform_id


def test_complete_order_fulfils_once_with_tracking(shopify_sim: ShopifySimulator) -> None:
    order = shopify_sim.create_order(customer_id=None, email="x@example.com", lines=[line("A", 2, "9.00")])
    adapter = adapter_for(shopify_sim)
    ship = Fulfilment(order_id=f"shopify:eu:gid://shopify/Order/{order.id}", shipped_at=T0,
                      tracking_number="1Z999", carrier="UPS", tracking_url="https://ups.example/1Z999")
    first = adapter.complete_order(ship)
    second = adapter.complete_order(ship)
    assert first.ok and first.created
    assert second.ok and not second.created
    (fulfilment,) = shopify_sim.store.orders[order.id].fulfillments
    assert fulfilment.tracking_number == "1Z999"
    got = adapter.get_order(ship.order_id)
    assert got is not None and got.status is OrderStatus.COMPLETED


# --- webhooks -------------------------------------------------------------------------------


def test_webhook_from_the_simulator_becomes_a_fresh_read(shopify_sim: ShopifySimulator,
                                                         shopify_webhook_receiver: Any) -> None:
    shopify_sim.subscribe_webhook("orders/create", shopify_webhook_receiver.url)
    order = shopify_sim.create_order(customer_id=None, email="w@example.com", lines=[line("A", 1, "3.00")])
    assert shopify_sim.wait_webhooks()
    headers, body = shopify_webhook_receiver.received[0]
    adapter = adapter_for(shopify_sim)
    hint = adapter.parse_webhook(headers, body)
    assert isinstance(hint, WebhookHint) and hint.kind == "order"
    fresh = adapter.refresh(hint)
    assert fresh is not None and fresh.id == f"shopify:eu:gid://shopify/Order/{order.id}"
    with pytest.raises(AuthRejected):
        adapter.parse_webhook(headers, body + b" ")


def test_compliance_redact_from_the_simulator(shopify_sim: ShopifySimulator,
                                              shopify_webhook_receiver: Any) -> None:
    cust = shopify_sim.create_customer(first_name="Ana", email="ana@example.com")
    shopify_sim.send_compliance("customers/redact", shopify_webhook_receiver.url, customer=cust)
    assert shopify_sim.wait_webhooks()
    headers, body = shopify_webhook_receiver.received[-1]
    request = adapter_for(shopify_sim).parse_webhook(headers, body)
    assert isinstance(request, CustomerRedact)
    assert request.customer_platform_id == f"shopify:eu:gid://shopify/Customer/{cust.id}"
    assert request.email == "ana@example.com"

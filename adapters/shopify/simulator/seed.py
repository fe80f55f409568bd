"""Deterministic shop contents for tests and benchmarks.

Faker (fixed seed) only names the customers; orders are drawn with ``random.Random`` from a
small SKU catalogue so 100k orders take a few seconds. Some orders carry discount codes
(10 % off the items, free shipping), refunds, fulfillments, guest checkouts or the ``test`` flag, so every branch of the sync
sees data. No webhooks are emitted while seeding.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from faker import Faker

from .pricing import code_percentage, free_shipping
from .store import (
    Address,
    Customer,
    Fulfillment,
    LineItem,
    Order,
    Refund,
    ShippingLine,
    Store,
    refund_line,
)

CATALOGUE = [(f"SKU-{i:04d}", f"Product {i}", Decimal(5 + (i * 37) % 120) + Decimal("0.95"))
             for i in range(1, 61)]


def seed_shop(store: Store, *, customers: int = 10, orders: int = 20, seed: int = 1234,
              days: int = 365) -> None:
    rnd = random.Random(seed)
    fake = Faker("es_ES")
    fake.seed_instance(seed)
    now = store.now()
    start = now - timedelta(days=days)
    span = max(1, int((now - start).total_seconds()) - 3600)
    with store.lock:
        cust_ids: list[int] = []
        for i in range(customers):
            created = start + timedelta(seconds=rnd.randrange(span))
            first, last = fake.first_name(), fake.last_name()
            email = f"{first}.{last}.{i}@example.com".lower().replace(" ", "")
            phone = f"+3460{i:07d}" if i % 3 else None
            addr = Address(address1=fake.street_address(), city=fake.city(), country="Spain",
                           country_code="ES", zip=f"{28000 + i % 999:05d}", province="Madrid",
                           province_code="M", first_name=first, last_name=last, id=store.next_id())
            c = Customer(store.next_id(), first, last, email, phone, created, created,
                         tags=["vip"] if i % 17 == 0 else [], address=addr)
            c.indexed_at = created
            store.customers[c.id] = c
            cust_ids.append(c.id)
        for j in range(orders):
            created = start + timedelta(seconds=rnd.randrange(span))
            cust = store.customers[rnd.choice(cust_ids)] if cust_ids and j % 23 else None
            items = []
            for _ in range(1 + rnd.randrange(3)):
                sku, title, price = CATALOGUE[rnd.randrange(len(CATALOGUE))]
                qty = 1 + rnd.randrange(3)
                items.append(LineItem(store.next_id(), sku, title, qty, price))
            o = Order(store.next_id(), store.next_number(),
                      cust.email if cust else f"guest{j}@example.com",
                      cust.id if cust else None, created, created, items,
                      processed_at=created, test=(j % 97 == 5), tax_rate=store.tax_rate,
                      tax_title=store.tax_title, taxes_included=store.taxes_included)
            o.indexed_at = created
            if j % 2:
                o.shipping_lines.append(ShippingLine(store.next_id(), "Standard", "STANDARD",
                                                     Decimal("4.95")))
            if j % 7 == 0:
                o.discount_applications.append(code_percentage(f"WELCOME{j % 5}", "0.10"))
            if j % 13 == 1 and o.shipping_lines:
                o.discount_applications.append(free_shipping("SHIPFREE"))
            o.discount_codes = [a.code for a in o.discount_applications if a.code]
            o.reprice()
            updated = created
            if j % 3 == 0:
                updated = created + timedelta(hours=1 + rnd.randrange(48))
                f = Fulfillment(store.next_id(), o.id, updated, updated,
                                [(li.id, li.quantity) for li in items],
                                tracking_company="Correos", tracking_number=f"PK{j:09d}ES",
                                name=f"{o.name}-F1")
                o.fulfillments.append(f)
            if j % 11 == 0:
                updated = updated + timedelta(days=1 + rnd.randrange(10))
                r = Refund(store.next_id(), o.id, updated, "Returned",
                           [refund_line(store.next_id(), items[0], 1)],
                           taxes_included=o.taxes_included)
                o.refunds.append(r)
                o.financial_status = ("REFUNDED" if o.refunded_total >= o.total
                                      else "PARTIALLY_REFUNDED")
            o.updated_at = min(updated, now)
            store.orders[o.id] = o
            if cust is not None and not o.test:
                cust.number_of_orders += 1
                cust.amount_spent += o.total
        store.touched("customers")
        store.touched("orders")

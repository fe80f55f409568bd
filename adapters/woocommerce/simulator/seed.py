"""Realistic, reproducible shop data (Faker with a fixed seed) for tests and benchmarks.

Orders go through the same domain operations as API writes, so totals, discounts, stock notes and
coupon usage are consistent; only their timestamps are moved into the past afterwards. Names and
addresses come from a small pre-generated pool so that 10,000 orders seed in a few seconds.
"""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Any

from faker import Faker

from . import coupons as coupon_ops
from . import customers as customer_ops
from . import orders as order_ops
from . import products as product_ops
from .shop import Shop

PRODUCTS = [
    ("Espresso Beans 1kg", "COF-ESP-1000", "24.90"),
    ("Filter Coffee 500g", "COF-FIL-0500", "11.50"),
    ("Ceramic Mug", "MUG-CER-001", "9.99"),
    ("Hand Grinder", "GRD-HND-001", "49.00"),
    ("Milk Frother", "FRO-ELC-001", "34.95"),
    ("Paper Filters (100)", "FIL-PAP-100", "3.49"),
    ("Gift Card 25", "GFT-CARD-025", "25.00"),
    ("Descaler", "CLN-DSC-001", "7.80"),
]
COUPONS: list[dict[str, Any]] = [
    {"code": "welcome10", "discount_type": "percent", "amount": "10",
     "description": "Welcome discount"},
    {"code": "spring5", "discount_type": "fixed_cart", "amount": "5"},
    {"code": "freeship", "discount_type": "fixed_cart", "amount": "0", "free_shipping": True},
]
STATUSES = ["completed"] * 55 + ["processing"] * 25 + ["pending"] * 7 + ["on-hold"] * 5 + \
    ["cancelled"] * 5 + ["failed"] * 3
PAYMENTS = [("stripe", "Credit card (Stripe)"), ("bacs", "Direct bank transfer"),
            ("ppcp-gateway", "PayPal"), ("cod", "Cash on delivery")]
LOCALES = ["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"]
COUNTRY = {"de_DE": "DE", "fr_FR": "FR", "es_ES": "ES", "it_IT": "IT", "nl_NL": "NL"}


def _ascii(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", norm.lower()) or "user"


def _people(fake: Faker, rng: random.Random, n: int) -> list[dict[str, str]]:
    people = []
    for _ in range(n):
        locale = rng.choice(LOCALES)
        f = fake[locale]
        people.append({
            "first_name": f.first_name(),
            "last_name": f.last_name(),
            "address_1": f.street_address(),
            "city": f.city(),
            "postcode": f.postcode(),
            "country": COUNTRY[locale],
            "phone": f.phone_number(),
        })
    return people


def _address(person: dict[str, str], email: str | None) -> dict[str, str]:
    out = {"first_name": person["first_name"], "last_name": person["last_name"], "company": "",
           "address_1": person["address_1"], "address_2": "", "city": person["city"],
           "state": "", "postcode": person["postcode"], "country": person["country"]}
    if email is not None:
        out["email"] = email
        out["phone"] = person["phone"]
    else:
        out["phone"] = ""
    return out


def seed_shop(shop: Shop, *, customers: int, orders: int, seed: int = 42,
              now: datetime | None = None, months: int = 6) -> dict[str, int]:
    rng = random.Random(seed)
    fake = Faker(LOCALES)
    fake.seed_instance(seed)
    order_ops._rng.seed(seed)
    end = int((now or shop.clock.now()).timestamp())
    start = end - months * 30 * 86400
    store = shop.store

    pool = _people(fake, rng, min(400, max(20, customers // 5 + orders // 50)))
    product_ids = []
    for name, sku, price in PRODUCTS:
        existing = product_ops.by_sku(shop, sku)
        p = existing or product_ops.create(shop, {"name": name, "sku": sku, "regular_price": price,
                                                  "manage_stock": False})
        p.created = p.modified = start - 86400
        product_ids.append(p.id)
    coupon_codes = []
    for spec in COUPONS:
        coupon = coupon_ops.find_by_code(shop, spec["code"]) or coupon_ops.create(shop, spec)
        coupon.created = coupon.modified = start - 86400
        coupon_codes.append(coupon.code)

    customer_ids: list[int] = []
    joined = sorted(rng.randint(start, end) for _ in range(customers))
    for i, when in enumerate(joined):
        person = rng.choice(pool)
        first, last = rng.choice(pool)["first_name"], person["last_name"]
        email = f"{_ascii(first)}.{_ascii(last)}.{i + 1}@example.com"
        c = customer_ops.create(shop, {
            "email": email, "first_name": first, "last_name": last,
            "billing": {**_address({**person, "first_name": first}, email)},
            "shipping": _address({**person, "first_name": first}, None),
        })
        c.created = c.modified = when
        customer_ids.append(c.id)

    refunds = 0
    stamps = sorted(rng.randint(start, end) for _ in range(orders))
    for t0 in stamps:
        status = rng.choice(STATUSES)
        items = [{"product_id": pid, "quantity": rng.choice((1, 1, 1, 2, 2, 3))}
                 for pid in rng.sample(product_ids, rng.choice((1, 1, 2, 2, 3)))]
        method, title = rng.choice(PAYMENTS)
        data: dict[str, Any] = {"status": status, "line_items": items, "payment_method": method,
                                "payment_method_title": title}
        if customer_ids and rng.random() < 0.75:
            cid = rng.choice(customer_ids)
            cust = store.customers[cid]
            data["customer_id"] = cid
            data["billing"] = {**cust.billing}
            data["shipping"] = {**cust.shipping}
        else:
            person = rng.choice(pool)
            email = f"{_ascii(person['first_name'])}.{rng.randint(100, 99999)}@example.net"
            data["billing"] = _address(person, email)
            data["shipping"] = _address(person, None)
        if rng.random() < 0.8:
            data["shipping_lines"] = [rng.choice((
                {"method_id": "flat_rate", "method_title": "Flat rate", "total": "4.90"},
                {"method_id": "free_shipping", "method_title": "Free shipping", "total": "0.00"},
            ))]
        if rng.random() < 0.03:
            data["fee_lines"] = [{"name": "Gift wrap", "total": "2.50"}]
        if rng.random() < 0.12:
            data["coupon_lines"] = [{"code": rng.choice(coupon_codes)}]
        o = order_ops.create(shop, data)
        paid_at = t0 + rng.randint(30, 3600)
        o.created = t0
        o.modified = t0
        if o.date_paid is not None:
            o.date_paid = paid_at
            o.modified = paid_at
        if o.date_completed is not None:
            o.date_completed = min(end, paid_at + rng.randint(3600, 5 * 86400))
            o.modified = o.date_completed
        if status == "completed" and rng.random() < 0.04:
            amount = (o.total * Decimal(rng.choice(("0.1", "0.25", "0.5")))).quantize(
                Decimal("0.01"))
            if amount > 0:
                r = order_ops.create_refund(shop, o.id, {"amount": str(amount),
                                                         "reason": "Customer return",
                                                         "api_refund": False})
                r.created = min(end, o.modified + rng.randint(3600, 10 * 86400))
                o.modified = r.created
                refunds += 1
        if o.customer_id and o.status in ("processing", "completed"):
            cust = store.customers[o.customer_id]
            cust.modified = max(cust.created, min(o.modified, end))
    for n in store.notes.values():
        o2 = store.orders.get(n.order_id)
        if o2 is not None:
            n.created = o2.modified
    store.touch()
    return {"customers": customers, "orders": orders, "products": len(product_ids),
            "coupons": len(coupon_codes), "refunds": refunds}

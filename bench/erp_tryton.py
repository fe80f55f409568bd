"""Store orders into a real Tryton: JSON-RPC calls per order, throughput, and a no-op re-sync.

    .venv/bin/python bench/erp_tryton.py --orders 2000 [--batch 50] [--sale-state quotation]

Needs the ``tryton`` extra. Starts trytond on 127.0.0.1 with a fresh copy of the cached shop
database (built once, about 40 s, by ``adapters.tryton.local``), creates the catalogue, then:

1. exports N synthetic store orders (fixed seed) through ``TrytonAdapter.export_orders``:
   wall time, orders/s, JSON-RPC calls per order (target ≤ 2 on average, by batching),
   orders held (total mismatch) and orders settled with a rounding line;
2. exports the same N orders again (nothing changed): calls and writes — writes must be 0.

The orders are built the way a WooCommerce store computes them: a 10 % coupon on some orders
allocated per line, 21 % VAT rounded half up per line, flat shipping 4.95 + 1.04 tax. Tryton
rounds half even, so some orders need a one-cent rounding line: that is counted, not hidden.
Figures go to bench/RESULTS.md (command, machine, date), never into test assertions.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.tryton.adapter import TrytonAdapter  # noqa: E402
from adapters.tryton.bootstrap import ProductSpec  # noqa: E402
from adapters.tryton.local import start_local_tryton  # noqa: E402
from connector.domain import (  # noqa: E402
    Address,
    CouponLine,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    ShippingLine,
)

VAT = Decimal("0.21")
CENT = Decimal("0.01")


def eur(x: Decimal) -> Money:
    return Money(x, "EUR")


def half_up(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def catalogue(rng: random.Random, n: int = 60) -> list[ProductSpec]:
    return [
        ProductSpec(f"SKU-{i:03d}", f"Product {i:03d}", Decimal(rng.randrange(150, 6000)) / 100)
        for i in range(n)
    ]


def synth_orders(n: int, seed: int = 20261124) -> tuple[list[ProductSpec], list[Order]]:
    rng = random.Random(seed)
    products = catalogue(rng)
    customers = [f"customer{i:04d}@example.com" for i in range(max(1, n // 3))]
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    orders: list[Order] = []
    for k in range(n):
        picks = rng.sample(products, rng.randint(1, 4))
        coupon = rng.random() < 0.3
        lines: list[OrderLine] = []
        full_tax = Decimal(0)
        for j, p in enumerate(picks):
            qty = rng.randint(1, 3)
            subtotal = p.list_price * qty
            total = subtotal - (half_up(subtotal * Decimal("0.10")) if coupon else 0)
            tax = half_up(total * VAT)
            full_tax += half_up(subtotal * VAT)
            lines.append(OrderLine(str(j), p.sku, p.name, qty, eur(subtotal), eur(total), eur(tax)))
        ship = ShippingLine(
            "s", "flat_rate", "Envío estándar", eur(Decimal("4.95")), eur(Decimal("1.04"))
        )
        discount = sum((ln.subtotal.amount - ln.total.amount for ln in lines), Decimal(0))
        line_tax = sum((ln.total_tax.amount for ln in lines), Decimal(0))
        coupons = (
            (CouponLine("OTOÑO10", eur(discount), eur(full_tax - line_tax)),) if coupon else ()
        )
        total_tax = line_tax + ship.total_tax.amount
        total = sum((ln.total.amount for ln in lines), Decimal(0)) + ship.total.amount + total_tax
        email = rng.choice(customers)
        name = email.split("@")[0].capitalize()
        when = start + timedelta(minutes=7 * k)
        orders.append(
            Order(
                id=f"woo:bench:{k + 1}",
                number=str(k + 1),
                currency="EUR",
                status=OrderStatus.PAID,
                created_at=when,
                updated_at=when,
                email=email,
                customer_id=None,
                lines=tuple(lines),
                total=eur(total),
                total_tax=eur(total_tax),
                shipping_total=ship.total,
                discount_total=eur(discount),
                shipping_lines=(ship,),
                coupon_lines=coupons,
                billing=Address(
                    first_name=name,
                    last_name="Bench",
                    line1=f"Calle {k % 97} 1",
                    city="Madrid",
                    postcode="28013",
                    country="ES",
                ),
            )
        )
    return products, orders


def run(n: int, batch: int, sale_state: str) -> dict[str, Any]:
    products, orders = synth_orders(n)
    with tempfile.TemporaryDirectory(prefix="vinculo-bench-tryton-") as work:
        t0 = time.perf_counter()
        url, database, username, password, stop = start_local_tryton(Path(work), products=products)
        started = time.perf_counter() - t0
        try:
            adapter = TrytonAdapter(
                store="erp",
                url=url,
                database=database,
                username=username,
                password=password,
                sale_state=sale_state,  # type: ignore[arg-type]
                batch_size=batch,
                timeout=120,
            )
            adapter.check()
            c0 = adapter.client.calls
            t1 = time.perf_counter()
            results = adapter.export_orders(orders)
            export_s = time.perf_counter() - t1
            export_calls = adapter.client.calls - c0
            errors = [r for r in results if not r.ok]
            rounding = len(
                adapter.client.search("sale.line", [["description", "=", "Rounding adjustment"]])
            )
            c1, w1 = adapter.client.calls, adapter.client.writes
            t2 = time.perf_counter()
            again = adapter.export_orders(orders)
            resync_s = time.perf_counter() - t2
            resync_calls, resync_writes = adapter.client.calls - c1, adapter.client.writes - w1
            assert all(not r.created for r in again)
        finally:
            stop()
    return {
        "orders": n,
        "batch_size": batch,
        "sale_state": sale_state,
        "server_start_s": round(started, 1),
        "export_s": round(export_s, 1),
        "orders_per_s": round(n / export_s, 1),
        "calls": export_calls,
        "calls_per_order": round(export_calls / n, 3),
        "held": len(errors),
        "held_refs": [r.error.reference for r in errors[:5] if r.error],
        "rounding_lines": rounding,
        "resync_s": round(resync_s, 2),
        "resync_calls": resync_calls,
        "resync_writes": resync_writes,
        "machine": f"{platform.machine()} {platform.system()} {platform.release()}, Python {platform.python_version()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--sale-state", choices=["quotation", "confirmed"], default="quotation")
    args = ap.parse_args()
    print(json.dumps(run(args.orders, args.batch, args.sale_state), indent=2))


if __name__ == "__main__":
    main()

"""The whole loop with a real Tryton: store order -> ERP sale -> shipment -> store completed ->
points released after the return window; an in-store sale earns into the same balance.

Default program (LOYALTY.md §5.15): 5 points per EUR, 14-day window from completion.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.woocommerce.adapter import WooCommerceAdapter
from adapters.woocommerce.simulator import WooSimulator
from connector.demo import DEFAULT_PROGRAM
from connector.loyalty import load_program
from connector.rewards import LoyaltyBridge
from connector.state.clock import now
from connector.state.db import Database
from connector.state.models import OrderMirror
from connector.sync.engine import SyncEngine
from tests.adapters.tryton.factories import ship, tag

pytestmark = [pytest.mark.tryton, pytest.mark.slow]


def test_store_order_to_tryton_and_back_releases_points_after_the_window(
    tryton: Any, woo_sim: WooSimulator, tmp_path: Path
) -> None:
    t = tag()
    sku = f"LAMP-{t}"
    tryton.products((sku, "Lamp", "40.00"))
    email = f"lucia.{t}@example.com"
    product = woo_sim.create_product(name="Lamp", sku=sku, regular_price="40.00")
    customer = woo_sim.create_customer(email=email, first_name="Lucía", last_name="Pérez")
    order = woo_sim.create_order(
        customer_id=customer["id"],
        billing={"email": email, "first_name": "Lucía", "last_name": "Pérez", "address_1": "Calle Mayor 1",
                 "city": "Madrid", "postcode": "28013", "country": "ES"},
        line_items=[{"product_id": product["id"], "quantity": 2}],
        set_paid=True,
    )
    store = WooCommerceAdapter(store="main", url=woo_sim.url, consumer_key=woo_sim.consumer_key,
                               consumer_secret=woo_sim.consumer_secret)
    erp = tryton.adapter(sale_state="confirmed")
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    bridge = LoyaltyBridge(load_program({"program": DEFAULT_PROGRAM}, source="test", code_secret="s"), ["main"])
    engine = SyncEngine(db, {"main": store}, erp, observer=bridge)

    stats = engine.sync_store("main", full=True)
    assert stats.counts["orders_exported"] == 1
    with db.transaction() as s:
        mirror = s.get(OrderMirror, f"woo:main:{order['id']}")
        assert mirror is not None and mirror.erp_ref is not None
        sale_id = int(mirror.erp_ref.rsplit("/", 1)[1])
    # 2 x 40.00 = 80.00 EUR -> 400 points, pending until completion + 14 days
    assert bridge.balance(db, email)["pending"] == 400
    again = engine.sync_store("main")
    assert again.counts["orders_exported"] == 0  # re-sync never makes a second sale

    ship(tryton.admin(), sale_id, tracking=f"TRK-{t}")
    erp_stats = engine.sync_erp()
    assert erp_stats.counts["orders_completed"] == 1
    assert woo_sim.get_order(order["id"])["status"] == "completed"
    assert any(f"TRK-{t}" in n.note for n in woo_sim.store.notes.values() if n.order_id == order["id"])

    bridge.sweep(db, now() + timedelta(days=10))  # inside the window: still pending
    assert bridge.balance(db, email)["pending"] == 400
    bridge.sweep(db, now() + timedelta(days=16))  # 00:00 Madrid on completion day + 15 has passed
    balance = bridge.balance(db, email)
    assert (balance["available"], balance["pending"]) == (400, 0)

    # An in-store sale typed into Tryton for the same person earns into the same account.
    admin = tryton.admin()
    party = admin.create("party.party", [{
        "name": "Lucía Pérez",
        "contact_mechanisms": [["create", [{"type": "email", "value": email.upper()}]]],
        "addresses": [["create", [{"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013"}]]],
    }])[0]  # fmt: skip
    [address] = admin.read("party.party", [party], ["addresses"])[0]["addresses"]
    [lamp] = admin.search("product.product", [["code", "=", sku]])
    [counter] = admin.create("sale.sale", [{
        "party": party, "invoice_address": address, "shipment_address": address,
        "lines": [["create", [{"type": "line", "product": lamp, "quantity": 1.0, "unit": 1,
                               "unit_price": Decimal("40.00"), "taxes": [["add", [1]]]}]]],
    }])  # fmt: skip
    admin.button("sale.sale", "quote", [counter])
    admin.button("sale.sale", "confirm", [counter])
    ship(admin, counter)
    erp_stats = engine.sync_erp()
    assert erp_stats.counts["sales_new"] == 1
    with db.transaction() as s:
        owners = {m.vinculo_id for m in s.scalars(select(OrderMirror)) if m.platform_id.endswith(f"/{counter}")}
    assert owners == {bridge.balance(db, email)["customer"]}
    # 40.00 EUR before tax -> +200 points, pending (the sale is done: its clock starts now)
    assert bridge.balance(db, email)["pending"] == 200
    db.dispose()


def test_customers_flow_both_ways_with_the_conflict_policy_and_no_ping_pong(
    tryton: Any, woo_sim: WooSimulator, tmp_path: Path
) -> None:
    t = tag()
    email = f"pablo.{t}@example.com"
    made = woo_sim.create_customer(
        email=email, first_name="Pablo", last_name="Sanz",
        billing={"first_name": "Pablo", "last_name": "Sanz", "address_1": "Calle Sol 4", "city": "Sevilla",
                 "postcode": "41001", "country": "ES", "email": email},
    )
    store = WooCommerceAdapter(store="main", url=woo_sim.url, consumer_key=woo_sim.consumer_key,
                               consumer_secret=woo_sim.consumer_secret)
    erp = tryton.adapter()
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    engine = SyncEngine(db, {"main": store}, erp)

    engine.sync_store("main", full=True)  # the store customer becomes a Tryton party
    admin = tryton.admin()
    [party] = admin.search("party.party", [["contact_mechanisms.value", "=", email]])
    [row] = admin.read("party.party", [party], ["name", "addresses"])
    assert row["name"] == "Pablo Sanz"

    # The ERP corrects the billing address (the ERP owns billing data).
    [address] = row["addresses"]
    admin.write("party.address", ([address], {"street": "Avenida Luna 9", "city": "Córdoba", "postal_code": "14001"}))
    engine.sync_erp()
    billing = woo_sim.get_customer(made["id"])["billing"]
    assert (billing["address_1"], billing["city"]) == ("Avenida Luna 9", "Córdoba")

    # Both sides now agree: another round trip writes nothing anywhere.
    woo_sim.reset_counts()
    writes_before = erp.client.writes
    engine.sync_store("main", full=True)
    engine.sync_erp()
    assert sum(n for (method, _), n in woo_sim.counts.items() if method != "GET") == 0
    assert erp.client.writes == writes_before
    db.dispose()

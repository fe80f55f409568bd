"""What comes back from Tryton: shipments done for store orders, and sales made in Tryton."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector.domain import OrderStatus

from .factories import eur, line, order, ship, tag

pytestmark = [pytest.mark.tryton, pytest.mark.slow]


def _fulfilments(adapter, since):
    pages = list(adapter.pull_fulfilments(since))
    assert all(not p.rejected for p in pages)
    return {f.order_id: f for p in pages for f in p.items}, pages


def test_shipment_done_is_reported_as_a_fulfilment_with_tracking(tryton) -> None:
    t = tag()
    tryton.products((f"TEE-{t}", "Camiseta", "10.00"))
    adapter = tryton.adapter(sale_state="confirmed")
    o = order(
        t,
        "77",
        email=f"f.{t}@example.com",
        lines=(line("1", f"TEE-{t}", 1, "10.00", "10.00", "2.10"),),
        total="12.10",
        total_tax="2.10",
    )
    since = datetime.now(UTC)
    [res] = adapter.export_orders([o])
    assert res.ok
    sale_id = int(res.platform_id.rsplit("/", 1)[1])
    found, _pages = _fulfilments(adapter, since)
    assert o.id not in found  # confirmed, shipment waiting: nothing to tell the store yet

    ship(tryton.admin(), sale_id, tracking=f"TRACK-{t}")
    found, pages = _fulfilments(adapter, since)
    f = found[o.id]
    assert f.tracking_number == f"TRACK-{t}"
    assert f.shipped_at.tzinfo is UTC and f.shipped_at >= since
    assert pages[-1].high_water >= f.shipped_at


def test_in_store_sale_is_pulled_for_loyalty_and_store_orders_are_not(tryton) -> None:
    t = tag()
    tryton.products((f"CUP-{t}", "Taza", "8.00"))
    adapter = tryton.adapter(sale_state="confirmed")
    admin = tryton.admin()
    # A store order mirrored by the adapter: must not come back as an ERP sale.
    mirrored = order(
        t,
        "5",
        email=f"s.{t}@example.com",
        lines=(line("1", f"CUP-{t}", 1, "8.00", "8.00", "1.68"),),
        total="9.68",
        total_tax="1.68",
    )
    since = datetime.now(UTC)
    [res] = adapter.export_orders([mirrored])
    # A counter sale typed into Tryton: party with e-mail, 3 cups at 8.00 and 21 % tax.
    party = admin.create("party.party", [{
        "name": "Marta Ruiz",
        "contact_mechanisms": [["create", [{"type": "email", "value": f"Marta.{t}@Example.com"}]]],
        "addresses": [["create", [{"street": "Plaza Mayor 3", "city": "Madrid", "postal_code": "28012"}]]],
    }])[0]  # fmt: skip
    [address] = admin.read("party.party", [party], ["addresses"])[0]["addresses"]
    [cup] = admin.search("product.product", [["code", "=", f"CUP-{t}"]])
    [counter] = admin.create("sale.sale", [{
        "party": party, "invoice_address": address, "shipment_address": address, "reference": "PO 2211",
        "lines": [["create", [{"type": "line", "product": cup, "quantity": 3.0, "unit": 1,
                               "unit_price": Decimal("8.00"), "taxes": [["add", [1]]]}]]],
    }])  # fmt: skip
    admin.button("sale.sale", "quote", [counter])
    admin.button("sale.sale", "confirm", [counter])
    ship(admin, counter)

    pulled = {o.id: o for p in adapter.pull_sales(since) for o in p.items}
    assert res.platform_id not in pulled
    got = pulled[f"tryton:erp:sale.sale/{counter}"]
    assert got.source == "erp" and got.status is OrderStatus.COMPLETED
    assert got.email == f"marta.{t}@example.com"
    assert got.customer_id == f"tryton:erp:party.party/{party}"
    assert [(ln.sku, ln.name, ln.quantity, ln.total, ln.total_tax) for ln in got.lines] == [
        (f"CUP-{t}", "Taza", 3, eur("24.00"), eur("5.04"))
    ]
    assert (got.total, got.total_tax) == (eur("29.04"), eur("5.04"))
    assert got.billing.line1 == "Plaza Mayor 3"


def test_draft_and_quoted_erp_sales_are_not_pulled_yet(tryton) -> None:
    t = tag()
    tryton.products((f"HAT-{t}", "Gorro", "5.00"))
    admin = tryton.admin()
    party = admin.create(
        "party.party", [{"name": f"Draft {t}", "addresses": [["create", [{"city": "Madrid"}]]]}]
    )[0]
    [address] = admin.read("party.party", [party], ["addresses"])[0]["addresses"]
    [hat] = admin.search("product.product", [["code", "=", f"HAT-{t}"]])
    since = datetime.now(UTC)
    [quoted] = admin.create("sale.sale", [{
        "party": party, "invoice_address": address, "shipment_address": address,
        "lines": [["create", [{"type": "line", "product": hat, "quantity": 1.0, "unit": 1, "unit_price": Decimal("5")}]]],
    }])  # fmt: skip
    admin.button("sale.sale", "quote", [quoted])
    pulled = {o.id for p in tryton.adapter().pull_sales(since) for o in p.items}
    assert f"tryton:erp:sale.sale/{quoted}" not in pulled

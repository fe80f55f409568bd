"""The sync engine end to end: WooCommerce simulator over real HTTP -> state -> file-drop ERP.

Figures are worked out from the orders each test creates, never read back from the code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.files.adapter import FilesErp
from adapters.woocommerce.adapter import WooCommerceAdapter
from adapters.woocommerce.simulator import WooSimulator
from connector.errors import MalformedPayload
from connector.state import quarantine, watermarks
from connector.state.db import Database
from connector.state.models import CustomerRecord, IdentityMapping, MergeRecord, OrderMirror
from connector.sync.engine import SyncEngine


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    yield database
    database.dispose()


@pytest.fixture
def erp(tmp_path: Path) -> FilesErp:
    root = tmp_path / "erp"
    root.mkdir()
    return FilesErp(store="erp", root=root)


@pytest.fixture
def store(woo_sim: WooSimulator) -> WooCommerceAdapter:
    return WooCommerceAdapter(
        store="main", url=woo_sim.url, consumer_key=woo_sim.consumer_key, consumer_secret=woo_sim.consumer_secret
    )


@pytest.fixture
def engine(db: Database, store: WooCommerceAdapter, erp: FilesErp) -> SyncEngine:
    return SyncEngine(db, {"main": store}, erp)


def product(sim: WooSimulator, sku: str, price: str) -> int:
    return int(sim.create_product(name=f"Product {sku}", sku=sku, regular_price=price)["id"])


def paid_order(sim: WooSimulator, *, customer_id: int = 0, email: str, lines: list[tuple[int, int]], **extra: Any) -> int:
    order = sim.create_order(
        customer_id=customer_id,
        billing={"email": email, "first_name": "Ana", "last_name": "López"},
        line_items=[{"product_id": p, "quantity": q} for p, q in lines],
        set_paid=True,
        **extra,
    )
    return int(order["id"])


def exported_lines(erp: FilesErp) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((erp.root / "outbox" / "orders").glob("*.jsonl")):
        out.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return out


def write_calls(sim: WooSimulator) -> int:
    return sum(n for (method, _path), n in sim.counts.items() if method != "GET")


def test_full_sync_mirrors_customers_and_exports_paid_orders(
    woo_sim: WooSimulator, engine: SyncEngine, erp: FilesErp, db: Database
) -> None:
    mug = product(woo_sim, "MUG-1", "12.50")
    tee = product(woo_sim, "TEE-1", "20.00")
    ana = woo_sim.create_customer(email="Ana.Lopez@Example.com", first_name="Ana", last_name="López")
    paid = paid_order(woo_sim, customer_id=ana["id"], email="ana.lopez@example.com", lines=[(mug, 2), (tee, 1)])
    woo_sim.create_order(billing={"email": "later@example.com"}, line_items=[{"product_id": mug, "quantity": 1}])

    stats = engine.sync_store("main", full=True)

    assert stats.counts["customers_seen"] == 1
    assert stats.counts["orders_new"] == 2
    assert stats.counts["orders_exported"] == 1  # the pending order waits until it is paid
    lines = exported_lines(erp)
    assert [line["order_id"] for line in lines] == [f"woo:main:{paid}"]
    # 2 x 12.50 + 1 x 20.00 = 45.00, no shipping, no tax in the simulator's store
    assert Decimal(lines[0]["totals"]["total"]) == Decimal("45.00")
    with db.transaction() as s:
        records = {r.email_key: r for r in s.scalars(select(CustomerRecord))}
        assert set(records) == {"ana.lopez@example.com", "later@example.com"}  # guests are customers too
        assert records["later@example.com"].is_guest and not records["ana.lopez@example.com"].is_guest
        record = records["ana.lopez@example.com"]
        mirror = s.get(OrderMirror, f"woo:main:{paid}")
        assert mirror is not None and mirror.vinculo_id == record.vinculo_id
        assert watermarks.get(s, "main", "orders") is not None


def test_second_run_changes_nothing_and_writes_nothing(
    woo_sim: WooSimulator, engine: SyncEngine, erp: FilesErp
) -> None:
    mug = product(woo_sim, "MUG-1", "12.50")
    for i in range(3):
        c = woo_sim.create_customer(email=f"c{i}@example.com", first_name=f"C{i}")
        paid_order(woo_sim, customer_id=c["id"], email=f"c{i}@example.com", lines=[(mug, 1)])
    engine.sync_store("main", full=True)
    files_before = sorted(p.name for p in (erp.root / "outbox").rglob("*"))
    woo_sim.reset_counts()

    again = engine.sync_store("main")

    assert again.counts["orders_new"] == 0 and again.counts["orders_changed"] == 0
    assert again.counts["orders_exported"] == 0
    assert write_calls(woo_sim) == 0
    assert sorted(p.name for p in (erp.root / "outbox").rglob("*")) == files_before


def test_guest_orders_become_customers_and_merge_when_they_register(
    woo_sim: WooSimulator, engine: SyncEngine, db: Database
) -> None:
    mug = product(woo_sim, "MUG-1", "12.50")
    paid_order(woo_sim, email=" Guest@Example.com ", lines=[(mug, 1)])
    engine.sync_store("main", full=True)
    with db.transaction() as s:
        guest = s.scalars(select(CustomerRecord)).one()
        assert guest.is_guest and guest.email_key == "guest@example.com"
        guest_id = guest.vinculo_id

    registered = woo_sim.create_customer(email="guest@example.com", first_name="Gus")
    paid_order(woo_sim, customer_id=registered["id"], email="guest@example.com", lines=[(mug, 2)])
    engine.sync_store("main", full=True)

    with db.transaction() as s:
        records = s.scalars(select(CustomerRecord)).all()
        assert [r.vinculo_id for r in records] == [guest_id]  # one person, not two
        assert not records[0].is_guest
        mapped = {m.platform_id for m in s.scalars(select(IdentityMapping))}
        assert mapped == {"woo:main:guest:guest@example.com", f"woo:main:{registered['id']}"}
        merge = s.scalars(select(MergeRecord)).one()
        assert "guest registered" in merge.reason


def test_bad_order_is_quarantined_and_the_rest_goes_through(
    woo_sim: WooSimulator, engine: SyncEngine, db: Database, erp: FilesErp
) -> None:
    mug = product(woo_sim, "MUG-1", "12.50")
    good = paid_order(woo_sim, email="a@example.com", lines=[(mug, 1)])
    bad = paid_order(woo_sim, email="b@example.com", lines=[(mug, 1)])
    woo_sim.store.orders[bad].line_items[0].sku = None  # the product was deleted in the store

    stats = engine.sync_store("main", full=True)

    assert stats.counts["quarantined"] == 1
    assert [line["order_id"] for line in exported_lines(erp)] == [f"woo:main:{good}"]
    with db.transaction() as s:
        letters = quarantine.open_letters(s)
        assert [(d.stream, d.record_ref, d.reference) for d in letters] == [
            ("orders", f"woo:main:{bad}", "line-sku-missing")
        ]
        assert letters[0].payload["id"] == bad  # the raw record is kept for a retry

    woo_sim.store.orders[bad].line_items[0].sku = "MUG-1"  # the merchant fixes the product
    with db.transaction() as s:
        letter = quarantine.open_letters(s)[0]
    assert engine.retry(letter) == "resolved"
    assert sorted(line["order_id"] for line in exported_lines(erp)) == sorted([f"woo:main:{good}", f"woo:main:{bad}"])


def test_a_broken_page_fails_the_stream_without_moving_its_watermark(
    woo_sim: WooSimulator, engine: SyncEngine, db: Database
) -> None:
    mug = product(woo_sim, "MUG-1", "12.50")
    paid_order(woo_sim, email="a@example.com", lines=[(mug, 1)])
    woo_sim.faults.malformed_json(path="orders", n=None)

    with pytest.raises(MalformedPayload):
        engine.sync_store("main", full=True)
    with db.transaction() as s:
        assert watermarks.get(s, "main", "orders") is None
        assert s.scalars(select(OrderMirror)).all() == []
    woo_sim.faults.clear()
    assert engine.sync_store("main").counts["orders_new"] == 1


def test_erp_customers_reach_the_store_matching_by_email_before_creating(
    woo_sim: WooSimulator, engine: SyncEngine, erp: FilesErp
) -> None:
    existing = woo_sim.create_customer(email="known@example.com", first_name="Old")
    engine.sync_store("main", full=True)
    inbox = erp.root / "inbox" / "customers"
    inbox.mkdir(parents=True)
    (inbox / "c.csv").write_text(
        "erp_id,email,first_name,last_name,company,city,country,updated_at\n"
        "C-1,KNOWN@example.com,Known,Person,Known SL,Madrid,ES,2026-11-20T10:00:00Z\n"
        "C-2,new.person@example.com,New,Person,,Sevilla,ES,2026-11-20T10:00:00Z\n"
        "C-3,,No,Email,,Bilbao,ES,2026-11-20T10:00:00Z\n",
        encoding="utf-8",
    )

    stats = engine.sync_erp()

    assert stats.counts["quarantined"] == 1  # C-3 has no e-mail
    customers = {c["email"]: c for c in (woo_sim.get_customer(i) for i in woo_sim.store.customers)}
    assert set(customers) == {"known@example.com", "new.person@example.com"}  # no duplicate of known
    assert customers["known@example.com"]["id"] == existing["id"]
    assert customers["known@example.com"]["billing"]["company"] == "Known SL"  # ERP wins for billing
    woo_sim.reset_counts()
    engine.sync_store("main", full=True)  # reading back what we wrote is not a change
    assert write_calls(woo_sim) == 0


def test_erp_shipment_marks_the_store_order_completed(
    woo_sim: WooSimulator, engine: SyncEngine, erp: FilesErp, db: Database
) -> None:
    mug = product(woo_sim, "MUG-1", "12.50")
    order_id = paid_order(woo_sim, email="a@example.com", lines=[(mug, 1)])
    engine.sync_store("main", full=True)
    inbox = erp.root / "inbox" / "shipments"
    inbox.mkdir(parents=True)
    (inbox / "s.csv").write_text(
        "order_id,shipped_at,tracking_number,carrier\n"
        f"woo:main:{order_id},2026-11-21T09:00:00Z,TRK-42,Correos\n",
        encoding="utf-8",
    )

    stats = engine.sync_erp()

    assert stats.counts["orders_completed"] == 1
    assert woo_sim.get_order(order_id)["status"] == "completed"
    notes = [n for n in woo_sim.store.notes.values() if n.order_id == order_id and "TRK-42" in n.note]
    assert len(notes) == 1 and not notes[0].customer_note
    with db.transaction() as s:
        mirror = s.get(OrderMirror, f"woo:main:{order_id}")
        assert mirror is not None and mirror.status == "completed"


def test_an_erp_that_fails_loses_nothing_the_next_run_exports_it(
    woo_sim: WooSimulator, engine: SyncEngine, erp: FilesErp, db: Database
) -> None:
    from connector.errors import VinculoError

    mug = product(woo_sim, "MUG-1", "12.50")
    order = paid_order(woo_sim, email="a@example.com", lines=[(mug, 1)])
    folder = erp.root / "outbox" / "orders"
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder", encoding="utf-8")  # the ERP share is broken

    with pytest.raises(VinculoError):
        engine.sync_store("main", full=True)
    with db.transaction() as s:
        assert watermarks.get(s, "main", "orders") is None  # the page was not remembered

    folder.unlink()  # the share is back
    stats = engine.sync_store("main")
    assert stats.counts["orders_exported"] == 1
    assert [line["order_id"] for line in exported_lines(erp)] == [f"woo:main:{order}"]

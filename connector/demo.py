"""`vinculo demo`: the whole product on one machine, with no credentials and no network.

It starts local store simulators seeded with realistic customers and orders, points a config at
them and at a file-drop ERP folder (or a local Tryton), drops a few files into the ERP inbox the
way a legacy ERP would (customers, an in-store sale, a shipment, one bad row), then runs the real
sync, loyalty and perk dispatch twice: the second run shows that nothing is written again.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from connector.config import load_config
from connector.runtime import Runtime, open_runtime
from connector.sync.engine import Progress, RunStats

DEFAULT_PROGRAM: dict[str, Any] = {
    "currency": "EUR",
    "timezone": "Europe/Madrid",
    "point_value": "0.01",
    "earn": {"rates": {"EUR": 5}, "basis": "merchandise_after_discounts", "rounding": "floor"},
    "pending": {"window_days": 14, "clock_start": "completed"},
    "expiry": {"mode": "batch", "days": 365, "notify_days_before": [30, 7]},
    "negative_policy": "forbid_with_debt",
    "restore_redeemed_on": "full_refund",
    "restore_expired": "expire",
    "reward_expiry_refund": True,
    "rewards": [
        {"id": "ship", "type": "free_shipping", "price": 300, "max_shipping": "6.95"},
        {"id": "five", "type": "fixed_amount", "amount": "5.00", "price": 500},
        {"id": "pct15", "type": "percentage", "percent": 15, "price": 1200, "min_subtotal": "45.00"},
    ],
    "tiers": {
        "basis": "spend",
        "window": "rolling_365",
        "retention_days": 365,
        "levels": [
            {"name": "bronze", "from": "0.00", "multiplier": 1},
            {"name": "silver", "from": "300.00", "multiplier": 1.2},
            {"name": "gold", "from": "800.00", "multiplier": 1.5},
        ],
    },
}


@dataclass
class DemoResult:
    workdir: Path
    config_path: Path
    first: list[RunStats]
    second: list[RunStats]
    dispatched: dict[str, int]
    second_dispatched: dict[str, int]
    erp_files: list[str]
    store_calls_second_run: dict[str, int]
    summary: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _woo(customers: int, orders: int, now: datetime) -> Iterator[Any]:
    from adapters.woocommerce.simulator import WooSimulator

    with WooSimulator() as sim:
        sim.seed(customers=customers, orders=orders, seed=42, now=now)
        yield sim


@contextmanager
def _shopify(customers: int, orders: int) -> Iterator[Any]:
    from adapters.shopify.simulator import ShopifySimulator

    with ShopifySimulator() as sim:
        sim.seed(customers=customers, orders=orders, seed=7)
        yield sim


def _tryton_day(tryton: Any, rt: Runtime, existing_email: str | None) -> None:
    """What the warehouse and the shop counter do in Tryton: ship a web order, sell in store."""
    from decimal import Decimal

    from adapters.tryton.client import TrytonClient
    from connector.state.models import OrderMirror

    admin = TrytonClient(url=tryton.url, database=tryton.database, username=tryton.username, password=tryton.password)
    admin.login()
    try:
        with rt.db.transaction() as s:
            mirror = (
                s.query(OrderMirror)
                .filter(OrderMirror.erp_ref.is_not(None), OrderMirror.status == "paid")
                .order_by(OrderMirror.platform_id)
                .first()
            )
            sale_ref = mirror.erp_ref if mirror else None
        if sale_ref:
            _tryton_ship(admin, int(sale_ref.rsplit("/", 1)[1]), "TRK123456ES")
        if existing_email:
            parties = admin.search("party.party", [["contact_mechanisms.value", "=", existing_email]], limit=1)
            products = admin.search("product.product", [["salable", "=", True], ["type", "=", "goods"]], limit=1)
            if parties and products:
                [party] = admin.read("party.party", parties, ["addresses"])
                taxes = admin.search("account.tax", [["parent", "=", None]], limit=1)
                [counter] = admin.create("sale.sale", [{
                    "party": parties[0], "invoice_address": party["addresses"][0],
                    "shipment_address": party["addresses"][0], "reference": "COUNTER-1",
                    "lines": [["create", [{"type": "line", "product": products[0], "quantity": 2.0, "unit": 1,
                                           "unit_price": Decimal("19.90"), "taxes": [["add", taxes]]}]]],
                }])  # fmt: skip
                admin.button("sale.sale", "quote", [counter])
                admin.button("sale.sale", "confirm", [counter])
                _tryton_ship(admin, counter, "")
    finally:
        admin.close()


def _tryton_ship(admin: Any, sale_id: int, tracking: str) -> None:
    [sale] = admin.read("sale.sale", [sale_id], ["shipments"])
    shipments = sale["shipments"]
    if not shipments:
        return
    for step in ("assign_force", "pick", "pack"):
        admin.button("stock.shipment.out", step, shipments)
    if tracking:
        admin.write("stock.shipment.out", (shipments, {"reference": tracking}))
    admin.button("stock.shipment.out", "do", shipments)


def _shopify_schema_available() -> bool:
    from adapters.shopify.simulator.schema import schema_path

    return schema_path().is_file()


def _drop_erp_files(root: Path, existing_email: str | None, shipped_order: str | None, now: datetime) -> None:
    """What a legacy ERP would leave in its folders during a day."""
    customers = root / "inbox" / "customers"
    customers.mkdir(parents=True, exist_ok=True)
    rows = [
        "erp_id,email,first_name,last_name,phone,company,address_1,address_2,city,postcode,state,country,accepts_marketing,updated_at",
        f"C-9001,marta.ruiz@example.test,Marta,Ruiz,+34600111222,Ruiz SL,Calle Mayor 1,,Madrid,28013,M,ES,true,{now.isoformat()}",
        f"C-9002,,Sin,Correo,+34600999888,,Calle Luna 2,,Sevilla,41001,SE,ES,false,{now.isoformat()}",
    ]
    if existing_email:
        rows.append(
            f"C-9003,{existing_email},Known,Customer,,Known Co,Avenida 5,,Valencia,46001,V,ES,,{now.isoformat()}"
        )
    (customers / "customers-001.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    sales = root / "inbox" / "sales"
    sales.mkdir(parents=True, exist_ok=True)
    sale = {
        "id": "POS-1001",
        "customer_erp_id": "C-9001",
        "email": "marta.ruiz@example.test",
        "currency": "EUR",
        "created_at": (now - timedelta(days=20)).isoformat(),
        "status": "completed",
        "lines": [{"sku": "SHOP-COUNTER", "name": "In-store purchase", "quantity": 1, "total": "84.00", "tax": "17.64"}],
        "total": "101.64",
    }
    (sales / "sales-001.jsonl").write_text(json.dumps(sale) + "\n", encoding="utf-8")
    if shipped_order:
        shipments = root / "inbox" / "shipments"
        shipments.mkdir(parents=True, exist_ok=True)
        (shipments / "shipments-001.csv").write_text(
            "order_id,shipped_at,tracking_number,carrier,tracking_url\n"
            f"{shipped_order},{now.isoformat()},TRK123456ES,Correos,\n",
            encoding="utf-8",
        )


def _write_config(
    workdir: Path, stores: list[dict[str, Any]], erp: dict[str, Any], with_loyalty: bool
) -> Path:
    document: dict[str, Any] = {
        "state": {"url": "sqlite:///state.db"},
        "stores": stores,
        "erp": erp,
        "loyalty": {"enabled": with_loyalty, "code_secret": "${VINCULO_DEMO_CODE_SECRET}", "program": DEFAULT_PROGRAM},
    }
    path = workdir / "vinculo.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run_demo(
    *,
    workdir: Path | None = None,
    customers: int = 80,
    orders: int = 240,
    erp_kind: str = "files",
    with_shopify: bool = True,
    progress_factory: Callable[[], Any] | None = None,
) -> DemoResult:
    """Run the demo end to end and return what happened (the CLI renders it)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vinculo-demo-")))
            keep = False
        else:
            workdir.mkdir(parents=True, exist_ok=True)
            keep = True
        woo = stack.enter_context(_woo(customers, orders, now))
        os.environ["VINCULO_DEMO_WOO_KEY"] = woo.consumer_key
        os.environ["VINCULO_DEMO_WOO_SECRET"] = woo.consumer_secret
        os.environ.setdefault("VINCULO_DEMO_CODE_SECRET", secrets.token_hex(16))
        stores: list[dict[str, Any]] = [
            {
                "platform": "woocommerce",
                "key": "main",
                "url": woo.url,
                "consumer_key": "${VINCULO_DEMO_WOO_KEY}",
                "consumer_secret": "${VINCULO_DEMO_WOO_SECRET}",
            }
        ]
        shop = None
        skipped: list[str] = []
        if with_shopify and not _shopify_schema_available():
            with_shopify = False
            skipped.append(
                "Shopify simulator skipped: it validates every query against the Admin API schema, "
                "which was not found (set VINCULO_SHOPIFY_SCHEMA to admin-2026-01.graphql)"
            )
        if with_shopify:
            shop = stack.enter_context(_shopify(max(10, customers // 2), max(20, orders // 2)))
            os.environ["VINCULO_DEMO_SHOPIFY_TOKEN"] = shop.access_token
            stores.append(
                {
                    "platform": "shopify",
                    "key": "eu",
                    "shop_domain": shop.shop_domain,
                    "base_url": shop.url,
                    "access_token": "${VINCULO_DEMO_SHOPIFY_TOKEN}",
                }
            )
        erp_root = workdir / "erp"
        if erp_kind == "tryton":
            from adapters.tryton.local import local_tryton

            tryton = stack.enter_context(local_tryton(workdir / "tryton", cache_dir=Path.home() / ".cache" / "vinculo" / "tryton"))
            os.environ["VINCULO_DEMO_TRYTON_PASSWORD"] = tryton.password
            erp: dict[str, Any] = {
                "platform": "tryton",
                "key": "erp",
                "url": tryton.url,
                "database": tryton.database,
                "username": tryton.username,
                "password": "${VINCULO_DEMO_TRYTON_PASSWORD}",
                "unknown_sku": "create",
                "sale_state": "confirmed",
            }
        else:
            erp_root.mkdir(parents=True, exist_ok=True)
            erp = {"platform": "files", "key": "erp", "root": "erp"}
        config_path = _write_config(workdir, stores, erp, with_loyalty=True)
        config = load_config(config_path)

        bars = progress_factory() if progress_factory else None
        progress: Progress | None = stack.enter_context(bars) if bars is not None else None
        rt = open_runtime(config, progress=progress)
        stack.callback(rt.close)

        first = [rt.engine.sync_store(key, full=True) for key in rt.stores]
        # The ERP has been busy too: new customers, an in-store sale, a shipment.
        existing = _some_store_email(rt)
        shipped = _some_paid_order(rt, "main")
        if erp_kind == "files":
            _drop_erp_files(erp_root, existing, shipped, now)
        else:
            _tryton_day(tryton, rt, existing)
        if rt.erp is not None:
            first.append(rt.engine.sync_erp())
        dispatched = rt.dispatcher.drain().as_dict()
        redeemed = _redeem_for_best_customer(rt)
        dispatched_redeem = rt.dispatcher.drain().as_dict()
        for key, value in dispatched_redeem.items():
            dispatched[key] = dispatched.get(key, 0) + value

        woo.reset_counts()
        if shop is not None:
            shop.reset_counts()
        second = [rt.engine.sync_store(key) for key in rt.stores]
        if rt.erp is not None:
            second.append(rt.engine.sync_erp())
        second_dispatched = rt.dispatcher.drain().as_dict()
        writes = {"main": _write_calls(woo)}
        if shop is not None:
            writes["eu"] = _write_calls(shop)

        erp_files = sorted(str(p.relative_to(workdir)) for p in erp_root.rglob("*") if p.is_file()) if erp_kind == "files" else []
        result = DemoResult(
            workdir=workdir,
            config_path=config_path,
            first=first,
            second=second,
            dispatched=dispatched,
            second_dispatched=second_dispatched,
            erp_files=erp_files,
            store_calls_second_run=writes,
        )
        result.summary = _summary(rt, redeemed)
        if skipped:
            result.summary["skipped"] = skipped
        if not keep:
            result.summary["note"] = "temporary folder removed; pass --dir to keep it"
        return result
    raise AssertionError("unreachable")  # pragma: no cover


_MUTATION_SUFFIXES = ("Create", "Update", "Set", "Add", "Remove", "Delete", "RunQuery")


def _write_calls(sim: Any) -> int:
    """Requests that could change the store, from each simulator's request counter."""
    total = 0
    for key, n in sim.counts.items():
        if isinstance(key, tuple):  # WooCommerce: (method, path)
            total += n if key[0] not in ("GET", "HEAD") else 0
        elif isinstance(key, str) and key.endswith(_MUTATION_SUFFIXES):  # Shopify: root field names
            total += n
    return total


def _some_store_email(rt: Runtime) -> str | None:
    from connector.state.models import CustomerRecord

    with rt.db.transaction() as s:
        row = s.query(CustomerRecord).filter(CustomerRecord.is_guest.is_(False)).order_by(CustomerRecord.created_at).first()
        return row.email_key if row else None


def _some_paid_order(rt: Runtime, store: str) -> str | None:
    from connector.state.models import OrderMirror

    with rt.db.transaction() as s:
        row = (
            s.query(OrderMirror)
            .filter(OrderMirror.source == store, OrderMirror.status == "paid")
            .order_by(OrderMirror.platform_id)
            .first()
        )
        return row.platform_id if row else None


def _redeem_for_best_customer(rt: Runtime) -> dict[str, Any] | None:
    if rt.loyalty is None:
        return None
    return rt.loyalty.redeem_best_for_demo(rt.db, store="main")  # type: ignore[no-any-return]


def _summary(rt: Runtime, redeemed: dict[str, Any] | None) -> dict[str, Any]:
    from connector.commands.ops import status_data

    data = status_data(rt)
    out: dict[str, Any] = {"status": data, "redeemed": redeemed}
    if rt.loyalty is not None:
        out["balances"] = rt.loyalty.top_balances(rt.db, limit=5)
        out["coupons"] = rt.loyalty.issued_coupons(rt.db)
    return out

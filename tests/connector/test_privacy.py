"""Compliance requests end to end: Shopify simulator -> signed webhook -> adapter -> erasure."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml
from sqlalchemy import select

from adapters.shopify.simulator import ShopifySimulator
from adapters.shopify.webhooks import (
    CustomerDataRequest,
    CustomerRedact,
    ShopRedact,
    parse_delivery,
)
from connector import privacy
from connector.config import load_config
from connector.demo import DEFAULT_PROGRAM
from connector.runtime import Runtime, open_runtime
from connector.state.models import (
    AccountBalance,
    CustomerRecord,
    IdentityMapping,
    LedgerEntryRow,
    OrderMirror,
)


def shopify_runtime(tmp_path: Path, sim: ShopifySimulator) -> Runtime:
    os.environ["T_SHOP_TOKEN"] = sim.access_token
    os.environ["T_CODE_SECRET"] = "privacy-test-secret"
    path = tmp_path / "v.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "state": {"url": "sqlite:///state.db"},
                "stores": [
                    {
                        "platform": "shopify",
                        "key": "eu",
                        "shop_domain": sim.shop_domain,
                        "base_url": sim.url,
                        "access_token": "${T_SHOP_TOKEN}",
                    }
                ],
                "loyalty": {"code_secret": "${T_CODE_SECRET}", "program": DEFAULT_PROGRAM},
            }
        ),
        encoding="utf-8",
    )
    return open_runtime(load_config(path))


def deliver(sim: ShopifySimulator, receiver: object, topic: str, customer: object) -> object:
    sim.send_compliance(topic, receiver.url, customer)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)
    headers, body = receiver.received.pop()  # type: ignore[attr-defined]
    return parse_delivery(headers, body, secret=sim.api_secret, store="eu")


def test_data_request_exports_and_redact_erases_but_keeps_the_ledger(
    shopify_sim: ShopifySimulator, shopify_webhook_receiver: object, tmp_path: Path
) -> None:
    from decimal import Decimal

    marta = shopify_sim.create_customer(first_name="Marta", last_name="Ruiz", email="marta@example.com")
    other = shopify_sim.create_customer(first_name="Otro", last_name="Cliente", email="otro@example.com")
    shopify_sim.create_order(customer_id=marta.id, lines=[("MUG-1", "Mug", 2, Decimal("12.50"))])
    shopify_sim.create_order(customer_id=other.id, lines=[("MUG-1", "Mug", 1, Decimal("12.50"))])
    rt = shopify_runtime(tmp_path, shopify_sim)
    try:
        rt.engine.sync_store("eu", full=True)

        request = deliver(shopify_sim, shopify_webhook_receiver, "customers/data_request", marta)
        assert isinstance(request, CustomerDataRequest)
        exported = privacy.export_person(rt.db, platform_ids=[request.customer_platform_id or ""], email=request.email)
        [person] = exported["people"]
        assert person["golden_record"]["fields"]["email"]["value"] == "marta@example.com"
        assert len(person["orders"]) == 1
        assert "marta@example.com" in json.dumps(exported)

        redact = deliver(shopify_sim, shopify_webhook_receiver, "customers/redact", marta)
        assert isinstance(redact, CustomerRedact)
        report = privacy.redact_person(rt.db, platform_ids=[redact.customer_platform_id or ""], email=redact.email)
        assert len(report.customers) == 1 and report.orders == 1

        with rt.db.transaction() as s:
            vid = report.customers[0]
            record = s.get(CustomerRecord, vid)
            assert record is not None and record.email_key is None and record.erased_at is not None
            everything = json.dumps(
                [r.data for r in s.scalars(select(OrderMirror))] + [record.data], default=str
            )
            assert "marta" not in everything.lower() and "Ruiz" not in everything
            assert s.scalars(select(IdentityMapping).where(IdentityMapping.vinculo_id == vid)).all() == []
            assert s.scalars(select(LedgerEntryRow).where(LedgerEntryRow.account == vid)).all() != []
            balance = s.get(AccountBalance, vid)
            assert balance is not None and balance.pending + balance.available > 0  # the liability stays
            assert s.scalars(select(CustomerRecord).where(CustomerRecord.email_key == "otro@example.com")).one()
        again = privacy.export_person(rt.db, email="marta@example.com")
        assert again["people"] == []
    finally:
        rt.close()


def test_shop_redact_forgets_the_store(
    shopify_sim: ShopifySimulator, shopify_webhook_receiver: object, tmp_path: Path
) -> None:
    from decimal import Decimal

    ana = shopify_sim.create_customer(first_name="Ana", last_name="Gil", email="ana@example.com")
    shopify_sim.create_order(customer_id=ana.id, lines=[("MUG-1", "Mug", 1, Decimal("12.50"))])
    rt = shopify_runtime(tmp_path, shopify_sim)
    try:
        rt.engine.sync_store("eu", full=True)
        request = deliver(shopify_sim, shopify_webhook_receiver, "shop/redact", None)
        assert isinstance(request, ShopRedact)
        report = privacy.redact_store(rt.db, request.store)
        assert report.orders == 1 and len(report.customers) == 1
        with rt.db.transaction() as s:
            assert s.scalars(select(OrderMirror)).all() == []
            assert s.scalars(select(IdentityMapping)).all() == []
            assert all(c.email_key is None for c in s.scalars(select(CustomerRecord)))
    finally:
        rt.close()

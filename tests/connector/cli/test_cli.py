"""The `vinculo` command, run in-process over real simulators: output, JSON, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from adapters.woocommerce.simulator import WooSimulator
from connector.cli import main
from tests.connector.loyalty_setup import environment, write_config


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def as_json(result: Result) -> dict[str, Any]:
    data = json.loads(result.stdout)
    assert data["version"] == "1"
    return data


@pytest.fixture
def configured(woo_sim: WooSimulator, tmp_path: Path) -> Path:
    customer = woo_sim.create_customer(email="ana@example.com", first_name="Ana")
    product = woo_sim.create_product(name="Mug", sku="MUG-1", regular_price="10.00")
    woo_sim.create_order(
        customer_id=customer["id"],
        billing={"email": "ana@example.com"},
        line_items=[{"product_id": product["id"], "quantity": 3}],
        set_paid=True,
    )
    os.environ.update(environment(woo_sim))
    return write_config(tmp_path, woo_sim)


def test_help_documents_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for code in ("0 ", "2 ", "3 ", "4 ", "5 ", "130"):
        assert code in result.output


def test_init_writes_references_not_secrets(tmp_path: Path) -> None:
    target = tmp_path / "config" / "shop.yaml"
    result = run(
        "--json", "init", "--path", str(target), "--platform", "woocommerce", "--store-key", "main",
        "--url", "https://shop.example.com", "--erp", "files", "--erp-root", "../erp",
    )
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert "${MAIN_WOO_SECRET}" in text and "cs_" not in text
    assert as_json(result)["environment"] == ["MAIN_WOO_KEY", "MAIN_WOO_SECRET", "MAIN_WOO_WEBHOOK_SECRET"]
    again = run("init", "--path", str(target), "--platform", "woocommerce", "--url", "https://x", "--erp", "files")
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_check_reports_connectivity_and_names_the_key_on_401(configured: Path, woo_sim: WooSimulator) -> None:
    ok = run("--json", "check", "-c", str(configured))
    assert ok.exit_code == 0, ok.output
    assert [t["ok"] for t in as_json(ok)["targets"]] == [True, True]

    env = {**environment(woo_sim), "T_WOO_SECRET": "cs_wrong_secret"}
    bad = run("check", "-c", str(configured), env=env)
    assert bad.exit_code == 3
    assert "consumer_secret" in bad.stderr
    assert "cs_wrong_secret" not in bad.output + bad.stderr


def test_bad_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "v.yaml"
    cfg.write_text("stores:\n  - {platform: woocommerce, key: main, url: shop, consumer_key: x}\n", encoding="utf-8")
    result = run("status", "-c", str(cfg))
    assert result.exit_code == 2
    assert f"{cfg}: stores[0].consumer_key" in result.stderr


def test_sync_status_and_loyalty_commands(configured: Path) -> None:
    first = run("--json", "sync", "-c", str(configured))
    assert first.exit_code == 0, first.output
    runs = {r["source"]: r for r in as_json(first)["runs"]}
    assert runs["main"]["orders_new"] == 1 and runs["main"]["orders_exported"] == 1

    second = run("--json", "sync", "-c", str(configured))
    assert as_json(second)["runs"][0].get("orders_new", 0) == 0

    status = as_json(run("--json", "status", "-c", str(configured)))
    assert {(w["source"], w["stream"]) for w in status["watermarks"]} >= {("main", "orders"), ("main", "customers")}
    assert status["counts"]["customers"] == 1
    assert status["quarantined"] == []

    balance = as_json(run("--json", "loyalty", "balance", "-c", str(configured), "ana@example.com"))
    assert balance["pending"] == 150  # 3 x 10.00 EUR x 5 points

    adjust = run("--json", "loyalty", "adjust", "-c", str(configured), "ana@example.com", "600",
                 "--reason", "goodwill", "--key", "k1")
    assert adjust.exit_code == 0, adjust.output
    redeem = as_json(run("--json", "loyalty", "redeem", "-c", str(configured), "ana@example.com", "five",
                         "--store", "main"))
    assert redeem["reward"] == "five" and len(redeem["code"]) >= 10
    history = as_json(run("--json", "loyalty", "history", "-c", str(configured), "ana@example.com"))
    kinds = [e["kind"] for e in history["entries"]]
    assert kinds.count("EARN") == 1 and kinds.count("ADJUST") == 1 and kinds.count("REDEEM") == 1
    assert all(e["explanation"] for e in history["entries"])

    rebuild = as_json(run("--json", "loyalty", "rebuild", "-c", str(configured)))
    assert rebuild["accounts"] == 1 and rebuild["differences"] == []

    unknown = run("loyalty", "redeem", "-c", str(configured), "ana@example.com", "nope", "--store", "main")
    assert unknown.exit_code == 4 and "reward-unknown" in unknown.stderr


def test_quarantine_list_retry_and_drop(configured: Path, woo_sim: WooSimulator) -> None:
    order = next(iter(woo_sim.store.orders))
    woo_sim.store.orders[order].line_items[0].sku = None
    result = run("sync", "-c", str(configured))
    assert result.exit_code == 4  # finished, with a record quarantined
    listed = as_json(run("--json", "quarantine", "list", "-c", str(configured)))["records"]
    assert [r["record"] for r in listed] == [f"woo:main:{order}"]

    still = as_json(run("--json", "quarantine", "retry", "-c", str(configured), str(listed[0]["id"])))
    assert still["results"][0]["result"].startswith("still quarantined")

    woo_sim.store.orders[order].line_items[0].sku = "MUG-1"
    fixed = as_json(run("--json", "quarantine", "retry", "-c", str(configured), str(listed[0]["id"])))
    assert fixed["results"][0]["result"] == "resolved"
    assert as_json(run("--json", "quarantine", "list", "-c", str(configured)))["records"] == []

    drop = as_json(run("--json", "quarantine", "drop", "-c", str(configured), "999"))
    assert drop["not_found"] == [999]


def test_unreachable_store_exits_5(configured: Path, woo_sim: WooSimulator) -> None:
    configured.write_text(
        configured.read_text(encoding="utf-8").replace("platform: woocommerce", "platform: woocommerce\n  max_retries: 1"),
        encoding="utf-8",
    )
    woo_sim.stop()
    result = run("sync", "-c", str(configured), "--no-erp")
    assert result.exit_code == 5


def test_install_creates_shopify_metafield_definitions_once(shopify_sim: object, tmp_path: Path) -> None:
    import yaml

    os.environ["T_SHOP_TOKEN"] = shopify_sim.access_token  # type: ignore[attr-defined]
    cfg = tmp_path / "v.yaml"
    cfg.write_text(yaml.safe_dump({
        "state": {"url": "sqlite:///state.db"},
        "stores": [{"platform": "shopify", "key": "eu", "shop_domain": shopify_sim.shop_domain,  # type: ignore[attr-defined]
                    "base_url": shopify_sim.url, "access_token": "${T_SHOP_TOKEN}"}],  # type: ignore[attr-defined]
    }), encoding="utf-8")
    first = as_json(run("--json", "install", "-c", str(cfg)))
    assert [r["result"] for r in first["results"]] == ["created"] * 3
    again = as_json(run("--json", "install", "-c", str(cfg)))
    assert [r["result"] for r in again["results"]] == ["already there"] * 3

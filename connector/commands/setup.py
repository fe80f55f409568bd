"""`vinculo init` and `vinculo check`: write a config, then prove it works."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from connector.clikit import Env, config_option, exit_code_for, guarded, load, table
from connector.errors import ConfigFileError, VinculoError
from connector.ports import Installable
from connector.wiring import build_erp, build_store


def _ask(value: str | None, prompt: str, default: str | None = None) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        if default is not None:
            return default
        raise click.UsageError(
            f"--{prompt.lower().replace(' ', '-')} is required when not running interactively"
        )
    return str(click.prompt(prompt, default=default))


@click.command()
@click.option(
    "--path",
    "path",
    default="config/vinculo.yaml",
    show_default=True,
    help="Where to write the config.",
)
@click.option("--platform", type=click.Choice(["woocommerce", "shopify"]), help="Store platform.")
@click.option("--store-key", default=None, help="Short key for the store (e.g. main).")
@click.option("--url", default=None, help="WooCommerce store URL, exactly as WordPress reports it.")
@click.option("--shop-domain", default=None, help="Shopify shop domain (x.myshopify.com).")
@click.option(
    "--erp", "erp_kind", type=click.Choice(["files", "tryton"]), default=None, help="ERP kind."
)
@click.option("--erp-root", default=None, help="Folder of the file-drop ERP.")
@click.option("--tryton-url", default=None)
@click.option("--tryton-database", default=None)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@guarded
def init(
    path: str,
    platform: str | None,
    store_key: str | None,
    url: str | None,
    shop_domain: str | None,
    erp_kind: str | None,
    erp_root: str | None,
    tryton_url: str | None,
    tryton_database: str | None,
    force: bool,
) -> None:
    """Write a configuration (from flags, or by asking). Secrets become ${ENV} references."""
    env: Env = click.get_current_context().ensure_object(Env)
    target = Path(path)
    if target.exists() and not force:
        raise ConfigFileError(
            f"{target} already exists", file=str(target), hint="pass --force to overwrite"
        )
    platform = _ask(platform, "Platform", "woocommerce")
    key = _ask(store_key, "Store key", "main")
    store: dict[str, Any] = {"platform": platform, "key": key}
    prefix = key.upper().replace("-", "_")
    if platform == "woocommerce":
        store["url"] = _ask(url, "URL")
        store["consumer_key"] = f"${{{prefix}_WOO_KEY}}"
        store["consumer_secret"] = f"${{{prefix}_WOO_SECRET}}"
        store["webhook_secret"] = f"${{{prefix}_WOO_WEBHOOK_SECRET}}"
        needed = [f"{prefix}_WOO_KEY", f"{prefix}_WOO_SECRET", f"{prefix}_WOO_WEBHOOK_SECRET"]
    else:
        store["shop_domain"] = _ask(shop_domain, "Shop domain")
        store["access_token"] = f"${{{prefix}_SHOPIFY_TOKEN}}"
        store["webhook_secret"] = f"${{{prefix}_SHOPIFY_SECRET}}"
        needed = [f"{prefix}_SHOPIFY_TOKEN", f"{prefix}_SHOPIFY_SECRET"]
    erp_kind = _ask(erp_kind, "ERP", "files")
    erp: dict[str, Any] = {"platform": erp_kind, "key": "erp"}
    if erp_kind == "files":
        erp["root"] = _ask(erp_root, "ERP folder", "../erp")
    else:
        erp["url"] = _ask(tryton_url, "Tryton URL", "http://127.0.0.1:8000")
        erp["database"] = _ask(tryton_database, "Tryton database", "tryton")
        erp["password"] = "${TRYTON_PASSWORD}"
        needed.append("TRYTON_PASSWORD")
    document = {
        "state": {"url": "sqlite:///../.vinculo/state.db"},
        "stores": [store],
        "erp": erp,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    header = "# Vínculo configuration. Secrets are ${ENV} references: set them in the environment\n"
    header += "# or in a secrets_file (KEY=value lines); never write them here.\n"
    target.write_text(
        header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    if env.json:
        env.emit("init", {"path": str(target), "environment": needed})
        return
    env.out.print(f"wrote {target}")
    env.out.print("set these before `vinculo check`: " + ", ".join(needed), highlight=False)


@click.command()
@config_option
@guarded
def check(config_path: str) -> None:
    """Validate the config and prove each store and the ERP answer with our credentials."""
    env: Env = click.get_current_context().ensure_object(Env)
    config = load(config_path)
    rows: list[dict[str, Any]] = []
    first_error: VinculoError | None = None
    targets: list[Any] = [("store", s) for s in config.stores]
    if config.erp is not None:
        targets.append(("erp", config.erp))
    for role, cfg in targets:
        try:
            adapter = (
                build_store(cfg, overlap=config.sync.overlap)
                if role == "store"
                else build_erp(cfg, overlap=config.sync.overlap)
            )
            info = adapter.check()
            rows.append({"key": cfg.key, "platform": cfg.platform, "ok": True, "detail": info.name})
        except VinculoError as exc:
            first_error = first_error or exc
            rows.append({"key": cfg.key, "platform": cfg.platform, "ok": False, "detail": str(exc)})
    if env.json:
        env.emit("check", {"config": config_path, "targets": rows})
    else:
        env.out.print(f"config {config_path}: valid")
        env.out.print(
            table(
                "connectivity",
                ["key", "platform", "result", "detail"],
                [
                    [r["key"], r["platform"], "ok" if r["ok"] else "FAILED", r["detail"]]
                    for r in rows
                ],
            )
        )
    if first_error is not None:
        if env.json:
            sys.exit(exit_code_for(first_error))
        raise first_error


@click.command()
@config_option
@click.option(
    "--store", "store_keys", multiple=True, help="Only this store (repeatable). Default: all."
)
@guarded
def install(config_path: str, store_keys: tuple[str, ...]) -> None:
    """One-time store setup: Shopify metafield definitions, so balances show in the admin."""
    env: Env = click.get_current_context().ensure_object(Env)
    config = load(config_path)
    rows: list[dict[str, Any]] = []
    first_error: VinculoError | None = None
    for cfg in config.stores:
        if store_keys and cfg.key not in store_keys:
            continue
        adapter = build_store(cfg, overlap=config.sync.overlap)
        if not isinstance(adapter, Installable):
            rows.append({"store": cfg.key, "item": "-", "result": "nothing to set up"})
            continue
        for result in adapter.install():
            if result.error is not None:
                first_error = first_error or result.error
            outcome = "created" if result.created else "already there"
            rows.append(
                {
                    "store": cfg.key,
                    "item": result.key,
                    "result": str(result.error) if result.error else outcome,
                }
            )
    if env.json:
        env.emit("install", {"results": rows})
    else:
        env.out.print(
            table(
                "install",
                ["store", "item", "result"],
                [[r["store"], r["item"], r["result"]] for r in rows],
            )
        )
    if first_error is not None:
        if env.json:
            sys.exit(exit_code_for(first_error))
        raise first_error


COMMANDS = [init, check, install]

"""Building adapters from a validated config: the one place that knows every adapter class.

Everything else talks to adapters through ``connector.ports``; imports happen here lazily so a
merchant without the Tryton extra can still run a WooCommerce + files setup.
"""

from __future__ import annotations

from datetime import timedelta

from connector.config import (
    Config,
    FilesErpConfig,
    ShopifyStoreConfig,
    TrytonErpConfig,
    WooStoreConfig,
)
from connector.ports import ErpAdapter, StoreAdapter


def build_store(cfg: WooStoreConfig | ShopifyStoreConfig, *, overlap: timedelta) -> StoreAdapter:
    if isinstance(cfg, WooStoreConfig):
        from adapters.woocommerce.adapter import WooCommerceAdapter

        return WooCommerceAdapter(
            store=cfg.key,
            url=cfg.url,
            consumer_key=cfg.consumer_key.get_secret_value(),
            consumer_secret=cfg.consumer_secret.get_secret_value(),
            auth=cfg.auth,
            timeout=(min(5.0, cfg.timeout_seconds), cfg.timeout_seconds),
            requests_per_second=cfg.requests_per_second,
            max_retries=cfg.max_retries,
            overlap=overlap,
            webhook_secret=cfg.webhook_secret.get_secret_value() if cfg.webhook_secret else None,
            verify_ssl=cfg.verify_ssl,
        )
    from adapters.shopify.adapter import ShopifyAdapter

    return ShopifyAdapter(
        store=cfg.key,
        shop_domain=cfg.shop_domain,
        access_token=cfg.access_token.get_secret_value(),
        api_version=cfg.api_version,
        base_url=cfg.base_url,
        timeout=cfg.timeout_seconds,
        max_retries=cfg.max_retries,
        webhook_secret=cfg.webhook_secret.get_secret_value() if cfg.webhook_secret else None,
        overlap=overlap,
    )


def build_erp(cfg: FilesErpConfig | TrytonErpConfig, *, overlap: timedelta) -> ErpAdapter:
    if isinstance(cfg, FilesErpConfig):
        from adapters.files.adapter import FilesErp

        return FilesErp(store=cfg.key, root=cfg.root, order_format=cfg.order_format)
    from adapters.tryton.adapter import TrytonAdapter

    return TrytonAdapter(
        store=cfg.key,
        url=cfg.url,
        database=cfg.database,
        username=cfg.username,
        password=cfg.password.get_secret_value(),
        timeout=cfg.timeout_seconds,
        sale_state=cfg.sale_state,
        unknown_sku=cfg.unknown_sku,
        shipping_product_code=cfg.shipping_product_code,
        discount_product_code=cfg.discount_product_code,
        overlap=overlap,
    )


def build_all(config: Config) -> tuple[dict[str, StoreAdapter], ErpAdapter | None]:
    overlap = config.sync.overlap
    stores = {s.key: build_store(s, overlap=overlap) for s in config.stores}
    erp = build_erp(config.erp, overlap=overlap) if config.erp is not None else None
    return stores, erp

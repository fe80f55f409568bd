"""Products, only as far as orders need them: SKU uniqueness, price, stock (NOTES 4.8)."""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError
from .meta import apply_meta
from .shop import Shop
from .store import Product
from .values import dec


def get(shop: Shop, product_id: int, status: int = 404) -> Product:
    p = shop.store.products.get(product_id)
    if p is None:
        raise ApiError(status, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return p


def by_sku(shop: Shop, sku: str) -> Product | None:
    pid = shop.store.sku_index.get(sku)
    return shop.store.products.get(pid) if pid is not None else None


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "product"


def _check_sku(shop: Shop, sku: str, own_id: int | None) -> None:
    owner = shop.store.sku_index.get(sku)
    if owner is not None and owner != own_id:
        n = 1
        while f"{sku}-{n}" in shop.store.sku_index:
            n += 1
        raise ApiError(400, "product_invalid_sku", "Invalid or duplicated SKU.",
                       resource_id=owner, unique_sku=f"{sku}-{n}")


def _apply(shop: Shop, p: Product, data: dict[str, Any]) -> None:
    if "name" in data:
        p.name = str(data["name"] or "")
    for key in ("regular_price", "sale_price"):
        if key in data:
            raw = data[key]
            setattr(p, key, "" if raw in (None, "") else str(dec(raw)))
    for key in ("description", "short_description", "status", "type"):
        if key in data and data[key] is not None:
            setattr(p, key, str(data[key]))
    for key in ("manage_stock", "virtual", "downloadable"):
        if key in data:
            setattr(p, key, bool(data[key]))
    if "stock_quantity" in data:
        p.stock_quantity = None if data["stock_quantity"] is None else int(data["stock_quantity"])
    if isinstance(data.get("meta_data"), list):
        p.meta = apply_meta(p.meta, data["meta_data"], shop.store.postmeta_ids)


def create(shop: Shop, data: dict[str, Any]) -> Product:
    store = shop.store
    if data.get("id"):
        raise ApiError(400, "woocommerce_rest_product_exists", "Cannot create existing resource.")
    sku = str(data.get("sku") or "").strip()
    if sku:
        _check_sku(shop, sku, None)
    name = str(data.get("name") or "Product")
    now = shop.now()
    slug = _slugify(name)
    taken = {p.slug for p in store.products.values()}
    base, n = slug, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    p = Product(id=store.post_ids(), name=name, slug=slug, sku=sku, created=now, modified=now)
    _apply(shop, p, data)
    store.products[p.id] = p
    if sku:
        store.sku_index[sku] = p.id
    store.emit("product", "created", p.id)
    return p


def update(shop: Shop, product_id: int, data: dict[str, Any]) -> Product:
    store = shop.store
    p = get(shop, product_id, status=400)
    if "sku" in data:
        sku = str(data["sku"] or "").strip()
        if sku:
            _check_sku(shop, sku, p.id)
        if p.sku:
            store.sku_index.pop(p.sku, None)
        p.sku = sku
        if sku:
            store.sku_index[sku] = p.id
    _apply(shop, p, data)
    p.modified = shop.now()
    store.emit("product", "updated", p.id)
    return p


def delete(shop: Shop, product_id: int, force: bool) -> Product:
    store = shop.store
    p = get(shop, product_id)
    if force:
        del store.products[p.id]
        if p.sku:
            store.sku_index.pop(p.sku, None)
        store.touch()
    else:
        p.status = "trash"
        p.modified = shop.now()
        store.emit("product", "deleted", p.id)
    return p


def reduce_stock(shop: Shop, product_id: int, qty: int) -> None:
    p = shop.store.products.get(product_id)
    if p is None:
        return
    p.total_sales += qty
    if p.manage_stock and p.stock_quantity is not None:
        p.stock_quantity -= qty

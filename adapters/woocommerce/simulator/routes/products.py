"""``products`` routes, enough for line items by SKU and duplicate-SKU errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import products as ops
from .. import shapes
from .base import (
    Req,
    Resp,
    enum_param,
    ids_param,
    paging,
)
from .crud import Crud, by_ids, page, plain

if TYPE_CHECKING:
    from ..sim import WooSimulator


def list_products(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    pg = paging(req)
    desc = enum_param(req, "order", ("asc", "desc"), "desc") == "desc"
    orderby = enum_param(req, "orderby", ("date", "id", "include", "title", "slug", "modified",
                                          "price", "popularity", "rating", "menu_order"), "date")
    include = ids_param(req, "include")
    sku = str(req.query.get("sku") or "")
    search = str(req.query.get("search") or "").strip().lower()
    req.authorize()
    products = [p for p in sim.store.products.values() if p.status != "trash"]
    if sku:
        wanted = {s.strip() for s in sku.split(",")}
        products = [p for p in products if p.sku in wanted]
    products = by_ids(products, include, [])
    if search:
        products = [p for p in products if search in f"{p.name} {p.sku}".lower()]
    if orderby in ("title", "slug"):
        products.sort(key=lambda p: (p.name.lower(), p.id), reverse=desc)
    elif orderby == "id":
        products.sort(key=lambda p: p.id, reverse=desc)
    elif orderby == "modified":
        products.sort(key=lambda p: (p.modified, p.id), reverse=desc)
    else:
        products.sort(key=lambda p: (p.created, p.id), reverse=desc)
    return page(sim, req, pg, products, shapes.product)


CRUD = Crud("products", ops.get, ops.create, ops.update, ops.delete, plain(shapes.product))
ROUTES = CRUD.routes(list_products)

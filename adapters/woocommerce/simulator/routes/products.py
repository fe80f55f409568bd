"""``products`` routes, enough for line items by SKU and duplicate-SKU errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import products as ops
from .. import shapes
from .base import (
    Req,
    Resp,
    batch,
    bool_param,
    collection_response,
    created,
    enum_param,
    fields_filter,
    ids_param,
    paging,
    route,
)

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
    if include:
        products = [p for p in products if p.id in include]
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
    items = [fields_filter(req, shapes.product(sim.ctx, p)) for p in pg.window(products)]
    return collection_response(sim, req, items, len(products), pg, recount=True)


def get_product(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    return Resp(200, fields_filter(req, shapes.product(sim.ctx, ops.get(sim.shop, int(g["id"])))))


def create_product(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    p = ops.create(sim.shop, req.data())
    return created(shapes.product(sim.ctx, p), f"{sim.ctx.api}/products/{p.id}")


def update_product(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    return Resp(200, shapes.product(sim.ctx, ops.update(sim.shop, int(g["id"]), req.data())))


def delete_product(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    p = ops.delete(sim.shop, int(g["id"]), bool_param(req, "force"))
    return Resp(200, shapes.product(sim.ctx, p))


def batch_products(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    shop, ctx = sim.shop, sim.ctx

    def create(d: dict[str, Any]) -> dict[str, Any]:
        return shapes.product(ctx, ops.create(shop, d))

    def update(i: int, d: dict[str, Any]) -> dict[str, Any]:
        return shapes.product(ctx, ops.update(shop, i, d))

    def delete(i: int) -> dict[str, Any]:
        return shapes.product(ctx, ops.delete(shop, i, True))

    return batch(req, create, update, delete)


ROUTES = [
    route("products", "GET, POST", "collection", "products", get=list_products,
          post=create_product),
    route("products/batch", "POST, PUT, PATCH", "batch", "products", post=batch_products,
          put=batch_products, patch=batch_products),
    route(r"products/(?P<id>\d+)", "GET, POST, PUT, PATCH, DELETE", "item", "products",
          get=get_product, post=update_product, put=update_product, patch=update_product,
          delete=delete_product),
]

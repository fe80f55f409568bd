"""``coupons`` routes: ``code`` lookup (case-insensitive via lower-cased storage), date filters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import coupons as ops
from .. import shapes
from ..store import Coupon
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
from .orders import ORDERBY, _date_filters

if TYPE_CHECKING:
    from ..sim import WooSimulator


def list_coupons(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    pg = paging(req)
    desc = enum_param(req, "order", ("asc", "desc"), "desc") == "desc"
    orderby = enum_param(req, "orderby", ORDERBY, "date")
    enum_param(req, "context", ("view", "edit"), "view")
    include, exclude = ids_param(req, "include"), ids_param(req, "exclude")
    code = req.query.get("code")
    search = str(req.query.get("search") or "").strip().lower()
    preds = _date_filters(sim, req)
    req.authorize()

    if code:
        found = ops.find_by_code(sim.shop, str(code))
        candidates: list[Coupon] = [found] if found is not None else []
    else:
        candidates = list(sim.store.coupons.values())
    candidates = [c for c in candidates if c.status != "trash" and all(p(c) for p in preds)]
    if include:
        candidates = [c for c in candidates if c.id in include]
    if exclude:
        candidates = [c for c in candidates if c.id not in exclude]
    if search:
        candidates = [c for c in candidates if search in f"{c.code} {c.description}".lower()]
    if orderby == "include" and include:
        candidates.sort(key=lambda c: include.index(c.id), reverse=desc)
    elif orderby in ("title", "slug"):
        candidates.sort(key=lambda c: (c.code, c.id), reverse=desc)
    elif orderby == "modified":
        candidates.sort(key=lambda c: (c.modified, c.id), reverse=desc)
    elif orderby == "id":
        candidates.sort(key=lambda c: c.id, reverse=desc)
    else:
        candidates.sort(key=lambda c: (c.created, c.id), reverse=desc)
    items = [fields_filter(req, shapes.coupon(sim.ctx, c)) for c in pg.window(candidates)]
    return collection_response(sim, req, items, len(candidates), pg, recount=True)


def get_coupon(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    return Resp(200, fields_filter(req, shapes.coupon(sim.ctx, ops.get(sim.shop, int(g["id"])))))


def create_coupon(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    c = ops.create(sim.shop, req.data())
    return created(shapes.coupon(sim.ctx, c), f"{sim.ctx.api}/coupons/{c.id}")


def update_coupon(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    return Resp(200, shapes.coupon(sim.ctx, ops.update(sim.shop, int(g["id"]), req.data())))


def delete_coupon(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    c = ops.delete(sim.shop, int(g["id"]), bool_param(req, "force"))
    return Resp(200, shapes.coupon(sim.ctx, c))


def batch_coupons(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    shop, ctx = sim.shop, sim.ctx

    def create(d: dict[str, Any]) -> dict[str, Any]:
        return shapes.coupon(ctx, ops.create(shop, d))

    def update(i: int, d: dict[str, Any]) -> dict[str, Any]:
        return shapes.coupon(ctx, ops.update(shop, i, d))

    def delete(i: int) -> dict[str, Any]:
        return shapes.coupon(ctx, ops.delete(shop, i, True))

    return batch(req, create, update, delete)


ROUTES = [
    route("coupons", "GET, POST", "collection", "coupons", get=list_coupons, post=create_coupon),
    route("coupons/batch", "POST, PUT, PATCH", "batch", "coupons", post=batch_coupons,
          put=batch_coupons, patch=batch_coupons),
    route(r"coupons/(?P<id>\d+)", "GET, POST, PUT, PATCH, DELETE", "item", "coupons",
          get=get_coupon, post=update_coupon, put=update_coupon, patch=update_coupon,
          delete=delete_coupon),
]

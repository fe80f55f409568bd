"""``coupons`` routes: ``code`` lookup (case-insensitive via lower-cased storage), date filters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import coupons as ops
from .. import shapes
from ..store import Coupon
from .base import (
    Req,
    Resp,
    enum_param,
    ids_param,
    paging,
)
from .crud import Crud, by_ids, page, plain
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
    candidates = by_ids(candidates, include, exclude)
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
    return page(sim, req, pg, candidates, shapes.coupon)


CRUD = Crud("coupons", ops.get, ops.create, ops.update, ops.delete, plain(shapes.coupon))
ROUTES = CRUD.routes(list_coupons)

"""``customers`` routes: exact ``email``, ``role`` defaulting to customer, no date filters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import customers as ops
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


def list_customers(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    pg = paging(req)
    desc = enum_param(req, "order", ("asc", "desc"), "asc") == "desc"
    orderby = enum_param(req, "orderby", ("id", "include", "name", "registered_date"), "name")
    role = enum_param(req, "role", ops.ROLES, "customer")
    enum_param(req, "context", ("view", "edit"), "view")
    include, exclude = ids_param(req, "include"), ids_param(req, "exclude")
    email = str(req.query.get("email") or "").strip().lower()
    search = str(req.query.get("search") or "").strip().lower().strip("*")
    req.authorize()

    store = sim.store
    if email:
        cid = store.email_index.get(email)
        candidates = [store.customers[cid]] if cid is not None else []
    else:
        candidates = list(store.customers.values())
    if role != "all":
        candidates = [c for c in candidates if c.role == role]
    candidates = by_ids(candidates, include, exclude)
    if search:
        candidates = [c for c in candidates
                      if search in f"{c.email} {c.username} {c.first_name} {c.last_name}".lower()]
    if orderby == "include" and include:
        candidates.sort(key=lambda c: include.index(c.id), reverse=desc)
    elif orderby == "name":
        candidates.sort(key=lambda c: (c.display_name.lower(), c.id), reverse=desc)
    else:  # id and registered_date follow the same sequence
        candidates.sort(key=lambda c: (c.created, c.id) if orderby == "registered_date" else c.id,
                        reverse=desc)
    return page(sim, req, pg, candidates, shapes.customer)


CRUD = Crud("customers", ops.get, ops.create, ops.update, ops.delete, plain(shapes.customer))
ROUTES = CRUD.routes(list_customers)

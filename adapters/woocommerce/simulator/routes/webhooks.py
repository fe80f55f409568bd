"""``webhooks`` routes; creation pings the delivery URL after the store lock is released."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import shapes
from .. import webhooks as ops
from ..store import Webhook
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


def list_webhooks(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    pg = paging(req)
    desc = enum_param(req, "order", ("asc", "desc"), "desc") == "desc"
    orderby = enum_param(req, "orderby", ("date", "id", "title"), "date")
    status = enum_param(req, "status", ("all", *ops.STATUSES), "all")
    include, exclude = ids_param(req, "include"), ids_param(req, "exclude")
    search = str(req.query.get("search") or "").strip().lower()
    req.authorize()
    hooks = list(sim.store.webhooks.values())
    if status != "all":
        hooks = [w for w in hooks if w.status == status]
    hooks = by_ids(hooks, include, exclude)
    if search:
        hooks = [w for w in hooks if search in w.name.lower()]
    if orderby == "title":
        hooks.sort(key=lambda w: (w.name.lower(), w.id), reverse=desc)
    elif orderby == "id":
        hooks.sort(key=lambda w: w.id, reverse=desc)
    else:
        hooks.sort(key=lambda w: (w.created, w.id), reverse=desc)
    return page(sim, req, pg, hooks, shapes.webhook)


def _ping(sim: WooSimulator, w: Webhook) -> None:
    sim.dispatcher.ping(w.id)


CRUD = Crud("webhooks", ops.get, ops.create, ops.update, ops.delete, plain(shapes.webhook),
            after_create=_ping)
ROUTES = CRUD.routes(list_webhooks)

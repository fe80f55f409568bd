"""``webhooks`` routes; creation pings the delivery URL after the store lock is released."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import shapes
from .. import webhooks as ops
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
    if include:
        hooks = [w for w in hooks if w.id in include]
    if exclude:
        hooks = [w for w in hooks if w.id not in exclude]
    if search:
        hooks = [w for w in hooks if search in w.name.lower()]
    if orderby == "title":
        hooks.sort(key=lambda w: (w.name.lower(), w.id), reverse=desc)
    elif orderby == "id":
        hooks.sort(key=lambda w: w.id, reverse=desc)
    else:
        hooks.sort(key=lambda w: (w.created, w.id), reverse=desc)
    items = [fields_filter(req, shapes.webhook(sim.ctx, w)) for w in pg.window(hooks)]
    return collection_response(sim, req, items, len(hooks), pg, recount=True)


def get_webhook(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    return Resp(200, fields_filter(req, shapes.webhook(sim.ctx, ops.get(sim.shop, int(g["id"])))))


def _create(sim: WooSimulator, req: Req, data: dict[str, Any]) -> dict[str, Any]:
    w = ops.create(sim.shop, data)
    body = shapes.webhook(sim.ctx, w)  # rendered before the ping re-saves it

    def ping() -> None:
        sim.dispatcher.ping(w.id)

    req.after.append(ping)
    return body


def create_webhook(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    body = _create(sim, req, req.data())
    return created(body, f"{sim.ctx.api}/webhooks/{body['id']}")


def update_webhook(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    return Resp(200, shapes.webhook(sim.ctx, ops.update(sim.shop, int(g["id"]), req.data())))


def delete_webhook(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    w = ops.delete(sim.shop, int(g["id"]), bool_param(req, "force"))
    return Resp(200, shapes.webhook(sim.ctx, w))


def batch_webhooks(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    shop, ctx = sim.shop, sim.ctx

    def update(i: int, d: dict[str, Any]) -> dict[str, Any]:
        return shapes.webhook(ctx, ops.update(shop, i, d))

    def delete(i: int) -> dict[str, Any]:
        return shapes.webhook(ctx, ops.delete(shop, i, True))

    return batch(req, lambda d: _create(sim, req, d), update, delete)


ROUTES = [
    route("webhooks", "GET, POST", "collection", "webhooks", get=list_webhooks,
          post=create_webhook),
    route("webhooks/batch", "POST, PUT, PATCH", "batch", "webhooks", post=batch_webhooks,
          put=batch_webhooks, patch=batch_webhooks),
    route(r"webhooks/(?P<id>\d+)", "GET, POST, PUT, PATCH, DELETE", "item", "webhooks",
          get=get_webhook, post=update_webhook, put=update_webhook, patch=update_webhook,
          delete=delete_webhook),
]

"""The item, create, delete and batch handlers of a WooCommerce CRUD resource, built once.

Why one builder: ``WC_REST_CRUD_Controller`` gives customers, products, coupons, webhooks and
orders the same lifecycle, so the simulator answers them the same way (``201`` with ``Location``
on create, ``_fields`` on reads only, the object as it stood on delete, batches of
create → update → delete with ``force``), and a fix to one resource's lifecycle reaches them all.
What differs per resource stays with the resource: its collection filters and ordering, how it
is rendered, and the two real quirks below (``after_create``, ``render_before_delete``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ..shapes import Ctx
from ..shop import Shop
from .base import (
    Handler,
    Paging,
    Req,
    Resp,
    Route,
    batch,
    bool_param,
    collection_response,
    created,
    fields_filter,
    route,
)

if TYPE_CHECKING:
    from ..sim import WooSimulator


class _Identified(Protocol):
    id: int


T = TypeVar("T", bound=_Identified)

# ``req`` is None inside a batch: batch items are rendered with the defaults (orders: ``dp=2``).
Render = Callable[["WooSimulator", T, Req | None], dict[str, Any]]

ITEM_METHODS = "GET, POST, PUT, PATCH, DELETE"


def plain(shape: Callable[[Ctx, T], dict[str, Any]]) -> Render[T]:
    """A resource whose JSON depends on nothing in the request."""

    def render(sim: WooSimulator, obj: T, _req: Req | None) -> dict[str, Any]:
        return shape(sim.ctx, obj)

    return render


def by_ids(rows: list[T], include: list[int], exclude: list[int]) -> list[T]:
    """The ``include`` / ``exclude`` id filters every CRUD collection accepts."""
    if include:
        rows = [r for r in rows if r.id in include]
    if exclude:
        rows = [r for r in rows if r.id not in exclude]
    return rows


def page(sim: WooSimulator, req: Req, pg: Paging, rows: list[T],
         shape: Callable[[Ctx, T], dict[str, Any]]) -> Resp:
    """One page of matches, ``_fields`` applied per item, totals counted over every match."""
    items = [fields_filter(req, shape(sim.ctx, r)) for r in pg.window(rows)]
    return collection_response(sim, req, items, len(rows), pg, recount=True)


@dataclass(frozen=True)
class Crud(Generic[T]):
    resource: str  # route prefix and ``Route.resource``, e.g. "customers"
    get: Callable[[Shop, int], T]
    create: Callable[[Shop, dict[str, Any]], T]
    update: Callable[[Shop, int, dict[str, Any]], T]
    delete: Callable[[Shop, int, bool], T]
    render: Render[T]
    # Runs after the store lock is released (webhooks ping their delivery URL on creation).
    after_create: Callable[[WooSimulator, T], None] | None = None
    # Orders: a forced delete also drops the refunds and notes the order's JSON reads, so the
    # body is rendered before; a trashed order is rendered as it is afterwards.
    render_before_delete: bool = False

    # ---- handlers ------------------------------------------------------------------------------

    def get_item(self, sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
        return Resp(200, fields_filter(req, self.render(sim, self.get(sim.shop, int(g["id"])), req)))

    def create_item(self, sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
        obj, body = self._create(sim, req, req.data(), req)
        return created(body, f"{sim.ctx.api}/{self.resource}/{obj.id}")

    def update_item(self, sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
        obj = self.update(sim.shop, int(g["id"]), req.data())
        return Resp(200, self.render(sim, obj, req))

    def delete_item(self, sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
        return Resp(200, self._delete(sim, req, int(g["id"]), bool_param(req, "force")))

    def batch_items(self, sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
        def create(d: dict[str, Any]) -> dict[str, Any]:
            return self._create(sim, req, d, None)[1]

        def update(i: int, d: dict[str, Any]) -> dict[str, Any]:
            return self.render(sim, self.update(sim.shop, i, d), None)

        def delete(i: int) -> dict[str, Any]:
            return self._delete(sim, None, i, True)

        return batch(req, create, update, delete)

    def routes(self, list_items: Handler) -> list[Route]:
        """Collection, batch and item routes, in the order the dispatcher tries them."""
        name = self.resource
        item, batch_items = self.update_item, self.batch_items
        return [
            route(name, "GET, POST", "collection", name, get=list_items, post=self.create_item),
            route(f"{name}/batch", "POST, PUT, PATCH", "batch", name, post=batch_items,
                  put=batch_items, patch=batch_items),
            route(rf"{name}/(?P<id>\d+)", ITEM_METHODS, "item", name, get=self.get_item,
                  post=item, put=item, patch=item, delete=self.delete_item),
        ]

    # ---- shared steps --------------------------------------------------------------------------

    def _create(self, sim: WooSimulator, req: Req, data: dict[str, Any],
                render_req: Req | None) -> tuple[T, dict[str, Any]]:
        obj = self.create(sim.shop, data)
        body = self.render(sim, obj, render_req)  # rendered before any after-create step re-saves it
        if self.after_create is not None:
            req.after.append(partial(self.after_create, sim, obj))
        return obj, body

    def _delete(self, sim: WooSimulator, req: Req | None, item_id: int,
                force: bool) -> dict[str, Any]:
        if not self.render_before_delete:
            return self.render(sim, self.delete(sim.shop, item_id, force), req)
        obj = self.get(sim.shop, item_id)
        before = self.render(sim, obj, req)
        obj = self.delete(sim.shop, obj.id, force)
        return before if force else self.render(sim, obj, req)

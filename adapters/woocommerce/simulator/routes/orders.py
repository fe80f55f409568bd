"""``orders``, ``orders/{id}``, ``orders/batch``, ``orders/{id}/notes``, ``orders/{id}/refunds``
and ``refunds`` (NOTES 2.1, 3.1, 5.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import orders as ops
from .. import shapes
from ..errors import ApiError
from ..store import ORDER_STATUSES, Order, Refund
from .base import (
    Paging,
    Req,
    Resp,
    as_list,
    bool_param,
    collection_response,
    created,
    date_param,
    enum_list_param,
    enum_param,
    fields_filter,
    ids_param,
    int_param,
    paging,
    route,
)
from .crud import Crud

if TYPE_CHECKING:
    from ..sim import WooSimulator

ORDERBY = ("date", "id", "include", "title", "slug", "modified")
STATUS_FILTER = ("any", *ORDER_STATUSES)
HIDDEN_FROM_ANY = ("trash", "auto-draft")


def _dp(req: Req) -> int:
    value = int_param(req, "dp", 2)
    return 2 if value is None else value


def render(sim: WooSimulator, o: Order, req: Req | None = None) -> dict[str, Any]:
    return shapes.order(sim.ctx, sim.store, o, _dp(req) if req else 2)


def _date_filters(sim: WooSimulator, req: Req) -> list[Callable[[Any], bool]]:
    """after/before on creation, modified_after/modified_before on modification: strict, to the second."""
    gmt = bool_param(req, "dates_are_gmt")
    preds: list[Callable[[Any], bool]] = []
    for name, attr, after in (("after", "created", True), ("before", "created", False),
                              ("modified_after", "modified", True),
                              ("modified_before", "modified", False)):
        value = date_param(req, name)
        if value is None:
            continue
        preds.append(_bound_check(attr, sim.site.filter_bound(value, gmt), after))
    return preds


def _bound_check(attr: str, bound: int, after: bool) -> Callable[[Any], bool]:
    def check(obj: Any) -> bool:
        stamp: int = getattr(obj, attr)
        return stamp > bound if after else stamp < bound

    return check


def _member_check(attr: str, values: set[Any], inside: bool) -> Callable[[Any], bool]:
    def check(obj: Any) -> bool:
        return (getattr(obj, attr) in values) is inside

    return check


def _order_ids(sim: WooSimulator, req: Req, kind: str, orderby: str, desc: bool,
               include: list[int]) -> list[int]:
    store = sim.store
    if orderby == "include" and include:
        ids = [i for i in include if i in getattr(store, kind)]
        return list(reversed(ids)) if desc else ids
    if orderby == "modified":
        return store.sorted_ids(kind, "modified", desc, lambda o: (o.modified, o.id))
    if orderby == "date":
        return store.sorted_ids(kind, "date", desc, lambda o: (o.created, o.id))
    return store.sorted_ids(kind, "id", desc, lambda o: o.id)


def list_orders(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    pg = paging(req)
    desc = enum_param(req, "order", ("asc", "desc"), "desc") == "desc"
    orderby = enum_param(req, "orderby", ORDERBY, "date")
    statuses = enum_list_param(req, "status", STATUS_FILTER, ["any"])
    enum_param(req, "context", ("view", "edit"), "view")
    customer = int_param(req, "customer", None)
    product = int_param(req, "product", None)
    include, exclude = ids_param(req, "include"), ids_param(req, "exclude")
    parents, parent_exclude = ids_param(req, "parent"), ids_param(req, "parent_exclude")
    created_via = as_list(req.query.get("created_via"))
    search = str(req.query.get("search") or "").strip().lower()
    preds = _date_filters(sim, req)
    dp = _dp(req)
    req.authorize()

    if "any" in statuses:
        wanted = {s for s in ORDER_STATUSES if s not in HIDDEN_FROM_ANY} | set(statuses)
        wanted.discard("any")
    else:
        wanted = set(statuses)
    preds.append(lambda o: o.status in wanted)
    if customer is not None:
        preds.append(lambda o: o.customer_id == customer)
    if product is not None:
        preds.append(lambda o: any(li.product_id == product for li in o.line_items))
    for attr, values, inside in (("id", include, True), ("id", exclude, False),
                                 ("parent_id", parents, True), ("parent_id", parent_exclude, False),
                                 ("created_via", created_via, True)):
        if values:
            preds.append(_member_check(attr, set(values), inside))
    if search:
        preds.append(lambda o: _matches(o, search))

    orders = sim.store.orders

    def compute() -> list[Any]:
        ids = _order_ids(sim, req, "orders", orderby, desc, include)
        return [o for o in (orders[i] for i in ids) if all(p(o) for p in preds)]

    matched = sim.store.cached_query(("orders", _query_key(req)), compute)
    items = [fields_filter(req, shapes.order(sim.ctx, sim.store, o, dp))
             for o in pg.window(matched)]
    status_echo = statuses if "status" in req.query else ["any"]
    return collection_response(sim, req, items, len(matched), pg, recount=False,
                               extra_query=[("status", status_echo)],
                               rendered_extra=[("dp", dp), ("context", req.query.get("context",
                                                                                     "view"))])


_NOT_FILTERS = ("page", "offset", "_fields", "context", "dp")


def _query_key(req: Req) -> tuple[tuple[str, str], ...]:
    """Everything that selects or orders rows; paging, rendering and OAuth params do not."""
    return tuple(sorted((k, str(v)) for k, v in req.query.items()
                        if k not in _NOT_FILTERS and not k.startswith("oauth_")))


def _matches(o: Order, term: str) -> bool:
    hay = " ".join([str(o.id), o.billing.get("first_name", ""), o.billing.get("last_name", ""),
                    o.billing.get("email", ""), o.billing.get("company", ""),
                    *(li.name for li in o.line_items)]).lower()
    return term in hay


CRUD = Crud("orders", ops.get, ops.create, ops.update, ops.delete, render,
            render_before_delete=True)


# ---- notes -------------------------------------------------------------------------------------

def list_notes(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    kind = enum_param(req, "type", ("any", "customer", "internal"), "any")
    req.authorize()
    order_id = int(g["id"])
    if order_id not in sim.store.orders:
        raise ApiError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
    notes = [n for n in sim.store.notes.values() if n.order_id == order_id]
    if kind == "customer":
        notes = [n for n in notes if n.customer_note]
    elif kind == "internal":
        notes = [n for n in notes if not n.customer_note]
    notes.sort(key=lambda n: (n.created, n.id), reverse=True)
    return Resp(200, [fields_filter(req, shapes.note(sim.ctx, n)) for n in notes])


def create_note(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    n = ops.add_note(sim.shop, int(g["id"]), req.data())
    return created(shapes.note(sim.ctx, n), f"{sim.ctx.api}/orders/{g['id']}/notes/{n.id}")


def get_note(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    n = ops.order_note(sim.shop, int(g["id"]), int(g["sub"]))
    return Resp(200, shapes.note(sim.ctx, n))


def delete_note(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    n = ops.delete_note(sim.shop, int(g["id"]), int(g["sub"]), bool_param(req, "force"))
    return Resp(200, shapes.note(sim.ctx, n))


# ---- refunds -----------------------------------------------------------------------------------

def _list_refunds(sim: WooSimulator, req: Req, order_id: int | None) -> Resp:
    pg: Paging = paging(req)
    desc = enum_param(req, "order", ("asc", "desc"), "desc") == "desc"
    orderby = enum_param(req, "orderby", ORDERBY, "date")
    include, exclude = ids_param(req, "include"), ids_param(req, "exclude")
    preds = _date_filters(sim, req)
    dp = _dp(req)
    req.authorize()
    if order_id is not None:
        if order_id not in sim.store.orders:
                raise ApiError(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")
        preds.append(lambda r: r.order_id == order_id)
    if include:
        preds.append(lambda r: r.id in include)
    if exclude:
        preds.append(lambda r: r.id not in exclude)

    def key(r: Refund) -> Any:
        return (r.created, r.id) if orderby in ("date", "modified") else r.id

    refunds = sorted((r for r in sim.store.refunds.values()
                      if all(p(_RefundView(r)) for p in preds)), key=key, reverse=desc)
    items = [fields_filter(req, shapes.refund(sim.ctx, r, dp)) for r in pg.window(refunds)]
    return collection_response(sim, req, items, len(refunds), pg, recount=False,
                               rendered_extra=[("dp", dp), ("context", req.query.get("context",
                                                                                     "view"))])


class _RefundView:
    """Refunds have no separate modified stamp; date filters read the creation time."""

    __slots__ = ("created", "id", "modified", "order_id")

    def __init__(self, r: Refund) -> None:
        self.id, self.order_id = r.id, r.order_id
        self.created = self.modified = r.created


def list_order_refunds(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    return _list_refunds(sim, req, int(g["id"]))


def list_all_refunds(sim: WooSimulator, req: Req, _: dict[str, str]) -> Resp:
    return _list_refunds(sim, req, None)


def create_refund(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    r = ops.create_refund(sim.shop, int(g["id"]), req.data())
    return created(shapes.refund(sim.ctx, r, _dp(req)),
                   f"{sim.ctx.api}/orders/{g['id']}/refunds/{r.id}")


def get_refund(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    r = ops.order_refund(sim.shop, int(g["id"]), int(g["sub"]))
    return Resp(200, shapes.refund(sim.ctx, r, _dp(req)))


def delete_refund(sim: WooSimulator, req: Req, g: dict[str, str]) -> Resp:
    r = ops.delete_refund(sim.shop, int(g["id"]), int(g["sub"]))
    return Resp(200, shapes.refund(sim.ctx, r, _dp(req)))


ROUTES = [
    *CRUD.routes(list_orders),
    route(r"orders/(?P<id>\d+)/notes", "GET, POST", "collection", "notes", get=list_notes,
          post=create_note),
    route(r"orders/(?P<id>\d+)/notes/(?P<sub>\d+)", "GET, DELETE", "item", "notes",
          get=get_note, delete=delete_note),
    route(r"orders/(?P<id>\d+)/refunds", "GET, POST", "collection", "refunds",
          get=list_order_refunds, post=create_refund),
    route(r"orders/(?P<id>\d+)/refunds/(?P<sub>\d+)", "GET, DELETE", "item", "refunds",
          get=get_refund, delete=delete_refund),
    route("refunds", "GET", "collection", "refunds", get=list_all_refunds),
]

"""Request/response types and the WordPress REST collection machinery every resource shares:
parameter validation with the exact ``rest_invalid_param`` envelope, ``X-WP-Total*`` headers,
``Link`` prev/next built from the request's own query, ``_fields`` and batches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from ..errors import ApiError, invalid_param
from ..values import is_rfc3339, truthy

if TYPE_CHECKING:
    from ..sim import WooSimulator

BATCH_LIMIT = 100


@dataclass
class Req:
    method: str
    path: str  # route path below /wp-json/wc/v3/, e.g. "orders/13"
    query: dict[str, Any]  # PHP-parsed $_GET: last wins, ``k[]``/``k[n]`` become lists
    query_order: list[str]  # first-appearance order of the $_GET keys, for Link rebuilding
    body: Any = None
    after: list[Callable[[], None]] = field(default_factory=list)
    # Set by the dispatcher: raises the 401 permission error for anonymous callers. Collection
    # handlers call it after validating their params, because WordPress validates first.
    authorize: Callable[[], None] = field(default=lambda: None)

    def param(self, name: str, default: Any = None) -> Any:
        """Body params override query params, like WP_REST_Request for POST/PUT."""
        if isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        return self.query.get(name, default)

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in self.query.items() if not k.startswith("oauth_")}
        if isinstance(self.body, dict):
            out.update(self.body)
        return out


@dataclass
class Resp:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["WooSimulator", Req, dict[str, str]], Resp]


@dataclass
class Route:
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]
    allow: str
    kind: str  # collection | item | batch
    resource: str


def route(regex: str, allow: str, kind: str, resource: str, **handlers: Handler) -> Route:
    return Route(re.compile(f"^{regex}$"), {m.upper(): h for m, h in handlers.items()}, allow,
                 kind, resource)


# ---- parameter validation ----------------------------------------------------------------------

def as_list(value: Any) -> list[str]:
    """Array params arrive comma separated or as PHP arrays."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v for v in (p.strip() for p in str(value).split(",")) if v]


def int_param(req: Req, name: str, default: int | None, minimum: int | None = None,
              maximum: int | None = None) -> int | None:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type") from None
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        msg = f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
        raise invalid_param(name, msg, "rest_out_of_bounds")
    if minimum is not None and value < minimum:
        raise invalid_param(name, f"{name} must be greater than or equal to {minimum}",
                            "rest_out_of_bounds")
    return value


def enum_param(req: Req, name: str, allowed: Sequence[str], default: str) -> str:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    value = str(raw)
    if value not in allowed:
        raise invalid_param(name, f"{name} is not one of {', '.join(allowed)}.", "rest_not_in_enum")
    return value


def enum_list_param(req: Req, name: str, allowed: Sequence[str], default: list[str]) -> list[str]:
    values = as_list(req.query.get(name))
    if not values:
        return default
    for i, v in enumerate(values):
        if v not in allowed:
            raise invalid_param(name, f"{name}[{i}] is not one of {', '.join(allowed)}.",
                                "rest_not_in_enum")
    return values


def date_param(req: Req, name: str) -> str | None:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return None
    if not is_rfc3339(str(raw)):
        raise invalid_param(name, "Invalid date.", "rest_invalid_date")
    return str(raw)


def ids_param(req: Req, name: str) -> list[int]:
    out = []
    for v in as_list(req.query.get(name)):
        try:
            out.append(int(v))
        except ValueError:
            raise invalid_param(name, f"{name}[0] is not of type integer.",
                                "rest_invalid_type") from None
    return out


def bool_param(req: Req, name: str, default: bool = False) -> bool:
    raw = req.param(name)
    return default if raw is None else truthy(raw)


# ---- collections -------------------------------------------------------------------------------

@dataclass
class Paging:
    page: int
    per_page: int
    offset: int | None

    def window(self, items: Sequence[Any]) -> Sequence[Any]:
        start = self.offset if self.offset is not None else (self.page - 1) * self.per_page
        return items[start:start + self.per_page]


def paging(req: Req) -> Paging:
    per_page = int_param(req, "per_page", 10, 1, 100)
    page = int_param(req, "page", 1, 1)
    offset = int_param(req, "offset", None, 0)
    assert per_page is not None and page is not None
    return Paging(page, per_page, offset)


def _php_urlencode(value: str) -> str:
    return quote_plus(value, safe="").replace("~", "%7E")


def _encode_query(items: Iterable[tuple[str, Any]]) -> str:
    parts = []
    for key, value in items:
        if isinstance(value, list):
            for i, v in enumerate(value):
                parts.append(f"{_php_urlencode(key)}%5B{i}%5D={_php_urlencode(str(v))}")
        else:
            parts.append(f"{_php_urlencode(key)}={_php_urlencode(str(value))}")
    return "&".join(parts)


def collection_response(sim: WooSimulator, req: Req, items: list[Any], total: int,
                        pg: Paging, *, recount: bool,
                        extra_query: Sequence[tuple[str, Any]] = (),
                        rendered_extra: Sequence[tuple[str, Any]] = ()) -> Resp:
    """Totals, pages and Link exactly as WP_REST_Controller/WC CRUD controllers emit them.

    ``recount=False`` reproduces the HPOS path: an out-of-range page reports 0/0.
    ``extra_query`` are params the controller writes into the request (``status[0]=any``);
    ``rendered_extra`` are the ones written while rendering items (``dp``, ``context``).
    """
    max_pages = math.ceil(total / pg.per_page) if total else 0
    if not items and pg.page > 1 and not recount:
        total, max_pages = 0, 0
    params: dict[str, Any] = {k: req.query[k] for k in req.query_order if k in req.query}
    for k, v in extra_query:
        params[k] = v
    if items:
        for k, v in rendered_extra:
            params[k] = v
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max_pages)}
    base = f"{sim.ctx.api}/{req.path}"
    links = []
    if pg.page > 1:
        prev_page = min(pg.page - 1, max_pages)
        q = dict(params)
        q["page"] = prev_page
        links.append(f'<{base}?{_encode_query(q.items())}>; rel="prev"')
    if max_pages > pg.page:
        q = dict(params)
        q["page"] = pg.page + 1
        links.append(f'<{base}?{_encode_query(q.items())}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return Resp(200, items, headers)


def fields_filter(req: Req, obj: dict[str, Any]) -> dict[str, Any]:
    """``_fields``: schema order, ``id`` always kept, ``_links`` only when asked for."""
    raw = req.query.get("_fields")
    if not raw:
        return obj
    wanted = as_list(raw)
    top: dict[str, list[str]] = {"id": []}
    for f in wanted:
        head, _, rest = f.partition(".")
        top.setdefault(head, [])
        if rest:
            top[head].append(rest)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key not in top:
            continue
        subs = top[key]
        if subs and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k in subs}
        else:
            out[key] = value
    return out


# ---- batches -----------------------------------------------------------------------------------

def batch(req: Req, create: Callable[[dict[str, Any]], dict[str, Any]],
          update: Callable[[int, dict[str, Any]], dict[str, Any]],
          delete: Callable[[int], dict[str, Any]]) -> Resp:
    """create → update → delete, each item independent; failures become positional errors."""
    body = req.body if isinstance(req.body, dict) else {}
    groups = {k: body.get(k) for k in ("create", "update", "delete")}
    count = sum(len(v) for v in groups.values() if isinstance(v, list))
    if count > BATCH_LIMIT:
        raise ApiError(413, "woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {BATCH_LIMIT} items for this request.")
    out: dict[str, list[Any]] = {}
    if groups["create"]:
        out["create"] = [_item(partial(create, entry if isinstance(entry, dict) else {}), 0)
                         for entry in groups["create"]]
    if groups["update"]:
        results = []
        for entry in groups["update"]:
            fields = entry if isinstance(entry, dict) else {}
            item_id = int(fields.get("id") or 0)
            data = {k: v for k, v in fields.items() if k != "id"}
            results.append(_item(partial(update, item_id, data), item_id))
        out["update"] = results
    if groups["delete"]:
        results = []
        for entry in groups["delete"]:
            item_id = int(entry.get("id") or 0) if isinstance(entry, dict) else int(entry)
            results.append(_item(partial(delete, item_id), item_id))
        out["delete"] = results
    return Resp(200, out)


def _item(fn: Callable[[], dict[str, Any]], item_id: int) -> dict[str, Any]:
    try:
        return fn()
    except ApiError as err:
        return {"id": item_id, "error": {"code": err.code, "message": err.message,
                                         "data": {"status": err.status, **err.data}}}


def created(body: dict[str, Any], location: str) -> Resp:
    return Resp(201, body, {"Location": location})

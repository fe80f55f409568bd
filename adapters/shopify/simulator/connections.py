"""Relay cursor pagination as Shopify does it (NOTES §4.1).

Cursors are base64 JSON ``{"last_id": …, "last_value": …}`` (sort value in epoch ms for
dates); empty pages have null cursors; ``first``/``last`` are required and exclusive
(``BAD_REQUEST``); a page after a cursor reports ``hasPreviousPage: true``.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError

MAX_PAGE = 250


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return int(v.timestamp() * 1000)
    if isinstance(v, Decimal):
        return str(v)
    return v


def encode_cursor(obj_id: int, value: Any) -> str:
    raw = json.dumps({"last_id": obj_id, "last_value": _jsonable(value)}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, Any]:
    try:
        data = json.loads(base64.b64decode(cursor.encode()).decode())
        return int(data["last_id"]), data["last_value"]
    except Exception as exc:  # any malformed cursor is the client's fault
        raise GraphQLError("Invalid cursor for current pagination sort.",
                           extensions={"code": "BAD_REQUEST"}) from exc


def check_window(args: dict[str, Any]) -> None:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    if first is not None and last is not None:
        raise GraphQLError("providing both first and last is not supported",
                           extensions={"code": "BAD_REQUEST"})
    n = first if first is not None else last
    if n is not None and (n < 0 or (n > MAX_PAGE and not args.get("_bulk"))):
        # Exact wording for > 250 is unverified (NOTES §2.1).
        raise GraphQLError(f"The value of first/last must be between 0 and {MAX_PAGE}.",
                           extensions={"code": "BAD_REQUEST"})


def paginate(
    items: Sequence[Any],
    args: dict[str, Any],
    *,
    sort_value: Callable[[Any], Any],
    view: Callable[[Any], Any],
    predicate: Callable[[Any], bool] | None = None,
    start_at: Any = None,
) -> dict[str, Any]:
    """Page through ``items`` (already sorted ascending by (sort_value, id)).

    ``start_at`` is a sort value below which nothing can match (a search lower bound), so
    an incremental pull over a large shop bisects instead of scanning.
    """
    check_window(args)
    reverse = bool(args.get("reverse"))
    first, last = args.get("first"), args.get("last")
    after, before = args.get("after"), args.get("before")
    pred = predicate or (lambda _o: True)

    def key(o: Any) -> tuple[Any, int]:
        return (_jsonable(sort_value(o)), o.id)

    n = len(items)
    if not reverse:
        lo, hi, step = 0, n, 1
        if start_at is not None:
            lo = bisect.bisect_left(items, (_jsonable(start_at), -1), key=key)
        if after:
            lo = max(lo, bisect.bisect_right(items, decode_cursor(after)[::-1], key=key))
        if before:
            hi = bisect.bisect_left(items, decode_cursor(before)[::-1], key=key)
    else:
        lo, hi, step = n - 1, -1, -1
        if after:
            lo = bisect.bisect_left(items, decode_cursor(after)[::-1], key=key) - 1
        if before:
            hi = bisect.bisect_right(items, decode_cursor(before)[::-1], key=key) - 1
        if start_at is not None:
            hi = max(hi, bisect.bisect_left(items, (_jsonable(start_at), -1), key=key) - 1)

    page: list[Any] = []
    more = False
    if first is not None:
        i = lo
        while i != hi:
            o = items[i]
            i += step
            if pred(o):
                if len(page) == first:
                    more = True
                    break
                page.append(o)
        has_next, has_prev = more, bool(after)
    else:
        i = hi - step
        stop = lo - step
        while i != stop:
            o = items[i]
            i -= step
            if pred(o):
                if len(page) == last:
                    more = True
                    break
                page.append(o)
        page.reverse()
        has_next, has_prev = bool(before), more

    edges = []
    nodes = []
    for o in page:
        v = view(o)
        nodes.append(v)
        edges.append({"cursor": encode_cursor(o.id, sort_value(o)), "node": v})
    return {
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def list_connection(items: Sequence[Any], args: dict[str, Any], view: Callable[[Any], Any],
                    sort_value: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Connection over a small in-memory list ordered by id (line items, codes, metafields)."""
    sv = sort_value or (lambda o: str(o.id))
    ordered = sorted(items, key=lambda o: (_jsonable(sv(o)), o.id))
    return paginate(ordered, args, sort_value=sv, view=view)

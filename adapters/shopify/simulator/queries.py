"""Query root fields the simulator answers (everything else resolves to null/error)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from . import views as v
from .connections import list_connection
from .formats import parse_gid
from .mutations import normalize_email, require_gid
from .search import DATE, ENUM, FieldSpec, compile_search
from .store import Store

BULK_SEARCH = {
    "status": FieldSpec(ENUM, lambda b: b.status,
                        frozenset({"CANCELED", "CANCELING", "COMPLETED", "CREATED", "FAILED",
                                   "RUNNING"})),
    "operation_type": FieldSpec(ENUM, lambda b: b.type, frozenset({"QUERY", "MUTATION"})),
    "created_at": FieldSpec(DATE, lambda b: b.created_at),
}


def query_root(ctx: v.Context, bulk: Any, scopes: frozenset[str]) -> dict[str, Any]:
    store: Store = ctx.store

    def customer(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        num = require_gid(a["id"], "Customer")
        c = store.customers.get(num)
        return v.customer_view(store, c) if c else None

    def customer_by_identifier(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        ident = a["identifier"]
        c = None
        if ident.get("id"):
            num = require_gid(ident["id"], "Customer")
            c = store.customers.get(num)
        elif ident.get("emailAddress") is not None:
            c = store.customer_by_email(normalize_email(ident["emailAddress"]))
        elif ident.get("phoneNumber") is not None:
            c = store.customer_by_phone(ident["phoneNumber"].strip())
        elif ident.get("customId") is not None:
            raise GraphQLError("Metafield definition of type 'id' is required when using custom ids.",
                               extensions={"code": "NOT_FOUND"})
        return v.customer_view(store, c) if c else None

    def customers_count(i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        res = v._search(i, a.get("query"), v.CUSTOMER_COUNT_SEARCH, v._customer_text)
        n = sum(1 for c in store.customers.values() if res.predicate(c))
        return v.count_view(n, a.get("limit", 10000))

    def order(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        num = require_gid(a["id"], "Order")
        o = store.orders.get(num)
        return v.order_view(store, o) if o else None

    def orders_count(i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        res = v._search(i, a.get("query"), v.ORDER_SEARCH, v._order_text)
        n = sum(1 for o in store.orders.values() if res.predicate(o))
        return v.count_view(n, a.get("limit", 10000))

    def by_code(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        d = store.discount_by_code(a["code"])
        return v.discount_node_view(store, d) if d else None

    def bulk_operation(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        num = require_gid(a["id"], "BulkOperation")
        return bulk.find(ctx, num)

    def bulk_operations(i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        from .connections import check_window

        check_window(a)
        res = compile_search(a.get("query"), BULK_SEARCH, lambda b: b.query)
        if res.warnings:
            ctx.search.append({"path": list(i.path.as_list()), "query": a.get("query"),
                               "parsed": res.parsed, "warnings": res.warnings})
            items: list[Any] = []
        else:
            items = [b for b in store.bulk_ops.values() if res.predicate(b)]
        return list_connection(items, a, lambda b: v.bulk_view(ctx.base_url, b),
                               sort_value=lambda b: b.created_at)

    def node(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        return _node(a["id"])

    def _node(value: str) -> Any:
        p = parse_gid(value)
        if p and p[0] == "BulkOperation":
            return bulk.find(ctx, p[1])
        return v.node_by_gid(store, value)

    def fulfillment_order(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        num = require_gid(a["id"], "FulfillmentOrder")
        o = store.orders.get(num)
        return v.fulfillment_order_view(store, o) if o else None

    def webhook_subscriptions(_i: GraphQLResolveInfo, a: dict[str, Any]) -> Any:
        subs = list(store.webhooks.values())
        if a.get("topics"):
            subs = [w for w in subs if w.topic in a["topics"]]
        return list_connection(subs, a, lambda w: v.webhook_view(w, ctx.api_version))

    return {
        "shop": lambda _i, _a: v.shop_view(store),
        "customers": lambda i, a: v.customers_connection(i, a, store),
        "customer": customer,
        "customerByIdentifier": customer_by_identifier,
        "customersCount": customers_count,
        "orders": lambda i, a: v.orders_connection(i, a, store),
        "order": order,
        "ordersCount": orders_count,
        "codeDiscountNodeByCode": by_code,
        "codeDiscountNode": lambda _i, a: (lambda d: v.discount_node_view(store, d) if d else None)(
            store.discounts.get(require_gid(a["id"], "DiscountCodeNode"))),
        "bulkOperation": bulk_operation,
        "currentBulkOperation": lambda _i, _a: bulk.current(ctx),
        "bulkOperations": bulk_operations,
        "node": node,
        "nodes": lambda _i, a: [_node(x) for x in a["ids"]],
        "fulfillmentOrder": fulfillment_order,
        "webhookSubscriptions": webhook_subscriptions,
        "publicApiVersions": lambda _i, _a: [
            {"handle": h, "displayName": h, "supported": True} for h in
            ("2025-04", "2025-07", "2025-10", "2026-01", "2026-04")],
        "currentAppInstallation": lambda _i, _a: {
            "id": "gid://shopify/AppInstallation/1",
            "accessScopes": [{"handle": s, "description": s} for s in sorted(scopes)]},
    }

"""Rebuilding parents from bulk JSONL: Shopify's real example file, then order-shaped lines
(grouped, and shuffled as groupObjects:false allows) mapped to domain orders."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.shopify.bulk import grouped_records, orders_bulk_query, staged_records
from adapters.shopify.mapping import map_order
from connector.domain import Money
from connector.errors import MalformedPayload

CAPTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "shopify" / "captures"


def test_real_example_output_rebuilds_one_product_with_three_children() -> None:
    lines = (CAPTURES / "2026-04__bulk-operations__example-output.jsonl").read_bytes().splitlines()
    (product,) = list(grouped_records(lines, {}))
    assert product["id"] == "gid://shopify/Product/10243914727730"
    assert [v["sku"] for v in product["productVariants"]["nodes"]] == ["bulk-variant-bulk-root-mrrsb7hi-1xi0i"]
    assert product["mediaImages"]["nodes"][0]["mediaContentType"] == "IMAGE"
    assert product["metafields"]["nodes"][0]["namespace"] == "custom"
    assert "__parentId" not in product["metafields"]["nodes"][0]
    # Same answer through the disk-staged path.
    assert list(staged_records(lines, {})) == [product]


def bag(v: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": v, "currencyCode": "EUR"}}


def order_lines(n: int) -> list[str]:
    """n orders; order k has k+1 lines of 10.0 EUR each and one shipping line of 4.9."""
    out = []
    for k in range(n):
        gid = f"gid://shopify/Order/{1000 + k}"
        out.append(json.dumps({
            "id": gid, "name": f"#{1000 + k}", "email": f"c{k}@example.com",
            "createdAt": "2026-01-01T10:00:00Z", "updatedAt": f"2026-01-0{1 + k % 9}T10:00:00Z",
            "displayFinancialStatus": "PAID", "displayFulfillmentStatus": "UNFULFILLED",
            "currencyCode": "EUR", "taxesIncluded": False, "discountCodes": [], "customer": None,
            "totalPriceSet": bag(str(Decimal("10.0") * (k + 1) + Decimal("4.9"))),
            "refunds": [], "fulfillments": [],
        }))
        for j in range(k + 1):
            out.append(json.dumps({
                "__typename": "LineItem", "id": f"gid://shopify/LineItem/{1000 * k + j}", "sku": f"S{j}",
                "name": "x", "quantity": 1, "isGiftCard": False, "originalTotalSet": bag("10.0"),
                "taxLines": [], "discountAllocations": [], "__parentId": gid,
            }))
        out.append(json.dumps({
            "__typename": "ShippingLine", "id": None, "title": "Std", "code": "STD",
            "discountedPriceSet": bag("4.9"), "taxLines": [], "discountAllocations": [], "__parentId": gid,
        }))
    return out


def test_grouped_orders_map_with_all_their_children() -> None:
    orders = [map_order(r, "eu") for r in grouped_records(order_lines(4))]
    assert [len(o.lines) for o in orders] == [1, 2, 3, 4]
    # Order 3 (k=3): 4 lines × 10.0 = 40.0 merchandise; 4.9 shipping; total 44.9.
    assert orders[3].merchandise_after_discounts == Money(Decimal("40"), "EUR")
    assert orders[3].shipping_lines[0].total == Money(Decimal("4.9"), "EUR")
    assert orders[3].total == Money(Decimal("44.9"), "EUR")


def test_shuffled_lines_are_rebuilt_through_the_stage(tmp_path: Path) -> None:
    lines = order_lines(6)
    random.Random(7).shuffle(lines)
    records = list(staged_records([ln.encode() for ln in lines], workdir=tmp_path))
    assert sorted(len(r["lineItems"]["nodes"]) for r in records) == [1, 2, 3, 4, 5, 6]
    assert all(len(r["shippingLines"]["nodes"]) == 1 for r in records)
    assert list(tmp_path.iterdir()) == []  # staging file removed afterwards


def test_grouped_reader_refuses_ungrouped_output() -> None:
    lines = order_lines(2)
    lines.append(lines.pop(1))  # a child of the first order arrives after the second order
    with pytest.raises(MalformedPayload) as info:
        list(grouped_records(lines))
    assert info.value.reference == "shopify-bulk-not-grouped"


def test_bulk_query_filter_is_inserted_as_a_graphql_string() -> None:
    with_filter = orders_bulk_query("updated_at:>='2026-01-01T00:00:00Z'")
    assert """orders(query: "updated_at:>='2026-01-01T00:00:00Z'", sortKey: UPDATED_AT)""" in with_filter
    assert "orders(sortKey: UPDATED_AT)" in orders_bulk_query(None)
    assert "VINCULO_FILTER" not in with_filter

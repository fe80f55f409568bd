"""Cursor paginator: follows endCursor, stops on hasNextPage false, refuses loops."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.shopify.pagination import CursorPaginator, paginate
from connector.errors import MalformedPayload


def pages(*infos: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"nodes": [i], "pageInfo": info} for i, info in enumerate(infos)]


def test_follows_cursors_to_the_end() -> None:
    script = pages({"hasNextPage": True, "endCursor": "c1"}, {"hasNextPage": True, "endCursor": "c2"},
                   {"hasNextPage": False, "endCursor": "c3"})
    asked: list[str | None] = []

    def fetch(after: str | None) -> dict[str, Any]:
        asked.append(after)
        return script[len(asked) - 1]

    got = list(paginate(fetch, what="orders"))
    assert asked == [None, "c1", "c2"]
    assert [c["nodes"] for c in got] == [[0], [1], [2]]


def test_empty_page_with_null_cursors_ends() -> None:
    # Shopify's empty page: hasNextPage false, endCursor null (NOTES §4.1).
    assert len(list(paginate(lambda _: {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}},
                             what="customers"))) == 1


def test_repeated_cursor_is_a_loop() -> None:
    with pytest.raises(MalformedPayload) as info:
        list(paginate(lambda _: {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "same"}},
                      what="orders"))
    assert info.value.reference == "shopify-pagination-loop"


def test_more_without_cursor_is_refused() -> None:
    p = CursorPaginator(what="orders")
    with pytest.raises(MalformedPayload):
        p.advance({"hasNextPage": True, "endCursor": None})


def test_page_cap() -> None:
    counter = iter(range(100))
    with pytest.raises(MalformedPayload) as info:
        list(paginate(lambda _: {"pageInfo": {"hasNextPage": True, "endCursor": f"c{next(counter)}"}},
                      what="orders", max_pages=3))
    assert info.value.reference == "shopify-pagination-runaway"

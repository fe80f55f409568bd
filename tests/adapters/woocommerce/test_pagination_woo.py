"""Page-number paginator: stop rules from NOTES §2.4 and the loop guard (STYLE §1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.woocommerce.client import has_next_link
from adapters.woocommerce.pagination import PageNumberPaginator
from connector.errors import PlatformUnavailable

RECORDED = Path(__file__).resolve().parents[3] / ".." / "shared" / "woocommerce" / "recorded"


def recorded(name: str) -> dict[str, object]:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_walks_the_recorded_three_pages() -> None:
    # 5 orders at per_page=2: pages 1 and 2 full with a next link, page 3 would be short.
    p = PageNumberPaginator(per_page=2)
    for name in ("orders-list-page1.json", "orders-list-page2.json"):
        rec = recorded(name)
        headers = rec["headers"]
        assert isinstance(headers, dict)
        body = rec["body"]
        assert isinstance(body, list)
        p.advance(count=len(body), ids=[o["id"] for o in body], total_pages=int(headers["X-WP-TotalPages"]),
                  has_next=has_next_link(headers["Link"]))
    assert (p.page, p.finished) == (3, False)
    p.advance(count=1, ids=[17], total_pages=3)
    assert p.finished and p.page == 3


def test_short_page_stops() -> None:
    p = PageNumberPaginator(per_page=100)
    p.advance(count=37, ids=range(37), total_pages=5)  # totals say more; a short page wins
    assert p.finished


def test_empty_page_beyond_the_end_stops_and_its_zero_totals_are_ignored() -> None:
    rec = recorded("orders-list-beyond-last-page.json")
    p = PageNumberPaginator(per_page=2, page=99)
    p.advance(count=len(rec["body"]), total_pages=0)  # type: ignore[arg-type]
    assert p.finished


def test_full_last_page_stops_without_an_extra_call() -> None:
    p = PageNumberPaginator(per_page=100)
    for _ in range(99):
        p.advance(count=100, ids=[p.page], total_pages=100, has_next=True)
    assert p.page == 100
    p.advance(count=100, ids=[100], total_pages=100, has_next=False)
    assert p.finished and p.page == 100


def test_rows_appended_during_the_walk_are_followed_via_the_next_hint() -> None:
    p = PageNumberPaginator(per_page=100)
    p.advance(count=100, ids=[1], total_pages=1, has_next=True)  # stale total, but Link says more
    assert not p.finished and p.page == 2


def test_repeated_page_raises_instead_of_looping() -> None:
    p = PageNumberPaginator(per_page=2)
    p.advance(count=2, ids=[13, 14], has_next=True)
    with pytest.raises(PlatformUnavailable) as err:
        p.advance(count=2, ids=[13, 14], has_next=True)
    assert err.value.reference == "woo-pagination-loop" and err.value.hint


def test_hard_ceiling() -> None:
    p = PageNumberPaginator(per_page=1, max_pages=3)
    p.advance(count=1, ids=[1], has_next=True)
    p.advance(count=1, ids=[2], has_next=True)
    with pytest.raises(PlatformUnavailable):
        p.advance(count=1, ids=[3], has_next=True)


def test_refuses_configs_the_store_refuses() -> None:
    with pytest.raises(ValueError):
        PageNumberPaginator(per_page=101)
    with pytest.raises(ValueError):
        PageNumberPaginator(per_page=0)
    p = PageNumberPaginator(per_page=10)
    p.advance(count=0)
    with pytest.raises(RuntimeError):
        p.advance(count=0)

"""Cursor pagination over Relay connections (``pageInfo { hasNextPage endCursor }``).

Cursors are opaque (base64 JSON on Shopify): never built or parsed here, only passed back as
``after``. A server that says "more" without a cursor, or hands back a cursor already seen, would
make a naive loop spin forever, so the paginator refuses both (the Singer SDK loop guard).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from connector.errors import MalformedPayload


class CursorPaginator:
    """Tracks the cursor of one connection walk; raises instead of looping."""

    def __init__(self, *, what: str, max_pages: int | None = None) -> None:
        self.what = what
        self.max_pages = max_pages
        self.cursor: str | None = None
        self.pages = 0
        self.finished = False
        self._seen: set[str] = set()

    def advance(self, page_info: Mapping[str, Any] | None) -> None:
        """Record a page; afterwards ``finished`` or ``cursor`` says what to ask next."""
        self.pages += 1
        info = page_info or {}
        if not info.get("hasNextPage"):
            self.finished = True
            return
        end = info.get("endCursor")
        if not isinstance(end, str) or not end:
            raise MalformedPayload(
                f"{self.what}: hasNextPage without an endCursor", reference="shopify-pagination-broken",
                platform="shopify", obj=self.what,
            )
        if end in self._seen:
            raise MalformedPayload(
                f"{self.what}: cursor repeated after {self.pages} pages", reference="shopify-pagination-loop",
                platform="shopify", obj=self.what,
            )
        if self.max_pages is not None and self.pages >= self.max_pages:
            raise MalformedPayload(
                f"{self.what}: more than {self.max_pages} pages", reference="shopify-pagination-runaway",
                platform="shopify", obj=self.what,
            )
        self._seen.add(end)
        self.cursor = end


def paginate(
    fetch: Callable[[str | None], Mapping[str, Any]], *, what: str, max_pages: int | None = None
) -> Iterator[Mapping[str, Any]]:
    """Yield each connection object ``fetch(after)`` returns until ``hasNextPage`` is false."""
    paginator = CursorPaginator(what=what, max_pages=max_pages)
    while not paginator.finished:
        connection = fetch(paginator.cursor)
        yield connection
        paginator.advance(connection.get("pageInfo"))

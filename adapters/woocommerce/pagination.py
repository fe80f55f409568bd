"""Page-number pagination for WooCommerce collections, built by us, never from ``Link``.

The store's ``rel="next"`` URL repeats the previous request's OAuth nonce and signature (or the
secret, in query-string mode): fetched as is it fails and it leaks credentials. So the paginator
only counts pages and treats ``Link`` as a "there is more" hint (NOTES §2.3).

Stop rules, in order (NOTES §2.4): a page shorter than ``per_page`` ends the walk; an empty
page ends it and its totals are ignored (HPOS reports 0/0 beyond the last page); a full page at
or past ``X-WP-TotalPages`` ends it unless ``Link`` says there is more (rows modified during
the walk move to its end). A page repeating the previous page's ids, or a walk longer than a
hard ceiling, raises instead of looping: that is a host answering every page the same (a page
cache, a proxy dropping the query string).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from connector.errors import PlatformUnavailable

MAX_PER_PAGE = 100
HARD_PAGE_LIMIT = 100_000  # 10 million records at 100 a page: beyond that something loops


@dataclass(slots=True)
class PageNumberPaginator:
    per_page: int = MAX_PER_PAGE
    page: int = 1
    finished: bool = False
    max_pages: int = HARD_PAGE_LIMIT
    obj: str = ""
    _last_ids: tuple[object, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1..{MAX_PER_PAGE} (the store refuses others), got {self.per_page}")
        if self.page < 1:
            raise ValueError("page numbers start at 1")

    def advance(
        self,
        *,
        count: int,
        ids: Sequence[object] = (),
        total_pages: int | None = None,
        has_next: bool = False,
    ) -> None:
        """Record what the current page returned and move to the next page or finish."""
        if self.finished:
            raise RuntimeError("paginator already finished")
        current = tuple(ids)
        if current and current == self._last_ids:
            raise PlatformUnavailable(
                f"page {self.page} repeated the ids of page {self.page - 1}",
                reference="woo-pagination-loop",
                platform="woo",
                obj=self.obj or None,
                hint="a page cache or proxy ignores the `page` parameter; exclude /wp-json/ from caching",
            )
        self._last_ids = current
        if count < self.per_page:
            self.finished = True
            return
        if total_pages is not None and self.page >= total_pages and not has_next:
            self.finished = True
            return
        if self.page >= self.max_pages:
            raise PlatformUnavailable(
                f"more than {self.max_pages} pages; stopping to avoid an endless walk",
                reference="woo-pagination-loop",
                platform="woo",
                obj=self.obj or None,
                hint="the store keeps reporting more pages; check for a looping proxy or cache",
            )
        self.page += 1

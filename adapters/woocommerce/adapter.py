"""``WooCommerceAdapter``: the WooCommerce store behind ``connector.ports.StoreAdapter``.

Reads are shaped to cost as few calls as the API allows (NOTES §2–§3):

* orders: ``modified_after=<since − overlap>`` (UTC, no offset, ``dates_are_gmt=true``), ascending
  by modification, 100 a page, until a short page or ``X-WP-TotalPages``. Full refund objects are
  needed only for orders whose ``refunds[]`` summary is non-empty; a multi-page walk first reads
  the window's refunds from ``GET refunds`` (⌈refunds/100⌉ calls), and any refund still missing
  is fetched per page with ``refunds?include=…`` — never one call per order.
* customers: the API has no modification filter, so :meth:`pull_customers` is always a full sweep
  (``incremental_customers = False`` tells the engine to run it on its own schedule) and
  :meth:`get_customers` reads the customers of changed orders in one ``include=`` call.

Writes are idempotent by lookup: coupons by code (and our ``vinculo_perk_key`` meta), customers by
the store's own e-mail uniqueness, loyalty meta by comparing before writing (echo suppression),
order completion by status and note text. WooCommerce has no customer tags, so a tier tag is the
``vinculo_tier_tag`` meta key (beside the balance's ``vinculo_tier``, the tier's name), and there is
no phone filter, so :meth:`find_customer` uses e-mail only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import requests

from connector.domain import (
    Customer,
    Fulfilment,
    IssueCoupon,
    Order,
    PublishLoyalty,
    SetTier,
    normalise_email,
    platform_id,
    split_platform_id,
    utc,
)
from connector.errors import (
    AlreadyExists,
    DataError,
    InvalidValue,
    MalformedPayload,
    NotFound,
    PlatformUnavailable,
    RejectedError,
    VinculoError,
    WriteRejected,
)
from connector.ports import CustomerWrite, Page, Rejected, StoreInfo, WriteResult

from . import mapping
from .client import PLATFORM, WooClient, WooResponse
from .mapping import TIER_TAG_KEY
from .pagination import MAX_PER_PAGE, PageNumberPaginator
from .webhooks import Ping, WebhookHint, parse_delivery

log = logging.getLogger(__name__)

SKIPPED_STATUSES = frozenset({"checkout-draft", "trash", "auto-draft"})  # carts and bins, not orders
NOTE_MARKER = "Vínculo: shipped"


@dataclass(slots=True)
class _Run:
    """State of one pull_orders walk: refunds already read, and what was already yielded."""

    refunds: dict[int, Any]
    seen: set[tuple[object, str]]


class WooCommerceAdapter:
    """One WooCommerce store. ``calls`` counts HTTP attempts (retries included)."""

    platform = PLATFORM
    incremental_customers = False  # no modified filter on customers: the engine sweeps daily

    def __init__(
        self,
        *,
        store: str,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        auth: Literal["auto", "oauth1", "basic", "query"] = "auto",
        timeout: tuple[float, float] = (5, 30),
        batch_timeout: float = 120,
        max_retries: int = 5,
        requests_per_second: float | None = None,
        per_page: int = 100,
        overlap: timedelta = timedelta(minutes=10),
        webhook_secret: str | None = None,
        verify_ssl: bool = True,
        batch_size: int = 50,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1..{MAX_PER_PAGE}")
        if not 1 <= batch_size <= 100:
            raise ValueError("batch_size must be 1..100 (the store refuses larger batches)")
        self.store = store
        self.per_page = per_page
        self.overlap = overlap
        self.batch_size = batch_size
        self.webhook_secret = webhook_secret
        self.client = WooClient(
            url=url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            auth=auth,
            timeout=timeout,
            batch_timeout=batch_timeout,
            max_retries=max_retries,
            requests_per_second=requests_per_second,
            verify_ssl=verify_ssl,
            store=store,
            session=session,
            sleep=sleep,
        )
        self.currency: str | None = None  # learnt from check() or the orders read

    def __repr__(self) -> str:
        return f"WooCommerceAdapter(store={self.store!r}, url={self.client.base_url!r})"

    @property
    def calls(self) -> int:
        return self.client.calls

    # --- ids ----------------------------------------------------------------------------------

    def _pid(self, local: object) -> str:
        return platform_id(PLATFORM, self.store, local)

    def _local_id(self, ref: str, *, what: str) -> int:
        """``woo:<store>:<n>`` (or a bare ``n``) → n; another store's id is refused, not guessed."""
        local = ref
        if ":" in ref:
            platform, store, local = split_platform_id(ref)
            if platform != PLATFORM or store != self.store:
                raise InvalidValue(
                    f"{what} {ref!r} belongs to {platform}:{store}, not {PLATFORM}:{self.store}",
                    reference="platform-id-foreign",
                    platform=PLATFORM,
                    obj=ref,
                    hint="the command was routed to the wrong store",
                )
        if not local.isdigit():
            raise InvalidValue(f"{what} {ref!r} is not a WooCommerce id", reference="platform-id-invalid",
                               platform=PLATFORM, obj=ref)
        return int(local)

    # --- check --------------------------------------------------------------------------------

    def check(self) -> StoreInfo:
        """One cheap authenticated read: proves URL, auth mode and read permission."""
        resp = self.client.get("orders", {"per_page": 1, "_fields": "id,currency"})
        rows = resp.data if isinstance(resp.data, list) else []
        currency = rows[0].get("currency") if rows and isinstance(rows[0], Mapping) else None
        if isinstance(currency, str):
            self.currency = currency
        return StoreInfo(
            platform=PLATFORM,
            store=self.store,
            name=self.client.base_url,
            currency=self.currency,
            details={"auth": self.client.auth, "orders": resp.total},
        )

    # --- collection walking -------------------------------------------------------------------

    def _walk(self, endpoint: str, params: Mapping[str, object]) -> Iterator[tuple[list[Any], WooResponse]]:
        paginator = PageNumberPaginator(per_page=int(str(params.get("per_page", self.per_page))), obj=endpoint)
        while not paginator.finished:
            resp = self.client.get(endpoint, {**params, "page": paginator.page})
            if not isinstance(resp.data, list):
                raise MalformedPayload(
                    f"{endpoint} page {paginator.page} is {type(resp.data).__name__}, expected a list",
                    reference="woo-shape-invalid",
                    platform=PLATFORM,
                    obj=endpoint,
                )
            rows = resp.data
            ids = [r.get("id") for r in rows if isinstance(r, Mapping)]
            paginator.advance(count=len(rows), ids=ids, total_pages=resp.total_pages, has_next=resp.has_next)
            yield rows, resp

    # --- orders -------------------------------------------------------------------------------

    def _window(self, since: datetime | None) -> dict[str, object]:
        params: dict[str, object] = {
            "orderby": "modified",
            "order": "asc",
            "per_page": self.per_page,
            "status": "any",
        }
        if since is not None:
            params["modified_after"] = utc(since, what="since") - self.overlap
            params["dates_are_gmt"] = "true"
        return params

    def pull_orders(self, since: datetime | None) -> Iterator[Page[Order]]:
        """Walk the window by page number. An order modified while we page moves to the end of
        the ascending walk, and every row behind it shifts back one place: the row that slides
        over a page boundary would be skipped. Rows never leave the window (modification times
        only grow), so fewer distinct ids than the store's last ``X-WP-Total`` proves a skip; the
        window is then walked once more and the (id, date_modified) dedupe yields only what was
        missed."""
        window = self._window(since)
        run = _Run(refunds={}, seen=set())
        for attempt in range(2):
            ids: set[object] = set()
            last_total: int | None = None
            first = True
            for rows, resp in self._walk("orders", window):
                if first and attempt == 0 and (resp.total_pages or 0) > 1:
                    # Many pages: one walk over the window's refunds beats an include= call per page.
                    self._prefetch_refunds(window, run)
                first = False
                if rows:
                    last_total = resp.total
                ids.update(r.get("id") for r in rows if isinstance(r, Mapping))
                page = self._orders_page(rows, run)
                if page.items or page.rejected or attempt == 0:
                    yield page
            if last_total is None or len(ids) >= last_total:
                return
            log.warning(
                "store %s: %d orders in the window but %d seen (rows shifted while paging); walking again",
                self.store, last_total, len(ids),
            )

    def _prefetch_refunds(self, window: Mapping[str, object], run: _Run) -> None:
        params: dict[str, object] = {"per_page": MAX_PER_PAGE, "orderby": "id", "order": "asc"}
        if "modified_after" in window:
            params["modified_after"] = window["modified_after"]
            params["dates_are_gmt"] = "true"
        try:
            for rows, _ in self._walk("refunds", params):
                for r in rows:
                    if isinstance(r, Mapping) and isinstance(r.get("id"), int):
                        run.refunds[r["id"]] = r
        except NotFound:
            return  # a store without the /refunds route: per-order fallback below
        except VinculoError as exc:
            if exc.reference not in ("woo-route-missing", "woo-api-not-found"):
                raise

    def _fill_refunds(self, rows: Sequence[Any], run: _Run) -> None:
        missing = sorted({rid for r in rows for rid in mapping.refund_ids(r)} - run.refunds.keys())
        if not missing:
            return
        try:
            for start in range(0, len(missing), MAX_PER_PAGE):
                chunk = missing[start:start + MAX_PER_PAGE]
                resp = self.client.get("refunds", {"include": chunk, "per_page": MAX_PER_PAGE})
                for r in resp.data if isinstance(resp.data, list) else ():
                    if isinstance(r, Mapping) and isinstance(r.get("id"), int):
                        run.refunds[r["id"]] = r
        except VinculoError as exc:
            if exc.reference not in ("woo-route-missing", "woo-api-not-found"):
                raise
            for r in rows:  # older stores: no /refunds collection, read per order
                if set(mapping.refund_ids(r)) - run.refunds.keys():
                    for refund in self._order_refunds(r["id"]):
                        run.refunds[refund["id"]] = refund

    def _order_refunds(self, order_local: int) -> list[Any]:
        resp = self.client.get(f"orders/{order_local}/refunds", {"per_page": MAX_PER_PAGE})
        return [r for r in (resp.data if isinstance(resp.data, list) else ()) if isinstance(r, Mapping)]

    def _orders_page(self, rows: Sequence[Any], run: _Run) -> Page[Order]:
        self._fill_refunds(rows, run)
        items: list[Order] = []
        rejected: list[Rejected] = []
        high_water: datetime | None = None
        for raw in rows:
            stamp = _modified(raw)
            if stamp is not None and (high_water is None or stamp > high_water):
                high_water = stamp
            if not isinstance(raw, Mapping):
                rejected.append(Rejected(self._pid("?"), MalformedPayload(
                    "order is not an object", reference="woo-shape-invalid", platform=PLATFORM), raw))
                continue
            if raw.get("status") in SKIPPED_STATUSES:
                continue
            key = (raw.get("id"), str(raw.get("date_modified_gmt")))
            if key in run.seen:
                continue  # moved to the end of the walk while we paged, already yielded
            run.seen.add(key)
            source = self._pid(raw.get("id"))
            try:
                refunds = [run.refunds[i] for i in mapping.refund_ids(raw) if i in run.refunds]
                missing = set(mapping.refund_ids(raw)) - run.refunds.keys()
                if missing:
                    raise NotFound(
                        f"refunds {sorted(missing)} of the order could not be read",
                        reference="woo-refund-missing",
                        platform=PLATFORM,
                        obj=source,
                        hint="retry the order; the refund may have been deleted while syncing",
                    )
                order = mapping.order_from_woo(self.store, raw, refunds)
            except (DataError, RejectedError) as err:
                rejected.append(Rejected(source=source, error=err, payload=raw))
                continue
            self.currency = self.currency or order.currency
            items.append(order)
        return Page(items=items, rejected=rejected, high_water=high_water)

    def get_order(self, order_id: str) -> Order | None:
        local = self._local_id(order_id, what="order id")
        try:
            raw = self.client.get(f"orders/{local}").data
        except NotFound:
            return None
        if not isinstance(raw, Mapping):
            raise MalformedPayload("order answer is not an object", reference="woo-shape-invalid",
                                   platform=PLATFORM, obj=self._pid(local))
        refunds = self._order_refunds(local) if mapping.refund_ids(raw) else []
        return mapping.order_from_woo(self.store, raw, refunds)

    # --- customers ------------------------------------------------------------------------------

    def _customers_page(self, rows: Iterable[Any]) -> Page[Customer]:
        items: list[Customer] = []
        rejected: list[Rejected] = []
        high_water: datetime | None = None
        for raw in rows:
            stamp = _modified(raw)
            if stamp is not None and (high_water is None or stamp > high_water):
                high_water = stamp
            try:
                items.append(mapping.customer_from_woo(self.store, raw))
            except DataError as err:
                source = self._pid(raw.get("id") if isinstance(raw, Mapping) else "?")
                rejected.append(Rejected(source=source, error=err, payload=raw))
        return Page(items=items, rejected=rejected, high_water=high_water)

    def pull_customers(self, since: datetime | None) -> Iterator[Page[Customer]]:
        """Always the full sweep: ``GET customers`` cannot filter by modification (NOTES §3.2)
        and its default ``role=customer`` would hide shoppers with other roles."""
        params = {"orderby": "id", "order": "asc", "role": "all", "per_page": self.per_page}
        for rows, _ in self._walk("customers", params):
            yield self._customers_page(rows)

    def get_customers(self, customer_ids: Sequence[str]) -> list[Customer]:
        """The named customers in ⌈n/100⌉ calls (the engine's read of a changed order's buyer).
        Records that fail mapping are left to the sweep, which quarantines them."""
        locals_ = sorted({self._local_id(c, what="customer id") for c in customer_ids})
        found: list[Customer] = []
        for start in range(0, len(locals_), MAX_PER_PAGE):
            chunk = locals_[start:start + MAX_PER_PAGE]
            resp = self.client.get(
                "customers",
                {"include": chunk, "role": "all", "per_page": MAX_PER_PAGE, "orderby": "id", "order": "asc"},
            )
            page = self._customers_page(resp.data if isinstance(resp.data, list) else ())
            for r in page.rejected:
                log.warning("customer %s not mapped: %s", r.source, r.error)
            found.extend(page.items)
        return found

    def _customer_by_email(self, email: str) -> Mapping[str, Any] | None:
        resp = self.client.get("customers", {"email": email, "role": "all", "per_page": 2})
        rows = resp.data if isinstance(resp.data, list) else []
        return rows[0] if rows and isinstance(rows[0], Mapping) else None

    def find_customer(self, email: str | None, phone: str | None) -> Customer | None:
        """By exact e-mail only: WooCommerce cannot filter customers by phone, and a full scan per
        lookup would be far too expensive; phone matching happens in the engine's identity table."""
        key = normalise_email(email)
        if key is None:
            return None
        raw = self._customer_by_email(key)
        return mapping.customer_from_woo(self.store, raw) if raw is not None else None

    def upsert_customers(self, writes: Sequence[CustomerWrite]) -> list[WriteResult]:
        """Batches of ``batch_size``. A create whose e-mail already has an account (the store's
        uniqueness check is our match-by-e-mail) is looked up and sent again as an update, so a
        retried batch never makes a second account. Per-item errors come back positionally."""
        results: list[WriteResult | None] = [None] * len(writes)
        pending: list[tuple[int, str, dict[str, Any]]] = []
        for i, write in enumerate(writes):
            try:
                if write.target_id:
                    body = {"id": self._local_id(write.target_id, what="customer id"),
                            **mapping.customer_to_woo(write.customer, for_create=False)}
                    pending.append((i, "update", body))
                else:
                    pending.append((i, "create", mapping.customer_to_woo(write.customer, for_create=True)))
            except (DataError, RejectedError) as err:
                results[i] = WriteResult(key=write.key, error=err)

        retry_as_update: list[tuple[int, str, dict[str, Any]]] = []
        for chunk_start in range(0, len(pending), self.batch_size):
            chunk = pending[chunk_start:chunk_start + self.batch_size]
            for i, kind, raw, error in self._batch("customers/batch", chunk):
                write = writes[i]
                if error is None:
                    results[i] = WriteResult(key=write.key, platform_id=self._pid(raw.get("id")),
                                             created=kind == "create", payload=raw)
                elif kind == "create" and isinstance(error, AlreadyExists):
                    body = dict(chunk_body(chunk, i))
                    existing = self._customer_by_email(str(body["email"]).strip().lower())
                    if existing is None:
                        results[i] = WriteResult(key=write.key, error=error)
                    else:
                        retry_as_update.append((i, "update", {"id": existing["id"], **body}))
                else:
                    results[i] = WriteResult(key=write.key, error=error)
        for chunk_start in range(0, len(retry_as_update), self.batch_size):
            chunk = retry_as_update[chunk_start:chunk_start + self.batch_size]
            for i, _kind, raw, error in self._batch("customers/batch", chunk):
                write = writes[i]
                results[i] = (
                    WriteResult(key=write.key, error=error)
                    if error is not None
                    else WriteResult(key=write.key, platform_id=self._pid(raw.get("id")), created=False, payload=raw)
                )
        return [r if r is not None else WriteResult(key=w.key, error=MalformedPayload(
            "no result for this write", reference="woo-batch-result-missing", platform=PLATFORM, obj=w.key))
            for w, r in zip(writes, results, strict=True)]

    def _batch(
        self, endpoint: str, chunk: Sequence[tuple[int, str, dict[str, Any]]]
    ) -> Iterator[tuple[int, str, Mapping[str, Any], VinculoError | None]]:
        """One batch call; results matched to requests by position (creates carry no reference).
        A 413 splits the chunk in halves. Safe to retry: updates are by id and a repeated create
        fails on the e-mail uniqueness check instead of duplicating."""
        creates = [(i, b) for i, kind, b in chunk if kind == "create"]
        updates = [(i, b) for i, kind, b in chunk if kind == "update"]
        body: dict[str, Any] = {}
        if creates:
            body["create"] = [b for _, b in creates]
        if updates:
            body["update"] = [b for _, b in updates]
        try:
            resp = self.client.batch(endpoint, body, idempotent=True)
        except WriteRejected as exc:
            if exc.reference == "woo-batch-too-large" and len(chunk) > 1:
                half = len(chunk) // 2
                yield from self._batch(endpoint, chunk[:half])
                yield from self._batch(endpoint, chunk[half:])
                return
            for i, kind, _ in chunk:  # the whole batch was refused: each write carries why
                yield i, kind, {}, exc
            return
        data = resp.data if isinstance(resp.data, Mapping) else {}
        for kind, sent in (("create", creates), ("update", updates)):
            answers = data.get(kind)
            if not isinstance(answers, list) or len(answers) != len(sent):
                for i, _ in sent:
                    yield i, kind, {}, MalformedPayload(
                        f"batch {kind} answer has {len(answers) if isinstance(answers, list) else 'no'} "
                        f"items for {len(sent)} sent",
                        reference="woo-batch-result-missing",
                        platform=PLATFORM,
                        obj=endpoint,
                        hint="state unknown: the record is re-read on the next sync",
                    )
                continue
            for (i, _), answer in zip(sent, answers, strict=True):
                if isinstance(answer, Mapping) and isinstance(answer.get("error"), Mapping):
                    err = answer["error"]
                    status = err.get("data", {}).get("status", 400) if isinstance(err.get("data"), Mapping) else 400
                    yield i, kind, answer, self.client.error_for(int(status), err, obj=f"{endpoint} {kind}")
                elif isinstance(answer, Mapping):
                    yield i, kind, answer, None
                else:
                    yield i, kind, {}, MalformedPayload("batch item is not an object",
                                                        reference="woo-shape-invalid", platform=PLATFORM)

    # --- coupons --------------------------------------------------------------------------------

    def _coupon_by_code(self, code: str) -> Mapping[str, Any] | None:
        resp = self.client.get("coupons", {"code": code, "per_page": 2})
        rows = resp.data if isinstance(resp.data, list) else []
        for row in rows:
            if isinstance(row, Mapping) and str(row.get("code", "")).lower() == code:
                return row
        return None

    def _coupon_result(self, command: IssueCoupon, coupon: Mapping[str, Any], *, created: bool) -> WriteResult:
        owner = mapping.coupon_perk_key(coupon)
        if owner != command.key:
            return WriteResult(
                key=command.key,
                error=AlreadyExists(
                    f"coupon code {coupon.get('code')!r} exists but belongs to "
                    f"{'another perk' if owner else 'no Vínculo perk'}",
                    reference="woo-coupon-code-taken",
                    platform=PLATFORM,
                    obj=self._pid(coupon.get("id")),
                    hint="a merchant or another program made this code; change the code prefix for the program",
                ),
            )
        return WriteResult(key=command.key, platform_id=self._pid(coupon.get("id")), created=created, payload=coupon)

    def ensure_coupon(self, command: IssueCoupon, customer_ref: str) -> WriteResult:
        """GET by code, then POST. A POST is never retried blind: a timeout or a
        ``coupon_code_already_exists`` is answered by reading the code again."""
        code = command.code.strip().lower()
        try:
            body = mapping.coupon_to_woo(command)
            self._check_currency(command)
        except DataError as err:
            return WriteResult(key=command.key, error=err)
        existing = self._coupon_by_code(code)
        if existing is not None:
            return self._coupon_result(command, existing, created=False)
        try:
            resp = self.client.post("coupons", body)
        except AlreadyExists:
            existing = self._coupon_by_code(code)
            if existing is None:
                raise
            return self._coupon_result(command, existing, created=False)
        except PlatformUnavailable:
            existing = self._coupon_by_code(code)  # state unknown: did the create land?
            if existing is None:
                raise
            return self._coupon_result(command, existing, created=True)
        except RejectedError as err:
            return WriteResult(key=command.key, error=err)
        return self._coupon_result(command, resp.data, created=True)

    def _check_currency(self, command: IssueCoupon) -> None:
        for m in (command.amount, command.min_subtotal):
            if m is not None and self.currency is not None and m.currency != self.currency:
                raise InvalidValue(
                    f"coupon in {m.currency} for a store selling in {self.currency}",
                    reference="currency-mismatch",
                    platform=PLATFORM,
                    obj=command.key,
                    hint="WooCommerce coupons are in the store currency; convert the reward first",
                )

    # --- loyalty meta -------------------------------------------------------------------------

    def _write_meta(self, key: str, customer_ref: str, desired: Mapping[str, str]) -> WriteResult:
        local = self._local_id(customer_ref, what="customer id")
        try:
            customer = self.client.get(f"customers/{local}").data
            if not isinstance(customer, Mapping):
                raise MalformedPayload("customer answer is not an object", reference="woo-shape-invalid",
                                       platform=PLATFORM, obj=self._pid(local))
            current = mapping.meta_dict(customer.get("meta_data"))
            if mapping.meta_is_current(current, desired):
                return WriteResult(key=key, platform_id=self._pid(local), created=False,
                                   payload={"skipped": "unchanged"})
            resp = self.client.put(f"customers/{local}", {"meta_data": mapping.meta_to_woo(desired)})
        except (RejectedError, DataError) as err:
            return WriteResult(key=key, error=err)
        stamp = resp.data.get("date_modified_gmt") if isinstance(resp.data, Mapping) else None
        return WriteResult(key=key, platform_id=self._pid(local), created=False,
                           payload={"written": sorted(desired), "date_modified_gmt": stamp})

    @staticmethod
    def _desired_meta(command: PublishLoyalty | SetTier) -> dict[str, str]:
        """``_vinculo_loyalty`` (JSON) plus one string meta per figure for a balance; for a tier
        tag the single ``vinculo_tier_tag`` key (WooCommerce customers have no tags), which
        replaces any previous tag by construction. Not ``vinculo_tier``: the balance writes the
        tier's name there, and two writers of one key would overwrite each other on every send."""
        if isinstance(command, SetTier):
            return {TIER_TAG_KEY: command.tier}
        return mapping.loyalty_meta(command.figures())

    def publish_loyalty(self, command: PublishLoyalty, customer_ref: str) -> WriteResult:
        """Skipped when the store already holds the same figures (``as_of`` alone does not
        count as a change)."""
        return self._write_meta(command.key, customer_ref, self._desired_meta(command))

    def set_tier(self, command: SetTier, customer_ref: str) -> WriteResult:
        return self._write_meta(command.key, customer_ref, self._desired_meta(command))

    def publish_many(self, items: Sequence[tuple[PublishLoyalty | SetTier, str]]) -> list[WriteResult]:
        """Balance and tier meta of many customers: one ``include=`` read per 100 customers and
        one ``customers/batch`` per ``batch_size`` customers that need a write, instead of a read
        and a write per item.

        A customer's items are merged in order (a later value of a key wins) and judged together
        as :meth:`publish_loyalty` judges one: skipped when the store already shows the result,
        else one update for all of them, whose answer is each item's. A failed read fails every
        item (nothing was written; the dispatcher retries them); a refused batch item fails its
        customer's items; a batch call that fails after retries fails its items and the ones not
        yet sent, never those already written."""
        results: list[WriteResult | None] = [None] * len(items)
        merged: dict[int, tuple[list[int], dict[str, str]]] = {}
        for i, (command, ref) in enumerate(items):
            try:
                local = self._local_id(ref, what="customer id")
                desired = self._desired_meta(command)
            except VinculoError as err:
                results[i] = WriteResult(key=command.key, error=err)
                continue
            indexes, meta = merged.setdefault(local, ([], {}))
            indexes.append(i)
            meta.update(desired)
        current: dict[int, dict[str, str]] = {}
        ids = sorted(merged)
        for start in range(0, len(ids), MAX_PER_PAGE):
            chunk = ids[start:start + MAX_PER_PAGE]
            resp = self.client.get("customers", {"include": chunk, "role": "all", "per_page": MAX_PER_PAGE,
                                                 "_fields": "id,meta_data"})
            if not isinstance(resp.data, list):
                raise MalformedPayload("customer list answer is not a list", reference="woo-shape-invalid",
                                       platform=PLATFORM, obj="customers")
            for row in resp.data:
                if isinstance(row, Mapping) and row.get("id") in chunk:
                    try:
                        current[row["id"]] = mapping.meta_dict(row.get("meta_data"))
                    except DataError:
                        current[row["id"]] = {}  # unreadable meta: write ours over it

        def settle(indexes: list[int], outcome: WriteResult) -> None:
            """One customer's outcome, as each of its items' result."""
            for i in indexes:
                results[i] = replace(outcome, key=items[i][0].key)

        owners: list[tuple[list[int], dict[str, str]]] = []
        writes: list[tuple[int, str, dict[str, Any]]] = []
        for local, (indexes, meta) in merged.items():
            held = current.get(local)
            if held is None:
                missing = NotFound(f"customer {local} is not on the store", reference="woo-customer-missing",
                                   platform=PLATFORM, obj=self._pid(local),
                                   hint="the customer was deleted on the store; the next sync records it")
                settle(indexes, WriteResult(key="", error=missing))
            elif mapping.meta_is_current(held, meta):
                settle(indexes, WriteResult(key="", platform_id=self._pid(local), created=False,
                                            payload={"skipped": "unchanged"}))
            else:
                writes.append((len(owners), "update", {"id": local, "meta_data": mapping.meta_to_woo(meta)}))
                owners.append((indexes, meta))
        for start in range(0, len(writes), self.batch_size):
            try:
                for n, _kind, raw, error in self._batch("customers/batch", writes[start:start + self.batch_size]):
                    indexes, meta = owners[n]
                    settle(indexes, WriteResult(key="", error=error) if error is not None else WriteResult(
                        key="", platform_id=self._pid(raw.get("id")), created=False,
                        payload={"written": sorted(meta), "date_modified_gmt": raw.get("date_modified_gmt")}))
            except VinculoError as err:
                for n in range(start, len(writes)):  # this chunk's state is unknown, later ones unsent
                    settle([i for i in owners[n][0] if results[i] is None], WriteResult(key="", error=err))
                break
        return [r if r is not None else WriteResult(key=c.key, error=MalformedPayload(
            "no result for this write", reference="woo-batch-result-missing", platform=PLATFORM, obj=c.key))
            for (c, _ref), r in zip(items, results, strict=True)]

    # --- fulfilment ---------------------------------------------------------------------------

    @staticmethod
    def shipment_note(f: Fulfilment) -> str:
        parts = [f"{NOTE_MARKER} {utc(f.shipped_at, what='shipped_at').strftime('%Y-%m-%d %H:%M UTC')}"]
        if f.carrier:
            parts.append(f"carrier {f.carrier}")
        if f.tracking_number:
            parts.append(f"tracking {f.tracking_number}")
        if f.tracking_url:
            parts.append(f.tracking_url)
        return " · ".join(parts)

    def complete_order(self, fulfilment: Fulfilment) -> WriteResult:
        """Add the tracking note (private, ``customer_note: false``) unless an identical note
        exists, then set ``completed`` unless already so. Safe to repeat."""
        key = fulfilment.order_id
        try:
            local = self._local_id(fulfilment.order_id, what="order id")
            order = self.client.get(f"orders/{local}", {"_fields": "id,status"}).data
            note = self.shipment_note(fulfilment)
            notes = self.client.get(f"orders/{local}/notes", {"type": "internal"}).data
            changed = False
            if not any(isinstance(n, Mapping) and n.get("note") == note for n in notes or ()):
                self.client.post(f"orders/{local}/notes", {"note": note, "customer_note": False})
                changed = True
            if order.get("status") != "completed":
                self.client.put(f"orders/{local}", {"status": "completed"})
                changed = True
        except (RejectedError, DataError) as err:
            return WriteResult(key=key, error=err)
        return WriteResult(key=key, platform_id=self._pid(local), created=changed,
                           payload={"note": note, "changed": changed})

    # --- webhooks -----------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> Ping | WebhookHint:
        """Verify a delivery with ``webhook_secret``; the caller re-reads ``hint.platform_id``."""
        return parse_delivery(headers, raw_body, secret=self.webhook_secret, store=self.store)


def chunk_body(chunk: Sequence[tuple[int, str, dict[str, Any]]], index: int) -> dict[str, Any]:
    return next(body for i, _, body in chunk if i == index)


def _modified(raw: object) -> datetime | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return mapping.read_date(raw, "date_modified")
    except VinculoError:
        return None


__all__ = ["WooCommerceAdapter"]

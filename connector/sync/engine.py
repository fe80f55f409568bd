"""The sync engine: pull what changed, match identities, mirror, hand orders to loyalty.

Each page from an adapter is processed in one transaction together with its watermark, so a
crash re-reads at most one page. Records are keyed (order id + content digest, mapping table),
so re-reading the overlap window or a whole page changes nothing and writes nothing.

Order of work for one store run:
    customers (sweep or incremental) -> golden records -> ERP customers
    orders since watermark           -> mirrors + loyalty -> ERP orders
And for the ERP run:
    ERP customers -> golden records -> stores (match by e-mail before creating)
    ERP-only sales -> loyalty;  ERP shipments -> store orders completed -> loyalty clock
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from connector.domain import Customer, Fulfilment, Order, OrderStatus, split_platform_id
from connector.errors import ConfigError, DataError, NotFound, RejectedError, VinculoError
from connector.ports import CustomerWrite, ErpAdapter, Page, Rejected, StoreAdapter, WriteResult
from connector.state import customers as customers_repo
from connector.state import orders as orders_repo
from connector.state import quarantine, runs, watermarks
from connector.state.clock import now
from connector.state.db import Database
from connector.state.locks import acquire, store_lock
from connector.state.models import DeadLetter
from connector.sync.conflicts import Policy, to_customer
from connector.sync.identity import guest_id, mark_written, resolve

T = TypeVar("T")
LOCK_TTL = timedelta(minutes=30)
EXPORTABLE = {OrderStatus.PAID, OrderStatus.COMPLETED, OrderStatus.REFUNDED, OrderStatus.CANCELLED}


class Progress(Protocol):
    """What the engine reports while it works; the CLI draws bars, the daemon logs."""

    def step(self, label: str, n: int) -> None: ...


class _Silent:
    def step(self, label: str, n: int) -> None:
        return None


class OrderObserver(Protocol):
    """Receives a page's new or changed orders inside the page's transaction (the loyalty bridge).

    Returns the number of perk commands queued and the orders it refused, which the engine
    quarantines; a refused order never stops the rest of the page.
    """

    def observe_page(
        self, session: Session, items: Sequence[tuple[Order, str]]
    ) -> tuple[int, list[tuple[Order, VinculoError]]]: ...


@dataclass
class RunStats:
    source: str
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, **dict(self.counts), "errors": list(self.errors)}


class SyncEngine:
    def __init__(
        self,
        db: Database,
        stores: Mapping[str, StoreAdapter],
        erp: ErpAdapter | None,
        *,
        policies: dict[str, Policy] | None = None,
        observer: OrderObserver | None = None,
        progress: Progress | None = None,
        customer_sweep: timedelta = timedelta(hours=24),
    ) -> None:
        self.db = db
        self.stores = dict(stores)
        self.erp = erp
        self.policies: dict[str, Policy] = policies or {
            "billing": "erp",
            "marketing": "store",
            "default": "newest",
        }
        self.observer = observer
        self.progress: Progress = progress or _Silent()
        self.customer_sweep = customer_sweep
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._lock: str | None = None
        self._digests: dict[int, tuple[Order, str]] = {}

    # --- entry points ------------------------------------------------------------------------

    def run(self, store_keys: Iterable[str] | None = None, *, full: bool = False) -> list[RunStats]:
        keys = list(store_keys) if store_keys is not None else list(self.stores)
        results = [self.sync_store(key, full=full) for key in keys]
        if self.erp is not None:
            results.append(self.sync_erp(full=full))
        return results

    def sync_store(self, key: str, *, full: bool = False) -> RunStats:
        adapter = self.stores[key]
        return self._run(
            key,
            f"store:{key}",
            full,
            [
                (
                    "customers",
                    lambda stats: self._customers_from_store(key, adapter, stats, full=full),
                ),
                ("orders", lambda stats: self._orders_from_store(key, adapter, stats)),
            ],
        )

    def sync_erp(self, *, full: bool = False) -> RunStats:
        erp = self.erp
        if erp is None:
            raise NotFound(
                "no ERP configured", obj="erp", hint="add an `erp:` section to the config"
            )
        return self._run(
            erp.store,
            f"erp:{erp.store}",
            full,
            [
                ("customers", lambda stats: self._customers_from_erp(erp, stats)),
                ("sales", lambda stats: self._sales_from_erp(erp, stats)),
                ("fulfilments", lambda stats: self._fulfilments_from_erp(erp, stats)),
            ],
        )

    def _run(
        self,
        source: str,
        lock: str,
        full: bool,
        streams: list[tuple[str, Callable[[RunStats], None]]],
    ) -> RunStats:
        """Run each stream under the source's lock; a failing stream does not stop the others.

        Configuration errors stop the source at once (nothing else can work); any other error
        is recorded, the remaining streams run, and the first error is raised at the end so the
        caller's exit status says the run was incomplete. Committed pages stay committed.
        """
        stats = RunStats(source=source)
        failures: list[VinculoError] = []
        with store_lock(self.db, lock, self.owner, ttl=LOCK_TTL):
            self._lock = lock
            with self.db.transaction() as s:
                run_id = runs.start(s, source)
                if full:
                    watermarks.reset(s, source)
            try:
                for name, work in streams:
                    try:
                        work(stats)
                    except ConfigError:
                        raise
                    except VinculoError as exc:
                        failures.append(exc)
                        stats.errors.append(f"{name}: {exc}")
            except VinculoError as exc:
                failures.append(exc)
                stats.errors.append(str(exc))
                raise
            except BaseException as exc:  # a crash or Ctrl-C is a failed run, never "ok"
                stats.errors.append(f"{type(exc).__name__}: {exc}")
                raise
            finally:
                failed = bool(failures) or bool(stats.errors)
                status = (
                    "failed" if failed else ("partial" if stats.counts["quarantined"] else "ok")
                )
                self._lock = None
                with self.db.transaction() as s:
                    runs.finish(
                        s,
                        run_id,
                        status=status,
                        stats=stats.as_dict(),
                        error="; ".join(stats.errors) or None,
                    )
        if failures:
            raise failures[0]
        return stats

    # --- store -> state -> ERP -------------------------------------------------------------------

    def _customers_from_store(
        self, key: str, adapter: StoreAdapter, stats: RunStats, *, full: bool
    ) -> None:
        with self.db.transaction() as s:
            mark = watermarks.get(s, key, "customers")
        incremental = adapter.incremental_customers
        if not incremental and not full and mark is not None and now() - mark < self.customer_sweep:
            return  # the full sweep is due once a day; changed orders bring new customers meanwhile
        started = now()
        for page in adapter.pull_customers(mark if incremental else None):
            # One transaction for the page and its ERP write: if the ERP fails, nothing about
            # the page is remembered and the next run sees the same changes again.
            with self.db.transaction() as s:
                changed = self._commit_customers_in(s, key, page, stats, side="store")
                self._export_customers_to_erp(s, changed, stats)
                if incremental and page.high_water is not None:
                    watermarks.advance(s, key, "customers", page.high_water)
            self.progress.step(f"{key} customers", len(page.items))
        if not incremental:
            with self.db.transaction() as s:
                watermarks.advance(s, key, "customers", started)

    def _commit_customers(
        self, source: str, page: Page[Customer], stats: RunStats, *, side: Any
    ) -> list[str]:
        with self.db.transaction() as s:
            return self._commit_customers_in(s, source, page, stats, side=side)

    def _commit_customers_in(
        self, s: Session, source: str, page: Page[Customer], stats: RunStats, *, side: Any
    ) -> list[str]:
        self._heartbeat()
        changed: list[str] = []
        self._quarantine(s, source, "customers", page.rejected, stats)
        parked = quarantine.open_refs(s, source, "customers")
        for customer in _no_autoflush(s, page.items):
            stats.counts["customers_seen"] += 1
            # "newest wins" compares when each side changed the record, not when we read it
            at = customer.updated_at or now()
            res = resolve(s, customer, source=source, side=side, policies=self.policies, at=at)
            if res.matched_by == "new":
                stats.counts["customers_new"] += 1
            if res.changed_fields:
                stats.counts["customers_changed"] += 1
                changed.append(res.vinculo_id)
            if customer.id in parked:
                quarantine.resolve(s, source=source, stream="customers", record_ref=customer.id)
        return changed

    def _export_customers_to_erp(
        self, s: Session, vinculo_ids: Sequence[str], stats: RunStats
    ) -> None:
        if self.erp is None or not vinculo_ids:
            return
        erp = self.erp
        writes: list[CustomerWrite] = []
        for vid in dict.fromkeys(vinculo_ids):
            record = customers_repo.get(s, vid)
            if record is None or record.is_guest:
                continue
            target = customers_repo.mapping_for_source(s, vid, erp.store)
            view = to_customer(
                record.data.get("fields", {}), id=target.platform_id if target else vid
            )
            writes.append(
                CustomerWrite(
                    key=vid, customer=view, target_id=target.platform_id if target else None
                )
            )
        if not writes:
            return
        for write, result in zip(writes, erp.upsert_customers(writes), strict=True):
            self._record_customer_write(s, erp.store, write, result, stats)

    def _record_customer_write(
        self, s: Session, target: str, write: CustomerWrite, result: WriteResult, stats: RunStats
    ) -> None:
        if not result.ok:
            assert result.error is not None
            self._quarantine_one(
                s, target, "customer-writes", write.key, result.error, write.customer, stats
            )
            return
        stats.counts[f"customers_written:{target}"] += 1
        if result.platform_id:
            if customers_repo.mapping(s, result.platform_id) is None:
                customers_repo.link(
                    s,
                    platform_id=result.platform_id,
                    source=target,
                    vinculo_id=write.key,
                    matched_by="written",
                    seen_digest=write.customer.content_digest(),
                )
            mark_written(s, result.platform_id, write.customer.content_digest())
        quarantine.resolve(s, source=target, stream="customer-writes", record_ref=write.key)

    def _orders_from_store(self, key: str, adapter: StoreAdapter, stats: RunStats) -> None:
        with self.db.transaction() as s:
            since = watermarks.get(s, key, "orders")
        for page in adapter.pull_orders(since):
            self._prefetch_customers(key, adapter, page.items, stats)
            self._commit_orders(key, page, stats)
            self.progress.step(f"{key} orders", len(page.items))

    def _prefetch_customers(
        self, key: str, adapter: StoreAdapter, orders: Sequence[Order], stats: RunStats
    ) -> None:
        """Customers of changed orders we have never seen, read in one call before the page."""
        with self.db.transaction() as s:
            wanted = {
                o.customer_id
                for o in orders
                if o.customer_id and customers_repo.mapping(s, o.customer_id) is None
            }
        if not wanted:
            return
        fetched = adapter.get_customers(sorted(wanted))
        self._commit_customers(key, Page(items=fetched), stats, side="store")

    def _heartbeat(self) -> None:
        """Extend this run's lock at every page, so a long run never outlives it."""
        if self._lock is not None:
            acquire(self.db, self._lock, self.owner, LOCK_TTL)

    def _commit_orders(self, key: str, page: Page[Order], stats: RunStats) -> list[Order]:
        """Mirror, hand to loyalty, export to the ERP, move the watermark: all or nothing.

        The ERP write happens inside the page's transaction, so an ERP failure rolls the page
        back and the next run reads it again (exports are keyed, so a repeat is harmless).
        """
        self._heartbeat()
        to_export: list[Order] = []
        with self.db.transaction() as s:
            self._quarantine(s, key, "orders", page.rejected, stats)
            parked = quarantine.open_refs(s, key, "orders")
            mirrors = orders_repo.get_many(s, (o.id for o in page.items))
            observed: list[tuple[Order, str]] = []
            for order in _no_autoflush(s, page.items):
                stats.counts["orders_seen"] += 1
                digest = self._digest(order)
                mirror = mirrors.get(order.id)
                if mirror is not None and mirror.digest == digest:
                    continue
                vid = self._order_customer(s, key, order, stats)
                row = orders_repo.upsert(s, order, source=key, vinculo_id=vid, digest=digest)
                stats.counts["orders_new" if mirror is None else "orders_changed"] += 1
                if vid is not None:
                    observed.append((order, vid))
                if order.id in parked:
                    quarantine.resolve(s, source=key, stream="orders", record_ref=order.id)
                if order.status in EXPORTABLE and (
                    row.exported_digest is not None or order.status is not OrderStatus.CANCELLED
                ):
                    to_export.append(order)
            self._observe(s, key, "loyalty", observed, stats)
            self._export_orders_in(s, to_export, stats)
            if page.high_water is not None:
                watermarks.advance(s, key, "orders", min(page.high_water, now()))
        return to_export

    def _observe(
        self,
        s: Session,
        source: str,
        stream: str,
        observed: Sequence[tuple[Order, str]],
        stats: RunStats,
    ) -> None:
        """Hand the page's orders to loyalty; an order the program refuses is quarantined."""
        if self.observer is None or not observed:
            return
        queued, refused = self.observer.observe_page(s, observed)
        stats.counts["perks_queued"] += queued
        for order, error in refused:
            self._quarantine_one(s, source, stream, order.id, error, order, stats)

    def _digest(self, order: Order) -> str:
        """Content digest, computed once per order object (it is the costly part of a page)."""
        cached = self._digests.get(id(order))
        if cached is not None and cached[0] is order:
            return cached[1]
        value = order.content_digest()
        if len(self._digests) > 5000:
            self._digests.clear()
        self._digests[id(order)] = (order, value)
        return value

    def _order_customer(self, s: Session, key: str, order: Order, stats: RunStats) -> str | None:
        if order.customer_id:
            mapping = customers_repo.mapping(s, order.customer_id)
            if mapping is not None:
                return mapping.vinculo_id
        email_key = order.email_key
        if not email_key:
            stats.counts["orders_without_identity"] += 1
            return None
        guest = Customer(
            id=guest_id(order.id, email_key),
            email=email_key,
            first_name=order.billing.first_name,
            last_name=order.billing.last_name,
            phone=order.billing.phone,
            billing=order.billing,
            shipping=order.shipping,
            is_guest=order.customer_id is None,
        )
        return resolve(
            s, guest, source=key, side="store", policies=self.policies, at=now()
        ).vinculo_id

    def _export_orders(self, orders: Sequence[Order], stats: RunStats) -> None:
        with self.db.transaction() as s:
            self._export_orders_in(s, orders, stats)

    def _export_orders_in(self, s: Session, orders: Sequence[Order], stats: RunStats) -> None:
        if self.erp is None or not orders:
            return
        erp = self.erp
        results = erp.export_orders(orders)
        with s.no_autoflush:
            parked = quarantine.open_refs(s, erp.store, "order-exports")
            mirrors = orders_repo.get_many(s, (o.id for o in orders))
            for order, result in zip(orders, results, strict=True):
                if result.ok:
                    mirror = mirrors.get(order.id)
                    if mirror is not None:
                        orders_repo.mark_exported(
                            mirror, digest=self._digest(order), erp_ref=result.platform_id
                        )
                    if order.id in parked:
                        quarantine.resolve(
                            s, source=erp.store, stream="order-exports", record_ref=order.id
                        )
                    stats.counts["orders_exported"] += 1
                else:
                    assert result.error is not None
                    self._quarantine_one(
                        s, erp.store, "order-exports", order.id, result.error, order, stats
                    )

    # --- ERP -> state -> stores -------------------------------------------------------------------

    def _customers_from_erp(self, erp: ErpAdapter, stats: RunStats) -> None:
        with self.db.transaction() as s:
            since = watermarks.get(s, erp.store, "customers")
        for page in erp.pull_customers(since):
            with self.db.transaction() as s:  # a store failure rolls the page back: read again
                changed = self._commit_customers_in(s, erp.store, page, stats, side="erp")
                for key, store in self.stores.items():
                    self._push_customers_to_store(s, key, store, changed, stats)
                if page.high_water is not None:
                    watermarks.advance(s, erp.store, "customers", min(page.high_water, now()))
            self.progress.step(f"{erp.store} customers", len(page.items))

    def _push_customers_to_store(
        self, s: Session, key: str, store: StoreAdapter, vinculo_ids: Sequence[str], stats: RunStats
    ) -> None:
        if not vinculo_ids:
            return
        writes: list[CustomerWrite] = []
        # same session as the page that found the changes
        for vid in dict.fromkeys(vinculo_ids):
            record = customers_repo.get(s, vid)
            if record is None:
                continue
            mapping = customers_repo.mapping_for_source(s, vid, key)
            target = (
                mapping.platform_id if mapping and ":guest:" not in mapping.platform_id else None
            )
            view = to_customer(record.data.get("fields", {}), id=target or vid)
            if target is None:
                found = store.find_customer(view.email_key, view.phone_key)  # match before creating
                if found is not None:
                    target = found.id
                    if customers_repo.mapping(s, found.id) is None:
                        customers_repo.link(
                            s,
                            platform_id=found.id,
                            source=key,
                            vinculo_id=vid,
                            matched_by="email",
                            seen_digest=found.content_digest(),
                        )
                    if found.content_digest() == view.content_digest():
                        continue
            writes.append(CustomerWrite(key=vid, customer=view, target_id=target))
        if not writes:
            return
        results = store.upsert_customers(writes)
        for write, result in zip(writes, results, strict=True):
            self._record_customer_write(s, key, write, result, stats)

    def _sales_from_erp(self, erp: ErpAdapter, stats: RunStats) -> None:
        with self.db.transaction() as s:
            since = watermarks.get(s, erp.store, "sales")
        for page in erp.pull_sales(since):
            with self.db.transaction() as s:
                self._quarantine(s, erp.store, "sales", page.rejected, stats)
                mirrors = orders_repo.get_many(s, (o.id for o in page.items))
                observed: list[tuple[Order, str]] = []
                for sale in page.items:
                    stats.counts["sales_seen"] += 1
                    digest = sale.content_digest()
                    mirror = mirrors.get(sale.id)
                    if mirror is not None and mirror.digest == digest:
                        continue
                    vid = self._order_customer(s, erp.store, sale, stats)
                    orders_repo.upsert(s, sale, source=erp.store, vinculo_id=vid, digest=digest)
                    stats.counts["sales_new" if mirror is None else "sales_changed"] += 1
                    if vid is not None:
                        observed.append((sale, vid))
                    quarantine.resolve(s, source=erp.store, stream="sales", record_ref=sale.id)
                self._observe(s, erp.store, "loyalty", observed, stats)
                if page.high_water is not None:
                    watermarks.advance(s, erp.store, "sales", min(page.high_water, now()))
            self.progress.step(f"{erp.store} sales", len(page.items))

    def _fulfilments_from_erp(self, erp: ErpAdapter, stats: RunStats) -> None:
        with self.db.transaction() as s:
            since = watermarks.get(s, erp.store, "fulfilments")
        for page in erp.pull_fulfilments(since):
            with self.db.transaction() as s:
                self._quarantine(s, erp.store, "fulfilments", page.rejected, stats)
            for fulfilment in page.items:
                self._complete(fulfilment, stats, source=erp.store)
            with self.db.transaction() as s:
                if page.high_water is not None:
                    watermarks.advance(s, erp.store, "fulfilments", min(page.high_water, now()))

    def _complete(self, fulfilment: Fulfilment, stats: RunStats, *, source: str) -> None:
        """An ERP shipment marks the store order completed; the fresh store view starts the clock."""
        _, key, _ = split_platform_id(fulfilment.order_id)
        store = self.stores.get(key)
        if store is None:
            with self.db.transaction() as s:
                self._quarantine_one(
                    s,
                    source,
                    "fulfilments",
                    fulfilment.order_id,
                    NotFound(
                        f"shipment for order {fulfilment.order_id} names store {key!r}, which is not configured",
                        obj=fulfilment.order_id,
                        hint="add the store to the config or fix the order reference in the ERP",
                    ),
                    fulfilment,
                    stats,
                )
            return
        with self.db.transaction() as s:
            mirror = orders_repo.get(s, fulfilment.order_id)
            if mirror is not None and mirror.status == OrderStatus.COMPLETED.value:
                return  # the overlap window re-reads shipments; the store already knows
        result = store.complete_order(fulfilment)
        with self.db.transaction() as s:
            if not result.ok:
                assert result.error is not None
                self._quarantine_one(
                    s, source, "fulfilments", fulfilment.order_id, result.error, fulfilment, stats
                )
                return
            stats.counts["orders_completed"] += 1
            quarantine.resolve(
                s, source=source, stream="fulfilments", record_ref=fulfilment.order_id
            )
        fresh = store.get_order(fulfilment.order_id)
        if fresh is not None:
            self._commit_orders(key, Page(items=[fresh]), stats)

    # --- quarantine ----------------------------------------------------------------------------

    def retry(self, letter: DeadLetter) -> str:
        """Process one quarantined record again from a fresh read; says what happened.

        Runs under the same store lock as a sync, so a retry never races a running sync.
        """
        source = letter.source
        lock = f"erp:{source}" if self.erp is not None and source == self.erp.store else f"store:{source}"
        with store_lock(self.db, lock, self.owner, ttl=LOCK_TTL):
            return self._retry(letter)

    def _retry(self, letter: DeadLetter) -> str:
        stats = RunStats(source=letter.source)
        source, stream, ref = letter.source, letter.stream, letter.record_ref
        if stream in ("orders", "order-exports"):
            key = split_platform_id(ref)[1]
            store = self.stores.get(key)
            if store is None:
                return f"store {key!r} is not configured"
            try:
                fresh = store.get_order(ref)
            except (DataError, RejectedError) as exc:  # still bad at the source
                with self.db.transaction() as s:
                    quarantine.put(
                        s,
                        source=source,
                        stream=stream,
                        record_ref=ref,
                        error=exc,
                        payload=letter.payload,
                    )
                return f"still quarantined: {exc}"
            if fresh is None:
                return "the order no longer exists in the store; drop it with `vinculo quarantine drop`"
            self._prefetch_customers(key, store, [fresh], stats)
            exported = self._commit_orders(key, Page(items=[fresh]), stats)
            if stream == "order-exports" and not exported and fresh.status in EXPORTABLE:
                self._export_orders([fresh], stats)
        elif stream == "loyalty" and split_platform_id(ref)[1] in self.stores:
            store = self.stores[split_platform_id(ref)[1]]
            fresh = store.get_order(ref)
            if fresh is None:
                return "the order no longer exists in the store; drop it with `vinculo quarantine drop`"
            with self.db.transaction() as s:
                mirror = orders_repo.get(s, ref)
                if mirror is None or mirror.vinculo_id is None:
                    return "the order has no known customer yet; run `vinculo sync` first"
                before = stats.counts["quarantined"]
                self._observe(s, source, "loyalty", [(fresh, mirror.vinculo_id)], stats)
                if stats.counts["quarantined"] == before:
                    quarantine.resolve(s, source=source, stream="loyalty", record_ref=ref)
        elif stream == "customer-writes":
            if self.erp is not None and source == self.erp.store:
                with self.db.transaction() as s:
                    self._export_customers_to_erp(s, [ref], stats)
            elif source in self.stores:
                with self.db.transaction() as s:
                    self._push_customers_to_store(s, source, self.stores[source], [ref], stats)
        elif stream == "customers" and source in self.stores:
            with self.db.transaction() as s:
                watermarks.reset(s, source, "customers")
            self._customers_from_store(source, self.stores[source], stats, full=True)
        elif (
            stream == "fulfilments"
            and isinstance(letter.payload, dict)
            and "order_id" in letter.payload
        ):
            from connector.outbox import decode

            fulfilment = decode("complete", letter.payload)
            assert isinstance(fulfilment, Fulfilment)
            self._complete(fulfilment, stats, source=source)
        else:
            with self.db.transaction() as s:
                quarantine.put(
                    s,
                    source=source,
                    stream=stream,
                    record_ref=ref,
                    error=DataError(letter.reason, reference=letter.reference),
                    payload=letter.payload,
                )
            return (
                "fix the record at its source (e.g. the file in the ERP inbox) and drop it in again"
            )
        with self.db.transaction() as s:
            still = any(d.id == letter.id for d in quarantine.open_letters(s, source))
        return (
            "still quarantined: " + "; ".join(stats.errors or ["see `vinculo status`"])
            if still
            else "resolved"
        )

    def _quarantine(
        self, s: Session, source: str, stream: str, rejected: Iterable[Rejected], stats: RunStats
    ) -> None:
        for item in rejected:
            self._quarantine_one(s, source, stream, item.source, item.error, item.payload, stats)

    def _quarantine_one(
        self,
        s: Session,
        source: str,
        stream: str,
        ref: str,
        error: VinculoError,
        payload: Any,
        stats: RunStats,
    ) -> None:
        quarantine.put(
            s, source=source, stream=stream, record_ref=ref, error=error, payload=payload
        )
        stats.counts["quarantined"] += 1


def _no_autoflush(session: Session, items: Iterable[T]) -> Iterator[T]:
    """Iterate a page without a flush before every lookup (the cost of a page was mostly that).

    Identity resolution flushes explicitly whenever it creates a record or a mapping, so later
    lookups in the same page still see everything they must.
    """
    with session.no_autoflush:
        yield from items

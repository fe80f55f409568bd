"""The Shopify store adapter: ``connector.ports.StoreAdapter`` over the GraphQL Admin API 2026-01.

Reads are incremental (``updated_at:>=`` the watermark minus the overlap, ``sortKey: UPDATED_AT``,
250 per page) and yield pages whose ``high_water`` is the newest ``updatedAt`` seen, never "now".
Bad records come back as ``Rejected`` for quarantine. The full history goes through a bulk
operation (:meth:`ShopifyAdapter.backfill_orders`).

Every write is idempotent by a direct, index-free lookup first (search lags by up to a minute,
NOTES §0.4): customers by ``customerByIdentifier``, reward codes by ``codeDiscountNodeByCode``
(``TAKEN`` on our own deterministic code means an earlier attempt made it), fulfilments by the
order's fulfillment-order status. Tags and metafields are naturally idempotent.

Errors that concern one object (``rejected``/``data``) come back in the ``WriteResult``; config and
transient errors are raised, so the engine stops the store or retries the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from adapters.shopify.bulk import BulkOperations, grouped_records, orders_bulk_query, staged_records
from adapters.shopify.client import PLATFORM, SUPPORTED_API_VERSION, ShopifyClient
from adapters.shopify.inputs import (
    LOYALTY_METAFIELDS,
    METAFIELDS_PER_CALL,
    coupon_input,
    customer_input,
    loyalty_metafields,
    metafield_definition,
    tier_tag,
    tracking_input,
)
from adapters.shopify.mapping import gid_type, map_customer, map_order, nodes, page_from
from adapters.shopify.pagination import paginate
from adapters.shopify.throttle import ShopBucket
from adapters.shopify.webhooks import ComplianceRequest, WebhookHint, parse_delivery
from connector.domain import (
    Customer,
    Fulfilment,
    IssueCoupon,
    Order,
    PublishLoyalty,
    SetTier,
    platform_id,
    split_platform_id,
    utc,
)
from connector.errors import DataError, InvalidValue, NotFound, RejectedError, WriteRejected
from connector.ports import CustomerWrite, Page, StoreInfo, WriteResult

log = logging.getLogger("vinculo.shopify")

_OPEN_FULFILLMENT = frozenset({"OPEN", "IN_PROGRESS"})
_DONE_FULFILLMENT = frozenset({"CLOSED"})
_PAGE_GUARD = 1_000_000  # pages per walk; a loop guard, not a limit anyone should reach
# nodes(ids:) takes at most 250 ids (NOTES §9.1). Orders are re-read 40 at a time: the requested
# cost is 78 whatever the count under the calibrated model, and even if the real actual cost grew
# per returned order (unverified) 40 keeps one answer's payload and charge modest.
_CUSTOMERS_PER_CALL = 250
_ORDERS_PER_CALL = 40


class ShopifyAdapter:
    """One Shopify shop as a Vínculo store."""

    platform = PLATFORM
    # customers(query: "updated_at:>=…") filters by change time (NOTES §4.3), so the engine pulls
    # customers incrementally every run instead of a daily full sweep.
    incremental_customers = True

    def __init__(
        self,
        *,
        store: str,
        shop_domain: str,
        access_token: str,
        api_version: str = SUPPORTED_API_VERSION,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 4,
        webhook_secret: str | None = None,
        previous_webhook_secret: str | None = None,
        overlap: timedelta = timedelta(minutes=10),
        bucket: ShopBucket | None = None,
        page_size: int = 250,
        include_test_orders: bool = False,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.shop_domain = shop_domain
        self.overlap = overlap
        self.page_size = page_size
        self.include_test_orders = include_test_orders
        self.webhook_secret = webhook_secret
        self.previous_webhook_secret = previous_webhook_secret
        self.client = ShopifyClient(
            shop_domain=shop_domain, access_token=access_token, api_version=api_version,
            base_url=base_url, timeout=timeout, max_retries=max_retries, bucket=bucket,
            session=session, sleep=sleep,
        )
        self.bulk = BulkOperations(self.client, sleep=sleep)
        self._taxes_included: bool | None = None

    # --- ids ----------------------------------------------------------------------------------------

    def _pid(self, gid: str) -> str:
        return platform_id(PLATFORM, self.store, gid)

    def _gid(self, ref: str, expected: str) -> str:
        """Our platform id, a bare gid or a numeric id → the Shopify gid of type ``expected``."""
        gid = ref
        if ref.startswith(f"{PLATFORM}:"):
            _, store, gid = split_platform_id(ref)
            if store != self.store:
                raise InvalidValue(f"{ref} belongs to store {store!r}, not {self.store!r}",
                                   reference="shopify-wrong-store", platform=PLATFORM, obj=ref)
        elif ref.isdigit():
            gid = f"gid://shopify/{expected}/{ref}"
        if gid_type(gid) != expected:
            raise InvalidValue(f"{ref} is not a {expected} id", reference="shopify-gid-type",
                               platform=PLATFORM, obj=ref)
        return gid

    def _since(self, since: datetime | None) -> str | None:
        if since is None:
            return None
        start = utc(since, what="watermark") - self.overlap
        return f"updated_at:>='{start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}'"

    @property
    def taxes_included(self) -> bool:
        """The shop's "prices include tax" setting, read once: the fallback for an order node
        that does not carry its own ``taxesIncluded`` (our documents all read it)."""
        if self._taxes_included is None:
            shop = self.client.execute("shop", priority=True).data.get("shop") or {}
            self._taxes_included = bool(shop.get("taxesIncluded"))
        return self._taxes_included

    def _map_order(self, node: Mapping[str, Any], store: str) -> Order:
        if "taxesIncluded" in node:
            return map_order(node, store)  # the order's own setting wins; no shop read needed
        return map_order(node, store, taxes_included=self.taxes_included)

    # --- check ----------------------------------------------------------------------------------

    def check(self) -> StoreInfo:
        shop = self.client.execute("shop", priority=True).data.get("shop") or {}
        self._taxes_included = bool(shop.get("taxesIncluded"))
        plan = shop.get("plan") or {}
        return StoreInfo(
            platform=PLATFORM,
            store=self.store,
            name=str(shop.get("name") or self.shop_domain),
            currency=shop.get("currencyCode"),
            details={
                "shop_domain": shop.get("myshopifyDomain") or self.shop_domain,
                "api_version": self.client.api_version,
                "plan": plan.get("publicDisplayName"),
                "timezone": shop.get("ianaTimezone"),
                "taxes_included": shop.get("taxesIncluded"),
            },
        )

    # --- reads ----------------------------------------------------------------------------------

    def pull_customers(self, since: datetime | None) -> Iterator[Page[Customer]]:
        query = self._since(since)

        def fetch(after: str | None) -> Mapping[str, Any]:
            variables = {"first": self.page_size, "after": after, "query": query}
            conn: Mapping[str, Any] = self.client.execute("customers_incremental", variables).data["customers"]
            return conn

        for conn in paginate(fetch, what="customers", max_pages=_PAGE_GUARD):
            yield page_from(nodes(conn), map_customer, self.store)

    def pull_orders(self, since: datetime | None) -> Iterator[Page[Order]]:
        query = self._since(since)

        def fetch(after: str | None) -> Mapping[str, Any]:
            variables = {"first": self.page_size, "after": after, "query": query}
            conn: Mapping[str, Any] = self.client.execute("orders_incremental", variables).data["orders"]
            return conn

        for conn in paginate(fetch, what="orders", max_pages=_PAGE_GUARD):
            raw = [self._complete_lines(n) for n in nodes(conn)]
            yield page_from(raw, self._map_order, self.store, skip=self._skip_order)

    def _skip_order(self, node: Mapping[str, Any]) -> bool:
        """Test orders never earn points (NOTES §4.3); they are left out unless asked for."""
        return bool(node.get("test")) and not self.include_test_orders

    def _complete_lines(self, node: dict[str, Any], *, priority: bool = False) -> dict[str, Any]:
        """Fetch the lines past the first 100 so an order is never mirrored half-read."""
        conn = node.get("lineItems")
        info = conn.get("pageInfo") if isinstance(conn, Mapping) else None
        if not info or not info.get("hasNextPage"):
            return node
        lines = list(nodes(conn))

        def fetch(after: str | None) -> Mapping[str, Any]:
            order = self.client.execute(
                "order_line_items", {"id": node["id"], "first": 250, "after": after}, priority=priority
            ).data.get("order") or {}
            rest: Mapping[str, Any] = order.get("lineItems") or {"nodes": [], "pageInfo": {}}
            return rest

        cursor = info.get("endCursor")
        # The first page came with the order: the walk starts after its end cursor.
        for page in paginate(lambda after: fetch(after or cursor), what=f"lines of {node['id']}",
                             max_pages=_PAGE_GUARD):
            lines.extend(nodes(page))
        return {**node, "lineItems": {"nodes": lines, "pageInfo": {"hasNextPage": False}}}

    def _read_order_node(self, gid: str, *, priority: bool = True) -> dict[str, Any] | None:
        node = self.client.execute("order_by_id", {"id": gid}, priority=priority).data.get("order")
        return self._complete_lines(node, priority=priority) if isinstance(node, dict) else None

    def get_order(self, order_id: str) -> Order | None:
        """A fresh read (webhooks are hints); ``None`` when the order no longer exists."""
        node = self._read_order_node(self._gid(order_id, "Order"))
        return self._map_order(node, self.store) if node is not None else None

    def _read_nodes(self, document: str, gids: Sequence[str], per_call: int, *,
                    priority: bool) -> dict[str, dict[str, Any]]:
        """``nodes(ids:)`` in calls of ``per_call``; found nodes by gid (missing ids are null)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(gids), per_call):
            chunk = list(gids[start:start + per_call])
            data = self.client.execute(document, {"ids": chunk}, priority=priority).data
            for node in data.get("nodes") or []:
                if isinstance(node, dict) and node.get("id"):
                    found[str(node["id"])] = node
        return found

    def get_customers(self, customer_ids: Sequence[str]) -> list[Customer]:
        """The named customers in ⌈n/250⌉ calls (the engine's read of changed orders' buyers).

        Unknown ids are left out; an id of another store or type and a record that fails mapping
        are logged and skipped, not raised, so one bad buyer never stops the page of orders."""
        gids: list[str] = []
        for ref in dict.fromkeys(customer_ids):
            try:
                gids.append(self._gid(ref, "Customer"))
            except DataError as err:
                log.warning("customer id %s skipped: %s", ref, err)
        nodes_by_gid = self._read_nodes("customers_by_ids", gids, _CUSTOMERS_PER_CALL, priority=True)
        page = page_from([nodes_by_gid[g] for g in gids if g in nodes_by_gid], map_customer, self.store)
        for rejected in page.rejected:
            log.warning("customer %s not mapped: %s", rejected.source, rejected.error)
        return list(page.items)

    def get_customer(self, customer_id: str) -> Customer | None:
        gid = self._gid(customer_id, "Customer")
        node = self.client.execute("customer_by_identifier", {"identifier": {"id": gid}}, priority=True
                                   ).data.get("customerByIdentifier")
        return map_customer(node, self.store) if isinstance(node, Mapping) else None

    def backfill_orders(
        self,
        since: datetime | None = None,
        *,
        group_objects: bool = True,
        page_size: int = 250,
        workdir: str | Path | None = None,
    ) -> Iterator[Page[Order]]:
        """Every order (or those changed since ``since``) through one bulk operation.

        Streams the result file: with ``group_objects`` one order is held at a time, otherwise
        lines are staged on disk under ``workdir``. Orders with refunds are re-read whole, 40 per
        ``nodes(ids:)`` call, because bulk output cannot carry refund lines; pages keep the file's
        order and wait only for their own refunded orders.
        """
        operation = self.bulk.start(orders_bulk_query(self._since(since)), group_objects=group_objects)
        result = self.bulk.wait(operation)
        log.info("shopify bulk %s: %s objects, %s orders", result.id, result.object_count,
                 result.root_object_count)
        if not result.url:
            return
        lines = self.client.stream_lines(result.url)
        records = grouped_records(lines) if group_objects else staged_records(lines, workdir=workdir)
        buffer: list[dict[str, Any]] = []
        waiting: dict[str, int] = {}  # refunded order gid → its place in buffer
        # Enough buffered to fill a re-read call at typical refund rates, bounded for rare ones.
        hold = max(2 * page_size, _ORDERS_PER_CALL)
        for record in records:
            if record.get("refunds") and not self._skip_order(record):
                waiting[str(record["id"])] = len(buffer)
            buffer.append(record)
            if len(waiting) >= _ORDERS_PER_CALL or (waiting and len(buffer) >= hold):
                self._reread_refunded(buffer, waiting)
            if not waiting:
                while len(buffer) >= page_size:
                    yield page_from(buffer[:page_size], self._map_order, self.store, skip=self._skip_order)
                    del buffer[:page_size]
        self._reread_refunded(buffer, waiting)
        for start in range(0, len(buffer), page_size):
            yield page_from(buffer[start:start + page_size], self._map_order, self.store, skip=self._skip_order)

    def _reread_refunded(self, buffer: list[dict[str, Any]], waiting: dict[str, int]) -> None:
        """Replace the waiting bulk records by fresh full reads (refund lines included). An order
        gone meanwhile keeps its bulk record."""
        if not waiting:
            return
        fresh = self._read_nodes("orders_by_ids", list(waiting), _ORDERS_PER_CALL, priority=False)
        for gid, where in waiting.items():
            node = fresh.get(gid)
            if node is not None:
                buffer[where] = self._complete_lines(node)
        waiting.clear()

    # --- webhooks -------------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookHint | ComplianceRequest:
        """Verify and classify one delivery (raises ``AuthRejected`` on a bad HMAC)."""
        return parse_delivery(headers, raw_body, secret=self.webhook_secret, store=self.store,
                              previous_secret=self.previous_webhook_secret)

    def refresh(self, hint: WebhookHint) -> Order | Customer | None:
        """The fresh read a hint asks for."""
        if hint.gid is None or hint.action != "refresh":
            return None
        if hint.kind == "order":
            return self.get_order(hint.gid)
        if hint.kind == "customer":
            return self.get_customer(hint.gid)
        return None

    # --- customers ------------------------------------------------------------------------------

    def find_customer(self, email: str | None, phone: str | None) -> Customer | None:
        """E-mail first, then phone, by ``customerByIdentifier``: direct and index-free, so a
        customer created seconds ago is found (``customers(query:)`` would miss it)."""
        node = self._find_node(email, phone)
        return map_customer(node, self.store) if node is not None else None

    def _find_node(self, email: str | None, phone: str | None) -> dict[str, Any] | None:
        probes: list[dict[str, str]] = []
        if email and email.strip():
            probes.append({"emailAddress": email.strip().lower()})
        if phone and phone.strip():
            probes.append({"phoneNumber": phone.strip()})
        for identifier in probes:
            node = self.client.execute("customer_by_identifier", {"identifier": identifier}, priority=True
                                       ).data.get("customerByIdentifier")
            if isinstance(node, dict):
                return node
        return None

    def upsert_customers(self, writes: Sequence[CustomerWrite]) -> list[WriteResult]:
        return [self._upsert_one(w) for w in writes]

    def _upsert_one(self, write: CustomerWrite) -> WriteResult:
        customer = write.customer
        try:
            target = self._gid(write.target_id, "Customer") if write.target_id else None
            if target is None:
                found = self._find_node(customer.email_key, customer.phone_key)
                target = str(found["id"]) if found else None
            if target is None:
                try:
                    payload = self.client.mutate(
                        "customer_create", {"input": customer_input(customer)}, root="customerCreate",
                        idempotent=False, obj=write.key,
                    )
                    return self._customer_result(write.key, payload, created=True)
                except WriteRejected as err:
                    # Another worker (or a lost response) created it meanwhile: find it, update it.
                    found = self._find_node(customer.email_key, customer.phone_key)
                    if found is None:
                        raise
                    log.info("shopify customer %s already existed (%s); updating", write.key, err.field)
                    target = str(found["id"])
            payload = self.client.mutate(
                "customer_update", {"input": customer_input(customer, gid=target)}, root="customerUpdate",
                idempotent=True, obj=write.key,
            )
            return self._customer_result(write.key, payload, created=False)
        except (RejectedError, DataError) as err:
            return WriteResult(key=write.key, error=err)

    def _customer_result(self, key: str, payload: Mapping[str, Any], *, created: bool) -> WriteResult:
        node = payload.get("customer") or {}
        return WriteResult(key=key, platform_id=self._pid(str(node["id"])), created=created, payload=node)

    # --- perks ----------------------------------------------------------------------------------

    def set_tier(self, command: SetTier, customer_ref: str) -> WriteResult:
        """Add ``vinculo-tier-<tier>``, then remove every other tier tag (both idempotent)."""
        try:
            gid = self._gid(customer_ref, "Customer")
            keep = tier_tag(command.tier)
            others = sorted({tier_tag(t) for t in command.all_tiers} - {keep})
            self.client.mutate("tags_add", {"id": gid, "tags": [keep]}, root="tagsAdd", idempotent=True,
                               obj=command.key)
            if others:
                self.client.mutate("tags_remove", {"id": gid, "tags": others}, root="tagsRemove",
                                   idempotent=True, obj=command.key)
            return WriteResult(key=command.key, platform_id=self._pid(gid), payload={"tag": keep})
        except (RejectedError, DataError) as err:
            return WriteResult(key=command.key, error=err)

    def publish_loyalty(self, command: PublishLoyalty, customer_ref: str) -> WriteResult:
        """``vinculo.loyalty`` (JSON) plus typed ``points_available`` and ``tier``."""
        try:
            gid = self._gid(customer_ref, "Customer")
            written = self.set_metafields(loyalty_metafields(gid, command.figures()), obj=command.key)
            return WriteResult(key=command.key, platform_id=self._pid(gid), payload={"metafields": written})
        except (RejectedError, DataError) as err:
            return WriteResult(key=command.key, error=err)

    def set_metafields(self, entries: Sequence[Mapping[str, Any]], *, obj: str | None = None) -> int:
        """``metafieldsSet`` in calls of at most 25 entries; returns how many were written."""
        written = 0
        for start in range(0, len(entries), METAFIELDS_PER_CALL):
            chunk = list(entries[start:start + METAFIELDS_PER_CALL])
            payload = self.client.mutate("metafields_set", {"metafields": chunk}, root="metafieldsSet",
                                         idempotent=True, obj=obj)
            written += len(payload.get("metafields") or [])
        return written

    def install(self) -> list[WriteResult]:
        """Create the customer metafield definitions once per shop (``TAKEN`` = already there),
        so the loyalty fields show in the admin and reach themes and customer accounts."""
        results = []
        for key, type_name, name in LOYALTY_METAFIELDS:
            ref = f"metafield-definition:{key}"
            try:
                payload = self.client.mutate(
                    "metafield_definition_create", {"definition": metafield_definition(key, type_name, name)},
                    root="metafieldDefinitionCreate", idempotent=True, obj=ref,
                )
                created = payload.get("createdDefinition") or {}
                results.append(WriteResult(key=ref, platform_id=created.get("id"), created=True))
            except WriteRejected as err:
                if err.code == "TAKEN":
                    results.append(WriteResult(key=ref, created=False))
                else:
                    results.append(WriteResult(key=ref, error=err))
        return results

    def ensure_coupon(self, command: IssueCoupon, customer_ref: str) -> WriteResult:
        """Create the reward code unless it exists; our code is deterministic from the command
        key, so an existing code (or ``TAKEN``) means an earlier attempt already made it."""
        try:
            existing = self._discount_by_code(command.code)
            if existing is not None:
                return WriteResult(key=command.key, platform_id=self._pid(existing), created=False)
            gid = self._gid(customer_ref, "Customer")
            document, variable, data = coupon_input(command, gid)
            root = "discountCodeFreeShippingCreate" if command.kind == "free_shipping" else "discountCodeBasicCreate"
            try:
                payload = self.client.mutate(document, {variable: data}, root=root, idempotent=True,
                                             obj=command.code)
            except WriteRejected as err:
                if err.code != "TAKEN":
                    raise
                existing = self._discount_by_code(command.code)
                if existing is None:
                    raise
                return WriteResult(key=command.key, platform_id=self._pid(existing), created=False)
            node = payload.get("codeDiscountNode") or {}
            return WriteResult(key=command.key, platform_id=self._pid(str(node["id"])), created=True)
        except (RejectedError, DataError) as err:
            return WriteResult(key=command.key, error=err)

    def _discount_by_code(self, code: str) -> str | None:
        node = self.client.execute("discount_by_code", {"code": code}, priority=True
                                   ).data.get("codeDiscountNodeByCode")
        return str(node["id"]) if isinstance(node, Mapping) and node.get("id") else None

    # --- fulfilment -----------------------------------------------------------------------------

    def complete_order(self, fulfilment: Fulfilment) -> WriteResult:
        """Fulfil the order's open fulfillment orders with the ERP's tracking.

        No open fulfillment order but closed ones means it was already fulfilled (by us on an
        earlier attempt, or by the merchant): reported as done, not created.
        """
        key = fulfilment.order_id
        try:
            gid = self._gid(fulfilment.order_id, "Order")
            order = self.client.execute("fulfillment_orders", {"id": gid}, priority=True).data.get("order")
            if not isinstance(order, Mapping):
                raise NotFound(f"order {gid} does not exist", reference="shopify-order-missing",
                               platform=PLATFORM, obj=key)
            orders = nodes(order.get("fulfillmentOrders"))
            open_ids = [str(fo["id"]) for fo in orders if fo.get("status") in _OPEN_FULFILLMENT]
            if not open_ids:
                statuses = sorted({str(fo.get("status")) for fo in orders})
                if statuses and set(statuses) <= _DONE_FULFILLMENT | {"CANCELLED"} and "CLOSED" in statuses:
                    return WriteResult(key=key, platform_id=self._pid(gid), created=False)
                raise WriteRejected(
                    f"order {gid} has no open fulfillment order (statuses: {', '.join(statuses) or 'none'})",
                    reference="shopify-nothing-to-fulfil", platform=PLATFORM, obj=key,
                    hint="release holds or scheduled fulfillment orders in Shopify, then retry",
                )
            fulfillment: dict[str, Any] = {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": i} for i in open_ids],
                "notifyCustomer": False,
            }
            tracking = tracking_input(fulfilment.tracking_number, fulfilment.carrier, fulfilment.tracking_url)
            if tracking:
                fulfillment["trackingInfo"] = tracking
            payload = self.client.mutate("fulfillment_create", {"fulfillment": fulfillment},
                                         root="fulfillmentCreate", idempotent=False, obj=key)
            made = payload.get("fulfillment") or {}
            return WriteResult(key=key, platform_id=self._pid(str(made.get("id") or gid)), created=True)
        except (RejectedError, DataError) as err:
            return WriteResult(key=key, error=err)

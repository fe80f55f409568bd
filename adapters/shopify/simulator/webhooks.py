"""Signed webhook deliveries, REST-shaped as in the 2026-01 payload schemas (NOTES §7).

Payloads start from Shopify's own example for the topic (``webhooks/2026-01/*.metadata.json``
in the shared platform data, so every key the schema requires is present) with the
simulated object's values written over it. Each delivery is signed with
base64(HMAC-SHA256(app secret, raw body)) and carries the ``X-Shopify-*`` headers; a
background thread sends them with a 5 s timeout and retries on a (compressible) schedule.
``redeliver`` re-sends a recorded delivery byte-for-byte with the same ids, for dedupe tests.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import queue
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from .formats import gid, money_text
from .schema import shared_dir
from .store import BulkOperation, Customer, Order, Refund, Store

TOPIC_ENUM = {
    "customers/create": "CUSTOMERS_CREATE", "customers/update": "CUSTOMERS_UPDATE",
    "orders/create": "ORDERS_CREATE", "orders/updated": "ORDERS_UPDATED",
    "orders/paid": "ORDERS_PAID", "refunds/create": "REFUNDS_CREATE",
    "bulk_operations/finish": "BULK_OPERATIONS_FINISH",
}
STAFF_USER_ID = 1  # merchant-side helpers act as this staff member
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


@cache
def _template(topic: str) -> dict[str, Any]:
    path = shared_dir() / "shopify" / "webhooks" / "2026-01" / f"{topic.replace('/', '_')}.metadata.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["response"]
    return data


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _ts(d: datetime | None) -> str | None:
    return d.isoformat().replace("+00:00", "Z") if d is not None else None


def _set(amount: Decimal, cur: str) -> dict[str, Any]:
    m = {"amount": money_text(amount), "currency_code": cur}
    return {"shop_money": m, "presentment_money": dict(m)}


def customer_payload(store: Store, c: Customer) -> dict[str, Any]:
    p = copy.deepcopy(_template("customers/create"))
    addr = None
    if c.address is not None:
        a = c.address
        addr = {"id": a.id, "customer_id": c.id, "first_name": a.first_name, "last_name": a.last_name,
                "company": a.company, "address1": a.address1, "address2": a.address2, "city": a.city,
                "province": a.province, "country": a.country, "zip": a.zip, "phone": a.phone,
                "name": " ".join(x for x in (a.first_name, a.last_name) if x),
                "province_code": a.province_code, "country_code": a.country_code,
                "country_name": a.country, "default": True}
    p.update({
        "id": c.id, "admin_graphql_api_id": gid("Customer", c.id), "email": c.email,
        "phone": c.phone, "first_name": c.first_name, "last_name": c.last_name,
        "state": c.state.lower(), "note": c.note, "verified_email": c.verified_email,
        "tax_exempt": c.tax_exempt, "tax_exemptions": list(c.tax_exemptions),
        "created_at": _ts(c.created_at), "updated_at": _ts(c.updated_at),
        "currency": store.currency, "addresses": [addr] if addr else [], "default_address": addr,
        "multipass_identifier": None,
    })
    return p


def _line_item(store: Store, o: Order, li: Any, tmpl: dict[str, Any]) -> dict[str, Any]:
    cur = store.currency
    x = copy.deepcopy(tmpl)
    x.update({
        "id": li.id, "admin_graphql_api_id": gid("LineItem", li.id), "sku": li.sku,
        "title": li.title, "name": li.title, "quantity": li.quantity,
        "current_quantity": li.quantity - o.refunded_quantity(li.id),
        "fulfillable_quantity": max(0, li.quantity - o.refunded_quantity(li.id)
                                    - o.fulfilled_quantity(li.id)),
        "price": money_text(li.unit_price), "price_set": _set(li.unit_price, cur),
        "total_discount": money_text(li.discount), "total_discount_set": _set(li.discount, cur),
        "fulfillment_status": "fulfilled" if o.fulfilled_quantity(li.id) >= li.quantity else None,
        "variant_title": li.variant_title, "vendor": li.vendor, "product_id": None,
        "variant_id": None, "attributed_staffs": [], "discount_allocations": [], "tax_lines": [],
    })
    return x


def refund_payload(store: Store, r: Refund) -> dict[str, Any]:
    o = store.orders[r.order_id]
    cur = store.currency
    p = copy.deepcopy(_template("refunds/create"))
    tmpl_rli = p["refund_line_items"][0] if p["refund_line_items"] else {}
    by_id = {li.id: li for li in o.line_items}
    li_tmpl = tmpl_rli.get("line_item", {})
    rlis = []
    for rl in r.lines:
        x = copy.deepcopy(tmpl_rli)
        x.update({
            "id": rl.id, "quantity": rl.quantity, "line_item_id": rl.line_item_id,
            "restock_type": rl.restock_type.lower(), "subtotal": float(rl.subtotal),
            "total_tax": float(rl.tax), "subtotal_set": _set(rl.subtotal, cur),
            "total_tax_set": _set(rl.tax, cur), "location_id": None,
        })
        li = by_id[rl.line_item_id]
        lx = copy.deepcopy(li_tmpl)
        lx.update({"id": li.id, "admin_graphql_api_id": gid("LineItem", li.id), "sku": li.sku,
                   "title": li.title, "name": li.title, "quantity": li.quantity,
                   "price": money_text(li.unit_price), "price_set": _set(li.unit_price, cur),
                   "total_discount": money_text(li.discount),
                   "total_discount_set": _set(li.discount, cur), "product_id": None,
                   "variant_id": None, "discount_allocations": [], "tax_lines": []})
        x["line_item"] = lx
        rlis.append(x)
    p.update({
        "id": r.id, "admin_graphql_api_id": gid("Refund", r.id), "order_id": o.id,
        "created_at": _ts(r.created_at), "processed_at": _ts(r.created_at), "note": r.note,
        "restock": any(rl.restock_type != "NO_RESTOCK" for rl in r.lines),
        "refund_line_items": rlis, "transactions": [], "order_adjustments": [],
        "refund_shipping_lines": [], "user_id": STAFF_USER_ID, "total_duties_set": _set(Decimal("0"), cur),
    })
    return p


def _order_address(tmpl: dict[str, Any], cust: Customer | None) -> dict[str, Any]:
    """The template's address keys filled from the customer's address (blank for guests)."""
    out = {k: (None if k in ("address2", "company", "latitude", "longitude") else "") for k in tmpl}
    a = cust.address if cust is not None else None
    if a is not None:
        out.update({"address1": a.address1 or "", "address2": a.address2, "city": a.city or "",
                    "company": a.company, "country": a.country or "",
                    "country_code": a.country_code or "", "first_name": a.first_name or "",
                    "last_name": a.last_name or "", "phone": a.phone or "",
                    "province": a.province or "", "province_code": a.province_code or "",
                    "zip": a.zip or "",
                    "name": " ".join(x for x in (a.first_name, a.last_name) if x)})
    return out


def order_payload(store: Store, o: Order, topic: str = "orders/create") -> dict[str, Any]:
    cur = store.currency
    p = copy.deepcopy(_template(topic if topic != "orders/updated" else "orders/create"))
    li_tmpl = p["line_items"][0] if p["line_items"] else {}
    cust = store.customers.get(o.customer_id) if o.customer_id else None
    customer = None
    address = _order_address(p.get("billing_address") or {}, cust)
    if cust is not None:
        cp = customer_payload(store, cust)
        customer = copy.deepcopy(p.get("customer") or {})
        customer.update({k: cp[k] for k in cp if k in customer or k == "admin_graphql_api_id"})
    refunded = o.refunded_total
    current = o.total - refunded
    status = o.display_financial_status.lower()
    fstat = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(o.fulfillment_status)
    ship_tmpl = (p.get("shipping_lines") or [{}])[0]
    ships = []
    for sl in o.shipping_lines:
        x = copy.deepcopy(ship_tmpl)
        x.update({"id": sl.id, "title": sl.title, "code": sl.code, "price": money_text(sl.price),
                  "price_set": _set(sl.price, cur), "discounted_price": money_text(sl.discounted_price),
                  "discounted_price_set": _set(sl.discounted_price, cur),
                  "current_discounted_price_set": _set(sl.discounted_price, cur)})
        ships.append(x)
    p.update({
        "id": o.id, "admin_graphql_api_id": gid("Order", o.id), "name": o.name,
        "number": o.number - 1000, "order_number": o.number, "email": o.email,
        "contact_email": o.email, "created_at": _ts(o.created_at), "updated_at": _ts(o.updated_at),
        "processed_at": _ts(o.processed_at), "cancelled_at": _ts(o.cancelled_at),
        "cancel_reason": o.cancel_reason, "closed_at": _ts(o.closed_at), "test": o.test,
        "financial_status": status, "fulfillment_status": fstat, "currency": cur,
        "presentment_currency": o.presentment_currency, "tags": ", ".join(o.tags),
        "discount_codes": [{"code": c, "amount": money_text(o.discount_total), "type": "percentage"}
                           for c in o.discount_codes],
        "line_items": [_line_item(store, o, li, li_tmpl) for li in o.line_items],
        "shipping_lines": ships, "customer": customer, "taxes_included": o.taxes_included,
        "subtotal_price": money_text(o.subtotal), "subtotal_price_set": _set(o.subtotal, cur),
        "total_price": money_text(o.total), "total_price_set": _set(o.total, cur),
        "total_discounts": money_text(o.discount_total),
        "total_discounts_set": _set(o.discount_total, cur),
        "total_line_items_price": money_text(sum((li.original_total for li in o.line_items), Decimal("0"))),
        "total_line_items_price_set": _set(sum((li.original_total for li in o.line_items), Decimal("0")), cur),
        "total_shipping_price_set": _set(o.shipping_total, cur),
        "total_tax": money_text(o.total_tax), "total_tax_set": _set(o.total_tax, cur),
        "current_total_price": money_text(current), "current_total_price_set": _set(current, cur),
        "current_subtotal_price": money_text(o.subtotal - refunded),
        "current_subtotal_price_set": _set(o.subtotal - refunded, cur),
        "current_total_discounts": money_text(o.discount_total),
        "current_total_discounts_set": _set(o.discount_total, cur),
        "current_total_tax": money_text(o.total_tax), "current_total_tax_set": _set(o.total_tax, cur),
        "total_outstanding": "0.00", "source_name": o.source_name, "note": o.note,
        "refunds": [refund_payload(store, r) for r in o.refunds],
        "fulfillments": [], "discount_applications": [], "billing_address": address,
        "shipping_address": copy.deepcopy(address), "phone": None, "user_id": None, "app_id": None,
        "company": None,
    })
    return p


def bulk_payload(store: Store, b: BulkOperation) -> dict[str, Any]:
    return {"admin_graphql_api_id": gid("BulkOperation", b.id), "completed_at": _ts(b.completed_at),
            "created_at": _ts(b.created_at), "error_code": b.error_code,
            "status": b.status.lower(), "type": b.type.lower()}


def compliance_payload(store: Store, topic: str, customer: Customer | None = None,
                       order_ids: list[int] | None = None) -> dict[str, Any]:
    base: dict[str, Any] = {"shop_id": store.shop_id, "shop_domain": store.domain}
    if topic == "shop/redact":
        return base
    who = {"id": customer.id if customer else None, "email": customer.email if customer else None,
           "phone": customer.phone if customer else None}
    if topic == "customers/redact":
        return {**base, "customer": who, "orders_to_redact": list(order_ids or [])}
    return {**base, "orders_requested": list(order_ids or []), "customer": who,
            "data_request": {"id": abs(hash((store.domain, who["id"]))) % 10**9}}


def build_payload(store: Store, topic: str, obj: Any) -> dict[str, Any]:
    if topic.startswith("customers/"):
        return customer_payload(store, obj)
    if topic.startswith("orders/"):
        return order_payload(store, obj, topic)
    if topic == "refunds/create":
        return refund_payload(store, obj)
    if topic == "bulk_operations/finish":
        return bulk_payload(store, obj)
    raise ValueError(f"no payload builder for {topic}")


@dataclass
class Delivery:
    webhook_id: str
    event_id: str
    topic: str
    url: str
    body: bytes
    headers: dict[str, str]
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    delivered: bool = False


class WebhookSender:
    """Queue + worker thread delivering signed webhooks to subscribed URIs."""

    def __init__(self, store: Store, secret: str, api_version: str,
                 retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)) -> None:
        self.store = store
        self.secret = secret
        self.api_version = api_version
        self.retry_delays = retry_delays
        self.timeout = 5.0
        self.deliveries: list[Delivery] = []
        self.extra_urls: dict[str, list[str]] = {}
        self.duplicate_next = 0
        self._q: queue.Queue[tuple[Delivery, int] | None] = queue.Queue()
        self._pending = 0
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shopify-sim-webhooks", daemon=True)
        self._thread.start()
        self.on_event: Callable[[str, Any], None] = self.handle_event

    # -- event intake --------------------------------------------------------------------
    def urls_for(self, topic: str) -> list[str]:
        enum = TOPIC_ENUM.get(topic, topic.upper().replace("/", "_"))
        urls = [w.uri for w in self.store.webhooks.values()
                if w.topic == enum and w.uri.startswith("http")]
        return urls + self.extra_urls.get(topic, [])

    def handle_event(self, topic: str, obj: Any) -> None:
        urls = self.urls_for(topic)
        if not urls:
            return
        payload = build_payload(self.store, topic, obj)
        event_id = str(uuid.uuid4())
        for url in urls:
            self.send(topic, payload, url, event_id=event_id)

    # -- sending -------------------------------------------------------------------------
    def send(self, topic: str, payload: dict[str, Any], url: str, *, event_id: str | None = None,
             sub_topic: str | None = None) -> Delivery:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(self.secret, body),
            "X-Shopify-Shop-Domain": self.store.domain,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": self.store.now().isoformat().replace("+00:00", "Z"),
            "X-Shopify-Name": "vinculo",
        }
        if sub_topic:
            headers["X-Shopify-Sub-Topic"] = sub_topic
        d = Delivery(headers["X-Shopify-Webhook-Id"], headers["X-Shopify-Event-Id"], topic, url,
                     body, headers)
        self.deliveries.append(d)
        self._enqueue(d)
        if self.duplicate_next > 0:
            self.duplicate_next -= 1
            self._enqueue(d)
        return d

    def redeliver(self, delivery: Delivery | str) -> None:
        """Send a recorded delivery again: same body, same webhook and event ids."""
        if isinstance(delivery, str):
            delivery = next(d for d in self.deliveries if d.webhook_id == delivery)
        self._enqueue(delivery)

    def _enqueue(self, d: Delivery, attempt: int = 0) -> None:
        with self._cv:
            self._pending += 1
        self._q.put((d, attempt))

    def _done(self) -> None:
        with self._cv:
            self._pending -= 1
            self._cv.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._q.get()
            if item is None:
                return
            d, attempt = item
            ok = self._post(d)
            if not ok and attempt < len(self.retry_delays):
                delay = self.retry_delays[attempt]
                threading.Timer(delay, self._q.put, args=((d, attempt + 1),)).start()
                continue  # still pending
            self._done()

    def _post(self, d: Delivery) -> bool:
        d.attempts += 1
        req = urllib.request.Request(d.url, data=d.body, headers=d.headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                d.statuses.append(resp.status)
                ok = 200 <= resp.status < 300
        except urllib.error.HTTPError as e:
            d.statuses.append(e.code)
            ok = False
        except OSError as e:
            d.statuses.append(type(e).__name__)
            ok = False
        d.delivered = d.delivered or ok
        return ok

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery (with its retries) has finished."""
        with self._cv:
            return self._cv.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        self._q.put(None)

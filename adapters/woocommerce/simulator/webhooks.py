"""Webhook CRUD, the creation ping and signed, coalesced, delayed deliveries (NOTES 4.7, 7).

Deliveries are queued when a resource changes and sent by a background ticker after a
configurable delay, never inline, so tests observe the asynchronous behaviour of Action Scheduler.
A queued delivery for the same (webhook, resource id) absorbs later changes; the payload is
rendered when it is sent, so it shows the latest state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError, invalid_id, invalid_param, missing_params
from .render import php_json
from .shop import Shop
from .store import Webhook

RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
STATUSES = ("active", "paused", "disabled")
USER_AGENT = "WooCommerce/9.9.5 Hookshot (WordPress/6.9)"
MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures


def signature(raw_body: bytes, secret: str) -> str:
    """``X-WC-Webhook-Signature``: base64 HMAC-SHA256 of the exact body bytes."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify_signature(raw_body: bytes, secret: str, header_value: str) -> bool:
    return hmac.compare_digest(signature(raw_body, secret), header_value.strip())


def valid_topic(topic: str) -> bool:
    resource, _, event = topic.partition(".")
    if resource == "action":
        return event.startswith(("woocommerce_", "wc_"))
    return resource in RESOURCES and event in EVENTS


def _generated_secret() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
    return "".join(secrets.choice(alphabet) for _ in range(50))


def get(shop: Shop, webhook_id: int, status: int = 404) -> Webhook:
    w = shop.store.webhooks.get(webhook_id)
    if w is None:
        raise invalid_id("webhook", status)
    return w


def _check(data: dict[str, Any]) -> None:
    if "topic" in data and not valid_topic(str(data["topic"] or "")):
        raise ApiError(400, "woocommerce_rest_shop_webhook_invalid_topic",
                       "Webhook topic is invalid.")
    if "delivery_url" in data:
        url = str(data["delivery_url"] or "")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ApiError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or "
                           "https://.")
    if "status" in data and data["status"] not in STATUSES:
        raise invalid_param("status", "status is not one of " + ", ".join(STATUSES) + ".",
                            "rest_not_in_enum")


def create(shop: Shop, data: dict[str, Any]) -> Webhook:
    missing = [k for k in ("topic", "delivery_url") if not data.get(k)]
    if missing:
        raise missing_params(*missing)
    _check(data)
    now = shop.now()
    name = str(data.get("name") or f"Webhook created on {shop.site.local(now)}")
    w = Webhook(id=shop.store.webhook_ids(), name=name, status=str(data.get("status") or "active"),
                topic=str(data["topic"]), delivery_url=str(data["delivery_url"]),
                secret=str(data.get("secret") or _generated_secret()), created=now)
    shop.store.webhooks[w.id] = w
    shop.store.touch()
    return w


def update(shop: Shop, webhook_id: int, data: dict[str, Any]) -> Webhook:
    w = get(shop, webhook_id, status=400)
    _check(data)
    for key in ("name", "topic", "delivery_url", "secret"):
        if data.get(key):
            setattr(w, key, str(data[key]))
    if data.get("status"):
        if data["status"] == "active" and w.status != "active":
            w.failure_count = 0
        w.status = str(data["status"])
    w.modified = shop.now()
    shop.store.touch()
    return w


def delete(shop: Shop, webhook_id: int, force: bool) -> Webhook:
    w = get(shop, webhook_id)
    if not force:
        raise ApiError(501, "woocommerce_rest_trash_not_supported",
                       "Webhooks do not support trashing.")
    del shop.store.webhooks[w.id]
    shop.store.touch()
    return w


@dataclass
class Delivery:
    """One attempted POST, kept so tests can inspect exactly what went over the wire."""

    webhook_id: int
    topic: str
    resource_id: int
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int | None = None
    error: str | None = None
    sent_at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status <= 302


def post(url: str, headers: list[tuple[str, str]], body: bytes, timeout: float) -> int:
    """HTTP/1.0 POST without redirects, header order as WordPress sends them."""
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(parts.hostname or "", parts.port, timeout=timeout)
    conn._http_vsn = 10  # type: ignore[attr-defined]
    conn._http_vsn_str = "HTTP/1.0"  # type: ignore[attr-defined]
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class Dispatcher:
    """Queues, coalesces and sends deliveries on a background tick."""

    def __init__(self, shop: Shop, render: Callable[[str, int], dict[str, Any] | None], *,
                 delay: float = 0.5, tick: float = 0.05, timeout: float = 5.0) -> None:
        self.shop = shop
        self.render = render
        self.delay = delay
        self.tick = tick
        self.timeout = timeout
        self.allowed_ports: set[int] | None = None  # None: any port (tests use ephemeral ports)
        self.bad_signatures = False  # fault knob: sign with a wrong secret
        self.deliveries: list[Delivery] = []
        self.pings: list[Delivery] = []
        self._queue: dict[tuple[int, int], tuple[float, str]] = {}
        self._qlock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._send_lock = threading.Lock()

    # -- queueing -------------------------------------------------------------------------
    def on_change(self, resource: str, event: str, obj_id: int) -> None:
        topic = f"{resource}.{event}"
        due = time.monotonic() + self.delay
        for w in self.shop.store.webhooks.values():
            if w.status != "active" or w.topic != topic:
                continue
            with self._qlock:
                self._queue.setdefault((w.id, obj_id), (due, event))

    def pending(self) -> int:
        with self._qlock:
            return len(self._queue)

    # -- sending --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="woo-sim-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self._send_due(force=False)

    def flush(self) -> int:
        """Send everything queued now, whatever its due time; returns how many were sent."""
        return self._send_due(force=True)

    def _send_due(self, force: bool) -> int:
        with self._send_lock:
            now = time.monotonic()
            with self._qlock:
                due = [k for k, (t, _) in self._queue.items() if force or t <= now]
                jobs = [(k, self._queue.pop(k)[1]) for k in due]
            for (webhook_id, obj_id), event in jobs:
                self._deliver(webhook_id, obj_id, event)
            return len(jobs)

    def _deliver(self, webhook_id: int, obj_id: int, event: str) -> None:
        store = self.shop.store
        with store.lock:
            w = store.webhooks.get(webhook_id)
            if w is None or w.status != "active":
                return
            resource = w.topic.partition(".")[0]
            payload = {"id": obj_id} if event == "deleted" else self.render(resource, obj_id)
            if payload is None:
                return
            body = php_json(payload)
            ts = self.shop.now()
            secret = w.secret if not self.bad_signatures else w.secret + "-wrong"
            url, topic = w.delivery_url, w.topic
        parts = urlsplit(url)
        host = parts.netloc
        headers = [
            ("Host", host),
            ("User-Agent", USER_AGENT),
            ("Accept", "*/*"),
            ("Accept-Encoding", "deflate, gzip, br, zstd"),
            ("Content-Type", "application/json"),
            ("X-WC-Webhook-Source", self.shop.ctx.home + "/"),
            ("X-WC-Webhook-Topic", topic),
            ("X-WC-Webhook-Resource", resource),
            ("X-WC-Webhook-Event", event),
            ("X-WC-Webhook-Signature", signature(body, secret)),
            ("X-WC-Webhook-ID", str(webhook_id)),
            ("X-WC-Webhook-Delivery-ID", delivery_id(webhook_id, ts)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
        ]
        d = Delivery(webhook_id, topic, obj_id, url, headers, body)
        self._send(d)
        self.deliveries.append(d)
        with store.lock:
            w = store.webhooks.get(webhook_id)
            if w is None:
                return
            if d.ok:
                w.failure_count = 0
            elif w.failure_count > MAX_FAILURES:
                w.status = "disabled"
            else:
                w.failure_count += 1

    def _send(self, d: Delivery) -> None:
        port = urlsplit(d.url).port or (443 if d.url.startswith("https") else 80)
        if self.allowed_ports is not None and port not in self.allowed_ports:
            d.error = "A valid URL was not provided."
            return
        try:
            d.status = post(d.url, d.headers, d.body, self.timeout)
        except OSError as exc:
            d.error = f"{type(exc).__name__}: {exc}"

    def ping(self, webhook_id: int) -> Delivery | None:
        """The unsigned form ping sent while the webhook is being created."""
        store = self.shop.store
        with store.lock:
            w = store.webhooks.get(webhook_id)
            if w is None:
                return None
            url = w.delivery_url
        body = f"webhook_id={webhook_id}".encode()
        headers = [
            ("Host", urlsplit(url).netloc),
            ("User-Agent", USER_AGENT),
            ("Accept", "*/*"),
            ("Accept-Encoding", "deflate, gzip, br, zstd"),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ]
        d = Delivery(webhook_id, "ping", 0, url, headers, body)
        self._send(d)
        self.pings.append(d)
        if d.ok:
            with store.lock:
                w = store.webhooks.get(webhook_id)
                if w is not None:
                    w.modified = self.shop.now()
        return d


_DELIVERY_SALT = secrets.token_hex(16)


def delivery_id(webhook_id: int, ts: int) -> str:
    """``wp_hash(webhook_id . time)``: same webhook, same second, same id."""
    return hmac.new(_DELIVERY_SALT.encode(), f"{webhook_id}{ts}".encode(), hashlib.md5).hexdigest()

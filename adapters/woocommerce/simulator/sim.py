"""``WooSimulator``: the test-facing object that owns the server, the shop and the knobs.

    with WooSimulator(consumer_key="ck_simulator_key", consumer_secret="cs_simulator_secret") as sim:
        sim.seed(customers=20, orders=100)
        API(url=sim.url, consumer_key=..., consumer_secret=...).get("orders")

The merchant helpers (``create_order``, ``set_order_status``, ``add_refund``, ``update_customer``…)
change the shop the way the WordPress admin would: they bump ``date_modified`` and queue webhooks,
without going through HTTP or being counted as API requests.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from types import TracebackType
from typing import Any

from . import coupons as coupon_ops
from . import customers as customer_ops
from . import orders as order_ops
from . import products as product_ops
from . import shapes
from .auth import ApiKey, Authenticator
from .clock import SimClock
from .faults import Faults
from .routes import ROUTES
from .server import RequestRecord, Server
from .shapes import Ctx
from .shop import Shop
from .store import Store
from .values import SiteTime
from .webhooks import Delivery, Dispatcher


class WooSimulator:
    def __init__(self, consumer_key: str = "ck_simulator_key",
                 consumer_secret: str = "cs_simulator_secret", *,
                 permissions: str = "read_write", scheme: str = "http",
                 clock: SimClock | None = None, utc_offset_minutes: int = 0,
                 webhook_delay: float = 0.5, webhook_tick: float = 0.05,
                 webhook_timeout: float = 5.0, host: str = "127.0.0.1", port: int = 0,
                 currency: str = "EUR") -> None:
        if scheme not in ("http", "https"):
            raise ValueError("scheme must be http or https")
        self.scheme = scheme
        self.clock = clock or SimClock()
        self.store = Store()
        self.auth = Authenticator(self.clock, scheme=scheme)
        self.auth.add_key(ApiKey(consumer_key, consumer_secret, permissions))
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.errors: list[BaseException] = []  # unexpected simulator failures (answered 500)
        self._log_lock = threading.Lock()
        self._server = Server(self, host, port)
        self.url = f"http://{host}:{self._server.port}"
        self.home_url = f"{scheme}://{host}:{self._server.port}"
        self.site = SiteTime(utc_offset_minutes)
        self.ctx = Ctx(self.home_url, self.site)
        self.shop = Shop(self.store, self.clock, self.ctx, currency=currency)
        self.dispatcher = Dispatcher(self.shop, self._render_resource, delay=webhook_delay,
                                     tick=webhook_tick, timeout=webhook_timeout)
        self.store.listeners.append(self.dispatcher.on_change)
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> WooSimulator:
        if not self._started:
            self._server.start()
            self.dispatcher.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.dispatcher.stop()
            self._server.stop()
            self._started = False

    def __enter__(self) -> WooSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"{self.url}/wp-json/wc/v3"

    def add_key(self, consumer_key: str, consumer_secret: str,
                permissions: str = "read_write") -> None:
        self.auth.add_key(ApiKey(consumer_key, consumer_secret, permissions))

    # -- request accounting ---------------------------------------------------------------
    def _log_request(self, record: RequestRecord) -> None:
        with self._log_lock:
            self.requests.append(record)
            self.counts[(record.method, record.path)] += 1

    def count(self, method: str | None = None, path: str | None = None) -> int:
        with self._log_lock:
            return sum(n for (m, p), n in self.counts.items()
                       if (method is None or m == method.upper()) and (path is None or p == path))

    def reset_counts(self) -> None:
        with self._log_lock:
            self.requests.clear()
            self.counts.clear()

    # -- webhooks -------------------------------------------------------------------------
    @property
    def deliveries(self) -> list[Delivery]:
        return self.dispatcher.deliveries

    def flush_webhooks(self) -> int:
        return self.dispatcher.flush()

    def _render_resource(self, resource: str, obj_id: int) -> dict[str, Any] | None:
        store = self.store
        if resource == "order" and obj_id in store.orders:
            return shapes.order(self.ctx, store, store.orders[obj_id])
        if resource == "customer" and obj_id in store.customers:
            return shapes.customer(self.ctx, store.customers[obj_id])
        if resource == "coupon" and obj_id in store.coupons:
            return shapes.coupon(self.ctx, store.coupons[obj_id])
        if resource == "product" and obj_id in store.products:
            return shapes.product(self.ctx, store.products[obj_id])
        return None

    # -- merchant helpers (in-memory, like the WordPress admin) ----------------------------
    def create_customer(self, role: str = "customer", **data: Any) -> dict[str, Any]:
        with self.store.lock:
            return shapes.customer(self.ctx, customer_ops.create(self.shop, data, role=role))

    def update_customer(self, customer_id: int, **data: Any) -> dict[str, Any]:
        with self.store.lock:
            return shapes.customer(self.ctx, customer_ops.update(self.shop, customer_id, data))

    def create_product(self, **data: Any) -> dict[str, Any]:
        with self.store.lock:
            return shapes.product(self.ctx, product_ops.create(self.shop, data))

    def create_coupon(self, **data: Any) -> dict[str, Any]:
        with self.store.lock:
            return shapes.coupon(self.ctx, coupon_ops.create(self.shop, data))

    def update_coupon(self, coupon_id: int, **data: Any) -> dict[str, Any]:
        with self.store.lock:
            return shapes.coupon(self.ctx, coupon_ops.update(self.shop, coupon_id, data))

    def create_order(self, **data: Any) -> dict[str, Any]:
        with self.store.lock:
            return shapes.order(self.ctx, self.store, order_ops.create(self.shop, data))

    def update_order(self, order_id: int, **data: Any) -> dict[str, Any]:
        with self.store.lock:
            return shapes.order(self.ctx, self.store, order_ops.update(self.shop, order_id, data))

    def set_order_status(self, order_id: int, status: str) -> dict[str, Any]:
        return self.update_order(order_id, status=status)

    def add_refund(self, order_id: int, amount: str, reason: str = "",
                   api_refund: bool = False) -> dict[str, Any]:
        with self.store.lock:
            r = order_ops.create_refund(self.shop, order_id, {"amount": amount, "reason": reason,
                                                              "api_refund": api_refund})
            return shapes.refund(self.ctx, r)

    def add_order_note(self, order_id: int, note: str, customer_note: bool = False) -> dict[str, Any]:
        with self.store.lock:
            n = order_ops.add_note(self.shop, order_id, {"note": note,
                                                         "customer_note": customer_note})
            return shapes.note(self.ctx, n)

    def get_order(self, order_id: int) -> dict[str, Any]:
        with self.store.lock:
            return shapes.order(self.ctx, self.store, order_ops.get(self.shop, order_id))

    def get_customer(self, customer_id: int) -> dict[str, Any]:
        with self.store.lock:
            return shapes.customer(self.ctx, customer_ops.get(self.shop, customer_id))

    def get_coupon(self, coupon_id: int) -> dict[str, Any]:
        with self.store.lock:
            return shapes.coupon(self.ctx, coupon_ops.get(self.shop, coupon_id))

    # -- seeding --------------------------------------------------------------------------
    def seed(self, customers: int = 50, orders: int = 200, seed: int = 42,
             now: datetime | None = None, months: int = 6) -> dict[str, int]:
        from .seed import seed_shop

        with self.store.lock:
            return seed_shop(self.shop, customers=customers, orders=orders, seed=seed, now=now,
                             months=months)

    # -- index ----------------------------------------------------------------------------
    def index(self) -> dict[str, Any]:
        routes: dict[str, Any] = {}
        for r in ROUTES:
            path = "/wc/v3/" + r.pattern.pattern.strip("^$")
            routes[path] = {"namespace": "wc/v3", "methods": r.allow.split(", ")}
        return {"namespace": "wc/v3", "routes": routes,
                "_links": {"up": [{"href": f"{self.home_url}/wp-json/"}]}}

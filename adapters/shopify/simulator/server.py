"""The simulator: a real HTTP server on 127.0.0.1 speaking Admin GraphQL 2026-01.

Request pipeline, as Shopify's: faults (tests only) → token check (401 string body) →
version resolution (``X-Shopify-API-Version``) → parse/validate/coerce (errors without
``data``/``extensions``) → requested cost (``MAX_COST_EXCEEDED`` above 1,000) → bucket
admission (``THROTTLED`` with HTTP 200) → execution over the in-memory shop → actual cost,
refund of the difference, ``extensions.cost``.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from graphql import FieldNode, execute

from .bucket import LeakyBucket
from .bulk import BulkRunner
from .cost import MAX_SINGLE_QUERY_COST, CostCalculator
from .mutations import mutation_root
from .queries import query_root
from .schema import API_VERSION, SUPPORTED_VERSIONS, get_schema
from .seed import seed_shop
from .store import Customer, Fulfillment, Order, Refund, Store
from .validation import Prepared, prepare
from .views import Context, resolve_field
from .webhooks import COMPLIANCE_TOPICS, Delivery, WebhookSender, compliance_payload

UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
DEFAULT_SCOPES = frozenset({
    "read_customers", "write_customers", "read_orders", "write_orders", "read_all_orders",
    "read_discounts", "write_discounts", "read_fulfillments", "write_fulfillments",
    "read_merchant_managed_fulfillment_orders", "write_merchant_managed_fulfillment_orders",
})
_PATH = re.compile(r"^/admin/api/(?:(?P<version>[^/]+)/)?graphql\.json$")


class ManualClock:
    """Injectable clock for tests: time only moves when told to."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.t = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


@dataclass
class Faults:
    """Runtime-settable fault knobs; all off by default."""

    latency: float = 0.0
    http_429: int = 0
    retry_after: str = "2.0"
    http_5xx: int = 0
    status_5xx: int = 503
    reset: int = 0
    slow_body: float = 0.0
    throttle: int = 0

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


class ShopifySimulator:
    """One simulated shop behind a real HTTP server; see ``tests/fixtures/shopify_simulator.py``."""

    def __init__(self, *, access_token: str = "shpat_simulator_token",
                 api_secret: str = "simulator-app-secret",
                 shop_domain: str = "vinculo-sim.myshopify.com", plan: str = "standard",
                 clock: Callable[[], float] | None = None, bulk_limit: int = 5,
                 bulk_min_seconds: float = 0.0, scopes: frozenset[str] = DEFAULT_SCOPES,
                 webhook_retry_delays: tuple[float, ...] | None = None) -> None:
        self.schema = get_schema()
        self.clock: Callable[[], float] = clock or time.time
        self.access_token = access_token
        self.api_secret = api_secret
        self.store = Store(self.clock, domain=shop_domain)
        self.bucket = LeakyBucket(self.clock, plan)
        self.bulk = BulkRunner(self.schema, self.store, limit=bulk_limit, min_seconds=bulk_min_seconds)
        self.scopes = scopes
        self.faults = Faults()
        self.counts: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self._count_lock = threading.Lock()
        kwargs = {"retry_delays": webhook_retry_delays} if webhook_retry_delays is not None else {}
        self.webhooks = WebhookSender(self.store, api_secret, API_VERSION, **kwargs)
        self.store.listeners.append(self.webhooks.on_event)
        self.bulk.query_root = lambda ctx: query_root(ctx, self.bulk, self.scopes)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> ShopifySimulator:
        sim = self

        class Handler(_Handler):
            simulator = sim

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="shopify-sim",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.webhooks.close()

    def __enter__(self) -> ShopifySimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "simulator not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def shop_domain(self) -> str:
        return self.store.domain

    @property
    def admin_api_base(self) -> str:
        """``…/admin/api/2026-01``: what ShopifyAPI calls the "site"."""
        return f"{self.url}/admin/api/{API_VERSION}"

    @property
    def graphql_url(self) -> str:
        return f"{self.admin_api_base}/graphql.json"

    # -- data ----------------------------------------------------------------------------
    def seed(self, customers: int = 10, orders: int = 20, seed: int = 1234, days: int = 365) -> None:
        seed_shop(self.store, customers=customers, orders=orders, seed=seed, days=days)

    def create_customer(self, **fields: Any) -> Customer:
        return self.store.add_customer(**fields)

    def update_customer(self, customer_id: int, **changes: Any) -> Customer:
        return self.store.update_customer(customer_id, **changes)

    def create_order(self, **fields: Any) -> Order:
        return self.store.add_order(**fields)

    def update_order(self, order_id: int, **changes: Any) -> Order:
        return self.store.update_order(order_id, **changes)

    def add_refund(self, order_id: int, lines: list[tuple[int, int]] | None = None,
                   shipping: Decimal = Decimal("0"), **kw: Any) -> Refund:
        return self.store.add_refund(order_id, lines, shipping=shipping, **kw)

    def add_fulfillment(self, order_id: int, lines: list[tuple[int, int]] | None = None,
                        **kw: Any) -> Fulfillment:
        return self.store.add_fulfillment(order_id, lines, **kw)

    def set_plan(self, plan: str) -> None:
        self.bucket.set_plan(plan)

    def set_index_lag(self, seconds: float) -> None:
        self.store.index_lag_seconds = seconds

    # -- counters ------------------------------------------------------------------------
    def reset_counts(self) -> None:
        with self._count_lock:
            self.counts.clear()
            self.requests.clear()

    def _count(self, key: str) -> None:
        with self._count_lock:
            self.counts[key] += 1

    # -- webhooks ------------------------------------------------------------------------
    def subscribe_webhook(self, topic: str, url: str) -> None:
        """App-configuration subscription (no API call), e.g. ``"orders/create"``."""
        self.webhooks.extra_urls.setdefault(topic, []).append(url)

    def send_compliance(self, topic: str, url: str, customer: Customer | None = None,
                        order_ids: list[int] | None = None) -> Delivery:
        if topic not in COMPLIANCE_TOPICS:
            raise ValueError(f"not a compliance topic: {topic}")
        return self.webhooks.send(topic, compliance_payload(self.store, topic, customer, order_ids), url)

    def wait_webhooks(self, timeout: float = 10.0) -> bool:
        return self.webhooks.wait(timeout)

    def redeliver(self, delivery: Delivery | str) -> None:
        self.webhooks.redeliver(delivery)

    # -- GraphQL -------------------------------------------------------------------------
    def handle_graphql(self, body: dict[str, Any], api_version: str) -> dict[str, Any]:
        """Answer one GraphQL request body (the HTTP layer has done auth and faults)."""
        schema = self.schema
        prepared = prepare(schema, body.get("query"), body.get("variables"), body.get("operationName"))
        self._record(body, prepared)
        if not isinstance(prepared, Prepared):
            return {"errors": prepared}
        calc = CostCalculator(schema, prepared.operation, prepared.fragments, prepared.variables)
        requested = calc.requested()
        if requested > MAX_SINGLE_QUERY_COST:
            return {"errors": [{
                "message": (f"Query cost is {requested}, which exceeds the single query max cost "
                            f"limit ({MAX_SINGLE_QUERY_COST}).\n\nSee https://shopify.dev/concepts/"
                            "about-apis/rate-limits for more information on how the\ncost of a query "
                            "is calculated.\n\nTo query larger amounts of data with fewer limits, bulk "
                            "operations should be used instead.\nSee https://shopify.dev/tutorials/"
                            "perform-bulk-operations-with-admin-api for usage details.\n"),
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                               "maxCost": MAX_SINGLE_QUERY_COST}}]}
        forced = False
        if self.faults.throttle > 0:
            self.faults.throttle -= 1
            forced = True
        ok, status = (False, self.bucket.status()) if forced else self.bucket.try_take(requested)
        if not ok:
            return {"errors": [{"message": "Throttled", "extensions": {
                        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                            "throttleStatus": status.as_json()}}}
        ctx = Context(self.store, self.url, api_version)
        is_mutation = prepared.operation.operation.value == "mutation"
        root = (mutation_root(ctx, self.bulk) if is_mutation
                else query_root(ctx, self.bulk, self.scopes))
        with self.store.lock:
            result = execute(schema, prepared.document, root_value=root, context_value=ctx,
                             variable_values=prepared.variables,
                             operation_name=(prepared.operation.name.value
                                             if prepared.operation.name else None),
                             field_resolver=resolve_field)
        out: dict[str, Any] = {}
        data = result.data
        errors = [e.formatted for e in result.errors or []]
        if any((e.get("extensions") or {}).get("code") == "BAD_REQUEST" for e in errors):
            data = None
        if errors:
            out["errors"] = errors
        out["data"] = data
        actual = min(requested, calc.actual(data))
        status = self.bucket.give_back(requested - actual)
        ext: dict[str, Any] = {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                                        "throttleStatus": status.as_json()}}
        if ctx.search:
            ext["search"] = ctx.search
        out["extensions"] = ext
        return out

    def _record(self, body: dict[str, Any], prepared: Any) -> None:
        name = body.get("operationName")
        roots: list[str] = []
        if isinstance(prepared, Prepared):
            name = name or (prepared.operation.name.value if prepared.operation.name else None)
            roots = [s.name.value for s in prepared.operation.selection_set.selections
                     if isinstance(s, FieldNode)]
        with self._count_lock:
            self.counts["requests"] += 1
            if name:
                self.counts[f"op:{name}"] += 1
            for r in roots:
                self.counts[r] += 1
            self.requests.append({"operationName": name, "roots": roots,
                                  "variables": body.get("variables")})


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK adds ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    simulator: ShopifySimulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
        sim = self.simulator
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if sim.faults.slow_body > 0 and len(body) > 1:
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(sim.faults.slow_body)
            self.wfile.write(body[half:])
        else:
            self.wfile.write(body)

    def _reset(self) -> None:
        """Abort the TCP connection (RST) as a dropped upstream would."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        parsed = urlparse(self.path)
        m = re.match(r"^/bulk/(\d+)\.jsonl$", parsed.path)
        if m:
            token = parse_qs(parsed.query).get("token", [""])[0]
            content = self.simulator.bulk.file(int(m.group(1)), token)
            if content is None:
                self._send(403, b"<Error><Code>AccessDenied</Code></Error>", content_type="application/xml")
                return
            self._send(200, content, content_type="application/jsonl")
            return
        self._send(404, _json({"errors": "Not Found"}))

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        sim = self.simulator
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        f = sim.faults
        if f.latency > 0:
            time.sleep(f.latency)
        if f.reset > 0:
            f.reset -= 1
            self._reset()
            return
        if f.http_429 > 0:
            f.http_429 -= 1
            self._send(429, _json({"errors": "Exceeded 2 calls per second for api client. Reduce "
                                   "request rates to resume uninterrupted service."}),
                       {"Retry-After": f.retry_after})
            return
        if f.http_5xx > 0:
            f.http_5xx -= 1
            self._send(f.status_5xx, _json({"errors": "Internal Server Error"}))
            return
        m = _PATH.match(urlparse(self.path).path)
        if not m:
            self._send(404, _json({"errors": "Not Found"}))
            return
        if self.headers.get("X-Shopify-Access-Token") != sim.access_token:
            self._send(401, _json({"errors": UNAUTHORIZED}),
                       {"WWW-Authenticate": 'Basic Realm="Shopify API Authentication"'})
            return
        requested = m.group("version")
        served = requested if requested in SUPPORTED_VERSIONS else API_VERSION
        try:
            body = json.loads(raw.decode() or "{}")
            if not isinstance(body, dict):
                raise ValueError("body must be an object")
        except ValueError:
            self._send(400, _json({"errors": {"query": "Required parameter missing or invalid"}}),
                       {"X-Shopify-API-Version": served})
            return
        payload = sim.handle_graphql(body, served)
        self._send(200, _json(payload), {"X-Shopify-API-Version": served})

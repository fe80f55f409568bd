"""The client against a scripted GraphQL endpoint over real HTTP on 127.0.0.1.

Bodies are Shopify's own where a capture holds one (userErrors with TAKEN, search warnings,
ACCESS_DENIED, the 401 string body); the scripted server only replays them in order.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from adapters.shopify.client import ShopifyClient
from adapters.shopify.throttle import ShopBucket
from connector.errors import (
    AuthRejected,
    ConfigError,
    PlatformUnavailable,
    RateLimited,
    ServerDown,
    UnsupportedApiVersion,
    WriteRejected,
)

CAPTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "shopify" / "captures"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"


def capture(name: str) -> Any:
    return json.loads((CAPTURES / name).read_text())


def cost_ext(requested: int = 10, available: int = 1990) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested,
                     "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": available,
                                        "restoreRate": 100}}}


Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body (or bytes)


class Scripted:
    """Replays queued replies in order; records every request it received."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                script.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                if script.delay:
                    time.sleep(script.delay)
                status, headers, payload = script.replies.pop(0) if script.replies else (
                    200, {}, {"data": {}, "extensions": cost_ext()})
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Request-Id", "req-1")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


class Sleeps(list[float]):
    """Records sleeps and moves its own clock by them, so bucket maths is deterministic."""

    now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make_client(url: str, sleeps: Sleeps | None = None, **kw: Any) -> ShopifyClient:
    sleeps = sleeps if sleeps is not None else Sleeps()
    bucket = ShopBucket(sleep=sleeps, clock=sleeps.clock, jitter=lambda: 0.1)
    return ShopifyClient(shop_domain="test-shop.myshopify.com", access_token=TOKEN, base_url=url,
                         bucket=bucket, sleep=sleeps, **kw)


def test_sends_token_header_operation_name_and_version_path(scripted: Scripted) -> None:
    scripted.replies.append((200, {"X-Shopify-API-Version": "2026-01"},
                             {"data": {"shop": {"name": "Test"}}, "extensions": cost_ext(2)}))
    result = make_client(scripted.url).execute("shop")
    assert result.data == {"shop": {"name": "Test"}}
    assert result.request_id == "req-1"
    req = scripted.requests[0]
    assert req["path"] == "/admin/api/2026-01/graphql.json"
    assert req["headers"]["X-Shopify-Access-Token"] == TOKEN
    assert req["body"]["operationName"] == "ShopInfo"


def test_401_names_the_access_token_key_and_never_the_token(scripted: Scripted) -> None:
    body = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    scripted.replies.append((401, {"WWW-Authenticate": 'Basic Realm="Shopify API Authentication"'}, body))
    with pytest.raises(AuthRejected) as info:
        make_client(scripted.url).execute("shop")
    err = info.value
    assert err.key == "access_token"
    assert err.kind == "config"
    assert "access_token" in str(err)
    assert TOKEN not in str(err) and TOKEN not in json.dumps(err.to_dict())
    assert len(scripted.requests) == 1  # never retried


def test_fallen_forward_version_names_both_versions(scripted: Scripted) -> None:
    scripted.replies.append((200, {"X-Shopify-API-Version": "2026-04"},
                             {"data": {"shop": {}}, "extensions": cost_ext(2)}))
    with pytest.raises(UnsupportedApiVersion) as info:
        make_client(scripted.url).execute("shop")
    assert "2026-01" in str(info.value) and "2026-04" in str(info.value)


def test_malformed_version_refused_before_any_call() -> None:
    with pytest.raises(UnsupportedApiVersion) as info:
        ShopifyClient(shop_domain="x.myshopify.com", access_token=TOKEN, api_version="2026-1")
    assert "2026-1" in str(info.value) and "2026-01" in str(info.value)


def test_throttled_storm_is_waited_out_not_surfaced(scripted: Scripted) -> None:
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 507, "actualQueryCost": None,
                                "throttleStatus": {"maximumAvailable": 1000.0,
                                                   "currentlyAvailable": 493, "restoreRate": 50.0}}},
    }
    scripted.replies += [(200, {}, throttled)] * 3
    scripted.replies.append((200, {}, {"data": {"shop": {"name": "ok"}}, "extensions": cost_ext(2)}))
    sleeps = Sleeps()
    client = make_client(scripted.url, sleeps)
    assert client.execute("shop").data == {"shop": {"name": "ok"}}
    assert client.bucket.stats.throttled == 3
    # Each wait: (507 requested + 100 reserve − 493 available)/50 = 2.28 s plus 0.1 s jitter;
    # after it the bucket holds enough, so the resend itself does not wait again.
    assert sleeps == pytest.approx([2.38, 2.38, 2.38])
    assert len(scripted.requests) == 4


def test_429_honours_retry_after(scripted: Scripted) -> None:
    scripted.replies.append((429, {"Retry-After": "2.5"}, {"errors": "Too many requests"}))
    scripted.replies.append((200, {}, {"data": {"shop": {}}, "extensions": cost_ext(2)}))
    sleeps = Sleeps()
    make_client(scripted.url, sleeps).execute("shop")
    assert sleeps == [2.5]


def test_5xx_retried_for_reads_until_the_budget_is_spent(scripted: Scripted) -> None:
    scripted.replies += [(503, {}, {"errors": "unavailable"})] * 3
    with pytest.raises(PlatformUnavailable):
        make_client(scripted.url, max_retries=2).execute("shop")
    assert len(scripted.requests) == 3


def test_5xx_on_a_non_idempotent_mutation_is_not_resent(scripted: Scripted) -> None:
    scripted.replies.append((502, {}, {"errors": "bad gateway"}))
    with pytest.raises(PlatformUnavailable):
        make_client(scripted.url).mutate(
            "fulfillment_create", {"fulfillment": {"lineItemsByFulfillmentOrder": []}},
            root="fulfillmentCreate", idempotent=False)
    assert len(scripted.requests) == 1


def test_user_errors_become_write_rejected_with_field_path(scripted: Scripted) -> None:
    real = capture("2026-04__discounts__discount-validation-branches.json")
    duplicate = real["validation"]["omnibus"]["response"]["data"]["duplicate"]
    scripted.replies.append((200, {}, {"data": {"discountCodeBasicCreate": duplicate},
                                       "extensions": cost_ext(14)}))
    with pytest.raises(WriteRejected) as info:
        make_client(scripted.url).mutate("discount_basic_create", {"basicCodeDiscount": {}},
                                         root="discountCodeBasicCreate", idempotent=True)
    assert info.value.field == "basicCodeDiscount.code"
    assert info.value.code == "TAKEN"
    assert "Code must be unique" in str(info.value)


def test_invalid_variable_with_no_data_is_rejected_once(scripted: Scripted) -> None:
    real = capture("2026-04__discounts__discount-validation-branches.json")
    scripted.replies.append((200, {}, real["validation"]["missingInput"]["response"]))
    with pytest.raises(WriteRejected) as info:
        make_client(scripted.url).execute("discount_basic_create", {})
    assert info.value.code == "INVALID_VARIABLE"
    assert len(scripted.requests) == 1


def test_parse_error_without_data_is_fatal_and_not_retried(scripted: Scripted) -> None:
    body = {"errors": [{"message": "syntax error, unexpected end of file at [3, 5]",
                        "locations": [{"line": 3, "column": 5}],
                        "extensions": {"code": "PARSE_ERROR"}}]}
    scripted.replies.append((200, {}, body))
    with pytest.raises(ConfigError) as info:
        make_client(scripted.url).execute("shop")
    assert info.value.reference == "shopify-query-rejected"
    assert len(scripted.requests) == 1


def test_ignored_search_filter_is_refused(scripted: Scripted) -> None:
    real = capture("2025-01__customers__customers-count.json")
    scripted.replies.append((200, {}, {"data": real["data"], "extensions": real["extensions"]}))
    with pytest.raises(ConfigError) as info:
        make_client(scripted.url).execute("shop")
    assert info.value.reference == "shopify-search-ignored"
    assert "email:grace@example.com" in str(info.value)


def test_access_denied_names_the_scope(scripted: Scripted) -> None:
    real = capture("2026-04__admin-platform__by-id-not-found-read.json")
    scripted.replies.append((200, {}, real["cases"]["customers"]["response"]["body"]))
    with pytest.raises(AuthRejected) as info:
        make_client(scripted.url).execute("shop")
    assert info.value.reference == "shopify-scope-missing"
    assert "read_customer_payment_methods" in str(info.value)


def test_max_cost_exceeded_halves_first_and_remembers(scripted: Scripted) -> None:
    too_costly = {"errors": [{"message": "Query cost is 2003, which exceeds the single query max cost limit (1000).",
                              "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 2003, "maxCost": 1000}}]}
    empty = {"data": {"customers": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}},
             "extensions": cost_ext(3)}
    scripted.replies += [(200, {}, too_costly), (200, {}, empty), (200, {}, empty)]
    client = make_client(scripted.url)
    client.execute("customers_incremental", {"first": 250})
    client.execute("customers_incremental", {"first": 250})
    firsts = [r["body"]["variables"]["first"] for r in scripted.requests]
    assert firsts == [250, 125, 125]


def test_learns_the_requested_cost_of_each_document(scripted: Scripted) -> None:
    scripted.replies.append((200, {}, {"data": {"shop": {}}, "extensions": cost_ext(requested=7, available=1993)}))
    client = make_client(scripted.url)
    client.execute("shop")
    assert client.bucket.learned_cost("shop:None") == 7
    assert client.bucket.estimate() == pytest.approx(1993, abs=1)


def test_timeout_is_explicit(scripted: Scripted) -> None:
    scripted.delay = 0.5
    with pytest.raises(PlatformUnavailable) as info:
        make_client(scripted.url, timeout=0.1, max_retries=1).execute("shop")
    assert info.value.reference == "shopify-timeout"


def test_refused_connection_names_the_url_key() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ServerDown) as info:
        make_client(f"http://127.0.0.1:{port}", max_retries=1).execute("shop")
    assert info.value.key == "base_url"
    assert TOKEN not in str(info.value)


def test_still_throttled_after_the_bound_is_a_transient_error(scripted: Scripted) -> None:
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                 "extensions": {"cost": {"requestedQueryCost": 2, "actualQueryCost": None,
                                         "throttleStatus": {"maximumAvailable": 2000,
                                                            "currentlyAvailable": 0, "restoreRate": 100}}}}
    scripted.replies += [(200, {}, throttled)] * 6
    with pytest.raises(RateLimited) as info:
        make_client(scripted.url, max_throttled=3, max_retries=1).execute("shop")
    assert info.value.kind == "transient"

"""WooClient over real HTTP against a scripted stdlib server on 127.0.0.1: signing (checked by the
store-side reference in ../shared/tools), retries, Retry-After, timeouts, error translation and
secret hygiene."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.woocommerce.client import (
    MAX_INLINE_WAIT,
    WooClient,
    has_next_link,
    oauth_signature,
    parse_retry_after,
)
from connector.errors import (
    AlreadyExists,
    AuthRejected,
    ConfigError,
    MalformedPayload,
    NotFound,
    PlatformUnavailable,
    RateLimited,
    ServerDown,
    UnsupportedApiVersion,
    VinculoError,
    WriteRejected,
)

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
CK = "ck_0123456789abcdef0123456789abcdef01234567"
CS = "cs_fedcba9876543210fedcba9876543210fedcba98"


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("woo_auth_reference", SHARED / "tools" / "woo_auth_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = _reference()


def recorded(name: str) -> Any:
    return json.loads((SHARED / "woocommerce" / "recorded" / name).read_text(encoding="utf-8"))


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent verbatim
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class Scripted:
    """Answers requests from a script (last reply repeats) and records what it saw."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self.nonces: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                outer.seen.append(
                    Seen(self.command, parts.path, parts.query, dict(self.headers.items()), body, self.client_address[1])
                )
                reply = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                if reply.delay:
                    time.sleep(reply.delay)
                if isinstance(reply.body, bytes):
                    payload = reply.body
                    ctype = "text/html; charset=UTF-8"
                else:
                    payload = json.dumps(reply.body).encode()
                    ctype = "application/json; charset=UTF-8"
                self.send_response(reply.status)
                headers = {"Content-Type": ctype, **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)  # the client may have given up (timeout tests)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, *replies: Reply) -> None:
        self.script = list(replies)
        self.seen.clear()

    def oauth_verdict(self, seen: Seen) -> str | None:
        return REFERENCE.oauth_error(  # type: ignore[no-any-return]
            seen.method,
            self.url + seen.path,
            seen.query,
            lambda key: CS if key == CK else None,
            self.nonces,
        )


@pytest.fixture(scope="module")
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.server.shutdown()
    s.server.server_close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(server: Scripted, **kw: Any) -> tuple[WooClient, Sleeps]:
    sleeps = Sleeps()
    options: dict[str, Any] = dict(url=server.url, consumer_key=CK, consumer_secret=CS, sleep=sleeps)
    options.update(kw)
    return WooClient(**options), sleeps


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert CS not in text and CK not in text
        assert "oauth_signature=" not in text or "oauth_signature=REDACTED" in text


# --- signing ---------------------------------------------------------------------------------


def test_oauth_requests_pass_the_store_side_check(server: Scripted) -> None:
    server.reply(Reply(body=[]))
    c, _ = client(server)
    assert c.auth == "oauth1"  # http → OAuth 1.0a, as the store requires
    c.get(
        "orders",
        {
            "status": ["processing", "completed"],  # list → comma-joined
            "search": "a/b c+d%é",  # '/', space, '+', '%', non-ASCII
            "modified_after": datetime(2026, 11, 22, 18, 0, tzinfo=UTC),
            "dates_are_gmt": True,
        },
    )
    (seen,) = server.seen
    assert server.oauth_verdict(seen) is None
    params = parse_qsl(seen.query)
    keys = [k for k, _ in params]
    assert len(keys) == len(set(keys))  # every parameter exactly once
    values = dict(params)
    assert values["status"] == "processing,completed"
    assert values["search"] == "a/b c+d%é"
    assert values["modified_after"] == "2026-11-22T18:00:00"  # UTC, no offset (NOTES §3.1)
    assert values["dates_are_gmt"] == "true"
    assert values["oauth_signature_method"] == "HMAC-SHA256"


def test_post_is_signed_over_method_and_path_not_body(server: Scripted) -> None:
    server.reply(Reply(status=201, body={"id": 5}))
    c, _ = client(server)
    resp = c.post("orders/13/notes", {"note": "Shipped: tracking 1Z/999"})
    assert resp.status == 201 and resp.data == {"id": 5}
    (seen,) = server.seen
    assert seen.method == "POST"
    assert server.oauth_verdict(seen) is None
    assert json.loads(seen.body) == {"note": "Shipped: tracking 1Z/999"}
    assert seen.headers["Content-Type"].startswith("application/json")


def test_signature_matches_reference_for_fixed_inputs() -> None:
    params = {"oauth_consumer_key": CK, "oauth_timestamp": "1795370684", "oauth_nonce": "abc",
              "oauth_signature_method": "HMAC-SHA256", "per_page": "2", "page": "1"}
    sig = oauth_signature("GET", "http://127.0.0.1:8081/wp-json/wc/v3/orders", params, CS)
    query = "&".join(f"{k}={v}" for k, v in {**params, "oauth_signature": sig}.items())
    verdict = REFERENCE.oauth_error("GET", "http://127.0.0.1:8081/wp-json/wc/v3/orders", query.replace("+", "%2B"),
                                    lambda k: CS, set(), now=1795370684)
    assert verdict is None


def test_each_attempt_gets_a_fresh_nonce_and_one_connection_is_reused(server: Scripted) -> None:
    server.reply(Reply(status=503, body={"code": "x", "message": "busy", "data": {"status": 503}}),
                 Reply(body=[]))
    c, _ = client(server)
    c.get("orders")
    c.get("orders")
    assert len(server.seen) == 3
    nonces = {dict(parse_qsl(s.query))["oauth_nonce"] for s in server.seen}
    assert len(nonces) == 3
    assert len({s.client_port for s in server.seen}) == 1  # pooled keep-alive connection


def test_query_and_basic_modes(server: Scripted) -> None:
    server.reply(Reply(body=[]))
    c, _ = client(server, auth="query")
    c.get("orders")
    values = dict(parse_qsl(server.seen[-1].query))
    assert values["consumer_key"] == CK and values["consumer_secret"] == CS
    c, _ = client(server, auth="basic")
    c.get("orders")
    assert server.seen[-1].headers["Authorization"].startswith("Basic ")
    assert "oauth_signature" not in server.seen[-1].query
    assert WooClient(url="https://shop.example", consumer_key=CK, consumer_secret=CS).auth == "basic"


def test_floats_are_decimal_and_totals_parsed(server: Scripted) -> None:
    page = recorded("orders-list-page1.json")
    raw = json.dumps(page["body"]).encode()
    server.reply(Reply(body=raw, headers={
        "Content-Type": "application/json; charset=UTF-8",
        "X-WP-Total": "5", "X-WP-TotalPages": "3", "Link": page["headers"]["Link"],
    }))
    c, _ = client(server)
    resp = c.get("orders", {"per_page": 2})
    assert resp.total == 5 and resp.total_pages == 3 and resp.has_next
    assert resp.data[0]["line_items"][0]["price"] == Decimal("19.99")
    assert not hasattr(resp, "headers")  # Link (with credentials) is never kept


def test_link_next_detection() -> None:
    assert has_next_link(recorded("orders-list-page2.json")["headers"]["Link"])
    assert not has_next_link(recorded("orders-list-beyond-last-page.json")["headers"]["Link"])
    assert not has_next_link('<http://127.0.0.1:8081/wp-json/>; rel="https://api.w.org/"')
    assert not has_next_link(None)


# --- retries ---------------------------------------------------------------------------------


def _err(status: int, code: str = "x", message: str = "m") -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_retries_transient_statuses(server: Scripted, status: int) -> None:
    server.reply(Reply(status=status, body=_err(status)), Reply(status=status, body=_err(status)), Reply(body=[1]))
    c, sleeps = client(server)
    assert c.get("orders").data == [1]
    assert c.calls == 3 and len(sleeps) == 2
    # exponential backoff with jitter: attempt n waits within [c/2, c], c = 0.5·2^(n−1)
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_retry_after_seconds_is_honoured(server: Scripted) -> None:
    server.reply(Reply(status=429, body=b"<html>slow down</html>", headers={"Retry-After": "7"}), Reply(body=[]))
    c, sleeps = client(server)
    c.get("orders")
    assert sleeps == [7.0]


def test_retry_after_http_date_and_clamp() -> None:
    now = datetime(2026, 11, 22, 18, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 22 Nov 2026 18:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 22 Nov 2026 17:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("999999", now=now) == 3600.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_long_retry_after_is_handed_to_the_scheduler(server: Scripted) -> None:
    server.reply(Reply(status=503, body=b"<html>maintenance</html>", headers={"Retry-After": "600"}))
    c, sleeps = client(server)
    with pytest.raises(PlatformUnavailable) as err:
        c.get("orders")
    assert err.value.retry_after == 600 > MAX_INLINE_WAIT
    assert c.calls == 1 and sleeps == []
    server.reply(Reply(status=429, body=_err(429), headers={"Retry-After": "120"}))
    c, sleeps = client(server)
    with pytest.raises(RateLimited) as limited:
        c.get("orders")
    assert limited.value.retry_after == 120 and c.calls == 1 and sleeps == []


def test_gives_up_after_max_retries(server: Scripted) -> None:
    server.reply(Reply(status=502, body=_err(502)))
    c, sleeps = client(server, max_retries=2)
    with pytest.raises(PlatformUnavailable) as err:
        c.get("orders")
    assert c.calls == 3 and len(sleeps) == 2
    assert err.value.kind == "transient"


def test_post_create_is_not_retried_on_503(server: Scripted) -> None:
    server.reply(Reply(status=503, body=_err(503)), Reply(status=201, body={"id": 1}))
    c, sleeps = client(server)
    with pytest.raises(PlatformUnavailable):
        c.post("coupons", {"code": "x"})
    assert c.calls == 1 and sleeps == []


def test_read_timeout_retried_for_get_not_for_post(server: Scripted) -> None:
    server.reply(Reply(body=[], delay=0.5))
    c, sleeps = client(server, timeout=(1, 0.1), max_retries=1)
    with pytest.raises(PlatformUnavailable) as err:
        c.get("orders")
    assert err.value.reference == "woo-timeout" and c.calls == 2
    c, _ = client(server, timeout=(1, 0.1), max_retries=1)
    with pytest.raises(PlatformUnavailable):
        c.post("coupons", {"code": "x"})
    assert c.calls == 1


def test_refused_connection_is_server_down_and_safe_to_retry() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sleeps = Sleeps()
    c = WooClient(url=f"http://127.0.0.1:{port}", consumer_key=CK, consumer_secret=CS, sleep=sleeps, max_retries=2)
    with pytest.raises(ServerDown) as err:
        c.post("coupons", {"code": "x"})  # never sent: even a create may be retried
    assert c.calls == 3
    assert err.value.key == "url" and err.value.hint
    assert_no_secret(str(err.value))


def test_budget_spaces_requests(server: Scripted) -> None:
    server.reply(Reply(body=[]))
    c, sleeps = client(server, requests_per_second=5)
    for _ in range(3):
        c.get("orders")
    assert len(sleeps) == 2
    assert sleeps[0] == pytest.approx(0.2, abs=0.05)
    assert sleeps[1] == pytest.approx(0.4, abs=0.08)


# --- error translation -------------------------------------------------------------------------


def _raise(server: Scripted, reply: Reply, method: str = "GET", **kw: Any) -> VinculoError:
    server.reply(reply)
    c, _ = client(server, max_retries=0, **kw)
    with pytest.raises(VinculoError) as err:
        c.request(method, "orders/24", idempotent=method == "GET", body={} if method != "GET" else None)
    assert err.value.hint, f"{type(err.value).__name__} without hint"
    assert err.value.platform == "woo"
    return err.value


def test_401_bad_key_names_consumer_key(server: Scripted) -> None:
    err = _raise(server, Reply(status=401, body=recorded("auth-error-bad-key.json")["body"]))
    assert isinstance(err, AuthRejected) and err.key == "consumer_key" and err.kind == "config"
    assert "consumer_key" in str(err)


def test_401_bad_secret_and_signature_name_consumer_secret(server: Scripted) -> None:
    bad_secret = {"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.",
                  "data": {"status": 401}}
    err = _raise(server, Reply(status=401, body=bad_secret))
    assert isinstance(err, AuthRejected) and err.key == "consumer_secret"
    bad_sig = {"code": "woocommerce_rest_authentication_error",
               "message": "Invalid signature - provided signature does not match.", "data": {"status": 401}}
    err = _raise(server, Reply(status=401, body=bad_sig))
    assert isinstance(err, AuthRejected) and err.key == "consumer_secret"
    assert err.hint and "`url`" in err.hint


def test_401_anonymous_says_auth_was_ignored(server: Scripted) -> None:
    anon = {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
            "data": {"status": 401}}
    err = _raise(server, Reply(status=401, body=anon), auth="basic")
    assert isinstance(err, AuthRejected) and err.reference == "woo-auth-ignored"
    assert err.hint and "oauth1" in err.hint and "`url`" in err.hint


def test_404_is_not_found(server: Scripted) -> None:
    err = _raise(server, Reply(status=404, body=recorded("order-get-404.json")["body"]))
    assert isinstance(err, NotFound) and err.kind == "rejected"


def test_no_route_is_config(server: Scripted) -> None:
    err = _raise(server, Reply(status=404, body={"code": "rest_no_route", "message": "No route", "data": {"status": 404}}))
    assert isinstance(err, UnsupportedApiVersion) and err.kind == "config"


def test_duplicates_are_already_exists(server: Scripted) -> None:
    for name in ("customer-create-duplicate-email-error.json", "coupon-create-duplicate-code-error.json",
                 "product-create-duplicate-sku-error.json"):
        err = _raise(server, Reply(status=400, body=recorded(name)["body"]), method="POST")
        assert isinstance(err, AlreadyExists), name


def test_invalid_param_is_write_rejected_with_code_and_field(server: Scripted) -> None:
    err = _raise(server, Reply(status=400, body=recorded("orders-list-per-page-101-error.json")["body"]))
    assert isinstance(err, WriteRejected)
    assert err.code == "rest_invalid_param" and err.field == "per_page"


def test_413_is_split_signal(server: Scripted) -> None:
    body = {"code": "woocommerce_rest_request_entity_too_large",
            "message": "Unable to accept more than 100 items for this request.", "data": {"status": 413}}
    err = _raise(server, Reply(status=413, body=body), method="POST")
    assert isinstance(err, WriteRejected) and err.reference == "woo-batch-too-large"


def test_html_from_a_waf_is_named(server: Scripted) -> None:
    err = _raise(server, Reply(status=403, body=b"<html><h1>Access denied</h1></html>"))
    assert isinstance(err, PlatformUnavailable) and err.reference == "woo-non-json-response"
    err = _raise(server, Reply(status=200, body=b"<html>Checking your browser</html>"))
    assert isinstance(err, PlatformUnavailable)


def test_malformed_json_is_named(server: Scripted) -> None:
    err = _raise(server, Reply(status=200, body=b'[{"id": 1,', headers={"Content-Type": "application/json"}))
    assert isinstance(err, MalformedPayload) and err.reference == "woo-json-invalid"


def test_redirect_is_config_and_post_is_not_replayed_as_get(server: Scripted) -> None:
    location = f"https://shop.example/wp-json/wc/v3/coupons?consumer_secret={CS}"
    err = _raise(server, Reply(status=301, body={}, headers={"Location": location}), method="POST")
    assert isinstance(err, ConfigError) and err.reference == "woo-redirect"
    assert [s.method for s in server.seen] == ["POST"]
    assert "https://shop.example/wp-json/wc/v3/coupons" in str(err)
    assert_no_secret(str(err))


# --- secret hygiene ------------------------------------------------------------------------------


def test_no_message_or_log_line_contains_a_secret(server: Scripted, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    link = f'<{server.url}/wp-json/wc/v3/orders?page=2&consumer_key={CK}&consumer_secret={CS}>; rel="next"'
    echo = {"code": "woocommerce_rest_authentication_error",
            "message": f"Consumer secret is invalid. got {CS} for {CK}", "data": {"status": 401}}
    replies = [
        Reply(status=401, body=echo, headers={"Link": link}),
        Reply(status=500, body=_err(500), headers={"Link": link}),
        Reply(status=403, body=b"<html>blocked</html>"),
        Reply(status=200, body=b"{oops", headers={"Content-Type": "application/json", "Link": link}),
        Reply(status=302, body={}, headers={"Location": f"{server.url}/x?oauth_signature=abc&consumer_secret={CS}"}),
    ]
    texts: list[str] = []
    for auth in ("query", "oauth1", "basic"):
        for reply in replies:
            server.reply(reply)
            c, _ = client(server, auth=auth, max_retries=0)
            with pytest.raises(VinculoError) as err:
                c.get("orders", {"search": "x"})
            texts += [str(err.value), repr(err.value), json.dumps(err.value.to_dict()), repr(c)]
    assert_no_secret(*texts, caplog.text)
    assert "REDACTED" in " ".join(texts)  # the echoed secret was there and got masked

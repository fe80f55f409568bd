"""HTTP front: parses requests like PHP/WordPress, applies faults, authenticates, dispatches.

Order of work per request, as WordPress does it: authentication errors first (no ``Allow``
header, the route was never matched), then route lookup (``rest_no_route``), JSON body parsing,
parameter validation, the permission check (anonymous → 401 ``woocommerce_rest_cannot_*``), and
the handler. Every JSON answer carries ``Content-Type: application/json; charset=UTF-8`` and
the discovery ``Link`` unless pagination replaced it.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .errors import ApiError
from .faults import HTML_500, FaultRule, Faults
from .render import php_json
from .routes import ROUTES, Req, Resp, Route

if TYPE_CHECKING:
    from .sim import WooSimulator

API_PREFIX = "/wp-json/wc/v3"
JSON_TYPE = "application/json; charset=UTF-8"

_DENIED = {
    ("GET", "collection"): ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    ("GET", "item"): ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    ("POST", "collection"): ("woocommerce_rest_cannot_create",
                             "Sorry, you are not allowed to create resources."),
    ("POST", "item"): ("woocommerce_rest_cannot_edit",
                       "Sorry, you are not allowed to edit this resource."),
    ("DELETE", "item"): ("woocommerce_rest_cannot_delete",
                         "Sorry, you are not allowed to delete this resource."),
    ("POST", "batch"): ("woocommerce_rest_cannot_batch",
                        "Sorry, you are not allowed to batch manipulate this resource."),
}


@dataclass
class RequestRecord:
    """One request as the simulator saw it; credentials are not kept."""

    method: str
    path: str  # below /wp-json/wc/v3/ when under the API, else the raw path
    query: dict[str, Any]
    status: int = 0
    fault: str | None = None
    at: float = field(default_factory=time.time)


def parse_php_query(raw: str) -> tuple[dict[str, Any], list[str]]:
    """``$_GET``: repeated keys collapse last-wins, ``k[]``/``k[n]`` collect into lists."""
    out: dict[str, Any] = {}
    order: list[str] = []
    for key, value in parse_qsl(raw, keep_blank_values=True):
        base, bracket, rest = key.partition("[")
        if bracket and rest.endswith("]"):
            idx = rest[:-1]
            current = out.get(base)
            if not isinstance(current, dict):
                current = {}
            slot = idx if idx else str(len(current))
            current[slot] = value
            out[base] = current
            key = base
        else:
            out[key] = value
        if key not in order:
            order.append(key)
    for k, v in out.items():
        if isinstance(v, dict):
            out[k] = list(v.values())
    return out, order


def _flat_params(raw: str) -> dict[str, str]:
    """Flat last-wins view used for OAuth signing (keys kept as sent, e.g. ``status[0]``)."""
    return dict(parse_qsl(raw, keep_blank_values=True))


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK adds ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""
    sim: WooSimulator

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def version_string(self) -> str:
        return "Apache"

    def _any(self) -> None:
        Exchange(self.sim, self).run()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any


class Exchange:
    def __init__(self, sim: WooSimulator, h: _Handler) -> None:
        self.sim = sim
        self.h = h
        self.method = h.command.upper()
        parts = urlsplit(h.path)
        self.raw_path = parts.path
        self.raw_query = parts.query
        length = int(h.headers.get("Content-Length") or 0)
        self.raw_body = h.rfile.read(length) if length else b""
        self.authorization: str | None = h.headers.get("Authorization")
        api_path = self.raw_path[len(API_PREFIX):] if self.raw_path.startswith(API_PREFIX) else None
        self.route_path = api_path.strip("/") if api_path is not None else self.raw_path
        self.record = RequestRecord(self.method, self.route_path,
                                    _redacted(parse_php_query(self.raw_query)[0]))

    # -- pipeline -------------------------------------------------------------------------
    def run(self) -> None:
        self.sim._log_request(self.record)
        faults: Faults = self.sim.faults
        if faults.latency:
            time.sleep(faults.latency)
        pre = {r.kind: r for r in faults.take(Faults.PRE, self.method, self.route_path)}
        if "strip_auth" in pre:
            self.authorization = None
        if "reset" in pre:
            self.record.fault = "reset"
            self._reset()
            return
        if "respond" in pre:
            rule = pre["respond"]
            self.record.fault = f"respond:{rule.status}"
            self._send(rule.status, rule.body, rule.headers, None)
            return
        if "redirect_https" in pre:
            self.record.fault = "redirect_https"
            host = self.h.headers.get("Host", "127.0.0.1")
            target = f"https://{host}{self.h.path}"
            self._send(301, b"", {"Location": target, "Content-Type": "text/html; charset=UTF-8"},
                       None)
            return
        try:
            status, body, headers = self._respond()
        except Exception as exc:  # a simulator bug must still answer, like PHP's fatal page
            self.sim.errors.append(exc)
            self.record.fault = "internal-error"
            self._send(500, HTML_500, {"Content-Type": "text/html; charset=UTF-8"}, None)
            return
        post = {r.kind: r for r in faults.take(Faults.POST, self.method, self.route_path)}
        payload = php_json(body) if body is not None else b""
        slow: FaultRule | None = None
        if "malformed_json" in post and payload:
            self.record.fault = "malformed_json"
            payload = payload[: max(1, len(payload) // 2)]
        if "slow_body" in post:
            self.record.fault = "slow_body"
            slow = post["slow_body"]
        self._send(status, payload, headers, slow)

    def _respond(self) -> tuple[int, Any, dict[str, str]]:
        sim = self.sim
        headers = {"Content-Type": JSON_TYPE}
        if not self.raw_path.startswith("/wp-json"):
            return 404, {"code": "rest_no_route", "message": "No route was found matching the URL "
                         "and request method.", "data": {"status": 404}}, headers
        query, order = parse_php_query(self.raw_query)
        method = self.method
        override = query.get("_method") or self.h.headers.get("X-HTTP-Method-Override")
        if method == "POST" and override:
            method = str(override).upper()
        params = _flat_params(self.raw_query)
        ctype = (self.h.headers.get("Content-Type") or "").lower()
        form: dict[str, str] = {}
        if ctype.startswith("application/x-www-form-urlencoded") and self.raw_body:
            form = _flat_params(self.raw_body.decode("utf-8", "replace"))
            params = {**params, **form}
        base_url = sim.home_url + self.raw_path
        key, error = sim.auth.authenticate(self.method, base_url, params, self.authorization)
        if error is not None:
            return error.status, error.body(), headers
        if self.raw_path.rstrip("/") in ("/wp-json", API_PREFIX):
            return 200, sim.index(), headers
        if not self.raw_path.startswith(API_PREFIX + "/"):
            return 404, _no_route(), headers
        route, groups = _match(self.route_path)
        if route is None:
            return 404, _no_route(), headers
        headers["Allow"] = route.allow
        lookup = "GET" if method == "HEAD" else method
        if method == "OPTIONS":
            return 200, {"namespace": "wc/v3", "methods": route.allow.split(", "),
                         "endpoints": []}, headers
        handler = route.handlers.get(lookup)
        if handler is None:
            return 404, _no_route(), headers
        body: Any = None
        if self.raw_body and not form:
            try:
                body = json.loads(self.raw_body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                err = ApiError(400, "rest_invalid_json", "Invalid JSON body passed.",
                               json_error_code=4, json_error_message="Syntax error")
                return 400, err.body(), headers
        elif form:
            body = dict(form)
        req = Req(lookup, self.route_path, query, order, body)

        def authorize() -> None:
            if key is None:
                kind = route.kind
                verb = "POST" if lookup in ("PUT", "PATCH") else lookup
                code, message = _DENIED.get((verb, kind), _DENIED[("GET", "item")])
                raise ApiError(401, code, message)

        is_list = lookup == "GET" and route.kind == "collection"
        if not is_list:
            req.authorize = lambda: None
        else:
            req.authorize = authorize
        try:
            with sim.store.lock:
                if not is_list:
                    authorize()
                resp: Resp = handler(sim, req, groups)
        except ApiError as err:
            return err.status, err.body(), headers
        for action in req.after:
            action()
        headers.update(resp.headers)
        return resp.status, resp.body, headers

    # -- output ---------------------------------------------------------------------------
    def _send(self, status: int, payload: bytes, headers: dict[str, str],
              slow: FaultRule | None) -> None:
        h = self.h
        self.record.status = status
        h.send_response(status)
        out = {"X-Powered-By": "PHP/8.2.36", **headers}
        if out.get("Content-Type", "").startswith("application/json") and "Link" not in out:
            out["Link"] = f'<{self.sim.home_url}/wp-json/>; rel="https://api.w.org/"'
        out["Content-Length"] = str(len(payload))
        for name, value in out.items():
            h.send_header(name, value)
        h.end_headers()
        if self.method == "HEAD":
            return
        try:
            if slow is None:
                h.wfile.write(payload)
            else:
                for i in range(0, len(payload), slow.chunk_size):
                    h.wfile.write(payload[i:i + slow.chunk_size])
                    h.wfile.flush()
                    time.sleep(slow.chunk_delay)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _reset(self) -> None:
        sock = self.h.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass
        self.h.close_connection = True


def _no_route() -> dict[str, Any]:
    return {"code": "rest_no_route",
            "message": "No route was found matching the URL and request method.",
            "data": {"status": 404}}


def _match(path: str) -> tuple[Route | None, dict[str, str]]:
    for r in ROUTES:
        m = r.pattern.match(path)
        if m:
            return r, m.groupdict()
    return None, {}


def _redacted(query: dict[str, Any]) -> dict[str, Any]:
    hidden = ("oauth_signature", "consumer_secret")
    return {k: ("[redacted]" if k in hidden else v) for k, v in query.items()}


class Server:
    """ThreadingHTTPServer on 127.0.0.1:0 in a daemon thread."""

    def __init__(self, sim: WooSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("BoundHandler", (_Handler,), {"sim": sim})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="woo-simulator", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

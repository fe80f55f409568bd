"""Host behaviour that does not come from WooCommerce itself (NOTES 8.2), switched on by tests.

Everything is off by default. Rules are consumed first-come: each has an optional count (``None``
means until cleared), an optional HTTP method and an optional route (the path below
``/wp-json/wc/v3/``, matched exactly or as a regular expression, e.g. ``"orders"`` or
``r"orders/\\d+"``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

HTML_429 = (b"<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head><body>"
            b"<h1>Too Many Requests</h1><p>You have been rate limited. Please try again later.</p>"
            b"<hr><p>cloudflare</p></body></html>")
HTML_503 = (b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>"
            b"<h1>Service Unavailable</h1><p>The server is temporarily unable to service your "
            b"request due to maintenance downtime or capacity problems.</p></body></html>")
HTML_500 = (b"<!DOCTYPE html><html><head><title>WordPress &rsaquo; Error</title></head><body>"
            b"<p>There has been a critical error on this website.</p></body></html>")
HTML_403 = (b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>"
            b"<h1>Forbidden</h1><p>Request blocked by security rules (Mod_Security).</p>"
            b"</body></html>")
HTML_501 = (b"<!DOCTYPE html><html><head><title>501 Method Not Implemented</title></head><body>"
            b"<h1>Method Not Implemented</h1><p>to /index.php not supported.</p></body></html>")


@dataclass
class FaultRule:
    kind: str  # respond | reset | slow_body | malformed_json | strip_auth | redirect_https
    remaining: int | None = 1
    method: str | None = None
    path: str | None = None
    status: int = 0
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunk_delay: float = 0.0
    chunk_size: int = 64

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or self.path == path or bool(re.fullmatch(self.path, path))


class Faults:
    """Runtime-settable fault knobs; ``sim.faults`` is one of these."""

    PRE = ("respond", "reset", "strip_auth", "redirect_https")
    POST = ("slow_body", "malformed_json")

    def __init__(self) -> None:
        self.latency = 0.0
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    # -- knobs ----------------------------------------------------------------------------
    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def next_429(self, n: int = 1, retry_after: int = 1, *, method: str | None = None,
                 path: str | None = None) -> FaultRule:
        return self.add(FaultRule("respond", n, method, path, 429, HTML_429,
                                  {"Retry-After": str(retry_after),
                                   "Content-Type": "text/html; charset=UTF-8"}))

    def next_503(self, n: int = 1, retry_after: int = 1, *, method: str | None = None,
                 path: str | None = None) -> FaultRule:
        return self.add(FaultRule("respond", n, method, path, 503, HTML_503,
                                  {"Retry-After": str(retry_after),
                                   "Content-Type": "text/html; charset=UTF-8"}))

    def next_500(self, n: int = 1, *, method: str | None = None,
                 path: str | None = None) -> FaultRule:
        return self.add(FaultRule("respond", n, method, path, 500, HTML_500,
                                  {"Content-Type": "text/html; charset=UTF-8"}))

    def waf_403(self, n: int | None = 1, *, method: str | None = None,
                path: str | None = None) -> FaultRule:
        return self.add(FaultRule("respond", n, method, path, 403, HTML_403,
                                  {"Content-Type": "text/html; charset=iso-8859-1"}))

    def block_method(self, method: str = "PUT", n: int | None = None,
                     path: str | None = None) -> FaultRule:
        """ModSecurity-style 501 for a verb (PUT/DELETE), as in woocommerce issue #9838."""
        return self.add(FaultRule("respond", n, method, path, 501, HTML_501,
                                  {"Content-Type": "text/html; charset=iso-8859-1"}))

    def next_reset(self, n: int = 1, *, method: str | None = None,
                   path: str | None = None) -> FaultRule:
        """Close the socket with RST before any response byte."""
        return self.add(FaultRule("reset", n, method, path))

    def slow_body(self, n: int = 1, chunk_delay: float = 0.5, chunk_size: int = 64, *,
                  method: str | None = None, path: str | None = None) -> FaultRule:
        """Headers at once, then the body dribbled out ``chunk_size`` bytes per ``chunk_delay``."""
        return self.add(FaultRule("slow_body", n, method, path, chunk_delay=chunk_delay,
                                  chunk_size=chunk_size))

    def malformed_json(self, path: str | None = None, n: int | None = 1, *,
                       method: str | None = None) -> FaultRule:
        """A 200 whose JSON body is cut short (PHP notice or truncated output)."""
        return self.add(FaultRule("malformed_json", n, method, path))

    def strip_authorization(self, n: int | None = None) -> FaultRule:
        """The host drops the Authorization header before PHP sees it (CGI/FastCGI)."""
        return self.add(FaultRule("strip_auth", n))

    def redirect_to_https(self, n: int | None = None, *, method: str | None = None,
                          path: str | None = None) -> FaultRule:
        return self.add(FaultRule("redirect_https", n, method, path, 301))

    def override(self, status: int, body: bytes | str = b"", *, n: int | None = 1,
                 method: str | None = None, path: str | None = None,
                 headers: dict[str, str] | None = None,
                 content_type: str = "application/json; charset=UTF-8") -> FaultRule:
        """Any canned answer for a route."""
        raw = body.encode() if isinstance(body, str) else body
        hdrs = {"Content-Type": content_type, **(headers or {})}
        return self.add(FaultRule("respond", n, method, path, status, raw, hdrs))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self.latency = 0.0

    # -- consumption ----------------------------------------------------------------------
    def take(self, kinds: tuple[str, ...], method: str, path: str) -> list[FaultRule]:
        taken: list[FaultRule] = []
        with self._lock:
            for rule in list(self._rules):
                if rule.kind not in kinds or not rule.matches(method, path):
                    continue
                if any(t.kind == rule.kind for t in taken):
                    continue
                taken.append(rule)
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
        return taken

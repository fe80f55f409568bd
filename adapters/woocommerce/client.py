"""HTTP client for the WooCommerce REST API v3: signing, retries, budget, error translation.

Why our own OAuth 1.0a signer on a pooled ``requests.Session`` instead of wrapping the
``woocommerce`` package's ``API`` (NOTES §9): that client opens a new connection for every call
(``requests.request``), sends every parameter twice, signs list parameters as their Python
``repr`` (the store rejects the signature), leaves ``/`` unencoded in signed values, cannot take a
per-call timeout (``TypeError``), and follows redirects, turning a POST create into a GET. Working
around all of that leaves nothing of it but the signer, which is thirty lines and is checked in
the tests against the store-side reference (``tools/woo_auth_reference.py``). Owning the request
also lets us keep the URL (which carries signatures or, in ``query`` mode, the secret) and the
``Link`` header (which echoes them) out of every log line and error message.

Everything the store can say is translated to ``connector.errors`` in :meth:`WooClient.error_for`,
the one place that knows WooCommerce's status codes and error codes; batch item errors go through
the same function.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

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
from connector.http import never_connected, parse_retry_after

log = logging.getLogger(__name__)

AuthMode = Literal["auto", "oauth1", "basic", "query"]
Params = Mapping[str, object]

PLATFORM = "woo"
API_PREFIX = "/wp-json/wc/v3/"
USER_AGENT = "vinculo-woocommerce/0.1"

# A wait longer than this is not slept through inside one call: the error goes up with its
# retry_after so the scheduler can come back later instead of holding a worker.
MAX_INLINE_WAIT = 60.0

_SENSITIVE_QUERY = re.compile(
    r"(?i)\b(oauth_signature|oauth_consumer_key|oauth_nonce|consumer_key|consumer_secret)=[^&\s>\"']*"
)
_AUTH_HEADER = re.compile(r"(?i)(authorization\s*[:=]\s*)(basic|oauth|bearer)?\s*[^\s,'\"]+")

_DUPLICATE_CODES = {
    "registration-error-email-exists": "woo-email-exists",
    "woocommerce_rest_customer_invalid_email": "woo-email-exists",
    "woocommerce_rest_coupon_code_already_exists": "woo-coupon-code-exists",
    "product_invalid_sku": "woo-sku-exists",
}
_VANISHED_CODES = re.compile(r"^(woocommerce_rest_.*invalid_id|wc_user_invalid_id|woocommerce_rest_invalid_order_id)$")


class _RedactQueryCredentials(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string included: in OAuth and query-string
    mode that is the signature or the consumer secret. Mask them before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _SENSITIVE_QUERY.sub(lambda m: f"{m.group(1)}=REDACTED", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_log_redaction() -> None:
    for name in ("urllib3.connectionpool", "requests"):
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactQueryCredentials) for f in target.filters):
            target.addFilter(_RedactQueryCredentials())


_install_log_redaction()


def rawurlencode(value: str) -> str:
    """PHP's rawurlencode (RFC 3986): what the store applies when it rebuilds the signature."""
    return quote(value, safe="~")


def format_param(value: object) -> str:
    """Query values as the store parses them: lists comma-joined (never repeated keys, which
    PHP collapses to the last one), booleans as true/false, datetimes UTC without an offset."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(format_param(v) for v in value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("query datetimes must be timezone-aware")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return str(value)


def oauth_signature(method: str, base_url: str, params: Mapping[str, str], consumer_secret: str) -> str:
    """HMAC-SHA256 signature exactly as ``WC_REST_Authentication`` recomputes it (NOTES §1.2):
    keys sorted byte-wise, key and value rawurlencoded, each ``k=v`` encoded again, ``%26``-joined."""
    pairs = sorted((k, v) for k, v in params.items() if k != "oauth_signature")
    param_str = "%26".join(
        rawurlencode(f"{rawurlencode(k)}={rawurlencode(v)}") for k, v in pairs
    )
    base = f"{method.upper()}&{rawurlencode(base_url)}&{param_str}"
    digest = hmac.new((consumer_secret + "&").encode(), base.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def has_next_link(link_header: str | None) -> bool:
    """True when the store advertises a next page. The URL itself is never used: it carries the
    previous request's OAuth nonce and signature (or the secret in query mode)."""
    if not link_header:
        return False
    return re.search(r';\s*rel="?next"?', link_header) is not None


@dataclass(frozen=True, slots=True)
class WooResponse:
    """What a caller may see of a response. Headers are not kept: ``Link`` echoes credentials."""

    status: int
    data: Any
    total: int | None = None
    total_pages: int | None = None
    has_next: bool = False


class _Budget:
    """Client-side request budget: at most ``rps`` request starts per second, per client."""

    def __init__(self, rps: float | None, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        if rps is not None and rps <= 0:
            raise ValueError("requests_per_second must be positive")
        self._interval = 1.0 / rps if rps else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)


# Connection refused / connect timeout: the request never reached the store, so even a create
# may be sent again.
_NOT_SENT = frozenset({"woo-connect-timeout", "woo-connect-refused"})


class WooClient:
    """One pooled HTTP session per store; every request is signed afresh (new nonce) per attempt."""

    def __init__(
        self,
        *,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        auth: AuthMode = "auto",
        timeout: tuple[float, float] = (5, 30),
        batch_timeout: float = 120,
        max_retries: int = 5,
        requests_per_second: float | None = None,
        verify_ssl: bool = True,
        store: str = "main",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                "store url must be an absolute http(s) URL",
                reference="woo-url-invalid",
                platform=PLATFORM,
                obj=store,
                hint="set `url` to the store's Site Address, e.g. https://shop.example.com",
            )
        if parts.query or parts.username or parts.password:
            raise ConfigError(
                "store url must not carry a query string or credentials",
                reference="woo-url-invalid",
                platform=PLATFORM,
                obj=store,
                hint="put the keys in `consumer_key` / `consumer_secret`, not in `url`",
            )
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.scheme = parts.scheme
        self.auth: AuthMode = auth
        if auth == "auto":
            self.auth = "basic" if parts.scheme == "https" else "oauth1"
        self._ck = consumer_key
        self._cs = consumer_secret
        self.timeout = timeout
        self.batch_timeout = batch_timeout
        self.max_retries = max_retries
        self.verify_ssl = verify_ssl
        self.store = store
        self._sleep = sleep
        self._clock = clock
        self._budget = _Budget(requests_per_second, time.monotonic, sleep)
        self._session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.calls = 0  # HTTP attempts made, retries included (for call-count budgets and benches)

    # --- secret hygiene ------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """Remove every credential we know of from a text meant for a log or an error."""
        text = _SENSITIVE_QUERY.sub(lambda m: f"{m.group(1)}=REDACTED", text)
        text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}REDACTED", text)
        for secret in (self._cs, self._ck):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "REDACTED")
                text = text.replace(rawurlencode(secret), "REDACTED")
        return text

    def __repr__(self) -> str:
        return f"WooClient(url={self.base_url!r}, auth={self.auth!r}, store={self.store!r})"

    # --- public verbs -------------------------------------------------------------------

    def get(self, endpoint: str, params: Params | None = None) -> WooResponse:
        return self.request("GET", endpoint, params=params, idempotent=True)

    def post(
        self,
        endpoint: str,
        body: Any,
        *,
        params: Params | None = None,
        idempotent: bool = False,
        timeout: float | tuple[float, float] | None = None,
    ) -> WooResponse:
        return self.request("POST", endpoint, params=params, body=body, idempotent=idempotent, timeout=timeout)

    def put(self, endpoint: str, body: Any, *, params: Params | None = None) -> WooResponse:
        # PUT of a full value (status, meta by key) is idempotent: sending it twice is harmless.
        return self.request("PUT", endpoint, params=params, body=body, idempotent=True)

    def batch(self, endpoint: str, body: Mapping[str, Any], *, idempotent: bool) -> WooResponse:
        """Batch writes get the long read timeout: plugin-heavy shops are slow on 50–100 items."""
        return self.request(
            "POST",
            endpoint,
            body=body,
            idempotent=idempotent,
            timeout=(self.timeout[0], self.batch_timeout),
        )

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Params | None = None,
        body: Any = None,
        idempotent: bool,
        timeout: float | tuple[float, float] | None = None,
    ) -> WooResponse:
        """Send with retries. Idempotent requests retry transient failures; others only retry
        when the request provably never left (connection refused), because a create that timed
        out may have been applied: the caller re-reads by its idempotency key instead."""

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, ServerDown) and exc.reference in _NOT_SENT:
                return True
            if not idempotent or not isinstance(exc, RateLimited | PlatformUnavailable | ServerDown):
                return False
            wait = getattr(exc, "retry_after", None)
            return wait is None or wait <= MAX_INLINE_WAIT

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            retry=retry_if_exception(should_retry),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._send_once, method, endpoint, params, body, timeout)

    @staticmethod
    def _wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        if isinstance(hinted, int | float):
            return float(hinted)
        # Exponential backoff with full jitter: 0.5, 1, 2, 4 … seconds ceiling, capped at 30.
        ceiling = min(30.0, 0.5 * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)

    # --- one attempt --------------------------------------------------------------------------

    def _send_once(
        self,
        method: str,
        endpoint: str,
        params: Params | None,
        body: Any,
        timeout: float | tuple[float, float] | None,
    ) -> WooResponse:
        endpoint = endpoint.strip("/")
        obj = f"{method} {endpoint}"
        url, headers = self._signed(method, endpoint, params)
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, default=_json_default).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        self._budget.acquire()
        self.calls += 1
        started = time.monotonic()
        try:
            resp = self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout or self.timeout,
                allow_redirects=False,
                verify=self.verify_ssl,
                auth=(self._ck, self._cs) if self.auth == "basic" else None,
            )
        except requests.exceptions.SSLError:
            raise ConfigError(
                "TLS handshake with the store failed",
                reference="woo-tls-failed",
                platform=PLATFORM,
                obj=obj,
                hint="check the certificate of `url` (or, for a test store only, `verify_ssl: false`)",
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise ServerDown(
                f"no connection to the store within {self._connect_timeout(timeout)} s",
                key="url",
                reference="woo-connect-timeout",
                platform=PLATFORM,
                obj=obj,
            ) from None
        except requests.exceptions.Timeout:
            raise PlatformUnavailable(
                "the store did not answer in time",
                reference="woo-timeout",
                platform=PLATFORM,
                obj=obj,
                hint="the store is slow or overloaded; a write may or may not have been applied, "
                "so it is re-read before being sent again",
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if never_connected(exc):
                raise ServerDown(
                    "cannot connect to the store",
                    key="url",
                    reference="woo-connect-refused",
                    platform=PLATFORM,
                    obj=obj,
                ) from None
            raise PlatformUnavailable(
                f"connection to the store broke: {self.redact(type(exc).__name__)}",
                reference="woo-connection-reset",
                platform=PLATFORM,
                obj=obj,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise PlatformUnavailable(
                f"HTTP failure talking to the store ({type(exc).__name__})",
                reference="woo-http-failure",
                platform=PLATFORM,
                obj=obj,
            ) from None
        log.debug(
            "woo %s %s -> %s in %.0f ms",
            method,
            endpoint,
            resp.status_code,
            (time.monotonic() - started) * 1000,
        )
        return self._interpret(resp, obj)

    @staticmethod
    def _connect_timeout(timeout: float | tuple[float, float] | None) -> object:
        return timeout[0] if isinstance(timeout, tuple) else timeout

    def _signed(self, method: str, endpoint: str, params: Params | None) -> tuple[str, dict[str, str]]:
        url = self.base_url + API_PREFIX + endpoint
        query = {k: format_param(v) for k, v in (params or {}).items() if v is not None}
        if self.auth == "oauth1":
            query.update(
                oauth_consumer_key=self._ck,
                oauth_timestamp=str(int(self._clock())),
                oauth_nonce=secrets.token_hex(16),
                oauth_signature_method="HMAC-SHA256",
            )
            query["oauth_signature"] = oauth_signature(method, url, query, self._cs)
        elif self.auth == "query":
            query.update(consumer_key=self._ck, consumer_secret=self._cs)
        if query:
            url += "?" + "&".join(f"{rawurlencode(k)}={rawurlencode(v)}" for k, v in query.items())
        return url, {}

    def _interpret(self, resp: requests.Response, obj: str) -> WooResponse:
        status = resp.status_code
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if 300 <= status < 400:
            location = resp.headers.get("Location", "")
            where = urlsplit(location)
            shown = f"{where.scheme}://{where.netloc}{where.path}" if where.netloc else "another address"
            raise ConfigError(
                f"the store redirected the request (HTTP {status}) to {self.redact(shown)}",
                reference="woo-redirect",
                platform=PLATFORM,
                obj=obj,
                hint="set `url` to the store's address exactly as it serves the API (scheme, www, "
                "port); redirects break OAuth signatures and would turn a POST into a GET",
            )
        content_type = resp.headers.get("Content-Type", "")
        is_json = content_type.split(";")[0].strip().lower() in ("application/json", "application/problem+json")
        if not is_json:
            raise self._non_json(status, content_type, retry_after, obj)
        try:
            data = json.loads(resp.content, parse_float=Decimal) if resp.content else None
        except (ValueError, UnicodeDecodeError):
            if status >= 500 or status == 429:
                raise self.error_for(status, None, obj=obj, retry_after=retry_after) from None
            raise MalformedPayload(
                f"the store sent invalid JSON (HTTP {status}, {len(resp.content)} bytes)",
                reference="woo-json-invalid",
                platform=PLATFORM,
                obj=obj,
                hint="a plugin or PHP notice is printing into API responses; check the store's "
                "PHP error log (WP_DEBUG_DISPLAY must be off)",
            ) from None
        if status >= 400:
            raise self.error_for(status, data, obj=obj, retry_after=retry_after)
        return WooResponse(
            status=status,
            data=data,
            total=_int_header(resp.headers.get("X-WP-Total")),
            total_pages=_int_header(resp.headers.get("X-WP-TotalPages")),
            has_next=has_next_link(resp.headers.get("Link")),
        )

    def _non_json(self, status: int, content_type: str, retry_after: float | None, obj: str) -> VinculoError:
        shown = content_type.split(";")[0].strip() or "no content type"
        if status == 429:
            return RateLimited(
                f"rate limited by the host (HTTP 429, {shown})",
                retry_after=retry_after,
                reference="woo-rate-limited",
                platform=PLATFORM,
                obj=obj,
                hint="a CDN, host or security plugin throttles the API; lower `requests_per_second`",
            )
        if status == 413:
            return WriteRejected(
                "the web server refused the request body as too large (HTTP 413)",
                code="request_entity_too_large",
                reference="woo-batch-too-large",
                platform=PLATFORM,
                obj=obj,
            )
        if status == 404:
            return UnsupportedApiVersion(
                f"no WooCommerce REST API at this address (HTTP 404, {shown})",
                reference="woo-api-not-found",
                platform=PLATFORM,
                obj=obj,
                hint="check `url`; WordPress needs pretty permalinks for /wp-json/ to route",
            )
        if status == 501:
            return ConfigError(
                f"the web server refuses this HTTP method (HTTP 501, {shown})",
                reference="woo-method-blocked",
                platform=PLATFORM,
                obj=obj,
                hint="a ModSecurity/WAF rule blocks PUT or DELETE; allow them for /wp-json/wc/",
            )
        return PlatformUnavailable(
            f"the store answered HTTP {status} with {shown} instead of JSON",
            retry_after=retry_after,
            reference="woo-non-json-response",
            platform=PLATFORM,
            obj=obj,
            hint="a WAF, CDN, bot challenge or maintenance page answered instead of WooCommerce; "
            "allow-list this client for /wp-json/wc/ or retry later",
        )

    # --- the one translation table --------------------------------------------------------

    def error_for(
        self,
        status: int,
        body: Any,
        *,
        obj: str | None = None,
        retry_after: float | None = None,
    ) -> VinculoError:
        """The named error for a WooCommerce error envelope ``{code, message, data:{status}}``;
        also used for per-item errors inside batch responses."""
        code = ""
        message = ""
        field: str | None = None
        if isinstance(body, Mapping):
            code = str(body.get("code") or "")
            message = self.redact(str(body.get("message") or ""))
            data = body.get("data")
            if isinstance(data, Mapping) and isinstance(data.get("params"), Mapping) and data["params"]:
                field = str(next(iter(data["params"])))
        text = f"{message} ({code}, HTTP {status})" if code else f"HTTP {status}"
        kw: dict[str, Any] = {"platform": PLATFORM, "obj": obj}

        if status == 401:
            return self._auth_error(code, message, text, obj)
        if status == 403:
            return AuthRejected(
                f"the key's user may not do this: {text}",
                key="consumer_key",
                reference="woo-key-capability",
                platform=PLATFORM,
                obj=obj,
                hint="create `consumer_key` for a user with the Shop manager or Administrator role",
            )
        if status == 429:
            return RateLimited(f"rate limited: {text}", retry_after=retry_after, reference="woo-rate-limited", **kw)
        if status == 413:
            return WriteRejected(
                f"batch too large: {text}",
                code=code or "request_entity_too_large",
                reference="woo-batch-too-large",
                hint="split the batch (the store accepts at most 100 items)",
                **kw,
            )
        if code in _DUPLICATE_CODES:
            return AlreadyExists(
                message or text,
                reference=_DUPLICATE_CODES[code],
                hint="look the existing record up and update it instead of creating it",
                **kw,
            )
        if code == "rest_no_route":
            return UnsupportedApiVersion(
                f"the store does not serve this route: {text}",
                reference="woo-route-missing",
                hint="check `url`, that WooCommerce (REST API v3) is active and pretty permalinks are on",
                **kw,
            )
        if status == 404 or (status == 400 and _VANISHED_CODES.match(code)):
            return NotFound(
                f"not found in the store: {text}",
                reference="woo-not-found",
                hint="the record was deleted in WooCommerce; re-read or unlink it",
                **kw,
            )
        if status >= 500 and code not in ("woocommerce_rest_cannot_create_order_refund",
                                          "woocommerce_rest_trash_not_supported"):
            return PlatformUnavailable(
                f"the store failed: {text}",
                retry_after=retry_after,
                reference="woo-server-error",
                hint="temporary store failure; retried with backoff",
                **kw,
            )
        if status >= 400:
            return WriteRejected(
                f"the store refused the request: {text}",
                code=code or None,
                field=field,
                reference="woo-rejected",
                hint="fix the record (see the store's message) and retry it from quarantine",
                **kw,
            )
        return MalformedPayload(f"unexpected answer: {text}", reference="woo-unexpected-status", **kw)

    def _auth_error(self, code: str, message: str, text: str, obj: str | None) -> VinculoError:
        low = message.lower()
        scheme_hint = (
            "over plain http the store ignores Basic auth: use `auth: oauth1` or an https `url`"
            if self.scheme == "http" and self.auth in ("basic", "query")
            else "over https an unknown `consumer_key` is ignored rather than refused, and some hosts "
            "strip the Authorization header: check `consumer_key`, or try `auth: query`"
        )
        if code.endswith(("_cannot_view", "_cannot_create", "_cannot_edit", "_cannot_delete",
                          "_cannot_batch", "_cannot_list")):
            return AuthRejected(
                f"the store ignored our credentials and treated the request as anonymous: {text}",
                key="url",
                reference="woo-auth-ignored",
                platform=PLATFORM,
                obj=obj,
                hint=f"check the `url` scheme and `auth`: {scheme_hint}",
            )
        if "nonce" in low:
            return PlatformUnavailable(
                f"the store refused a reused OAuth nonce: {text}",
                reference="woo-oauth-nonce",
                platform=PLATFORM,
                obj=obj,
                hint="retried with a fresh nonce",
            )
        if "timestamp" in low:
            return AuthRejected(
                f"the store refused our OAuth timestamp: {text}",
                key="clock",
                reference="woo-oauth-timestamp",
                platform=PLATFORM,
                obj=obj,
                hint="this machine's clock differs from the store's by more than 15 minutes; sync it (NTP)",
            )
        if "consumer key" in low or code == "woocommerce_rest_authentication_missing_parameter":
            return AuthRejected(
                f"the store does not accept our consumer key: {text}",
                key="consumer_key",
                reference="woo-consumer-key-invalid",
                platform=PLATFORM,
                obj=obj,
                hint="check `consumer_key` (ck_…) against WooCommerce → Settings → Advanced → REST API",
            )
        if "permission" in low:
            return AuthRejected(
                f"the API key lacks a permission: {text}",
                key="consumer_key",
                reference="woo-key-permission",
                platform=PLATFORM,
                obj=obj,
                hint="give `consumer_key` Read/Write permissions in WooCommerce → Settings → Advanced → REST API",
            )
        if "signature" in low:
            return AuthRejected(
                f"the store computed a different OAuth signature: {text}",
                key="consumer_secret",
                reference="woo-oauth-signature-invalid",
                platform=PLATFORM,
                obj=obj,
                hint="check `consumer_secret`, and that `url` is exactly the store's Site Address "
                "(scheme, host, port, path): a proxy or a different host name changes what is signed",
            )
        return AuthRejected(
            f"the store refused our credentials: {text}",
            key="consumer_secret",
            reference="woo-consumer-secret-invalid",
            platform=PLATFORM,
            obj=obj,
            hint="check `consumer_secret` (cs_…) belongs to `consumer_key`",
        )


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

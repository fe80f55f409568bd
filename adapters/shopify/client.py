"""HTTP client for the Shopify GraphQL Admin API: the one place Shopify failures are translated.

The ShopifyAPI package is used only to validate the API version string: its GraphQL call has no
timeout, prints error bodies to stdout (customer data in logs), ignores throttling and hides the
response headers (NOTES §1.6). So this client owns the wire: a ``requests.Session`` with explicit
connect/read timeouts, the shared cost bucket, retries (tenacity) and the mapping of every Shopify
answer onto ``connector.errors``:

- HTTP 401 → :class:`AuthRejected` naming ``access_token``; 403 / ``ACCESS_DENIED`` → the scope.
- A response served by another API version (``X-Shopify-API-Version``) → :class:`UnsupportedApiVersion`.
- 429 / 5xx / ``INTERNAL_SERVER_ERROR`` / timeouts → retried with backoff honouring ``Retry-After``.
- ``THROTTLED`` (HTTP 200) → wait on the bucket and resend; never counted as a failure.
- ``MAX_COST_EXCEEDED`` → halve ``first`` (remembered per document), else a config error.
- ``errors`` with no ``data`` → fatal (the document or a variable is wrong), never retried.
- ``userErrors`` on a mutation → :class:`WriteRejected` with the field path and code.
- ``extensions.search`` warnings → the filter was silently ignored: refuse the result.

Mutations are retried only when the caller says they are idempotent (keyed by a lookup, or
naturally so like ``tagsAdd``); otherwise only failures that prove the request was never
executed (429, THROTTLED, connection refused) are retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import shopify
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from urllib3.exceptions import NewConnectionError

from adapters.shopify.cost import estimate_cost
from adapters.shopify.documents import Document, load
from adapters.shopify.throttle import ShopBucket, ThrottleStatus, bucket_for
from connector.errors import (
    AuthRejected,
    ConfigError,
    NotFound,
    PlatformUnavailable,
    RateLimited,
    ServerDown,
    TransientError,
    UnsupportedApiVersion,
    WriteRejected,
)

PLATFORM = "shopify"
SUPPORTED_API_VERSION = "2026-01"
log = logging.getLogger("vinculo.shopify")


@dataclass(frozen=True, slots=True)
class GraphQLResult:
    data: dict[str, Any]
    extensions: dict[str, Any]
    request_id: str | None
    requested_cost: float | None
    actual_cost: float | None


class _Throttled(Exception):
    def __init__(self, requested: float, status: ThrottleStatus | None) -> None:
        self.requested = requested
        self.status = status


class _TooCostly(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def check_api_version(api_version: str) -> str:
    """Refuse a malformed version string up front, using ShopifyAPI's own parser."""
    try:
        shopify.ApiVersion.coerce_to_version(api_version)
    except (shopify.VersionNotFoundError, TypeError, AttributeError):
        raise UnsupportedApiVersion(
            f"API version {api_version!r} is not a Shopify version (expected YYYY-MM); "
            f"this adapter speaks {SUPPORTED_API_VERSION}",
            platform=PLATFORM,
            obj="api_version",
            hint=f"set api_version to {SUPPORTED_API_VERSION!r}",
        ) from None
    return api_version


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _field_path(field: object) -> str | None:
    if isinstance(field, list | tuple):
        return ".".join(str(p) for p in field) or None
    return str(field) if field else None


class ShopifyClient:
    """One shop's GraphQL endpoint; safe to share between threads of that shop."""

    def __init__(
        self,
        *,
        shop_domain: str,
        access_token: str,
        api_version: str = SUPPORTED_API_VERSION,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 4,
        max_throttled: int = 30,
        bucket: ShopBucket | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not access_token:
            raise AuthRejected(
                "no Shopify access token configured", platform=PLATFORM, key="access_token",
                obj=shop_domain,
            )
        self.shop_domain = shop_domain
        self.api_version = check_api_version(api_version)
        root = (base_url or f"https://{shop_domain}").rstrip("/")
        self.endpoint = f"{root}/admin/api/{api_version}/graphql.json"
        self._url_key = "base_url" if base_url else "shop_domain"
        self._token = access_token
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_throttled = max_throttled
        self.bucket = bucket or bucket_for(shop_domain)
        self._session = session or requests.Session()
        self._sleep = sleep
        self._first_cap: dict[str, int] = {}
        self._deprecations_seen: set[str] = set()
        self.calls = 0  # HTTP requests sent (benchmarks and tests read it)
        self.cost_requested = 0.0  # Σ requestedQueryCost of executed calls
        self.cost_actual = 0.0  # Σ actualQueryCost: what the shop's bucket was charged

    # --- public ----------------------------------------------------------------------------------

    def execute(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        priority: bool = False,
        idempotent: bool = True,
    ) -> GraphQLResult:
        """Run ``queries/<name>.graphql``; returns data or raises a ``connector.errors`` error."""
        doc = load(name)
        safe_to_repeat = idempotent or not doc.is_mutation
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(lambda e: self._retryable(e, safe_to_repeat)),
            sleep=self._sleep,
            reraise=True,
        )
        result: GraphQLResult = retrying(self._attempt, doc, dict(variables or {}), priority)
        return result

    def mutate(
        self,
        name: str,
        variables: Mapping[str, Any],
        *,
        root: str,
        idempotent: bool,
        obj: str | None = None,
    ) -> dict[str, Any]:
        """Run a mutation and return its payload; ``userErrors`` become :class:`WriteRejected`."""
        result = self.execute(name, variables, priority=True, idempotent=idempotent)
        payload = result.data.get(root)
        if not isinstance(payload, dict):
            raise WriteRejected(
                f"{load(name).operation} returned no payload", platform=PLATFORM, obj=obj,
                reference="shopify-mutation-empty",
            )
        errors = payload.get("userErrors") or []
        if errors:
            raise self.user_errors(load(name).operation, errors, obj=obj)
        return payload

    @staticmethod
    def user_errors(operation: str, errors: list[dict[str, Any]], *, obj: str | None) -> WriteRejected:
        first = errors[0]
        field = _field_path(first.get("field"))
        code = next((e.get("code") for e in errors if e.get("code")), None)
        text = "; ".join(
            f"{_field_path(e.get('field')) or '(input)'}: {e.get('message')}" for e in errors
        )
        return WriteRejected(
            f"{operation} rejected: {text}",
            field=field,
            code=code,
            platform=PLATFORM,
            obj=obj,
            reference="shopify-user-error",
            hint="fix the value at the named field; the write was not applied",
        )

    def stream_lines(self, url: str) -> Iterator[bytes]:
        """Stream a bulk result file line by line (signed URL: no token header is sent)."""
        try:
            with self._session.get(url, stream=True, timeout=(min(self.timeout, 5.0), self.timeout * 6)) as resp:
                if resp.status_code != 200:
                    raise PlatformUnavailable(
                        f"bulk result download answered HTTP {resp.status_code}",
                        platform=PLATFORM, obj=self.shop_domain, reference="shopify-bulk-download",
                    )
                for line in resp.iter_lines(chunk_size=64 * 1024):
                    if line:
                        yield line
        except requests.RequestException as exc:
            raise PlatformUnavailable(
                self.redact(f"bulk result download failed: {type(exc).__name__}"),
                platform=PLATFORM, obj=self.shop_domain, reference="shopify-bulk-download",
            ) from None

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    # --- one attempt (THROTTLED and MAX_COST handled inside, not counted as failures) ---------

    def _attempt(self, doc: Document, variables: dict[str, Any], priority: bool) -> GraphQLResult:
        cap = self._first_cap.get(doc.name)
        if cap is not None and isinstance(variables.get("first"), int) and variables["first"] > cap:
            variables = {**variables, "first": cap}
        for _ in range(self.max_throttled):
            key = f"{doc.name}:{variables.get('first')}"
            cost = self.bucket.learned_cost(key)
            if cost is None:
                cost = float(estimate_cost(doc.text, variables))
            permit = self.bucket.acquire(cost, priority=priority)
            settled = False
            try:
                response = self._post(doc, variables)
                body = self._decode(response, doc)
                status = ThrottleStatus.from_extensions(body.get("extensions"))
                requested = ((body.get("extensions") or {}).get("cost") or {}).get("requestedQueryCost")
                if requested is not None:
                    self.bucket.learn_cost(key, float(requested))
                try:
                    result = self._interpret(response, body, doc)
                except _Throttled as t:
                    settled = True
                    waited = self.bucket.throttled(permit, t.requested or cost, t.status, priority=priority)
                    log.info("shopify %s throttled; waited %.2fs", doc.operation, waited)
                    continue
                self.bucket.settle(permit, status)
                settled = True
                return result
            except _TooCostly as e:
                first = variables.get("first")
                if isinstance(first, int) and first > 1:
                    self._first_cap[doc.name] = first // 2
                    variables = {**variables, "first": first // 2}
                    log.warning("shopify %s too costly at first=%d; retrying with %d",
                                doc.operation, first, first // 2)
                    continue
                raise ConfigError(
                    f"{doc.operation} costs more than Shopify's single-query limit: {e.message}",
                    platform=PLATFORM, obj=doc.operation, reference="shopify-query-too-costly",
                    hint="the document selects too much; reduce nested page sizes",
                ) from None
            finally:
                if not settled:
                    self.bucket.settle(permit, None)
        raise RateLimited(
            f"{doc.operation} still throttled after {self.max_throttled} waits",
            platform=PLATFORM, obj=self.shop_domain, reference="shopify-throttled",
            hint="another app or worker is draining this shop's bucket; the job will resume",
        )

    def _post(self, doc: Document, variables: dict[str, Any]) -> requests.Response:
        headers = {
            "X-Shopify-Access-Token": self._token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        body = {"query": doc.text, "variables": variables, "operationName": doc.operation}
        self.calls += 1
        try:
            return self._session.post(
                self.endpoint, json=body, headers=headers, timeout=(min(self.timeout, 5.0), self.timeout)
            )
        except requests.Timeout:
            raise PlatformUnavailable(
                f"{doc.operation}: no answer within {self.timeout:g}s",
                platform=PLATFORM, obj=self.shop_domain, reference="shopify-timeout",
            ) from None
        except requests.ConnectionError as exc:
            if any(isinstance(a, NewConnectionError) for a in _causes(exc)):
                # Refused or unresolvable: the request never left, so any call may be resent.
                raise ServerDown(
                    self.redact(f"cannot reach {self.endpoint}"),
                    key=self._url_key, platform=PLATFORM, obj=self.shop_domain,
                    reference="shopify-unreachable",
                ) from None
            raise PlatformUnavailable(
                self.redact(f"{doc.operation}: connection broken ({type(exc).__name__})"),
                platform=PLATFORM, obj=self.shop_domain, reference="shopify-connection-broken",
            ) from None

    def _decode(self, response: requests.Response, doc: Document) -> dict[str, Any]:
        status = response.status_code
        where: dict[str, Any] = {"platform": PLATFORM, "obj": self.shop_domain}
        if status == 401:
            raise AuthRejected(
                f"Shopify refused the access token for {self.shop_domain} (HTTP 401)",
                key="access_token", reference="shopify-auth-rejected", **where,
            )
        if status == 403:
            raise AuthRejected(
                f"Shopify forbade {doc.operation} for {self.shop_domain} (HTTP 403)",
                key="access_token", reference="shopify-forbidden",
                hint="the app lacks a required access scope; re-install it with the scopes in the docs",
                **where,
            )
        if status in (402, 423):
            raise ConfigError(
                f"shop {self.shop_domain} is {'frozen (unpaid plan)' if status == 402 else 'locked'} (HTTP {status})",
                reference="shopify-shop-unavailable",
                hint="the merchant must reactivate the shop; the store is paused meanwhile", **where,
            )
        if status == 404:
            raise ConfigError(
                f"no GraphQL endpoint at {self.endpoint} (HTTP 404)",
                reference="shopify-endpoint-not-found",
                hint="check `shop_domain` (x.myshopify.com) and `api_version`", **where,
            )
        if status == 429:
            raise RateLimited(
                f"{doc.operation}: HTTP 429", retry_after=_retry_after(response),
                reference="shopify-rate-limited", **where,
            )
        if status >= 500:
            raise PlatformUnavailable(
                f"{doc.operation}: HTTP {status}", retry_after=_retry_after(response),
                reference="shopify-server-error", **where,
            )
        if status != 200:
            raise ConfigError(
                f"{doc.operation}: unexpected HTTP {status}", reference="shopify-http-error", **where,
            )
        served = response.headers.get("X-Shopify-API-Version")
        if served and served != self.api_version:
            raise UnsupportedApiVersion(
                f"shop {self.shop_domain} does not serve API version {self.api_version}; "
                f"it answered with {served}",
                reference="api-version-unsupported",
                hint=f"this adapter speaks {SUPPORTED_API_VERSION}; configure a version the shop "
                f"still supports (it fell forward to {served})",
                **where,
            )
        reason = response.headers.get("X-Shopify-API-Deprecated-Reason")
        if reason and reason not in self._deprecations_seen:
            self._deprecations_seen.add(reason)
            log.warning("shopify %s uses deprecated API: %s", doc.operation, reason)
        try:
            body = response.json()
        except ValueError:
            raise PlatformUnavailable(
                f"{doc.operation}: answer is not JSON (a proxy page?)",
                reference="shopify-not-json", **where,
            ) from None
        if not isinstance(body, dict):
            raise PlatformUnavailable(
                f"{doc.operation}: answer is not a JSON object", reference="shopify-not-json", **where,
            )
        return body

    def _interpret(self, response: requests.Response, body: dict[str, Any], doc: Document) -> GraphQLResult:
        where: dict[str, Any] = {"platform": PLATFORM, "obj": doc.operation}
        errors = body.get("errors")
        data = body.get("data")
        extensions = body.get("extensions") or {}
        cost = extensions.get("cost") or {}
        if isinstance(errors, str):
            raise ConfigError(f"{doc.operation}: {errors}", reference="shopify-request-rejected", **where)
        for error in errors or []:
            ext = error.get("extensions") or {}
            code = ext.get("code")
            message = str(error.get("message", ""))
            if code == "THROTTLED":
                raise _Throttled(float(cost.get("requestedQueryCost") or 0), ThrottleStatus.from_extensions(extensions))
            if code == "MAX_COST_EXCEEDED":
                raise _TooCostly(message)
            if code == "INTERNAL_SERVER_ERROR":
                raise PlatformUnavailable(f"{doc.operation}: {message}", reference="shopify-internal-error", **where)
            if code == "ACCESS_DENIED":
                required = ext.get("requiredAccess") or "a missing access scope"
                raise AuthRejected(
                    f"{doc.operation}: access denied ({message})", key="access_token",
                    reference="shopify-scope-missing",
                    hint=f"grant the app {required} and re-install it", **where,
                )
        if errors and not data:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code")
            if code == "INVALID_VARIABLE":
                problems = (first.get("extensions") or {}).get("problems") or []
                path = _field_path(problems[0].get("path")) if problems else None
                raise WriteRejected(
                    f"{doc.operation}: {first.get('message')}", field=path, code=code,
                    reference="shopify-invalid-variable", **where,
                )
            raise ConfigError(
                f"{doc.operation} rejected by Shopify: {first.get('message')}"
                + (f" [{code}]" if code else ""),
                reference="shopify-query-rejected",
                hint="the query document does not match the shop's API; this is a bug to report",
                **where,
            )
        for error in errors or []:
            code = (error.get("extensions") or {}).get("code")
            if code in ("RESOURCE_NOT_FOUND", "NOT_FOUND"):
                raise NotFound(f"{doc.operation}: {error.get('message')}", reference="shopify-not-found", **where)
            log.warning("shopify %s partial error: %s", doc.operation, error.get("message"))
        for search in extensions.get("search") or []:
            warnings = search.get("warnings") or []
            if warnings:
                w = warnings[0]
                raise ConfigError(
                    f"{doc.operation}: Shopify ignored the search filter {search.get('query')!r} "
                    f"({w.get('field')}: {w.get('message')})",
                    reference="shopify-search-ignored",
                    hint="an unsupported search field returns everything unfiltered; fix the filter",
                    **where,
                )
        if not isinstance(data, dict):
            raise PlatformUnavailable(f"{doc.operation}: answer without data", reference="shopify-no-data", **where)
        self.cost_requested += _num(cost.get("requestedQueryCost")) or 0.0
        self.cost_actual += _num(cost.get("actualQueryCost")) or 0.0
        request_id = response.headers.get("X-Request-Id")
        log.debug("shopify %s ok request_id=%s cost=%s", doc.operation, request_id, cost.get("actualQueryCost"))
        return GraphQLResult(
            data=data,
            extensions=extensions,
            request_id=request_id,
            requested_cost=_num(cost.get("requestedQueryCost")),
            actual_cost=_num(cost.get("actualQueryCost")),
        )

    # --- retry policy -------------------------------------------------------------------------------

    @staticmethod
    def _retryable(exc: BaseException, safe_to_repeat: bool) -> bool:
        if isinstance(exc, RateLimited):
            return True  # 429: the request was refused, not executed
        if isinstance(exc, ServerDown):
            return True  # connection refused: nothing was sent
        return isinstance(exc, TransientError) and safe_to_repeat

    @staticmethod
    def _wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        if isinstance(hinted, int | float) and hinted > 0:
            return float(min(hinted, 120.0))
        return float(min(30.0, 0.5 * 2 ** (state.attempt_number - 1)) + random.uniform(0, 0.25))


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _causes(exc: BaseException) -> Iterator[object]:
    """Walk ``requests``' wrapped urllib3 errors (args and ``reason``) to find the root cause."""
    seen: list[object] = [exc]
    while seen:
        item = seen.pop()
        yield item
        if isinstance(item, BaseException):
            seen.extend(item.args)
            reason = getattr(item, "reason", None)
            if reason is not None:
                seen.append(reason)


"""Shopify webhook deliveries: verify, dedupe, and turn into hints or compliance requests.

A delivery is a *hint* (DESIGN.md): it says which object changed and the core re-reads that
object through GraphQL, because webhook bodies are REST-shaped, may arrive late, twice or out of
order, and carry float-rounded ids (NOTES §7). So the only things taken from a body are the
object's ``admin_graphql_api_id`` (exact, unlike the numeric ``id``) and, for the compliance
topics, the identifiers the merchant's customer asked about.

Verification comes first and works on the raw bytes: base64(HMAC-SHA256(app secret, body)),
compared in constant time; after a secret rotation the previous secret may still sign for an
hour, so a second secret is accepted. A bad signature raises :class:`AuthRejected` naming
``webhook_secret`` (the intake answers 401). Bodies are never logged: they hold personal data.

The three GDPR topics become typed requests; the erasure or export itself is the core's job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from connector.domain import platform_id, utc
from connector.errors import AuthRejected, MalformedPayload

PLATFORM = "shopify"

HintKind = Literal["customer", "order", "bulk_operation", "app", "unknown"]
HintAction = Literal["refresh", "deleted", "bulk_finished", "uninstalled", "ignore"]

_CUSTOMER_TOPICS = {"customers/create", "customers/update", "customers/enable", "customers/disable"}
_ORDER_TOPICS = {
    "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
    "orders/partially_fulfilled",
}


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the headers say about one delivery (verified), plus the parsed body."""

    topic: str
    shop_domain: str
    webhook_id: str | None
    event_id: str | None
    triggered_at: datetime | None
    api_version: str | None
    dedupe_key: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookHint:
    """"Look at this object again": the core re-reads ``gid`` with a fresh GraphQL call."""

    store: str
    topic: str
    kind: HintKind
    action: HintAction
    gid: str | None
    platform_id: str | None
    dedupe_key: str
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerDataRequest:
    """customers/data_request: export what Vínculo holds on this customer (30 days)."""

    store: str
    shop_domain: str
    shop_id: int | None
    customer_gid: str | None
    customer_platform_id: str | None
    email: str | None
    phone: str | None
    order_gids: tuple[str, ...]
    data_request_id: int | None
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class CustomerRedact:
    """customers/redact: delete this customer's personal data, keep anonymised totals."""

    store: str
    shop_domain: str
    shop_id: int | None
    customer_gid: str | None
    customer_platform_id: str | None
    email: str | None
    phone: str | None
    order_gids: tuple[str, ...]
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class ShopRedact:
    """shop/redact (48 h after uninstall): delete everything held for this store."""

    store: str
    shop_domain: str
    shop_id: int | None
    dedupe_key: str


ComplianceRequest = CustomerDataRequest | CustomerRedact | ShopRedact


# --- signature -----------------------------------------------------------------------------------


def signature(raw_body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256`` for ``raw_body``: base64 of the HMAC-SHA256 digest."""
    digest = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_hmac(raw_body: bytes, given: str | None, secrets: Sequence[str]) -> bool:
    """Constant-time check against each configured secret (current, then previous)."""
    if not given:
        return False
    given_bytes = given.strip().encode("ascii", errors="replace")
    ok = False
    for secret in secrets:
        # No early exit: the time taken does not reveal which secret matched.
        ok |= hmac.compare_digest(signature(raw_body, secret).encode("ascii"), given_bytes)
    return ok


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    secret: str | None,
    store: str,
    previous_secret: str | None = None,
) -> None:
    """Raise :class:`AuthRejected` unless the delivery is signed with our secret."""
    if not secret:
        raise AuthRejected(
            "a Shopify webhook arrived but no webhook secret is configured",
            key="webhook_secret", reference="shopify-webhook-secret-missing", platform=PLATFORM, obj=store,
            hint="set `webhook_secret` to the app's client secret",
        )
    given = _header(headers, "X-Shopify-Hmac-Sha256")
    if not given:
        raise AuthRejected(
            "webhook delivery has no X-Shopify-Hmac-Sha256 header",
            key="webhook_secret", reference="shopify-webhook-unsigned", platform=PLATFORM, obj=store,
            hint="only Shopify deliveries are accepted; check what posts to this URL",
        )
    secrets = [secret] + ([previous_secret] if previous_secret else [])
    if not verify_hmac(raw_body, given, secrets):
        raise AuthRejected(
            "webhook HMAC does not match the body",
            key="webhook_secret", reference="shopify-webhook-hmac-invalid", platform=PLATFORM, obj=store,
            hint="`webhook_secret` must be the app's client secret; after a rotation keep the old "
            "one as previous secret for an hour",
        )


# --- parsing ---------------------------------------------------------------------------------------


def dedupe_key(shop_domain: str, event_id: str | None, webhook_id: str | None, raw_body: bytes) -> str:
    """Event id first (one event, many subscriptions), then the delivery id, then the body."""
    if event_id:
        return f"shopify:{shop_domain}:event:{event_id}"
    if webhook_id:
        return f"shopify:{shop_domain}:webhook:{webhook_id}"
    return f"shopify:{shop_domain}:body:{hashlib.sha256(raw_body).hexdigest()[:32]}"


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def read_delivery(
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    secret: str | None,
    store: str,
    previous_secret: str | None = None,
) -> Delivery:
    """Verify, then parse headers and body (floats as Decimal, big integers exact)."""
    verify(headers, raw_body, secret=secret, store=store, previous_secret=previous_secret)
    topic = (_header(headers, "X-Shopify-Topic") or "").strip().lower()
    shop_domain = (_header(headers, "X-Shopify-Shop-Domain") or "").strip().lower()
    if not topic:
        raise MalformedPayload("signed delivery without X-Shopify-Topic",
                               reference="shopify-webhook-topic-missing", platform=PLATFORM, obj=store)
    try:
        body = json.loads(raw_body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload(f"signed {topic} delivery is not JSON", reference="shopify-webhook-body-invalid",
                               platform=PLATFORM, obj=store) from None
    if not isinstance(body, Mapping):
        raise MalformedPayload(f"signed {topic} delivery is not a JSON object",
                               reference="shopify-webhook-body-invalid", platform=PLATFORM, obj=store)
    event_id = _header(headers, "X-Shopify-Event-Id")
    webhook_id = _header(headers, "X-Shopify-Webhook-Id")
    return Delivery(
        topic=topic,
        shop_domain=shop_domain,
        webhook_id=webhook_id,
        event_id=event_id,
        triggered_at=_time(_header(headers, "X-Shopify-Triggered-At")),
        api_version=_header(headers, "X-Shopify-API-Version"),
        dedupe_key=dedupe_key(shop_domain, event_id, webhook_id, raw_body),
        body=body,
    )


def _gid(body: Mapping[str, Any], type_name: str, id_key: str = "id") -> str | None:
    gid = body.get("admin_graphql_api_id")
    if isinstance(gid, str) and gid.startswith(f"gid://shopify/{type_name}/"):
        return gid
    raw = body.get(id_key)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return f"gid://shopify/{type_name}/{raw}"
    return None


def _ids(values: object, type_name: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(f"gid://shopify/{type_name}/{v}" for v in values if isinstance(v, int) and not isinstance(v, bool))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def to_hint(delivery: Delivery, store: str) -> WebhookHint | ComplianceRequest:
    """Turn a verified delivery into what the core acts on."""
    topic, body = delivery.topic, delivery.body
    key = delivery.dedupe_key

    def hint(kind: HintKind, action: HintAction, gid: str | None) -> WebhookHint:
        return WebhookHint(
            store=store, topic=topic, kind=kind, action=action, gid=gid,
            platform_id=platform_id(PLATFORM, store, gid) if gid else None, dedupe_key=key,
            updated_at=_time(body.get("updated_at")) or delivery.triggered_at,
        )

    if topic in _CUSTOMER_TOPICS or topic == "customers/delete":
        gid = _gid(body, "Customer")
        if gid is None:
            raise MalformedPayload(f"{topic} delivery without a customer id",
                                   reference="shopify-webhook-id-missing", platform=PLATFORM, obj=store)
        return hint("customer", "deleted" if topic == "customers/delete" else "refresh", gid)
    if topic in _ORDER_TOPICS or topic == "orders/delete":
        gid = _gid(body, "Order")
        if gid is None:
            raise MalformedPayload(f"{topic} delivery without an order id",
                                   reference="shopify-webhook-id-missing", platform=PLATFORM, obj=store)
        return hint("order", "deleted" if topic == "orders/delete" else "refresh", gid)
    if topic == "refunds/create":
        order_id = _int(body.get("order_id"))
        if order_id is None:
            raise MalformedPayload("refunds/create delivery without order_id",
                                   reference="shopify-webhook-id-missing", platform=PLATFORM, obj=store)
        return hint("order", "refresh", f"gid://shopify/Order/{order_id}")
    if topic == "bulk_operations/finish":
        return hint("bulk_operation", "bulk_finished", _gid(body, "BulkOperation"))
    if topic == "app/uninstalled":
        return hint("app", "uninstalled", None)
    if topic in ("customers/data_request", "customers/redact"):
        raw_customer = body.get("customer")
        customer: Mapping[str, Any] = raw_customer if isinstance(raw_customer, Mapping) else {}
        cid = _int(customer.get("id"))
        cgid = f"gid://shopify/Customer/{cid}" if cid is not None else None
        common: dict[str, Any] = {
            "store": store,
            "shop_domain": str(body.get("shop_domain") or delivery.shop_domain),
            "shop_id": _int(body.get("shop_id")),
            "customer_gid": cgid,
            "customer_platform_id": platform_id(PLATFORM, store, cgid) if cgid else None,
            "email": customer.get("email") or None,
            "phone": customer.get("phone") or None,
            "dedupe_key": key,
        }
        if topic == "customers/data_request":
            raw_request = body.get("data_request")
            request: Mapping[str, Any] = raw_request if isinstance(raw_request, Mapping) else {}
            return CustomerDataRequest(
                **common, order_gids=_ids(body.get("orders_requested"), "Order"),
                data_request_id=_int(request.get("id")),
            )
        return CustomerRedact(**common, order_gids=_ids(body.get("orders_to_redact"), "Order"))
    if topic == "shop/redact":
        return ShopRedact(store=store, shop_domain=str(body.get("shop_domain") or delivery.shop_domain),
                          shop_id=_int(body.get("shop_id")), dedupe_key=key)
    return hint("unknown", "ignore", None)


def parse_delivery(
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    secret: str | None,
    store: str,
    previous_secret: str | None = None,
) -> WebhookHint | ComplianceRequest:
    """Verify one delivery and say what to do about it (the daemon's single entry point)."""
    delivery = read_delivery(headers, raw_body, secret=secret, store=store, previous_secret=previous_secret)
    return to_hint(delivery, store)

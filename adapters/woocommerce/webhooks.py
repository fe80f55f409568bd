"""WooCommerce webhook intake: verify, recognise the ping, derive a dedupe key, name the resource.

A delivery is a hint, never data (DESIGN.md "Webhooks are hints"): its body was rendered at
delivery time, possibly minutes after the event, and updates are coalesced, so the caller reads
the resource fresh. Verification runs over the exact received bytes: re-serialising the parsed
JSON changes ``\\/`` escapes, ``\\u`` escapes and key order and breaks the HMAC (NOTES §7.3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from connector.domain import platform_id
from connector.errors import AuthRejected, MalformedPayload

PLATFORM = "woo"
RESOURCES = frozenset({"order", "customer", "coupon", "product"})


@dataclass(frozen=True, slots=True)
class Ping:
    """The unsigned ``webhook_id=N`` form post sent when a webhook is created: answer 200, nothing else."""

    webhook_id: int


@dataclass(frozen=True, slots=True)
class WebhookHint:
    """"Look at ``resource`` ``resource_id`` again." ``dedupe_key`` is stable across redeliveries
    of the same body and differs between two resources delivered in the same second."""

    topic: str
    resource: str
    event: str
    resource_id: int
    platform_id: str
    webhook_id: str
    delivery_id: str
    dedupe_key: str
    body_digest: str


def signature(raw_body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).digest()).decode()


def verify_signature(raw_body: bytes, given: str | None, secret: str) -> bool:
    """Constant-time check of ``X-WC-Webhook-Signature`` over the raw bytes."""
    if not given or not secret:
        return False
    return hmac.compare_digest(signature(raw_body, secret).encode(), given.strip().encode())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _ping(headers: Mapping[str, str], raw_body: bytes) -> Ping | None:
    content_type = (_header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded" or _header(headers, "X-WC-Webhook-Signature"):
        return None
    try:
        form = parse_qs(raw_body.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    values = form.get("webhook_id")
    if set(form) != {"webhook_id"} or not values or len(values) != 1 or not values[0].isdigit():
        return None
    return Ping(webhook_id=int(values[0]))


def parse_delivery(
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    secret: str | None,
    store: str,
) -> Ping | WebhookHint:
    """Verify one delivery and turn it into a :class:`WebhookHint` (or recognise the ping).

    Raises ``AuthRejected`` (key ``webhook_secret``) for a missing or wrong signature and
    ``MalformedPayload`` for a signed body that is not a resource object.
    """
    ping = _ping(headers, raw_body)
    if ping is not None:
        return ping
    if not secret:
        raise AuthRejected(
            "a webhook arrived but no webhook secret is configured",
            key="webhook_secret",
            reference="woo-webhook-secret-missing",
            platform=PLATFORM,
            obj=store,
            hint="set `webhook_secret` to the secret entered on the webhook in WooCommerce",
        )
    given = _header(headers, "X-WC-Webhook-Signature")
    if not given:
        raise AuthRejected(
            "webhook delivery has no X-WC-Webhook-Signature",
            key="webhook_secret",
            reference="woo-webhook-unsigned",
            platform=PLATFORM,
            obj=store,
            hint="only WooCommerce deliveries are accepted; check what posts to this URL",
        )
    if not verify_signature(raw_body, given, secret):
        raise AuthRejected(
            "webhook signature does not match",
            key="webhook_secret",
            reference="woo-webhook-signature-invalid",
            platform=PLATFORM,
            obj=store,
            hint="`webhook_secret` must equal the secret set on the webhook in WooCommerce "
            "(avoid & < > \" ' in it: the store HTML-decodes the secret)",
        )
    topic = _header(headers, "X-WC-Webhook-Topic") or ""
    resource = _header(headers, "X-WC-Webhook-Resource") or topic.partition(".")[0]
    event = _header(headers, "X-WC-Webhook-Event") or topic.partition(".")[2]
    try:
        body: Any = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload(
            f"signed {topic or 'webhook'} delivery is not JSON",
            reference="woo-webhook-body-invalid",
            platform=PLATFORM,
            obj=store,
        ) from None
    resource_id = body.get("id") if isinstance(body, Mapping) else None
    if not isinstance(resource_id, int) or isinstance(resource_id, bool) or resource_id <= 0:
        raise MalformedPayload(
            f"{topic or 'webhook'} delivery names no resource id",
            reference="woo-webhook-body-invalid",
            platform=PLATFORM,
            obj=store,
            hint="action.* topics are not supported; subscribe to order/customer/coupon topics",
        )
    if resource not in RESOURCES:
        raise MalformedPayload(
            f"webhook resource {resource!r} is not one Vínculo reads",
            reference="woo-webhook-resource-unknown",
            platform=PLATFORM,
            obj=store,
        )
    webhook_id = _header(headers, "X-WC-Webhook-ID") or ""
    delivery_id = _header(headers, "X-WC-Webhook-Delivery-ID") or ""
    body_digest = hashlib.sha256(raw_body).hexdigest()
    # Delivery-ID is only a hash of (webhook id, second): two resources delivered in one second
    # share it, a re-send of the same state gets a new one. Key on what was said instead:
    # webhook, resource, and the digest of the body (DESIGN.md, NOTES §7.3).
    dedupe_key = hashlib.sha256(
        f"{store}\0{webhook_id}\0{resource}\0{resource_id}\0{body_digest}".encode()
    ).hexdigest()[:40]
    return WebhookHint(
        topic=topic,
        resource=resource,
        event=event,
        resource_id=resource_id,
        platform_id=platform_id(PLATFORM, store, resource_id),
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        dedupe_key=dedupe_key,
        body_digest=body_digest,
    )

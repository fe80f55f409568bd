"""A faithful local WooCommerce REST v3 store for tests and benchmarks.

Real HTTP on 127.0.0.1 (ephemeral port) in a background thread, serving ``/wp-json/wc/v3/...``
with the shapes, headers, error envelopes, OAuth 1.0a checks and webhook deliveries recorded from
a WooCommerce 9.9.5 store (see the WooCommerce platform notes, section 10). Host-level faults
(429/503 with Retry-After, resets, slow or truncated bodies) are opt-in knobs on ``sim.faults``.
"""

from __future__ import annotations

from .auth import ApiKey
from .clock import SimClock
from .faults import FaultRule, Faults
from .render import php_json
from .server import RequestRecord
from .sim import WooSimulator
from .webhooks import Delivery, signature, verify_signature

__all__ = [
    "ApiKey",
    "Delivery",
    "FaultRule",
    "Faults",
    "RequestRecord",
    "SimClock",
    "WooSimulator",
    "php_json",
    "signature",
    "verify_signature",
]

"""Local stand-in for the Shopify Admin GraphQL API 2026-01 (see server.py for the pipeline)."""

from .bucket import PLANS, LeakyBucket
from .server import Faults, ManualClock, ShopifySimulator
from .webhooks import Delivery, sign

__all__ = ["PLANS", "Delivery", "Faults", "LeakyBucket", "ManualClock", "ShopifySimulator", "sign"]

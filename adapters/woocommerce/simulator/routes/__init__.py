"""Every ``/wp-json/wc/v3`` route the simulator serves, with its ``Allow`` methods."""

from __future__ import annotations

from . import coupons, customers, orders, products, webhooks
from .base import Req, Resp, Route

ROUTES: list[Route] = [
    *orders.ROUTES,
    *customers.ROUTES,
    *coupons.ROUTES,
    *products.ROUTES,
    *webhooks.ROUTES,
]

__all__ = ["ROUTES", "Req", "Resp", "Route"]

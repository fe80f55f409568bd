"""In-memory shop state, ID sequences and lookup indexes.

ID sequences follow the real store: orders, coupons, products and refunds are all WordPress posts
(or HPOS rows sharing the posts sequence) and draw from one counter; customers are users with their
own counter; order items, notes, webhooks and each meta table have their own counters.

One re-entrant lock guards everything: the HTTP threads, the webhook ticker and the test-facing
helpers all take it, so every request sees a consistent shop.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .meta import Meta

CUSTOMER_BILLING_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city",
                         "postcode", "country", "state", "email", "phone")
CUSTOMER_SHIPPING_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city",
                          "postcode", "country", "state", "phone")
ORDER_BILLING_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city",
                      "state", "postcode", "country", "email", "phone")
ORDER_SHIPPING_KEYS = ("first_name", "last_name", "company", "address_1", "address_2", "city",
                       "state", "postcode", "country", "phone")

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                  "failed", "checkout-draft", "trash", "auto-draft")


def blank_address(keys: tuple[str, ...]) -> dict[str, str]:
    return dict.fromkeys(keys, "")


@dataclass(slots=True)
class Customer:
    id: int
    email: str
    username: str
    first_name: str = ""
    last_name: str = ""
    role: str = "customer"
    billing: dict[str, str] = field(default_factory=lambda: blank_address(CUSTOMER_BILLING_KEYS))
    shipping: dict[str, str] = field(default_factory=lambda: blank_address(CUSTOMER_SHIPPING_KEYS))
    is_paying_customer: bool = False
    created: int = 0
    modified: int = 0
    meta: list[Meta] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.username


@dataclass(slots=True)
class Product:
    id: int
    name: str
    slug: str
    sku: str = ""
    type: str = "simple"
    status: str = "publish"
    regular_price: str = ""
    sale_price: str = ""
    manage_stock: bool = False
    stock_quantity: int | None = None
    virtual: bool = False
    downloadable: bool = False
    total_sales: int = 0
    description: str = ""
    short_description: str = ""
    created: int = 0
    modified: int = 0
    meta: list[Meta] = field(default_factory=list)

    @property
    def price(self) -> str:
        return self.sale_price or self.regular_price


@dataclass(slots=True)
class Coupon:
    id: int
    code: str
    amount: Decimal = Decimal("0")
    discount_type: str = "fixed_cart"
    description: str = ""
    status: str = "publish"
    date_expires: int | None = None
    usage_count: int = 0
    individual_use: bool = False
    product_ids: list[int] = field(default_factory=list)
    excluded_product_ids: list[int] = field(default_factory=list)
    usage_limit: int | None = None
    usage_limit_per_user: int | None = None
    limit_usage_to_x_items: int | None = None
    free_shipping: bool = False
    product_categories: list[int] = field(default_factory=list)
    excluded_product_categories: list[int] = field(default_factory=list)
    exclude_sale_items: bool = False
    minimum_amount: Decimal = Decimal("0")
    maximum_amount: Decimal = Decimal("0")
    email_restrictions: list[str] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)
    created: int = 0
    modified: int = 0
    meta: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class LineItem:
    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    subtotal: Decimal
    total: Decimal
    sku: str | None
    tax_class: str = ""
    meta: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class ShippingLine:
    id: int
    method_id: str
    method_title: str
    total: Decimal
    instance_id: str = ""
    tax_status: str = "taxable"
    meta: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class FeeLine:
    id: int
    name: str
    total: Decimal
    tax_class: str = ""
    tax_status: str = "taxable"
    meta: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class CouponLine:
    id: int
    code: str
    coupon_id: int
    discount_type: str
    nominal_amount: Decimal
    free_shipping: bool
    discount: Decimal = Decimal("0")
    meta: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class Refund:
    id: int
    order_id: int
    amount: Decimal
    reason: str
    refunded_by: int
    refunded_payment: bool
    created: int
    meta: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class Note:
    id: int
    order_id: int
    note: str
    customer_note: bool
    author: str
    created: int


@dataclass(slots=True)
class Order:
    id: int
    status: str
    customer_id: int
    order_key: str
    created: int
    modified: int
    currency: str = "EUR"
    parent_id: int = 0
    billing: dict[str, str] = field(default_factory=lambda: blank_address(ORDER_BILLING_KEYS))
    shipping: dict[str, str] = field(default_factory=lambda: blank_address(ORDER_SHIPPING_KEYS))
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str = ""
    customer_ip_address: str = ""
    customer_user_agent: str = ""
    created_via: str = "rest-api"
    customer_note: str = ""
    date_paid: int | None = None
    date_completed: int | None = None
    number: str = ""
    meta: list[Meta] = field(default_factory=list)
    line_items: list[LineItem] = field(default_factory=list)
    shipping_lines: list[ShippingLine] = field(default_factory=list)
    fee_lines: list[FeeLine] = field(default_factory=list)
    coupon_lines: list[CouponLine] = field(default_factory=list)
    refund_ids: list[int] = field(default_factory=list)
    discount_total: Decimal = Decimal("0")
    shipping_total: Decimal = Decimal("0")
    total: Decimal = Decimal("0")
    coupon_usage_recorded: bool = False
    stock_reduced: bool = False
    version: str = "9.9.5"


@dataclass(slots=True)
class Webhook:
    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    created: int
    modified: int | None = None
    failure_count: int = 0
    user_id: int = 1


class Sequence:
    def __init__(self, start: int) -> None:
        self._it = itertools.count(start)

    def __call__(self) -> int:
        return next(self._it)


Listener = Callable[[str, str, int], None]


class Store:
    """All shop objects plus the counters and indexes the routes rely on."""

    def __init__(self, *, first_post_id: int = 10, first_user_id: int = 2) -> None:
        self.lock = threading.RLock()
        self.customers: dict[int, Customer] = {}
        self.products: dict[int, Product] = {}
        self.coupons: dict[int, Coupon] = {}
        self.orders: dict[int, Order] = {}
        self.refunds: dict[int, Refund] = {}
        self.notes: dict[int, Note] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.post_ids = Sequence(first_post_id)
        self.user_ids = Sequence(first_user_id)
        self.item_ids = Sequence(1)
        self.comment_ids = Sequence(1)
        self.webhook_ids = Sequence(1)
        self.usermeta_ids = Sequence(1)
        self.postmeta_ids = Sequence(1)
        self.ordermeta_ids = Sequence(1)
        self.itemmeta_ids = Sequence(1)
        self.email_index: dict[str, int] = {}
        self.username_index: dict[str, int] = {}
        self.code_index: dict[str, int] = {}
        self.sku_index: dict[str, int] = {}
        self.version = 0
        self._sort_cache: dict[tuple[str, str, bool], tuple[int, list[int]]] = {}
        self._query_cache: dict[Any, tuple[int, list[Any]]] = {}
        self.listeners: list[Listener] = []

    def touch(self) -> None:
        """Any write invalidates cached orderings."""
        self.version += 1

    def emit(self, resource: str, event: str, obj_id: int) -> None:
        self.touch()
        for listener in self.listeners:
            listener(resource, event, obj_id)

    def sorted_ids(self, kind: str, key_name: str, desc: bool,
                   key: Callable[[Any], Any]) -> list[int]:
        """Collection ordering cached until the next write, so sweeping 100 pages sorts once."""
        cache_key = (kind, key_name, desc)
        cached = self._sort_cache.get(cache_key)
        if cached and cached[0] == self.version:
            return cached[1]
        objects: dict[int, Any] = getattr(self, kind)
        ids = [o.id for o in sorted(objects.values(), key=key, reverse=desc)]
        self._sort_cache[cache_key] = (self.version, ids)
        return ids

    def cached_query(self, key: Any, compute: Callable[[], list[Any]]) -> list[Any]:
        """Filtered result of a collection query, reused by the following pages of a sweep."""
        hit = self._query_cache.get(key)
        if hit and hit[0] == self.version:
            return hit[1]
        result = compute()
        if len(self._query_cache) >= 16:
            self._query_cache.clear()
        self._query_cache[key] = (self.version, result)
        return result

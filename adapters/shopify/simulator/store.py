"""The simulated shop's data: customers, orders, discounts, metafields, bulk operations.

Plain slotted objects keep a 100k-order shop small and quick to seed. Sorted views for
cursor pagination are cached per (collection, sort key) and dropped on any write, so a long
paginated pull over an unchanging shop sorts once. Every write goes through a method here
that bumps ``updated_at`` from the injected clock and emits a webhook event.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .pricing import DiscountApplication, TaxLine, cents, price_order

Event = tuple[str, Any]  # (topic, object)


@dataclass(slots=True)
class Address:
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    country: str | None = None
    country_code: str | None = None
    zip: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    id: int = 0


@dataclass(slots=True)
class Metafield:
    id: int
    owner_type: str
    owner_id: int
    namespace: str
    key: str
    type: str
    value: str
    created_at: datetime
    updated_at: datetime
    digest: str = ""


@dataclass(slots=True)
class MetafieldDefinition:
    id: int
    namespace: str
    key: str
    name: str
    owner_type: str
    type: str
    description: str | None = None
    access: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Customer:
    id: int
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    locale: str = "en"
    state: str = "DISABLED"
    tax_exempt: bool = False
    tax_exemptions: list[str] = field(default_factory=list)
    verified_email: bool = True
    address: Address | None = None
    number_of_orders: int = 0
    amount_spent: Decimal = Decimal("0")
    indexed_at: datetime | None = None


@dataclass(slots=True)
class LineItem:
    id: int
    sku: str | None
    title: str
    quantity: int
    unit_price: Decimal
    variant_title: str | None = None
    vendor: str | None = None
    taxable: bool = True
    # Filled by pricing.price_order: (discount application index, amount) and taxes.
    allocations: list[tuple[int, Decimal]] = field(default_factory=list)
    tax_lines: list[TaxLine] = field(default_factory=list)

    @property
    def original_total(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def discount(self) -> Decimal:
        """Everything allocated to the line (line, code and order-level discounts)."""
        return sum((a for _, a in self.allocations), Decimal("0"))

    @property
    def discounted_total(self) -> Decimal:
        """The line's price after all its allocations (tax included when the order's is)."""
        return self.original_total - self.discount

    @property
    def tax(self) -> Decimal:
        return sum((t.amount for t in self.tax_lines), Decimal("0"))


@dataclass(slots=True)
class ShippingLine:
    id: int
    title: str
    code: str
    price: Decimal
    allocations: list[tuple[int, Decimal]] = field(default_factory=list)
    tax_lines: list[TaxLine] = field(default_factory=list)

    @property
    def original_total(self) -> Decimal:
        return self.price

    @property
    def discount(self) -> Decimal:
        return sum((a for _, a in self.allocations), Decimal("0"))

    @property
    def discounted_price(self) -> Decimal:
        return self.price - self.discount

    @property
    def tax(self) -> Decimal:
        return sum((t.amount for t in self.tax_lines), Decimal("0"))


@dataclass(slots=True)
class RefundLine:
    id: int
    line_item_id: int
    quantity: int
    restock_type: str
    subtotal: Decimal
    tax: Decimal = Decimal("0")


@dataclass(slots=True)
class Refund:
    id: int
    order_id: int
    created_at: datetime
    note: str | None
    lines: list[RefundLine]
    shipping: Decimal = Decimal("0")
    taxes_included: bool = True

    @property
    def total(self) -> Decimal:
        """Line subtotals (tax inside them when the order's prices include it, else added)."""
        lines = sum((rl.subtotal for rl in self.lines), Decimal("0"))
        if not self.taxes_included:
            lines += sum((rl.tax for rl in self.lines), Decimal("0"))
        return lines + self.shipping


@dataclass(slots=True)
class Fulfillment:
    id: int
    order_id: int
    created_at: datetime
    updated_at: datetime
    lines: list[tuple[int, int]]  # (line item id, quantity)
    status: str = "SUCCESS"
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    name: str = ""


@dataclass(slots=True)
class Order:
    id: int
    number: int
    email: str | None
    customer_id: int | None
    created_at: datetime
    updated_at: datetime
    line_items: list[LineItem]
    shipping_lines: list[ShippingLine] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    discount_codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    currency: str = "EUR"
    presentment_currency: str = "EUR"
    financial_status: str = "PAID"
    processed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    test: bool = False
    source_name: str = "web"
    note: str | None = None
    tax_rate: Decimal = Decimal("0.21")
    tax_title: str = "IVA"
    taxes_included: bool = True  # the shop's setting when the order was placed
    discount_applications: list[DiscountApplication] = field(default_factory=list)
    indexed_at: datetime | None = None

    @property
    def name(self) -> str:
        return f"#{self.number}"

    def reprice(self) -> None:
        """Recompute allocations and taxes after lines or discounts changed."""
        price_order(self)

    @property
    def subtotal(self) -> Decimal:
        """``subtotalPriceSet``: lines after all discounts (tax inside when taxes are included)."""
        return sum((li.discounted_total for li in self.line_items), Decimal("0"))

    @property
    def shipping_total(self) -> Decimal:
        """``totalShippingPriceSet``: shipping before discounts."""
        return sum((s.price for s in self.shipping_lines), Decimal("0"))

    @property
    def shipping_after_discounts(self) -> Decimal:
        return sum((s.discounted_price for s in self.shipping_lines), Decimal("0"))

    @property
    def discount_total(self) -> Decimal:
        """``totalDiscountsSet``: every allocation, on lines and on shipping."""
        return (sum((li.discount for li in self.line_items), Decimal("0"))
                + sum((s.discount for s in self.shipping_lines), Decimal("0")))

    @property
    def total_tax(self) -> Decimal:
        """The sum of the per-line (already rounded) taxes, lines and shipping."""
        return (sum((li.tax for li in self.line_items), Decimal("0"))
                + sum((s.tax for s in self.shipping_lines), Decimal("0")))

    @property
    def total(self) -> Decimal:
        """Lines and shipping after discounts, plus tax when prices exclude it."""
        total = self.subtotal + self.shipping_after_discounts
        return total if self.taxes_included else total + self.total_tax

    @property
    def refunded_total(self) -> Decimal:
        return sum((r.total for r in self.refunds), Decimal("0"))

    def refunded_quantity(self, line_item_id: int) -> int:
        return sum(rl.quantity for r in self.refunds for rl in r.lines if rl.line_item_id == line_item_id)

    def fulfilled_quantity(self, line_item_id: int) -> int:
        return sum(q for f in self.fulfillments for lid, q in f.lines if lid == line_item_id)

    @property
    def fulfillment_status(self) -> str:
        want = sum(li.quantity - self.refunded_quantity(li.id) for li in self.line_items)
        done = sum(q for f in self.fulfillments for _, q in f.lines)
        if done <= 0:
            return "UNFULFILLED"
        return "FULFILLED" if done >= want else "PARTIALLY_FULFILLED"

    @property
    def display_financial_status(self) -> str:
        if self.financial_status in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED") and self.refunds:
            return "REFUNDED" if self.refunded_total >= self.total else "PARTIALLY_REFUNDED"
        return self.financial_status


@dataclass(slots=True)
class Discount:
    id: int
    code_id: int
    kind: str  # "basic" | "free_shipping"
    title: str
    code: str
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime
    usage_limit: int | None = None
    applies_once_per_customer: bool = False
    percentage: float | None = None
    amount: Decimal | None = None
    applies_on_each_item: bool = False
    customer_ids: list[int] | None = None  # None = all buyers
    combines_with: dict[str, bool] = field(default_factory=dict)
    minimum_subtotal: Decimal | None = None
    minimum_quantity: int | None = None
    destination_all: bool = True
    countries: list[str] = field(default_factory=list)
    recurring_cycle_limit: int = 1
    async_usage_count: int = 0


@dataclass(slots=True)
class WebhookSubscription:
    id: int
    topic: str
    uri: str
    format: str
    created_at: datetime
    updated_at: datetime
    filter: str | None = None
    include_fields: list[str] = field(default_factory=list)


@dataclass(slots=True)
class BulkOperation:
    id: int
    query: str
    created_at: datetime
    status: str = "CREATED"
    type: str = "QUERY"
    completed_at: datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    error_code: str | None = None
    content: bytes | None = None
    token: str = ""
    group_objects: bool = False
    polls: int = 0
    started: bool = False


_PRICING_FIELDS = frozenset({"line_items", "shipping_lines", "discount_applications", "taxes_included",
                             "tax_rate"})


def refund_line(rid: int, li: LineItem, quantity: int, restock_type: str = "RETURN") -> RefundLine:
    """``quantity`` of ``li`` refunded: its share of the line's price after all discounts and of
    the line's tax, each rounded to the cent (a whole line refunds exactly what it cost)."""
    if quantity >= li.quantity:
        return RefundLine(rid, li.id, quantity, restock_type, li.discounted_total, li.tax)
    share = Decimal(quantity) / Decimal(li.quantity)
    return RefundLine(rid, li.id, quantity, restock_type, cents(li.discounted_total * share),
                      cents(li.tax * share))


class Store:
    """All state of one simulated shop; guarded by one re-entrant lock."""

    def __init__(self, clock: Callable[[], float], *, shop_name: str = "Vinculo Test Shop",
                 domain: str = "vinculo-sim.myshopify.com", currency: str = "EUR") -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.shop_name = shop_name
        self.domain = domain
        self.currency = currency
        self.shop_id = 73000000001
        self.timezone = "Europe/Madrid"
        self.plan_name = "Basic"
        # Shop tax settings (Spain): prices shown to buyers include 21 % IVA.
        self.taxes_included = True
        self.tax_rate = Decimal("0.21")
        self.tax_title = "IVA"
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        self.discounts: dict[int, Discount] = {}
        self.metafields: dict[tuple[str, int], dict[tuple[str, str], Metafield]] = {}
        self.metafield_definitions: dict[int, MetafieldDefinition] = {}
        self.webhooks: dict[int, WebhookSubscription] = {}
        self.bulk_ops: dict[int, BulkOperation] = {}
        self.index_lag_seconds = 0.0
        self.app_id = 9100001
        self._ids = itertools.count(1_000_001)
        self._numbers = itertools.count(1001)
        self._sorted: dict[tuple[str, str], list[Any]] = {}
        self.listeners: list[Callable[[str, Any], None]] = []

    # -- basics ------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(int(self.clock()), tz=UTC)

    def next_id(self) -> int:
        return next(self._ids)

    def next_number(self) -> int:
        return next(self._numbers)

    def touched(self, kind: str) -> None:
        for k in [k for k in self._sorted if k[0] == kind]:
            del self._sorted[k]

    def emit(self, topic: str, obj: Any) -> None:
        for cb in list(self.listeners):
            cb(topic, obj)

    def sorted_view(self, kind: str, sort_key: str, key: Callable[[Any], Any]) -> list[Any]:
        """Objects of a collection sorted by (sort value, id); cached until the next write."""
        with self.lock:
            cached = self._sorted.get((kind, sort_key))
            if cached is None:
                coll: dict[int, Any] = getattr(self, kind)
                cached = sorted(coll.values(), key=lambda o: (key(o), o.id))
                self._sorted[(kind, sort_key)] = cached
            return cached

    def visible_in_search(self, obj: Any) -> bool:
        """Index lag: objects written in the last ``index_lag_seconds`` are not yet indexed."""
        if self.index_lag_seconds <= 0:
            return True
        at = getattr(obj, "indexed_at", None) or obj.updated_at
        return (self.clock() - at.timestamp()) >= self.index_lag_seconds

    # -- lookups -----------------------------------------------------------------------
    def customer_by_email(self, email: str) -> Customer | None:
        e = email.lower()
        for c in self.customers.values():
            if c.email is not None and c.email.lower() == e:
                return c
        return None

    def customer_by_phone(self, phone: str) -> Customer | None:
        for c in self.customers.values():
            if c.phone == phone:
                return c
        return None

    def discount_by_code(self, code: str) -> Discount | None:
        c = code.strip().lower()
        for d in self.discounts.values():
            if d.code.lower() == c:
                return d
        return None

    def owner_metafields(self, owner_type: str, owner_id: int) -> dict[tuple[str, str], Metafield]:
        return self.metafields.setdefault((owner_type, owner_id), {})

    # -- merchant-side writes ----------------------------------------------------------
    def add_customer(self, *, first_name: str | None = None, last_name: str | None = None,
                     email: str | None = None, phone: str | None = None,
                     tags: list[str] | None = None, note: str | None = None,
                     address: Address | None = None, created_at: datetime | None = None,
                     emit: bool = True, id: int | None = None, **extra: Any) -> Customer:
        """Create a customer; ``id`` pins the numeric id (e.g. to mirror a recorded store)."""
        with self.lock:
            now = created_at or self.now()
            c = Customer(id if id is not None else self.next_id(), first_name, last_name, email, phone, now, now,
                         tags=sorted(dict.fromkeys(tags or []), key=str.lower), note=note,
                         address=address, **extra)
            if c.address is not None and not c.address.id:
                c.address.id = self.next_id()
            c.indexed_at = self.now()
            self.customers[c.id] = c
            self.touched("customers")
        if emit:
            self.emit("customers/create", c)
        return c

    def update_customer(self, customer_id: int, *, emit: bool = True, **changes: Any) -> Customer:
        with self.lock:
            c = self.customers[customer_id]
            for k, v in changes.items():
                if not hasattr(c, k):
                    raise AttributeError(f"Customer has no field {k}")
                setattr(c, k, v)
            c.updated_at = self.now()
            self.touched("customers")
        if emit:
            self.emit("customers/update", c)
        return c

    def add_order(self, *, customer_id: int | None, lines: list[tuple[str | None, str, int, Decimal]]
                  | None = None, line_items: list[LineItem] | None = None,
                  shipping: Decimal = Decimal("0"), discount_codes: list[str] | None = None,
                  discounts: list[DiscountApplication] | None = None,
                  taxes_included: bool | None = None, tax_rate: Decimal | None = None,
                  created_at: datetime | None = None, test: bool = False,
                  financial_status: str = "PAID", tags: list[str] | None = None,
                  email: str | None = None, emit: bool = True) -> Order:
        """Create an order; ``lines`` are (sku, title, quantity, unit price).

        ``discounts`` are the discount applications (see ``pricing.code_percentage`` and
        friends); their codes are the order's ``discountCodes`` unless ``discount_codes`` is
        given. Taxes follow the shop's settings unless ``taxes_included``/``tax_rate`` say
        otherwise for this order.
        """
        with self.lock:
            now = created_at or self.now()
            items = list(line_items or [])
            for sku, title, qty, price in lines or []:
                items.append(LineItem(self.next_id(), sku, title, qty, Decimal(price)))
            cust = self.customers.get(customer_id) if customer_id is not None else None
            apps = list(discounts or [])
            codes = list(discount_codes) if discount_codes is not None else [a.code for a in apps if a.code]
            o = Order(self.next_id(), self.next_number(), email or (cust.email if cust else None),
                      customer_id, now, now, items,
                      discount_codes=codes, tags=list(tags or []),
                      test=test, financial_status=financial_status, processed_at=now,
                      tax_rate=self.tax_rate if tax_rate is None else Decimal(tax_rate),
                      tax_title=self.tax_title,
                      taxes_included=self.taxes_included if taxes_included is None else taxes_included,
                      discount_applications=apps)
            if shipping:
                o.shipping_lines.append(ShippingLine(self.next_id(), "Standard", "STANDARD",
                                                     Decimal(shipping)))
            o.reprice()
            o.indexed_at = self.now()
            self.orders[o.id] = o
            if cust is not None and not test:
                cust.number_of_orders += 1
                cust.amount_spent += o.total
            self.touched("orders")
        if emit:
            self.emit("orders/create", o)
            if financial_status == "PAID":
                self.emit("orders/paid", o)
        return o

    def update_order(self, order_id: int, *, emit: bool = True, **changes: Any) -> Order:
        with self.lock:
            o = self.orders[order_id]
            for k, v in changes.items():
                if not hasattr(o, k):
                    raise AttributeError(f"Order has no field {k}")
                setattr(o, k, v)
            if _PRICING_FIELDS & changes.keys():
                o.reprice()
            o.updated_at = self.now()
            self.touched("orders")
        if emit:
            self.emit("orders/updated", o)
        return o

    def add_refund(self, order_id: int, lines: list[tuple[int, int]] | None = None, *,
                   shipping: Decimal = Decimal("0"), note: str | None = None,
                   restock_type: str = "RETURN", emit: bool = True) -> Refund:
        """Refund (line item id, quantity) pairs at their price after all discounts."""
        with self.lock:
            o = self.orders[order_id]
            by_id = {li.id: li for li in o.line_items}
            rlines = [refund_line(self.next_id(), by_id[lid], qty, restock_type) for lid, qty in lines or []]
            r = Refund(self.next_id(), o.id, self.now(), note, rlines, Decimal(shipping),
                       taxes_included=o.taxes_included)
            o.refunds.append(r)
            o.financial_status = "REFUNDED" if o.refunded_total >= o.total else "PARTIALLY_REFUNDED"
            o.updated_at = self.now()
            self.touched("orders")
        if emit:
            self.emit("refunds/create", r)
            self.emit("orders/updated", o)
        return r

    def add_fulfillment(self, order_id: int, lines: list[tuple[int, int]] | None = None, *,
                        tracking_company: str | None = None, tracking_number: str | None = None,
                        tracking_url: str | None = None, emit: bool = True) -> Fulfillment:
        """Fulfil (line item id, quantity) pairs; all remaining quantities when omitted."""
        with self.lock:
            o = self.orders[order_id]
            if lines is None:
                lines = [(li.id, li.quantity - o.refunded_quantity(li.id) - o.fulfilled_quantity(li.id))
                         for li in o.line_items]
                lines = [(lid, q) for lid, q in lines if q > 0]
            now = self.now()
            f = Fulfillment(self.next_id(), o.id, now, now, list(lines),
                            tracking_company=tracking_company, tracking_number=tracking_number,
                            tracking_url=tracking_url, name=f"{o.name}-F{len(o.fulfillments) + 1}")
            o.fulfillments.append(f)
            o.updated_at = now
            self.touched("orders")
        if emit:
            self.emit("orders/updated", o)
        return f

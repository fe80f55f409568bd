"""How the simulated shop prices an order: discount allocations, then taxes, per line.

Shopify's order of work, which the read model must reproduce because the connector's loyalty
basis is built from it (mapping: line total = ``originalTotalSet`` − ``discountAllocations`` −
tax when ``taxesIncluded``):

1. Each discount application is allocated to the lines it targets (``LINE_ITEM`` or
   ``SHIPPING_LINE``). A percentage is taken off each line and rounded to the cent per line; a
   fixed amount spread ``ACROSS`` lines is split in proportion to the lines' prices, each share
   rounded to the cent and the last targeted line taking the remainder, so the allocations always
   add up to the application's amount exactly.
2. Tax is worked out per line (and per shipping line) on the price after that line's
   allocations, rounded half-up to the cent per line, never on the order total (Shopify rounds tax
   at the line level). In a shop whose prices include tax the tax is the part of that price at
   ``rate / (1 + rate)``; otherwise it is ``rate`` on top.

Every order is priced when it is created (and when its lines or discounts change), so the views
only add stored, already-rounded figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .store import Order

CENT = Decimal("0.01")
ZERO = Decimal("0")


def cents(value: Decimal) -> Decimal:
    """Round half-up to the cent, as Shopify does for each line."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class TaxLine:
    """One tax charged on one line (``TaxLine``: title, rate, priceSet)."""

    title: str
    rate: Decimal
    amount: Decimal


@dataclass(slots=True)
class DiscountApplication:
    """What a discount meant to do at checkout (``DiscountApplication``); the amounts actually
    taken off each line are the allocations the pricing step stores on the lines.

    ``code`` set → a ``DiscountCodeApplication``; ``None`` → a ``ManualDiscountApplication``
    titled ``title``. Exactly one of ``percentage`` (0–1) and ``amount`` is set.
    ``line_level`` marks a product discount; order-level discounts (all items, the simulator's
    ``DiscountCodeBasic``, class ``ORDER``) are left out of ``totalDiscountSet``, as on Shopify.
    """

    code: str | None
    percentage: Decimal | None = None
    amount: Decimal | None = None
    target_type: str = "LINE_ITEM"  # or SHIPPING_LINE
    title: str = ""
    line_level: bool = False
    index: int = 0

    @property
    def allocation_method(self) -> str:
        return "ACROSS"

    @property
    def target_selection(self) -> str:
        return "ALL"


def code_percentage(code: str, percentage: str | Decimal) -> DiscountApplication:
    """A discount code taking ``percentage`` (e.g. ``"0.10"``) off every item."""
    return DiscountApplication(code=code, percentage=Decimal(percentage))


def code_amount(code: str, amount: str | Decimal) -> DiscountApplication:
    """A discount code taking a fixed amount off the items, spread across them."""
    return DiscountApplication(code=code, amount=Decimal(amount))


def free_shipping(code: str) -> DiscountApplication:
    """A free-shipping code: 100 % off the shipping lines."""
    return DiscountApplication(code=code, percentage=Decimal(1), target_type="SHIPPING_LINE")


class Priced(Protocol):
    """A line item or shipping line as the pricing step sees it."""

    @property
    def original_total(self) -> Decimal: ...

    allocations: list[tuple[int, Decimal]]
    tax_lines: list[TaxLine]


def _allocate(app: DiscountApplication, targets: Sequence[Priced]) -> None:
    if not targets:
        return
    if app.percentage is not None:
        for t in targets:
            t.allocations.append((app.index, cents(t.original_total * app.percentage)))
        return
    base = sum((t.original_total for t in targets), ZERO)
    wanted = min(app.amount or ZERO, base)
    if base <= 0 or wanted <= 0:
        for t in targets:
            t.allocations.append((app.index, ZERO))
        return
    given = ZERO
    for t in targets[:-1]:
        share = cents(wanted * t.original_total / base)
        t.allocations.append((app.index, share))
        given += share
    targets[-1].allocations.append((app.index, wanted - given))


def _tax(line: Priced, *, rate: Decimal, title: str, included: bool) -> None:
    after = line.original_total - sum((a for _, a in line.allocations), ZERO)
    if rate <= 0 or after <= 0:
        line.tax_lines = []
        return
    amount = cents(after * rate / (1 + rate)) if included else cents(after * rate)
    line.tax_lines = [TaxLine(title=title, rate=rate, amount=amount)]


def price_order(order: Order) -> None:
    """(Re)compute the allocations and tax lines of every line of ``order`` in place."""
    for i, app in enumerate(order.discount_applications):
        app.index = i
    items: list[Priced] = list(order.line_items)
    ships: list[Priced] = list(order.shipping_lines)
    for line in items + ships:
        line.allocations = []
    for app in order.discount_applications:
        _allocate(app, ships if app.target_type == "SHIPPING_LINE" else items)
    for li in order.line_items:
        if li.taxable:
            _tax(li, rate=order.tax_rate, title=order.tax_title, included=order.taxes_included)
        else:
            li.tax_lines = []
    for sl in ships:
        _tax(sl, rate=order.tax_rate, title=order.tax_title, included=order.taxes_included)

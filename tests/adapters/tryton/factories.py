"""Domain orders and customers as a store adapter would hand them over (hand-made figures)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from connector.domain import (
    Address,
    CouponLine,
    Customer,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    ShippingLine,
)

WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


def tag() -> str:
    """A short unique token so tests sharing one database never see each other's records."""
    return uuid.uuid4().hex[:8]


def line(
    line_id: str, sku: str, qty: int, subtotal: str, total: str, tax: str, name: str = ""
) -> OrderLine:
    return OrderLine(line_id, sku, name or sku, qty, eur(subtotal), eur(total), eur(tax))


def address(first: str = "Lucía", last: str = "Pérez", street: str = "Calle Mayor 1") -> Address:
    return Address(
        first_name=first,
        last_name=last,
        line1=street,
        city="Madrid",
        postcode="28013",
        country="ES",
    )


def order(
    store: str,
    number: str,
    *,
    email: str | None,
    lines: tuple[OrderLine, ...],
    total: str,
    total_tax: str,
    shipping: tuple[ShippingLine, ...] = (),
    coupons: tuple[CouponLine, ...] = (),
    refunds: tuple[Refund, ...] = (),
    status: OrderStatus = OrderStatus.PAID,
    billing: Address | None = None,
) -> Order:
    ship_total = sum((s.total for s in shipping), eur("0"))
    disc_total = sum((c.discount for c in coupons), eur("0"))
    return Order(
        id=f"woo:{store}:{number}",
        number=number,
        currency="EUR",
        status=status,
        created_at=WHEN,
        updated_at=WHEN,
        email=email,
        customer_id=None,
        lines=lines,
        total=eur(total),
        total_tax=eur(total_tax),
        shipping_total=ship_total,
        discount_total=disc_total,
        shipping_lines=shipping,
        coupon_lines=coupons,
        refunds=refunds,
        billing=billing if billing is not None else address(),
    )


def customer(cid: str, email: str, first: str = "Ana", last: str = "García") -> Customer:
    return Customer(
        id=cid,
        email=email,
        first_name=first,
        last_name=last,
        phone="+34 600 111 222",
        billing=address(first, last, "Gran Vía 2"),
    )


__all__ = [
    "CouponLine",
    "Refund",
    "RefundLine",
    "ShippingLine",
    "WHEN",
    "address",
    "customer",
    "eur",
    "line",
    "order",
    "ship",
    "tag",
]


def ship(admin, sale_id: int, tracking: str = "") -> None:
    """The warehouse steps of NOTES §7.4, as a Tryton user would click them."""
    [sale] = admin.read("sale.sale", [sale_id], ["shipments"])
    shipments = sale["shipments"]
    admin.button("stock.shipment.out", "assign_force", shipments)
    admin.button("stock.shipment.out", "pick", shipments)
    admin.button("stock.shipment.out", "pack", shipments)
    if tracking:
        admin.write("stock.shipment.out", (shipments, {"reference": tracking}))
    admin.button("stock.shipment.out", "do", shipments)

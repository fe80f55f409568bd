"""Domain objects into the records we drop for the ERP (outbox/orders, outbox/customers).

Every order record carries ``vinculo_key`` = order id + content digest: if a crash makes the
connector export the same order again, the ERP sees a key it already imported and skips the
line; if the order really changed, the key changes while ``order_id`` stays. Money is written
as decimal strings exactly as the store reported it (no float, no re-rounding); times are ISO
8601 in UTC with a ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from connector.domain import Address, Customer, Money, Order, split_platform_id

from .mapping import CUSTOMER_COLUMNS

ORDER_SCHEMA: Final = "vinculo.order-export/1"
CUSTOMER_OUT_COLUMNS: Final = (*CUSTOMER_COLUMNS, "vinculo_id", "source_id")
_ADDRESS_FIELDS: Final = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "phone",
)
_ORDER_HEAD: Final = (
    "vinculo_key",
    "order_id",
    "platform",
    "store",
    "number",
    "status",
    "currency",
    "created_at",
    "updated_at",
    "paid_at",
    "completed_at",
    "email",
    "customer_id",
)
ORDER_CSV_COLUMNS: Final = (
    *_ORDER_HEAD,
    *(f"billing_{f}" for f in _ADDRESS_FIELDS),
    *(f"shipping_{f}" for f in _ADDRESS_FIELDS),
    "coupons",
    "fees_total",
    "shipping_total",
    "discount_total",
    "tax_total",
    "refunded_total",
    "total",
    "line_id",
    "sku",
    "name",
    "quantity",
    "line_subtotal",
    "line_total",
    "line_tax",
)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def amount(value: Money) -> str:
    return str(value.amount)


def vinculo_key(order: Order) -> str:
    return f"{order.id}@{order.content_digest()}"


def address(addr: Address) -> dict[str, str]:
    return {
        "first_name": addr.first_name,
        "last_name": addr.last_name,
        "company": addr.company,
        "address_1": addr.line1,
        "address_2": addr.line2,
        "city": addr.city,
        "state": addr.state,
        "postcode": addr.postcode,
        "country": addr.country,
        "phone": addr.phone,
        "email": addr.email,
    }


def order_record(order: Order) -> dict[str, Any]:
    """The JSON-lines record; layout in docs/file-formats.md and schemas/order-export.schema.json."""
    platform, store, _ = split_platform_id(order.id)
    return {
        "schema": ORDER_SCHEMA,
        "vinculo_key": vinculo_key(order),
        "order_id": order.id,
        "platform": platform,
        "store": store,
        "number": order.number,
        "status": order.status.value,
        "source": order.source,
        "currency": order.currency,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "paid_at": iso(order.paid_at),
        "completed_at": iso(order.completed_at),
        "email": order.email,
        "customer_id": order.customer_id,
        "prices_include_tax": order.prices_include_tax,
        "billing": address(order.billing),
        "shipping": address(order.shipping),
        "lines": [
            {
                "line_id": line.line_id,
                "sku": line.sku,
                "name": line.name,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "subtotal": amount(line.subtotal),
                "total": amount(line.total),
                "tax": amount(line.total_tax),
                "is_gift_card": line.is_gift_card,
            }
            for line in order.lines
        ],
        "shipping_lines": [
            {
                "line_id": s.line_id,
                "method": s.method,
                "title": s.title,
                "total": amount(s.total),
                "tax": amount(s.total_tax),
            }
            for s in order.shipping_lines
        ],
        "fees": [
            {"line_id": f.line_id, "name": f.name, "total": amount(f.total), "tax": amount(f.total_tax)}
            for f in order.fee_lines
        ],
        "coupons": [
            {
                "code": c.code,
                "discount": amount(c.discount),
                "discount_tax": amount(c.discount_tax),
                "free_shipping": c.free_shipping,
            }
            for c in order.coupon_lines
        ],
        "refunds": [
            {
                "id": r.id,
                "created_at": iso(r.created_at),
                "amount": amount(r.amount),
                "reason": r.reason,
                "shipping": amount(r.shipping) if r.shipping is not None else None,
                "lines": [
                    {"line_id": rl.line_id, "sku": rl.sku, "quantity": rl.quantity, "amount": amount(rl.amount)}
                    for rl in r.lines
                ],
            }
            for r in order.refunds
        ],
        "totals": {
            "total": amount(order.total),
            "tax": amount(order.total_tax),
            "shipping": amount(order.shipping_total),
            "discount": amount(order.discount_total),
            "fees": amount(sum((f.total for f in order.fee_lines), Money.zero(order.currency))),
            "refunded": amount(order.refunded_total),
        },
    }


def order_csv_rows(order: Order) -> list[dict[str, str]]:
    """The flat alternative: one row per product line, order columns repeated on each.

    Flattening loses per-line detail of fees, shipping lines and refunds (their totals stay);
    ERPs that need those read the JSON-lines format.
    """
    record = order_record(order)
    head = {key: "" if record[key] is None else str(record[key]) for key in _ORDER_HEAD}
    for side in ("billing", "shipping"):
        for f in _ADDRESS_FIELDS:
            head[f"{side}_{f}"] = record[side][f]
    totals = record["totals"]
    head.update(
        coupons=" ".join(c["code"] for c in record["coupons"]),
        fees_total=totals["fees"],
        shipping_total=totals["shipping"],
        discount_total=totals["discount"],
        tax_total=totals["tax"],
        refunded_total=totals["refunded"],
        total=totals["total"],
    )
    blank = {"line_id": "", "sku": "", "name": "", "quantity": "", "line_subtotal": "", "line_total": "", "line_tax": ""}
    if not record["lines"]:
        return [{**head, **blank}]
    return [
        {
            **head,
            "line_id": line["line_id"],
            "sku": line["sku"],
            "name": line["name"],
            "quantity": str(line["quantity"]),
            "line_subtotal": line["subtotal"],
            "line_total": line["total"],
            "line_tax": line["tax"],
        }
        for line in record["lines"]
    ]


def customer_row(customer: Customer, *, erp_id: str, vinculo_id: str) -> dict[str, str]:
    """Same columns as the customers inbox, plus our key and the source platform id."""
    addr = customer.billing if not customer.billing.is_empty() else customer.shipping
    marketing = customer.accepts_marketing
    return {
        "erp_id": erp_id,
        "email": customer.email or "",
        "first_name": customer.first_name or addr.first_name,
        "last_name": customer.last_name or addr.last_name,
        "phone": customer.phone or addr.phone,
        "company": addr.company,
        "address_1": addr.line1,
        "address_2": addr.line2,
        "city": addr.city,
        "postcode": addr.postcode,
        "state": addr.state,
        "country": addr.country,
        "accepts_marketing": "" if marketing is None else str(marketing).lower(),
        "updated_at": iso(customer.updated_at) or "",
        "vinculo_id": vinculo_id,
        "source_id": customer.id,
    }

"""ERP inbox records (customer rows, sale lines, shipment rows) into domain objects.

Pure functions over one parsed record: no file access, so every rule is testable on a dict.
A record that breaks a rule raises a named :class:`DataError`; the adapter turns that into a
quarantined row and carries on with the rest of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from connector.domain import (
    Address,
    Customer,
    Fulfilment,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    ShippingLine,
    money_sum,
    platform_id,
)
from connector.errors import InvalidValue, MalformedPayload, MissingField, TotalsMismatch

from . import values as v

CUSTOMER_COLUMNS: Final = (
    "erp_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "address_1",
    "address_2",
    "city",
    "postcode",
    "state",
    "country",
    "accepts_marketing",
    "updated_at",
)
CUSTOMER_REQUIRED: Final = ("erp_id", "email")
SHIPMENT_COLUMNS: Final = ("order_id", "shipped_at", "tracking_number", "carrier", "tracking_url")
SHIPMENT_REQUIRED: Final = ("order_id", "shipped_at")


def customer_id(store: str, erp_id: str) -> str:
    return platform_id(v.PLATFORM, store, f"customer/{erp_id}")


def sale_id(store: str, erp_id: str) -> str:
    return platform_id(v.PLATFORM, store, f"sale/{erp_id}")


def _cell(row: Mapping[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def customer_from_row(store: str, row: Mapping[str, str]) -> Customer:
    """One customers CSV row. The ERP owns billing data, so the address lands on ``billing``."""
    erp_id = v.required(row.get("erp_id"), "erp_id", reference="erp-id-missing")
    email = v.email(row.get("email"))
    first, last, phone = _cell(row, "first_name"), _cell(row, "last_name"), _cell(row, "phone")
    billing = Address(
        first_name=first,
        last_name=last,
        company=_cell(row, "company"),
        line1=_cell(row, "address_1"),
        line2=_cell(row, "address_2"),
        city=_cell(row, "city"),
        state=_cell(row, "state"),
        postcode=_cell(row, "postcode"),
        country=v.country(row.get("country")),
        phone=phone,
        email=email,
    )
    vinculo_id = _cell(row, "vinculo_id")  # our key echoed back by the ERP, if it keeps it
    return Customer(
        id=customer_id(store, erp_id),
        email=email,
        first_name=first,
        last_name=last,
        phone=phone,
        billing=billing,
        accepts_marketing=v.flag(row.get("accepts_marketing"), "accepts_marketing"),
        updated_at=v.optional_aware_utc(row.get("updated_at"), "updated_at"),
        meta={"vinculo_id": vinculo_id} if vinculo_id else {},
    )


def fulfilment_from_row(row: Mapping[str, str]) -> Fulfilment:
    """A shipment row; ``order_id`` is the store order id exactly as our export wrote it."""
    order_id = v.required(row.get("order_id"), "order_id", reference="order-id-missing")
    if order_id.count(":") < 2:
        raise InvalidValue(
            f"`order_id` {order_id!r} is not an order id from an export file",
            reference="shipment-order-id-invalid",
            hint="copy `order_id` from the exported order (e.g. woo:main:1234), not the order number",
        )
    return Fulfilment(
        order_id=order_id,
        shipped_at=v.aware_utc(row.get("shipped_at"), "shipped_at"),
        tracking_number=_cell(row, "tracking_number"),
        carrier=_cell(row, "carrier"),
        tracking_url=_cell(row, "tracking_url"),
    )


def _text(value: object, field: str) -> str:
    """Ids and names may be JSON strings or integers; anything else is a shape error."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str | int):
        return str(value).strip()
    raise InvalidValue(f"`{field}` must be a string, got {type(value).__name__}", reference="field-type")


def _date_text(value: object, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidValue(f"`{field}` must be an ISO 8601 string", reference="date-invalid")


def _status(value: object) -> OrderStatus:
    text = _text(value, "status").lower()
    if not text:
        raise MissingField("`status` is missing", reference="status-missing")
    try:
        return OrderStatus(text)
    except ValueError:
        raise InvalidValue(
            f"`status` {text!r} is not a sale status",
            reference="status-unknown",
            hint="use one of: " + ", ".join(s.value for s in OrderStatus),
        ) from None


def _sale_line(sale: str, index: int, raw: object, currency: str) -> OrderLine:
    where = f"lines[{index}]"
    if not isinstance(raw, dict):
        raise MalformedPayload(f"`{where}` must be an object", reference="sale-line-shape")
    sku, name = _text(raw.get("sku"), f"{where}.sku"), _text(raw.get("name"), f"{where}.name")
    if not sku and not name:
        raise MissingField(f"`{where}` has neither sku nor name", reference="sale-line-unnamed")
    qty = v.quantity(raw.get("quantity"), f"{where}.quantity")
    unit, total = raw.get("unit_price"), raw.get("total")
    if unit is None and total is None:
        raise MissingField(
            f"`{where}` has neither unit_price nor total",
            reference="sale-line-price-missing",
            hint="give unit_price (per unit, tax excluded) or total (for the line, after discounts, tax excluded)",
        )
    subtotal = (
        v.money(unit, currency, f"{where}.unit_price") * qty
        if unit is not None
        else v.money(total, currency, f"{where}.total")
    )
    return OrderLine(
        line_id=_text(raw.get("line_id"), f"{where}.line_id") or str(index + 1),
        sku=sku,
        name=name or sku,
        quantity=qty,
        subtotal=subtotal,
        total=v.money(total, currency, f"{where}.total") if total is not None else subtotal,
        total_tax=v.money(raw.get("tax"), currency, f"{where}.tax", default=Decimal(0)),
    )


def sale_from_record(store: str, rec: Mapping[str, Any]) -> Order:
    """An ERP-only sale (till, phone, B2B). Its stated total must add up to the cent."""
    erp_id = v.required(_text(rec.get("id"), "id"), "id", reference="sale-id-missing")
    currency = v.currency(rec.get("currency"))
    created = v.aware_utc(_date_text(rec.get("created_at"), "created_at"), "created_at")
    updated = v.optional_aware_utc(_date_text(rec.get("updated_at"), "updated_at"), "updated_at")
    status = _status(rec.get("status"))
    customer_erp_id = _text(rec.get("customer_erp_id"), "customer_erp_id")
    raw_email = _text(rec.get("email"), "email")
    if not customer_erp_id and not raw_email:
        raise MissingField(
            "sale has neither `customer_erp_id` nor `email`",
            reference="sale-customer-missing",
            hint="points need an owner: export only sales with a customer",
        )
    email = v.email(raw_email) if raw_email else None
    raw_lines = rec.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise MissingField("sale has no `lines`", reference="sale-lines-missing")
    lines = tuple(_sale_line(erp_id, i, raw, currency) for i, raw in enumerate(raw_lines))
    zero = Decimal(0)
    shipping = v.money(rec.get("shipping"), currency, "shipping", default=zero)
    shipping_tax = v.money(rec.get("shipping_tax"), currency, "shipping_tax", default=zero)
    total = v.money(rec.get("total"), currency, "total")
    tax = money_sum((line.total_tax for line in lines), currency) + shipping_tax
    if rec.get("total_tax") is not None:
        stated_tax = v.money(rec.get("total_tax"), currency, "total_tax")
        if stated_tax.quantize() != tax.quantize():
            raise TotalsMismatch(
                f"sale {erp_id}: `total_tax` is not the sum of line taxes and shipping_tax",
                expected=stated_tax.amount,
                actual=tax.amount,
                hint="correct the sale in the ERP export and drop the line again",
            )
    computed = money_sum((line.total for line in lines), currency) + shipping + tax
    if computed.quantize() != total.quantize():
        raise TotalsMismatch(
            f"sale {erp_id}: `total` is not lines + shipping + taxes",
            expected=total.amount,
            actual=computed.amount,
            hint="correct the sale in the ERP export and drop the line again",
        )
    shipping_lines = (
        (ShippingLine("shipping", "erp", "Shipping", shipping, shipping_tax),)
        if not (shipping.is_zero() and shipping_tax.is_zero())
        else ()
    )
    discount: Money = money_sum((line.subtotal - line.total for line in lines), currency)
    return Order(
        id=sale_id(store, erp_id),
        number=_text(rec.get("number"), "number") or erp_id,
        currency=currency,
        status=status,
        created_at=created,
        updated_at=updated or created,
        email=email,
        customer_id=customer_id(store, customer_erp_id) if customer_erp_id else None,
        lines=lines,
        total=total,
        total_tax=tax,
        shipping_total=shipping,
        discount_total=discount,
        shipping_lines=shipping_lines,
        paid_at=created if status.is_paid else None,
        completed_at=created if status is OrderStatus.COMPLETED else None,
        source="erp",
    )

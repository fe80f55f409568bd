"""Pure translation between Tryton records (as JSON-RPC returns them) and domain objects.

No I/O here: the adapter fetches rows and ids, these functions decide what they mean. That
keeps the rules that matter — which tax a store line gets, how a coupon becomes a line, what a
Tryton state means to the loyalty engine — testable without a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connector.domain import (
    Address,
    CouponLine,
    Customer,
    FeeLine,
    Fulfilment,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    ShippingLine,
    normalise_email,
    platform_id,
    split_platform_id,
)
from connector.errors import InvalidValue, MissingField, NotFound, VinculoError

PLATFORM = "tryton"
PRICE_DIGITS = Decimal("0.0001")  # sale.line.unit_price accepts 4 decimals (NOTES §9)
# Store rounding (half up, per line) and Tryton's (half even, maybe per document) differ by a
# cent or two on an order; beyond this the figures really disagree and the order is held.
ROUNDING_TOLERANCE = Decimal("0.02")
# Store references are namespaced (woo:main:1001); ERP users type free text there.
STORE_REFERENCE_PATTERN = "%:%:%"


# --- ids ---------------------------------------------------------------------------------------------


def record_id(store: str, model: str, local_id: int) -> str:
    """``tryton:erp:party.party/12``."""
    return platform_id(PLATFORM, store, f"{model}/{local_id}")


def parse_record_id(pid: str, store: str, model: str) -> int:
    try:
        platform, got_store, local = split_platform_id(pid)
        got_model, _, number = local.partition("/")
        if platform != PLATFORM or got_store != store or got_model != model:
            raise ValueError(pid)
        return int(number)
    except ValueError:
        raise InvalidValue(
            f"{pid!r} is not a {model} id of Tryton store {store!r}",
            reference="tryton-id-foreign",
            platform=PLATFORM,
            obj=model,
            hint=f"expected tryton:{store}:{model}/<number>",
        ) from None


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# --- catalogue as the adapter discovered it -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductInfo:
    id: int
    code: str
    name: str
    unit: int
    taxes: tuple[int, ...]
    salable: bool = True


@dataclass(frozen=True, slots=True)
class Catalog:
    """What the plan of a sale needs to know about this Tryton: products, taxes, services."""

    products: Mapping[str, ProductInfo]
    tax_rates: Mapping[int, Decimal]  # percentage taxes of the company
    shipping: ProductInfo
    discount: ProductInfo


def pick_taxes(
    base: Decimal, tax: Decimal, default: Sequence[int], rates: Mapping[int, Decimal]
) -> tuple[int, ...] | None:
    """The Tryton taxes that reproduce the store's tax on ``base``; None if none does.

    The product's own taxes win when they fit (then its invoice carries its default taxes and
    Tryton raises no warning, NOTES §4.1); otherwise the closest single company tax within
    half a percentage point. A tax-free store line gets no taxes.
    """
    if tax == 0:
        return tuple(default) if base == 0 else ()
    if base == 0:
        return None
    implied = tax / base
    candidates: list[tuple[int, ...]] = []
    if default and all(t in rates for t in default):
        candidates.append(tuple(default))
    candidates += [(t,) for t in sorted(rates)]
    best: tuple[int, ...] | None = None
    best_gap = Decimal("Infinity")
    for cand in candidates:
        rate = sum((rates[t] for t in cand), Decimal(0))
        gap = abs(rate - implied)
        if gap < best_gap:
            best, best_gap = cand, gap
    if best is None:
        return None
    rate = sum((rates[t] for t in best), Decimal(0))
    close_in_money = abs(base * rate - tax) <= ROUNDING_TOLERANCE
    return best if (best_gap <= Decimal("0.005") or close_in_money) else None


def unit_price(amount: Decimal, quantity: int) -> Decimal:
    return (amount / quantity).quantize(PRICE_DIGITS, rounding=ROUND_HALF_EVEN)


def _taxes_field(taxes: Sequence[int]) -> dict[str, Any]:
    return {"taxes": [["add", list(taxes)]]} if taxes else {}


def _unmatched_tax(order_id: str, what: str, base: Decimal, tax: Decimal) -> InvalidValue:
    pct = (tax / base * 100).quantize(Decimal("0.01")) if base else Decimal(0)
    return InvalidValue(
        f"{what}: the store charged {tax} tax on {base} ({pct} %), and no Tryton tax has that rate",
        reference="tryton-tax-unmatched",
        platform=PLATFORM,
        obj=order_id,
        hint="create the tax in Tryton (Financial > Taxes) for the store's rate, then retry the order",
    )


# --- store order -> sale ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SalePlan:
    """The sale to create for one store order or refund, and the total it must reach."""

    key: str  # the store order id the result is reported under
    reference: str  # kept on the sale: order id, or refund id for a return
    values: dict[str, Any]
    expected_total: Decimal
    # A pure money refund cannot be split into taxed lines: any difference is an adjustment.
    free_adjustment: bool = False
    single_taxes: tuple[int, ...] | None = None


@dataclass(slots=True)
class LinePlan:
    lines: list[dict[str, Any]] = field(default_factory=list)
    taxes_by_line: dict[str, tuple[int, ...]] = field(default_factory=dict)


def sale_date(moment: datetime, timezone: str | None) -> date:
    """The order's calendar day where the company is (a 23:30 UTC order is tomorrow in Madrid)."""
    zone = ZoneInfo(timezone) if timezone else UTC
    return moment.astimezone(zone).date()


def plan_sale_lines(order: Order, catalog: Catalog) -> LinePlan:
    """Product lines at their pre-discount price, coupons as negative DISCOUNT lines, shipping
    as SHIPPING lines, fees as free lines, each with the tax that reproduces the store's.

    Raises a data error naming the line when a SKU or a tax has no Tryton counterpart.
    """
    plan = LinePlan()
    discount_left = Decimal(0)
    for line in order.lines:
        product = catalog.products.get(line.sku) if line.sku else None
        if product is None:
            raise unknown_sku(order.id, line.sku, line.name)
        if not product.salable:
            raise InvalidValue(
                f"product {line.sku} is not salable in Tryton",
                reference="tryton-product-not-salable",
                platform=PLATFORM,
                obj=order.id,
                hint=f"tick 'Salable' on product {line.sku} in Tryton, then retry the order",
            )
        if line.quantity == 0:
            continue
        base, tax = line.total.amount, line.total_tax.amount
        if base == 0 and line.subtotal.amount != 0:
            taxes: tuple[int, ...] | None = product.taxes
        else:
            taxes = pick_taxes(base, tax, product.taxes, catalog.tax_rates)
        if taxes is None:
            raise _unmatched_tax(order.id, f"line {line.sku}", base, tax)
        plan.taxes_by_line[line.line_id] = taxes
        discount_left += line.subtotal.amount - line.total.amount
        plan.lines.append(
            {
                "type": "line",
                "product": product.id,
                "quantity": float(line.quantity),
                "unit": product.unit,
                "unit_price": unit_price(line.subtotal.amount, line.quantity),
                "description": line.name or product.name,
                **_taxes_field(taxes),
            }
        )
    disc = catalog.discount
    for coupon in order.coupon_lines:
        if coupon.discount.amount == 0:
            continue
        taxes = pick_taxes(
            coupon.discount.amount, coupon.discount_tax.amount, disc.taxes, catalog.tax_rates
        )
        if taxes is None:
            raise _unmatched_tax(
                order.id,
                f"coupon {coupon.code}",
                coupon.discount.amount,
                coupon.discount_tax.amount,
            )
        discount_left -= coupon.discount.amount
        plan.lines.append(
            {
                "type": "line",
                "product": disc.id,
                "quantity": 1.0,
                "unit": disc.unit,
                "unit_price": -coupon.discount.amount.quantize(PRICE_DIGITS),
                "description": f"Coupon {coupon.code}",
                **_taxes_field(taxes),
            }
        )
    if discount_left != 0 and plan.taxes_by_line:
        # Discounts the store applied without a code (automatic discounts): one more line,
        # taxed like the merchandise when it all shares one tax.
        sets = set(plan.taxes_by_line.values())
        taxes = sets.pop() if len(sets) == 1 else ()
        plan.lines.append(
            {
                "type": "line",
                "product": disc.id,
                "quantity": 1.0,
                "unit": disc.unit,
                "unit_price": -discount_left.quantize(PRICE_DIGITS),
                "description": "Other discounts",
                **_taxes_field(taxes),
            }
        )
    ship = catalog.shipping
    for s in order.shipping_lines:
        taxes = pick_taxes(s.total.amount, s.total_tax.amount, ship.taxes, catalog.tax_rates)
        if taxes is None:
            raise _unmatched_tax(
                order.id, f"shipping {s.title}", s.total.amount, s.total_tax.amount
            )
        plan.lines.append(
            {
                "type": "line",
                "product": ship.id,
                "quantity": 1.0,
                "unit": ship.unit,
                "unit_price": s.total.amount.quantize(PRICE_DIGITS),
                "description": s.title or s.method or "Shipping",
                **_taxes_field(taxes),
            }
        )
    for fee in order.fee_lines:
        taxes = pick_taxes(fee.total.amount, fee.total_tax.amount, (), catalog.tax_rates)
        if taxes is None:
            raise _unmatched_tax(
                order.id, f"fee {fee.name}", fee.total.amount, fee.total_tax.amount
            )
        plan.lines.append(
            {
                "type": "line",
                "quantity": 1.0,
                "unit_price": fee.total.amount.quantize(PRICE_DIGITS),
                "description": fee.name or "Fee",
                **_taxes_field(taxes),
            }
        )
    return plan


def unknown_sku(order_id: str, sku: str, name: str) -> VinculoError:
    if not sku:
        return MissingField(
            f"line {name!r} has no SKU",
            reference="sku-missing",
            platform=PLATFORM,
            obj=order_id,
            hint="give the product a SKU in the store; Tryton finds products by code",
        )
    return NotFound(
        f"no salable product with code {sku!r} in Tryton ({name})",
        reference="tryton-sku-unknown",
        platform=PLATFORM,
        obj=order_id,
        hint=f"create product {sku} in Tryton (or set unknown_sku: create), then retry the order",
    )


def sale_header(
    order: Order,
    *,
    reference: str,
    party: int,
    invoice_address: int,
    shipment_address: int,
    currency: int,
    timezone: str | None,
    description: str,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "party": party,
        "invoice_address": invoice_address,
        "shipment_address": shipment_address,
        "currency": currency,
        "reference": reference,
        "description": description,
        "sale_date": sale_date(order.created_at, timezone),
        **extra,
    }


def order_description(order: Order) -> str:
    platform = order.id.split(":", 1)[0]
    return f"{platform} order {order.number}"


def plan_refund_lines(
    order: Order, refund: Refund, catalog: Catalog, line_taxes: Mapping[str, tuple[int, ...]]
) -> tuple[list[dict[str, Any]], bool, tuple[int, ...] | None]:
    """Lines of a return sale: negative quantities for goods taken back (NOTES §7.1: a
    negative quantity means a return), a negative shipping line, and — when the refund names
    no lines — one money line. Returns (lines, free_adjustment, taxes of that money line)."""
    by_id = {line.line_id: line for line in order.lines}
    by_sku = {line.sku: line for line in order.lines if line.sku}
    lines: list[dict[str, Any]] = []
    for rl in refund.lines:
        original = by_id.get(rl.line_id) or by_sku.get(rl.sku)
        sku = rl.sku or (original.sku if original else "")
        product = catalog.products.get(sku) if sku else None
        taxes = line_taxes.get(original.line_id, ()) if original else ()
        if original is None or product is None:
            raise unknown_sku(refund.id, sku, original.name if original else rl.line_id)
        if rl.quantity > 0:
            lines.append(
                {
                    "type": "line",
                    "product": product.id,
                    "quantity": float(-rl.quantity),
                    "unit": product.unit,
                    "unit_price": unit_price(rl.amount.amount, rl.quantity),
                    "description": f"Return {original.name or sku}",
                    **_taxes_field(taxes),
                }
            )
        elif rl.amount.amount:
            lines.append(
                {
                    "type": "line",
                    "quantity": -1.0,
                    "unit_price": rl.amount.amount.quantize(PRICE_DIGITS),
                    "description": f"Refund on {original.name or sku}",
                    **_taxes_field(taxes),
                }
            )
    if refund.shipping is not None and refund.shipping.amount:
        ship = catalog.shipping
        ship_taxes: tuple[int, ...] = ()
        if order.shipping_lines:
            s = order.shipping_lines[0]
            ship_taxes = (
                pick_taxes(s.total.amount, s.total_tax.amount, ship.taxes, catalog.tax_rates) or ()
            )
        lines.append(
            {
                "type": "line",
                "product": ship.id,
                "quantity": -1.0,
                "unit": ship.unit,
                "unit_price": refund.shipping.amount.quantize(PRICE_DIGITS),
                "description": "Shipping refund",
                **_taxes_field(ship_taxes),
            }
        )
    if lines:
        return lines, False, None
    # A refund of money only: tax it like the order when the order has one tax set.
    sets = set(line_taxes.values())
    single = sets.pop() if len(sets) == 1 else ()
    rate = sum((catalog.tax_rates.get(t, Decimal(0)) for t in single), Decimal(0))
    net = (refund.amount.amount / (1 + rate)).quantize(PRICE_DIGITS, rounding=ROUND_HALF_EVEN)
    lines.append(
        {
            "type": "line",
            "quantity": -1.0,
            "unit_price": net,
            "description": f"Refund {refund.reason}".strip(),
            **_taxes_field(single),
        }
    )
    return lines, True, single


def adjustment_line(
    sale_id: int, difference: Decimal, label: str = "Rounding adjustment"
) -> dict[str, Any]:
    """An untaxed line that moves the total by exactly ``difference``."""
    return {
        "sale": sale_id,
        "type": "line",
        "quantity": 1.0,
        "unit_price": difference,
        "description": label,
    }


# --- party <-> customer ----------------------------------------------------------------------------

PARTY_FIELDS = (
    "name",
    "create_date",
    "write_date",
    "last_modified_at",
    "contact_mechanisms.type",
    "contact_mechanisms.value",
    "addresses.party_name",
    "addresses.street",
    "addresses.postal_code",
    "addresses.city",
    "addresses.country.code",
    "addresses.invoice",
    "addresses.delivery",
    "addresses.active",
)


def split_name(name: str) -> tuple[str, str]:
    first, _, last = (name or "").strip().partition(" ")
    return first, last.strip()


def _street_lines(street: str | None) -> tuple[str, str]:
    line1, _, line2 = (street or "").partition("\n")
    return line1.strip(), line2.strip()


def address_from_row(row: Mapping[str, Any], party_name: str) -> Address:
    line1, line2 = _street_lines(row.get("street"))
    first, last = split_name(row.get("party_name") or party_name)
    country = row.get("country.") or {}
    return Address(
        first_name=first,
        last_name=last,
        line1=line1,
        line2=line2,
        city=row.get("city") or "",
        postcode=row.get("postal_code") or "",
        country=(country.get("code") or "") if isinstance(country, Mapping) else "",
    )


def _pick_address(rows: Sequence[Mapping[str, Any]], flag: str) -> Mapping[str, Any] | None:
    active = [r for r in rows if r.get("active", True)]
    for r in active:
        if r.get(flag):
            return r
    return active[0] if active else None


def party_to_customer(store: str, row: Mapping[str, Any]) -> Customer:
    name = row.get("name") or ""
    mechanisms = row.get("contact_mechanisms.") or []
    emails = [m["value"] for m in mechanisms if m.get("type") == "email" and m.get("value")]
    phones = [
        m["value"] for m in mechanisms if m.get("type") in ("phone", "mobile") and m.get("value")
    ]
    addresses = row.get("addresses.") or []
    billing_row = _pick_address(addresses, "invoice")
    shipping_row = _pick_address(addresses, "delivery")
    first, last = split_name(name)
    created = row.get("create_date")
    updated = row.get("last_modified_at") or row.get("write_date") or created
    return Customer(
        id=record_id(store, "party.party", int(row["id"])),
        email=normalise_email(emails[0]) if emails else None,
        first_name=first,
        last_name=last,
        phone=phones[0] if phones else "",
        billing=address_from_row(billing_row, name) if billing_row else Address(),
        shipping=address_from_row(shipping_row, name) if shipping_row else Address(),
        created_at=created,
        updated_at=updated,
    )


def customer_name(customer: Customer) -> str:
    full = f"{customer.first_name} {customer.last_name}".strip()
    return (
        full
        or customer.billing.company
        or f"{customer.billing.first_name} {customer.billing.last_name}".strip()
        or (customer.email or "")
    )


def address_values(addr: Address, countries: Mapping[str, int], party_name: str) -> dict[str, Any]:
    name = f"{addr.first_name} {addr.last_name}".strip()
    street = street_of(addr)
    vals: dict[str, Any] = {
        "street": street,
        "postal_code": addr.postcode,
        "city": addr.city,
        "country": countries.get(addr.country.upper()) if addr.country else None,
    }
    if name and name != party_name:
        vals["party_name"] = name
    return vals


def address_key(
    street: str | None, postal_code: str | None, city: str | None
) -> tuple[str, str, str]:
    return (
        " ".join((street or "").lower().split()),
        (postal_code or "").replace(" ", "").lower(),
        (city or "").strip().lower(),
    )


def party_create_values(
    name: str,
    email: str | None,
    phone: str,
    billing: Address,
    shipping: Address,
    countries: Mapping[str, int],
) -> dict[str, Any]:
    """A party with its contact mechanisms and its invoice/delivery addresses in one value."""
    mechanisms = []
    if email:
        mechanisms.append({"type": "email", "value": email})
    if phone:
        mechanisms.append({"type": "phone", "value": phone})
    addresses: list[dict[str, Any]] = []
    bill_empty, ship_empty = billing.is_empty(), shipping.is_empty()
    same = ship_empty or _same_place(billing, shipping)
    if not bill_empty:
        addresses.append(
            {**address_values(billing, countries, name), "invoice": True, "delivery": same}
        )
    if not ship_empty and (bill_empty or not same):
        addresses.append(
            {**address_values(shipping, countries, name), "invoice": bill_empty, "delivery": True}
        )
    if not addresses:
        addresses.append({"invoice": True, "delivery": True})
    vals: dict[str, Any] = {"name": name, "addresses": [["create", addresses]]}
    if mechanisms:
        vals["contact_mechanisms"] = [["create", mechanisms]]
    return vals


def street_of(addr: Address) -> str:
    return "\n".join(p for p in (addr.line1, addr.line2) if p)


def _same_place(a: Address, b: Address) -> bool:
    return address_key(street_of(a), a.postcode, a.city) == address_key(
        street_of(b), b.postcode, b.city
    )


def order_party_name(order: Order) -> str:
    for addr in (order.billing, order.shipping):
        name = f"{addr.first_name} {addr.last_name}".strip()
        if name:
            return name
        if addr.company:
            return addr.company
    return order.email or f"Guest of order {order.number}"


# --- Tryton sale -> domain ---------------------------------------------------------------------------

SALE_FIELDS = (
    "number",
    "reference",
    "state",
    "shipment_state",
    "invoice_state",
    "sale_date",
    "create_date",
    "write_date",
    "last_modified_at",
    "currency.code",
    "party",
    "party.name",
    "party.email",
    "party.phone",
    "invoice_address.street",
    "invoice_address.postal_code",
    "invoice_address.city",
    "invoice_address.party_name",
    "invoice_address.country.code",
    "shipment_address.street",
    "shipment_address.postal_code",
    "shipment_address.city",
    "shipment_address.party_name",
    "shipment_address.country.code",
    "untaxed_amount",
    "tax_amount",
    "total_amount",
    "lines",
)
LINE_FIELDS = (
    "sale",
    "type",
    "product",
    "product.code",
    "product.name",
    "quantity",
    "unit_price",
    "amount",
    "description",
    "taxes",
)
FULFILMENT_FIELDS = (
    "reference",
    "shipment_state",
    "last_modified_at",
    "shipments.state",
    "shipments.number",
    "shipments.reference",
    "shipments.effective_date",
    "shipments.last_modified_at",
)


def sale_status(row: Mapping[str, Any]) -> OrderStatus:
    """Tryton's workflow in the loyalty engine's words (LOYALTY.md: invoice posted = paid,
    delivery note = completed)."""
    state = row.get("state")
    if state == "done":
        return OrderStatus.COMPLETED
    if state == "cancelled":
        return OrderStatus.CANCELLED
    if state == "draft":
        return OrderStatus.DRAFT
    if state in ("quotation", "confirmed"):
        return OrderStatus.PENDING
    if row.get("shipment_state") == "sent":
        return OrderStatus.COMPLETED
    if row.get("invoice_state") in ("awaiting payment", "partially paid", "paid"):
        return OrderStatus.PAID
    return OrderStatus.PENDING


def _line_tax(
    amount: Decimal, taxes: Sequence[int], rates: Mapping[int, Decimal], exp: Decimal
) -> Decimal:
    rate = sum((rates.get(t, Decimal(0)) for t in taxes), Decimal(0))
    return (amount * rate).quantize(exp, rounding=ROUND_HALF_EVEN)


def sale_to_order(
    store: str,
    row: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    *,
    tax_rates: Mapping[int, Decimal],
    shipping_code: str,
    discount_code: str,
) -> Order:
    """An ERP-only sale as an Order with ``source="erp"`` for the loyalty engine.

    Line taxes are recomputed from the tax rates and the rounding remainder put on the last
    taxed line, so they add up to the sale's own ``tax_amount``.
    """
    sale_pid = record_id(store, "sale.sale", int(row["id"]))
    currency_row = row.get("currency.") or {}
    currency = currency_row.get("code") if isinstance(currency_row, Mapping) else None
    if not currency:
        raise MissingField(
            "sale has no currency",
            platform=PLATFORM,
            obj=sale_pid,
            reference="tryton-sale-currency",
        )
    exp = Decimal("0.01")
    order_lines: list[OrderLine] = []
    shipping: list[ShippingLine] = []
    coupons: list[CouponLine] = []
    fees: list[FeeLine] = []
    taxed: list[tuple[str, int, Decimal]] = []  # (kind, index, tax) of lines carrying a tax
    for line in sorted(lines, key=lambda ln: int(ln["id"])):
        if line.get("type") != "line":
            continue
        qty = Decimal(str(line.get("quantity") or 0))
        amount = Decimal(line.get("amount") or 0)
        tax = _line_tax(amount, line.get("taxes") or [], tax_rates, exp)
        product = line.get("product.") or {}
        code = (product.get("code") if isinstance(product, Mapping) else None) or ""
        line_id = record_id(store, "sale.line", int(line["id"]))
        name = (
            line.get("description")
            or (product.get("name") if isinstance(product, Mapping) else "")
            or code
        )
        if code == shipping_code:
            shipping.append(
                ShippingLine(line_id, "tryton", name, Money(amount, currency), Money(tax, currency))
            )
            kind, index = "ship", len(shipping) - 1
        elif code == discount_code and amount <= 0:
            coupons.append(CouponLine(name, Money(-amount, currency), Money(-tax, currency)))
            kind, index = "coupon", len(coupons) - 1
        elif code and qty > 0:
            if qty != qty.to_integral_value():
                raise InvalidValue(
                    f"line {line_id} sells a fractional quantity {qty} of {code}",
                    reference="tryton-quantity-fractional",
                    platform=PLATFORM,
                    obj=sale_pid,
                    hint="loyalty counts whole items; sell whole units or leave this sale out",
                )
            money = Money(amount, currency)
            order_lines.append(
                OrderLine(
                    line_id,
                    code,
                    name,
                    int(qty),
                    money,
                    money,
                    Money(tax, currency),
                    product_id=str(product.get("id", "")),
                )
            )
            kind, index = "line", len(order_lines) - 1
        else:
            fees.append(FeeLine(line_id, name, Money(amount, currency), Money(tax, currency)))
            kind, index = "fee", len(fees) - 1
        if tax:
            taxed.append((kind, index, tax))
    total_tax = Decimal(row.get("tax_amount") or 0)
    remainder = total_tax - sum((t for _k, _i, t in taxed), Decimal(0))
    if remainder and taxed:
        kind, index, _tax = taxed[-1]
        if kind == "line":
            ol = order_lines[index]
            order_lines[index] = OrderLine(
                ol.line_id, ol.sku, ol.name, ol.quantity, ol.subtotal, ol.total,
                Money(ol.total_tax.amount + remainder, currency), product_id=ol.product_id,
            )  # fmt: skip
        elif kind == "ship":
            sl = shipping[index]
            shipping[index] = ShippingLine(
                sl.line_id,
                sl.method,
                sl.title,
                sl.total,
                Money(sl.total_tax.amount + remainder, currency),
            )
        elif kind == "coupon":
            cl = coupons[index]
            coupons[index] = CouponLine(
                cl.code, cl.discount, Money(cl.discount_tax.amount - remainder, currency)
            )
        else:
            fl = fees[index]
            fees[index] = FeeLine(
                fl.line_id, fl.name, fl.total, Money(fl.total_tax.amount + remainder, currency)
            )
    if Decimal(row.get("total_amount") or 0) < 0:
        raise InvalidValue(
            f"sale {row.get('number') or row['id']} is a return (negative total)",
            reference="tryton-return-sale",
            platform=PLATFORM,
            obj=sale_pid,
            hint="returns entered in Tryton are not mirrored to loyalty; adjust points by hand if needed",
        )
    party = row.get("party.") or {}
    email = normalise_email(party.get("email")) if isinstance(party, Mapping) else None
    party_name = (party.get("name") if isinstance(party, Mapping) else "") or ""
    created = row.get("create_date") or datetime.now(UTC)
    updated = row.get("last_modified_at") or created
    status = sale_status(row)
    return Order(
        id=sale_pid,
        number=str(row.get("number") or row["id"]),
        currency=currency,
        status=status,
        created_at=created,
        updated_at=updated,
        email=email,
        customer_id=record_id(store, "party.party", int(row["party"]))
        if row.get("party")
        else None,
        lines=tuple(order_lines),
        total=Money(Decimal(row.get("total_amount") or 0), currency),
        total_tax=Money(total_tax, currency),
        shipping_total=sum((s.total for s in shipping), Money.zero(currency)),
        discount_total=sum((c.discount for c in coupons), Money.zero(currency)),
        shipping_lines=tuple(shipping),
        fee_lines=tuple(fees),
        coupon_lines=tuple(coupons),
        billing=_sale_address(row.get("invoice_address."), party_name),
        shipping=_sale_address(row.get("shipment_address."), party_name),
        completed_at=updated if status is OrderStatus.COMPLETED else None,
        source="erp",
    )


def _sale_address(row: Any, party_name: str) -> Address:
    return address_from_row(row, party_name) if isinstance(row, Mapping) else Address()


def sale_to_fulfilment(row: Mapping[str, Any]) -> Fulfilment | None:
    """A store order whose shipments all left: one Fulfilment with every tracking reference.
    None while something is still to ship (or for a return, which has no outgoing shipment)."""
    if row.get("shipment_state") != "sent":
        return None
    shipments = [s for s in (row.get("shipments.") or []) if s.get("state") in ("shipped", "done")]
    if not shipments:
        return None
    moments = [s.get("last_modified_at") for s in shipments if s.get("last_modified_at")]
    shipped_at = max(moments) if moments else row["last_modified_at"]
    tracking = ", ".join(
        sorted({str(s["reference"]).strip() for s in shipments if s.get("reference")})
    )
    return Fulfilment(
        order_id=str(row["reference"]), shipped_at=shipped_at, tracking_number=tracking
    )

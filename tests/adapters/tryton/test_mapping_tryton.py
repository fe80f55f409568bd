"""Pure rules of the Tryton mapping, with figures worked out by hand from NOTES §7.1 and §9."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.tryton import mapping as m
from adapters.tryton.client import decode, encode
from connector.domain import OrderStatus
from connector.errors import InvalidValue, NotFound

from .factories import CouponLine, ShippingLine, eur, line, order

RATES = {1: Decimal("0.21"), 2: Decimal("0.10")}


@pytest.mark.parametrize(
    ("base", "tax", "expected"),
    [
        ("10.00", "2.10", (1,)),  # the product's own 21 %
        ("10.00", "1.00", (2,)),  # a store line at 10 % gets the 10 % tax, not the product's
        ("10.00", "0", ()),  # tax-free store line: no taxes
        ("0", "0", (1,)),  # nothing to tax: keep the product's default
        ("10.00", "0.40", None),  # 4 %: Tryton has no such tax
        ("2.50", "0.53", (1,)),  # half-up 0.525 → 0.53 is still 21 %
    ],
)
def test_pick_taxes(base: str, tax: str, expected: tuple[int, ...] | None) -> None:
    assert m.pick_taxes(Decimal(base), Decimal(tax), (1,), RATES) == expected


def _catalog() -> m.Catalog:
    tee = m.ProductInfo(11, "TEE", "Camiseta", 1, (1,))
    mug = m.ProductInfo(12, "MUG", "Taza", 1, (1,))
    return m.Catalog(
        {"TEE": tee, "MUG": mug},
        RATES,
        shipping=m.ProductInfo(1, "SHIPPING", "Shipping", 1, (1,)),
        discount=m.ProductInfo(2, "DISCOUNT", "Discount", 1, (1,)),
    )


def _notes_order() -> object:
    # NOTES §7.1: 2 × 16.53 + 3 × 8.26 + shipping 4.95 − coupon 5.00, 21 % VAT.
    # Woo-style line totals carry the coupon: 33.06 → 30.20, 24.78 → 22.64 (5.00 in all).
    return order(
        "s1",
        "1001",
        email="lucia@example.com",
        lines=(
            line("1", "TEE", 2, "33.06", "30.20", "6.34"),
            line("2", "MUG", 3, "24.78", "22.64", "4.75"),
        ),
        shipping=(ShippingLine("s", "flat_rate", "Envío estándar", eur("4.95"), eur("1.04")),),
        coupons=(CouponLine("VERANO5", eur("5.00"), eur("1.05")),),
        total="69.92",
        total_tax="12.13",
    )


def test_plan_keeps_prices_before_discount_and_coupon_as_its_own_line() -> None:
    plan = m.plan_sale_lines(_notes_order(), _catalog())  # type: ignore[arg-type]
    got = [
        (ln.get("product"), ln["quantity"], ln["unit_price"], ln.get("taxes"), ln["description"])
        for ln in plan.lines
    ]
    assert got == [
        (11, 2.0, Decimal("16.5300"), [["add", [1]]], "TEE"),
        (12, 3.0, Decimal("8.2600"), [["add", [1]]], "MUG"),
        (2, 1.0, Decimal("-5.0000"), [["add", [1]]], "Coupon VERANO5"),
        (1, 1.0, Decimal("4.9500"), [["add", [1]]], "Envío estándar"),
    ]
    # Tryton, tax per line: 6.9426→6.94, 5.2038→5.20, −1.05, 1.0395→1.04 = 12.13; 57.79 + 12.13.
    untaxed = sum(Decimal(str(ln["quantity"])) * ln["unit_price"] for ln in plan.lines)
    assert untaxed == Decimal("57.79")


def test_unknown_sku_and_foreign_tax_are_named() -> None:
    o = order(
        "s1",
        "1",
        email=None,
        lines=(line("1", "NOPE", 1, "5.00", "5.00", "1.05"),),
        total="6.05",
        total_tax="1.05",
    )
    with pytest.raises(NotFound) as err:
        m.plan_sale_lines(o, _catalog())
    assert err.value.reference == "tryton-sku-unknown" and "NOPE" in err.value.message
    o = order(
        "s1",
        "2",
        email=None,
        lines=(line("1", "TEE", 1, "10.00", "10.00", "0.40"),),
        total="10.40",
        total_tax="0.40",
    )
    with pytest.raises(InvalidValue) as err2:
        m.plan_sale_lines(o, _catalog())
    assert err2.value.reference == "tryton-tax-unmatched" and "4.00 %" in err2.value.message


def test_unit_price_has_four_decimals() -> None:
    assert m.unit_price(Decimal("10.00"), 3) == Decimal("3.3333")  # 3 × 3.3333 = 9.9999 → 10.00


@pytest.mark.parametrize(
    ("row", "status"),
    [
        ({"state": "draft"}, OrderStatus.DRAFT),
        ({"state": "quotation"}, OrderStatus.PENDING),
        (
            {"state": "processing", "shipment_state": "waiting", "invoice_state": "pending"},
            OrderStatus.PENDING,
        ),
        (
            {
                "state": "processing",
                "shipment_state": "waiting",
                "invoice_state": "awaiting payment",
            },
            OrderStatus.PAID,
        ),
        (
            {"state": "processing", "shipment_state": "sent", "invoice_state": "pending"},
            OrderStatus.COMPLETED,
        ),
        ({"state": "done"}, OrderStatus.COMPLETED),
        ({"state": "cancelled"}, OrderStatus.CANCELLED),
    ],
)
def test_sale_status(row: dict[str, str], status: OrderStatus) -> None:
    assert m.sale_status(row) is status


def test_erp_sale_line_taxes_add_up_to_the_document_tax() -> None:
    # Two lines of 2.50 at 21 %: 0.525 each rounds half-even to 0.52 (1.04), while the sale
    # rounds per document: 5.00 × 0.21 = 1.05. The cent goes on the last taxed line.
    t = datetime(2026, 11, 24, 12, tzinfo=UTC)
    row = {
        "id": 7, "number": "S7", "state": "done", "currency.": {"code": "EUR"}, "party": 3,
        "party.": {"name": "Ana García", "email": "Ana@Example.com"}, "create_date": t,
        "last_modified_at": t, "tax_amount": Decimal("1.05"), "total_amount": Decimal("6.05"),
    }  # fmt: skip
    lines = [
        {"id": 1, "type": "line", "product.": {"id": 5, "code": "PEN"}, "quantity": 1.0, "amount": Decimal("2.50"), "taxes": [1]},
        {"id": 2, "type": "line", "product.": {"id": 6, "code": "INK"}, "quantity": 1.0, "amount": Decimal("2.50"), "taxes": [1]},
    ]  # fmt: skip
    got = m.sale_to_order(
        "erp", row, lines, tax_rates=RATES, shipping_code="SHIPPING", discount_code="DISCOUNT"
    )
    assert [ln.total_tax.amount for ln in got.lines] == [Decimal("0.52"), Decimal("0.53")]
    assert got.id == "tryton:erp:sale.sale/7" and got.customer_id == "tryton:erp:party.party/3"
    assert (
        got.email == "ana@example.com"
        and got.source == "erp"
        and got.status is OrderStatus.COMPLETED
    )
    assert got.total == eur("6.05")


def test_record_ids_are_namespaced_and_checked() -> None:
    pid = m.record_id("erp", "party.party", 12)
    assert pid == "tryton:erp:party.party/12"
    assert m.parse_record_id(pid, "erp", "party.party") == 12
    with pytest.raises(InvalidValue):
        m.parse_record_id("tryton:other:party.party/12", "erp", "party.party")
    with pytest.raises(InvalidValue):
        m.parse_record_id("woo:erp:12", "erp", "party.party")


def test_codec_speaks_tryton_typed_values() -> None:
    madrid = datetime.fromisoformat("2026-11-24T16:37:12.196434+01:00")
    wire = encode([Decimal("16.53"), madrid, madrid.date()])
    assert wire == (
        '[{"__class__":"Decimal","decimal":"16.53"},'
        '{"__class__":"datetime","year":2026,"month":11,"day":24,"hour":15,"minute":37,"second":12,"microsecond":196434},'
        '{"__class__":"date","year":2026,"month":11,"day":24}]'
    )
    back = decode(wire)
    assert back[0] == Decimal("16.53")
    assert back[1] == madrid and back[1].tzinfo is UTC  # naive UTC on the wire, aware inside
    with pytest.raises(TypeError):
        encode([datetime(2026, 11, 24, 12)])  # a naive datetime's zone is a guess: refused

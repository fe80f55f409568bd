"""ERP-only sales (JSON lines): exact money, strict dates and currencies, totals that add up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files

import jsonschema
from filedrop import STAMP

from adapters.files import FilesErp
from connector.domain import Money, OrderStatus
from connector.errors import InvalidValue, MalformedPayload, MissingField, TotalsMismatch

# Worked by hand: line 1 is 3 x 4.50 = 13.50 (tax 1.42); line 2 lists at 12.00 and sells at
# 10.00 (tax 2.10), a 2.00 discount. Merchandise 23.50 + shipping 3.95 + taxes
# (1.42 + 2.10 + 0.83 = 4.35) = 31.80.
GOOD = (
    '{"id": "S-100", "customer_erp_id": "C-1", "email": "ana@example.es", "currency": "EUR",'
    ' "created_at": "2026-11-23T18:45:00+01:00", "status": "completed",'
    ' "lines": [{"sku": "TEA-1", "name": "Green tea", "quantity": 3, "unit_price": 4.50, "tax": 1.42},'
    ' {"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": "12.00", "total": "10.00", "tax": "2.10"}],'
    ' "shipping": 3.95, "shipping_tax": 0.83, "total_tax": 4.35, "total": 31.80}'
)
# JPY has no minor unit: 2 items for 3000 + 300 tax = 3300; paid, not yet completed; e-mail only.
YEN = (
    '{"id": 9, "email": "ken@example.jp", "currency": "JPY", "created_at": "2026-11-24T09:00:00+09:00",'
    ' "status": "paid", "lines": [{"sku": "K", "quantity": 2, "total": 3000, "tax": 300}], "total": 3300}'
)
ONE_LINE = '"lines": [{"sku": "A", "quantity": 1, "unit_price": "20.00", "tax": "4.20"}], "total": "24.20"'
BAD = [
    '{"id": "S-101", "customer_erp_id": "C-1", "currency": "EURO", "created_at": "2026-11-23T10:00:00Z", "status": "paid", ' + ONE_LINE + "}",
    '{"id": "S-102", "customer_erp_id": "C-1", "currency": "EUR", "created_at": "2026-11-23T10:00:00Z", "status": "paid",'
    ' "lines": [{"sku": "A", "quantity": -2, "unit_price": "20.00"}], "total": "0"}',
    '{"id": "S-103", "customer_erp_id": "C-1", "currency": "EUR", "created_at": "2026-11-23T10:00:00", "status": "paid", ' + ONE_LINE + "}",
    '{"id": "S-104", "customer_erp_id": "C-1", "currency": "EUR", "created_at": "2026-11-23T10:00:00Z", "status": "paid",'
    ' "lines": [{"sku": "A", "quantity": 1, "unit_price": "20.00", "tax": "4.20"}], "total": "30.00"}',
    '{"id": "S-105", "customer_erp_id": ',
    '{"id": "S-106", "customer_erp_id": "C-1", "created_at": "2026-11-23T10:00:00Z", "status": "paid", ' + ONE_LINE + "}",
    '{"id": "S-107", "currency": "EUR", "created_at": "2026-11-23T10:00:00Z", "status": "paid", ' + ONE_LINE + "}",
    '{"id": "S-108", "customer_erp_id": "C-1", "currency": "EUR", "created_at": "2026-11-23T10:00:00Z", "status": "paid",'
    ' "lines": [{"sku": "A", "quantity": "1.5", "unit_price": "20.00"}], "total": "30.00"}',
    '["not", "an", "object"]',
]


def sales_file() -> str:
    # Line 2 is blank on purpose (skipped); bad records sit on lines 3..11; YEN on line 12.
    return "\n".join([GOOD, "", *BAD, YEN]) + "\n"


def test_sales_become_erp_orders_and_bad_lines_are_quarantined(erp: FilesErp, drop) -> None:
    drop("inbox/sales/sales-001.jsonl", sales_file())

    (page,) = list(erp.pull_sales(None))

    sale, yen = page.items
    assert sale.id == "files:erp:sale/S-100" and sale.number == "S-100"
    assert sale.source == "erp"
    assert sale.customer_id == "files:erp:customer/C-1" and sale.email == "ana@example.es"
    assert sale.status is OrderStatus.COMPLETED
    assert sale.created_at == datetime(2026, 11, 23, 17, 45, tzinfo=UTC)
    assert sale.paid_at == sale.completed_at == sale.created_at
    tea, mug = sale.lines
    assert (tea.sku, tea.name, tea.quantity) == ("TEA-1", "Green tea", 3)
    assert tea.subtotal == tea.total == Money(Decimal("13.50"), "EUR")
    assert tea.total_tax == Money(Decimal("1.42"), "EUR")
    assert mug.subtotal == Money(Decimal("12.00"), "EUR") and mug.total == Money(Decimal("10.00"), "EUR")
    assert sale.total == Money(Decimal("31.80"), "EUR")
    assert sale.total_tax == Money(Decimal("4.35"), "EUR")
    assert sale.shipping_total == Money(Decimal("3.95"), "EUR")
    assert sale.discount_total == Money(Decimal("2.00"), "EUR")
    assert isinstance(sale.total.amount, Decimal)
    assert sale.shipping_lines[0].total_tax == Money(Decimal("0.83"), "EUR")

    assert yen.id == "files:erp:sale/9" and yen.customer_id is None and yen.email == "ken@example.jp"
    assert yen.total == Money(Decimal(3300), "JPY") and yen.total_tax == Money(Decimal(300), "JPY")
    assert yen.created_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert yen.paid_at == yen.created_at and yen.completed_at is None
    assert yen.shipping_lines == ()

    got = {r.source: r for r in page.rejected}
    assert sorted(got, key=lambda s: int(s.split(":")[1])) == [f"sales-001.jsonl:{n}" for n in range(3, 12)]
    expected = {
        3: (InvalidValue, "currency-unknown"),
        4: (InvalidValue, "quantity-negative"),
        5: (InvalidValue, "date-without-zone"),
        6: (TotalsMismatch, "totals-mismatch"),
        7: (MalformedPayload, "jsonl-invalid"),
        8: (MissingField, "currency-missing"),
        9: (MissingField, "sale-customer-missing"),
        10: (InvalidValue, "quantity-invalid"),
        11: (MalformedPayload, "jsonl-not-object"),
    }
    for line, (cls, reference) in expected.items():
        error = got[f"sales-001.jsonl:{line}"].error
        assert isinstance(error, cls), (line, error)
        assert error.reference == reference, (line, error)
        assert error.obj == f"sales-001.jsonl:{line}"
    # The raw line is kept, byte for byte, so a corrected retry can start from it.
    assert got["sales-001.jsonl:3"].payload == BAD[0]
    mismatch = got["sales-001.jsonl:6"].error
    assert isinstance(mismatch, TotalsMismatch)
    assert (mismatch.expected, mismatch.actual) == (Decimal("30.00"), Decimal("24.20"))


def test_stated_tax_total_must_match_the_lines(erp: FilesErp, drop) -> None:
    drop("inbox/sales/tax.jsonl", GOOD.replace('"total_tax": 4.35', '"total_tax": 4.00') + "\n")

    (page,) = list(erp.pull_sales(None))

    assert page.items == []
    error = page.rejected[0].error
    assert isinstance(error, TotalsMismatch) and "total_tax" in error.message
    assert (error.expected, error.actual) == (Decimal("4.00"), Decimal("4.35"))


def test_the_documented_sale_schema_accepts_good_sales_and_refuses_the_bad_shapes() -> None:
    schema = json.loads(files("adapters.files").joinpath("schemas", "sale.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)

    for good in (GOOD, YEN):
        validator.validate(json.loads(good))
    # Shapes the schema can see: no currency (S-106), no customer (S-107), negative quantity (S-102),
    # date without zone (S-103).
    for bad in (BAD[5], BAD[6], BAD[1], BAD[2]):
        assert not validator.is_valid(json.loads(bad)), bad


def test_sales_file_in_a_legacy_code_page_is_rejected_whole(erp: FilesErp, drop, tmp_path) -> None:
    drop("inbox/sales/pos.jsonl", GOOD.replace("Green tea", "Té verde").encode("cp1252"))

    (page,) = list(erp.pull_sales(None))

    assert page.items == [] and [r.error.reference for r in page.rejected] == ["file-not-utf8"]
    assert (tmp_path / f"archive/rejected/{STAMP}-pos.jsonl").exists()

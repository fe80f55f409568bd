"""Store orders and customers written for the ERP: complete records, keyed, schema-valid."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from filedrop import STAMP

from adapters.files import FilesErp
from connector.domain import (
    Address,
    CouponLine,
    Customer,
    FeeLine,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    ShippingLine,
)
from connector.errors import ConfigError
from connector.ports import CustomerWrite


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


def schema(name: str) -> dict[str, Any]:
    text = files("adapters.files").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


# Worked by hand: merchandise 8.10 + 12.00 = 20.10, shipping 3.95, gift wrap 1.00,
# taxes 1.70 + 2.52 + 0.83 + 0.21 = 5.26; total 30.31. Coupon WELCOME10 took 0.90 off the tea.
ORDER = Order(
    id="woo:main:1234",
    number="1234",
    currency="EUR",
    status=OrderStatus.PAID,
    created_at=datetime(2026, 11, 24, 8, 14, tzinfo=UTC),
    updated_at=datetime(2026, 11, 24, 8, 19, 30, tzinfo=UTC),
    paid_at=datetime(2026, 11, 24, 8, 15, tzinfo=UTC),
    email="ana@example.es",
    customer_id="woo:main:42",
    lines=(
        OrderLine("11", "TEA-1", "Green tea", 2, eur("9.00"), eur("8.10"), eur("1.70"), product_id="501"),
        OrderLine("12", "MUG", "Mug", 1, eur("12.00"), eur("12.00"), eur("2.52"), product_id="502"),
    ),
    shipping_lines=(ShippingLine("21", "flat_rate", "Flat rate", eur("3.95"), eur("0.83")),),
    fee_lines=(FeeLine("31", "Gift wrap", eur("1.00"), eur("0.21")),),
    coupon_lines=(CouponLine("WELCOME10", eur("0.90"), eur("0.19")),),
    refunds=(
        Refund(
            "41",
            "woo:main:1234",
            datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
            eur("4.90"),
            reason="damaged",
            lines=(RefundLine("11", "TEA-1", 1, eur("4.05")),),
        ),
    ),
    total=eur("30.31"),
    total_tax=eur("5.26"),
    shipping_total=eur("3.95"),
    discount_total=eur("0.90"),
    billing=Address(
        first_name="Ana",
        last_name="García",
        line1="Calle Mayor 1",
        city="Madrid",
        postcode="28013",
        country="ES",
        phone="+34600111222",
        email="ana@example.es",
    ),
    shipping=Address(first_name="Ana", last_name="García", line1="Calle Mayor 1", city="Madrid", postcode="28013", country="ES"),
)

BILLING = {
    "first_name": "Ana",
    "last_name": "García",
    "company": "",
    "address_1": "Calle Mayor 1",
    "address_2": "",
    "city": "Madrid",
    "state": "",
    "postcode": "28013",
    "country": "ES",
    "phone": "+34600111222",
    "email": "ana@example.es",
}
EXPECTED = {
    "schema": "vinculo.order-export/1",
    "order_id": "woo:main:1234",
    "platform": "woo",
    "store": "main",
    "number": "1234",
    "status": "paid",
    "source": "store",
    "currency": "EUR",
    "created_at": "2026-11-24T08:14:00Z",
    "updated_at": "2026-11-24T08:19:30Z",
    "paid_at": "2026-11-24T08:15:00Z",
    "completed_at": None,
    "email": "ana@example.es",
    "customer_id": "woo:main:42",
    "prices_include_tax": False,
    "billing": BILLING,
    "shipping": {**BILLING, "phone": "", "email": ""},
    "lines": [
        {"line_id": "11", "sku": "TEA-1", "name": "Green tea", "product_id": "501", "quantity": 2,
         "subtotal": "9.00", "total": "8.10", "tax": "1.70", "is_gift_card": False},
        {"line_id": "12", "sku": "MUG", "name": "Mug", "product_id": "502", "quantity": 1,
         "subtotal": "12.00", "total": "12.00", "tax": "2.52", "is_gift_card": False},
    ],
    "shipping_lines": [{"line_id": "21", "method": "flat_rate", "title": "Flat rate", "total": "3.95", "tax": "0.83"}],
    "fees": [{"line_id": "31", "name": "Gift wrap", "total": "1.00", "tax": "0.21"}],
    "coupons": [{"code": "WELCOME10", "discount": "0.90", "discount_tax": "0.19", "free_shipping": False}],
    "refunds": [
        {"id": "41", "created_at": "2026-11-25T10:00:00Z", "amount": "4.90", "reason": "damaged", "shipping": None,
         "lines": [{"line_id": "11", "sku": "TEA-1", "quantity": 1, "amount": "4.05"}]},
    ],
    "totals": {"total": "30.31", "tax": "5.26", "shipping": "3.95", "discount": "0.90", "fees": "1.00", "refunded": "4.90"},
}


def written(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern))


def test_orders_are_exported_as_one_jsonl_file_with_complete_records(erp: FilesErp, tmp_path: Path) -> None:
    guest = Order(**{**vars_of(ORDER), "id": "shopify:eu:gid://shopify/Order/7", "number": "#7", "customer_id": None, "refunds": ()})

    results = erp.export_orders([ORDER, guest])

    assert [(r.key, r.ok, r.created) for r in results] == [
        ("woo:main:1234", True, True),
        ("shopify:eu:gid://shopify/Order/7", True, True),
    ]
    (path,) = written(tmp_path / "outbox/orders", "*")
    assert re.fullmatch(rf"orders-{STAMP}-[0-9a-f]{{8}}\.jsonl", path.name)
    assert results[0].payload["file"] == path.name
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw
    first, second = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    key = first.pop("vinculo_key")
    assert first == EXPECTED
    assert key == "woo:main:1234@" + ORDER.content_digest()
    assert results[0].payload["vinculo_key"] == key
    assert (second["platform"], second["store"], second["customer_id"]) == ("shopify", "eu", None)
    assert second["totals"]["refunded"] == "0"


def vars_of(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in order.__dataclass_fields__}


def test_written_lines_validate_against_the_published_schema(erp: FilesErp, tmp_path: Path) -> None:
    erp.export_orders([ORDER, Order(**{**vars_of(ORDER), "id": "woo:main:1235", "lines": (), "refunds": ()})])

    validator = jsonschema.Draft202012Validator(schema("order-export"))
    (path,) = written(tmp_path / "outbox/orders", "*.jsonl")
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 2
    for line in lines:
        validator.validate(json.loads(line))
    # The schema is strict enough to catch drift: a float amount or a local time is refused.
    drifted = json.loads(lines[0])
    drifted["totals"]["total"] = 30.31
    assert not validator.is_valid(drifted)
    drifted = json.loads(lines[0])
    drifted["created_at"] = "2026-11-24T09:14:00+01:00"
    assert not validator.is_valid(drifted)


def test_re_export_after_a_crash_repeats_the_key_and_a_real_change_gets_a_new_one(tmp_path: Path) -> None:
    ticks = iter(datetime(2026, 11, 24, 10, minute, tzinfo=UTC) for minute in range(15, 60))
    erp = FilesErp(store="erp", root=tmp_path, clock=lambda: next(ticks))
    erp.export_orders([ORDER])
    erp.export_orders([ORDER])  # the connector crashed before recording the first export
    completed = Order(**{**vars_of(ORDER), "status": OrderStatus.COMPLETED})
    erp.export_orders([completed])

    paths = written(tmp_path / "outbox/orders", "*.jsonl")
    assert [p.name[:23] for p in paths] == ["orders-20261124T101500Z", "orders-20261124T101600Z", "orders-20261124T101700Z"]
    first, again, changed = (json.loads(p.read_text("utf-8")) for p in paths)
    # An ERP importing by vinculo_key skips the repeated line and applies the real change.
    assert first["vinculo_key"] == again["vinculo_key"]
    assert changed["vinculo_key"] != first["vinculo_key"]
    assert first["order_id"] == again["order_id"] == changed["order_id"] == "woo:main:1234"
    assert changed["status"] == "completed"


def test_orders_as_csv_one_row_per_line_with_the_order_repeated(tmp_path: Path) -> None:
    erp = FilesErp(store="erp", root=tmp_path, order_format="csv", clock=lambda: datetime(2026, 11, 24, 10, 15, tzinfo=UTC))

    (result,) = erp.export_orders([ORDER])

    (path,) = written(tmp_path / "outbox/orders", "*")
    assert path.name == result.payload["file"] and path.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"), newline="")))
    address = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country", "phone"]
    assert list(rows[0]) == [
        "vinculo_key", "order_id", "platform", "store", "number", "status", "currency",
        "created_at", "updated_at", "paid_at", "completed_at", "email", "customer_id",
        *[f"billing_{a}" for a in address], *[f"shipping_{a}" for a in address],
        "coupons", "fees_total", "shipping_total", "discount_total", "tax_total", "refunded_total", "total",
        "line_id", "sku", "name", "quantity", "line_subtotal", "line_total", "line_tax",
    ]
    assert [(r["sku"], r["quantity"], r["line_subtotal"], r["line_total"], r["line_tax"]) for r in rows] == [
        ("TEA-1", "2", "9.00", "8.10", "1.70"),
        ("MUG", "1", "12.00", "12.00", "2.52"),
    ]
    for row in rows:
        assert row["order_id"] == "woo:main:1234" and row["total"] == "30.31" and row["fees_total"] == "1.00"
        assert row["vinculo_key"] == "woo:main:1234@" + ORDER.content_digest()
        assert row["billing_last_name"] == "García" and row["completed_at"] == ""
        assert row["coupons"] == "WELCOME10" and row["refunded_total"] == "4.90"


def test_an_erp_sale_is_not_sent_back_to_the_erp_and_nothing_is_written(erp: FilesErp, tmp_path: Path) -> None:
    echo = Order(**{**vars_of(ORDER), "id": "files:erp:sale/S-100", "source": "erp"})

    (result,) = erp.export_orders([echo])

    assert not result.ok and result.key == "files:erp:sale/S-100"
    assert result.error is not None and result.error.reference == "files-write-refused"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert erp.export_orders([]) == []


def test_customers_out_use_the_inbox_columns_plus_our_keys(erp: FilesErp, tmp_path: Path) -> None:
    new = Customer(
        id="woo:main:42",
        email="ana@example.es",
        first_name="Ana",
        last_name="García",
        billing=Address(line1="Calle Mayor 1", city="Madrid", postcode="28013", country="ES", phone="+34600111222"),
        accepts_marketing=True,
        updated_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    )
    known = Customer(id="shopify:eu:gid://shopify/Customer/9", email="bo@example.pt", first_name="Bo",
                     shipping=Address(company="Silva Lda", line1="Rua Nova 5, 3", city="Porto", country="PT"))
    writes = [
        CustomerWrite(key="cust-1", customer=new),
        CustomerWrite(key="cust-2", customer=known, target_id="files:erp:customer/C-2"),
        CustomerWrite(key="cust-3", customer=known, target_id="woo:main:9"),
    ]

    results = erp.upsert_customers(writes)

    assert [(r.key, r.ok, r.created, r.platform_id) for r in results] == [
        ("cust-1", True, True, None),
        ("cust-2", True, False, "files:erp:customer/C-2"),
        ("cust-3", False, False, None),
    ]
    (path,) = written(tmp_path / "outbox/customers", "*")
    assert re.fullmatch(rf"customers-{STAMP}-[0-9a-f]{{8}}\.csv", path.name)
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"), newline="")))
    assert rows == [
        {"erp_id": "", "email": "ana@example.es", "first_name": "Ana", "last_name": "García", "phone": "+34600111222",
         "company": "", "address_1": "Calle Mayor 1", "address_2": "", "city": "Madrid", "postcode": "28013",
         "state": "", "country": "ES", "accepts_marketing": "true", "updated_at": "2026-11-24T09:00:00Z",
         "vinculo_id": "cust-1", "source_id": "woo:main:42"},
        {"erp_id": "C-2", "email": "bo@example.pt", "first_name": "Bo", "last_name": "", "phone": "",
         "company": "Silva Lda", "address_1": "Rua Nova 5, 3", "address_2": "", "city": "Porto", "postcode": "",
         "state": "", "country": "PT", "accepts_marketing": "", "updated_at": "",
         "vinculo_id": "cust-2", "source_id": "shopify:eu:gid://shopify/Customer/9"},
    ]
    row_schema = jsonschema.Draft202012Validator(schema("customer-row"))
    for row in rows:
        row_schema.validate(row)


def test_customers_written_out_read_back_once_the_erp_fills_its_id(erp: FilesErp, tmp_path: Path, drop) -> None:
    erp.upsert_customers([CustomerWrite(key="cust-1", customer=Customer(id="woo:main:42", email="ana@example.es", first_name="Ana"))])
    (path,) = written(tmp_path / "outbox/customers", "*.csv")
    # The ERP imports the file, assigns its id C-9 and exports the customer back to us.
    drop("inbox/customers/back.csv", path.read_bytes().decode("utf-8").replace("\r\n,", "\r\nC-9,", 1))

    (page,) = list(erp.pull_customers(None))

    assert page.rejected == []
    (customer,) = page.items
    assert (customer.id, customer.email, customer.first_name) == ("files:erp:customer/C-9", "ana@example.es", "Ana")
    assert customer.meta == {"vinculo_id": "cust-1"}


def test_an_unusable_root_is_a_config_error_naming_root(tmp_path: Path) -> None:
    missing = FilesErp(store="erp", root=tmp_path / "nope")
    for call in (missing.check, lambda: list(missing.pull_sales(None)), lambda: missing.export_orders([ORDER])):
        with pytest.raises(ConfigError) as info:
            call()
        assert info.value.obj == "root" and info.value.kind == "config"
        assert "`root`" in info.value.message and "does not exist" in info.value.message
    assert not (tmp_path / "nope").exists()  # never created behind the operator's back

    a_file = tmp_path / "root.txt"
    a_file.write_text("")
    with pytest.raises(ConfigError, match="is not a folder"):
        FilesErp(store="erp", root=a_file).check()


def test_check_creates_the_folders_and_describes_the_drop(erp: FilesErp, tmp_path: Path) -> None:
    info = erp.check()

    assert (info.platform, info.store) == ("files", "erp")
    assert info.details["order_format"] == "jsonl"
    for relative in ("inbox/customers", "inbox/sales", "inbox/shipments", "outbox/orders", "outbox/customers", "archive"):
        assert (tmp_path / relative).is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []  # the write probe is gone


def test_an_unknown_order_format_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        FilesErp(store="erp", root=tmp_path, order_format="xml")  # type: ignore[arg-type]
    assert info.value.obj == "order_format"

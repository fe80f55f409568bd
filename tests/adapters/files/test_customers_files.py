"""Customers and shipments CSVs: good rows go through, bad rows are quarantined with file:line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from filedrop import STAMP

from adapters.files import FilesErp
from connector.domain import Address
from connector.errors import BadFile, InvalidValue, MalformedPayload, MissingField

HEADER = (
    "erp_id,email,first_name,last_name,phone,company,address_1,address_2,city,postcode,"
    "state,country,accepts_marketing,updated_at\n"
)
CUSTOMERS = HEADER + (
    "C-1,Ana.Garcia@Example.es,Ana,García,+34 600 111 222,,Calle Mayor 1,2º B,Madrid,28013,M,es,yes,2026-11-20T09:30:00+01:00\n"
    'C-2,bo@example.pt,Bo,Silva,,Silva Lda,"Rua Nova 5, 3",,Porto,4000-001,,PT,0,2026-11-21T12:00:00Z\n'
    "C-3,cy@example.de,Cy,Weber,,,Hauptstr. 9,,Berlin,10115,\n"
    "C-4,,Di,Nomail,,,,,,,,,,\n"
    "C-5,eve@example.fr,Eve,Martin,,,,,,,,,,2026-11-22 10:00:00\n"
    "C-6,not-an-address,Fa,Bad,,,,,,,,,,\n"
    "C-7,gil@example.es,Gil,Extra,,,,,,,,,,,surplus\n"
)


def test_good_rows_go_through_and_each_bad_row_is_quarantined_with_its_line(erp: FilesErp, drop) -> None:
    drop("inbox/customers/customers-001.csv", CUSTOMERS)

    pages = list(erp.pull_customers(None))

    assert len(pages) == 1
    page = pages[0]
    ana, bo = page.items
    assert ana.id == "files:erp:customer/C-1"
    assert ana.email == "Ana.Garcia@Example.es" and ana.email_key == "ana.garcia@example.es"
    assert (ana.first_name, ana.last_name, ana.phone) == ("Ana", "García", "+34 600 111 222")
    assert ana.billing == Address(
        first_name="Ana",
        last_name="García",
        line1="Calle Mayor 1",
        line2="2º B",
        city="Madrid",
        state="M",
        postcode="28013",
        country="ES",
        phone="+34 600 111 222",
        email="Ana.Garcia@Example.es",
    )
    assert ana.accepts_marketing is True
    assert ana.updated_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert bo.id == "files:erp:customer/C-2"
    assert bo.billing.line1 == "Rua Nova 5, 3" and bo.billing.company == "Silva Lda"
    assert bo.accepts_marketing is False
    assert bo.updated_at == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    by_source = {r.source: r for r in page.rejected}
    assert sorted(by_source) == [f"customers-001.csv:{n}" for n in (4, 5, 6, 7, 8)]

    short = by_source["customers-001.csv:4"]
    assert isinstance(short.error, MissingField)
    assert "accepts_marketing, updated_at" in short.error.message
    assert short.payload["erp_id"] == "C-3" and "updated_at" not in short.payload

    no_email = by_source["customers-001.csv:5"]
    assert isinstance(no_email.error, MissingField)
    assert no_email.error.reference == "customer-email-missing"
    assert no_email.error.obj == "customers-001.csv:5" and no_email.error.platform == "files"
    assert no_email.payload["erp_id"] == "C-4"

    naive = by_source["customers-001.csv:6"].error
    assert isinstance(naive, InvalidValue) and naive.reference == "date-without-zone"
    assert "updated_at" in naive.message and "+01:00" in (naive.hint or "")

    assert by_source["customers-001.csv:7"].error.reference == "email-invalid"

    long = by_source["customers-001.csv:8"]
    assert isinstance(long.error, MalformedPayload)
    assert long.payload["_extra"] == ["surplus"]


def test_excel_csv_with_bom_semicolons_and_crlf(erp: FilesErp, drop) -> None:
    drop("inbox/customers/excel.csv", "erp_id;email;first_name\r\nX1;x@example.com;Łucja\r\n".encode("utf-8-sig"))

    (page,) = list(erp.pull_customers(None))

    assert [(c.id, c.email, c.first_name) for c in page.items] == [
        ("files:erp:customer/X1", "x@example.com", "Łucja")
    ]
    assert page.rejected == []


def test_vinculo_id_echoed_by_the_erp_is_kept_as_meta(erp: FilesErp, drop) -> None:
    drop("inbox/customers/echo.csv", "erp_id,email,vinculo_id\n9,nu@example.com,cust-77\n")

    (page,) = list(erp.pull_customers(None))

    assert page.items[0].meta == {"vinculo_id": "cust-77"}


def test_file_that_is_not_utf8_is_rejected_whole_and_moved_aside(erp: FilesErp, drop, tmp_path: Path) -> None:
    drop("inbox/customers/legacy.csv", "erp_id,email,first_name\n7,jo@example.es,José\n".encode("latin-1"))

    (page,) = list(erp.pull_customers(None))

    assert page.items == []
    (rejected,) = page.rejected
    assert rejected.source == "legacy.csv"
    assert isinstance(rejected.error, BadFile)
    assert rejected.error.reference == "file-not-utf8"
    assert "legacy.csv" in rejected.error.message and "line 2" in rejected.error.message
    assert "UTF-8" in (rejected.error.hint or "")
    assert rejected.payload == {"file": "legacy.csv", "moved_to": f"archive/rejected/{STAMP}-legacy.csv"}
    assert not (tmp_path / "inbox/customers/legacy.csv").exists()
    assert (tmp_path / f"archive/rejected/{STAMP}-legacy.csv").read_bytes().endswith("José\n".encode("latin-1"))


def test_header_without_a_required_column_rejects_the_whole_file(erp: FilesErp, drop, tmp_path: Path) -> None:
    drop("inbox/customers/noemail.csv", "erp_id,first_name\n1,Ana\n2,Bo\n")

    (page,) = list(erp.pull_customers(None))

    assert page.items == []
    (rejected,) = page.rejected
    assert isinstance(rejected.error, BadFile)
    assert rejected.error.reference == "csv-header-invalid"
    assert "email" in rejected.error.message
    assert (tmp_path / f"archive/rejected/{STAMP}-noemail.csv").exists()


def test_unexpected_file_type_is_rejected_not_left_to_rot(erp: FilesErp, drop, tmp_path: Path) -> None:
    drop("inbox/customers/customers.xlsx", b"PK\x03\x04")

    (page,) = list(erp.pull_customers(None))

    assert page.rejected[0].error.reference == "file-type-unexpected"
    assert (tmp_path / f"archive/rejected/{STAMP}-customers.xlsx").exists()


def test_shipments_become_fulfilments_of_exported_store_orders(erp: FilesErp, drop) -> None:
    drop(
        "inbox/shipments/shipments-001.csv",
        "order_id,shipped_at,tracking_number,carrier,tracking_url\n"
        "woo:main:1234,2026-11-24T08:00:00+01:00,1Z999AA10123456784,UPS,https://ups.example/1Z999\n"
        "1234,2026-11-24T08:00:00Z,X1,DHL,\n"
        "shopify:eu:gid://shopify/Order/55,2026-11-24T08:00:00,X2,DHL,\n",
    )

    (page,) = list(erp.pull_fulfilments(None))

    (shipment,) = page.items
    assert shipment.order_id == "woo:main:1234"
    assert shipment.shipped_at == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert (shipment.tracking_number, shipment.carrier) == ("1Z999AA10123456784", "UPS")
    assert shipment.tracking_url == "https://ups.example/1Z999"
    assert [(r.source, r.error.reference) for r in page.rejected] == [
        ("shipments-001.csv:3", "shipment-order-id-invalid"),
        ("shipments-001.csv:4", "date-without-zone"),
    ]

"""One file = one page; a file is archived only once the engine asks for the next page."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from filedrop import STAMP

from adapters.files import FilesErp
from connector.ports import ErpAdapter

A = "erp_id,email\nA1,a1@example.com\nA2,a2@example.com\n"
B = "erp_id,email\nB1,b1@example.com\n"


def inbox(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "inbox/customers").iterdir())


def test_files_adapter_satisfies_the_erp_port(erp: FilesErp) -> None:
    assert isinstance(erp, ErpAdapter)
    assert (erp.platform, erp.store) == ("files", "erp")


def test_pages_follow_file_names_and_carry_the_file_mtime(erp: FilesErp, drop) -> None:
    drop("inbox/customers/b.csv", B)
    a = drop("inbox/customers/a.csv", A)
    os.utime(a, (1_795_000_000, 1_795_000_000))

    pages = list(erp.pull_customers(None))

    assert [[c.id for c in p.items] for p in pages] == [
        ["files:erp:customer/A1", "files:erp:customer/A2"],
        ["files:erp:customer/B1"],
    ]
    assert pages[0].high_water == datetime(2026, 11, 18, 11, 6, 40, tzinfo=UTC)
    assert pages[0].high_water == datetime.fromtimestamp(1_795_000_000, UTC)


def test_file_is_archived_when_the_next_page_is_asked_for_not_before(erp: FilesErp, drop, tmp_path: Path) -> None:
    drop("inbox/customers/a.csv", A)
    drop("inbox/customers/b.csv", B)

    pages = erp.pull_customers(None)
    first = next(pages)
    assert [c.id for c in first.items] == ["files:erp:customer/A1", "files:erp:customer/A2"]
    assert inbox(tmp_path) == ["a.csv", "b.csv"]  # page handed out, not yet committed

    second = next(pages)  # the engine committed page one
    assert [c.id for c in second.items] == ["files:erp:customer/B1"]
    assert inbox(tmp_path) == ["b.csv"]
    assert (tmp_path / f"archive/customers/{STAMP}-a.csv").read_text() == A

    # The process dies (or the consumer stops) before committing page two.
    pages.close()
    assert inbox(tmp_path) == ["b.csv"]

    # Next run: b.csv is read again, whole, and archived once the loop finishes.
    again = list(erp.pull_customers(None))
    assert [[c.id for c in p.items] for p in again] == [["files:erp:customer/B1"]]
    assert inbox(tmp_path) == []
    assert (tmp_path / f"archive/customers/{STAMP}-b.csv").read_text() == B


def test_same_name_archived_twice_in_one_second_keeps_both(erp: FilesErp, drop, tmp_path: Path) -> None:
    drop("inbox/customers/daily.csv", A)
    list(erp.pull_customers(None))
    drop("inbox/customers/daily.csv", B)
    list(erp.pull_customers(None))

    archived = tmp_path / "archive/customers"
    assert (archived / f"{STAMP}-daily.csv").read_text() == A
    assert (archived / f"{STAMP}-daily-1.csv").read_text() == B


def test_temp_partial_hidden_and_lock_files_are_not_read(erp: FilesErp, drop, tmp_path: Path) -> None:
    for name in (".customers.csv.3fa2.tmp", "customers.csv.tmp", "upload.csv.part", "~$customers.csv", ".hidden.csv"):
        drop(f"inbox/customers/{name}", "half a file, no header\xff")

    assert list(erp.pull_customers(None)) == []
    assert len(inbox(tmp_path)) == 5  # left alone for whoever is still writing them


def test_since_is_ignored_a_file_is_consumed_once(erp: FilesErp, drop) -> None:
    drop("inbox/customers/a.csv", A)
    future = datetime(2030, 1, 1, tzinfo=UTC)

    assert len(list(erp.pull_customers(future))) == 1
    assert list(erp.pull_customers(None)) == []


def test_inboxes_are_created_on_first_use(erp: FilesErp, tmp_path: Path) -> None:
    assert list(erp.pull_sales(None)) == []
    assert list(erp.pull_fulfilments(None)) == []
    assert (tmp_path / "inbox/sales").is_dir() and (tmp_path / "inbox/shipments").is_dir()


def test_folder_names_are_configurable(tmp_path: Path, drop) -> None:
    erp = FilesErp(store="legacy", root=tmp_path, customers_in="IN/CLIENTES", archive="OLD")
    drop("IN/CLIENTES/x.csv", B)

    (page,) = list(erp.pull_customers(None))

    assert page.items[0].id == "files:legacy:customer/B1"
    assert len(list((tmp_path / "OLD/customers").iterdir())) == 1

"""Customers as Tryton parties: create, find by e-mail, update only what changed, pull back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connector.ports import CustomerWrite

from .factories import address, customer, tag

pytestmark = [pytest.mark.tryton, pytest.mark.slow]


def _pulled(adapter, since, emails):
    found = {}
    marks = []
    for page in adapter.pull_customers(since):
        assert not page.rejected
        marks.append(page.high_water)
        for c in page.items:
            if c.email in emails:
                found[c.email] = c
    assert marks == sorted(marks)  # a watermark may only move forward page after page
    return found


def test_customer_round_trip(tryton) -> None:
    t = tag()
    adapter = tryton.adapter()
    since = datetime.now(UTC) - timedelta(seconds=5)
    ana = replace(
        customer(f"woo:main:{t}", f"Ana.{t}@Example.com"),
        shipping=address("Ana", "García", "Calle Luna 7"),
    )
    [res] = adapter.upsert_customers([CustomerWrite(f"v-{t}", ana)])
    assert res.ok and res.created and res.platform_id.startswith("tryton:erp:party.party/")

    got = _pulled(adapter, since, {f"ana.{t}@example.com"})[f"ana.{t}@example.com"]
    assert got.id == res.platform_id
    assert (got.first_name, got.last_name, got.phone) == ("Ana", "García", "+34 600 111 222")
    assert (got.billing.line1, got.billing.postcode, got.billing.city, got.billing.country) == (
        "Gran Vía 2",
        "28013",
        "Madrid",
        "ES",
    )
    assert got.shipping.line1 == "Calle Luna 7"  # a second address, flagged for delivery
    assert got.created_at is not None and got.created_at.tzinfo is UTC


def test_unchanged_customer_costs_no_write_and_create_finds_existing_email(tryton) -> None:
    t = tag()
    adapter = tryton.adapter()
    ana = customer(f"woo:main:{t}", f"ana.{t}@example.com")
    [first] = adapter.upsert_customers([CustomerWrite(f"v-{t}", ana)])
    writes = adapter.client.writes
    # Same e-mail, different case, no target: found, not created twice, nothing written.
    again = replace(ana, email=f"ANA.{t}@example.com")
    [second] = adapter.upsert_customers([CustomerWrite(f"v-{t}", again)])
    assert second.ok and not second.created and second.platform_id == first.platform_id
    assert adapter.client.writes == writes


def test_update_changes_only_what_differs(tryton) -> None:
    t = tag()
    adapter = tryton.adapter()
    ana = customer(f"woo:main:{t}", f"ana.{t}@example.com")
    [made] = adapter.upsert_customers([CustomerWrite(f"v-{t}", ana)])
    moved = replace(
        ana, email=f"ana.new.{t}@example.com", phone="+34 699 000 000", last_name="García Ruiz"
    )
    since = datetime.now(UTC)
    [upd] = adapter.upsert_customers([CustomerWrite(f"v-{t}", moved, target_id=made.platform_id)])
    assert upd.ok and not upd.created and upd.platform_id == made.platform_id
    got = _pulled(adapter, since, {f"ana.new.{t}@example.com"})[f"ana.new.{t}@example.com"]
    assert (got.last_name, got.phone) == ("García Ruiz", "+34 699 000 000")


def test_batch_create_and_pages_of_one_share_a_timestamp_without_skipping(tryton) -> None:
    # One create call = one transaction = one timestamp for all three (NOTES §8): keyset paging
    # on (last_modified_at, id) must still hand out every one of them.
    t = tag()
    adapter = tryton.adapter(page_size=1)
    adapter.check()  # discovery calls are made once per adapter, not per write
    since = datetime.now(UTC)
    writes = [
        CustomerWrite(f"v-{t}-{i}", customer(f"woo:main:{t}{i}", f"c{i}.{t}@example.com", f"N{i}"))
        for i in range(3)
    ]
    calls = adapter.client.calls
    results = adapter.upsert_customers(writes)
    assert all(r.ok and r.created for r in results)
    assert adapter.client.calls - calls == 2  # one e-mail lookup, one create for the three
    emails = {f"c{i}.{t}@example.com" for i in range(3)}
    assert set(_pulled(adapter, since, emails)) == emails


def test_contact_edited_directly_is_still_pulled(tryton) -> None:
    # Writing a contact mechanism does not touch the party (NOTES §8): the adapter watches it.
    t = tag()
    adapter = tryton.adapter()
    [made] = adapter.upsert_customers(
        [CustomerWrite(f"v-{t}", customer(f"woo:main:{t}", f"old.{t}@example.com"))]
    )
    party = int(made.platform_id.rsplit("/", 1)[1])
    admin = tryton.admin()
    [mech] = admin.search(
        "party.contact_mechanism", [["party", "=", party], ["type", "=", "email"]]
    )
    # A watermark taken well after the party was created: only the contact edit can bring it back.
    since = datetime.now(UTC) + adapter.overlap
    admin.write("party.contact_mechanism", ([mech], {"value": f"new.{t}@example.com"}))
    got = _pulled(adapter, since, {f"new.{t}@example.com"})
    assert got[f"new.{t}@example.com"].id == made.platform_id

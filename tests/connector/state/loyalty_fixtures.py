"""Real records and events shared by the state tests of the loyalty write path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connector.domain import Money
from connector.loyalty import EarnLine, OrderPaid
from connector.state.db import Database
from connector.state.models import CustomerRecord, IdentityMapping

NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def add_customer(db: Database, vid: str) -> None:
    """A customer known on store ``main``, so publish and tier commands fan out to it."""
    with db.transaction() as s:
        s.add(CustomerRecord(vinculo_id=vid, email_key=f"{vid}@example.com", data={}, digest="d", created_at=NOON, updated_at=NOON))
        s.add(IdentityMapping(platform_id=f"woocommerce:main:customer:{vid}", source="main", kind="customer", vinculo_id=vid,
                              matched_by="new", created_at=NOON, updated_at=NOON))


def paid(order_id: str, amount: str) -> OrderPaid:
    """A one-line order of ``amount`` EUR paid at noon, tax and shipping free."""
    eur = Money(Decimal(amount), "EUR")
    zero = Money(Decimal("0"), "EUR")
    return OrderPaid(at=NOON, store="woo:main", order_id=order_id, number=order_id, placed_at=NOON, currency="EUR",
                     lines=(EarnLine(f"{order_id}-1", eur, eur, zero),), total=eur, shipping=zero, email=None)

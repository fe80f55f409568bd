"""Personal-data requests: export what we hold on a person, erase it, or erase a whole store.

These answer the platforms' compliance requests (Shopify's customers/data_request,
customers/redact, shop/redact; the same duty applies to any GDPR request a merchant receives).
Erasure removes personal data — names, e-mails, phones, addresses, raw payloads — from every
table, but keeps the anonymous skeleton the books need: the ledger entries and balance under the
opaque ``vc_…`` id, order totals and statuses. A redacted person can therefore never be matched
again by e-mail, and the points liability still adds up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.domain import normalise_email, normalise_phone, to_jsonable
from connector.state import customers as customers_repo
from connector.state.clock import now
from connector.state.db import Database
from connector.state.models import (
    AccountBalance,
    CustomerRecord,
    DeadLetter,
    IdentityMapping,
    LedgerEntryRow,
    MergeRecord,
    OrderMirror,
    OutboxCommand,
    Watermark,
    WebhookDelivery,
)

REDACTED = "[redacted]"


@dataclass
class RedactionReport:
    customers: list[str] = field(default_factory=list)
    mappings: int = 0
    orders: int = 0
    dead_letters: int = 0
    outbox: int = 0
    other: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "mappings": self.mappings,
            "orders": self.orders,
            "dead_letters": self.dead_letters,
            "outbox": self.outbox,
            **self.other,
        }


def find_people(
    session: Session,
    *,
    platform_ids: Iterable[str] = (),
    email: str | None = None,
    phone: str | None = None,
) -> list[CustomerRecord]:
    """Every golden record the request can mean: by platform id, then e-mail, then phone."""
    found: dict[str, CustomerRecord] = {}
    for pid in platform_ids:
        mapping = customers_repo.mapping(session, pid)
        if mapping is not None:
            record = customers_repo.get(session, mapping.vinculo_id)
            if record is not None:
                found[record.vinculo_id] = record
    email_key = normalise_email(email)
    if email_key:
        for record in session.scalars(
            select(CustomerRecord).where(CustomerRecord.email_key == email_key)
        ):
            found[record.vinculo_id] = record
    phone_key = normalise_phone(phone)
    if phone_key and not found:
        for record in session.scalars(
            select(CustomerRecord).where(CustomerRecord.phone_key == phone_key)
        ):
            found[record.vinculo_id] = record
    return list(found.values())


def export_person(
    db: Database,
    *,
    platform_ids: Iterable[str] = (),
    email: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """Everything Vínculo holds on a person, as one JSON document (data access request)."""
    with db.transaction() as s:
        people = find_people(s, platform_ids=list(platform_ids), email=email, phone=phone)
        out: list[dict[str, Any]] = []
        for record in people:
            vid = record.vinculo_id
            out.append(
                {
                    "vinculo_id": vid,
                    "golden_record": record.data,
                    "is_guest": record.is_guest,
                    "erased_at": record.erased_at.isoformat() if record.erased_at else None,
                    "identities": [
                        {
                            "platform_id": m.platform_id,
                            "source": m.source,
                            "matched_by": m.matched_by,
                        }
                        for m in customers_repo.mappings_of(s, vid)
                    ],
                    "orders": [
                        {
                            "order": o.platform_id,
                            "status": o.status,
                            "total": o.total,
                            "currency": o.currency,
                            "data": o.data,
                        }
                        for o in s.scalars(select(OrderMirror).where(OrderMirror.vinculo_id == vid))
                    ],
                    "loyalty_ledger": [
                        row.data
                        for row in s.scalars(
                            select(LedgerEntryRow)
                            .where(LedgerEntryRow.account == vid)
                            .order_by(LedgerEntryRow.seq)
                        )
                    ],
                    "perk_commands": [
                        {
                            "store": c.target,
                            "kind": c.kind,
                            "status": c.status,
                            "payload": c.payload,
                        }
                        for c in s.scalars(
                            select(OutboxCommand).where(OutboxCommand.account == vid)
                        )
                    ],
                }
            )
        return {"generated_at": now().isoformat(), "people": to_jsonable(out)}


def redact_person(
    db: Database,
    *,
    platform_ids: Iterable[str] = (),
    email: str | None = None,
    phone: str | None = None,
    at: datetime | None = None,
) -> RedactionReport:
    """Erase a person's personal data everywhere; the anonymous ledger stays."""
    report = RedactionReport()
    stamp = at or now()
    with db.transaction() as s:
        for record in find_people(s, platform_ids=list(platform_ids), email=email, phone=phone):
            _erase_record(s, record, stamp, report)
    return report


def _erase_record(
    s: Session, record: CustomerRecord, stamp: datetime, report: RedactionReport
) -> None:
    vid = record.vinculo_id
    record.data = {"redacted": True}
    record.email_key = None
    record.phone_key = None
    record.digest = "redacted"
    record.erased_at = stamp
    record.updated_at = stamp
    report.customers.append(vid)
    refs = [m.platform_id for m in customers_repo.mappings_of(s, vid)]
    report.mappings += len(refs)
    s.execute(delete(IdentityMapping).where(IdentityMapping.vinculo_id == vid))
    for merge in s.scalars(
        select(MergeRecord).where(
            (MergeRecord.from_vinculo_id == vid) | (MergeRecord.into_vinculo_id == vid)
        )
    ):
        merge.reason = REDACTED
        merge.moved_mappings = []
    for order in s.scalars(select(OrderMirror).where(OrderMirror.vinculo_id == vid)):
        order.data = _order_skeleton(order)
        report.orders += 1
    for command in s.scalars(select(OutboxCommand).where(OutboxCommand.account == vid)):
        command.payload = _scrub(command.payload)
        report.outbox += 1
    order_refs = set(
        s.scalars(select(OrderMirror.platform_id).where(OrderMirror.vinculo_id == vid))
    )
    letters = [
        d
        for d in s.scalars(select(DeadLetter))
        if d.record_ref in order_refs or d.record_ref in refs
    ]
    for letter in letters:
        s.delete(letter)
    report.dead_letters += len(letters)


def _order_skeleton(order: OrderMirror) -> dict[str, Any]:
    """What the books need from an order once its buyer is erased: no names, no addresses."""
    data = order.data or {}
    return {
        "redacted": True,
        "id": order.platform_id,
        "status": order.status,
        "currency": order.currency,
        "total": data.get("total"),
        "total_tax": data.get("total_tax"),
        "created_at": data.get("created_at"),
        "lines": [
            {"sku": line.get("sku"), "quantity": line.get("quantity"), "total": line.get("total")}
            for line in data.get("lines", [])
        ],
    }


_PERSONAL_KEYS = {
    "email",
    "first_name",
    "last_name",
    "phone",
    "billing",
    "shipping",
    "address",
    "name",
}


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k in _PERSONAL_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def redact_store(db: Database, store: str) -> RedactionReport:
    """Forget a store (uninstalled): its identities, orders, cursors, queues and deliveries.

    People known only through this store are erased; people also known elsewhere keep their
    other identities. Ledger entries stay, anonymous, so other stores' balances still add up.
    """
    report = RedactionReport()
    stamp = now()
    with db.transaction() as s:
        mapped = list(s.scalars(select(IdentityMapping).where(IdentityMapping.source == store)))
        people = {m.vinculo_id for m in mapped}
        report.mappings = len(mapped)
        s.execute(delete(IdentityMapping).where(IdentityMapping.source == store))
        for vid in sorted(people):
            if not customers_repo.mappings_of(s, vid):
                record = customers_repo.get(s, vid)
                if record is not None:
                    _erase_record(s, record, stamp, report)
        orders = s.execute(delete(OrderMirror).where(OrderMirror.source == store))
        report.orders = int(orders.rowcount)  # type: ignore[attr-defined]
        outbox = s.execute(delete(OutboxCommand).where(OutboxCommand.target == store))
        report.outbox = int(outbox.rowcount)  # type: ignore[attr-defined]
        letters = s.execute(delete(DeadLetter).where(DeadLetter.source == store))
        report.dead_letters += int(letters.rowcount)  # type: ignore[attr-defined]
        marks = s.execute(delete(Watermark).where(Watermark.source == store))
        hooks = s.execute(delete(WebhookDelivery).where(WebhookDelivery.source == store))
        report.other = {
            "watermarks": int(marks.rowcount),  # type: ignore[attr-defined]
            "webhook_deliveries": int(hooks.rowcount),  # type: ignore[attr-defined]
            "balances_kept": len(list(s.scalars(select(AccountBalance.account)))),
        }
    return report

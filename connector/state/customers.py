"""Golden customer records and the identity mappings that point at them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.state.clock import now
from connector.state.models import CustomerRecord, IdentityMapping, MergeRecord


def new_vinculo_id() -> str:
    return "vc_" + uuid.uuid4().hex[:20]


def mapping(session: Session, platform_id: str) -> IdentityMapping | None:
    return session.get(IdentityMapping, platform_id)


def mappings_of(session: Session, vinculo_id: str) -> list[IdentityMapping]:
    return list(session.scalars(select(IdentityMapping).where(IdentityMapping.vinculo_id == vinculo_id)))


def mapping_for_source(session: Session, vinculo_id: str, source: str) -> IdentityMapping | None:
    """The record this person has on one store/ERP (registered accounts before guest keys)."""
    rows = session.scalars(
        select(IdentityMapping)
        .where(IdentityMapping.vinculo_id == vinculo_id, IdentityMapping.source == source)
        .order_by(IdentityMapping.created_at)
    )
    candidates = list(rows)
    real = [m for m in candidates if ":guest:" not in m.platform_id]
    pool = real or candidates
    return pool[0] if pool else None


def get(session: Session, vinculo_id: str) -> CustomerRecord | None:
    return session.get(CustomerRecord, vinculo_id)


def by_email(session: Session, email_key: str) -> CustomerRecord | None:
    return session.scalar(
        select(CustomerRecord)
        .where(CustomerRecord.email_key == email_key, CustomerRecord.erased_at.is_(None))
        .order_by(CustomerRecord.created_at)
        .limit(1)
    )


def by_phone(session: Session, phone_key: str) -> CustomerRecord | None:
    return session.scalar(
        select(CustomerRecord)
        .where(CustomerRecord.phone_key == phone_key, CustomerRecord.erased_at.is_(None))
        .order_by(CustomerRecord.created_at)
        .limit(1)
    )


def create(
    session: Session,
    *,
    data: dict[str, Any],
    digest: str,
    email_key: str | None,
    phone_key: str | None,
    is_guest: bool,
) -> CustomerRecord:
    stamp = now()
    row = CustomerRecord(
        vinculo_id=new_vinculo_id(),
        email_key=email_key,
        phone_key=phone_key,
        is_guest=is_guest,
        data=data,
        digest=digest,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(row)
    session.flush()
    return row


def link(
    session: Session,
    *,
    platform_id: str,
    source: str,
    vinculo_id: str,
    matched_by: str,
    seen_digest: str | None,
) -> IdentityMapping:
    stamp = now()
    row = IdentityMapping(
        platform_id=platform_id,
        source=source,
        kind="customer",
        vinculo_id=vinculo_id,
        matched_by=matched_by,
        seen_digest=seen_digest,
        written_digest=None,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(row)
    session.flush()  # later lookups in the same page (autoflush off) must find it
    return row


def record_merge(session: Session, *, from_id: str, into_id: str, reason: str, moved: list[str]) -> MergeRecord:
    row = MergeRecord(
        from_vinculo_id=from_id, into_vinculo_id=into_id, reason=reason, moved_mappings=moved, merged_at=now()
    )
    session.add(row)
    return row


def count(session: Session) -> dict[str, int]:
    total = session.scalar(select(func.count()).select_from(CustomerRecord)) or 0
    guests = session.scalar(
        select(func.count()).select_from(CustomerRecord).where(CustomerRecord.is_guest.is_(True))
    ) or 0
    return {"customers": int(total), "guests": int(guests)}

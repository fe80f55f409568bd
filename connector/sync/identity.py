"""Who is this? Mapping table first, then normalised e-mail, then phone (only when one of the
two records has no e-mail, so a shared phone never merges two people).

Guests (orders without an account) become customers too, keyed by e-mail under a guest
platform id; when the same person registers, the e-mail match lands them on the same golden
record and the merge is written down with its reason, so it can be audited and undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from connector.domain import Customer, normalise_email, platform_id, split_platform_id
from connector.state import customers as repo
from connector.state.models import CustomerRecord, IdentityMapping
from connector.sync.conflicts import Policy, Side, merge


@dataclass(frozen=True, slots=True)
class Resolution:
    vinculo_id: str
    matched_by: str  # mapping | email | phone | new
    changed_fields: tuple[str, ...]
    seen_changed: bool  # this platform's view of the record changed since last read


def guest_id(order_id: str, email_key: str) -> str:
    """Guest key under the order's store: ``woo:main:guest:anna@example.com``."""
    platform, store, _ = split_platform_id(order_id)
    return platform_id(platform, store, f"guest:{email_key}")


def resolve(
    session: Session,
    customer: Customer,
    *,
    source: str,
    side: Side,
    policies: dict[str, Policy],
    at: datetime,
) -> Resolution:
    """Attach one platform customer to a golden record, creating or merging as needed."""
    digest = customer.content_digest()
    mapping = repo.mapping(session, customer.id)
    record: CustomerRecord | None = None
    matched_by = "mapping"
    if mapping is not None:
        record = repo.get(session, mapping.vinculo_id)
    if record is None and customer.email_key:
        record = repo.by_email(session, customer.email_key)
        matched_by = "email"
    if record is None and customer.phone_key:
        # A shared phone (a family, a switchboard) must not merge two people who both have an
        # e-mail: phone is the key only when one side has no e-mail to tell them apart.
        candidate = repo.by_phone(session, customer.phone_key)
        if candidate is not None and (customer.email_key is None or candidate.email_key is None):
            record = candidate
            matched_by = "phone"
    if record is None:
        fields, changed = merge({}, customer, side=side, source=source, at=at, policies=policies)
        record = repo.create(
            session,
            data={"fields": fields},
            digest=digest,
            email_key=customer.email_key,
            phone_key=customer.phone_key,
            is_guest=customer.is_guest,
        )
        repo.link(
            session,
            platform_id=customer.id,
            source=source,
            vinculo_id=record.vinculo_id,
            matched_by="new",
            seen_digest=digest,
        )
        return Resolution(record.vinculo_id, "new", tuple(changed), True)

    seen_changed = mapping is None or mapping.seen_digest != digest
    changed = []
    if seen_changed:
        fields, changed = merge(
            record.data.get("fields", {}), customer, side=side, source=source, at=at, policies=policies
        )
        if changed:
            record.data = {**record.data, "fields": fields}
            record.email_key = normalise_email(fields["email"]["value"]) if "email" in fields else record.email_key
            record.phone_key = customer.phone_key or record.phone_key
            record.updated_at = at
    if record.is_guest and not customer.is_guest:
        _registered(session, record, customer, source)
    if mapping is None:
        repo.link(
            session,
            platform_id=customer.id,
            source=source,
            vinculo_id=record.vinculo_id,
            matched_by=matched_by,
            seen_digest=digest,
        )
    elif mapping.seen_digest != digest:
        mapping.seen_digest = digest
        mapping.updated_at = at
    return Resolution(record.vinculo_id, matched_by if mapping is None else "mapping", tuple(changed), seen_changed)


def _registered(session: Session, record: CustomerRecord, customer: Customer, source: str) -> None:
    """A guest created an account: same golden record, merge recorded with its reason."""
    record.is_guest = False
    guests = [m.platform_id for m in repo.mappings_of(session, record.vinculo_id) if ":guest:" in m.platform_id]
    repo.record_merge(
        session,
        from_id=record.vinculo_id,
        into_id=record.vinculo_id,
        reason=f"guest registered as {customer.id} (same e-mail)",
        moved=guests,
    )


def mark_written(session: Session, platform_id_: str, digest: str) -> None:
    """Remember what we wrote there, so reading it back is not taken for a change."""
    mapping: IdentityMapping | None = repo.mapping(session, platform_id_)
    if mapping is not None:
        mapping.written_digest = digest
        mapping.seen_digest = digest

"""Tables of the state database: what Vínculo remembers between runs.

One schema for SQLite and PostgreSQL: portable types only (JSON, Numeric, String), aware UTC
datetimes through :class:`UTCDateTime` because SQLite drops the zone, and no dialect-specific
SQL anywhere, so the same repositories and tests run on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without zone, returns aware UTC: naive datetimes are refused on the way in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class CustomerRecord(Base):
    """The golden record: one person across every store and the ERP."""

    __tablename__ = "customers"
    vinculo_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    phone_key: Mapped[str | None] = mapped_column(String(40), index=True)
    is_guest: Mapped[bool] = mapped_column(default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None] = mapped_column(default=None)


class IdentityMapping(Base):
    """platform id <-> vinculo id, with what we last saw and last wrote there."""

    __tablename__ = "identity_mappings"
    platform_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # customer
    vinculo_id: Mapped[str] = mapped_column(ForeignKey("customers.vinculo_id"), index=True)
    matched_by: Mapped[str] = mapped_column(String(20))  # new | mapping | email | phone | merge
    seen_digest: Mapped[str | None] = mapped_column(String(64))
    written_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MergeRecord(Base):
    """Every identity merge with its reason, so it can be undone."""

    __tablename__ = "merges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_vinculo_id: Mapped[str] = mapped_column(String(40), index=True)
    into_vinculo_id: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(Text)
    moved_mappings: Mapped[list[Any]] = mapped_column(JSON)
    merged_at: Mapped[datetime]
    undone_at: Mapped[datetime | None] = mapped_column(default=None)


class OrderMirror(Base):
    """A store (or ERP-only) order as last seen, and where it was mirrored."""

    __tablename__ = "orders"
    platform_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    vinculo_id: Mapped[str | None] = mapped_column(String(40), index=True)
    number: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[str] = mapped_column(String(40))
    store_updated_at: Mapped[datetime]
    digest: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    exported_digest: Mapped[str | None] = mapped_column(String(64))
    exported_at: Mapped[datetime | None]
    erp_ref: Mapped[str | None] = mapped_column(String(300))
    loyalty_digest: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class Watermark(Base):
    __tablename__ = "watermarks"
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    stream: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[datetime]
    updated_at: Mapped[datetime]


class SyncRun(Base):
    __tablename__ = "sync_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))  # running | ok | partial | failed
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class DeadLetter(Base):
    """A quarantined record: never dropped silently, retried or dropped by a human."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("source", "stream", "record_ref", name="uq_dead_letters_ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(50))
    record_ref: Mapped[str] = mapped_column(String(300))
    reference: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    error: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload: Mapped[Any] = mapped_column(JSON)
    retry_count: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | resolved | dropped
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LedgerEntryRow(Base):
    """Append-only loyalty ledger; ``source_key`` unique makes a replay a no-op."""

    __tablename__ = "ledger_entries"
    # every read is one account's entries in order
    __table_args__ = (Index("ix_ledger_entries_account_seq", "account", "seq"),)
    entry_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(400), unique=True)
    account: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    points: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AccountBalance(Base):
    """Cached balances per account, checked against the ledger by `vinculo loyalty rebuild`."""

    __tablename__ = "loyalty_balances"
    account: Mapped[str] = mapped_column(String(40), primary_key=True)
    available: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    debt: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str | None] = mapped_column(String(50))
    entries: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


PENDING_PUBLISH = "kind = 'publish' AND status = 'pending'"


class OutboxCommand(Base):
    """A perk command for a store, written in the ledger's transaction and drained later."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        # the waiting publish row a newer publish takes over: at most one per store and account, so
        # the index stays small however long the outbox grows
        Index(
            "ix_outbox_publish_pending",
            "account",
            "target",
            sqlite_where=text(PENDING_PUBLISH),
            postgresql_where=text(PENDING_PUBLISH),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    target: Mapped[str] = mapped_column(String(100))  # store key
    kind: Mapped[str] = mapped_column(String(30))  # coupon | publish | tier | complete
    account: Mapped[str | None] = mapped_column(String(40), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|in_flight|done|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """A verified webhook delivery, stored before it is acknowledged (deduped by key)."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    resource_ref: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class StoreLock(Base):
    """One writer per store: a row claimed with an expiry, portable across databases."""

    __tablename__ = "store_locks"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]

"""What "an adapter" means: the contracts the sync engine and the outbox rely on.

Structural (``typing.Protocol``), so an adapter package imports nothing but the domain, these
ports and the errors. Reads yield *pages* so the engine can commit a page and only then move
its watermark: the engine asks for the next page only after it has committed the current one,
so an adapter may acknowledge a page (archive a file, ack a queue) when its generator resumes.
``since`` is the stored watermark; each adapter re-reads its own overlap window before it,
because only the adapter knows its platform's clock resolution. Writes take our idempotency key
so a retry finds what the first attempt made.
The adapter contract suite in ``tests/contract/`` runs every adapter against these.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from connector.domain import Customer, Fulfilment, IssueCoupon, Order, PublishLoyalty, SetTier
from connector.errors import VinculoError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record an adapter could not turn into a domain object; the engine quarantines it."""

    source: str  # platform id, or "file.csv:12"
    error: VinculoError
    payload: Any  # the raw record (JSON-able), kept for retry


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a read. ``high_water`` is the largest change time the page covers:
    the engine may move the watermark there once the page is committed."""

    items: Sequence[T]
    rejected: Sequence[Rejected] = ()
    high_water: datetime | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one item in a (possibly batched) write, matched by our ``key``."""

    key: str
    platform_id: str | None = None
    error: VinculoError | None = None
    created: bool = False
    payload: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class CustomerWrite:
    """A customer to create or update. ``target_id`` set means update that record."""

    key: str  # vinculo customer id
    customer: Customer
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoreInfo:
    platform: str
    store: str
    name: str
    currency: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class StoreAdapter(Protocol):
    """A web store (WooCommerce, Shopify): source of orders, target of perks."""

    platform: str
    store: str
    # True when the platform can list customers changed since a time (Shopify); False when
    # only a full scan exists (WooCommerce), which the engine then runs on its own schedule.
    incremental_customers: bool

    def check(self) -> StoreInfo:
        """Prove credentials and connectivity with one cheap call."""
        ...

    def pull_customers(self, since: datetime | None) -> Iterator[Page[Customer]]:
        """Customers changed since ``since`` (or all, if the platform cannot filter)."""
        ...

    def get_customers(self, customer_ids: Sequence[str]) -> list[Customer]:
        """Fresh reads of several customers in as few calls as the platform allows (ids it
        no longer has are left out): the customers of changed orders the engine never saw."""
        ...

    def pull_orders(self, since: datetime | None) -> Iterator[Page[Order]]:
        """Orders modified after ``since`` minus the adapter's overlap window."""
        ...

    def get_order(self, order_id: str) -> Order | None:
        """A fresh read of one order (webhooks are hints); None when it vanished."""
        ...

    def find_customer(self, email: str | None, phone: str | None) -> Customer | None:
        """Look a customer up by our identity keys before creating one."""
        ...

    def upsert_customers(self, writes: Sequence[CustomerWrite]) -> list[WriteResult]:
        """Create or update customers; one result per write, in order."""
        ...

    def ensure_coupon(self, command: IssueCoupon, customer_ref: str) -> WriteResult:
        """Create the reward code unless a code with this name exists (then: not created)."""
        ...

    def publish_loyalty(self, command: PublishLoyalty, customer_ref: str) -> WriteResult:
        """Write the balance snapshot onto the platform customer (meta / metafields)."""
        ...

    def set_tier(self, command: SetTier, customer_ref: str) -> WriteResult:
        """Make the tier tag the only tier tag on the platform customer."""
        ...

    def complete_order(self, fulfilment: Fulfilment) -> WriteResult:
        """Mark a store order fulfilled/completed with its tracking (from the ERP)."""
        ...


@runtime_checkable
class Installable(Protocol):
    """A store that needs one-time setup before perks show (Shopify metafield definitions)."""

    def install(self) -> list[WriteResult]:
        """Idempotent: what exists already is reported as not created."""
        ...


@runtime_checkable
class BatchPublisher(Protocol):
    """A store that writes many customers' loyalty figures in a few calls (the dispatcher then
    sends a drained batch of balance and tier commands together)."""

    def publish_many(self, items: Sequence[tuple[PublishLoyalty | SetTier, str]]) -> list[WriteResult]:
        """``(command, customer ref)`` pairs; one result per pair, in order, each what
        ``publish_loyalty`` / ``set_tier`` would have returned for it."""
        ...


@runtime_checkable
class ErpAdapter(Protocol):
    """The merchant's ERP: receives store orders, owns billing data, has its own sales."""

    platform: str
    store: str

    def check(self) -> StoreInfo: ...

    def pull_customers(self, since: datetime | None) -> Iterator[Page[Customer]]:
        """Customers the ERP created or changed since ``since``."""
        ...

    def upsert_customers(self, writes: Sequence[CustomerWrite]) -> list[WriteResult]: ...

    def export_orders(self, orders: Sequence[Order]) -> list[WriteResult]:
        """Mirror store orders into the ERP, idempotent by the store order id (result key)."""
        ...

    def pull_sales(self, since: datetime | None) -> Iterator[Page[Order]]:
        """ERP-only sales (no store origin: in-store, phone, B2B) that earn loyalty points."""
        ...

    def pull_fulfilments(self, since: datetime | None) -> Iterator[Page[Fulfilment]]:
        """Shipments done in the ERP for store orders."""
        ...

"""The append-only points ledger and the account state folded from it.

Balances are never typed in: an :class:`Account` is what you get by folding its entries in order
(:meth:`Account.fold`). The engine itself changes an account *only* by folding the entries it has
just written, so ``Account.from_entries(customer_id, stored_entries)`` rebuilds exactly the
account the engine had — persistence is an append-only list of entries and nothing else.

Entries that move points use the kinds of LOYALTY.md §5.1. Facts the engine must remember but
that move no points (a delivery date, a tier change, a reward's state, an expiry notice) are
0-point *records* of kinds ``SCHEDULE``, ``TIER``, ``REWARD`` and ``NOTICE`` in the same list,
with the same source-key idempotency.

Point movements and balances: an entry adds ``points`` to ``bucket``; a transfer (``RELEASE``,
``DEBT_SETTLE``) also takes the same amount out of ``from_bucket`` and so adds 0 to the net.
``debt`` is minus the debt bucket, so ``pending + available - debt == Σ net``.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from connector.errors import UnknownCustomer


class Kind(enum.StrEnum):
    EARN = "EARN"
    RELEASE = "RELEASE"
    REVERSE = "REVERSE"
    REDEEM = "REDEEM"
    RESTORE = "RESTORE"
    EXPIRE = "EXPIRE"
    DEBT = "DEBT"
    DEBT_SETTLE = "DEBT_SETTLE"
    SHORTFALL = "SHORTFALL"
    BONUS = "BONUS"
    ADJUST = "ADJUST"
    # 0-point records
    SCHEDULE = "SCHEDULE"
    TIER = "TIER"
    REWARD = "REWARD"
    NOTICE = "NOTICE"


class Bucket(enum.StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    DEBT = "debt"


_last_id: list[str] = ["", ""]  # (source key, entry id) of the latest call


def entry_id_for(source_key: str) -> str:
    """Entry ids are a digest of the source key, so a replay recomputes the same id.

    The latest answer is remembered: a credit's batch id is its entry id, asked for twice in a
    row (once by the handler for ``batch_id``, once when the entry is built)."""
    last = _last_id
    if last[0] == source_key:
        return last[1]
    digest = "e" + _blake2b(source_key.encode(), digest_size=10).hexdigest()
    last[0] = source_key
    last[1] = digest
    return digest


_blake2b = hashlib.blake2b


_NO_META: Mapping[str, Any] = MappingProxyType({})


class Entry(NamedTuple):
    """One ledger row. ``meta`` holds kind-specific facts as plain JSON values (see module doc).

    ``allocations`` are (batch_id, points) pairs: which batches a debit took from, or which a
    restore put back into. ``rate`` and ``basis`` on EARN/REVERSE are the earn-time figures.
    A named tuple rather than a frozen dataclass: equally immutable, and several times cheaper to
    build, which matters at tens of thousands of entries a second.
    """

    entry_id: str
    source_key: str
    customer_id: str
    kind: Kind
    points: int
    bucket: Bucket | None
    effective_at: datetime
    recorded_at: datetime
    explanation: str
    from_bucket: Bucket | None = None
    batch_id: str | None = None
    allocations: tuple[tuple[str, int], ...] = ()
    store: str | None = None
    order_ref: str | None = None
    rule_version: str | None = None
    rate: Decimal | None = None
    basis: Decimal | None = None
    currency: str | None = None
    available_at: datetime | None = None
    expires_at: datetime | None = None
    reverses: str | None = None
    meta: Mapping[str, Any] = _NO_META

    @property
    def net(self) -> int:
        """Contribution to ``pending + available - debt`` (0 for transfers and records)."""
        return 0 if self.from_bucket is not None else self.points

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for the database (Decimal as string, instants ISO 8601 UTC)."""
        return {
            "entry_id": self.entry_id,
            "source_key": self.source_key,
            "customer_id": self.customer_id,
            "kind": self.kind.value,
            "points": self.points,
            "bucket": self.bucket.value if self.bucket else None,
            "from_bucket": self.from_bucket.value if self.from_bucket else None,
            "effective_at": _iso(self.effective_at),
            "recorded_at": _iso(self.recorded_at),
            "explanation": self.explanation,
            "batch_id": self.batch_id,
            "allocations": [[b, p] for b, p in self.allocations],
            "store": self.store,
            "order_ref": self.order_ref,
            "rule_version": self.rule_version,
            "rate": None if self.rate is None else str(self.rate),
            "basis": None if self.basis is None else str(self.basis),
            "currency": self.currency,
            "available_at": _iso(self.available_at),
            "expires_at": _iso(self.expires_at),
            "reverses": self.reverses,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        return cls(
            entry_id=data["entry_id"],
            source_key=data["source_key"],
            customer_id=data["customer_id"],
            kind=Kind(data["kind"]),
            points=int(data["points"]),
            bucket=Bucket(data["bucket"]) if data.get("bucket") else None,
            from_bucket=Bucket(data["from_bucket"]) if data.get("from_bucket") else None,
            effective_at=datetime.fromisoformat(data["effective_at"]),
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            explanation=data["explanation"],
            batch_id=data.get("batch_id"),
            allocations=tuple((str(b), int(p)) for b, p in data.get("allocations") or ()),
            store=data.get("store"),
            order_ref=data.get("order_ref"),
            rule_version=data.get("rule_version"),
            rate=None if data.get("rate") is None else Decimal(data["rate"]),
            basis=None if data.get("basis") is None else Decimal(data["basis"]),
            currency=data.get("currency"),
            available_at=_parse(data.get("available_at")),
            expires_at=_parse(data.get("expires_at")),
            reverses=data.get("reverses"),
            meta=dict(data.get("meta") or {}),
        )


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:
        return _iso_utc(value)
    return value.isoformat()


@lru_cache(maxsize=1 << 14)
def _iso_utc(value: datetime) -> str:
    """ISO 8601 text of a UTC instant, memoised: a run's entries share its time, and releases,
    expiries and notices fall on a few local midnights shared by many batches. (Only UTC
    instants: equal instants in other zones compare equal but print another offset.)"""
    return value.isoformat()


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(slots=True)
class Batch:
    """The view of one credit (LOYALTY.md §5.1). ``expired`` counts points lost to expiry (X)."""

    batch_id: str
    origin: Kind
    original: int
    remaining: int
    state: str  # pending | available | expired | void
    created_at: datetime
    available_at: datetime | None = None
    expires_at: datetime | None = None
    store: str | None = None
    order_ref: str | None = None
    source_key: str = ""
    expired: int = 0


@dataclass(slots=True)
class OrderFacts:
    """What the ledger knows about one order, enough to reverse it at its earn-time rate."""

    order_ref: str
    store: str
    number: str = ""
    currency: str = ""
    batch_id: str | None = None  # the EARN batch
    points: int = 0  # E
    rate: Decimal = Decimal(0)
    rounding: str = "floor"
    basis: Decimal = Decimal(0)  # B, money
    wbasis: Decimal = Decimal(0)  # B weighted by line multipliers (what the rate applies to)
    total: Decimal = Decimal(0)  # T, grand total paid
    spend: Decimal = Decimal(0)  # B in program currency, for tiers
    lines: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # line -> (basis, weight) per 1.00
    window_days: int = 0
    placed_at: datetime | None = None
    clock_at: datetime | None = None
    available_at: datetime | None = None
    refunded_basis: Decimal = Decimal(0)
    refunded_wbasis: Decimal = Decimal(0)
    owed: int = 0  # cumulative owed before the expired-points rule
    cancelled: bool = False
    bonus_batches: list[str] = field(default_factory=list)
    taken: dict[str, int] = field(default_factory=dict)  # credit batch -> REVERSE+DEBT+SHORTFALL

    @property
    def fully_refunded(self) -> bool:
        return self.cancelled or (self.basis > 0 and self.refunded_basis >= self.basis)

    def net_spend(self, undo_refunds: bool = True) -> Decimal:
        if not undo_refunds or self.basis == 0:
            return self.spend
        if self.fully_refunded:
            return Decimal(0)
        return self.spend * (self.basis - self.refunded_basis) / self.basis


@dataclass(slots=True)
class RewardState:
    redemption_id: str
    reward_id: str
    code: str
    price: int
    issued_at: datetime
    expires_at: datetime
    store: str
    entry_id: str
    allocations: tuple[tuple[str, int], ...]
    state: str = "issued"  # issued | used | expired | void
    used_order: str | None = None
    restored: dict[str, int] = field(default_factory=dict)  # batch -> points put back
    auto: bool = False

    @property
    def restored_total(self) -> int:
        return sum(self.restored.values())


@dataclass(frozen=True, slots=True)
class Balance:
    available: int
    pending: int
    debt: int

    @property
    def net(self) -> int:
        return self.available + self.pending - self.debt


class Account:
    """One customer's ledger and the state folded from it. Mutated only through :meth:`fold`."""

    __slots__ = (
        "customer_id",
        "entries",
        "keys",
        "pending",
        "available",
        "debt_points",
        "batches",
        "open",
        "orders",
        "rewards",
        "codes",
        "tier",
        "tier_history",
        "last_activity",
        "email",
        "noticed",
        "_cache",
    )

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.entries: list[Entry] = []
        self.keys: set[str] = set()
        self.pending = 0
        self.available = 0
        self.debt_points = 0  # Σ of the debt bucket, ≤ 0
        self.batches: dict[str, Batch] = {}
        self.open: dict[str, Batch] = {}  # batches with remaining > 0
        self.orders: dict[str, OrderFacts] = {}
        self.rewards: dict[str, RewardState] = {}
        self.codes: dict[str, str] = {}  # lower-case code -> redemption id
        self.tier: str | None = None
        self.tier_history: list[tuple[datetime, str]] = []
        self.last_activity: datetime | None = None
        self.email: str | None = None
        self.noticed: set[tuple[datetime, int]] = set()  # (expiry instant, days before) already told
        self._cache: dict[str, Any] = {}  # derived schedule data; never part of equality

    # --- reading -------------------------------------------------------------------------------

    @property
    def debt(self) -> int:
        return -self.debt_points

    @property
    def net(self) -> int:
        return self.pending + self.available - self.debt

    def balance(self) -> Balance:
        return Balance(available=self.available, pending=self.pending, debt=self.debt)

    def has(self, source_key: str) -> bool:
        return source_key in self.keys

    def tier_at(self, when: datetime) -> str | None:
        """The tier held at ``when`` according to the recorded tier changes."""
        history = self.tier_history
        if not history or history[-1][0] <= when:
            return self.tier
        for at, _tier in reversed(history):
            if at <= when:
                return _tier
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Account):
            return NotImplemented
        return self._state() == other._state()

    __hash__ = None  # type: ignore[assignment]

    def _state(self) -> tuple[Any, ...]:
        return (
            self.customer_id,
            self.entries,
            self.pending,
            self.available,
            self.debt_points,
            self.batches,
            self.open,
            self.orders,
            self.rewards,
            self.codes,
            self.tier,
            self.tier_history,
            self.last_activity,
            self.email,
            self.noticed,
        )

    def __repr__(self) -> str:
        return (
            f"Account({self.customer_id!r}, available={self.available}, pending={self.pending}, "
            f"debt={self.debt}, tier={self.tier!r}, entries={len(self.entries)})"
        )

    # --- building ------------------------------------------------------------------------------

    @classmethod
    def from_entries(cls, customer_id: str, entries: Iterable[Entry]) -> Account:
        """Rebuild an account by folding its stored entries in the order they were written."""
        account = cls(customer_id)
        for entry in entries:
            account.fold(entry)
        return account

    def truncate(self, length: int) -> None:
        """Forget every entry after the first ``length`` (an aborted, never-stored apply)."""
        if length == len(self.entries):
            return
        fresh = Account.from_entries(self.customer_id, self.entries[:length])
        for name in Account.__slots__:
            setattr(self, name, getattr(fresh, name))

    def fold(self, e: Entry) -> None:
        """Apply one entry to the state. The single place where an account changes."""
        if e.customer_id != self.customer_id:
            raise UnknownCustomer(
                f"entry {e.source_key} belongs to {e.customer_id}, not {self.customer_id}",
                reference="entry-customer-mismatch",
                hint="fold only the entries stored under this customer",
            )
        self.entries.append(e)
        self.keys.add(e.source_key)
        if e.points:
            bucket = e.bucket
            if bucket is Bucket.AVAILABLE:
                self.available += e.points
            elif bucket is Bucket.PENDING:
                self.pending += e.points
            elif bucket is Bucket.DEBT:
                self.debt_points += e.points
            source = e.from_bucket
            if source is Bucket.PENDING:
                self.pending -= e.points
            elif source is Bucket.AVAILABLE:
                self.available -= e.points
        handler = _FOLD.get(e.kind)
        if handler is not None:
            handler(self, e)
        cache = self._cache
        if cache:
            cache.pop("due", None)
            kind = e.kind
            if kind is Kind.TIER or kind is Kind.REVERSE:
                cache.pop("tier_check", None)
            if kind in _FACT_KINDS and "tier_items" in cache:
                hit = cache["tier_items"]
                hit[1].pop(e.order_ref or "", None)
                hit[2] = None

    # --- per-kind state changes ----------------------------------------------------------------

    def _credit_batch(self, e: Entry, state: str) -> Batch:
        assert e.batch_id is not None
        batch = Batch(
            batch_id=e.batch_id,
            origin=e.kind,
            original=e.points,
            remaining=e.points,
            state=state,
            created_at=e.effective_at,
            available_at=e.available_at,
            expires_at=e.expires_at,
            store=e.store,
            order_ref=e.order_ref,
            source_key=e.source_key,
        )
        self.batches[batch.batch_id] = batch
        if batch.remaining > 0:
            self.open[batch.batch_id] = batch
        return batch

    def _debit(self, allocations: tuple[tuple[str, int], ...]) -> None:
        for batch_id, points in allocations:
            batch = self.batches[batch_id]
            batch.remaining -= points
            if batch.remaining <= 0:
                self.open.pop(batch_id, None)

    def _fold_earn(self, e: Entry) -> None:
        meta = e.meta
        batch = self._credit_batch(e, "pending")
        assert e.order_ref is not None and e.store is not None
        facts = self.orders.get(e.order_ref)
        if facts is None:
            facts = self.orders[e.order_ref] = OrderFacts(order_ref=e.order_ref, store=e.store)
        facts.number = meta["number"]
        facts.currency = e.currency or ""
        facts.batch_id = batch.batch_id
        facts.points = e.points
        facts.rate = e.rate or Decimal(0)
        facts.rounding = meta["rounding"]
        facts.basis = e.basis or Decimal(0)
        facts.wbasis = Decimal(meta["wbasis"]) if "wbasis" in meta else facts.basis
        facts.total = Decimal(meta["total"])
        facts.spend = Decimal(meta["spend"]) if "spend" in meta else facts.basis
        facts.lines = {k: (Decimal(v[0]), Decimal(v[1])) for k, v in meta.get("lines", {}).items()}
        facts.window_days = int(meta["window_days"])
        facts.placed_at = datetime.fromisoformat(meta["placed_at"])
        if e.available_at is not None:
            facts.available_at = e.available_at
        if meta.get("email"):
            self.email = meta["email"]
        self.last_activity = e.effective_at

    def _fold_schedule(self, e: Entry) -> None:
        assert e.order_ref is not None and e.store is not None
        facts = self.orders.get(e.order_ref)
        if facts is None:
            facts = self.orders[e.order_ref] = OrderFacts(order_ref=e.order_ref, store=e.store)
        facts.clock_at = datetime.fromisoformat(e.meta["clock_at"])
        if e.available_at is not None:
            facts.available_at = e.available_at
            for batch_id in (facts.batch_id, *facts.bonus_batches):
                if batch_id is not None:
                    self.batches[batch_id].available_at = e.available_at

    def _fold_release(self, e: Entry) -> None:
        assert e.batch_id is not None
        batch = self.batches[e.batch_id]
        batch.state = "available"
        batch.expires_at = e.expires_at
        if batch.available_at is None or batch.available_at > e.effective_at:
            batch.available_at = e.effective_at

    def _fold_reverse(self, e: Entry) -> None:
        self._debit(e.allocations)
        for batch_id, _points in e.allocations:
            batch = self.batches[batch_id]
            if batch.state == "pending" and batch.remaining == 0:
                batch.state = "void"
                self.open.pop(batch_id, None)
        self._fold_owed(e, -e.points)
        facts = self.orders.get(e.order_ref or "")
        meta = e.meta
        if facts is not None and "refunded_basis" in meta:
            facts.refunded_basis = Decimal(meta["refunded_basis"])
            facts.refunded_wbasis = Decimal(meta["refunded_wbasis"])
            facts.owed = int(meta["owed"])
            if meta.get("cancelled"):
                facts.cancelled = True

    def _fold_owed(self, e: Entry, points: int) -> None:
        facts = self.orders.get(e.order_ref or "")
        target = e.meta.get("for_batch")
        if facts is not None and target is not None:
            facts.taken[target] = facts.taken.get(target, 0) + points

    def _fold_debt(self, e: Entry) -> None:
        self._fold_owed(e, -e.points)

    def _fold_shortfall(self, e: Entry) -> None:
        self._fold_owed(e, int(e.meta["forgiven"]))

    def _fold_debit(self, e: Entry) -> None:
        self._debit(e.allocations)

    def _fold_expire(self, e: Entry) -> None:
        self._debit(e.allocations)
        for batch_id, points in e.allocations:
            batch = self.batches[batch_id]
            batch.expired += points
            batch.state = "expired"
            self.open.pop(batch_id, None)

    def _fold_redeem(self, e: Entry) -> None:
        self._debit(e.allocations)
        meta = e.meta
        reward = RewardState(
            redemption_id=meta["redemption_id"],
            reward_id=meta["reward_id"],
            code=meta["code"],
            price=-e.points,
            issued_at=e.effective_at,
            expires_at=datetime.fromisoformat(meta["reward_expires_at"]),
            store=e.store or "",
            entry_id=e.entry_id,
            allocations=e.allocations,
            auto=bool(meta.get("auto")),
        )
        self.rewards[reward.redemption_id] = reward
        self.codes[reward.code.lower()] = reward.redemption_id
        if meta.get("email"):
            self.email = meta["email"]
        self.last_activity = e.effective_at

    def _fold_restore(self, e: Entry) -> None:
        if e.batch_id is not None:  # re-issued as a fresh batch
            self._credit_batch(e, "available")
        for batch_id, points in e.allocations:
            batch = self.batches[batch_id]
            batch.remaining += points
            if batch.remaining > 0 and batch.state in ("pending", "available"):
                self.open[batch_id] = batch
        reward = self.rewards.get(e.meta.get("redemption_id", ""))
        if reward is not None:
            for origin, points in e.meta.get("restored", ()):
                reward.restored[origin] = reward.restored.get(origin, 0) + int(points)

    def _fold_bonus(self, e: Entry) -> None:
        pending = e.bucket is Bucket.PENDING
        batch = self._credit_batch(e, "pending" if pending else "available")
        facts = self.orders.get(e.order_ref or "")
        if facts is not None:
            facts.bonus_batches.append(batch.batch_id)
            if facts.available_at is not None and batch.available_at is None:
                batch.available_at = facts.available_at
        self.last_activity = e.effective_at

    def _fold_adjust(self, e: Entry) -> None:
        if e.points > 0:
            self._credit_batch(e, "available")
        else:
            self._debit(e.allocations)

    def _fold_reward(self, e: Entry) -> None:
        reward = self.rewards[e.meta["redemption_id"]]
        reward.state = e.meta["state"]
        if reward.state == "used":
            reward.used_order = e.order_ref

    def _fold_notice(self, e: Entry) -> None:
        if e.expires_at is not None:
            self.noticed.add((e.expires_at, int(e.meta["days_before"])))

    def _fold_tier(self, e: Entry) -> None:
        self.tier = e.meta["tier"]
        self.tier_history.append((e.effective_at, e.meta["tier"]))


# Kinds whose fold changes what an order counts towards a tier (its facts, bonus batches or the
# points taken back from it): they drop that order's cached tier item (connector.loyalty.tiers).
_FACT_KINDS = frozenset({Kind.EARN, Kind.SCHEDULE, Kind.REVERSE, Kind.DEBT, Kind.SHORTFALL, Kind.BONUS})

_FOLD = {
    Kind.EARN: Account._fold_earn,
    Kind.SCHEDULE: Account._fold_schedule,
    Kind.RELEASE: Account._fold_release,
    Kind.REVERSE: Account._fold_reverse,
    Kind.DEBT: Account._fold_debt,
    Kind.SHORTFALL: Account._fold_shortfall,
    Kind.DEBT_SETTLE: Account._fold_debit,
    Kind.EXPIRE: Account._fold_expire,
    Kind.REDEEM: Account._fold_redeem,
    Kind.RESTORE: Account._fold_restore,
    Kind.BONUS: Account._fold_bonus,
    Kind.ADJUST: Account._fold_adjust,
    Kind.REWARD: Account._fold_reward,
    Kind.TIER: Account._fold_tier,
    Kind.NOTICE: Account._fold_notice,
}

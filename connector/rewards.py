"""Where the pure loyalty engine meets the state database and the outbox.

The engine (``connector.loyalty``) computes; this bridge loads an account's ledger, hands it the
events an order implies, and writes the new ledger entries, the balance cache and the perk
commands **in the caller's transaction** — so points and the coupon that spends them commit
together or not at all. Accounts are cached between events and checked against the stored entry
count, so a rolled-back transaction can never leave a stale account in memory.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import yaml
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from connector import outbox
from connector.config import Config
from connector.domain import IssueCoupon, Order, Perk, PublishLoyalty, split_platform_id
from connector.errors import ConfigValueError, ProgramError, UnknownCustomer, VinculoError
from connector.loyalty import (
    Account,
    Balance,
    Entry,
    Event,
    ManualAdjustment,
    Program,
    RebuildReport,
    Redeem,
    RewardVoided,
    TimePassed,
    apply_many,
    events_from_order,
    load_program,
    published_snapshot,
    snapshot,
    verify,
)
from connector.loyalty.earn import tier_level
from connector.loyalty.engine import PerkCommand
from connector.state import customers as customers_repo
from connector.state import ledger
from connector.state.clock import now as wall_clock
from connector.state.db import Database
from connector.state.models import CustomerRecord, IdentityMapping, OutboxCommand

_MAPPINGS = cast(Table, IdentityMapping.__table__)


@dataclass(slots=True)
class BatchResult:
    """What :meth:`LoyaltyBridge.apply_batch` stored, and the items it rejected (by index)."""

    queued: int = 0
    entries: int = 0
    failed: list[tuple[int, VinculoError]] = field(default_factory=list)


def _balance_row(account: Account) -> dict[str, Any]:
    return {
        "account": account.customer_id,
        "available": account.available,
        "pending": account.pending,
        "debt": account.debt,
        "tier": account.tier,
        "entries": len(account.entries),
    }


class LoyaltyBridge:
    def __init__(
        self,
        program: Program,
        store_keys: Sequence[str],
        *,
        clock: Callable[[], datetime] = wall_clock,
        cache_size: int = 20_000,
    ) -> None:
        self.program = program
        self.store_keys = list(store_keys)
        self.clock = clock
        self._cache: OrderedDict[str, Account] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_config(cls, config: Config, *, store_keys: Sequence[str]) -> LoyaltyBridge:
        source = str(getattr(config, "_source", "config"))
        data: Any = config.loyalty.program
        if config.loyalty.program_file is not None:
            path = Path(config.loyalty.program_file)
            source = str(path)
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigValueError(
                    f"cannot read the program file {path}: {exc.strerror}",
                    file=str(getattr(config, "_source", "config")),
                    key="loyalty.program_file",
                ) from None
            except yaml.YAMLError:
                raise ProgramError(f"{path} is not valid YAML", obj=str(path)) from None
        secret = (
            config.loyalty.code_secret.get_secret_value() if config.loyalty.code_secret else None
        )
        if secret is None:
            raise ConfigValueError(
                "a loyalty program needs a code secret to derive reward codes",
                file=str(getattr(config, "_source", "config")),
                key="loyalty.code_secret",
                hint="set `code_secret: ${VINCULO_CODE_SECRET}` and keep the value stable",
            )
        return cls(load_program(data, source=source, code_secret=secret), store_keys)

    # --- accounts --------------------------------------------------------------------------------

    def account(self, session: Session, customer_id: str) -> Account:
        return self._accounts(session, [customer_id])[customer_id]

    def _accounts(self, session: Session, customer_ids: Iterable[str]) -> dict[str, Account]:
        """Cached accounts whose entry count matches storage; the others rebuilt from entries.

        One query for the stored counts of the whole batch; a rebuild only for accounts not
        cached (or stale after a rolled-back transaction)."""
        wanted = list(dict.fromkeys(customer_ids))
        stored = ledger.entry_counts(session, wanted)
        out: dict[str, Account] = {}
        cache = self._cache
        for customer_id in wanted:
            cached = cache.get(customer_id)
            if cached is not None and len(cached.entries) == stored.get(customer_id, 0):
                cache.move_to_end(customer_id)
                out[customer_id] = cached
                continue
            rows = ledger.entry_rows(session, customer_id) if customer_id in stored else []
            account = Account.from_entries(customer_id, [Entry.from_dict(r) for r in rows])
            record = customers_repo.get(session, customer_id)
            if record is not None and record.email_key:
                account.email = record.email_key
            cache[customer_id] = account
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
            out[customer_id] = account
        return out

    def _forget(self, customer_id: str) -> None:
        self._cache.pop(customer_id, None)

    # --- applying events -------------------------------------------------------------------------

    def observe_page(
        self, session: Session, items: Sequence[tuple[Order, str]]
    ) -> tuple[int, list[tuple[Order, VinculoError]]]:
        """Sync engine hook: a page's new or changed orders (with their customers) in one batch.

        Returns the perk commands queued and the orders the program refused (for quarantine);
        a refused order writes nothing and does not stop the others.
        """
        batch: list[tuple[str, Sequence[Event], str | None]] = []
        for order, vinculo_id in items:
            platform, key, _ = split_platform_id(order.id)
            events = events_from_order(order, store=f"{platform}:{key}", observed_at=self.clock())
            batch.append((vinculo_id, events, order.email_key))
        result = self.apply_batch(session, batch)
        return result.queued, [(items[index][0], error) for index, error in result.failed]

    def observe(self, session: Session, order: Order, *, vinculo_id: str, store: str) -> int:
        """Sync engine hook: every new or changed order, inside the page's transaction."""
        platform, key, _ = split_platform_id(order.id)
        events = events_from_order(order, store=f"{platform}:{key}", observed_at=self.clock())
        return self.apply_events(session, vinculo_id, events, email=order.email_key)

    def apply_events(
        self,
        session: Session,
        customer_id: str,
        events: Iterable[Event],
        *,
        email: str | None = None,
    ) -> int:
        """Apply events and persist the result; returns the number of perk commands queued.

        A rejected event raises its :class:`~connector.errors.VinculoError` and writes nothing."""
        result = self.apply_batch(session, [(customer_id, list(events), email)])
        if result.failed:
            raise result.failed[0][1]
        return result.queued

    def apply_batch(
        self, session: Session, items: Sequence[tuple[str, Sequence[Event], str | None]]
    ) -> BatchResult:
        """Apply many ``(customer id, events, e-mail)`` items in the caller's transaction.

        Each item is one :func:`~connector.loyalty.apply_many` (all or nothing; its publish
        waits for :meth:`render` to build the snapshot when the dispatcher sends it);
        a rejected item is reported in ``failed`` with its error and writes nothing, the others
        go on. Then one executemany INSERT for every new ledger row, one upsert of the balance
        rows and one batched enqueue for the outbox — a sync page or a backfill costs a handful
        of statements instead of several per event. Unique ``source_key`` and outbox ``key``
        remain the guard against a second writer.
        """
        result = BatchResult()
        if not items:
            return result
        accounts = self._accounts(session, (customer_id for customer_id, _e, _m in items))
        starts: dict[str, int] = {cid: len(a.entries) for cid, a in accounts.items()}
        perks: list[tuple[str, PerkCommand]] = []
        touched: dict[str, Account] = {}
        for index, (customer_id, events, email) in enumerate(items):
            account = accounts[customer_id]
            if email and not account.email:
                account.email = email
            known_email = account.email
            try:
                outcome = apply_many(self.program, account, events, with_snapshot=False)
            except VinculoError as exc:
                # apply_many rebuilt the account from its entries; the e-mail from the customer
                # record is not in them
                account.email = account.email or known_email
                result.failed.append((index, exc))
                continue
            if outcome.entries:
                touched[customer_id] = account
            perks.extend((customer_id, command) for command in outcome.perks)
        if not touched and not perks:
            session.flush()
            return result
        try:
            result.entries = ledger.append_many(
                session,
                (
                    (cid, starts[cid], [e.to_dict() for e in account.entries[starts[cid] :]])
                    for cid, account in touched.items()
                ),
            )
            ledger.save_balances(session, [self._balance_row(account) for account in touched.values()])
            result.queued = self._enqueue(session, perks)
        except BaseException:
            # the caller's transaction will roll back: never keep accounts it did not store
            for customer_id in touched:
                self._forget(customer_id)
            raise
        # The sync engine iterates a page without autoflush; later lookups in the same page must
        # see whatever the caller added to the session before this call.
        session.flush()
        return result

    def _balance_row(self, account: Account) -> dict[str, Any]:
        """The cached balance; an account that never moved tier holds the entry tier."""
        row = _balance_row(account)
        if row["tier"] is None:
            level = tier_level(self.program.at(self.clock()), None)
            row["tier"] = level.name if level is not None else None
        return row

    def _save_balance(self, session: Session, account: Account) -> None:
        ledger.save_balances(session, [self._balance_row(account)])

    def _targets(self, session: Session, customer_ids: Iterable[str]) -> dict[str, list[str]]:
        """Stores each customer is known on (registered, not guest), in configured order."""
        known: dict[str, set[str]] = {}
        wanted = list(dict.fromkeys(customer_ids))
        table = _MAPPINGS  # table columns: a plain Core query, no ORM entity machinery per page
        for i in range(0, len(wanted), 500):
            rows = session.execute(
                select(table.c.vinculo_id, table.c.source, table.c.platform_id).where(
                    table.c.vinculo_id.in_(wanted[i : i + 500])
                )
            )
            for vid, source, platform_id in rows:
                if ":guest:" not in platform_id:
                    known.setdefault(vid, set()).add(source)
        return {cid: [k for k in self.store_keys if k in known.get(cid, ())] for cid in wanted}

    def _enqueue(self, session: Session, perks: Sequence[tuple[str, PerkCommand]]) -> int:
        if not perks:
            return 0
        at = self.clock()
        everywhere = self._targets(session, {cid for cid, _command in perks})
        commands: list[tuple[Perk, str]] = []
        for customer_id, command in perks:
            if command.store:
                store = command.store
                key = store.split(":")[1] if store.count(":") >= 1 else store
                # A reward auto-issued after an ERP-only sale names the ERP as its "store";
                # the coupon then goes to the first store the customer is known on.
                targets = [key] if key in self.store_keys else everywhere[customer_id][:1]
            else:
                targets = everywhere[customer_id]
            commands.extend((command.perk, target) for target in targets)
        return outbox.enqueue_many(session, commands, at=at)

    # --- requests from people --------------------------------------------------------------------

    def customer(self, session: Session, who: str) -> CustomerRecord:
        """Find a customer by Vínculo id or e-mail, or say how to find them."""
        record = customers_repo.get(session, who) or customers_repo.by_email(
            session, who.strip().lower()
        )
        if record is None:
            raise UnknownCustomer(
                f"no customer {who!r}",
                obj=who,
                hint="give the customer's e-mail or Vínculo id (vc_…); run `vinculo sync` first",
            )
        return record

    def redeem(
        self,
        db: Database,
        who: str,
        reward_id: str,
        *,
        store: str,
        redemption_id: str | None = None,
    ) -> IssueCoupon:
        """Spend points on a reward; the coupon command commits with the ledger entry."""
        if store not in self.store_keys:
            raise ConfigValueError(
                f"no store with key {store!r}; configured: {', '.join(self.store_keys) or 'none'}",
                file="command line",
                key="--store",
            )
        with db.transaction() as s:
            record = self.customer(s, who)
            rid = redemption_id or uuid.uuid4().hex[:16]
            self.apply_events(
                s,
                record.vinculo_id,
                [
                    Redeem(
                        at=self.clock(),
                        redemption_id=rid,
                        reward_id=reward_id,
                        store=store,
                        email=record.email_key,
                    )
                ],
                email=record.email_key,
            )
            row = s.scalar(
                select(OutboxCommand).where(OutboxCommand.key == f"{store}:redemption:{rid}")
            )
            if row is None:
                raise UnknownCustomer(
                    f"redemption {rid} queued no coupon for store {store!r}",
                    obj=rid,
                    hint="see `vinculo status`",
                )
            coupon = outbox.decode("coupon", row.payload)
            assert isinstance(coupon, IssueCoupon)
            return coupon

    def adjust(
        self, db: Database, who: str, points: int, *, reason: str, key: str | None = None
    ) -> Entry:
        with db.transaction() as s:
            record = self.customer(s, who)
            event = ManualAdjustment(
                at=self.clock(), key=key or uuid.uuid4().hex[:16], points=points, reason=reason
            )
            before = len(self.account(s, record.vinculo_id).entries)
            self.apply_events(s, record.vinculo_id, [event])
            account = self.account(s, record.vinculo_id)
            added = [e for e in account.entries[before:] if e.source_key == f"adjust:{event.key}"]
            if not added:
                raise UnknownCustomer(f"adjustment {event.key} was already applied", obj=event.key)
            return added[0]

    def sweep(self, db: Database, at: datetime | None = None) -> int:
        """The 00:00 run: releases, expiries, reward expiry, tiers, for every account."""
        moment = at or self.clock()
        with db.transaction() as s:
            accounts = ledger.accounts(s)
        queued = 0
        for customer_id in accounts:
            with db.transaction() as s:
                queued += self.apply_events(s, customer_id, [TimePassed(at=moment)])
        return queued

    def on_dead(self, session: Session, row: OutboxCommand, error: VinculoError) -> None:
        """A coupon the store refused for good gives its points back ("could not be created")."""
        if row.kind != "coupon" or row.account is None:
            return
        redemption = str(row.payload.get("key", "")).removeprefix("redemption:")
        self.apply_events(
            session,
            row.account,
            [
                RewardVoided(
                    at=self.clock(),
                    redemption_id=redemption,
                    reason=f"coupon could not be created: {error.message}",
                    rejected_by_store=True,
                )
            ],
        )

    def render(self, session: Session, command: PublishLoyalty) -> PublishLoyalty:
        """The dispatcher's hook: the publish with the snapshot of the customer's stored ledger.

        Only the newest publish per customer and store waits in the outbox, so the snapshot is
        built once per send instead of once per event; it is the one the engine would have built
        after the customer's last entry (:func:`~connector.loyalty.published_snapshot`)."""
        account = self.account(session, command.customer_id)
        snap = published_snapshot(self.program, account, self.clock())
        return PublishLoyalty(key=command.key, customer_id=command.customer_id, snapshot=snap)

    # --- reading -----------------------------------------------------------------------------------

    def balance(self, db: Database, who: str) -> dict[str, Any]:
        with db.transaction() as s:
            record = self.customer(s, who)
            account = self.account(s, record.vinculo_id)
            snap = snapshot(self.program, account, self.clock())
        return {"customer": record.vinculo_id, "email": record.email_key, **snap}

    def history(self, db: Database, who: str) -> list[dict[str, Any]]:
        with db.transaction() as s:
            record = self.customer(s, who)
            account = self.account(s, record.vinculo_id)
            return [
                {
                    "at": e.effective_at.isoformat(),
                    "kind": e.kind.value,
                    "points": e.points,
                    "bucket": e.bucket.value if e.bucket else None,
                    "explanation": e.explanation,
                    "source_key": e.source_key,
                }
                for e in account.entries
            ]

    def rebuild(self, db: Database, *, fix: bool = False) -> list[RebuildReport]:
        """Recompute every balance from the ledger and report accounts whose cache differs."""
        reports: list[RebuildReport] = []
        with db.transaction() as s:
            for customer_id in ledger.accounts(s):
                row = ledger.balance(s, customer_id)
                stored = Balance(row.available, row.pending, row.debt) if row is not None else None
                entries = [Entry.from_dict(r) for r in ledger.entry_rows(s, customer_id)]
                report = verify(customer_id, entries, stored)
                reports.append(report)
                if fix and not report.ok:
                    self._forget(customer_id)
                    self._save_balance(s, Account.from_entries(customer_id, entries))
        return reports

    def top_balances(self, db: Database, limit: int = 5) -> list[dict[str, Any]]:
        with db.transaction() as s:
            rows = ledger.balances(s)[:limit]
            out = []
            for row in rows:
                record = customers_repo.get(s, row.account)
                out.append(
                    {
                        "customer": row.account,
                        "email": record.email_key if record else None,
                        "available": row.available,
                        "pending": row.pending,
                        "debt": row.debt,
                        "tier": row.tier,
                    }
                )
            return out

    def issued_coupons(self, db: Database) -> list[dict[str, Any]]:
        with db.transaction() as s:
            rows = s.scalars(
                select(OutboxCommand)
                .where(OutboxCommand.kind == "coupon")
                .order_by(OutboxCommand.id)
            )
            return [
                {
                    "store": r.target,
                    "code": r.payload["code"],
                    "reward": r.payload["reward_id"],
                    "email": r.payload["email"],
                    "expires_at": r.payload["expires_at"],
                    "status": r.status,
                }
                for r in rows
            ]

    def redeem_best_for_demo(self, db: Database, *, store: str) -> dict[str, Any] | None:
        """The demo redeems the cheapest affordable reward for the richest customer."""
        with db.transaction() as s:
            rows = ledger.balances(s)
            best = next((r for r in rows if customers_repo.get(s, r.account) is not None), None)
            if best is None:
                return None
            record = customers_repo.get(s, best.account)
            assert record is not None
            email = record.email_key
        rules = self.program.at(self.clock())
        affordable = sorted(
            (r for r in rules.rewards if r.price <= best.available), key=lambda r: r.price
        )
        if not affordable or email is None:
            return None
        coupon = self.redeem(
            db, best.account, affordable[0].id, store=store, redemption_id=f"demo-{best.account}"
        )
        return {"email": email, "reward": coupon.reward_id, "code": coupon.code}

"""The pure loyalty engine: ``apply(program, account, event) -> Outcome``.

Each call first *sweeps* the account up to the event's time (releases, expiries, reward expiry,
notices, scheduled tier checks — in that order at any one instant, LOYALTY.md §5.4), then applies
the event. Every entry it writes is folded into the account at once, through the same
:meth:`Account.fold` that rebuilds an account from storage, so the incremental account and the
rebuilt one cannot disagree.

Idempotency: every entry has a source key; an event whose key is already in the ledger is a
no-op. A rejected request (:class:`~connector.errors.LoyaltyError`) leaves the account exactly as
it was — nothing is returned to store, nothing was folded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.domain import IssueCoupon, Money, Perk, PublishLoyalty, SetTier, normalise_email
from connector.errors import (
    InsufficientPoints,
    LoyaltyError,
    ProgramError,
    UnknownCustomer,
    UnknownReward,
)
from connector.loyalty import tiers as tiermath
from connector.loyalty.codes import reward_code
from connector.loyalty.earn import EarnQuote, base_rate, fmt, money_text, quote, round_points
from connector.loyalty.events import (
    BonusGranted,
    CouponUsed,
    Event,
    ManualAdjustment,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    Redeem,
    RewardVoided,
    TimePassed,
)
from connector.loyalty.ledger import (
    Account,
    Batch,
    Bucket,
    Entry,
    Kind,
    OrderFacts,
    RewardState,
    entry_id_for,
)
from connector.loyalty.localtime import add_local_days, human_date, local_date, local_midnight
from connector.loyalty.program import Program, Rules
from connector.loyalty.snapshot import snapshot

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PerkCommand:
    """A perk for the outbox. ``store`` None means every store the customer is known on."""

    perk: Perk
    store: str | None = None

    @property
    def key(self) -> str:
        return self.perk.key


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one ``apply`` produced: entries to append, perks to enqueue, and data warnings."""

    entries: tuple[Entry, ...]
    perks: tuple[PerkCommand, ...]
    account: Account
    warnings: tuple[str, ...] = ()


def order_ref(store: str, order_id: str) -> str:
    return f"{store}:order:{order_id}"


def apply(program: Program, account: Account, event: Event) -> Outcome:
    """Apply one event to ``account`` (mutated in place) and return what to persist and send."""
    mark = len(account.entries)
    had_entries = mark > 0
    tier_before = account.tier
    run = _Run(program, account, event.at)
    try:
        _precheck(program, event)
        primary = _primary_key(account, event)
        if primary is not None and primary in account.keys:
            return Outcome((), (), account)
        run.sweep(event.at)
        _HANDLERS[type(event)](run, event)
        run.sweep(event.at)
        run.auto_issue()
    except BaseException:
        account.truncate(mark)
        raise
    return run.outcome(had_entries, tier_before)


def preview(program: Program, account: Account, cart: OrderPaid) -> EarnQuote:
    """'Earn N points with this order': the accrual computation on a cart, writing nothing."""
    return quote(program, cart, account.tier_at(cart.placed_at))


# --- the run: writes entries and folds them at once ----------------------------------------------


class _Run:
    __slots__ = ("program", "rules", "account", "at", "entries", "perks", "warnings", "cid")

    def __init__(self, program: Program, account: Account, at: datetime) -> None:
        self.program = program
        self.rules = program.at(at)  # settings for the sweep itself: notices, inactivity
        self.account = account
        self.at = at
        self.cid = account.customer_id
        self.entries: list[Entry] = []
        self.perks: list[PerkCommand] = []
        self.warnings: list[str] = []
        cache = account._cache
        if cache.get("rules") is not self.rules:
            cache.clear()
            cache["rules"] = self.rules

    def write(
        self,
        key: str,
        kind: Kind,
        points: int,
        bucket: Bucket | None,
        effective_at: datetime,
        explanation: str,
        **fields: Any,
    ) -> Entry:
        entry = Entry(
            entry_id_for(key),
            key,
            self.cid,
            kind,
            points,
            bucket,
            effective_at,
            self.at,
            explanation,
            **fields,
        )
        self.account.fold(entry)
        self.entries.append(entry)
        return entry

    def outcome(self, had_entries: bool, tier_before: str | None) -> Outcome:
        account = self.account
        if self.entries:
            program = self.program
            rules = program.at(self.at)
            if rules.tiers is not None and (account.tier != tier_before or not had_entries):
                level = rules.level(account.tier) or rules.tiers.levels[0]
                self.perks.append(
                    PerkCommand(
                        SetTier(
                            key=f"tier:{self.cid}:{level.name}:{self.at.isoformat()}",
                            customer_id=self.cid,
                            tier=level.tag,
                            all_tiers=tuple(lv.tag for lv in rules.tiers.levels),
                        )
                    )
                )
            # keyed by the last entry it reflects: deterministic, and one per change
            key = f"publish:{self.cid}:{self.entries[-1].entry_id}"
            snap = snapshot(program, account, self.at)
            self.perks.append(PerkCommand(PublishLoyalty(key=key, customer_id=self.cid, snapshot=snap)))
        return Outcome(tuple(self.entries), tuple(self.perks), account, tuple(self.warnings))

    # --- sweep ---------------------------------------------------------------------------------

    def sweep(self, now: datetime) -> None:
        account = self.account
        while True:
            due = self._next_due()
            if due is None or due > now:
                return
            before = len(account.entries)
            self._process(due)
            if len(account.entries) == before and self._next_due() == due:  # pragma: no cover
                raise RuntimeError(f"loyalty sweep for {self.cid} made no progress at {due.isoformat()}")

    def _next_due(self) -> datetime | None:
        return self._due()[0]

    def _due(self) -> tuple[datetime | None, datetime | None, datetime | None, datetime | None, datetime | None]:
        """(earliest, release, expiry, notice, reward) instants due next; cached until a fold."""
        account = self.account
        cache = account._cache
        due = cache.get("due")
        if due is not None:
            return due  # type: ignore[no-any-return]
        rules = self.rules
        tz = self.program.tz
        notify = rules.expiry.notify_days_before
        noticed = account.noticed
        release = expiry = notice = reward_due = None
        has_available = False
        for batch in account.open.values():
            if batch.state == "pending":
                at = batch.available_at
                if at is not None and (release is None or at < release):
                    release = at
                continue
            has_available = True
            at = batch.expires_at
            if at is None:
                continue
            if expiry is None or at < expiry:
                expiry = at
            for days in notify:  # largest first: the earliest notice not yet given
                if (at, days) not in noticed:
                    when = add_local_days(at, -days, tz)
                    if notice is None or when < notice:
                        notice = when
                    break
        if rules.expiry.mode == "inactivity" and has_available and account.last_activity is not None:
            deadline = add_local_days(account.last_activity, rules.expiry.days, tz)
            if expiry is None or deadline < expiry:
                expiry = deadline
            for days in notify:
                if (deadline, days) not in noticed:
                    when = add_local_days(deadline, -days, tz)
                    if notice is None or when < notice:
                        notice = when
                    break
        for reward in account.rewards.values():
            if reward.state == "issued" and (reward_due is None or reward.expires_at < reward_due):
                reward_due = reward.expires_at
        best = self._tier_check()
        for candidate in (release, expiry, notice, reward_due):
            if candidate is not None and (best is None or candidate < best):
                best = candidate
        due = (best, release, expiry, notice, reward_due)
        cache["due"] = due
        return due

    def _process(self, t: datetime) -> None:
        account = self.account
        program = self.program
        _best, release, expiry, notice, reward_due = self._due()
        # 1. releases
        if release is not None and release <= t:
            due = [b for b in account.open.values() if b.state == "pending" and b.available_at is not None and b.available_at <= t]
            due.sort(key=lambda b: (b.available_at, b.batch_id))
            for batch in due:
                self._release(batch)
            self._tier_upgrade(t)
        # 2. expiries
        rules = self.rules
        if expiry is not None and expiry <= t:
            expiring = [b for b in account.open.values() if b.state == "available" and b.expires_at is not None and b.expires_at <= t]
            expiring.sort(key=lambda b: (b.expires_at, b.batch_id))
            for batch in expiring:
                self._expire_batch(batch, batch.expires_at or t, "batch")
            if rules.expiry.mode == "inactivity" and account.last_activity is not None:
                deadline = add_local_days(account.last_activity, rules.expiry.days, program.tz)
                if deadline <= t:
                    for batch in sorted(
                        (b for b in account.open.values() if b.state == "available"),
                        key=lambda b: (b.available_at or b.created_at, b.batch_id),
                    ):
                        self._expire_batch(batch, deadline, "inactivity")
        # 3. reward expiry
        if reward_due is not None and reward_due <= t:
            for reward in sorted(account.rewards.values(), key=lambda r: (r.expires_at, r.redemption_id)):
                if reward.state == "issued" and reward.expires_at <= t:
                    self._expire_reward(reward)
        # 4. expiry notices
        if notice is not None and notice <= t:
            self._notices(t, rules)
        # 5. scheduled tier check
        check = self._tier_check()
        if check is not None and check <= t:
            self._tier_evaluate(check, scheduled=True)

    def _release(self, batch: Batch) -> None:
        program = self.program
        at = batch.available_at
        assert at is not None
        rules = program.at(at)
        expires = None
        if rules.expiry.mode == "batch":
            expires = local_midnight(local_date(at, program.tz) + timedelta(days=rules.expiry.days), program.tz)
        key = f"batch:{batch.batch_id}:release"
        what = self._describe_batch(batch)
        text = f"+{batch.remaining} pts available: {what} cleared its return window"
        if expires is not None:
            text += f"; they expire on {human_date(local_date(expires, program.tz))}"
        self.write(
            key,
            Kind.RELEASE,
            batch.remaining,
            Bucket.AVAILABLE,
            at,
            text,
            from_bucket=Bucket.PENDING,
            batch_id=batch.batch_id,
            store=batch.store,
            order_ref=batch.order_ref,
            rule_version=rules.label,
            expires_at=expires,
        )
        self._settle(key, [batch.batch_id], at)

    def _describe_batch(self, batch: Batch) -> str:
        facts = self.account.orders.get(batch.order_ref or "")
        if facts is not None and batch.batch_id == facts.batch_id:
            return f"order #{facts.number}"
        if facts is not None:
            return f"the bonus for order #{facts.number}"
        return f"credit {batch.source_key}"

    def _expire_batch(self, batch: Batch, at: datetime, why: str) -> None:
        points = batch.remaining
        day = human_date(local_date(at, self.program.tz))
        reason = "after a period without activity" if why == "inactivity" else "at the end of their lifetime"
        self.write(
            f"batch:{batch.batch_id}:expire",
            Kind.EXPIRE,
            -points,
            Bucket.AVAILABLE,
            at,
            f"-{points} pts expired on {day} {reason} ({self._describe_batch(batch)})",
            allocations=((batch.batch_id, points),),
            store=batch.store,
            order_ref=batch.order_ref,
            meta={"reason": why},
        )

    def _notice_key(self, expiry: datetime, days: int) -> str:
        return f"notice:{self.cid}:{local_date(expiry, self.program.tz).isoformat()}:{days}"

    def _notices(self, t: datetime, rules: Rules) -> None:
        notify = rules.expiry.notify_days_before
        if not notify:
            return
        account = self.account
        tz = self.program.tz
        noticed = account.noticed
        due: dict[tuple[datetime, int], datetime] = {}
        groups: dict[datetime, int] = {}
        for batch in account.open.values():
            expiry = batch.expires_at
            if batch.state != "available" or expiry is None:
                continue
            groups[expiry] = groups.get(expiry, 0) + batch.remaining
            if expiry <= t:
                continue
            for days in notify:
                if (expiry, days) not in noticed:
                    at = add_local_days(expiry, -days, tz)
                    if at <= t:
                        due[(expiry, days)] = at
        if rules.expiry.mode == "inactivity" and account.last_activity is not None and account.available > 0:
            deadline = add_local_days(account.last_activity, rules.expiry.days, tz)
            groups[deadline] = account.available
            if deadline > t:
                for days in notify:
                    if (deadline, days) not in noticed:
                        at = add_local_days(deadline, -days, tz)
                        if at <= t:
                            due[(deadline, days)] = at
        for (expiry, days), at in sorted(due.items(), key=lambda item: (item[1], item[0])):
            points = groups[expiry]
            self.write(
                self._notice_key(expiry, days),
                Kind.NOTICE,
                0,
                None,
                at,
                f"{points} points expire on {human_date(local_date(expiry, tz))}",
                expires_at=expiry,
                meta={"points": points, "days_before": days},
            )

    # --- debt ------------------------------------------------------------------------------------

    def _settle(self, key: str, batch_ids: Iterable[str], at: datetime) -> None:
        """Credits to available repay debt first (forbid_with_debt and allow_negative)."""
        account = self.account
        debt = account.debt
        if debt <= 0:
            return
        allocations = []
        for batch_id in batch_ids:
            batch = account.batches[batch_id]
            if debt <= 0:
                break
            if batch.remaining <= 0 or batch.state != "available":
                continue
            take = min(debt, batch.remaining)
            allocations.append((batch_id, take))
            debt -= take
        if not allocations:
            return
        points = sum(p for _b, p in allocations)
        self.write(
            f"{key}:settle",
            Kind.DEBT_SETTLE,
            points,
            Bucket.DEBT,
            at,
            f"{points} pts repay debt from an earlier refund ({debt} pts still owed)",
            from_bucket=Bucket.AVAILABLE,
            allocations=tuple(allocations),
        )

    # --- taking points ---------------------------------------------------------------------------

    def _spendable(self, exclude: str | None = None) -> list[Batch]:
        """Available batches in consumption order: soonest expiry, earliest available, no expiry."""
        batches = [b for b in self.account.open.values() if b.state == "available" and b.batch_id != exclude]
        batches.sort(
            key=lambda b: (
                b.expires_at is None,
                b.expires_at or b.created_at,
                b.available_at or b.created_at,
                b.batch_id,
            )
        )
        return batches

    def _take(self, points: int, own: Batch | None) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
        """Allocate a reversal: the order's own batch first, then other available batches."""
        pending: list[tuple[str, int]] = []
        available: list[tuple[str, int]] = []
        left = points
        if own is not None and own.remaining > 0 and own.state in ("pending", "available"):
            part = min(left, own.remaining)
            (pending if own.state == "pending" else available).append((own.batch_id, part))
            left -= part
        if left > 0:
            for batch in self._spendable(exclude=own.batch_id if own else None):
                part = min(left, batch.remaining)
                available.append((batch.batch_id, part))
                left -= part
                if left == 0:
                    break
        return pending, available, left

    # --- tiers -----------------------------------------------------------------------------------

    def _tier_check(self) -> datetime | None:
        cache = self.account._cache
        if "tier_check" in cache:
            return cache["tier_check"]  # type: ignore[no-any-return]
        rules = self.rules
        check = None
        history = self.account.tier_history
        if rules.tiers is not None and history:
            counted = tiermath.items(self.account, rules, self.program.tz)
            check = self._schedule(rules, counted, rules.level_index(self.account.tier), history[-1][0])
        cache["tier_check"] = check
        return check

    def _schedule(self, rules: Rules, counted: list[tiermath.Item], current: int, since: datetime) -> datetime | None:
        """When to look at the tier next: the exact downgrade instant, or for ``one_step`` the
        next 00:00 while the tier held is above the one earned. Depends only on the ledger and
        ``since``, so a rebuilt account schedules what the incremental one did."""
        tiers = rules.tiers
        assert tiers is not None
        if current == 0:
            return None
        tz = self.program.tz
        check = tiermath.next_downgrade_check(tiers, counted, current, since, tz)
        if tiers.downgrade == "one_step" and tiermath.held_index(tiers, counted, since, tz) < current:
            step = local_midnight(local_date(since, tz) + timedelta(days=1), tz)
            check = step if check is None else min(check, step)
        return check

    def _tier_upgrade(self, t: datetime) -> None:
        """After a count: upgrade if the metric at ``t`` now entitles a higher tier."""
        rules = self.program.at(t)
        tiers = rules.tiers
        if tiers is None or rules.level_index(self.account.tier) == len(tiers.levels) - 1:
            return
        tz = self.program.tz
        counted = tiermath.items(self.account, rules, tz)
        if tiers.window == "calendar_year":
            value = tiermath.held_value(tiers, counted, t, tz)
        else:
            value = tiermath.q_at(tiers, counted, t, tz)
        target = tiermath.entitled(tiers, value)
        if target > rules.level_index(self.account.tier):
            self._set_tier(rules, target, t, value)

    def _tier_evaluate(self, t: datetime, scheduled: bool = False) -> None:
        """Full closed-form evaluation (scheduled checks and refunds)."""
        rules = self.program.at(t)
        tiers = rules.tiers
        if tiers is None:
            return
        tz = self.program.tz
        last = self.account.tier_history[-1][0] if self.account.tier_history else None
        if last is not None and t < last:
            return
        counted = tiermath.items(self.account, rules, tz)
        value = tiermath.held_value(tiers, counted, t, tz)
        target = tiermath.entitled(tiers, value)
        current = rules.level_index(self.account.tier)
        if target < current and tiers.downgrade == "one_step":
            target = current - 1
        if target != current:
            self._set_tier(rules, target, t, value)
        if scheduled and target == current:
            # nothing changed at a scheduled look: plan the next one from here
            nxt = self._schedule(rules, counted, current, t)
            if nxt is not None and nxt <= t:
                nxt = local_midnight(local_date(t, tz) + timedelta(days=1), tz)
            self.account._cache["tier_check"] = nxt
            self.account._cache.pop("due", None)

    def _set_tier(self, rules: Rules, index: int, t: datetime, value: Decimal) -> None:
        assert rules.tiers is not None
        level = rules.tiers.levels[index]
        previous = rules.level(self.account.tier) or rules.tiers.levels[0]
        if level.name == previous.name:
            return
        tz = self.program.tz
        basis = rules.tiers.basis
        shown = money_text(value) if basis == "spend" else fmt(value)
        direction = "up" if index > rules.level_index(previous.name) else "down"
        self.write(
            f"tier:{self.cid}:{t.isoformat()}:{level.name}",
            Kind.TIER,
            0,
            None,
            t,
            f"tier {previous.name} → {level.name} ({direction}) on {human_date(local_date(t, tz))}: "
            f"qualifying {basis} {shown} ({rules.tiers.window}, threshold {money_text(level.threshold)})",
            meta={"tier": level.name, "previous": previous.name, "metric": str(value)},
        )

    # --- restores ----------------------------------------------------------------------------------

    def _restore(self, reward: RewardState, portions: list[tuple[str, int]], key: str, why: str) -> None:
        """Put redeemed points back into their batches with their original expiry (§5.6)."""
        portions = [(b, p) for b, p in portions if p > 0]
        if not portions:
            return
        account = self.account
        at = self.at
        rules = self.program.at(at)
        tz = self.program.tz
        live: list[tuple[str, int]] = []
        dead: list[tuple[str, int]] = []
        for batch_id, points in portions:
            batch = account.batches[batch_id]
            gone = batch.state in ("expired", "void") or (batch.expires_at is not None and batch.expires_at <= at)
            (dead if gone else live).append((batch_id, points))
        redeem = reward.entry_id
        meta_base = {"redemption_id": reward.redemption_id}
        credited: list[str] = [b for b, _p in live]
        if rules.restore_expired == "expire" or not dead:
            total = sum(p for _b, p in portions)
            expired_part = sum(p for _b, p in dead)
            text = f"+{total} pts restored: reward {reward.reward_id} ({reward.code}) {why}, into the batches it was paid from"
            if expired_part:
                text += f"; {expired_part} of them belong to batches already expired and expire again at once"
            self.write(
                key,
                Kind.RESTORE,
                total,
                Bucket.AVAILABLE,
                at,
                text,
                allocations=tuple(portions),
                reverses=redeem,
                store=reward.store,
                meta={**meta_base, "restored": [[b, p] for b, p in portions]},
            )
            if dead:
                self.write(
                    f"{key}:expire",
                    Kind.EXPIRE,
                    -expired_part,
                    Bucket.AVAILABLE,
                    at,
                    f"-{expired_part} pts: restored into batches whose expiry date had passed",
                    allocations=tuple(dead),
                    store=reward.store,
                    meta={"reason": "restored-after-expiry"},
                )
        else:
            if live:
                total = sum(p for _b, p in live)
                self.write(
                    key,
                    Kind.RESTORE,
                    total,
                    Bucket.AVAILABLE,
                    at,
                    f"+{total} pts restored: reward {reward.reward_id} ({reward.code}) {why}, into the batches it was paid from",
                    allocations=tuple(live),
                    reverses=redeem,
                    store=reward.store,
                    meta={**meta_base, "restored": [[b, p] for b, p in live]},
                )
            total = sum(p for _b, p in dead)
            expires = None
            if rules.expiry.mode == "batch":
                expires = local_midnight(local_date(at, tz) + timedelta(days=rules.expiry.days), tz)
            reissue_key = f"{key}:reissue"
            new_id = entry_id_for(reissue_key)
            text = f"+{total} pts restored as a new batch (their original batches had expired): reward {reward.reward_id} {why}"
            if expires is not None:
                text += f"; they expire on {human_date(local_date(expires, tz))}"
            self.write(
                reissue_key,
                Kind.RESTORE,
                total,
                Bucket.AVAILABLE,
                at,
                text,
                batch_id=new_id,
                available_at=at,
                expires_at=expires,
                reverses=redeem,
                store=reward.store,
                meta={**meta_base, "restored": [[b, p] for b, p in dead]},
            )
            credited.append(new_id)
        self._settle(key, credited, at)

    def _unrestored(self, reward: RewardState) -> list[tuple[str, int]]:
        return [(b, p - reward.restored.get(b, 0)) for b, p in reward.allocations]

    def _expire_reward(self, reward: RewardState) -> None:
        at = reward.expires_at
        tz = self.program.tz
        self.write(
            f"redemption:{reward.redemption_id}:expired",
            Kind.REWARD,
            0,
            None,
            at,
            f"reward {reward.reward_id} ({reward.code}) expired unused on {human_date(local_date(at, tz))}",
            store=reward.store,
            meta={"redemption_id": reward.redemption_id, "state": "expired"},
        )
        if self.program.at(at).reward_expiry_refund:
            self._restore(reward, self._unrestored(reward), f"redemption:{reward.redemption_id}:restore", "expired unused")

    # --- redemption ----------------------------------------------------------------------------

    def redeem(self, redemption_id: str, reward_id: str, store: str, email: str, auto: bool = False) -> None:
        program = self.program
        account = self.account
        at = self.at
        rules = program.at(at)
        reward = rules.reward(reward_id)
        if reward is None:
            raise UnknownReward(
                f"no reward {reward_id!r} in the program (rewards: {', '.join(r.id for r in rules.rewards) or 'none'})",
                obj=redemption_id,
                hint="pick a reward id from the program's catalogue",
            )
        tier = (rules.level(account.tier) or (rules.tiers.levels[0] if rules.tiers else None))
        if reward.tiers_allowed is not None and (tier is None or tier.name not in reward.tiers_allowed):
            raise LoyaltyError(
                f"reward {reward.id!r} is for tiers {', '.join(reward.tiers_allowed)}; "
                f"{self.cid} is {tier.name if tier else 'without a tier'}",
                reference="reward-tier-restricted",
                obj=redemption_id,
                hint="offer a reward open to the customer's tier",
            )
        if account.available < reward.price:
            owed = f", {account.debt} owed" if account.debt else ""
            raise InsufficientPoints(
                f"{reward.id!r} costs {reward.price} points; {self.cid} has {account.available} "
                f"spendable ({account.pending} pending{owed})",
                obj=redemption_id,
                hint="pending points become spendable when their return window ends",
            )
        secret = program.code_secret
        if not secret:
            raise ProgramError(
                "no reward-code secret configured, so no coupon code can be made",
                reference="reward-secret-missing",
                hint="pass code_secret to load_program (from the environment or the secrets file)",
            )
        allocations: list[tuple[str, int]] = []
        left = reward.price
        for batch in self._spendable():
            part = min(left, batch.remaining)
            allocations.append((batch.batch_id, part))
            left -= part
            if left == 0:
                break
        idem = f"redemption:{redemption_id}"
        code = reward_code(secret, idem)
        expires = at + timedelta(days=reward.validity_days)
        cur = program.currency
        meta: dict[str, Any] = {
            "redemption_id": redemption_id,
            "reward_id": reward.id,
            "type": reward.type,
            "code": code,
            "reward_expires_at": expires.isoformat(),
            "email": email,
        }
        for name in ("amount", "percent", "max_shipping", "min_subtotal"):
            value = getattr(reward, name)
            if value is not None:
                meta[name] = str(value)
        if auto:
            meta["auto"] = True
        spread = ", ".join(f"{p} from {self._describe_batch(account.batches[b])}" for b, p in allocations)
        self.write(
            f"{idem}:redeem",
            Kind.REDEEM,
            -reward.price,
            Bucket.AVAILABLE,
            at,
            f"-{reward.price} pts: reward {reward.id} ({_reward_text(reward, cur)}), code {code}, valid until "
            f"{human_date(local_date(expires, program.tz))}; taken soonest-expiring first: {spread}",
            allocations=tuple(allocations),
            store=store,
            rule_version=rules.label,
            meta=meta,
        )
        self.perks.append(
            PerkCommand(
                IssueCoupon(
                    key=idem,
                    customer_id=self.cid,
                    email=email,
                    code=code,
                    reward_id=reward.id,
                    kind=reward.type,
                    starts_at=at,
                    expires_at=expires,
                    amount=Money(reward.amount, cur) if reward.amount is not None else None,
                    percent=reward.percent,
                    max_shipping=Money(reward.max_shipping, cur) if reward.max_shipping is not None else None,
                    min_subtotal=Money(reward.min_subtotal, cur) if reward.min_subtotal is not None else None,
                    description=reward.description or _reward_text(reward, cur),
                ),
                store=store,
            )
        )

    def auto_issue(self) -> None:
        rules = self.program.at(self.at)
        auto = rules.auto_issue
        account = self.account
        if auto is None or not account.email or not self.program.code_secret:
            return
        reward = rules.reward(auto.reward)
        assert reward is not None
        threshold = auto.min_available or reward.price
        while account.available >= threshold:
            if reward.tiers_allowed is not None and (rules.level(account.tier) or rules.tiers.levels[0]).name not in reward.tiers_allowed:  # type: ignore[union-attr]
                return
            count = sum(1 for r in account.rewards.values() if r.auto) + 1
            self.redeem(f"auto:{self.cid}:{count}", reward.id, _last_store(account), account.email, auto=True)


def _last_store(account: Account) -> str:
    for facts in reversed(list(account.orders.values())):
        return facts.store
    return ""


def _reward_text(reward: Any, currency: str) -> str:
    if reward.type == "fixed_amount":
        return f"{money_text(reward.amount)} {currency} off"
    if reward.type == "percentage":
        return f"{fmt(reward.percent)} % off"
    cap = f" up to {money_text(reward.max_shipping)} {currency}" if reward.max_shipping is not None else ""
    return f"free shipping{cap}"


# --- event handlers ----------------------------------------------------------------------------------


def _precheck(program: Program, event: Event) -> None:
    """Stateless rejections, before anything is swept or written."""
    if isinstance(event, OrderPaid):
        base_rate(program.at(event.placed_at), event.currency, order_ref(event.store, event.order_id))
    elif isinstance(event, Redeem):
        if not normalise_email(event.email):
            raise UnknownCustomer(
                f"redemption {event.redemption_id}: the customer has no e-mail address",
                reference="redeem-without-email",
                obj=event.redemption_id,
                hint="reward codes are restricted to the customer's e-mail; record one before redeeming",
            )
    elif isinstance(event, ManualAdjustment):
        if not event.reason.strip():
            raise LoyaltyError(
                f"adjustment {event.key}: a reason is mandatory",
                reference="adjust-reason-missing",
                obj=event.key,
                hint="say why the points change; the customer sees it in their history",
            )
        if event.points == 0:
            raise LoyaltyError(
                f"adjustment {event.key} is 0 points", reference="adjust-zero", obj=event.key,
                hint="give a positive or negative number of points",
            )
    elif isinstance(event, BonusGranted) and event.points <= 0:
        raise LoyaltyError(
            f"bonus {event.key} must be a positive number of points",
            reference="bonus-not-positive",
            obj=event.key,
            hint="take points away with a manual adjustment instead",
        )


def _primary_key(account: Account, event: Event) -> str | None:
    if isinstance(event, OrderPaid):
        return f"{order_ref(event.store, event.order_id)}:earn"
    if isinstance(event, OrderCompleted):
        return f"{order_ref(event.store, event.order_id)}:clock"
    if isinstance(event, OrderRefunded):
        return f"{order_ref(event.store, event.order_id)}:refund:{event.refund_id}:reverse"
    if isinstance(event, OrderCancelled):
        return f"{order_ref(event.store, event.order_id)}:cancel:reverse"
    if isinstance(event, CouponUsed):
        rid = account.codes.get(event.code.strip().lower())
        return f"redemption:{rid}:used" if rid else None
    if isinstance(event, ManualAdjustment):
        return f"adjust:{event.key}"
    if isinstance(event, BonusGranted):
        return event.key
    if isinstance(event, Redeem):
        return f"redemption:{event.redemption_id}:redeem"
    if isinstance(event, RewardVoided):
        return f"redemption:{event.redemption_id}:void"
    return None


def _available_at(program: Program, rules: Rules, clock: datetime, window: int) -> datetime:
    tz = program.tz
    buffer = rules.pending.transit_buffer_days
    if window == 0:
        return add_local_days(clock, buffer, tz) if buffer else clock
    return local_midnight(local_date(clock, tz) + timedelta(days=window + 1 + buffer), tz)


def _on_paid(run: _Run, ev: OrderPaid) -> None:
    program = run.program
    account = run.account
    ref = order_ref(ev.store, ev.order_id)
    q = quote(program, ev, account.tier_at(ev.placed_at))
    if q.points <= 0:
        why = "is below the minimum order value" if q.below_minimum else "rounds to 0 points"
        run.warnings.append(f"order #{ev.number} ({ref}) {why}; nothing earned")
        return
    rules = program.at(ev.placed_at)
    facts = account.orders.get(ref)
    available_at = None
    if rules.pending.clock_start == "paid":
        available_at = _available_at(program, rules, ev.at, q.window_days)
    elif facts is not None and facts.clock_at is not None:
        available_at = _available_at(program, rules, facts.clock_at, q.window_days)
    first = rules.earn.first_order_bonus > 0 and not any(
        f.batch_id is not None for f in account.orders.values()
    )
    key = f"{ref}:earn"
    when = (
        f"available on {human_date(local_date(available_at, program.tz))}"
        if available_at is not None
        else f"pending until {q.window_days} days after delivery"
    )
    meta: dict[str, Any] = {
        "number": ev.number,
        "placed_at": ev.placed_at.isoformat(),
        "total": str(q.total),
        "rounding": q.rounding,
        "basis_kind": q.basis_kind,
        "window_days": q.window_days,
        "base_rate": str(q.base_rate),
        "tier": q.tier,
        "tier_multiplier": str(q.tier_multiplier),
    }
    if q.campaign is not None:
        meta["campaign"] = q.campaign
        meta["campaign_multiplier"] = str(q.campaign_multiplier)
    if q.wbasis != q.basis:
        meta["wbasis"] = str(q.wbasis)
    if q.spend != q.basis:
        meta["spend"] = str(q.spend)
    if q.lines:
        meta["lines"] = {k: [str(a), str(b)] for k, (a, b) in q.lines.items()}
    if ev.email:
        meta["email"] = normalise_email(ev.email)
    run.write(
        key,
        Kind.EARN,
        q.points,
        Bucket.PENDING,
        ev.at,
        f"{q.explanation(ev.number)}; {when}",
        batch_id=entry_id_for(key),
        store=ev.store,
        order_ref=ref,
        rule_version=q.rule_version,
        rate=q.rate,
        basis=q.basis,
        currency=ev.currency,
        available_at=available_at,
        meta=meta,
    )
    bonuses = list(q.line_bonuses)
    if first:
        bonuses.insert(0, ("first_order", rules.earn.first_order_bonus))
    for rule_id, points in bonuses:
        if points <= 0:
            continue
        bkey = f"{ref}:bonus:{rule_id}"
        label = "first-order bonus" if rule_id == "first_order" else f"bonus {rule_id}"
        run.write(
            bkey,
            Kind.BONUS,
            points,
            Bucket.PENDING,
            ev.at,
            f"+{points} pts: {label} for order #{ev.number}, released with the order",
            batch_id=entry_id_for(bkey),
            store=ev.store,
            order_ref=ref,
            rule_version=q.rule_version,
            available_at=available_at,
            meta={"rule": rule_id},
        )


def _on_completed(run: _Run, ev: OrderCompleted) -> None:
    program = run.program
    rules = program.at(ev.at)
    if rules.pending.clock_start == "paid":
        return
    account = run.account
    ref = order_ref(ev.store, ev.order_id)
    facts = account.orders.get(ref)
    available_at = None
    number = ev.order_id
    tz = program.tz
    text = f"order {ev.order_id} delivered/completed on {human_date(local_date(ev.at, tz))}"
    if facts is not None and facts.batch_id is not None:
        number = facts.number
        available_at = _available_at(program, rules, ev.at, facts.window_days)
        text = (
            f"order #{number} delivered/completed on {human_date(local_date(ev.at, tz))}: its points "
            f"become available on {human_date(local_date(available_at, tz))} "
            f"(00:00 after the {facts.window_days}-day return window)"
        )
    run.write(
        f"{ref}:clock",
        Kind.SCHEDULE,
        0,
        None,
        ev.at,
        text,
        store=ev.store,
        order_ref=ref,
        available_at=available_at,
        meta={"clock_at": ev.at.isoformat(), "number": number},
    )
    if rules.tiers is not None and rules.tiers.count_from == "completed":
        run._tier_upgrade(ev.at)


def _on_refund(run: _Run, ev: OrderRefunded | OrderCancelled) -> None:
    account = run.account
    ref = order_ref(ev.store, ev.order_id)
    facts = account.orders.get(ref)
    cancel = isinstance(ev, OrderCancelled)
    key = f"{ref}:cancel:reverse" if cancel else f"{ref}:refund:{ev.refund_id}:reverse"  # type: ignore[union-attr]
    label = "cancellation" if cancel else f"refund {ev.refund_id}"  # type: ignore[union-attr]
    if facts is None or facts.batch_id is None:
        full_hint = cancel or bool(getattr(ev, "fully_refunded", False))
        _restore_for_order(run, ref, full_hint, None, ev)
        return
    if not cancel and ev.ignore:  # type: ignore[union-attr]
        run.write(
            key,
            Kind.REVERSE,
            0,
            Bucket.PENDING if account.batches[facts.batch_id].state == "pending" else Bucket.AVAILABLE,
            ev.at,
            f"0 pts: {label} of order #{facts.number} is marked loyalty:ignore ({ev.reason or 'no reason given'})",  # type: ignore[union-attr]
            store=ev.store,
            order_ref=ref,
            rate=facts.rate,
            basis=facts.basis,
            currency=facts.currency,
            reverses=entry_id_for(f"{ref}:earn"),
            meta={
                "refund_id": ev.refund_id,  # type: ignore[union-attr]
                "refunded_basis": str(facts.refunded_basis),
                "refunded_wbasis": str(facts.refunded_wbasis),
                "owed": facts.owed,
                "for_batch": facts.batch_id,
                "ignored": True,
            },
        )
        return
    B, WB = facts.basis, facts.wbasis
    if cancel:
        d_rb, d_rbw = B, WB
    else:
        d_rb, d_rbw = _refunded_basis(facts, ev)  # type: ignore[arg-type]
    raw = facts.refunded_basis + d_rb
    if raw > B:
        run.warnings.append(
            f"{label} of order #{facts.number} takes the refunded basis to {money_text(raw)} "
            f"above the order's {money_text(B)} {facts.currency}; the excess is ignored for points"
        )
    rb = min(B, raw)
    rbw = min(WB, facts.refunded_wbasis + d_rbw)
    full = cancel or rb >= B or rbw >= WB or bool(getattr(ev, "fully_refunded", False))
    remaining = 0 if full else round_points(facts.rate * (WB - rbw), facts.rounding)
    remaining = min(remaining, facts.points)
    owed = facts.points - remaining
    own = account.batches[facts.batch_id]
    expired = own.expired
    effective = max(0, owed - expired)
    before = facts.taken.get(facts.batch_id, 0)
    n = max(0, effective - before)
    explanation = (
        f"-{n} pts: {label} of order #{facts.number}: remaining {remaining} = "
        f"{facts.rounding}({fmt(facts.rate)} × ({money_text(WB)} − {money_text(rbw)})) at the earn-time "
        f"rate; owed {owed}"
    )
    if expired:
        explanation += f" less {expired} already expired"
    explanation += f" − {before} reversed before = {n}"
    meta: dict[str, Any] = {
        "refunded_basis": str(rb),
        "refunded_wbasis": str(rbw),
        "owed": owed,
        "for_batch": facts.batch_id,
    }
    if not cancel:
        meta["refund_id"] = ev.refund_id  # type: ignore[union-attr]
    else:
        meta["cancelled"] = True
    if raw > B:
        meta["over_refund"] = str(raw - B)
    _reverse(run, key, n, own, facts, explanation, meta, ev.at)
    if full:
        for batch_id in facts.bonus_batches:
            bonus = account.batches[batch_id]
            owed_b = max(0, bonus.original - bonus.expired)
            n_b = max(0, owed_b - facts.taken.get(batch_id, 0))
            if n_b == 0:
                continue
            _reverse(
                run,
                f"{bonus.source_key}:reverse",
                n_b,
                bonus,
                facts,
                f"-{n_b} pts: {_bonus_label(bonus)} of order #{facts.number} reversed, the order being fully "
                f"{'cancelled' if cancel else 'refunded'}",
                {"for_batch": batch_id},
                ev.at,
            )
    _restore_for_order(run, ref, full, facts, ev)
    run._tier_evaluate(ev.at)


def _bonus_label(batch: Batch) -> str:
    rule = batch.source_key.rsplit(":", 1)[-1]
    return "the first-order bonus" if rule == "first_order" else f"bonus {rule}"


def _refunded_basis(facts: OrderFacts, ev: OrderRefunded) -> tuple[Decimal, Decimal]:
    if ev.lines and facts.lines:
        d_rb = _ZERO
        d_rbw = _ZERO
        for line in ev.lines:
            factors = facts.lines.get(line.line_id)
            if factors is None:
                continue  # not an eligible line (gift card, unknown)
            d_rb += line.amount.amount * factors[0]
            d_rbw += line.amount.amount * factors[1]
        return d_rb, d_rbw
    if facts.total <= 0:
        return _ZERO, _ZERO
    amount = ev.amount.amount
    return amount * facts.basis / facts.total, amount * facts.wbasis / facts.total


def _reverse(
    run: _Run,
    key: str,
    n: int,
    own: Batch,
    facts: OrderFacts,
    explanation: str,
    meta: dict[str, Any],
    at: datetime,
) -> None:
    pending, available, short = run._take(n, own)
    common: dict[str, Any] = {
        "store": facts.store,
        "order_ref": facts.order_ref,
        "rate": facts.rate,
        "basis": facts.basis,
        "currency": facts.currency,
        "reverses": own.batch_id,
    }
    first_bucket = Bucket.PENDING if (pending or own.state == "pending") else Bucket.AVAILABLE
    first_allocs = pending if first_bucket is Bucket.PENDING else available
    run.write(
        key,
        Kind.REVERSE,
        -sum(p for _b, p in first_allocs),
        first_bucket,
        at,
        explanation,
        allocations=tuple(first_allocs),
        meta=meta,
        **common,
    )
    if first_bucket is Bucket.PENDING and available:
        run.write(
            f"{key}:available",
            Kind.REVERSE,
            -sum(p for _b, p in available),
            Bucket.AVAILABLE,
            at,
            "the rest of the reversal, from other available points (soonest expiry first)",
            allocations=tuple(available),
            meta={"for_batch": meta["for_batch"]},
            **common,
        )
    if short > 0:
        policy = run.program.at(at).negative_policy
        if policy == "clamp":
            run.write(
                f"{key}:shortfall",
                Kind.SHORTFALL,
                0,
                None,
                at,
                f"{short} pts could not be taken back (already spent) and are forgiven under the clamp policy",
                store=facts.store,
                order_ref=facts.order_ref,
                meta={"forgiven": short, "for_batch": meta["for_batch"]},
            )
        else:
            run.write(
                f"{key}:debt",
                Kind.DEBT,
                -short,
                Bucket.DEBT,
                at,
                f"{short} pts owed: they were already spent; later credits repay them first",
                store=facts.store,
                order_ref=facts.order_ref,
                meta={"for_batch": meta["for_batch"]},
            )


def _restore_for_order(
    run: _Run, ref: str, full: bool, facts: OrderFacts | None, ev: OrderRefunded | OrderCancelled
) -> None:
    """Return redeemed points when the order that used the reward is refunded (§5.6)."""
    account = run.account
    rules = run.program.at(ev.at)
    mode = rules.restore_redeemed_on
    if mode == "never":
        return
    used = [r for r in account.rewards.values() if r.used_order == ref]
    if not used:
        return
    full = full or bool(getattr(ev, "fully_refunded", False)) or isinstance(ev, OrderCancelled)
    for reward in sorted(used, key=lambda r: r.redemption_id):
        if reward.restored_total >= reward.price:
            continue
        if full:
            run._restore(
                reward,
                run._unrestored(reward),
                f"redemption:{reward.redemption_id}:restore",
                f"was used on order #{facts.number if facts else ref}, now fully refunded",
            )
        elif mode == "proportional" and facts is not None and facts.basis > 0:
            target = int((reward.price * facts.refunded_basis / facts.basis).to_integral_value(rounding="ROUND_FLOOR"))
            delta = target - reward.restored_total
            if delta <= 0:
                continue
            portions: list[tuple[str, int]] = []
            for batch_id, points in reversed(run._unrestored(reward)):
                part = min(delta, points)
                if part > 0:
                    portions.append((batch_id, part))
                    delta -= part
                if delta == 0:
                    break
            rid = getattr(ev, "refund_id", "cancel")
            run._restore(
                reward,
                portions,
                f"{ref}:refund:{rid}:restore:{reward.redemption_id}",
                f"was used on order #{facts.number}, partly refunded (proportional return)",
            )


def _on_coupon(run: _Run, ev: CouponUsed) -> None:
    account = run.account
    rid = account.codes.get(ev.code.strip().lower())
    if rid is None:
        return
    reward = account.rewards[rid]
    ref = order_ref(ev.store, ev.order_id)
    if reward.state != "issued":
        run.warnings.append(f"reward code {reward.code} used on {ref} while {reward.state}")
        return
    run.write(
        f"redemption:{rid}:used",
        Kind.REWARD,
        0,
        None,
        ev.at,
        f"reward {reward.reward_id} ({reward.code}) used on order {ev.order_id}",
        store=ev.store,
        order_ref=ref,
        meta={"redemption_id": rid, "state": "used"},
    )


def _on_adjust(run: _Run, ev: ManualAdjustment) -> None:
    account = run.account
    program = run.program
    key = f"adjust:{ev.key}"
    if ev.points > 0:
        rules = program.at(ev.at)
        expires = None
        if rules.expiry.mode == "batch":
            expires = local_midnight(local_date(ev.at, program.tz) + timedelta(days=rules.expiry.days), program.tz)
        run.write(
            key,
            Kind.ADJUST,
            ev.points,
            Bucket.AVAILABLE,
            ev.at,
            f"+{ev.points} pts: manual adjustment — {ev.reason}",
            batch_id=entry_id_for(key),
            store=ev.store,
            available_at=ev.at,
            expires_at=expires,
            meta={"reason": ev.reason},
        )
        run._settle(key, [entry_id_for(key)], ev.at)
        return
    points = -ev.points
    if account.available < points:
        raise InsufficientPoints(
            f"adjustment {ev.key} removes {points} points; {run.cid} has {account.available} spendable",
            obj=ev.key,
            hint="pending points cannot be removed by hand; wait for their release or reverse the order",
        )
    allocations: list[tuple[str, int]] = []
    left = points
    for batch in run._spendable():
        part = min(left, batch.remaining)
        allocations.append((batch.batch_id, part))
        left -= part
        if left == 0:
            break
    run.write(
        key,
        Kind.ADJUST,
        -points,
        Bucket.AVAILABLE,
        ev.at,
        f"-{points} pts: manual adjustment — {ev.reason}",
        allocations=tuple(allocations),
        store=ev.store,
        meta={"reason": ev.reason},
    )


def _on_bonus(run: _Run, ev: BonusGranted) -> None:
    program = run.program
    rules = program.at(ev.at)
    pending = ev.available_at is not None and ev.available_at > ev.at
    expires = None
    if not pending and rules.expiry.mode == "batch":
        expires = local_midnight(local_date(ev.at, program.tz) + timedelta(days=rules.expiry.days), program.tz)
    batch_id = entry_id_for(ev.key)
    when = f", available on {human_date(local_date(ev.available_at, program.tz))}" if pending and ev.available_at else ""
    run.write(
        ev.key,
        Kind.BONUS,
        ev.points,
        Bucket.PENDING if pending else Bucket.AVAILABLE,
        ev.at,
        f"+{ev.points} pts: {ev.reason}{when}",
        batch_id=batch_id,
        store=ev.store,
        available_at=ev.available_at if pending else ev.at,
        expires_at=expires,
        rule_version=rules.label,
        meta={"reason": ev.reason},
    )
    if not pending:
        run._settle(ev.key, [batch_id], ev.at)
        run._tier_upgrade(ev.at)


def _on_redeem(run: _Run, ev: Redeem) -> None:
    email = normalise_email(ev.email)
    assert email is not None
    run.redeem(ev.redemption_id, ev.reward_id, ev.store, email)


def _on_void(run: _Run, ev: RewardVoided) -> None:
    account = run.account
    reward = account.rewards.get(ev.redemption_id)
    if reward is None:
        raise UnknownReward(
            f"no redemption {ev.redemption_id} for {run.cid}",
            reference="redemption-unknown",
            obj=ev.redemption_id,
            hint="void a reward by the redemption id it was issued under",
        )
    if reward.state != "issued":
        raise LoyaltyError(
            f"reward {reward.code} is already {reward.state}; only unused rewards can be voided",
            reference="reward-not-voidable",
            obj=ev.redemption_id,
        )
    run.write(
        f"redemption:{ev.redemption_id}:void",
        Kind.REWARD,
        0,
        None,
        ev.at,
        f"reward {reward.reward_id} ({reward.code}) voided: {ev.reason}",
        store=reward.store,
        meta={"redemption_id": ev.redemption_id, "state": "void", "reason": ev.reason},
    )
    if ev.rejected_by_store or run.program.at(ev.at).reward_expiry_refund:
        why = "could not be created by the store" if ev.rejected_by_store else "was voided"
        run._restore(reward, run._unrestored(reward), f"redemption:{ev.redemption_id}:restore", why)


def _on_time(run: _Run, ev: TimePassed) -> None:
    return None


_HANDLERS: dict[type, Callable[[_Run, Any], None]] = {
    OrderPaid: _on_paid,
    OrderCompleted: _on_completed,
    OrderCancelled: _on_refund,
    OrderRefunded: _on_refund,
    CouponUsed: _on_coupon,
    ManualAdjustment: _on_adjust,
    BonusGranted: _on_bonus,
    Redeem: _on_redeem,
    RewardVoided: _on_void,
    TimePassed: _on_time,
}

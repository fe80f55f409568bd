"""One ``apply`` in progress: the writer that folds each entry at once, and the sweep.

:class:`Run` holds everything one event may do to an account — write entries (folding each one
immediately, so later steps see the new state), sweep due releases, expiries, reward expiries,
notices and tier checks, take points for reversals, restore redeemed points and issue rewards.
The event handlers in :mod:`connector.loyalty.handlers` and :func:`connector.loyalty.engine.apply`
drive it; nothing here reads the clock: ``at`` is the event's time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from heapq import heapify, heappop, heappush
from typing import Any

from connector.domain import IssueCoupon, Money, Perk, PublishLoyalty, SetTier
from connector.errors import (
    InsufficientPoints,
    LoyaltyError,
    ProgramError,
    UnknownReward,
)
from connector.loyalty import tiers as tiermath
from connector.loyalty.codes import reward_code
from connector.loyalty.earn import fmt, money_text
from connector.loyalty.ledger import (
    Account,
    Batch,
    Bucket,
    Entry,
    Kind,
    RewardState,
    entry_id_for,
)
from connector.loyalty.localtime import (
    add_local_days,
    human_day,
    iso,
    local_date,
    local_day_iso,
    local_midnight,
    notice_plan,
)
from connector.loyalty.program import Program, Rules
from connector.loyalty.snapshot import snapshot


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


def batch_expiry(program: Program, available_at: datetime) -> datetime | None:
    """§5.7: a batch made available at ``available_at`` expires at 00:00 local of that day plus
    the expiry days of the version then in force; None when that version has no batch expiry."""
    rules = program.at(available_at)
    if rules.expiry.mode != "batch":
        return None
    tz = program.tz
    return local_midnight(local_date(available_at, tz) + timedelta(days=rules.expiry.days), tz)


# Entry kinds whose fold can only remove or postpone due instants (a batch expiring or being
# debited, a notice given, a reward leaving "issued", debt bookkeeping): after them every instant
# in the account's agenda is still a candidate and no new one appeared. EARN, SCHEDULE and
# RELEASE add their own instants in :meth:`Run.write`; every other kind discards the agenda.
_AGENDA_KEEP = frozenset({Kind.EXPIRE, Kind.NOTICE, Kind.REWARD, Kind.DEBT, Kind.DEBT_SETTLE, Kind.SHORTFALL})

# Agenda item categories, in the order LOYALTY.md §5.4 processes them at one instant.
_RELEASE, _EXPIRY, _REWARD, _NOTICE, _TIER = 0, 1, 2, 3, 4


# --- the run: writes entries and folds them at once ----------------------------------------------


class Run:
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
        account = self.account
        account.fold(entry)
        self.entries.append(entry)
        agenda = account._cache.get("agenda")
        if agenda is not None and kind not in _AGENDA_KEEP:
            self._note(agenda, entry)
        return entry

    def _note(self, agenda: list[Any], entry: Entry) -> None:
        """Add the instants a new entry makes due to the agenda, or discard the agenda."""
        kind = entry.kind
        if kind is Kind.EARN:
            if entry.available_at is not None:
                heappush(agenda, (entry.available_at, _RELEASE, entry.batch_id))
        elif kind is Kind.SCHEDULE:
            at = entry.available_at
            facts = self.account.orders.get(entry.order_ref or "")
            if at is not None and facts is not None:
                for batch_id in (facts.batch_id, *facts.bonus_batches):
                    if batch_id is not None:
                        heappush(agenda, (at, _RELEASE, batch_id))
        elif kind is Kind.RELEASE:
            expires = entry.expires_at
            if expires is not None:
                heappush(agenda, (expires, _EXPIRY, entry.batch_id))
                for days, when in notice_plan(expires, self.rules.expiry.notify_days_before, self.program.tz):
                    heappush(agenda, (when, _NOTICE, "", expires, days))
        else:
            del self.account._cache["agenda"]

    def outcome(self, had_entries: bool, tier_before: str | None) -> Outcome:
        perks = self.perks
        if self.entries:
            perks = perks + self.publish(had_entries, tier_before)
        return Outcome(tuple(self.entries), tuple(perks), self.account, tuple(self.warnings))

    def publish(
        self, had_entries: bool, tier_before: str | None, with_snapshot: bool = True
    ) -> list[PerkCommand]:
        """The tier tags (when the tier changed, or on the first entry) and the §5.13 snapshot,
        as of this run's event (left to the sender without ``with_snapshot``); only called for a
        run that wrote entries."""
        account = self.account
        program = self.program
        out: list[PerkCommand] = []
        rules = program.at(self.at)
        if rules.tiers is not None and (account.tier != tier_before or not had_entries):
            level = rules.level(account.tier) or rules.tiers.levels[0]
            out.append(
                PerkCommand(
                    SetTier(
                        key=f"tier:{self.cid}:{level.name}:{iso(self.at)}",
                        customer_id=self.cid,
                        tier=level.tag,
                        all_tiers=tuple(lv.tag for lv in rules.tiers.levels),
                    )
                )
            )
        # keyed by the last entry it reflects: deterministic, and one per change
        key = f"publish:{self.cid}:{self.entries[-1].entry_id}"
        snap = snapshot(program, account, self.at) if with_snapshot else None
        out.append(PerkCommand(PublishLoyalty(key=key, customer_id=self.cid, snapshot=snap)))
        return out

    # --- sweep ---------------------------------------------------------------------------------

    def sweep(self, now: datetime) -> None:
        """Write everything due up to ``now``, one instant at a time in time order.

        With batch expiry the account keeps an *agenda*: a heap of every instant at which
        something may fall due (a release, an expiry, a notice, a reward expiry, a tier look),
        built by one pass over the open batches and kept up to date as entries are written. Each
        due instant is then processed from its own items instead of rescanning every batch to
        find what is next. An item may be stale (its batch was spent meanwhile): it is checked
        against the account before anything is written, so a stale item writes nothing. With
        inactivity expiry every activity moves the deadline, and the sweep rescans instead.
        """
        if self.rules.expiry.mode != "batch":
            self._sweep_scanning(now)
            return
        cache = self.account._cache
        while True:  # every turn pops at least one item, and entries (unique keys) are finite
            agenda = cache.get("agenda")
            if agenda is None:
                agenda = self._agenda()
            if not agenda or agenda[0][0] > now:
                return
            t = agenda[0][0]
            items = []
            while agenda and agenda[0][0] <= t:
                items.append(heappop(agenda))
            self._process_items(t, items)

    def _agenda(self) -> list[Any]:
        """Every instant something may fall due, as a heap of ``(instant, category, …)``."""
        account = self.account
        tz = self.program.tz
        notify = self.rules.expiry.notify_days_before
        noticed = account.noticed
        agenda: list[Any] = []
        for batch in account.open.values():
            if batch.state == "pending":
                if batch.available_at is not None:
                    agenda.append((batch.available_at, _RELEASE, batch.batch_id))
                continue
            expires = batch.expires_at
            if expires is None:
                continue
            agenda.append((expires, _EXPIRY, batch.batch_id))
            for days, when in notice_plan(expires, notify, tz):
                if (expires, days) not in noticed:
                    agenda.append((when, _NOTICE, "", expires, days))
        for reward in account.rewards.values():
            if reward.state == "issued":
                agenda.append((reward.expires_at, _REWARD, reward.redemption_id))
        check = self._tier_check()
        if check is not None:
            agenda.append((check, _TIER, ""))
        heapify(agenda)
        account._cache["agenda"] = agenda
        return agenda

    def _process_items(self, t: datetime, items: list[Any]) -> None:
        """Process instant ``t`` from its agenda items, exactly as :meth:`_process` would.

        Every category is checked against the account as it stands when the instant starts,
        as :meth:`_due` does, so a stale item changes nothing."""
        account = self.account
        open_ = account.open
        releases: list[Batch] = []
        expiring: list[Batch] = []
        rewards = []
        notice = False
        for item in items:
            category = item[1]
            if category == _RELEASE:
                batch = open_.get(item[2])
                if batch is not None and batch.state == "pending" and batch.available_at is not None and batch.available_at <= t:
                    releases.append(batch)
            elif category == _EXPIRY:
                batch = open_.get(item[2])
                if batch is not None and batch.state == "available" and batch.expires_at is not None and batch.expires_at <= t:
                    expiring.append(batch)
            elif category == _REWARD:
                reward = account.rewards.get(item[2])
                if reward is not None and reward.state == "issued" and reward.expires_at <= t:
                    rewards.append(reward)
            elif category == _NOTICE and not notice:
                expires = item[3]
                if (expires, item[4]) not in account.noticed:
                    notice = any(b.state == "available" and b.expires_at == expires for b in open_.values())
        # 1. releases
        if releases:
            releases = list({b.batch_id: b for b in releases}.values())
            releases.sort(key=lambda b: (b.available_at, b.batch_id))
            for batch in releases:
                self._release(batch)
            self._tier_upgrade(t)
        # 2. expiries
        if expiring:
            expiring = list({b.batch_id: b for b in expiring}.values())
            expiring.sort(key=lambda b: (b.expires_at, b.batch_id))
            for batch in expiring:
                if batch.remaining > 0 and batch.state == "available":
                    self._expire_batch(batch, batch.expires_at or t, "batch")
        # 3.–5.
        self._after_expiries(t, bool(rewards), notice)

    def _sweep_scanning(self, now: datetime) -> None:
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
            for days, when in notice_plan(at, notify, tz):  # largest first: the earliest not yet given
                if (at, days) not in noticed:
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
        self._after_expiries(
            t, reward_due is not None and reward_due <= t, notice is not None and notice <= t
        )

    def _after_expiries(self, t: datetime, rewards_due: bool, notices_due: bool) -> None:
        """Steps 3–5 of an instant: reward expiry, expiry notices, the scheduled tier look."""
        account = self.account
        # 3. reward expiry
        if rewards_due:
            for reward in sorted(account.rewards.values(), key=lambda r: (r.expires_at, r.redemption_id)):
                if reward.state == "issued" and reward.expires_at <= t:
                    self._expire_reward(reward)
        # 4. expiry notices
        if notices_due:
            self._notices(t, self.rules)
        # 5. scheduled tier check
        check = self._tier_check()
        if check is not None and check <= t:
            self._tier_evaluate(check, scheduled=True)

    def _release(self, batch: Batch) -> None:
        program = self.program
        at = batch.available_at
        assert at is not None
        rules = program.at(at)
        expires = batch_expiry(program, at)
        key = f"batch:{batch.batch_id}:release"
        what = self._describe_batch(batch)
        text = f"+{batch.remaining} pts available: {what} cleared its return window"
        if expires is not None:
            text += f"; they expire on {human_day(expires, program.tz)}"
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
        day = human_day(at, self.program.tz)
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
        return f"notice:{self.cid}:{local_day_iso(expiry, self.program.tz)}:{days}"

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
            for days, at in notice_plan(expiry, notify, tz):
                if at <= t and (expiry, days) not in noticed:
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
                f"{points} points expire on {human_day(expiry, tz)}",
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

    def _allocate(self, points: int) -> list[tuple[str, int]]:
        """Debit ``points`` from available batches in consumption order (§5.6); the caller has
        checked that enough are available."""
        allocations: list[tuple[str, int]] = []
        left = points
        for batch in self._spendable():
            part = min(left, batch.remaining)
            allocations.append((batch.batch_id, part))
            left -= part
            if left == 0:
                break
        return allocations

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
            cache = self.account._cache
            cache["tier_check"] = nxt
            cache.pop("due", None)
            agenda = cache.get("agenda")
            if agenda is not None and nxt is not None:
                heappush(agenda, (nxt, _TIER, ""))

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
            f"tier {previous.name} → {level.name} ({direction}) on {human_day(t, tz)}: "
            f"qualifying {basis} {shown} ({rules.tiers.window}, threshold {money_text(level.threshold)})",
            meta={"tier": level.name, "previous": previous.name, "metric": str(value)},
        )

    # --- restores ----------------------------------------------------------------------------------

    def _restore(
        self,
        reward: RewardState,
        portions: list[tuple[str, int]],
        key: str,
        why: str,
        at: datetime | None = None,
    ) -> None:
        """Put redeemed points back into their batches with their original expiry (§5.6).

        ``at`` is when it happens: the event's time, or for a reward that expired unused the
        instant it expired, which a sweep may reach long after (a batch still live then takes
        its points back, and expires with them on its own date)."""
        portions = [(b, p) for b, p in portions if p > 0]
        if not portions:
            return
        account = self.account
        at = self.at if at is None else at
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
            expires = batch_expiry(self.program, at)
            reissue_key = f"{key}:reissue"
            new_id = entry_id_for(reissue_key)
            text = f"+{total} pts restored as a new batch (their original batches had expired): reward {reward.reward_id} {why}"
            if expires is not None:
                text += f"; they expire on {human_day(expires, tz)}"
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
            f"reward {reward.reward_id} ({reward.code}) expired unused on {human_day(at, tz)}",
            store=reward.store,
            meta={"redemption_id": reward.redemption_id, "state": "expired"},
        )
        if self.program.at(at).reward_expiry_refund:
            self._restore(
                reward, self._unrestored(reward), f"redemption:{reward.redemption_id}:restore", "expired unused", at
            )

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
        allocations = self._allocate(reward.price)
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
            f"-{reward.price} pts: reward {reward.id} ({reward_text(reward, cur)}), code {code}, valid until "
            f"{human_day(expires, program.tz)}; taken soonest-expiring first: {spread}",
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
                    description=reward.description or reward_text(reward, cur),
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


def reward_text(reward: Any, currency: str) -> str:
    if reward.type == "fixed_amount":
        return f"{money_text(reward.amount)} {currency} off"
    if reward.type == "percentage":
        return f"{fmt(reward.percent)} % off"
    cap = f" up to {money_text(reward.max_shipping)} {currency}" if reward.max_shipping is not None else ""
    return f"free shipping{cap}"


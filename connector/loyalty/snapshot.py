"""The balance snapshot every platform shows (LOYALTY.md §5.13), computed in one place.

Shopify metafields, WooCommerce meta, e-mails and the ERP all publish this dict, so a customer
sees the same numbers everywhere, stamped with ``as_of``. Money is a decimal string in the
program currency; dates are the merchant's local calendar days (ISO 8601).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import Any

from connector.loyalty.earn import round_points, tier_level
from connector.loyalty.ledger import Account
from connector.loyalty.localtime import add_local_days, iso, local_day_iso
from connector.loyalty.program import Program, Reward, Rules

_CENT = Decimal("0.01")
_ONE = Decimal(1)


@lru_cache(maxsize=1 << 14)
def spend_for_points(points: int, rate: Decimal, rounding: str) -> Decimal | None:
    """Smallest amount S in cents with ``round(rate × S) ≥ points`` (None if rate is 0).

    Memoised: a pure function of a few small values, asked twice for every published snapshot."""
    if points <= 0:
        return Decimal("0.00")
    if rate <= 0:
        return None
    target = Decimal(points)
    if rounding == "half_up":
        target -= Decimal("0.5")
    elif rounding == "ceil":
        # smallest S with rate × S > points − 1
        base = ((target - 1) / rate).quantize(_CENT, rounding=ROUND_FLOOR)
        candidate = base
        while round_points(rate * candidate, rounding) < points:
            candidate += _CENT
        return candidate
    candidate = (target / rate).quantize(_CENT, rounding=ROUND_CEILING)
    while candidate > 0 and round_points(rate * (candidate - _CENT), rounding) >= points:
        candidate -= _CENT
    return candidate


def current_rate(program: Program, rules: Rules, account: Account, as_of: datetime) -> Decimal:
    level = tier_level(rules, account.tier)
    rate = rules.earn.rates[program.currency] * (level.multiplier if level else _ONE)
    best = _ONE
    for campaign in rules.earn.campaigns:
        if campaign.start <= as_of < campaign.end and campaign.multiplier > best:
            best = campaign.multiplier
    return rate * best


def _next_reward(rules: Rules, tier: str | None, points: int) -> Reward | None:
    for reward in rules.rewards_by_price:
        if reward.price > points and (reward.tiers_allowed is None or (tier in reward.tiers_allowed)):
            return reward
    return None


def snapshot(program: Program, account: Account, as_of: datetime) -> dict[str, Any]:
    """The §5.13 snapshot at ``as_of``.

    Built once per event that writes entries, so it is the single most frequent computation
    of the engine: one pass over the open batches, calendar days from the memoised helpers."""
    rules = program.at(as_of)
    tz = program.tz
    level = tier_level(rules, account.tier)
    tier = level.name if level is not None else None
    available = account.available
    debt = account.debt
    pending = account.pending
    expiry_rules = rules.expiry

    next_pending: datetime | None = None
    next_pending_points = 0
    soonest: datetime | None = None  # the earliest expiry instant among available batches
    soonest_points = 0
    for batch in account.open.values():
        if batch.state == "pending":
            at = batch.available_at
            if at is not None:
                if next_pending is None or at < next_pending:
                    next_pending, next_pending_points = at, batch.remaining
                elif at == next_pending:
                    next_pending_points += batch.remaining
        else:
            at = batch.expires_at
            if at is not None:
                if soonest is None or at < soonest:
                    soonest, soonest_points = at, batch.remaining
                elif at == soonest:
                    soonest_points += batch.remaining
    if expiry_rules.mode == "inactivity" and account.last_activity is not None and available > 0:
        soonest, soonest_points = add_local_days(account.last_activity, expiry_rules.days, tz), available

    expiring_points, expiring_on = 0, None
    notify = expiry_rules.notify_days_before
    if soonest is not None and notify:
        first_notice = add_local_days(soonest, -max(notify), tz)
        if first_notice <= as_of:
            expiring_points, expiring_on = soonest_points, local_day_iso(soonest, tz)

    rounding = rules.earn.rounding
    reward = _next_reward(rules, tier, available)
    if reward is not None:
        rate = current_rate(program, rules, account, as_of)
        to_reward: int | None = reward.price - available
        after_pending: int | None = max(0, reward.price - available - pending)
        spend = _money(spend_for_points(to_reward, rate, rounding))
        spend_after = _money(spend_for_points(after_pending, rate, rounding))
    else:
        to_reward = after_pending = None
        spend = spend_after = None

    negative = rules.negative_policy == "allow_negative"
    return {
        "available": available - debt if negative else available,
        "pending": pending,
        "next_pending_date": local_day_iso(next_pending, tz) if next_pending else None,
        "next_pending_points": next_pending_points,
        "debt": 0 if negative else debt,
        "tier": tier,
        "tier_free_shipping": bool(level.free_shipping) if level is not None else False,
        "next_reward": reward.id if reward is not None else None,
        "points_to_next_reward": to_reward,
        "spend_to_next_reward": spend,
        "points_to_next_reward_after_pending": after_pending,
        "spend_to_next_reward_after_pending": spend_after,
        "expiring_points": expiring_points,
        "expiring_on": expiring_on,
        "currency": program.currency,
        "as_of": iso(as_of),
    }


def published_snapshot(program: Program, account: Account, fallback: datetime) -> dict[str, Any]:
    """The snapshot a publish of the account's newest state carries: as of the event that wrote
    its last entry (every entry records its run's instant), or ``fallback`` for an account with
    no entries.

    A pure function of the ledger, so a sender that builds it late (the outbox dispatcher, after
    coalescing every publish of a customer into one) sends exactly what the engine would have
    built right after that event, stamp included: never a stamp ahead of the ledger, so never a
    date a sweep has not yet reached."""
    entries = account.entries
    return snapshot(program, account, entries[-1].recorded_at if entries else fallback)


@lru_cache(maxsize=1 << 12)
def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(_CENT), "f")

"""Tier arithmetic in closed form (LOYALTY.md §5.9).

The tier held at ``t`` is a function of the counted orders alone, so it can be recomputed from
the ledger at any time and tested against hand-worked dates:

* ``rolling_365``: ``ent(max q(s) for s in (t − R, t])`` — upgrades at once, kept ``R`` days
  after the last instant it was earned;
* ``calendar_year``: ``ent(max(q(previous year), q(year to date)))``;
* ``lifetime``: ``ent(q(t))``.

``q`` is right-continuous and piecewise constant (it jumps up when an order is counted and down
365 local days later), so the maximum over a window is the larger of ``q`` at the window's start
and ``q`` at every count inside it, and the next possible downgrade is ``R`` days after the last
moment ``q`` stood at the current tier's threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connector.loyalty.ledger import Account, OrderFacts
from connector.loyalty.localtime import add_local_days, next_year_start, year_start
from connector.loyalty.program import Rules, TierRules

_ZERO = Decimal(0)

Item = tuple[datetime, datetime, Decimal]  # counted at, leaves the rolling window at, value


def _value(account: Account, facts: OrderFacts, tiers: TierRules) -> Decimal:
    undo = tiers.refunds_undo_upgrades
    if tiers.basis == "spend":
        return facts.net_spend(undo)
    if tiers.basis == "orders":
        return Decimal(1) if facts.net_spend(undo) > 0 else _ZERO
    points = facts.points - (facts.taken.get(facts.batch_id or "", 0) if undo else 0)
    for batch_id in facts.bonus_batches:
        batch = account.batches[batch_id]
        points += batch.original - (facts.taken.get(batch_id, 0) if undo else 0)
    return Decimal(points)


def items(account: Account, rules: Rules, tz: ZoneInfo) -> list[Item]:
    """Every order with a known counting instant (future ones included), sorted by it.

    Functions below only look at items counted by the instant they evaluate, so future counts
    matter only for scheduling: a downgrade is not scheduled before an already-known count.
    Every release looks at the tier, so each order's item is kept in the account's cache until
    an entry changes that order (see ``Account.fold``); the list must not be changed by callers.
    """
    tiers = rules.tiers
    assert tiers is not None
    cache = account._cache
    hit = cache.get("tier_items")
    if hit is None or hit[0] is not tiers:
        hit = cache["tier_items"] = [tiers, {}, None]
    if hit[2] is not None:
        return hit[2]  # type: ignore[no-any-return]
    per: dict[str, Item | None] = hit[1]  # order ref -> its item; dropped when its facts change
    out: list[Item] = []
    by_completion = tiers.count_from == "completed"
    for ref, facts in account.orders.items():
        item = per.get(ref, _MISSING)
        if item is _MISSING:
            item = None
            at = facts.clock_at if by_completion else facts.available_at
            if facts.batch_id is not None and at is not None:
                item = (at, add_local_days(at, 365, tz), _value(account, facts, tiers))
            per[ref] = item
        if item is not None:
            out.append(item)
    out.sort(key=lambda item: item[0])
    hit[2] = out
    return out


_MISSING: Any = object()


def entitled(tiers: TierRules, value: Decimal) -> int:
    index = 0
    for i, level in enumerate(tiers.levels):
        if level.threshold <= value:
            index = i
    return index


def q_at(tiers: TierRules, counted: Sequence[Item], t: datetime, tz: ZoneInfo) -> Decimal:
    """The qualifying metric over the window ending at ``t``."""
    window = tiers.window
    total = _ZERO
    if window == "lifetime":
        for at, _leaves, value in counted:
            if at <= t:
                total += value
    elif window == "rolling_365":
        for at, leaves, value in counted:
            if at <= t < leaves:
                total += value
    else:
        start = year_start(t, tz)
        for at, _leaves, value in counted:
            if start <= at <= t:
                total += value
    return total


def held_value(tiers: TierRules, counted: Sequence[Item], t: datetime, tz: ZoneInfo) -> Decimal:
    """The value the entitlement is taken from at ``t`` (retention and previous year included)."""
    if tiers.window == "lifetime":
        return q_at(tiers, counted, t, tz)
    if tiers.window == "calendar_year":
        start = year_start(t, tz)
        previous = _ZERO
        prev_start = year_start(add_local_days(start, -1, tz), tz)
        for at, _leaves, value in counted:
            if prev_start <= at < start:
                previous += value
        return max(previous, q_at(tiers, counted, t, tz))
    if tiers.retention_days == 0:
        return q_at(tiers, counted, t, tz)
    start = add_local_days(t, -tiers.retention_days, tz)
    best = q_at(tiers, counted, start, tz)
    for at, _leaves, _value in counted:
        if start < at <= t:
            best = max(best, q_at(tiers, counted, at, tz))
    return best


def held_index(tiers: TierRules, counted: Sequence[Item], t: datetime, tz: ZoneInfo) -> int:
    return entitled(tiers, held_value(tiers, counted, t, tz))


def next_downgrade_check(
    tiers: TierRules, counted: Sequence[Item], current: int, since: datetime, tz: ZoneInfo
) -> datetime | None:
    """The instant the current tier (held since ``since``) would be lost if nothing changes.

    Exact, so a rebuilt account schedules the same instant as one built incrementally; never
    before ``since``.
    """
    if current == 0 or tiers.window == "lifetime":
        return None
    if tiers.window == "calendar_year":
        # a tier reached in year Y is kept to the end of Y + 1: look at each 1 January in turn
        last_count = max((at for at, _leaves, _v in counted), default=since)
        boundary = next_year_start(since, tz)
        while True:
            if entitled(tiers, held_value(tiers, counted, boundary, tz)) < current:
                return boundary
            if boundary > last_count and boundary > next_year_start(last_count, tz):
                return None  # unreachable in practice: nothing counted after this year
            boundary = next_year_start(boundary, tz)
    threshold = tiers.levels[current].threshold
    retention = tiers.retention_days
    points = sorted({p for at, leaves, _v in counted for p in (at, leaves)})
    # the stretches [start, end) where the metric stands at the threshold (end None: open-ended)
    stretches: list[list[datetime | None]] = []
    for i, point in enumerate(points):
        if q_at(tiers, counted, point, tz) >= threshold:
            end = points[i + 1] if i + 1 < len(points) else None
            if stretches and stretches[-1][1] == point:
                stretches[-1][1] = end
            else:
                stretches.append([point, end])
    if not stretches:
        check = add_local_days(since, retention, tz) if retention else since
        return max(check, since)
    # The tier is lost `retention` days after the first stretch that no later one catches up
    # with in time. Counts already known for the future (an order delivered, not yet counted)
    # do not bridge a longer gap: a rebuilt account, which knows them, must schedule the same
    # instant as the live one that looked before they existed.
    for index, (_start, end) in enumerate(stretches):
        if end is None:
            return None  # still qualifying with no scheduled drop
        drop = add_local_days(end, retention, tz) if retention else end
        following = stretches[index + 1][0] if index + 1 < len(stretches) else None
        if following is not None and following <= drop:
            continue
        if drop >= since:
            return drop
    return since

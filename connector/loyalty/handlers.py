"""What each event does to an account (LOYALTY.md §5.2–§5.10), one function per event type.

Each handler runs after the sweep and writes through :class:`~connector.loyalty.run.Run`, so every
entry is folded as soon as it is written. ``precheck`` and ``primary_key`` run before anything:
stateless rejections first, then the idempotency test that makes a replay a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.domain import normalise_email
from connector.errors import (
    InsufficientPoints,
    LoyaltyError,
    UnknownCustomer,
    UnknownReward,
)
from connector.loyalty.earn import base_rate, fmt, money_text, quote, round_points
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
    Kind,
    OrderFacts,
    entry_id_for,
)
from connector.loyalty.localtime import add_local_days, human_day, iso, local_date, local_midnight
from connector.loyalty.program import Program, Rules
from connector.loyalty.run import Run, batch_expiry, order_ref

_ZERO = Decimal(0)




def precheck(program: Program, event: Event) -> None:
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


def primary_key(account: Account, event: Event) -> str | None:
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


def _has_earned(account: Account) -> bool:
    """Whether any order has earned points yet (the first-order bonus test). Once true it stays
    true, so the answer is kept in the account's cache instead of scanning every order again."""
    cache = account._cache
    if cache.get("earned"):
        return True
    earned = any(f.batch_id is not None for f in account.orders.values())
    if earned:
        cache["earned"] = True
    return earned


def _on_paid(run: Run, ev: OrderPaid) -> None:
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
    first = rules.earn.first_order_bonus > 0 and not _has_earned(account)
    key = f"{ref}:earn"
    when = (
        f"available on {human_day(available_at, program.tz)}"
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


def _on_completed(run: Run, ev: OrderCompleted) -> None:
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
    text = f"order {ev.order_id} delivered/completed on {human_day(ev.at, tz)}"
    if facts is not None and facts.batch_id is not None:
        number = facts.number
        available_at = _available_at(program, rules, ev.at, facts.window_days)
        text = (
            f"order #{number} delivered/completed on {human_day(ev.at, tz)}: its points "
            f"become available on {human_day(available_at, tz)} "
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
        meta={"clock_at": iso(ev.at), "number": number},
    )
    if rules.tiers is not None and rules.tiers.count_from == "completed":
        run._tier_upgrade(ev.at)


def _on_refund(run: Run, ev: OrderRefunded | OrderCancelled) -> None:
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
    run: Run,
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
    run: Run, ref: str, full: bool, facts: OrderFacts | None, ev: OrderRefunded | OrderCancelled
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


def _on_coupon(run: Run, ev: CouponUsed) -> None:
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


def _on_adjust(run: Run, ev: ManualAdjustment) -> None:
    account = run.account
    program = run.program
    key = f"adjust:{ev.key}"
    if ev.points > 0:
        expires = batch_expiry(program, ev.at)
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
    allocations = run._allocate(points)
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


def _on_bonus(run: Run, ev: BonusGranted) -> None:
    program = run.program
    rules = program.at(ev.at)
    pending = ev.available_at is not None and ev.available_at > ev.at
    expires = None if pending else batch_expiry(program, ev.at)
    batch_id = entry_id_for(ev.key)
    when = f", available on {human_day(ev.available_at, program.tz)}" if pending and ev.available_at else ""
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


def _on_redeem(run: Run, ev: Redeem) -> None:
    email = normalise_email(ev.email)
    assert email is not None
    run.redeem(ev.redemption_id, ev.reward_id, ev.store, email)


def _on_void(run: Run, ev: RewardVoided) -> None:
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


def _on_time(run: Run, ev: TimePassed) -> None:
    return None


HANDLERS: dict[type, Callable[[Run, Any], None]] = {
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

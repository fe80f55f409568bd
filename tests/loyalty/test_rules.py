"""One test per engine rule of LOYALTY.md §5 not already covered by the §6 examples.

Expected figures are worked out by hand in the comments.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connector.domain import (
    CouponLine,
    IssueCoupon,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
)
from connector.loyalty import (
    Account,
    Balance,
    CouponUsed,
    EarnLine,
    Entry,
    Kind,
    ManualAdjustment,
    OrderCancelled,
    OrderRefunded,
    Redeem,
    RefundedLine,
    RewardVoided,
    TimePassed,
    apply,
    events_from_order,
    preview,
    reward_code,
    verify,
)
from connector.loyalty.codes import ALPHABET
from tests.loyalty.helpers import (
    completed,
    default_program,
    earn_then_release,
    eur,
    kinds,
    local,
    of_kind,
    paid,
    refund_lines,
)
from tests.loyalty.test_examples import _nuria, _nuria_uses_code


def _redeem(at: object, rid: str, reward: str = "ship") -> Redeem:
    return Redeem(at=at, redemption_id=rid, reward_id=reward, store="woo:main", email="c@example.com")  # type: ignore[arg-type]


# --- earning ---------------------------------------------------------------------------------


def _carmen_like(order_id: str = "C1") -> object:
    return paid(
        order_id,
        local(2026, 3, 2),
        lines=(EarnLine(f"{order_id}-1", eur("64.30"), eur("57.87"), eur("12.15")),),
        total="76.01",
    )


@pytest.mark.parametrize(
    ("earn", "points"),
    [
        ({"rate": 5, "basis": "merchandise_before_discounts"}, 321),  # floor(5 × 64.30 = 321.5)
        ({"rate": 5, "basis": "total"}, 380),  # floor(5 × 76.01 = 380.05)
        ({"rate": 5, "basis": "merchandise_after_discounts", "rounding": "ceil"}, 290),  # ceil(289.35)
        ({"rate": 5, "basis": "merchandise_after_discounts", "rounding": "half_up"}, 289),  # 289.35
    ],
)
def test_basis_and_rounding_are_configuration(earn: dict[str, object], points: int) -> None:
    program = default_program(earn=earn)
    out = apply(program, Account("c"), _carmen_like())  # type: ignore[arg-type]
    assert kinds(out) == [("EARN", points)]


def test_half_up_rounds_a_half_up() -> None:
    program = default_program(earn={"rate": 5, "rounding": "half_up"})
    assert kinds(apply(program, Account("c"), paid("H", local(2026, 3, 2), "57.90"))) == [("EARN", 290)]  # 289.5


def test_gift_cards_and_shipping_do_not_earn() -> None:
    program = default_program()
    order = paid(
        "G1",
        local(2026, 3, 2),
        lines=(
            EarnLine("G1-1", eur("20.00"), eur("20.00"), eur("4.20")),
            EarnLine("G1-2", eur("50.00"), eur("50.00"), eur("0"), is_gift_card=True),
        ),
        total="80.15",
    )
    assert kinds(apply(program, Account("c"), order)) == [("EARN", 100)]  # 5 × 20.00


def test_minimum_order_value_earns_nothing_below_it() -> None:
    program = default_program(earn={"rate": 5, "min_order": "15.00"})
    out = apply(program, Account("c"), paid("M1", local(2026, 3, 2), "14.99"))
    assert out.entries == () and "below the minimum" in out.warnings[0]
    assert kinds(apply(program, Account("c"), paid("M2", local(2026, 3, 2), "15.00"))) == [("EARN", 75)]


def test_campaign_windows_highest_multiplier_wins_without_stacking() -> None:
    program = default_program(
        earn={
            "rate": 5,
            "campaigns": [
                {"id": "black-friday", "start": "2026-11-27T00:00", "end": "2026-11-30T00:00", "multiplier": 2},
                {"id": "saturday", "start": "2026-11-28T00:00", "end": "2026-11-29T00:00", "multiplier": 3},
            ],
        }
    )
    account = Account("c")
    assert kinds(apply(program, account, paid("K1", local(2026, 11, 27, 9), "10.00"))) == [("EARN", 100)]
    sat = apply(program, account, paid("K2", local(2026, 11, 28, 9), "5.00", "5.00"))
    assert kinds(sat) == [("EARN", 150)]  # 5 × 3, not 5 × 6
    assert "campaign saturday ×3" in sat.entries[0].explanation
    assert kinds(apply(program, account, paid("K3", local(2026, 11, 30, 0, 0), "10.00"))) == [("EARN", 50)]
    # the reversal uses the multiplied rate stored on the entry: remaining floor(15 × 5.00) = 75
    back = apply(program, account, refund_lines("K2", "r1", local(2026, 12, 1), (1, "5.00")))
    assert kinds(back) == [("REVERSE", -75)]


def test_line_bonuses_and_first_order_bonus() -> None:
    program = default_program(
        earn={
            "rate": 5,
            "first_order_bonus": 50,
            "bonuses": [
                {"id": "tea", "skus": ["TEA"], "multiplier": 2},
                {"id": "mugs", "categories": ["mugs"], "extra_points": 10},
            ],
        }
    )
    account = Account("c")
    order = paid(
        "B1",
        local(2026, 3, 2),
        lines=(
            EarnLine("B1-1", eur("10.00"), eur("10.00"), eur("0"), sku="TEA"),
            EarnLine("B1-2", eur("20.00"), eur("20.00"), eur("0"), sku="MUG", categories=("mugs",), quantity=2),
            EarnLine("B1-3", eur("5.00"), eur("5.00"), eur("0"), sku="X"),
        ),
        total="35.00",
    )
    out = apply(program, account, order)
    # weighted basis 10 × 2 + 20 + 5 = 45 → 225; mugs 10 × 2 units = 20; first order 50
    assert kinds(out) == [("EARN", 225), ("BONUS", 50), ("BONUS", 20)]
    assert account.pending == 295
    # refund the tea line: remaining floor(5 × (45 − 20)) = 125 → reverse 100; bonuses stay
    part = apply(program, account, refund_lines("B1", "r1", local(2026, 3, 3), (1, "10.00")))
    assert kinds(part) == [("REVERSE", -100)]
    rest = apply(program, account, refund_lines("B1", "r2", local(2026, 3, 4), (2, "20.00"), (3, "5.00")))
    assert kinds(rest) == [("REVERSE", -125), ("REVERSE", -50), ("REVERSE", -20)]
    assert account.pending == 0
    # a second order gets no first-order bonus
    assert kinds(apply(program, account, paid("B2", local(2026, 3, 5), "1.00"))) == [("EARN", 5)]


def test_preview_is_the_same_computation_as_the_accrual() -> None:
    program = default_program()
    account = Account("c")
    earn_then_release(program, account, "P0", "300.00", local(2026, 1, 5))  # silver, 6 pts/EUR
    cart = paid("P1", local(2026, 2, 1), "45.55")
    quoted = preview(program, account, cart)
    assert (quoted.points, quoted.tier) == (273, "silver")
    assert account.entries[-1].kind is not Kind.EARN or account.entries[-1].order_ref != "woo:main:order:P1"
    assert kinds(apply(program, account, cart)) == [("EARN", 273)]


def test_clock_start_paid() -> None:
    program = default_program(pending={"window_days": 14, "clock_start": "paid"})
    account = Account("c")
    out = apply(program, account, paid("Q1", local(2026, 3, 2, 18), "10.00"))
    assert out.entries[0].available_at == local(2026, 3, 17, 0, 0)
    assert apply(program, account, completed("Q1", local(2026, 3, 5))).entries == ()


def test_completion_reported_before_payment() -> None:
    program = default_program()
    account = Account("c")
    apply(program, account, completed("R1", local(2026, 3, 5)))
    out = apply(program, account, paid("R1", local(2026, 3, 6), "10.00"))
    assert out.entries[0].available_at == local(2026, 3, 20, 0, 0)


# --- refunds and cancellations -----------------------------------------------------------------


def test_cancellation_before_completion_reverses_the_pending_batch_and_bonus() -> None:
    program = default_program(earn={"rate": 5, "first_order_bonus": 100})
    account = Account("c")
    apply(program, account, paid("X1", local(2026, 3, 2), "20.00"))
    out = apply(program, account, OrderCancelled(at=local(2026, 3, 3), store="woo:main", order_id="X1"))
    assert kinds(out) == [("REVERSE", -100), ("REVERSE", -100)]
    assert all(e.bucket.value == "pending" for e in out.entries if e.bucket)
    assert account.pending == 0
    assert {b.state for b in account.batches.values()} == {"void"}
    # completing it afterwards releases nothing
    apply(program, account, completed("X1", local(2026, 3, 4)))
    assert apply(program, account, TimePassed(at=local(2026, 4, 1))).entries == ()


def test_amount_only_refund_is_pro_rata_to_the_total_paid() -> None:
    program = default_program()
    account = Account("c")
    apply(program, account, _carmen_like())  # type: ignore[arg-type]
    refund = OrderRefunded(at=local(2026, 3, 4), store="woo:main", order_id="C1", refund_id="r1", amount=eur("20.00"))
    # ΔRB = 20.00 × 57.87 / 76.01 = 15.2269…; remaining floor(5 × 42.6430…) = 213 → reverse 76
    assert kinds(apply(program, account, refund)) == [("REVERSE", -76)]


def test_over_refund_is_ignored_and_reported() -> None:
    program = default_program()
    account = Account("c")
    apply(program, account, paid("O1", local(2026, 3, 2), "20.00"))
    first = apply(program, account, refund_lines("O1", "r1", local(2026, 3, 3), (1, "25.00")))
    assert kinds(first) == [("REVERSE", -100)]
    assert "above the order's 20.00" in first.warnings[0]
    second = apply(program, account, refund_lines("O1", "r2", local(2026, 3, 4), (1, "5.00")))
    assert kinds(second) == [("REVERSE", 0)]
    assert account.pending == 0


def test_points_already_expired_are_not_taken_twice() -> None:
    program = default_program()
    account = Account("c")
    earn_then_release(program, account, "X1", "20.00", local(2026, 1, 1))  # 100, expires 16 Jan 2027
    apply(program, account, ManualAdjustment(at=local(2026, 2, 1), key="a1", points=-40, reason="correction"))
    earn_then_release(program, account, "X2", "100.00", local(2026, 2, 10))  # 500, expires 25 Feb 2027
    out = apply(program, account, TimePassed(at=local(2027, 1, 16, 0, 0)))
    assert [(e.points, e.allocations[0][0]) for e in of_kind(out, Kind.EXPIRE)] == [
        (-60, account.orders["woo:main:order:X1"].batch_id)
    ]
    # full refund: owed 100, 60 of them expired → take 40, from X2 since X1 is empty
    refund = apply(program, account, refund_lines("X1", "r1", local(2027, 1, 20), (1, "20.00")))
    assert kinds(refund) == [("REVERSE", -40)]
    assert refund.entries[0].allocations == ((account.orders["woo:main:order:X2"].batch_id, 40),)
    assert "less 60 already expired" in refund.entries[0].explanation
    assert account.available == 460


def test_loyalty_ignore_refund_records_zero_points() -> None:
    program = default_program()
    account = Account("c")
    apply(program, account, paid("I1", local(2026, 3, 2), "20.00"))
    ev = OrderRefunded(
        at=local(2026, 3, 3), store="woo:main", order_id="I1", refund_id="r1", amount=eur("20.00"),
        ignore=True, reason="goodwill loyalty:ignore",
    )
    out = apply(program, account, ev)
    assert kinds(out) == [("REVERSE", 0)] and "loyalty:ignore" in out.entries[0].explanation
    assert account.pending == 100


# --- restores ----------------------------------------------------------------------------------


def test_restore_expired_reissue_gives_a_fresh_batch() -> None:
    program = default_program(restore_expired="reissue")
    account, rid = _nuria(program)
    _nuria_uses_code(program, account, rid)
    out = apply(
        program,
        account,
        OrderRefunded(
            at=local(2026, 6, 15), store="woo:main", order_id="N3", refund_id="r1", amount=eur("38.90"),
            lines=(RefundedLine("N3-1", eur("16.75")), RefundedLine("N3-2", eur("22.15"))),
        ),
    )
    assert kinds(out) == [("REVERSE", -194), ("RESTORE", 180), ("RESTORE", 320)]
    fresh = account.batches[out.entries[2].batch_id]  # type: ignore[index]
    assert fresh.expires_at == local(2027, 6, 15, 0, 0)
    assert account.available == 730


def _with_reward(**overrides: object) -> tuple[object, Account]:
    program = default_program(**overrides)
    account = Account("c")
    earn_then_release(program, account, "A1", "100.00", local(2026, 1, 10))  # 500 available
    apply(program, account, _redeem(local(2026, 2, 1, 10), "rw1"))
    assert account.available == 200
    return program, account


def test_unused_reward_expiry_restores_its_points() -> None:
    program, account = _with_reward()
    expiry = account.rewards["rw1"].expires_at
    assert expiry == local(2026, 2, 1, 10) + timedelta(days=60)
    out = apply(program, account, TimePassed(at=expiry))  # type: ignore[arg-type]
    assert kinds(out) == [("REWARD", 0), ("RESTORE", 300)]
    assert account.rewards["rw1"].state == "expired" and account.available == 500


def test_unused_reward_expiry_without_refund() -> None:
    program, account = _with_reward(reward_expiry_refund=False)
    out = apply(program, account, TimePassed(at=local(2026, 4, 10)))  # type: ignore[arg-type]
    assert kinds(out) == [("REWARD", 0)] and account.available == 200


def test_a_reward_that_expired_while_its_batch_lived_returns_its_points_then_even_when_swept_later() -> None:
    """§5.6/§5.7: the points of a reward that expired unused go back on the day it expired. The
    batch they came from was still live then, so it takes them back and expires with all of them
    on its own date, even when the sweep that finds both runs weeks after."""
    program = default_program(
        pending={"window_days": 0, "clock_start": "paid"},
        expiry={"mode": "batch", "days": 30, "notify_days_before": []},
        rewards=[{"id": "ship", "type": "free_shipping", "price": 300, "max_shipping": "6.95", "validity_days": 5}],
    )
    account = Account("c")
    apply(program, account, paid("O1", local(2026, 3, 2, 10), "200.00"))  # 5 × 200 = 1000, released at once
    batch = next(iter(account.batches.values()))
    assert batch.expires_at == local(2026, 4, 1, 0)  # 00:00 of 2 March + 30 days
    apply(program, account, _redeem(local(2026, 3, 3, 10), "rw1"))  # 300 of them; the code lasts 5 days
    out = apply(program, account, TimePassed(at=local(2026, 4, 11)))  # type: ignore[arg-type]
    assert [(e.kind.value, e.points, e.effective_at) for e in out.entries] == [
        ("REWARD", 0, local(2026, 3, 8, 10)),
        ("RESTORE", 300, local(2026, 3, 8, 10)),
        ("EXPIRE", -1000, local(2026, 4, 1, 0)),
    ]
    assert (account.available, batch.remaining, batch.expired) == (0, 0, 1000)


@pytest.mark.xfail(
    strict=True,
    reason="open question in LOYALTY.md: §5.6 re-expires points restored into an expired batch and never "
    "lets them settle debt, while §5.14(5) caps what an order's reversal may take at E_o − X_o",
)
def test_points_of_an_unused_reward_are_not_lost_twice_once_their_order_was_reversed() -> None:
    """The customer spends 300 of order O1's 1000 points on a reward, O1 is cancelled, and the
    reversal takes the 300 it cannot find in O1's batch from a goodwill credit instead. The reward
    then expires unused after O1's batch has expired: its 300 points come back into that batch
    and expire at once. They were already paid for out of the goodwill credit, so the customer
    has lost them twice: 200 points left where 500 (the goodwill credit) would be right."""
    program = default_program(
        pending={"window_days": 0, "clock_start": "paid"},
        expiry={"mode": "batch", "days": 30, "notify_days_before": []},
        rewards=[{"id": "ship", "type": "free_shipping", "price": 300, "max_shipping": "6.95", "validity_days": 29}],
    )
    account = Account("c")
    apply(program, account, paid("O1", local(2026, 3, 2, 10), "200.00"))  # 1000, expiring 1 April 00:00
    apply(program, account, _redeem(local(2026, 3, 3, 10), "rw1"))  # 300 of them, code valid to 1 April
    apply(program, account, ManualAdjustment(at=local(2026, 3, 4), key="goodwill", points=500, reason="goodwill"))
    out = apply(program, account, OrderCancelled(at=local(2026, 3, 5), store="woo:main", order_id="O1"))
    assert [(e.kind.value, e.points) for e in out.entries] == [("REVERSE", -1000)]  # 700 from O1, 300 from the credit
    assert account.available == 200
    apply(program, account, TimePassed(at=local(2026, 4, 2)))  # type: ignore[arg-type]
    assert account.available == 500


def test_store_rejection_always_restores() -> None:
    program, account = _with_reward(reward_expiry_refund=False)
    out = apply(program, account, RewardVoided(at=local(2026, 2, 1, 10, 1), redemption_id="rw1", reason="422 from store", rejected_by_store=True))  # type: ignore[arg-type]
    assert kinds(out) == [("REWARD", 0), ("RESTORE", 300)]
    assert "could not be created" in out.entries[1].explanation


def test_restore_repays_debt_first() -> None:
    program = default_program()
    account = Account("c")
    earn_then_release(program, account, "A1", "100.00", local(2026, 1, 10))  # 500
    apply(program, account, _redeem(local(2026, 2, 1), "rw1", "five"))  # all 500 spent
    out = apply(program, account, refund_lines("A1", "r1", local(2026, 2, 2), (1, "100.00")))
    assert kinds(out) == [("REVERSE", 0), ("DEBT", -500)]
    voided = apply(program, account, RewardVoided(at=local(2026, 2, 3), redemption_id="rw1", reason="customer asked"))
    assert kinds(voided) == [("REWARD", 0), ("RESTORE", 500), ("DEBT_SETTLE", 500)]
    assert (account.available, account.debt) == (0, 0)


def test_proportional_restore() -> None:
    program = default_program(restore_redeemed_on="proportional")
    account = Account("c")
    earn_then_release(program, account, "A1", "100.00", local(2026, 1, 10))
    apply(program, account, _redeem(local(2026, 2, 1), "rw1", "five"))
    code = account.rewards["rw1"].code
    apply(program, account, paid("U1", local(2026, 2, 2), "30.00", "10.00"))
    apply(program, account, CouponUsed(at=local(2026, 2, 2), store="woo:main", order_id="U1", code=code))
    # refunding 10.00 of 40.00 returns floor(500 × 10/40) = 125
    out = apply(program, account, refund_lines("U1", "r1", local(2026, 2, 3), (2, "10.00")))
    assert kinds(out) == [("REVERSE", -50), ("RESTORE", 125)]


# --- expiry modes -------------------------------------------------------------------------------


def test_inactivity_expiry_and_its_notices() -> None:
    program = default_program(expiry={"mode": "inactivity", "days": 180, "notify_days_before": [30, 7]})
    account = Account("c")
    apply(program, account, paid("A1", local(2026, 1, 1), "20.00"))  # activity: 1 Jan 12:00
    apply(program, account, completed("A1", local(2026, 1, 2)))
    out = apply(program, account, TimePassed(at=local(2026, 7, 1)))
    # deadline 1 Jan + 180 days = 30 June 12:00; notices 31 May and 23 June
    assert [(e.kind.value, e.effective_at) for e in out.entries] == [
        ("RELEASE", local(2026, 1, 17, 0, 0)),
        ("NOTICE", local(2026, 5, 31, 12)),
        ("NOTICE", local(2026, 6, 23, 12)),
        ("EXPIRE", local(2026, 6, 30, 12)),
    ]
    assert account.available == 0


def test_no_expiry_mode() -> None:
    program = default_program(expiry={"mode": "none"})
    account = Account("c")
    earn_then_release(program, account, "A1", "20.00", local(2026, 1, 1))
    assert account.batches[account.orders["woo:main:order:A1"].batch_id].expires_at is None  # type: ignore[index]
    assert apply(program, account, TimePassed(at=local(2030, 1, 1))).entries == ()


# --- tiers -------------------------------------------------------------------------------------


def test_calendar_year_tier_is_kept_to_the_end_of_the_next_year() -> None:
    tiers = dict(default_program().versions[0].tiers.model_dump(by_alias=True))  # type: ignore[union-attr]
    tiers["window"] = "calendar_year"
    program = default_program(tiers=tiers, expiry={"mode": "none"})
    account = Account("c")
    earn_then_release(program, account, "T1", "300.00", local(2026, 1, 5))  # counted 20 January 2026
    assert account.tier == "silver"
    assert of_kind(apply(program, account, TimePassed(at=local(2027, 12, 31, 23))), Kind.TIER) == []
    out = apply(program, account, TimePassed(at=local(2028, 1, 2)))
    assert [(t.meta["tier"], t.effective_at) for t in of_kind(out, Kind.TIER)] == [("bronze", local(2028, 1, 1, 0, 0))]


def test_a_rolling_tier_is_lost_in_a_gap_longer_than_its_retention_even_when_the_next_count_is_known() -> None:
    """§5.9: held(t) = ent(max q(s) for s in (t − R, t]). Two orders reach silver; the first
    leaves the 365-day window on 20 January 2027, so the tier goes 10 days later, on 30 January,
    and comes back when a third order counts on 5 February. An account rebuilt from its stored
    entries, which already knows the third order when it plans the look, must write the same."""
    program = default_program(
        pending={"window_days": 14, "clock_start": "completed"},
        expiry={"mode": "none"},
        tiers={"basis": "orders", "window": "rolling_365", "retention_days": 10,
               "levels": [{"name": "bronze", "from": "0"}, {"name": "silver", "from": "2"}]},
    )
    events = [
        paid("o0", local(2026, 1, 5), "50.00"), completed("o0", local(2026, 1, 5)),  # counts 20 Jan 2026
        paid("o1", local(2026, 11, 1), "50.00"), completed("o1", local(2026, 11, 1)),  # counts 16 Nov 2026
        TimePassed(at=local(2026, 11, 20)),  # silver since 16 November
        paid("o2", local(2027, 1, 21), "50.00"), completed("o2", local(2027, 1, 21)),  # counts 5 Feb 2027
    ]
    last = TimePassed(at=local(2027, 2, 10))
    expected = [
        ("TIER", local(2027, 1, 30, 0), "bronze"),  # 20 January + 10 days of retention
        ("RELEASE", local(2027, 2, 5, 0), None),
        ("TIER", local(2027, 2, 5, 0), "silver"),
    ]
    live = Account("c")
    for event in events:
        apply(program, live, event)  # type: ignore[arg-type]
    assert live.tier == "silver"
    rebuilt = Account.from_entries("c", [Entry.from_dict(e.to_dict()) for e in live.entries])
    for account in (live, rebuilt):
        out = apply(program, account, last)  # type: ignore[arg-type]
        assert [(e.kind.value, e.effective_at, e.meta.get("tier")) for e in out.entries] == expected


def test_lifetime_tier_only_refunds_lower_it_and_one_step_goes_down_one_level_per_day() -> None:
    tiers = dict(default_program().versions[0].tiers.model_dump(by_alias=True))  # type: ignore[union-attr]
    tiers.update(window="lifetime", downgrade="one_step")
    program = default_program(tiers=tiers)
    account = Account("c")
    apply(program, account, paid("G1", local(2026, 1, 4), "500.00", "300.00"))
    apply(program, account, completed("G1", local(2026, 1, 5)))
    apply(program, account, TimePassed(at=local(2027, 1, 1)))  # lifetime: gold for good
    assert account.tier == "gold"
    # a full refund entitles bronze, but one_step goes down one level per evaluation
    out = apply(program, account, refund_lines("G1", "r1", local(2027, 3, 10, 15), (1, "500.00"), (2, "300.00")))
    assert [(t.meta["tier"], t.effective_at) for t in of_kind(out, Kind.TIER)] == [("silver", local(2027, 3, 10, 15))]
    nxt = apply(program, account, TimePassed(at=local(2027, 3, 12)))
    assert [(t.meta["tier"], t.effective_at) for t in of_kind(nxt, Kind.TIER)] == [("bronze", local(2027, 3, 11, 0, 0))]
    assert account == Account.from_entries("c", account.entries)


# --- rewards ------------------------------------------------------------------------------------


def test_auto_issue_redeems_when_the_threshold_is_reached() -> None:
    program = default_program(auto_issue={"reward": "ship"})
    account = Account("c")
    apply(program, account, paid("A1", local(2026, 3, 1), "70.00", email="Auto@Example.com"))  # 350
    apply(program, account, completed("A1", local(2026, 3, 2)))
    out = apply(program, account, TimePassed(at=local(2026, 3, 17, 0, 0)))
    assert kinds(out) == [("RELEASE", 350), ("REDEEM", -300)]
    coupon = next(p for p in out.perks if isinstance(p.perk, IssueCoupon))
    assert coupon.store == "woo:main" and coupon.perk.email == "auto@example.com"
    assert account.available == 50


def test_reward_codes_are_keyed_deterministic_and_unambiguous() -> None:
    a = reward_code("secret", "redemption:1")
    assert a == reward_code("secret", "redemption:1")
    assert a != reward_code("secret", "redemption:2") and a != reward_code("other", "redemption:1")
    assert len(a.replace("-", "")) == 12 and a == a.lower()
    assert set(a.replace("-", "")) <= set(ALPHABET)
    assert not set("01ilo") & set(ALPHABET)


# --- translator ---------------------------------------------------------------------------------


def _order(status: OrderStatus, *, refunds: tuple[Refund, ...] = (), paid_at: object = None) -> Order:
    return Order(
        id="woo:main:77",
        number="77",
        currency="EUR",
        status=status,
        created_at=local(2026, 3, 1, 10),
        updated_at=local(2026, 3, 2, 10),
        email="x@example.com",
        customer_id=None,
        lines=(OrderLine("l1", "A", "A", 1, eur("20.00"), eur("20.00"), eur("4.20")),),
        total=eur("24.20"),
        total_tax=eur("4.20"),
        shipping_total=eur("0"),
        discount_total=eur("0"),
        coupon_lines=(CouponLine("ABCD-EFGH", eur("0"), eur("0")),),
        refunds=refunds,
        paid_at=paid_at,  # type: ignore[arg-type]
    )


def test_unpaid_orders_imply_no_events() -> None:
    assert events_from_order(_order(OrderStatus.PENDING), "woo:main", local(2026, 3, 2)) == []
    assert events_from_order(_order(OrderStatus.ON_HOLD), "woo:main", local(2026, 3, 2)) == []


def test_cancelled_after_payment() -> None:
    events = events_from_order(_order(OrderStatus.CANCELLED, paid_at=local(2026, 3, 1, 10, 5)), "woo:main", local(2026, 3, 3))
    assert [type(e).__name__ for e in events] == ["OrderPaid", "CouponUsed", "OrderCancelled"]
    assert events[1].code == "abcd-efgh"  # type: ignore[union-attr]
    program = default_program()
    account = Account("c")
    written = [e for ev in events for e in apply(program, account, ev).entries]
    assert [(e.kind.value, e.points) for e in written] == [("EARN", 100), ("REVERSE", -100)]


def test_refund_snapshot_flags_a_full_refund() -> None:
    refund = Refund(id="9", order_id="woo:main:77", created_at=local(2026, 3, 5), amount=eur("24.20"))
    events = events_from_order(_order(OrderStatus.REFUNDED, refunds=(refund,), paid_at=local(2026, 3, 1)), "woo:main", local(2026, 3, 6))
    refunded = [e for e in events if isinstance(e, OrderRefunded)]
    assert len(refunded) == 1 and refunded[0].fully_refunded


# --- persistence ---------------------------------------------------------------------------------


def _rich_account() -> tuple[object, Account]:
    program = default_program()
    account, rid = _nuria(program)
    _nuria_uses_code(program, account, rid)
    apply(program, account, refund_lines("N3", "r1", local(2026, 6, 15), (1, "16.75"), (2, "22.15")))
    apply(program, account, ManualAdjustment(at=local(2026, 6, 16), key="m1", points=25, reason="sorry"))
    apply(program, account, TimePassed(at=local(2027, 1, 1)))
    return program, account


def test_entries_round_trip_through_json() -> None:
    _program, account = _rich_account()
    rows = [json.loads(json.dumps(e.to_dict())) for e in account.entries]
    entries = [Entry.from_dict(r) for r in rows]
    assert entries == account.entries
    assert Account.from_entries("nuria", entries) == account
    assert {e.kind for e in entries} >= {Kind.EARN, Kind.RELEASE, Kind.REDEEM, Kind.RESTORE, Kind.EXPIRE, Kind.REWARD, Kind.NOTICE}


def test_verify_proves_the_ledger_and_finds_tampering() -> None:
    _program, account = _rich_account()
    report = verify("nuria", account.entries, Balance(account.available, account.pending, account.debt))
    assert report.ok, report.problems
    assert report.computed.net == sum(e.net for e in account.entries)
    wrong = verify("nuria", account.entries, Balance(account.available + 1, account.pending, account.debt))
    assert not wrong.ok and "differs from the ledger" in wrong.problems[0]
    rows = [e.to_dict() for e in account.entries]
    rows[1]["points"] += 1  # a RELEASE that moves more than its batch holds
    tampered = verify("nuria", [Entry.from_dict(r) for r in rows])
    assert not tampered.ok
    doubled = verify("nuria", [*account.entries, account.entries[0]])
    assert "appears twice" in doubled.problems[0]


def test_the_package_imports_no_io_code() -> None:
    code = (
        "import sys, connector.loyalty; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy','requests','adapters','alembic','shopify','woocommerce','sqlite3','urllib3','http'} "
        "or m.startswith(('connector.state','connector.sync','connector.cli','connector.outbox'))); print(bad)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "[]"


def test_decimal_figures_are_stored_as_strings() -> None:
    program = default_program()
    account = Account("c")
    out = apply(program, account, paid("D1", local(2026, 3, 2), "57.87"))
    row = out.entries[0].to_dict()
    assert row["rate"] == "5" and row["basis"] == "57.87"
    assert Decimal(row["meta"]["total"]) == Decimal("57.87")

"""LOYALTY.md §6 worked examples, with the numbers worked out in the document by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from connector.domain import (
    CouponLine,
    IssueCoupon,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    SetTier,
    ShippingLine,
)
from connector.loyalty import (
    Account,
    CouponUsed,
    EarnLine,
    Kind,
    OrderRefunded,
    Outcome,
    Redeem,
    RefundedLine,
    TimePassed,
    apply,
    events_from_order,
    reward_code,
)
from tests.loyalty.helpers import (
    SECRET,
    completed,
    default_program,
    earn_then_release,
    eur,
    kinds,
    local,
    of_kind,
    paid,
    refund_lines,
    snapshot_of,
)


def _carmen_order(status: OrderStatus, completed_at: object = None) -> Order:
    return Order(
        id="woo:main:1042",
        number="1042",
        currency="EUR",
        status=status,
        created_at=local(2026, 3, 2, 9, 30),
        updated_at=local(2026, 3, 5, 18),
        email="Carmen@Example.com",
        customer_id="woo:main:77",
        lines=(
            OrderLine(
                line_id="l1",
                sku="TEA-1",
                name="Tea set",
                quantity=1,
                subtotal=eur("64.30"),
                total=eur("57.87"),
                total_tax=eur("12.15"),
            ),
        ),
        total=eur("76.01"),
        total_tax=eur("13.19"),
        shipping_total=eur("4.95"),
        discount_total=eur("6.43"),
        shipping_lines=(ShippingLine("s1", "flat_rate", "Flat", eur("4.95"), eur("1.04")),),
        coupon_lines=(CouponLine("SPRING10", eur("6.43"), eur("1.35")),),
        paid_at=local(2026, 3, 2, 9, 31),
        completed_at=completed_at,  # type: ignore[arg-type]
    )


def test_ex1_carmen_earns_289_pending_then_available_20_march() -> None:
    program = default_program()
    account = Account("carmen")
    first = [apply(program, account, ev) for ev in events_from_order(_carmen_order(OrderStatus.PAID), "woo:main", local(2026, 3, 2, 10))]
    earn = [e for o in first for e in o.entries if e.kind is Kind.EARN]
    assert [e.points for e in earn] == [289]
    assert earn[0].source_key == "woo:main:order:1042:earn"
    assert earn[0].rate == 5 and earn[0].basis == Decimal("57.87")
    assert "289 = floor(5 × 57.87)" in earn[0].explanation
    assert account.pending == 289 and account.available == 0

    snap = snapshot_of(first[0])
    assert snap["pending"] == 289 and snap["available"] == 0
    assert snap["next_reward"] == "ship"
    assert snap["points_to_next_reward"] == 300
    assert snap["points_to_next_reward_after_pending"] == 11
    assert snap["spend_to_next_reward_after_pending"] == "2.20"
    assert snap["spend_to_next_reward"] == "60.00"

    later = _carmen_order(OrderStatus.COMPLETED, completed_at=local(2026, 3, 5, 17))
    outcomes = [apply(program, account, ev) for ev in events_from_order(later, "woo:main", local(2026, 3, 5, 18))]
    schedule = [e for o in outcomes for e in o.entries if e.kind is Kind.SCHEDULE]
    assert [e.available_at for e in schedule] == [local(2026, 3, 20, 0, 0)]
    assert sum(len(o.entries) for o in outcomes) == 1  # the paid facts were already recorded
    assert snapshot_of(outcomes[-1])["next_pending_date"] == "2026-03-20"

    assert apply(program, account, TimePassed(at=local(2026, 3, 19, 23, 59))).entries == ()
    assert account.available == 0
    release = apply(program, account, TimePassed(at=local(2026, 3, 20, 0, 0)))
    assert kinds(release) == [("RELEASE", 289)]
    assert release.entries[0].effective_at == local(2026, 3, 20, 0, 0)
    assert release.entries[0].expires_at == local(2027, 3, 20, 0, 0)
    assert (account.available, account.pending) == (289, 0)


def _jordi() -> tuple[object, Account]:
    program = default_program()
    account = Account("jordi")
    earn_then_release(program, account, "J0", "300.00", local(2026, 1, 5))  # Silver from 20 January
    assert account.tier == "silver"
    return program, account


def test_ex2_jordi_partial_refunds_cumulative_at_earn_time_rate() -> None:
    program, account = _jordi()
    o = apply(program, account, paid("J1", local(2026, 2, 1), "29.95", "34.90", "22.80"))  # type: ignore[arg-type]
    assert kinds(o) == [("EARN", 525)]
    assert o.entries[0].rate == Decimal("6.0")
    # the merchant raises Silver to 7 points/EUR before any refund: nothing below may change
    program = program.with_version(  # type: ignore[attr-defined]
        {
            "effective_from": "2026-02-05",
            "tiers": {
                "levels": [
                    {"name": "bronze", "from": "0"},
                    {"name": "silver", "from": "300", "multiplier": "1.4"},
                    {"name": "gold", "from": "800", "multiplier": "1.5"},
                ]
            },
        }
    )
    apply(program, account, completed("J1", local(2026, 2, 6)))  # available 21 February
    r1 = apply(program, account, refund_lines("J1", "r1", local(2026, 2, 8), (3, "22.80")))
    assert kinds(r1) == [("REVERSE", -136)]
    assert r1.entries[0].bucket.value == "pending"
    assert "remaining 389 = floor(6 × (87.65 − 22.80))" in r1.entries[0].explanation
    r2 = apply(program, account, refund_lines("J1", "r2", local(2026, 3, 1), (1, "29.95")))
    assert kinds(r2)[-1] == ("REVERSE", -180)
    assert r2.entries[-1].bucket.value == "available"
    r3 = apply(program, account, refund_lines("J1", "r3", local(2026, 3, 2), (2, "34.90")))
    assert kinds(r3)[0] == ("REVERSE", -209)
    j1 = account.orders["woo:main:order:J1"]
    assert account.batches[j1.batch_id].remaining == 0  # type: ignore[index]
    assert j1.points == 136 + 180 + 209
    # a later order is priced at the new rate, the old one was not touched
    o2 = apply(program, account, paid("J2", local(2026, 3, 3), "10.00"))
    assert kinds(o2) == [("EARN", 70)]


def _nuria(program: object) -> tuple[Account, str]:
    account = Account("nuria")
    earn_then_release(program, account, "N1", "64.00", local(2025, 5, 26))  # type: ignore[arg-type]  # B1 = 320
    earn_then_release(program, account, "N2", "82.00", local(2025, 10, 18))  # type: ignore[arg-type]  # B2 = 410
    b1 = account.orders["woo:main:order:N1"].batch_id
    b2 = account.orders["woo:main:order:N2"].batch_id
    assert account.batches[b1].expires_at == local(2026, 6, 10, 0, 0)  # type: ignore[index]
    assert account.batches[b2].expires_at == local(2026, 11, 2, 0, 0)  # type: ignore[index]
    assert account.available == 730
    return account, "n-redeem-1"


def _nuria_uses_code(program: object, account: Account, rid: str) -> None:
    redeem = apply(program, account, Redeem(at=local(2026, 5, 20), redemption_id=rid, reward_id="five", store="woo:main", email="nuria@example.com"))  # type: ignore[arg-type]
    b1 = account.orders["woo:main:order:N1"].batch_id
    b2 = account.orders["woo:main:order:N2"].batch_id
    assert redeem.entries[-1].kind is Kind.REDEEM
    assert redeem.entries[-1].allocations == ((b1, 320), (b2, 180))
    coupon = next(p.perk for p in redeem.perks if isinstance(p.perk, IssueCoupon))
    assert coupon.code == reward_code(SECRET, f"redemption:{rid}")
    assert coupon.expires_at.astimezone(local(2026, 7, 19).tzinfo) > local(2026, 7, 19, 0, 0)
    assert coupon.expires_at == local(2026, 5, 20) + timedelta(days=60)  # valid until 19 July
    assert coupon.amount == eur("5.00") and coupon.email == "nuria@example.com"
    order = paid(
        "N3",
        local(2026, 5, 25),
        lines=(
            EarnLine("N3-1", eur("18.90"), eur("16.75"), eur("0")),
            EarnLine("N3-2", eur("25.00"), eur("22.15"), eur("0")),
        ),
        total="38.90",
    )
    assert kinds(apply(program, account, order)) == [("EARN", 194)]  # type: ignore[arg-type]
    used = apply(program, account, CouponUsed(at=local(2026, 5, 25), store="woo:main", order_id="N3", code=coupon.code.upper()))  # type: ignore[arg-type]
    assert kinds(used) == [("REWARD", 0)] and account.rewards[rid].state == "used"
    apply(program, account, completed("N3", local(2026, 6, 2)))  # type: ignore[arg-type]
    assert account.batches[account.orders["woo:main:order:N3"].batch_id].available_at == local(2026, 6, 17, 0, 0)  # type: ignore[index]
    assert apply(program, account, TimePassed(at=local(2026, 6, 10, 1))).entries == ()  # type: ignore[arg-type]  # B1 is empty


def test_ex3_nuria_full_refund_restores_into_original_batches() -> None:
    program = default_program()
    account, rid = _nuria(program)
    _nuria_uses_code(program, account, rid)
    b1 = account.orders["woo:main:order:N1"].batch_id
    b2 = account.orders["woo:main:order:N2"].batch_id
    refund = OrderRefunded(
        at=local(2026, 6, 15),
        store="woo:main",
        order_id="N3",
        refund_id="r1",
        amount=eur("38.90"),
        lines=(RefundedLine("N3-1", eur("16.75")), RefundedLine("N3-2", eur("22.15"))),
    )
    out = apply(program, account, refund)
    assert kinds(out) == [("REVERSE", -194), ("RESTORE", 500), ("EXPIRE", -320)]
    assert out.entries[1].allocations == ((b1, 320), (b2, 180))
    assert out.entries[2].allocations == ((b1, 320),)
    assert account.available == 410 and account.pending == 0
    assert account.batches[b2].remaining == 410  # type: ignore[index]
    assert account.batches[b2].expires_at == local(2026, 11, 2, 0, 0)  # type: ignore[index]
    assert snapshot_of(out)["available"] == 410


def test_ex3_variant_partial_refund_keeps_the_reward_spent() -> None:
    program = default_program()
    account, rid = _nuria(program)
    _nuria_uses_code(program, account, rid)
    out = apply(program, account, refund_lines("N3", "r1", local(2026, 6, 15), (2, "22.15")))
    assert kinds(out) == [("REVERSE", -111)]
    assert "remaining 83" in out.entries[0].explanation
    assert account.available == 230 and account.pending == 83


def _pablo(policy: str) -> tuple[Account, Outcome, Outcome]:
    program = default_program(negative_policy=policy)
    account = Account("pablo")
    earn_then_release(program, account, "PA", "30.00", local(2025, 11, 16))  # BA = 150, expires 1 Dec 2026
    assert account.batches[account.orders["woo:main:order:PA"].batch_id].expires_at == local(2026, 12, 1, 0, 0)  # type: ignore[index]
    assert kinds(apply(program, account, paid("PB", local(2026, 3, 30), "72.40"))) == [("EARN", 362)]
    apply(program, account, completed("PB", local(2026, 4, 2)))
    apply(program, account, TimePassed(at=local(2026, 4, 17, 0, 0)))
    redeem = apply(program, account, Redeem(at=local(2026, 4, 20), redemption_id="p1", reward_id="five", store="woo:main", email="p@example.com"))
    own = account.orders["woo:main:order:PB"].batch_id
    ba = account.orders["woo:main:order:PA"].batch_id
    assert redeem.entries[-1].allocations == ((ba, 150), (own, 350))
    apply(program, account, paid("PC", local(2026, 4, 28), "19.00"))
    apply(program, account, completed("PC", local(2026, 4, 30)))  # 95 pending, available 15 May
    may6 = apply(program, account, refund_lines("PB", "r1", local(2026, 5, 6), (1, "72.40")))
    may15 = apply(program, account, TimePassed(at=local(2026, 5, 15, 0, 0)))
    return account, may6, may15


def test_ex4_pablo_forbid_with_debt() -> None:
    account, may6, may15 = _pablo("forbid_with_debt")
    assert kinds(may6) == [("REVERSE", -12), ("DEBT", -350)]
    assert snapshot_of(may6)["available"] == 0 and snapshot_of(may6)["pending"] == 95
    assert snapshot_of(may6)["debt"] == 350
    assert kinds(may15) == [("RELEASE", 95), ("DEBT_SETTLE", 95)]
    assert (account.available, account.pending, account.debt) == (0, 0, 255)


def test_ex4_pablo_allow_negative() -> None:
    account, may6, may15 = _pablo("allow_negative")
    assert kinds(may6) == [("REVERSE", -12), ("DEBT", -350)]
    assert snapshot_of(may6)["available"] == -350 and snapshot_of(may6)["pending"] == 95
    assert snapshot_of(may15)["available"] == -255


def test_ex4_pablo_clamp() -> None:
    account, may6, may15 = _pablo("clamp")
    assert kinds(may6) == [("REVERSE", -12), ("SHORTFALL", 0)]
    assert may6.entries[1].meta["forgiven"] == 350
    assert snapshot_of(may6)["available"] == 0 and snapshot_of(may6)["debt"] == 0
    assert kinds(may15) == [("RELEASE", 95)]
    assert (account.available, account.debt) == (95, 0)


def _irene(redeem: bool) -> tuple[object, Account]:
    program = default_program()
    account = Account("irene")
    earn_then_release(program, account, "I1", "52.00", local(2025, 4, 29))  # C1 = 260, expires 14 May 2026
    earn_then_release(program, account, "I2", "29.00", local(2025, 8, 15))  # C2 = 145, expires 30 Aug 2026
    apply(program, account, paid("I3", local(2026, 3, 20), "18.00"))  # 90 pending
    if redeem:
        out = apply(program, account, Redeem(at=local(2026, 4, 1), redemption_id="i1", reward_id="ship", store="woo:main", email="i@example.com"))
        c1 = account.orders["woo:main:order:I1"].batch_id
        c2 = account.orders["woo:main:order:I2"].batch_id
        assert out.entries[-1].allocations == ((c1, 260), (c2, 40))
        assert account.batches[c2].remaining == 105  # type: ignore[index]
        code = account.rewards["i1"].code  # she uses the free-shipping code on a later order
        apply(program, account, CouponUsed(at=local(2026, 4, 2), store="woo:main", order_id="I4", code=code))
    return program, account


def test_ex5_irene_expiry_soonest_first_with_notices() -> None:
    program, account = _irene(redeem=True)
    assert apply(program, account, TimePassed(at=local(2026, 5, 14, 1))).entries == ()  # type: ignore[arg-type]
    notice = apply(program, account, TimePassed(at=local(2026, 7, 31, 0, 0)))  # type: ignore[arg-type]
    assert kinds(notice) == [("NOTICE", 0)]
    assert notice.entries[0].explanation == "105 points expire on 30 August 2026"
    snap = snapshot_of(notice)
    assert (snap["expiring_points"], snap["expiring_on"]) == (105, "2026-08-30")
    second = apply(program, account, TimePassed(at=local(2026, 8, 23, 0, 0)))  # type: ignore[arg-type]
    assert [e.effective_at for e in second.entries] == [local(2026, 8, 23, 0, 0)]
    expire = apply(program, account, TimePassed(at=local(2026, 8, 30, 0, 0)))  # type: ignore[arg-type]
    assert kinds(expire) == [("EXPIRE", -105)]
    assert expire.entries[0].effective_at == local(2026, 8, 30, 0, 0)
    assert (account.available, account.pending) == (0, 90)


def test_ex5_irene_without_redeeming_loses_260_on_14_may() -> None:
    program, account = _irene(redeem=False)
    out = apply(program, account, TimePassed(at=local(2026, 5, 14, 0, 0)))  # type: ignore[arg-type]
    notices = of_kind(out, Kind.NOTICE)
    assert [(n.effective_at, n.meta["points"]) for n in notices[:2]] == [
        (local(2026, 4, 14, 0, 0), 260),
        (local(2026, 5, 7, 0, 0), 260),
    ]
    assert [(e.points, e.effective_at) for e in of_kind(out, Kind.EXPIRE)] == [(-260, local(2026, 5, 14, 0, 0))]
    assert account.available == 145


def test_ex6_tomas_silver_from_15_january_and_downgrade_10_june_2027() -> None:
    program = default_program()
    account = Account("tomas")
    earn_then_release(program, account, "O1", "118.40", local(2025, 5, 26))  # available 10 June 2025
    earn_then_release(program, account, "O2", "96.75", local(2025, 9, 7))  # available 22 September 2025
    assert account.tier is None or account.tier == "bronze"
    o3 = apply(program, account, paid("O3", local(2025, 12, 28), "91.30"))
    assert kinds(o3) == [("EARN", 456)]
    apply(program, account, completed("O3", local(2025, 12, 31)))
    up = apply(program, account, TimePassed(at=local(2026, 1, 15, 0, 0)))
    tier = of_kind(up, Kind.TIER)
    assert [(t.meta["tier"], t.effective_at) for t in tier] == [("silver", local(2026, 1, 15, 0, 0))]
    assert Decimal(tier[0].meta["metric"]) == Decimal("306.45")
    assert [p.perk.tier for p in up.perks if isinstance(p.perk, SetTier)] == ["vinculo-tier-silver"]
    o4 = apply(program, account, paid("O4", local(2026, 2, 10), "45.55"))
    assert kinds(o4) == [("EARN", 273)]
    apply(program, account, completed("O4", local(2026, 2, 12)))
    apply(program, account, TimePassed(at=local(2026, 2, 27, 0, 0)))
    # O1 leaves the window on 10 June 2026 (q = 233.60), but Silver is retained for 365 days
    mid = apply(program, account, TimePassed(at=local(2026, 6, 11)))
    assert of_kind(mid, Kind.TIER) == [] and account.tier == "silver"
    before = apply(program, account, TimePassed(at=local(2027, 6, 9, 23, 59)))
    assert of_kind(before, Kind.TIER) == [] and account.tier == "silver"
    down = apply(program, account, TimePassed(at=local(2027, 6, 10, 0, 0)))
    assert [(t.meta["tier"], t.effective_at) for t in of_kind(down, Kind.TIER)] == [("bronze", local(2027, 6, 10, 0, 0))]
    assert account.tier == "bronze"


def _shopify_order(refunds: tuple[Refund, ...] = ()) -> Order:
    return Order(
        id="shopify:eu:5531",
        number="#5531",
        currency="EUR",
        status=OrderStatus.PAID,
        created_at=local(2026, 4, 1, 10),
        updated_at=local(2026, 4, 3, 10),
        email="a@example.com",
        customer_id="shopify:eu:9",
        lines=(OrderLine("1", "MUG", "Mug", 1, eur("39.95"), eur("39.95"), eur("8.39")),),
        total=eur("48.34"),
        total_tax=eur("8.39"),
        shipping_total=eur("0"),
        discount_total=eur("0"),
        refunds=refunds,
        paid_at=local(2026, 4, 1, 10, 1),
    )


def test_ex8_webhook_retries_and_replay_write_one_entry_each() -> None:
    program = default_program()
    account = Account("ex8")
    log = []
    for when in (local(2026, 4, 1, 10, 2), local(2026, 4, 1, 10, 3), local(2026, 4, 1, 10, 9), local(2026, 4, 2, 3)):
        log += events_from_order(_shopify_order(), "shopify:eu", when)  # three webhooks + the sweep
    refund = Refund(
        id="881",
        order_id="shopify:eu:5531",
        created_at=local(2026, 4, 3, 9),
        amount=eur("12.10"),
        lines=(RefundLine("1", "MUG", 1, eur("10.00")),),
    )
    for when in (local(2026, 4, 3, 9, 1), local(2026, 4, 3, 9, 2)):
        log += events_from_order(_shopify_order((refund,)), "shopify:eu", when)
    written = [e for ev in log for e in apply(program, account, ev).entries]
    assert [(e.kind.value, e.points, e.source_key) for e in written] == [
        ("EARN", 199, "shopify:eu:order:5531:earn"),
        ("REVERSE", -50, "shopify:eu:order:5531:refund:881:reverse"),  # 199 - floor(5 × 29.95) = 50
    ]
    replayed = Account("ex8")
    again = [e for ev in log for e in apply(program, replayed, ev).entries]
    assert again == written
    assert [e for ev in log for e in apply(program, replayed, ev).entries] == []


@pytest.mark.parametrize("window", [0])
def test_window_zero_makes_points_spendable_at_completion(window: int) -> None:
    program = default_program(pending={"window_days": window, "clock_start": "completed"})
    account = Account("w0")
    apply(program, account, paid("Z1", local(2026, 3, 2), "20.00"))
    out = apply(program, account, completed("Z1", local(2026, 3, 5, 15)))
    assert kinds(out) == [("SCHEDULE", 0), ("RELEASE", 100)]
    assert out.entries[1].effective_at == local(2026, 3, 5, 15)
    assert account.available == 100

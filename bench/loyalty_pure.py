"""Throughput of the pure loyalty engine: synthetic order events through ``apply`` on one core.

    .venv/bin/python bench/loyalty_pure.py [--events 200000] [--customers 4000] [--seed 7]

Generates (untimed) a two-year history for each customer — payments, deliveries, partial and
full refunds, cancellations, redemptions, coupon use and monthly sweeps that release and expire
batches — merges it into one time-ordered stream, then times ``apply`` over the whole stream
with accounts kept in memory (the way the daemon keeps hot accounts). Prints events/s, entries
written and the time spent; a rebuild of every account from its entries is timed separately.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.domain import Money  # noqa: E402
from connector.errors import LoyaltyError  # noqa: E402
from connector.loyalty import (  # noqa: E402
    Account,
    CouponUsed,
    EarnLine,
    Event,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    Redeem,
    RefundedLine,
    TimePassed,
    apply,
    load_program,
    reward_code,
)

SECRET = "bench-secret"
PROGRAM = {
    "program": {
        "currency": "EUR",
        "earn": {"rate": 5, "first_order_bonus": 50},
        "pending": {"window_days": 14, "clock_start": "completed"},
        "expiry": {"mode": "batch", "days": 365, "notify_days_before": [30, 7]},
        "rewards": [
            {"id": "ship", "type": "free_shipping", "price": 300, "max_shipping": "6.95"},
            {"id": "five", "type": "fixed_amount", "amount": "5.00", "price": 500},
        ],
        "tiers": {
            "basis": "spend",
            "window": "rolling_365",
            "retention_days": 365,
            "levels": [
                {"name": "bronze", "from": "0"},
                {"name": "silver", "from": "300", "multiplier": "1.2"},
                {"name": "gold", "from": "800", "multiplier": "1.5"},
            ],
        },
    }
}
START = datetime(2025, 1, 1, 8, tzinfo=UTC)


def _eur(cents: int) -> Money:
    return Money(Decimal(cents).scaleb(-2), "EUR")


def customer_events(rng: random.Random, cid: str, budget: int) -> list[tuple[datetime, int, str, Event]]:
    """One customer's history as (time, sequence, customer, event)."""
    out: list[tuple[datetime, int, str, Event]] = []
    seq = 0

    def add(at: datetime, event: Event) -> None:
        nonlocal seq
        out.append((at, seq, cid, event))
        seq += 1

    t = START + timedelta(hours=rng.randint(0, 24 * 60))
    n = 0
    redemptions: list[str] = []
    while len(out) < budget:
        t += timedelta(hours=rng.randint(24, 24 * 70))
        oid = f"{cid}-{n}"
        n += 1
        lines = [rng.randint(500, 9000) for _ in range(rng.randint(1, 3))]
        total = sum(lines)
        add(
            t,
            OrderPaid(
                at=t,
                store="woo:main",
                order_id=oid,
                number=oid,
                placed_at=t - timedelta(minutes=3),
                currency="EUR",
                lines=tuple(EarnLine(f"{oid}-{i}", _eur(c), _eur(c), _eur(c * 21 // 100)) for i, c in enumerate(lines)),
                total=_eur(total * 121 // 100 + 495),
                shipping=_eur(495),
                email=f"{cid}@example.com",
            ),
        )
        roll = rng.random()
        if roll < 0.04:
            add(t + timedelta(hours=5), OrderCancelled(at=t + timedelta(hours=5), store="woo:main", order_id=oid))
            continue
        done = t + timedelta(days=rng.randint(1, 4))
        add(done, OrderCompleted(at=done, store="woo:main", order_id=oid))
        if roll < 0.16:
            when = done + timedelta(days=rng.randint(1, 30))
            if rng.random() < 0.5:
                refunded = (RefundedLine(f"{oid}-0", _eur(lines[0])),)
                amount = _eur(lines[0])
            else:
                refunded = ()
                amount = _eur(rng.randint(100, total))
            add(when, OrderRefunded(at=when, store="woo:main", order_id=oid, refund_id=f"r{n}", amount=amount, lines=refunded))
        if rng.random() < 0.12:
            when = done + timedelta(days=20)
            rid = f"{oid}-x"
            redemptions.append(rid)
            add(when, Redeem(at=when, redemption_id=rid, reward_id="ship", store="woo:main", email=f"{cid}@example.com"))
            if rng.random() < 0.7:
                use = when + timedelta(days=rng.randint(1, 40))
                code = reward_code(SECRET, f"redemption:{rid}")
                add(use, CouponUsed(at=use, store="woo:main", order_id=f"{oid}-next", code=code))
        if rng.random() < 0.45:
            tick = t + timedelta(days=rng.randint(15, 60))
            add(tick, TimePassed(at=tick))
    return out[:budget]


def build(events: int, customers: int, seed: int) -> list[tuple[str, Event]]:
    rng = random.Random(seed)
    per = max(1, events // customers)
    stream: list[tuple[datetime, int, str, Event]] = []
    for i in range(customers):
        stream.extend(customer_events(rng, f"c{i}", per))
    stream.sort(key=lambda item: (item[0], item[2], item[1]))
    return [(cid, event) for _t, _s, cid, event in stream[:events]]


def run(
    program: object, stream: list[tuple[str, Event]]
) -> tuple[float, float, dict[str, Account], int, int, int, dict[str, int]]:
    accounts: dict[str, Account] = {}
    entries = perks = rejected = 0
    kinds: dict[str, int] = {}
    start = time.perf_counter()
    cpu = time.process_time()
    for cid, event in stream:
        account = accounts.get(cid)
        if account is None:
            account = accounts[cid] = Account(cid)
        try:
            outcome = apply(program, account, event)  # type: ignore[arg-type]
        except LoyaltyError:
            rejected += 1
            continue
        entries += len(outcome.entries)
        perks += len(outcome.perks)
        for entry in outcome.entries:
            kinds[entry.kind.value] = kinds.get(entry.kind.value, 0) + 1
    return time.process_time() - cpu, time.perf_counter() - start, accounts, entries, perks, rejected, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (shared machines are noisy)")
    args = parser.parse_args()

    program = load_program(PROGRAM, source="bench", code_secret=SECRET)
    t0 = time.perf_counter()
    stream = build(args.events, args.customers, args.seed)
    built = time.perf_counter() - t0

    best: tuple[float, float, dict[str, Account], int, int, int, dict[str, int]] | None = None
    for _ in range(args.repeat):
        result = run(program, stream)
        if best is None or result[0] < best[0]:
            best = result
    assert best is not None
    cpu_s, elapsed, accounts, entries, perks, rejected, kinds = best

    r0 = time.perf_counter()
    for cid, account in accounts.items():
        rebuilt = Account.from_entries(cid, account.entries)
        assert rebuilt.available == account.available and rebuilt.pending == account.pending
    rebuild_s = time.perf_counter() - r0

    print(f"python {platform.python_version()} on {platform.machine()} ({platform.processor() or 'cpu'})")
    print(f"generated {len(stream):,} events for {len(accounts):,} customers in {built:.1f}s (untimed)")
    print(
        f"applied   {len(stream):,} events in {cpu_s:.2f}s CPU = {len(stream) / cpu_s:,.0f} events/s "
        f"(wall {elapsed:.2f}s = {len(stream) / elapsed:,.0f} events/s)"
    )
    print(f"          {entries:,} entries ({entries / cpu_s:,.0f}/s CPU), {perks:,} perks, {rejected:,} rejected redemptions")
    print("          entries by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    print(f"rebuilt   {len(accounts):,} accounts from {entries:,} entries in {rebuild_s:.2f}s = {entries / rebuild_s:,.0f} entries/s")


if __name__ == "__main__":
    main()

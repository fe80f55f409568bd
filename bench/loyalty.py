"""Loyalty throughput: synthetic order events through the pure engine, and committed to SQLite.

    .venv/bin/python bench/loyalty.py [--events 200000] [--customers 4000] [--seed 7]
                                      [--page 1000] [--gc freeze|tuned|default] [--only pure|committed]

Generates (untimed) a two-year history for each customer — payments, deliveries, partial and
full refunds, cancellations, redemptions, coupon use and monthly sweeps that release and expire
batches — and merges it into one time-ordered stream. Then:

* pure: ``apply`` over the whole stream on one core, accounts kept in memory (the way the daemon
  keeps hot accounts); then ``apply_many`` per customer within pages of ``--page`` events; then
  a rebuild of every account from its entries;
* committed: the same stream through ``LoyaltyBridge.apply_batch`` — engine, ledger rows, balance
  cache and outbox commands — into a SQLite file (WAL, synchronous=NORMAL, as the connector opens
  it), one transaction per page of ``--page`` events, one item per event (each event is one
  observation of an order, as a sync page brings them); and per event through ``apply_events``
  (what ``observe`` does per order) for comparison.

``--gc freeze`` (default) runs ``gc.collect(); gc.freeze()`` after generation so the collector
does not rescan the untimed stream; thresholds are left alone. ``--gc tuned`` also raises the
thresholds to (100000, 50, 100), as a daemon holding many hot accounts may. CPU is process time (SQLite runs
in-process); wall is ``perf_counter``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector import outbox  # noqa: E402
from connector.domain import Money, PublishLoyalty  # noqa: E402
from connector.errors import LoyaltyError  # noqa: E402
from connector.loyalty import (  # noqa: E402
    Account,
    CouponUsed,
    EarnLine,
    Entry,
    Event,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    Outcome,
    Program,
    Redeem,
    RefundedLine,
    TimePassed,
    apply,
    apply_many,
    load_program,
    reward_code,
)
from connector.loyalty.engine import PerkCommand  # noqa: E402
from connector.rewards import LoyaltyBridge  # noqa: E402
from connector.state import ledger  # noqa: E402
from connector.state.db import Database  # noqa: E402
from connector.state.models import CustomerRecord, IdentityMapping  # noqa: E402

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


def _machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


class Tally:
    def __init__(self) -> None:
        self.entries = self.perks = self.rejected = 0
        self.kinds: dict[str, int] = {}
        self.commands: list[PerkCommand] = []

    def add(self, outcome: Outcome) -> None:
        self.entries += len(outcome.entries)
        self.perks += len(outcome.perks)
        self.commands.extend(outcome.perks)
        kinds = self.kinds
        for entry in outcome.entries:
            kinds[entry.kind.value] = kinds.get(entry.kind.value, 0) + 1


def pure(program: Program, stream: list[tuple[str, Event]]) -> tuple[float, float, dict[str, Account], Tally]:
    """One ``apply`` per event."""
    accounts: dict[str, Account] = {}
    tally = Tally()
    start = time.perf_counter()
    cpu = time.process_time()
    for cid, event in stream:
        account = accounts.get(cid)
        if account is None:
            account = accounts[cid] = Account(cid)
        try:
            outcome = apply(program, account, event)
        except LoyaltyError:
            tally.rejected += 1
            continue
        tally.add(outcome)
    return time.process_time() - cpu, time.perf_counter() - start, accounts, tally


def pages(stream: list[tuple[str, Event]], size: int) -> list[list[tuple[str, Event]]]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def pure_many(program: Program, stream: list[tuple[str, Event]], page: int) -> tuple[float, float, dict[str, Account], Tally]:
    """``apply_many`` per customer within each page (customers are independent, so grouping a
    page by customer keeps every customer's own order). A group with a rejected event is
    applied again one event at a time, as a caller would."""
    accounts: dict[str, Account] = {}
    tally = Tally()
    start = time.perf_counter()
    cpu = time.process_time()
    for chunk in pages(stream, page):
        groups: dict[str, list[Event]] = {}
        for cid, event in chunk:
            groups.setdefault(cid, []).append(event)
        for cid, events in groups.items():
            account = accounts.get(cid)
            if account is None:
                account = accounts[cid] = Account(cid)
            try:
                tally.add(apply_many(program, account, events))
            except LoyaltyError:
                for event in events:
                    try:
                        tally.add(apply(program, account, event))
                    except LoyaltyError:
                        tally.rejected += 1
    return time.process_time() - cpu, time.perf_counter() - start, accounts, tally


def floor(accounts: dict[str, Account], commands: list[PerkCommand], events: int) -> dict[str, float]:
    """CPU seconds of the work *any* engine must do to hand over this stream's output.

    Measured on the entries and perks the engine produced: deriving every entry id from its
    source key, building every entry from its values, folding every entry into its account (the
    rebuild), building every perk around a copy of its snapshot, and one outcome per event. No
    rule is evaluated, no money is multiplied, no explanation or date is formatted, so the sum
    is a strict lower bound of an engine's cost per event on this machine and runtime.
    """
    clock = time.process_time
    entries = [entry for account in accounts.values() for entry in account.entries]
    blake2b = hashlib.blake2b
    out: dict[str, float] = {}
    c = clock()
    for entry in entries:
        "e" + blake2b(entry.source_key.encode(), digest_size=10).hexdigest()
    out["entry ids"] = clock() - c
    c = clock()
    for entry in entries:
        Entry(*entry)
    out["entry values"] = clock() - c
    c = clock()
    for cid, account in accounts.items():
        Account.from_entries(cid, account.entries)
    out["fold (rebuild)"] = clock() - c
    c = clock()
    for command in commands:
        perk = command.perk
        if isinstance(perk, PublishLoyalty):
            perk = PublishLoyalty(key=perk.key, customer_id=perk.customer_id, snapshot=dict(perk.snapshot))
        PerkCommand(perk, command.store)
    out["perks"] = clock() - c
    any_account = next(iter(accounts.values()))
    c = clock()
    for _ in range(events):
        Outcome((), (), any_account, ())
    out["outcomes"] = clock() - c
    return out


ORDER_EVENTS = (OrderPaid, OrderCompleted, OrderRefunded, OrderCancelled)


def _seed_customers(db: Database, customers: set[str]) -> None:
    """Every customer known on store ``main`` (untimed), so publish and tier commands fan out."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    with db.transaction() as s:
        s.add_all(
            CustomerRecord(vinculo_id=cid, email_key=f"{cid}@example.com", data={}, digest="-", created_at=at, updated_at=at)
            for cid in sorted(customers)
        )
        s.add_all(
            IdentityMapping(
                platform_id=f"woocommerce:main:customer:{cid}", source="main", kind="customer", vinculo_id=cid,
                matched_by="new", created_at=at, updated_at=at,
            )
            for cid in sorted(customers)
        )


def committed(
    program: Program, stream: list[tuple[str, Event]], page: int, workdir: Path, per_event: bool
) -> tuple[float, float, dict[str, int]]:
    db = Database(f"sqlite:///{workdir / ('per_event.db' if per_event else 'batch.db')}")
    _seed_customers(db, {cid for cid, _e in stream})
    stamp = datetime(2027, 1, 1, tzinfo=UTC)
    bridge = LoyaltyBridge(program, ["main"], clock=lambda: stamp)
    queued = rejected = 0
    start = time.perf_counter()
    cpu = time.process_time()
    for chunk in pages(stream, page):
        with db.transaction() as s:
            if per_event:
                for cid, event in chunk:
                    try:
                        queued += bridge.apply_events(s, cid, [event])
                    except LoyaltyError:
                        rejected += 1
            else:
                result = bridge.apply_batch(s, [(cid, [event], None) for cid, event in chunk])
                queued += result.queued
                rejected += len(result.failed)
    cpu_s, wall = time.process_time() - cpu, time.perf_counter() - start
    with db.transaction() as s:
        counts = {
            "ledger rows": ledger.entry_total(s),
            "balance rows": len(ledger.balances(s)),
            **{f"outbox {k}": v for k, v in outbox.summary(s).items()},
        }
    counts["queued"] = queued
    counts["rejected"] = rejected
    db.dispose()
    return cpu_s, wall, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page", type=int, default=1_000, help="events per page / transaction")
    parser.add_argument("--gc", choices=("freeze", "tuned", "default"), default="freeze")
    parser.add_argument("--only", choices=("pure", "committed"), default=None)
    parser.add_argument("--no-per-event", action="store_true", help="skip the per-event committed run")
    args = parser.parse_args()

    program = load_program(PROGRAM, source="bench", code_secret=SECRET)
    t0 = time.perf_counter()
    stream = build(args.events, args.customers, args.seed)
    built = time.perf_counter() - t0
    n = len(stream)
    orders = sum(1 for _c, e in stream if isinstance(e, ORDER_EVENTS))
    distinct = len({(e.store, e.order_id) for _c, e in stream if isinstance(e, ORDER_EVENTS)})
    if args.gc in ("freeze", "tuned"):
        gc.collect()
        gc.freeze()
    if args.gc == "tuned":
        gc.set_threshold(100_000, 50, 100)

    print(_machine())
    print(f"gc: {args.gc}; {time.strftime('%Y-%m-%d %H:%M')} (machine clock)")
    print(f"generated {n:,} events ({orders:,} order events on {distinct:,} orders) for {args.customers:,} customers in {built:.1f}s (untimed)")

    if args.only in (None, "pure"):
        cpu_s, wall, accounts, tally = pure(program, stream)
        print(
            f"pure apply      {n:,} events: {cpu_s:.2f}s CPU = {n / cpu_s:,.0f} events/s "
            f"(wall {wall:.2f}s = {n / wall:,.0f} events/s)"
        )
        print(f"                {tally.entries:,} entries, {tally.perks:,} perks, {tally.rejected:,} rejected redemptions")
        print("                entries by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.kinds.items())))
        cpu_m, wall_m, many_accounts, many = pure_many(program, stream, args.page)
        same = all(many_accounts[c] == a for c, a in accounts.items())
        print(
            f"pure apply_many {n:,} events (per customer per page of {args.page:,}): {cpu_m:.2f}s CPU = "
            f"{n / cpu_m:,.0f} events/s (wall {wall_m:.2f}s); {many.entries:,} entries, {many.perks:,} perks; "
            f"accounts identical to apply: {same}"
        )
        r0 = time.process_time()
        for cid, account in accounts.items():
            rebuilt = Account.from_entries(cid, account.entries)
            assert rebuilt == account
        rebuild_s = time.process_time() - r0
        print(f"rebuild         {len(accounts):,} accounts from {tally.entries:,} entries in {rebuild_s:.2f}s CPU = {tally.entries / rebuild_s:,.0f} entries/s")
        parts = floor(accounts, tally.commands, n)
        low = sum(parts.values())
        print(
            f"floor           {low:.2f}s CPU = {low / n * 1e6:.1f} µs/event, so no engine producing this output "
            f"on this machine exceeds {n / low:,.0f} events/s ("
            + ", ".join(f"{k} {v:.2f}s" for k, v in parts.items())
            + f"); the engine spends {cpu_s / n * 1e6:.1f} µs/event"
        )

    if args.only in (None, "committed"):
        with tempfile.TemporaryDirectory(prefix="vinculo-bench-") as tmp:
            runs = [False] if args.no_per_event else [False, True]
            for per_event in runs:
                cpu_s, wall, counts = committed(program, stream, args.page, Path(tmp), per_event)
                label = "apply_events per event" if per_event else "apply_batch per page "
                print(
                    f"committed {label} ({args.page:,} events/transaction): {wall:.2f}s wall ({cpu_s:.2f}s CPU) = "
                    f"{n / wall:,.0f} events/s, {orders / wall:,.0f} order events/s, "
                    f"{distinct / wall:,.0f} distinct orders/s"
                )
                print("                " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    main()

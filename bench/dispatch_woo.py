"""Loyalty publishes drained to the WooCommerce simulator: batched against one call per command.

    python bench/dispatch_woo.py [--customers 2000] [--batch-size 50]

Each customer has a waiting balance publish and a tier tag in the outbox (what a day's sweep
or a first sync leaves). The same rows are drained twice into fresh stores, in one run:

* batched: the WooCommerce adapter as the dispatcher gets it (a ``BatchPublisher``): one
  ``include=`` read per 100 customers and one ``customers/batch`` per ``--batch-size`` writes;
* one by one (baseline): the same adapter seen only through ``publish_loyalty`` / ``set_tier``,
  a read and a write per command.

The simulator runs in a child process, so wall time is the connector's plus the HTTP exchange.
Calls are counted on the client (every HTTP attempt). Results go to stdout; record them in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.woocommerce.adapter import WooCommerceAdapter  # noqa: E402
from connector import outbox  # noqa: E402
from connector.domain import PublishLoyalty, SetTier  # noqa: E402
from connector.outbox import Dispatcher  # noqa: E402
from connector.ports import WriteResult  # noqa: E402
from connector.state.db import Database  # noqa: E402
from connector.state.models import CustomerRecord, IdentityMapping, OutboxCommand  # noqa: E402

AT = datetime(2026, 11, 24, tzinfo=UTC)
TIERS = ("vinculo-tier-bronze", "vinculo-tier-silver", "vinculo-tier-gold")


def _simulator(conn: Any, customers: int) -> None:
    from adapters.woocommerce.simulator import WooSimulator

    with WooSimulator() as sim:
        ids = [int(sim.create_customer(email=f"b{i}@example.com", first_name=f"B{i}")["id"]) for i in range(customers)]
        conn.send((sim.url, sim.consumer_key, sim.consumer_secret, ids))
        while True:
            command = conn.recv()
            if command == "counts":
                conn.send(dict(sim.counts))
            elif command == "reset":
                sim.reset_counts()
                conn.send(True)
            else:
                conn.send(True)
                return


class OneByOne:
    """The adapter without ``publish_many``: what the dispatcher did before batching."""

    def __init__(self, adapter: WooCommerceAdapter) -> None:
        self.adapter = adapter

    def publish_loyalty(self, command: PublishLoyalty, ref: str) -> WriteResult:
        return self.adapter.publish_loyalty(command, ref)

    def set_tier(self, command: SetTier, ref: str) -> WriteResult:
        return self.adapter.set_tier(command, ref)


def _outbox(path: Path, ids: list[int]) -> Database:
    db = Database(f"sqlite:///{path}")
    with db.transaction() as s:
        for n, local in enumerate(ids):
            vid = f"v{n}"
            s.add(CustomerRecord(vinculo_id=vid, email_key=f"b{n}@example.com", data={}, digest="-",
                                 created_at=AT, updated_at=AT))
            s.add(IdentityMapping(platform_id=f"woo:main:{local}", source="main", kind="customer", vinculo_id=vid,
                                  matched_by="new", created_at=AT, updated_at=AT))
    commands: list[tuple[Any, str]] = []
    for n in range(len(ids)):
        vid = f"v{n}"
        snapshot = {"available": 37 * n % 900, "pending": 5 * n % 300, "tier": TIERS[n % 3][13:],
                    "next_reward": "five", "points_to_next_reward": 500 - 37 * n % 500, "expiring_points": 0,
                    "expiring_on": None, "currency": "EUR", "as_of": AT.isoformat()}
        commands.append((PublishLoyalty(key=f"publish:{vid}:1", customer_id=vid, snapshot=snapshot), "main"))
        commands.append((SetTier(key=f"tier:{vid}:1", customer_id=vid, tier=TIERS[n % 3], all_tiers=TIERS), "main"))
    with db.transaction() as s:
        outbox.enqueue_many(s, commands, at=AT)
    return db


def _drain(db: Database, store: Any, adapter: WooCommerceAdapter) -> tuple[float, int, dict[str, int]]:
    before = adapter.calls
    dispatcher = Dispatcher(db, {"main": store}, clock=lambda: AT)
    start = time.perf_counter()
    stats = dispatcher.drain()
    wall = time.perf_counter() - start
    with db.transaction() as s:
        left = s.query(OutboxCommand).filter(OutboxCommand.status != "done").count()
    assert left == 0, f"{left} commands not done"
    return wall, adapter.calls - before, stats.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()

    runs: list[tuple[str, float, int, dict[str, int]]] = []
    for name in ("batched", "one by one"):
        parent, child = mp.Pipe()
        proc = mp.Process(target=_simulator, args=(child, args.customers), daemon=True)
        proc.start()
        url, key, secret, ids = parent.recv()
        adapter = WooCommerceAdapter(store="main", url=url, consumer_key=key, consumer_secret=secret,
                                     batch_size=args.batch_size)
        with tempfile.TemporaryDirectory() as tmp:
            db = _outbox(Path(tmp) / "state.db", ids)
            store = adapter if name == "batched" else OneByOne(adapter)
            wall, calls, stats = _drain(db, store, adapter)
            db.dispose()
        parent.send("stop")
        parent.recv()
        proc.join(timeout=10)
        runs.append((name, wall, calls, stats))

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}; "
          f"{time.strftime('%Y-%m-%d %H:%M')} (machine clock)")
    print(f"{args.customers:,} customers, {2 * args.customers:,} commands (balance + tier each), "
          f"batch size {args.batch_size}")
    for name, wall, calls, stats in runs:
        print(f"{name:<11} {calls:>6,} calls ({calls / args.customers:.3f} per customer), {wall:6.2f}s wall, "
              f"{2 * args.customers / wall:,.0f} commands/s; {stats}")
    base, batched = runs[1], runs[0]
    print(f"batched / one by one: {base[2] / batched[2]:.0f}x fewer calls, {base[1] / batched[1]:.1f}x faster")


if __name__ == "__main__":
    main()

"""Full and incremental sync from the WooCommerce simulator into the file-drop ERP.

    python bench/sync_woo.py [--orders 10000] [--customers 2000] [--changed 50]

The simulator runs in a child process so the wall time, CPU and peak RSS reported are the
connector's own. API calls are counted on the client (every HTTP attempt) and compared with the
minimum ⌈N/100⌉ per collection. Results go to stdout; record them in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _simulator(conn: Any, customers: int, orders: int) -> None:
    from adapters.woocommerce.simulator import WooSimulator

    with WooSimulator() as sim:
        seeded_until = sim.clock.now() - timedelta(hours=1)
        sim.seed(customers=customers, orders=orders, seed=42, months=6, now=seeded_until)
        conn.send((sim.url, sim.consumer_key, sim.consumer_secret, len(sim.store.orders), len(sim.store.customers)))
        while True:
            command, arg = conn.recv()
            if command == "touch":
                paid = [oid for oid, o in sim.store.orders.items() if o.status == "processing"][:arg]
                for oid in paid:
                    sim.set_order_status(oid, "completed")
                conn.send(len(paid))
            elif command == "advance":
                sim.clock.advance(arg)
                conn.send(True)
            elif command == "counts":
                conn.send(dict(sim.counts))
            elif command == "reset":
                sim.reset_counts()
                conn.send(True)
            else:
                conn.send(True)
                return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--changed", type=int, default=50)
    args = parser.parse_args()

    from adapters.files.adapter import FilesErp
    from adapters.woocommerce.adapter import WooCommerceAdapter
    from connector.state.db import Database
    from connector.sync.engine import SyncEngine

    parent, child = mp.Pipe()
    proc = mp.Process(target=_simulator, args=(child, args.customers, args.orders), daemon=True)
    proc.start()
    url, key, secret, n_orders, n_customers = parent.recv()

    def sim(command: str, arg: Any = None) -> Any:
        parent.send((command, arg))
        return parent.recv()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "erp"
        root.mkdir()
        store = WooCommerceAdapter(store="main", url=url, consumer_key=key, consumer_secret=secret)
        engine = SyncEngine(Database(f"sqlite:///{tmp}/state.db"), {"main": store}, FilesErp(store="erp", root=root))

        cpu0, t0 = time.process_time(), time.perf_counter()
        full = engine.sync_store("main", full=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        full_calls = store.calls
        server_full = sim("counts")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        # First incremental run: the overlap window re-reads whatever the seed stamped in the
        # 10 minutes before the watermark (the seed piles late status changes onto its last
        # second), so it is reported separately from the steady state.
        sim("touch", args.changed)
        before = store.calls
        warm = engine.sync_store("main")
        warm_calls = store.calls - before
        sim("advance", 11 * 60)  # the next changes come later than the overlap window
        touched = sim("touch", args.changed)
        sim("reset")
        before = store.calls
        t1 = time.perf_counter()
        incr = engine.sync_store("main")
        incr_wall = time.perf_counter() - t1
        incr_calls = store.calls - before
        server_incr = sim("counts")
        sim("stop")

    minimum = math.ceil(n_orders / 100) + math.ceil(n_customers / 100)
    records = full.counts["orders_seen"] + full.counts["customers_seen"]
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}")
    print(f"store: {n_orders} orders, {n_customers} customers (seed 42)")
    print(f"full sync: {wall:.1f} s wall, {cpu:.1f} s CPU, {records / wall:.0f} records/s, peak RSS {rss_mb:.0f} MB")
    print(f"  counts: {dict(full.counts)}")
    print(f"  API calls: {full_calls} (server saw {sum(server_full.values())}: {server_full}); "
          f"minimum {minimum}; ratio {full_calls / minimum:.3f}")
    print(f"first incremental after seeding: {warm_calls} calls, orders seen {warm.counts['orders_seen']} "
          f"(overlap re-read of the seed's last seconds)")
    print(f"incremental after {touched} changed orders (steady state): {incr_calls} calls ({server_incr}), {incr_wall:.2f} s; "
          f"orders changed {incr.counts['orders_changed']}, exported {incr.counts['orders_exported']}")


if __name__ == "__main__":
    main()

"""Shopify order backfill: paginated reads vs one bulk operation, against the local simulator.

    .venv/bin/python bench/shopify_backfill.py --orders 100000

What it measures (figures go to bench/RESULTS.md, never into test assertions):

1. Paginated read of every order (``pull_orders``, first: 250) on a Standard-plan bucket
   (2000 points, 100/s). The simulator runs on a manual clock that the adapter's bucket advances
   when it waits, so "Shopify time" is the time the real rate limit would impose, while "wall"
   is what this machine spent. Also: calls, THROTTLED answers seen, and the share of the cost
   bucket used = points charged / (initial bucket + restore rate × Shopify time).
2. Bulk backfill (``backfill_orders``) in a child process, grouped (one order in memory) and
   ungrouped (staged on disk): calls, wall time, and the child's peak RSS before and after, so
   the streaming cost is separated from the interpreter's own footprint.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.shopify.adapter import ShopifyAdapter  # noqa: E402
from adapters.shopify.throttle import ShopBucket  # noqa: E402


def peak_rss_mb() -> float:
    """VmHWM of this process. (ru_maxrss would not do: Linux carries it over from the parent
    that forked the child, so the child would report the simulator's memory.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_bulk(url: str, token: str, domain: str, grouped: bool) -> None:
    """Runs in a fresh interpreter so its peak RSS is the adapter's alone."""
    base = peak_rss_mb()
    adapter = ShopifyAdapter(store="bench", shop_domain=domain, access_token=token, base_url=url,
                             bucket=ShopBucket(), timeout=120.0)
    adapter.bulk.poll_start = 0.2
    start = time.perf_counter()
    orders = rejected = 0
    for page in adapter.backfill_orders(group_objects=grouped):
        orders += len(page.items)
        rejected += len(page.rejected)
    wall = time.perf_counter() - start
    charged = adapter.client.cost_actual
    print(json.dumps({
        "grouped": grouped, "orders": orders, "rejected": rejected, "calls": adapter.client.calls,
        "cost_charged": charged,
        # The refunded-order re-reads are the only cost-limited part; on a Standard bucket
        # they would add max(0, points − 2000)/100 seconds.
        "standard_plan_estimate_s": round(wall + max(0.0, charged - 2000) / 100, 1),
        "polls": adapter.bulk.polls, "wall_s": round(wall, 2), "rss_base_mb": round(base, 1),
        "rss_peak_mb": round(peak_rss_mb(), 1),
    }))


def paginated(sim: Any, clock: Any) -> dict[str, Any]:
    bucket = ShopBucket(clock=clock, sleep=clock.advance)
    adapter = ShopifyAdapter(store="bench", shop_domain=sim.shop_domain, access_token=sim.access_token,
                             base_url=sim.url, bucket=bucket, sleep=clock.advance, timeout=120.0)
    t_virtual = clock()
    start = time.perf_counter()
    orders = 0
    for page in adapter.pull_orders(None):
        orders += len(page.items)
    wall = time.perf_counter() - start
    shopify_time = clock() - t_virtual
    capacity = 2000 + 100 * shopify_time
    return {
        "orders": orders, "calls": adapter.client.calls, "wall_s": round(wall, 2),
        "shopify_time_s": round(shopify_time, 1), "throttled": bucket.stats.throttled,
        "cost_requested": adapter.client.cost_requested, "cost_charged": adapter.client.cost_actual,
        "bucket_share": round(adapter.client.cost_actual / capacity, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--child-bulk", nargs=4, metavar=("URL", "TOKEN", "DOMAIN", "GROUPED"))
    args = parser.parse_args()
    if args.child_bulk:
        url, token, domain, grouped = args.child_bulk
        child_bulk(url, token, domain, grouped == "1")
        return

    from adapters.shopify.simulator import ManualClock, ShopifySimulator

    clock = ManualClock()
    sim = ShopifySimulator(clock=clock).start()
    t = time.perf_counter()
    sim.seed(customers=max(10, args.orders // 10), orders=args.orders, seed=2026, days=365)
    print(f"seeded {args.orders} orders in {time.perf_counter() - t:.1f}s", flush=True)
    results: dict[str, Any] = {"orders_seeded": args.orders}
    results["paginated"] = paginated(sim, clock)
    print(json.dumps(results["paginated"]), flush=True)
    sim.stop()
    # Bulk runs on a real clock (polls are real waits) and a Plus bucket, so the refunded-order
    # re-reads are not throttled; their cost is reported and converted to Standard-plan time.
    bulk_sim = ShopifySimulator(plan="plus").start()
    bulk_sim.seed(customers=max(10, args.orders // 10), orders=args.orders, seed=2026, days=365)
    for grouped in (True, False):
        out = subprocess.run(
            [sys.executable, __file__, "--child-bulk", bulk_sim.url, bulk_sim.access_token,
             bulk_sim.shop_domain, "1" if grouped else "0"],
            capture_output=True, text=True,
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        results["bulk_grouped" if grouped else "bulk_staged"] = json.loads(out.stdout.strip().splitlines()[-1])
        print(out.stdout.strip().splitlines()[-1], flush=True)
    bulk_sim.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

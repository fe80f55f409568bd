"""The shared cost bucket, driven by a hand-cranked clock (NOTES §2.2 worked example)."""

from __future__ import annotations

import threading

import pytest

from adapters.shopify.throttle import ShopBucket, ThrottleStatus, bucket_for


class FakeClock:
    """Time moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def make_bucket(clock: FakeClock, *, reserve: float = 0.0) -> ShopBucket:
    return ShopBucket(
        maximum=2000, restore_rate=100, reserve_fraction=reserve, clock=clock, sleep=clock.sleep,
        jitter=lambda: 0.1,
    )


def test_worked_example_seven_pages_then_one_every_2_75_seconds() -> None:
    # Standard plan, 275-point order pages: 7 × 275 = 1925 go out at once, leaving 75;
    # page 8 waits (275 − 75)/100 = 2.0 s; then one page per 275/100 = 2.75 s.
    clock = FakeClock()
    bucket = make_bucket(clock)
    waits = [bucket.acquire(275).waited for _ in range(10)]
    assert waits == pytest.approx([0, 0, 0, 0, 0, 0, 0, 2.0, 2.75, 2.75])
    assert clock.now == pytest.approx(7.5)


def test_reserve_holds_back_reads_but_not_priority_writes() -> None:
    clock = FakeClock()
    bucket = make_bucket(clock, reserve=0.10)  # reserve = 200 points
    for _ in range(7):
        bucket.acquire(275, priority=True)  # drains to 75 without waiting
    assert clock.sleeps == []
    assert bucket.estimate() == pytest.approx(75)
    # A metafieldsSet (10 points) from the outbox passes at once...
    assert bucket.acquire(10, priority=True).waited == 0
    # ...a read page waits until 275 + 200 are there: (475 − 65)/100 = 4.1 s.
    assert bucket.acquire(275).waited == pytest.approx(4.1)


def test_server_figures_replace_the_estimate_but_keep_calls_in_flight() -> None:
    clock = FakeClock()
    bucket = make_bucket(clock)
    first = bucket.acquire(100)
    bucket.acquire(300)  # still in flight
    bucket.settle(first, ThrottleStatus(maximum=2000, available=1500, restore_rate=100))
    # The server's 1500 does not include the 300-point call it has not charged yet.
    assert bucket.estimate() == pytest.approx(1200)
    clock.now += 3  # leaks back 300
    assert bucket.estimate() == pytest.approx(1500)


def test_settle_adopts_a_bigger_plan() -> None:
    clock = FakeClock()
    bucket = make_bucket(clock)
    permit = bucket.acquire(50)
    bucket.settle(permit, ThrottleStatus(maximum=20000, available=19990, restore_rate=1000))
    assert (bucket.maximum, bucket.restore_rate) == (20000, 1000)
    clock.now += 1
    assert bucket.estimate() == pytest.approx(20000)


def test_throttled_waits_for_the_requested_cost_plus_jitter() -> None:
    # The documented THROTTLED body: requested 507, currently 493, restore rate 50.
    clock = FakeClock()
    bucket = make_bucket(clock, reserve=0.10)
    permit = bucket.acquire(507, priority=True)
    waited = bucket.throttled(permit, 507, ThrottleStatus(maximum=1000, available=493, restore_rate=50),
                              priority=True)
    assert waited == pytest.approx((507 - 493) / 50 + 0.1)
    assert bucket.stats.throttled == 1
    # A read keeps the reserve (10 % of the reported 1000): (507 + 100 − 493)/50 + 0.1.
    permit = bucket.acquire(0)
    waited = bucket.throttled(permit, 507, ThrottleStatus(maximum=1000, available=493, restore_rate=50))
    assert waited == pytest.approx(114 / 50 + 0.1)


def test_status_parsed_from_extensions_ints_or_floats() -> None:
    ext = {"cost": {"requestedQueryCost": 507, "actualQueryCost": None,
                    "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 493,
                                       "restoreRate": 50.0}}}
    assert ThrottleStatus.from_extensions(ext) == ThrottleStatus(1000.0, 493.0, 50.0)
    assert ThrottleStatus.from_extensions({}) is None
    assert ThrottleStatus.from_extensions(None) is None


def test_concurrent_workers_never_overspend() -> None:
    clock = FakeClock()
    bucket = make_bucket(clock)
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            bucket.acquire(100)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 40 × 100 = 4000 points against 2000 + 100/s: at least 20 s of waiting in total,
    # whatever the interleaving, because each deduction is made under the lock.
    assert bucket.stats.calls == 40
    assert clock.now >= 20 - 1e-9


def test_bucket_for_is_one_bucket_per_shop() -> None:
    a = bucket_for("Test-Shop-Throttle.myshopify.com")
    assert bucket_for("test-shop-throttle.myshopify.com") is a
    assert bucket_for("other-shop-throttle.myshopify.com") is not a

"""Loyalty through the real path: WooCommerce simulator -> sync -> ledger + outbox -> coupon.

Numbers come from the default program (LOYALTY.md §5.15): 5 points per EUR on merchandise
after discounts, rounded down; reward "five" costs 500 points and is 5.00 EUR off, valid 60 days.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.woocommerce.simulator import WooSimulator
from connector.domain import PublishLoyalty
from connector.errors import InsufficientPoints, UnknownReward
from connector.runtime import Runtime
from connector.state.models import CustomerRecord, LedgerEntryRow, OutboxCommand
from tests.connector.loyalty_setup import environment, runtime, write_config

REPO = Path(__file__).resolve().parents[2]


def customer_with_points(sim: WooSimulator, tmp_path: Path, points: int = 1000) -> tuple[Path, str, int]:
    """A registered customer with one paid order (pending points) plus a manual credit."""
    customer = sim.create_customer(email="nuria@example.com", first_name="Nuria")
    product = sim.create_product(name="Mug", sku="MUG-1", regular_price="12.50")
    sim.create_order(
        customer_id=customer["id"],
        billing={"email": "nuria@example.com"},
        line_items=[{"product_id": product["id"], "quantity": 2}],
        set_paid=True,
    )
    config = write_config(tmp_path, sim)
    rt = runtime(config, sim)
    try:
        rt.engine.sync_store("main", full=True)
        rt.loyalty.adjust(rt.db, "nuria@example.com", points, reason="welcome credit", key="welcome")
        rt.dispatcher.drain()
    finally:
        rt.close()
    return config, "nuria@example.com", int(customer["id"])


def refuse_coupons(sim: WooSimulator, message: str) -> None:
    """The store refuses every new coupon for good (a plugin's validation), as a 400."""
    body = {"code": "woocommerce_rest_invalid_coupon", "message": message, "data": {"status": 400}}
    sim.faults.override(400, json.dumps(body), method="POST", path="coupons")


def coupons_with_code(sim: WooSimulator, code: str) -> list[dict[str, object]]:
    return [sim.get_coupon(cid) for cid, c in sim.store.coupons.items() if c.code == code]


def test_paid_order_earns_pending_points_and_the_store_shows_the_balance(woo_sim: WooSimulator, tmp_path: Path) -> None:
    config, email, customer_id = customer_with_points(woo_sim, tmp_path, points=40)
    rt = runtime(config, woo_sim)
    try:
        balance = rt.loyalty.balance(rt.db, email)
        history = rt.loyalty.history(rt.db, email)
    finally:
        rt.close()
    # 2 x 12.50 = 25.00 EUR -> floor(5 x 25.00) = 125 points, pending until completed + 14 days
    assert balance["pending"] == 125
    assert balance["available"] == 40
    earn = [h for h in history if h["kind"] == "EARN"]
    assert len(earn) == 1 and earn[0]["points"] == 125
    assert "25.00" in earn[0]["explanation"] and "5" in earn[0]["explanation"]
    meta = {m["key"]: m["value"] for m in woo_sim.get_customer(customer_id)["meta_data"]}
    assert meta["vinculo_points_available"] == "40"
    assert meta["vinculo_points_pending"] == "125"


def test_redeemed_reward_becomes_one_restricted_coupon(woo_sim: WooSimulator, tmp_path: Path) -> None:
    config, email, customer_id = customer_with_points(woo_sim, tmp_path)
    rt = runtime(config, woo_sim)
    try:
        coupon = rt.loyalty.redeem(rt.db, email, "five", store="main", redemption_id="r-1")
        rt.dispatcher.drain()
        again = rt.loyalty.redeem(rt.db, email, "five", store="main", redemption_id="r-1")  # replay
        rt.dispatcher.drain()
        balance = rt.loyalty.balance(rt.db, email)
    finally:
        rt.close()
    assert again.code == coupon.code
    made = coupons_with_code(woo_sim, coupon.code)
    assert len(made) == 1
    c = made[0]
    assert c["discount_type"] == "fixed_cart" and c["amount"] == "5.00"
    assert c["usage_limit"] == 1 and c["usage_limit_per_user"] == 1
    assert c["email_restrictions"] == [email]
    expected_expiry = (coupon.starts_at + timedelta(days=60)).replace(tzinfo=None).isoformat()
    assert c["date_expires_gmt"] == expected_expiry[:19]
    assert balance["available"] == 1000 - 500
    meta = {m["key"]: m["value"] for m in woo_sim.get_customer(customer_id)["meta_data"]}
    assert meta["vinculo_points_available"] == "500"


def test_bad_redemptions_write_nothing(woo_sim: WooSimulator, tmp_path: Path) -> None:
    config, email, _ = customer_with_points(woo_sim, tmp_path, points=100)
    rt = runtime(config, woo_sim)
    try:
        with rt.db.transaction() as s:
            before = len(s.scalars(select(LedgerEntryRow)).all())
            commands = len(s.scalars(select(OutboxCommand)).all())
        with pytest.raises(UnknownReward):
            rt.loyalty.redeem(rt.db, email, "no-such-reward", store="main")
        with pytest.raises(InsufficientPoints):
            rt.loyalty.redeem(rt.db, email, "five", store="main")  # 100 available, 500 needed
        with rt.db.transaction() as s:
            assert len(s.scalars(select(LedgerEntryRow)).all()) == before
            assert len(s.scalars(select(OutboxCommand)).all()) == commands
    finally:
        rt.close()


def test_a_coupon_the_store_refuses_for_good_gives_the_points_back(woo_sim: WooSimulator, tmp_path: Path) -> None:
    config, email, _ = customer_with_points(woo_sim, tmp_path)
    rt = runtime(config, woo_sim)
    try:
        refuse_coupons(woo_sim, "Coupon rejected by a plugin.")
        rt.loyalty.redeem(rt.db, email, "five", store="main", redemption_id="r-2")
        stats = rt.dispatcher.drain()
        balance = rt.loyalty.balance(rt.db, email)
        history = rt.loyalty.history(rt.db, email)
    finally:
        rt.close()
    assert stats.counts["dead"] == 1
    assert balance["available"] == 1000  # restored
    assert any(h["kind"] == "RESTORE" and "could not be created" in h["explanation"] for h in history)


def test_transient_failures_retry_with_backoff_then_go_dead(woo_sim: WooSimulator, tmp_path: Path) -> None:
    config, email, _ = customer_with_points(woo_sim, tmp_path)
    rt = runtime(config, woo_sim)
    try:
        woo_sim.faults.next_503(n=100, retry_after=0, method="GET", path="coupons")
        rt.loyalty.redeem(rt.db, email, "five", store="main", redemption_id="r-3")
        first = rt.dispatcher.drain()
        assert first.counts["retry"] == 1
        with rt.db.transaction() as s:
            row = s.scalars(select(OutboxCommand).where(OutboxCommand.kind == "coupon")).one()
            assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at > row.updated_at - timedelta(seconds=1)
        # make the retries due now, twice more: max_attempts is 3 in this config
        for _ in range(2):
            with rt.db.transaction() as s:
                row = s.scalars(select(OutboxCommand).where(OutboxCommand.kind == "coupon")).one()
                row.next_attempt_at = row.created_at
            rt.dispatcher.drain()
        with rt.db.transaction() as s:
            row = s.scalars(select(OutboxCommand).where(OutboxCommand.kind == "coupon")).one()
            assert row.status == "dead" and row.attempts == 3
            assert row.last_error is not None and row.last_error["kind"] == "transient"
    finally:
        rt.close()


@pytest.mark.slow
def test_sigkill_between_store_call_and_commit_still_makes_exactly_one_coupon(
    woo_sim: WooSimulator, tmp_path: Path
) -> None:
    config, email, _ = customer_with_points(woo_sim, tmp_path)
    rt = runtime(config, woo_sim)
    try:
        coupon = rt.loyalty.redeem(rt.db, email, "five", store="main", redemption_id="r-crash")
    finally:
        rt.close()
    marker = tmp_path / "called"
    env = {**os.environ, **environment(woo_sim), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.connector.crash_dispatcher", str(config), str(marker)], cwd=REPO, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the dispatcher exited before reaching the store"
            assert time.monotonic() < deadline, "the dispatcher never called the store"
            time.sleep(0.05)
        assert len(coupons_with_code(woo_sim, coupon.code)) == 1  # the store call happened
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    rt = runtime(config, woo_sim)
    try:
        with rt.db.transaction() as s:
            row = s.scalars(select(OutboxCommand).where(OutboxCommand.kind == "coupon")).one()
            assert row.status == "in_flight"  # the crash happened before the commit
        rt.dispatcher.stuck_after = timedelta(0)
        stats = rt.dispatcher.drain()
        with rt.db.transaction() as s:
            row = s.scalars(select(OutboxCommand).where(OutboxCommand.kind == "coupon")).one()
            assert row.status == "done"
            assert row.result == {"platform_id": row.result["platform_id"], "created": False}
    finally:
        rt.close()
    assert stats.counts["requeued"] >= 1
    assert len(coupons_with_code(woo_sim, coupon.code)) == 1  # still exactly one


def test_several_orders_of_one_person_in_one_page_earn_once_each(woo_sim: WooSimulator, tmp_path: Path) -> None:
    product = woo_sim.create_product(name="Mug", sku="MUG-1", regular_price="10.00")
    registered = woo_sim.create_customer(email="reg@example.com", first_name="Reg")
    for qty in (1, 2, 3):
        woo_sim.create_order(
            customer_id=registered["id"], billing={"email": "reg@example.com"},
            line_items=[{"product_id": product["id"], "quantity": qty}], set_paid=True,
        )
        woo_sim.create_order(
            billing={"email": "guest@example.com"},
            line_items=[{"product_id": product["id"], "quantity": qty}], set_paid=True,
        )
    config = write_config(tmp_path, woo_sim)
    rt = runtime(config, woo_sim)
    try:
        stats = rt.engine.sync_store("main", full=True)
        reg = rt.loyalty.balance(rt.db, "reg@example.com")
        guest = rt.loyalty.balance(rt.db, "guest@example.com")
    finally:
        rt.close()
    assert stats.counts["orders_new"] == 6
    # (1 + 2 + 3) x 10.00 EUR = 60.00 EUR -> 300 pending points for each person
    assert reg["pending"] == 300
    assert guest["pending"] == 300


def test_an_order_in_a_currency_without_a_rate_is_quarantined_and_the_page_goes_on(
    woo_sim: WooSimulator, tmp_path: Path
) -> None:
    from connector.state import quarantine

    product = woo_sim.create_product(name="Mug", sku="MUG-1", regular_price="10.00")
    woo_sim.create_order(billing={"email": "eur@example.com"}, set_paid=True,
                         line_items=[{"product_id": product["id"], "quantity": 1}])
    usd = woo_sim.create_order(billing={"email": "usd@example.com"}, set_paid=True, currency="USD",
                               line_items=[{"product_id": product["id"], "quantity": 1}])
    config = write_config(tmp_path, woo_sim)  # the default program only has a EUR rate
    rt = runtime(config, woo_sim)
    try:
        stats = rt.engine.sync_store("main", full=True)
        with rt.db.transaction() as s:
            letters = [(d.stream, d.record_ref, d.reference) for d in quarantine.open_letters(s)]
        eur = rt.loyalty.balance(rt.db, "eur@example.com")
    finally:
        rt.close()
    assert stats.counts["orders_new"] == 2
    assert letters == [("loyalty", f"woo:main:{usd['id']}", "currency-without-rate")]
    assert eur["pending"] == 50  # 10.00 EUR x 5


def test_two_dispatchers_never_run_the_same_command(woo_sim: WooSimulator, tmp_path: Path) -> None:
    config, email, _ = customer_with_points(woo_sim, tmp_path)
    first, second = runtime(config, woo_sim), runtime(config, woo_sim)
    try:
        first.loyalty.redeem(first.db, email, "five", store="main", redemption_id="r-twice")
        calls: list[int] = []
        original = first.dispatcher._run_one

        def interleave(row_id: int, stats: object) -> None:
            calls.append(row_id)
            assert second.dispatcher._claim(100) == []  # the other one finds nothing claimable
            original(row_id, stats)  # type: ignore[arg-type]

        first.dispatcher._run_one = interleave  # type: ignore[method-assign]
        first.dispatcher.drain()
        assert calls
    finally:
        first.close()
        second.close()


def test_a_dead_coupon_is_not_sent_again_after_its_points_came_back(woo_sim: WooSimulator, tmp_path: Path) -> None:
    from connector import outbox
    from connector.state.clock import now

    config, email, _ = customer_with_points(woo_sim, tmp_path)
    rt = runtime(config, woo_sim)
    try:
        refuse_coupons(woo_sim, "No.")
        rt.loyalty.redeem(rt.db, email, "five", store="main", redemption_id="r-dead")
        rt.dispatcher.drain()
        with rt.db.transaction() as s:
            row = s.scalars(select(OutboxCommand).where(OutboxCommand.kind == "coupon")).one()
            assert row.status == "dead"
            assert not outbox.retry_dead(s, row.id, now())
        assert rt.loyalty.balance(rt.db, email)["available"] == 1000
    finally:
        rt.close()


def test_a_refused_order_earns_once_the_program_covers_it(woo_sim: WooSimulator, tmp_path: Path) -> None:
    import copy

    import yaml

    from connector.demo import DEFAULT_PROGRAM
    from connector.state import quarantine

    product = woo_sim.create_product(name="Mug", sku="MUG-1", regular_price="10.00")
    woo_sim.create_order(billing={"email": "usd@example.com"}, set_paid=True, currency="USD",
                               line_items=[{"product_id": product["id"], "quantity": 2}])
    config = write_config(tmp_path, woo_sim)
    rt = runtime(config, woo_sim)
    try:
        rt.engine.sync_store("main", full=True)
    finally:
        rt.close()
    program = copy.deepcopy(DEFAULT_PROGRAM)
    program["earn"]["rates"]["USD"] = 4  # the merchant adds a USD rate
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["loyalty"]["program"] = program
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    rt = runtime(config, woo_sim)
    try:
        with rt.db.transaction() as s:
            [letter] = quarantine.open_letters(s)
        assert rt.engine.retry(letter) == "resolved"
        assert rt.loyalty.balance(rt.db, "usd@example.com")["pending"] == 80  # 20.00 USD x 4
    finally:
        rt.close()


def test_a_balance_changed_twice_before_dispatch_is_sent_once_with_the_newest_figures(
    woo_sim: WooSimulator, tmp_path: Path
) -> None:
    config, email, customer_id = customer_with_points(woo_sim, tmp_path, points=40)
    rt = runtime(config, woo_sim)
    try:
        rt.loyalty.adjust(rt.db, email, 60, reason="apology", key="sorry-1")
        rt.loyalty.adjust(rt.db, email, -30, reason="correction", key="sorry-2")
        with rt.db.transaction() as s:
            waiting = s.scalars(
                select(OutboxCommand).where(OutboxCommand.kind == "publish", OutboxCommand.status == "pending")
            ).all()
            assert [row.payload["snapshot"] for row in waiting] == [None]  # built when sent
        puts_before = sum(1 for r in woo_sim.requests if r.method == "PUT" and r.path.startswith("customers/"))
        stats = rt.dispatcher.drain()
        puts = sum(1 for r in woo_sim.requests if r.method == "PUT" and r.path.startswith("customers/")) - puts_before
    finally:
        rt.close()
    assert stats.counts["done"] == 1 and puts == 1
    meta = {m["key"]: m["value"] for m in woo_sim.get_customer(customer_id)["meta_data"]}
    assert meta["vinculo_points_available"] == "70"  # 40 + 60 − 30
    assert meta["vinculo_points_pending"] == "125"


def test_a_waiting_publish_without_a_program_to_build_it_goes_dead_with_the_fix(
    woo_sim: WooSimulator, tmp_path: Path
) -> None:
    config, email, _ = customer_with_points(woo_sim, tmp_path, points=40)
    rt = runtime(config, woo_sim)
    try:
        rt.loyalty.adjust(rt.db, email, 10, reason="apology", key="sorry-3")
        rt.dispatcher.render = None  # a config whose loyalty program was switched off since
        stats = rt.dispatcher.drain()
        with rt.db.transaction() as s:
            row = s.scalars(select(OutboxCommand).where(OutboxCommand.kind == "publish", OutboxCommand.status == "dead")).one()
            error = row.last_error
    finally:
        rt.close()
    assert stats.counts["dead"] == 1
    assert error is not None and error["kind"] == "config"
    assert "no loyalty program is configured" in error["message"]
    assert "loyalty.program" in error["hint"]


def _shoppers(sim: WooSimulator, n: int) -> list[dict[str, object]]:
    """``n`` registered customers, the i-th with one paid order of i + 1 mugs at 10.00 EUR."""
    product = sim.create_product(name="Mug", sku="MUG-1", regular_price="10.00")
    people = []
    for i in range(n):
        person = sim.create_customer(email=f"s{i}@example.com", first_name=f"S{i}")
        sim.create_order(customer_id=person["id"], billing={"email": f"s{i}@example.com"}, set_paid=True,
                         line_items=[{"product_id": product["id"], "quantity": i + 1}])
        people.append(person)
    return people


def _synced(sim: WooSimulator, tmp_path: Path, n: int) -> tuple[list[dict[str, object]], Runtime]:
    """``n`` shoppers synced once: each has a waiting balance publish and a first tier tag."""
    people = _shoppers(sim, n)
    rt = runtime(write_config(tmp_path, sim), sim)
    try:
        rt.engine.sync_store("main", full=True)
    except BaseException:
        rt.close()
        raise
    return people, rt


def _pending_meta(sim: WooSimulator, person: dict[str, object]) -> str | None:
    meta = {m["key"]: m["value"] for m in sim.get_customer(int(str(person["id"])))["meta_data"]}
    return meta.get("vinculo_points_pending")


def test_balances_and_tiers_of_many_customers_go_out_in_a_few_calls(woo_sim: WooSimulator, tmp_path: Path) -> None:
    people, rt = _synced(woo_sim, tmp_path, 12)
    try:
        woo_sim.reset_counts()
        stats = rt.dispatcher.drain()
    finally:
        rt.close()
    # 12 balances + 12 first tier tags: one include= read and one batch write, not 48 calls
    assert stats.counts["done"] == 24
    assert (woo_sim.count("GET", "customers"), woo_sim.count("POST", "customers/batch"), woo_sim.count()) == (1, 1, 2)
    # (i + 1) × 10.00 EUR × 5 points/EUR pending for the i-th
    assert [_pending_meta(woo_sim, p) for p in people] == [str(50 * (i + 1)) for i in range(12)]


def test_a_failed_batch_retries_every_row_and_a_refused_item_fails_only_its_own(
    woo_sim: WooSimulator, tmp_path: Path
) -> None:
    people, rt = _synced(woo_sim, tmp_path, 4)
    try:
        woo_sim.faults.next_503(n=100, retry_after=0, method="POST", path="customers/batch")
        first = rt.dispatcher.drain()
        with rt.db.transaction() as s:
            rows = s.scalars(select(OutboxCommand).order_by(OutboxCommand.id)).all()
            assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
            for row in rows:
                row.next_attempt_at = row.created_at  # due again now
        woo_sim.faults.clear()
        del woo_sim.store.customers[int(str(people[3]["id"]))]  # deleted on the store meanwhile
        second = rt.dispatcher.drain()
        with rt.db.transaction() as s:
            dead = s.scalars(select(OutboxCommand).where(OutboxCommand.status == "dead")).all()
            assert {(r.account, r.last_error["reference"]) for r in dead if r.last_error} == {
                (dead[0].account, "woo-customer-missing")
            }
    finally:
        rt.close()
    assert first.counts["retry"] == 8
    assert (second.counts["done"], second.counts["dead"]) == (6, 2)  # the deleted customer's publish and tier
    assert [_pending_meta(woo_sim, p) for p in people[:3]] == ["50", "100", "150"]


def test_a_snapshot_that_cannot_be_built_fails_its_row_and_the_drain_goes_on(
    woo_sim: WooSimulator, tmp_path: Path
) -> None:
    from connector.errors import ProgramError

    people, rt = _synced(woo_sim, tmp_path, 3)
    try:
        build = rt.loyalty.render
        with rt.db.transaction() as s:
            broken = s.scalars(select(OutboxCommand.account).where(OutboxCommand.kind == "publish")).first()
            broken_email = s.scalars(select(CustomerRecord.email_key).where(CustomerRecord.vinculo_id == broken)).one()

        def render(session: object, command: PublishLoyalty) -> PublishLoyalty:
            if command.customer_id == broken:
                raise ProgramError("program version for this date is missing", obj=command.customer_id)
            return build(session, command)  # type: ignore[arg-type]

        rt.dispatcher.render = render
        stats = rt.dispatcher.drain()
        with rt.db.transaction() as s:
            states = {(r.account, r.kind): (r.status, (r.last_error or {}).get("reference"))
                      for r in s.scalars(select(OutboxCommand))}
    finally:
        rt.close()
    assert states.pop((broken, "publish")) == ("dead", "program-invalid")
    assert set(states.values()) == {("done", None)}  # 2 other balances, 3 tier tags
    assert (stats.counts["done"], stats.counts["dead"]) == (5, 1)
    # the broken customer's balance never reached the store; the others' did
    assert [_pending_meta(woo_sim, p) for p in people] == [
        None if f"s{i}@example.com" == broken_email else str(50 * (i + 1)) for i in range(3)
    ]


def test_a_batch_call_that_crashes_sends_its_rows_one_by_one(woo_sim: WooSimulator, tmp_path: Path) -> None:
    people, rt = _synced(woo_sim, tmp_path, 3)
    try:
        adapter = rt.dispatcher.stores["main"]

        def broken(items: object) -> object:
            raise RuntimeError("a bug in the batch path")

        adapter.publish_many = broken  # type: ignore[method-assign]
        woo_sim.reset_counts()
        stats = rt.dispatcher.drain()
    finally:
        rt.close()
    assert stats.counts["done"] == 6  # every balance and tier tag, each through its own call
    assert woo_sim.count("PUT") == 6
    assert [_pending_meta(woo_sim, p) for p in people] == ["50", "100", "150"]

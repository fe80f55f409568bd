"""Batched persistence of the loyalty ledger and outbox: same rows as one call per event."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connector import outbox
from connector.demo import DEFAULT_PROGRAM
from connector.domain import PublishLoyalty
from connector.loyalty import Redeem, load_program
from connector.rewards import LoyaltyBridge
from connector.state import ledger
from connector.state.db import Database
from connector.state.models import LedgerEntryRow, OutboxCommand
from tests.connector.state.loyalty_fixtures import NOON, add_customer, paid


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    yield database
    database.dispose()


def _publish(key: str) -> PublishLoyalty:
    return PublishLoyalty(key=key, customer_id="c1", snapshot={"available": 0})


def _rows(db: Database) -> list[tuple[str, str, object]]:
    with db.transaction() as s:
        return [(r.key, r.status, r.result) for r in s.scalars(select(OutboxCommand).order_by(OutboxCommand.key))]


def test_enqueue_many_leaves_what_one_enqueue_after_another_leaves(tmp_path: Path) -> None:
    one, many = Database(f"sqlite:///{tmp_path / 'one.db'}"), Database(f"sqlite:///{tmp_path / 'many.db'}")
    for database in (one, many):
        with database.transaction() as s:
            assert outbox.enqueue(s, _publish("publish:c1:e0"), target="main", at=NOON)
    commands = [(_publish("publish:c1:e1"), "main"), (_publish("publish:c1:e1"), "main"), (_publish("publish:c1:e2"), "main")]
    with one.transaction() as s:
        queued = [outbox.enqueue(s, c, target=t, at=NOON) for c, t in commands]
    with many.transaction() as s:
        assert outbox.enqueue_many(s, commands, at=NOON) == 2
    assert queued == [True, False, True]
    # one waiting publish per customer and store, carrying the newest snapshot
    assert _rows(one) == _rows(many) == [("main:publish:c1:e2", "pending", None)]
    one.dispose()
    many.dispose()


def test_a_batch_stores_every_accepted_item_and_reports_the_rejected_one(db: Database) -> None:
    add_customer(db, "c1")
    add_customer(db, "c2")
    bridge = LoyaltyBridge(load_program(DEFAULT_PROGRAM, source="test", code_secret="s"), ["main"], clock=lambda: NOON)
    items = [
        ("c1", [paid("1", "57.87")], None),  # floor(5 × 57.87) = 289 pending
        ("c2", [paid("2", "20.00")], None),  # 100 pending
        ("c2", [Redeem(at=NOON, redemption_id="r", reward_id="ship", store="woo:main", email="c2@example.com")], None),
    ]
    with db.transaction() as s:
        result = bridge.apply_batch(s, items)
    assert [(i, e.reference) for i, e in result.failed] == [(2, "points-insufficient")]
    # each customer: EARN; SetTier (first entries) and PublishLoyalty to store main
    assert (result.entries, result.queued) == (2, 4)
    with db.transaction() as s:
        assert [(b.account, b.available, b.pending, b.entries) for b in ledger.balances(s)] == [
            ("c1", 0, 289, 1),
            ("c2", 0, 100, 1),
        ]
        assert [r.seq for r in s.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.account))] == [0, 0]
    with db.transaction() as s:  # a replayed page writes nothing
        again = bridge.apply_batch(s, items[:2])
    assert (again.entries, again.queued, again.failed) == (0, 0, [])
    fresh = LoyaltyBridge(bridge.program, ["main"], clock=lambda: NOON)  # not cached: rebuilt from rows
    with db.transaction() as s:
        assert fresh.account(s, "c1").pending == 289

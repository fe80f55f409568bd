"""Ledger and outbox rows written with driver-ready values, on SQLite and on PostgreSQL.

The loyalty path hands rows to the driver already encoded (JSON text, UTC instants) instead of
letting every column type process every row; these tests hold it to storing exactly what the
typed columns store, and to the same supersession and idempotency rules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import bindparam, create_engine, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from connector import outbox
from connector.demo import DEFAULT_PROGRAM
from connector.domain import (
    Fulfilment,
    IssueCoupon,
    Money,
    PublishLoyalty,
    SetTier,
    to_jsonable,
)
from connector.loyalty import load_program
from connector.rewards import LoyaltyBridge
from connector.state import bulk, ledger
from connector.state.db import MIGRATIONS, Database
from connector.state.models import (
    AccountBalance,
    LedgerEntryRow,
    OutboxCommand,
)
from tests.connector.state.loyalty_fixtures import NOON, add_customer, paid

EUR = "EUR"


@pytest.fixture
def db(state_url: str) -> Database:
    database = Database(state_url)
    yield database
    database.dispose()


def _entry(entry_id: str, effective_at: str, recorded_at: str, explanation: str) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "source_key": f"test:{entry_id}",
        "customer_id": "c1",
        "kind": "EARN",
        "points": 289,
        "bucket": "pending",
        "effective_at": effective_at,
        "recorded_at": recorded_at,
        "explanation": explanation,
        "allocations": [["b1", 289]],
        "meta": {},
    }


ENTRIES = [
    _entry("e1", "2025-01-03T11:00:00+00:00", "2025-01-03T11:00:00+00:00", "+289 pts: 5 × 57.87 — floor"),
    _entry("e2", "2025-03-01T10:00:00.250000+01:00", "2025-03-01T09:00:00.000001+00:00", "ünïcode"),
    _entry("e3", "2025-06-30T23:59:59.999999+00:00", "2025-07-01T01:30:00-02:00", "offsets"),
]


def _raw(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def test_ledger_rows_are_stored_as_the_typed_columns_store_them(db: Database) -> None:
    with db.transaction() as s:
        assert ledger.append_many(s, [("c1", 0, ENTRIES[:2]), ("c1", 2, ENTRIES[2:])]) == 3
    raw = "SELECT entry_id, account, seq, kind, points, CAST(effective_at AS TEXT), CAST(recorded_at AS TEXT), CAST(data AS TEXT) FROM ledger_entries ORDER BY entry_id"
    fast = _raw(db, raw)
    with db.transaction() as s:
        rows = s.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.entry_id)).all()
        # instants come back aware UTC: +01:00 and -02:00 moved to UTC by hand
        assert [(r.seq, r.effective_at, r.recorded_at) for r in rows] == [
            (0, datetime(2025, 1, 3, 11, tzinfo=UTC), datetime(2025, 1, 3, 11, tzinfo=UTC)),
            (1, datetime(2025, 3, 1, 9, 0, 0, 250000, tzinfo=UTC), datetime(2025, 3, 1, 9, 0, 0, 1, tzinfo=UTC)),
            (2, datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC), datetime(2025, 7, 1, 3, 30, tzinfo=UTC)),
        ]
        assert [r.data for r in rows] == ENTRIES
        s.execute(LedgerEntryRow.__table__.delete())
    # the same rows through SQLAlchemy's own per-row type processing
    with db.transaction() as s:
        s.execute(
            insert(LedgerEntryRow),
            [
                {
                    "entry_id": e["entry_id"],
                    "source_key": e["source_key"],
                    "account": "c1",
                    "seq": i,
                    "kind": e["kind"],
                    "points": e["points"],
                    "effective_at": datetime.fromisoformat(e["effective_at"]),
                    "recorded_at": datetime.fromisoformat(e["recorded_at"]),
                    "data": e,
                }
                for i, e in enumerate(ENTRIES)
            ],
        )
    assert _raw(db, raw) == fast
    if db.engine.dialect.name == "sqlite":
        assert [(r[5], r[6]) for r in fast] == [
            ("2025-01-03 11:00:00.000000", "2025-01-03 11:00:00.000000"),
            ("2025-03-01 09:00:00.250000", "2025-03-01 09:00:00.000001"),
            ("2025-06-30 23:59:59.999999", "2025-07-01 03:30:00.000000"),
        ]
    assert json.loads(fast[0][7])["explanation"] == "+289 pts: 5 × 57.87 — floor"


def test_a_replayed_entry_fails_the_transaction_and_leaves_nothing(db: Database) -> None:
    with db.transaction() as s:
        ledger.append_many(s, [("c1", 0, ENTRIES[:1])])
    with pytest.raises(IntegrityError), db.transaction() as s:
        ledger.append_many(s, [("c1", 1, ENTRIES[1:2]), ("c1", 2, ENTRIES[:1])])
    with db.transaction() as s:
        assert [r.entry_id for r in s.scalars(select(LedgerEntryRow))] == ["e1"]


def test_balances_insert_then_update_and_the_session_copy_is_refreshed(db: Database) -> None:
    with db.transaction() as s:
        ledger.save_balance(s, "c1", available=0, pending=289, debt=0, tier="bronze", entries=1)
        ledger.save_balance(s, "c2", available=5, pending=0, debt=0, tier=None, entries=2)
    with db.transaction() as s:
        held = s.get(AccountBalance, "c1")
        assert held is not None and held.pending == 289
        ledger.save_balances(
            s,
            [
                {"account": "c1", "available": 289, "pending": 0, "debt": 0, "tier": "silver", "entries": 3},
                {"account": "c3", "available": 1, "pending": 2, "debt": 3, "tier": None, "entries": 4},
            ],
        )
        assert (held.available, held.pending, held.tier, held.entries) == (289, 0, "silver", 3)
    with db.transaction() as s:
        assert [(b.account, b.available, b.pending, b.debt, b.tier, b.entries) for b in ledger.balances(s)] == [
            ("c1", 289, 0, 0, "silver", 3),
            ("c2", 5, 0, 0, None, 2),
            ("c3", 1, 2, 3, None, 4),
        ]
        assert all(b.updated_at.tzinfo is UTC for b in ledger.balances(s))


def _publish(account: str, n: int, **snapshot: Any) -> PublishLoyalty:
    return PublishLoyalty(key=f"publish:{account}:e{n}", customer_id=account, snapshot={"available": n, **snapshot})


def _outbox(db: Database) -> list[tuple[str, str, Any]]:
    with db.transaction() as s:
        return [(r.key, r.status, r.result) for r in s.scalars(select(OutboxCommand).order_by(OutboxCommand.id))]


def test_a_publish_takes_the_place_of_the_pending_publish_of_the_same_store_and_account(db: Database) -> None:
    with db.transaction() as s:
        assert outbox.enqueue_many(
            s,
            [(_publish("c1", 0), "main"), (_publish("c1", 0), "shop"), (_publish("c2", 0), "main"),
             (_publish("c3", 0), "main")],
            at=NOON,
        ) == 4
        s.execute(update(OutboxCommand).where(OutboxCommand.key == "main:publish:c3:e0").values(status="in_flight"))
        s.execute(update(OutboxCommand).where(OutboxCommand.key == "main:publish:c1:e0").values(attempts=2))
    later = NOON + timedelta(minutes=5)
    with db.transaction() as s:
        queued = outbox.enqueue_many(
            s,
            [(_publish("c1", 1), "main"), (_publish("c1", 0), "main"), (_publish("c1", 2), "main"),
             (_publish("c3", 1), "main")],
            at=later,
        )
    assert queued == 3  # main:publish:c1:e0 is already stored
    assert _outbox(db) == [
        ("main:publish:c1:e2", "pending", None),  # c1's pending row now carries the newest publish
        ("shop:publish:c1:e0", "pending", None),  # another store
        ("main:publish:c2:e0", "pending", None),  # another account
        ("main:publish:c3:e0", "in_flight", None),  # a dispatcher has it: left alone
        ("main:publish:c3:e1", "pending", None),  # so the newer publish gets its own row
    ]
    with db.transaction() as s:
        row = s.scalars(select(OutboxCommand).where(OutboxCommand.key == "main:publish:c1:e2")).one()
        # the same row: created at noon, its attempts and schedule kept, the payload replaced
        assert (row.created_at, row.updated_at, row.next_attempt_at, row.attempts) == (NOON, later, NOON, 2)
        assert outbox.decode(row.kind, row.payload) == _publish("c1", 2)


def test_a_requeued_publish_beside_a_newer_one_is_retired_when_the_next_publish_arrives(db: Database) -> None:
    with db.transaction() as s:
        outbox.enqueue_many(s, [(_publish("c1", 0), "main")], at=NOON)
        s.execute(update(OutboxCommand).values(status="in_flight"))
        outbox.enqueue_many(s, [(_publish("c1", 1), "main")], at=NOON)
        s.execute(update(OutboxCommand).where(OutboxCommand.key == "main:publish:c1:e0").values(status="pending"))
    with db.transaction() as s:
        assert outbox.enqueue_many(s, [(_publish("c1", 2), "main")], at=NOON) == 1
    assert _outbox(db) == [
        ("main:publish:c1:e0", "done", {"superseded_by": "main:publish:c1:e2"}),
        ("main:publish:c1:e2", "pending", None),
    ]


def test_outbox_rows_are_stored_as_the_typed_columns_store_them(db: Database) -> None:
    coupon = IssueCoupon(
        key="redemption:r1", customer_id="c1", email="c1@example.com", code="VC-ABC", reward_id="five",
        kind="fixed_amount", starts_at=NOON, expires_at=NOON + timedelta(days=90),
        amount=Money(Decimal("5.00"), EUR), min_subtotal=Money(Decimal("45.00"), EUR), description="5 € off",
    )
    commands = [(coupon, "main"), (_publish("c1", 7, tier="silver", as_of="2026-03-02T11:00:00+00:00"), "main")]
    with db.transaction() as s:
        assert outbox.enqueue_many(s, commands, at=NOON) == 2
    raw = "SELECT key, target, kind, account, CAST(payload AS TEXT), status, attempts, CAST(next_attempt_at AS TEXT), CAST(result AS TEXT), last_error, CAST(created_at AS TEXT), CAST(updated_at AS TEXT) FROM outbox ORDER BY id"
    fast = _raw(db, raw)
    with db.transaction() as s:
        s.execute(OutboxCommand.__table__.delete())
    with db.transaction() as s:  # what a Core insert with typed values stores
        s.execute(
            insert(OutboxCommand),
            [
                {"key": f"main:{c.key}", "target": "main", "kind": outbox.KINDS[type(c)], "account": "c1",
                 "payload": to_jsonable(c), "status": "pending", "attempts": 0, "next_attempt_at": NOON,
                 "created_at": NOON, "updated_at": NOON, "result": None}
                for c, _target in commands
            ],
        )
    assert _raw(db, raw) == fast
    assert json.loads(fast[1][4]) == {
        "key": "publish:c1:e7",
        "customer_id": "c1",
        "snapshot": {"available": 7, "tier": "silver", "as_of": "2026-03-02T11:00:00+00:00"},
    }
    with db.transaction() as s:
        rows = s.scalars(select(OutboxCommand).order_by(OutboxCommand.id)).all()
        assert outbox.decode(rows[0].kind, rows[0].payload) == coupon
        assert [(r.result, r.last_error) for r in rows] == [(None, None), (None, None)]


def test_payload_text_is_the_json_of_the_plain_form() -> None:
    coupon = IssueCoupon(
        key="redemption:r1", customer_id="c1", email="c1@example.com", code="VC-ABC", reward_id="pct15",
        kind="percentage", starts_at=NOON, expires_at=NOON, percent=Decimal("15"),
    )
    shipped = Fulfilment(order_id="woocommerce:main:order:7", shipped_at=NOON, tracking_number="TN1")
    tier = SetTier(key="tier:c1:gold", customer_id="c1", tier="vinculo-tier-gold", all_tiers=("a", "b"))
    plain = _publish("c1", 3, tier=None, tier_free_shipping=True, next_reward="ship", currency="EUR")
    mixed = _publish("c1", 4, spend=Decimal("60.00"), nested={"a": 1})
    for cmd in (coupon, shipped, tier, plain, mixed):
        assert outbox.payload_json(cmd) == json.dumps(to_jsonable(cmd))
    assert outbox.payload_json(plain) == (
        '{"key": "publish:c1:e3", "customer_id": "c1", "snapshot": {"available": 3, "tier": null, '
        '"tier_free_shipping": true, "next_reward": "ship", "currency": "EUR"}}'
    )
    assert json.loads(outbox.payload_json(mixed))["snapshot"] == {"available": 4, "spend": "60.00", "nested": {"a": 1}}


def test_statement_fills_fixed_values_and_takes_keys_in_any_order(db: Database) -> None:
    with db.transaction() as s:
        ledger.save_balance(s, "c1", available=0, pending=0, debt=0, tier=None, entries=0)
        ledger.save_balance(s, "c2", available=0, pending=0, debt=0, tier=None, entries=0)
    table = AccountBalance.__table__
    statement = bulk.Statement(
        update(table)
        .where(table.c.account == bindparam("b_account"))
        .values(available=bindparam("b_available"), tier="gold", debt=bindparam("b_debt")),
        ("b_debt", "b_account", "b_available"),
    )
    with db.transaction() as s:
        statement.run(s, [(3, "c1", 10), (4, "c2", 20)])
    with db.transaction() as s:
        assert [(b.account, b.available, b.debt, b.tier) for b in ledger.balances(s)] == [
            ("c2", 20, 4, "gold"),
            ("c1", 10, 3, "gold"),
        ]
    wrong = bulk.Statement(update(table).values(debt=bindparam("b_debt")), ("b_nope",))
    with pytest.raises(ValueError, match="b_nope"), db.transaction() as s:
        wrong.run(s, [(1,)])


def test_codec_refuses_naive_instants(db: Database) -> None:
    with db.transaction() as s:
        codec = bulk.codec(s)
    with pytest.raises(ValueError, match="naive"):
        codec.instant(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        codec.iso_instant("2026-01-01T00:00:00")


def test_pages_through_the_bridge_store_points_and_keep_one_pending_publish(db: Database) -> None:
    add_customer(db, "c1")
    add_customer(db, "c2")
    bridge = LoyaltyBridge(load_program(DEFAULT_PROGRAM, source="test", code_secret="s"), ["main"], clock=lambda: NOON)
    with db.transaction() as s:
        first = bridge.apply_batch(s, [("c1", [paid("1", "57.87")], None), ("c2", [paid("2", "20.00")], None)])
    # floor(5 × 57.87) = 289 and 5 × 20.00 = 100 pending; each: SetTier and PublishLoyalty
    assert (first.entries, first.queued, first.failed) == (2, 4, [])
    with db.transaction() as s:
        second = bridge.apply_batch(s, [("c1", [paid("3", "10.10")], None)])  # floor(50.5) = 50
    assert (second.entries, second.queued) == (1, 1)
    with db.transaction() as s:
        assert [(b.account, b.pending, b.entries) for b in ledger.balances(s)] == [("c1", 339, 2), ("c2", 100, 1)]
        assert [(r.account, r.seq, r.points) for r in s.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.account, LedgerEntryRow.seq))] == [
            ("c1", 0, 289), ("c1", 1, 50), ("c2", 0, 100)
        ]
        publishes = s.scalars(
            select(OutboxCommand).where(OutboxCommand.kind == "publish").order_by(OutboxCommand.id)
        ).all()
        # one waiting row per customer, keyed by its newest entry; the snapshot waits for dispatch
        last = {b.account: e for b in ledger.balances(s) for e in [bridge.account(s, b.account).entries[-1]]}
        assert [(p.account, p.status, p.payload, p.result) for p in publishes] == [
            ("c1", "pending", {"key": f"publish:c1:{last['c1'].entry_id}", "customer_id": "c1", "snapshot": None}, None),
            ("c2", "pending", {"key": f"publish:c2:{last['c2'].entry_id}", "customer_id": "c2", "snapshot": None}, None),
        ]
        # built at dispatch from the ledger: c1 holds both pages' points, as of its last event
        sent = [bridge.render(s, outbox.decode(p.kind, p.payload)).snapshot for p in publishes]
        assert [(snap["pending"], snap["available"], snap["as_of"]) for snap in sent if snap is not None] == [
            (339, 0, "2026-03-02T11:00:00+00:00"), (100, 0, "2026-03-02T11:00:00+00:00")
        ]
    fresh = LoyaltyBridge(bridge.program, ["main"], clock=lambda: NOON)  # rebuilt from stored rows
    with db.transaction() as s:
        assert fresh.account(s, "c1").pending == 339


def test_migrations_keep_rows_and_add_the_write_path_indexes(state_url: str) -> None:
    engine = create_engine(state_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text(
            "INSERT INTO outbox (key, target, kind, account, payload, status, attempts, next_attempt_at, created_at, updated_at) "
            "VALUES ('main:publish:c1:e0', 'main', 'publish', 'c1', '{}', 'pending', 0, '2026-03-02 11:00:00', '2026-03-02 11:00:00', '2026-03-02 11:00:00')"
        ))
    engine.dispose()
    db = Database(state_url)
    try:
        found = inspect(db.engine)
        indexes = found.get_indexes("ledger_entries")
        assert {i["name"]: i["column_names"] for i in indexes if i["name"].startswith("ix_")} == {
            "ix_ledger_entries_account_seq": ["account", "seq"]
        }
        outbox_indexes = {i["name"]: i["column_names"] for i in found.get_indexes("outbox")}
        assert outbox_indexes["ix_outbox_publish_pending"] == ["account", "target"]
        assert outbox_indexes["ix_outbox_account"] == ["account"]
        with db.transaction() as s:  # the row written before the upgrade takes the next publish
            outbox.enqueue_many(s, [(_publish("c1", 1), "main")], at=NOON)
        assert _outbox(db) == [("main:publish:c1:e1", "pending", None)]
    finally:
        db.dispose()


def test_sqlite_finds_a_waiting_publish_through_the_partial_index(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    plans = []
    with db.transaction() as s:
        for statement, params in ((outbox._FOLD, ("k", "{}", "t", "c1", "main")), (outbox._RETIRE, ("{}", "t", "c1", "main", "k"))):
            sql = statement._compile(s.connection().dialect)[0]
            plans.append([row[-1] for row in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()])
    db.dispose()
    assert "SEARCH outbox USING INDEX ix_outbox_publish_pending (account=? AND target=?)" in plans[0]
    assert plans[1] == ["SEARCH outbox USING INDEX ix_outbox_publish_pending (account=? AND target=?)"]

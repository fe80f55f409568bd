"""State repositories on SQLite and on a real PostgreSQL: same behaviour on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connector.errors import MissingField, StoreBusy
from connector.state import quarantine, watermarks
from connector.state.db import Database
from connector.state.locks import acquire, store_lock
from connector.state.models import DeadLetter, Watermark


@pytest.fixture
def db(state_url: str) -> Database:
    database = Database(state_url)
    yield database
    database.dispose()


def test_migrations_are_idempotent_and_times_come_back_aware_utc(state_url: str) -> None:
    first = Database(state_url)
    first.dispose()
    db = Database(state_url)  # second open runs the migrations again: nothing to do
    madrid_noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC) + timedelta(hours=0)
    with db.transaction() as s:
        watermarks.advance(s, "woo:main", "orders", madrid_noon)
    with db.transaction() as s:
        value = watermarks.get(s, "woo:main", "orders")
    assert value == madrid_noon
    assert value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)
    db.dispose()


def test_naive_datetime_is_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as s:
        s.add(Watermark(source="x", stream="orders", value=datetime(2026, 1, 1), updated_at=datetime.now(UTC)))
        s.flush()


def test_watermark_never_moves_back_and_reset_forgets(db: Database) -> None:
    t1 = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    t0 = t1 - timedelta(hours=1)
    with db.transaction() as s:
        watermarks.advance(s, "main", "orders", t1)
        assert watermarks.advance(s, "main", "orders", t0) == t1
    with db.transaction() as s:
        assert watermarks.get(s, "main", "orders") == t1
        watermarks.reset(s, "main")
    with db.transaction() as s:
        assert watermarks.get(s, "main", "orders") is None


def test_a_failed_transaction_leaves_nothing(db: Database) -> None:
    t1 = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError), db.transaction() as s:
        watermarks.advance(s, "main", "orders", t1)
        raise RuntimeError("crash after the write, before commit")
    with db.transaction() as s:
        assert watermarks.get(s, "main", "orders") is None


def test_quarantining_the_same_record_twice_keeps_one_row_and_counts_the_retry(db: Database) -> None:
    err = MissingField("customer 12 has no e-mail", hint="add an e-mail in the store")
    with db.transaction() as s:
        quarantine.put(s, source="main", stream="customers", record_ref="woo:main:12", error=err, payload={"id": 12})
    with db.transaction() as s:
        quarantine.put(s, source="main", stream="customers", record_ref="woo:main:12", error=err, payload={"id": 12})
    with db.transaction() as s:
        rows = list(s.scalars(select(DeadLetter)))
        assert len(rows) == 1
        assert rows[0].retry_count == 1
        assert rows[0].reference == "missing-field"
        assert "add an e-mail" in rows[0].reason
        assert rows[0].payload == {"id": 12}
    with db.transaction() as s:
        assert quarantine.resolve(s, source="main", stream="customers", record_ref="woo:main:12")
    with db.transaction() as s:
        assert quarantine.open_letters(s) == []


def test_drop_marks_dropped_and_keeps_the_row(db: Database) -> None:
    err = MissingField("x")
    with db.transaction() as s:
        row = quarantine.put(s, source="erp", stream="customers", record_ref="a.csv:3", error=err, payload=None)
        letter_id = row.id
    with db.transaction() as s:
        assert quarantine.drop(s, letter_id)
        assert not quarantine.drop(s, letter_id)
    with db.transaction() as s:
        assert quarantine.counts(s) == {"dropped": 1}


def test_store_lock_admits_one_writer(db: Database) -> None:
    with store_lock(db, "store:main", "worker-a"):
        assert not acquire(db, "store:main", "worker-b", timedelta(minutes=5))
        with pytest.raises(StoreBusy), store_lock(db, "store:main", "worker-b"):
            pass
    assert acquire(db, "store:main", "worker-b", timedelta(minutes=5))


def test_an_expired_lock_can_be_taken_over(db: Database) -> None:
    assert acquire(db, "store:main", "crashed", timedelta(seconds=-1))
    assert acquire(db, "store:main", "worker-b", timedelta(minutes=5))

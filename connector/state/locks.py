"""One writer per store, with a row in the state database rather than a local file.

A row lock works the same on SQLite and PostgreSQL and across machines sharing the database;
the expiry lets a crashed holder's lock lapse instead of blocking the store forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from connector.errors import StoreBusy
from connector.state.clock import now
from connector.state.db import Database
from connector.state.models import StoreLock


def acquire(db: Database, name: str, owner: str, ttl: timedelta) -> bool:
    stamp = now()
    with db.transaction() as s:
        taken = s.execute(  # type: ignore[attr-defined]
            update(StoreLock)
            .where(StoreLock.name == name, (StoreLock.expires_at < stamp) | (StoreLock.owner == owner))
            .values(owner=owner, expires_at=stamp + ttl)
        ).rowcount
        if taken:
            return True
    try:
        with db.transaction() as s:
            s.add(StoreLock(name=name, owner=owner, expires_at=stamp + ttl))
        return True
    except IntegrityError:
        return False


def release(db: Database, name: str, owner: str) -> None:
    with db.transaction() as s:
        s.execute(delete(StoreLock).where(StoreLock.name == name, StoreLock.owner == owner))


@contextmanager
def store_lock(db: Database, name: str, owner: str, ttl: timedelta = timedelta(minutes=30)) -> Iterator[None]:
    if not acquire(db, name, owner, ttl):
        raise StoreBusy(
            f"another worker is syncing {name}",
            obj=name,
            hint="wait for the other run to finish; a crashed run's lock lapses after its expiry",
        )
    try:
        yield
    finally:
        release(db, name, owner)

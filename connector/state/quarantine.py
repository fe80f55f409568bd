"""Dead letters: records that could not be processed, kept with reason and payload.

Quarantining the same record again updates its row (and counts the retry) instead of adding a
second one, so `vinculo status` shows one line per bad record however often it is re-read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.domain import to_jsonable
from connector.errors import VinculoError
from connector.state.clock import now
from connector.state.models import DeadLetter


def put(
    session: Session, *, source: str, stream: str, record_ref: str, error: VinculoError, payload: Any
) -> DeadLetter:
    row = session.scalar(
        select(DeadLetter).where(
            DeadLetter.source == source, DeadLetter.stream == stream, DeadLetter.record_ref == record_ref
        )
    )
    stamp = now()
    if row is None:
        row = DeadLetter(
            source=source,
            stream=stream,
            record_ref=record_ref,
            reference=error.reference,
            reason=str(error),
            error=error.to_dict(),
            payload=to_jsonable(payload),
            retry_count=0,
            status="open",
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(row)
        session.flush()
        return row
    if row.status != "open":
        row.status = "open"
    else:
        row.retry_count += 1
    row.reference = error.reference
    row.reason = str(error)
    row.error = error.to_dict()
    row.payload = to_jsonable(payload)
    row.updated_at = stamp
    return row


def resolve(session: Session, *, source: str, stream: str, record_ref: str) -> bool:
    """A record that now goes through leaves quarantine."""
    row = session.scalar(
        select(DeadLetter).where(
            DeadLetter.source == source,
            DeadLetter.stream == stream,
            DeadLetter.record_ref == record_ref,
            DeadLetter.status == "open",
        )
    )
    if row is None:
        return False
    row.status = "resolved"
    row.updated_at = now()
    return True


def open_refs(session: Session, source: str, stream: str) -> set[str]:
    """Refs quarantined for one stream, so a run resolves only what is there (one query)."""
    rows = session.scalars(
        select(DeadLetter.record_ref).where(
            DeadLetter.source == source, DeadLetter.stream == stream, DeadLetter.status == "open"
        )
    )
    return set(rows)


def open_letters(session: Session, source: str | None = None) -> list[DeadLetter]:
    stmt = select(DeadLetter).where(DeadLetter.status == "open").order_by(DeadLetter.id)
    if source:
        stmt = stmt.where(DeadLetter.source == source)
    return list(session.scalars(stmt))


def get(session: Session, letter_id: int) -> DeadLetter | None:
    return session.get(DeadLetter, letter_id)


def drop(session: Session, letter_id: int) -> bool:
    row = session.get(DeadLetter, letter_id)
    if row is None or row.status != "open":
        return False
    row.status = "dropped"
    row.updated_at = now()
    return True


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(DeadLetter.status, func.count()).group_by(DeadLetter.status))
    return {status: int(n) for status, n in rows}

"""Watermarks per (source, stream): how far a pull has safely got.

A watermark is written in the same transaction as the page it covers and never moves back
(``--full`` deletes it instead), so a crash can only make the next run re-read, never skip.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.state.clock import now
from connector.state.models import Watermark


def get(session: Session, source: str, stream: str) -> datetime | None:
    row = session.get(Watermark, (source, stream))
    return row.value if row else None


def advance(session: Session, source: str, stream: str, value: datetime) -> datetime:
    """Move forward to ``value``; an older value leaves the watermark where it is."""
    row = session.get(Watermark, (source, stream))
    if row is None:
        session.add(Watermark(source=source, stream=stream, value=value, updated_at=now()))
        return value
    if value > row.value:
        row.value = value
        row.updated_at = now()
    return row.value


def reset(session: Session, source: str, stream: str | None = None) -> None:
    stmt = delete(Watermark).where(Watermark.source == source)
    if stream is not None:
        stmt = stmt.where(Watermark.stream == stream)
    session.execute(stmt)


def all_watermarks(session: Session) -> list[Watermark]:
    return list(session.scalars(select(Watermark).order_by(Watermark.source, Watermark.stream)))

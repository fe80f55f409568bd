"""Sync runs: when each source last ran, how it went, and what it did."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.state.clock import now
from connector.state.models import SyncRun


def start(session: Session, source: str) -> int:
    run = SyncRun(source=source, started_at=now(), status="running", stats={})
    session.add(run)
    session.flush()
    return run.id


def finish(session: Session, run_id: int, *, status: str, stats: dict[str, Any], error: str | None = None) -> None:
    run = session.get(SyncRun, run_id)
    if run is None:
        return
    run.status = status
    run.stats = stats
    run.error = error
    run.finished_at = now()


def last_runs(session: Session) -> list[SyncRun]:
    """The latest run per source."""
    rows = list(session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(500)))
    seen: dict[str, SyncRun] = {}
    for row in rows:
        seen.setdefault(row.source, row)
    return sorted(seen.values(), key=lambda r: r.source)

"""The one place the state layer reads the wall clock, so tests can pass their own time."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)

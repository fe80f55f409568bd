"""Calendar arithmetic in the merchant's time zone.

Loyalty rules are stated in local calendar days ("available at 00:00 on day D + W + 1",
"expires 365 days later"), while every instant Vínculo stores is UTC. Adding days in UTC would
drift by an hour across daylight-saving changes, so day arithmetic happens on local wall time
and only the result is turned back into UTC. Nothing here reads the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# Results are memoised: the instants involved are mostly local midnights shared by many
# batches, and time-zone conversion dominates the engine's per-event cost otherwise.
_cached = lru_cache(maxsize=1 << 16)

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@_cached
def local_date(at: datetime, tz: ZoneInfo) -> date:
    """The merchant's calendar day that contains the instant ``at``."""
    return at.astimezone(tz).date()


@_cached
def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """00:00 local on ``day``, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@_cached
def add_local_days(at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``at`` moved by whole local days, keeping the local wall-clock time."""
    local = at.astimezone(tz)
    moved = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=tz)
    return moved.astimezone(UTC)


@_cached
def notice_plan(expiry: datetime, days_before: tuple[int, ...], tz: ZoneInfo) -> tuple[tuple[int, datetime], ...]:
    """``(days, instant)`` of each expiry notice, largest ``days`` first as configured."""
    return tuple((days, add_local_days(expiry, -days, tz)) for days in days_before)


@_cached
def local_day_iso(at: datetime, tz: ZoneInfo) -> str:
    """The merchant's calendar day of ``at`` as ISO 8601 text (what snapshots publish)."""
    return at.astimezone(tz).date().isoformat()


@_cached
def human_day(at: datetime, tz: ZoneInfo) -> str:
    """'20 March 2026' for the merchant's calendar day of ``at``: explanations name days so."""
    return human_date(at.astimezone(tz).date())


_last_iso: list[object] = [None, ""]


def iso(at: datetime) -> str:
    """``at.isoformat()``, remembering the latest answer: one event's time is printed into
    several keys and the snapshot, and formatting an aware instant is not cheap."""
    last = _last_iso
    if last[0] is at:
        return last[1]  # type: ignore[return-value]
    text = at.isoformat()
    last[0] = at
    last[1] = text
    return text


def next_year_start(at: datetime, tz: ZoneInfo) -> datetime:
    """00:00 local on the 1 January after the local day of ``at``."""
    return local_midnight(date(local_date(at, tz).year + 1, 1, 1), tz)


def year_start(at: datetime, tz: ZoneInfo) -> datetime:
    """00:00 local on the 1 January of the local year of ``at``."""
    return local_midnight(date(local_date(at, tz).year, 1, 1), tz)


def human_date(day: date) -> str:
    """'20 March 2026' — fixed English month names so output never depends on the OS locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"

"""The loyalty ledger in the state database: append-only entries plus a balance cache.

Entries are stored as the engine's own JSON (``Entry.to_dict``) with the few columns queries
need. ``source_key`` is unique, so even two processes racing on the same event cannot both write
it: the second insert fails and its transaction (outbox commands included) rolls back.
``loyalty_balances`` caches the folded balances; `vinculo loyalty rebuild` checks it against a
fresh fold of the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.state.clock import now
from connector.state.models import AccountBalance, LedgerEntryRow


def entry_rows(session: Session, account: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(LedgerEntryRow.data)
        .where(LedgerEntryRow.account == account)
        .order_by(LedgerEntryRow.seq)
    )
    return list(rows)


def entry_count(session: Session, account: str) -> int:
    row = session.get(AccountBalance, account)
    return row.entries if row is not None else 0


def append(
    session: Session, account: str, entries: Sequence[dict[str, Any]], *, start_seq: int
) -> None:
    """Add entries in order; ``start_seq`` is the account's entry count before them."""
    for offset, data in enumerate(entries):
        session.add(
            LedgerEntryRow(
                entry_id=data["entry_id"],
                source_key=data["source_key"],
                account=account,
                seq=start_seq + offset,
                kind=data["kind"],
                points=int(data["points"]),
                effective_at=_dt(data["effective_at"]),
                recorded_at=_dt(data["recorded_at"]),
                data=data,
            )
        )


def save_balance(
    session: Session,
    account: str,
    *,
    available: int,
    pending: int,
    debt: int,
    tier: str | None,
    entries: int,
) -> None:
    row = session.get(AccountBalance, account)
    if row is None:
        session.add(
            AccountBalance(
                account=account,
                available=available,
                pending=pending,
                debt=debt,
                tier=tier,
                entries=entries,
                updated_at=now(),
            )
        )
        return
    row.available, row.pending, row.debt, row.tier, row.entries = (
        available,
        pending,
        debt,
        tier,
        entries,
    )
    row.updated_at = now()


def balance(session: Session, account: str) -> AccountBalance | None:
    return session.get(AccountBalance, account)


def balances(session: Session, accounts: Iterable[str] | None = None) -> list[AccountBalance]:
    stmt = select(AccountBalance)
    if accounts is not None:
        stmt = stmt.where(AccountBalance.account.in_(list(accounts)))
    return list(
        session.scalars(stmt.order_by(AccountBalance.available.desc(), AccountBalance.account))
    )


def accounts(session: Session) -> list[str]:
    return list(
        session.scalars(select(LedgerEntryRow.account).distinct().order_by(LedgerEntryRow.account))
    )


def entry_total(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(LedgerEntryRow)) or 0)


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)

"""The loyalty ledger in the state database: append-only entries plus a balance cache.

Entries are stored as the engine's own JSON (``Entry.to_dict``) with the few columns queries
need. ``source_key`` is unique, so even two processes racing on the same event cannot both write
it: the second insert fails and its transaction (outbox commands included) rolls back.
``loyalty_balances`` caches the folded balances; `vinculo loyalty rebuild` checks it against a
fresh fold of the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from connector.state import bulk
from connector.state.clock import now
from connector.state.models import AccountBalance, LedgerEntryRow

_LEDGER = cast(Table, LedgerEntryRow.__table__)
_BALANCES = cast(Table, AccountBalance.__table__)
_BALANCE_MAPPER = inspect(AccountBalance)
_BALANCE_KEYS = ("account", "available", "pending", "debt", "tier", "entries", "updated_at")
_INSERT_ENTRIES = bulk.Statement(
    insert(_LEDGER),
    (
        "entry_id",
        "source_key",
        "account",
        "seq",
        "kind",
        "points",
        "effective_at",
        "recorded_at",
        "data",
    ),
    insert=True,
)
_INSERT_BALANCE = bulk.Statement(insert(_BALANCES), _BALANCE_KEYS, insert=True)
_UPDATE_BALANCE = bulk.Statement(
    update(_BALANCES)
    .where(_BALANCES.c.account == bindparam("b_account"))
    .values({k: bindparam(f"b_{k}") for k in _BALANCE_KEYS[1:]}),
    (*(f"b_{k}" for k in _BALANCE_KEYS[1:]), "b_account"),
)


def entry_rows(session: Session, account: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(LedgerEntryRow.data)
        .where(LedgerEntryRow.account == account)
        .order_by(LedgerEntryRow.seq)
    )
    return list(rows)


def entry_count(session: Session, account: str) -> int:
    return entry_counts(session, [account]).get(account, 0)


def entry_counts(session: Session, accounts: Iterable[str]) -> dict[str, int]:
    """Stored entry count per account (accounts without a balance row are absent).

    Read with Core, not ``session.get``: balance rows are written with Core too, and an ORM
    object held in the identity map would go on reporting the count it was loaded with.
    """
    table = _BALANCES
    out: dict[str, int] = {}
    for chunk in _chunks(list(dict.fromkeys(accounts))):
        rows = session.execute(
            select(table.c.account, table.c.entries).where(table.c.account.in_(chunk))
        )
        out.update({account: int(n) for account, n in rows})
    return out


def append(
    session: Session, account: str, entries: Sequence[dict[str, Any]], *, start_seq: int
) -> None:
    """Add entries in order; ``start_seq`` is the account's entry count before them."""
    append_many(session, [(account, start_seq, entries)])


def append_many(
    session: Session, batches: Iterable[tuple[str, int, Sequence[dict[str, Any]]]]
) -> int:
    """Add several accounts' new entries in one executemany INSERT; returns the rows written.

    Each batch is ``(account, entry count before, entries as Entry.to_dict())``. The unique
    ``source_key`` stays the idempotency guard: a duplicate fails the statement and with it the
    caller's transaction, outbox commands included. Values go to the driver ready-made
    (:mod:`connector.state.bulk`): the JSON text and instants exactly as the column types store
    them, without their per-row processing.
    """
    codec = bulk.codec(session)
    dumps, instant = codec.json, codec.iso_instant
    rows = [
        (
            data["entry_id"],
            data["source_key"],
            account,
            start + offset,
            data["kind"],
            int(data["points"]),
            instant(data["effective_at"]),
            instant(data["recorded_at"]),
            dumps(data),
        )
        for account, start, entries in batches
        for offset, data in enumerate(entries)
    ]
    _INSERT_ENTRIES.run(session, rows)
    return len(rows)


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
    save_balances(
        session,
        [
            {
                "account": account,
                "available": available,
                "pending": pending,
                "debt": debt,
                "tier": tier,
                "entries": entries,
            }
        ],
    )


def save_balances(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update balance rows (keys: account, available, pending, debt, tier, entries).

    Portable upsert: one SELECT for which rows exist, then one executemany UPDATE and one
    executemany INSERT. An ORM copy of a row already in the session is expired so a later
    ``session.get`` reads the new figures.
    """
    if not rows:
        return
    stamp = bulk.codec(session).instant(now())
    latest = {row["account"]: row for row in rows}
    found: set[str] = set()
    for chunk in _chunks(list(latest)):
        found.update(
            session.scalars(select(_BALANCES.c.account).where(_BALANCES.c.account.in_(chunk)))
        )
    updates: list[tuple[Any, ...]] = []
    inserts: list[tuple[Any, ...]] = []
    for account, r in latest.items():
        values = (r["available"], r["pending"], r["debt"], r["tier"], r["entries"], stamp)
        if account in found:
            updates.append((*values, account))
        else:
            inserts.append((account, *values))
    _UPDATE_BALANCE.run(session, updates)
    _INSERT_BALANCE.run(session, inserts)
    identity = session.identity_map
    if len(identity):
        key_for = _BALANCE_MAPPER.identity_key_from_primary_key
        for account in latest:
            held = identity.get(key_for((account,)))
            if held is not None:
                session.expire(held)


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


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    """IN lists kept well under SQLite's bound-parameter limit."""
    for i in range(0, len(values), size):
        yield values[i : i + size]

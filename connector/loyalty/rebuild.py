"""Prove a stored ledger: rebuild balances from entries and check the invariants of §5.14.

``vinculo loyalty rebuild`` calls :func:`verify` per customer with the entries read back from the
database and the balance row it keeps for fast reads; any difference is a finding, never fixed
silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connector.loyalty.ledger import Account, Balance, Bucket, Entry, Kind, entry_id_for


@dataclass(frozen=True, slots=True)
class RebuildReport:
    customer_id: str
    computed: Balance
    stored: Balance | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def rebuild(customer_id: str, entries: Iterable[Entry]) -> Account:
    """The account as its entries say it is (entries in the order they were written)."""
    return Account.from_entries(customer_id, entries)


def verify(customer_id: str, entries: Iterable[Entry], stored: Balance | None = None) -> RebuildReport:
    """Rebuild, then check keys, sums, batch arithmetic, signs and (if given) the stored balance."""
    rows = list(entries)
    problems: list[str] = []
    seen: set[str] = set()
    for e in rows:
        if e.source_key in seen:
            problems.append(f"source key {e.source_key} appears twice")
        seen.add(e.source_key)
        if e.entry_id != entry_id_for(e.source_key):
            problems.append(f"entry {e.entry_id} does not match its source key {e.source_key}")
        if not e.explanation.strip():
            problems.append(f"entry {e.source_key} has no explanation")
    if problems:
        return RebuildReport(customer_id, Balance(0, 0, 0), stored, tuple(problems))
    account = Account(customer_id)
    debits: dict[str, int] = {}
    restores: dict[str, int] = {}
    for i, e in enumerate(rows):
        try:
            account.fold(e)
        except (KeyError, AssertionError) as exc:
            problems.append(f"entry {e.source_key} cannot be applied: {exc!r}")
            break
        if e.kind in (Kind.REVERSE, Kind.REDEEM, Kind.EXPIRE, Kind.DEBT_SETTLE) or (
            e.kind is Kind.ADJUST and e.points < 0
        ):
            for batch_id, points in e.allocations:
                debits[batch_id] = debits.get(batch_id, 0) + points
        if e.kind is Kind.RESTORE:
            for batch_id, points in e.allocations:
                restores[batch_id] = restores.get(batch_id, 0) + points
        if i + 1 < len(rows) and rows[i + 1].recorded_at == e.recorded_at:
            continue  # signs are checked between applies; one apply may restore then expire
        if account.available < 0 or account.pending < 0 or account.debt < 0:
            problems.append(
                f"after {e.source_key}: available {account.available}, pending {account.pending}, "
                f"debt {account.debt} (none may be negative)"
            )
        if account.debt > 0 and account.available > 0:
            problems.append(f"after {e.source_key}: debt {account.debt} while {account.available} available")
    total = sum(e.net for e in rows)
    if account.net != total:
        problems.append(f"pending + available - debt = {account.net} but the entries sum to {total}")
    by_bucket = {b: 0 for b in Bucket}
    for e in rows:
        if e.bucket is not None:
            by_bucket[e.bucket] += e.points
        if e.from_bucket is not None:
            by_bucket[e.from_bucket] -= e.points
    if (by_bucket[Bucket.PENDING], by_bucket[Bucket.AVAILABLE], -by_bucket[Bucket.DEBT]) != (
        account.pending,
        account.available,
        account.debt,
    ):
        problems.append("bucket sums differ from the folded balances")
    for batch in account.batches.values():
        expected = batch.original - debits.get(batch.batch_id, 0) + restores.get(batch.batch_id, 0)
        if batch.remaining != expected or batch.remaining < 0:
            problems.append(
                f"batch {batch.batch_id}: remaining {batch.remaining}, expected original {batch.original} "
                f"- debits {debits.get(batch.batch_id, 0)} + restores {restores.get(batch.batch_id, 0)}"
            )
    computed = account.balance()
    if stored is not None and stored != computed:
        problems.append(
            f"stored balance available {stored.available} / pending {stored.pending} / debt {stored.debt} "
            f"differs from the ledger's {computed.available} / {computed.pending} / {computed.debt}"
        )
    return RebuildReport(customer_id, computed, stored, tuple(problems))

"""The pure loyalty engine: ``apply(program, account, event) -> Outcome``.

Each call first *sweeps* the account up to the event's time (releases, expiries, reward expiry,
notices, scheduled tier checks — in that order at any one instant, LOYALTY.md §5.4), then applies
the event. Every entry it writes is folded into the account at once, through the same
:meth:`Account.fold` that rebuilds an account from storage, so the incremental account and the
rebuilt one cannot disagree.

Idempotency: every entry has a source key; an event whose key is already in the ledger is a
no-op. A rejected request (:class:`~connector.errors.LoyaltyError`) leaves the account exactly as
it was — nothing is returned to store, nothing was folded.
"""

from __future__ import annotations

from collections.abc import Iterable

from connector.loyalty.earn import EarnQuote, quote
from connector.loyalty.events import Event, OrderPaid
from connector.loyalty.handlers import HANDLERS, precheck, primary_key
from connector.loyalty.ledger import Account, Entry
from connector.loyalty.program import Program
from connector.loyalty.run import Outcome, PerkCommand, Run, order_ref

__all__ = ["Outcome", "PerkCommand", "apply", "apply_many", "order_ref", "preview"]

_NOTHING: tuple[()] = ()


def _run(program: Program, account: Account, event: Event) -> Run | None:
    """Sweep, handle and sweep again; None when the event is a replay (nothing to do)."""
    run = Run(program, account, event.at)
    precheck(program, event)
    primary = primary_key(account, event)
    if primary is not None and primary in account.keys:
        return None
    run.sweep(event.at)
    HANDLERS[type(event)](run, event)
    run.sweep(event.at)
    run.auto_issue()
    return run


def apply(program: Program, account: Account, event: Event) -> Outcome:
    """Apply one event to ``account`` (mutated in place) and return what to persist and send."""
    mark = len(account.entries)
    tier_before = account.tier
    try:
        run = _run(program, account, event)
    except BaseException:
        account.truncate(mark)
        raise
    if run is None:
        return Outcome(_NOTHING, _NOTHING, account)
    return run.outcome(mark > 0, tier_before)


def apply_many(
    program: Program, account: Account, events: Iterable[Event], *, with_snapshot: bool = True
) -> Outcome:
    """Apply events in order, all or nothing, publishing the customer's state once at the end.

    The entries and coupons are exactly those of one :func:`apply` per event. ``PublishLoyalty``
    is the one the last of those calls would have sent (the snapshot as of the last event that
    wrote anything, keyed by the last entry), and ``SetTier`` comes once if the tier at the end
    differs from the tier at the start (or these are the account's first entries): stores only
    ever need the newest state.
    Building a snapshot per event is most of an event's cost when a sync page or a backfill
    brings several events of one customer together. If any event is rejected the account is put
    back as it was before the first one and the error is raised: nothing to store.

    ``with_snapshot=False`` leaves ``PublishLoyalty.snapshot`` as None for whoever sends it to
    build from the stored ledger (:func:`~connector.loyalty.snapshot.published_snapshot` gives the
    same dict): an outbox keeps only the newest publish per customer and store, so a snapshot
    built here would mostly be thrown away unsent.
    """
    mark = len(account.entries)
    tier_before = account.tier
    entries: list[Entry] = []
    perks: list[PerkCommand] = []
    warnings: list[str] = []
    last: Run | None = None
    try:
        for event in events:
            run = _run(program, account, event)
            if run is None:
                continue
            if run.entries:
                entries.extend(run.entries)
                last = run
            perks.extend(run.perks)
            warnings.extend(run.warnings)
    except BaseException:
        account.truncate(mark)
        raise
    if last is not None:
        perks.extend(last.publish(mark > 0, tier_before, with_snapshot))
    return Outcome(tuple(entries), tuple(perks), account, tuple(warnings))


def preview(program: Program, account: Account, cart: OrderPaid) -> EarnQuote:
    """'Earn N points with this order': the accrual computation on a cart, writing nothing."""
    return quote(program, cart, account.tier_at(cart.placed_at))


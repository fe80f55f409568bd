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

from connector.loyalty.earn import EarnQuote, quote
from connector.loyalty.events import Event, OrderPaid
from connector.loyalty.handlers import HANDLERS, precheck, primary_key
from connector.loyalty.ledger import Account
from connector.loyalty.program import Program
from connector.loyalty.run import Outcome, PerkCommand, Run, order_ref

__all__ = ["Outcome", "PerkCommand", "apply", "order_ref", "preview"]


def apply(program: Program, account: Account, event: Event) -> Outcome:
    """Apply one event to ``account`` (mutated in place) and return what to persist and send."""
    mark = len(account.entries)
    had_entries = mark > 0
    tier_before = account.tier
    run = Run(program, account, event.at)
    try:
        precheck(program, event)
        primary = primary_key(account, event)
        if primary is not None and primary in account.keys:
            return Outcome((), (), account)
        run.sweep(event.at)
        HANDLERS[type(event)](run, event)
        run.sweep(event.at)
        run.auto_issue()
    except BaseException:
        account.truncate(mark)
        raise
    return run.outcome(had_entries, tier_before)


def preview(program: Program, account: Account, cart: OrderPaid) -> EarnQuote:
    """'Earn N points with this order': the accrual computation on a cart, writing nothing."""
    return quote(program, cart, account.tier_at(cart.placed_at))


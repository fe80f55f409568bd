"""The pure loyalty engine: ``(program, account history, event) -> ledger entries + perks``.

No database, network, clock or adapter code is imported here: only the standard library,
pydantic, :mod:`connector.domain` and :mod:`connector.errors`. Every event carries its own time,
so the same inputs give the same entries on any machine, on any day, however often replayed.

Using it (what the persistence layer and the CLI do)
-----------------------------------------------------

1. Load the program once::

       program = load_program(yaml.safe_load(text), source="config/loyalty.yaml",
                              code_secret=os.environ["VINCULO_LOYALTY_SECRET"])

   ``code_secret`` keys the reward-code hash; it never comes from the YAML. A bad file raises
   :class:`~connector.errors.ProgramError` naming the file and the key path.
   ``program.with_version({...})`` appends a version (partial override with ``effective_from``).

2. Per customer, rebuild the account from stored entries (or keep it cached)::

       account = Account.from_entries(customer_id, [Entry.from_dict(row) for row in rows])

3. Turn store facts into events and apply them::

       for event in events_from_order(order, store="woo:main", observed_at=now):
           outcome = apply(program, account, event)
           # one transaction: INSERT outcome.entries (entry.to_dict(); source_key UNIQUE),
           #                  INSERT outcome.perks into the outbox (perk.key UNIQUE)

   ``apply`` mutates ``account`` in place (by folding the new entries) and returns
   :class:`Outcome` ``(entries, perks, account, warnings)``. If the transaction fails, drop the
   account and rebuild it from storage. A rejected request raises a
   :class:`~connector.errors.LoyaltyError` (``UnknownReward``, ``InsufficientPoints``,
   ``NoRateForCurrency``, ``UnknownCustomer`` with reference ``redeem-without-email``, …) and leaves
   the account untouched: nothing to store.
   Replaying an event whose source key is already stored returns an empty Outcome.
   ``TimePassed(at)`` is the 00:00 sweep: releases, expiries, reward expiry, notices, tier checks.

4. CLI building blocks: ``balance`` = :meth:`Account.balance` and :func:`snapshot`; ``history`` =
   ``account.entries`` (each with ``explanation``); ``adjust`` = ``apply(..., ManualAdjustment(...))``;
   ``redeem`` = ``apply(..., Redeem(...))`` (the IssueCoupon perk carries the code);
   ``rebuild`` = :func:`verify` (entries + the stored balance row → :class:`RebuildReport`).

Source keys (unique per program; ``entry_id`` = ``"e" + blake2b(source_key)``):

=========================================  ==================================================
``<store>:order:<id>:earn``                EARN (``…:bonus:<rule>`` BONUS, released with it)
``<store>:order:<id>:clock``               SCHEDULE (delivery/completion fixes available_at)
``<store>:order:<id>:refund:<rid>:reverse`` REVERSE (+ ``:debt`` DEBT / ``:shortfall`` SHORTFALL)
``<store>:order:<id>:cancel:reverse``      REVERSE for a cancellation
``batch:<batch_id>:release|expire``        RELEASE / EXPIRE (``…:release:settle`` DEBT_SETTLE)
``redemption:<id>:redeem|used|expired|void|restore``  REDEEM / REWARD records / RESTORE
``adjust:<key>``                           ADJUST;  ``<guard key>`` BONUS from BonusGranted
``tier:<customer>:<instant>:<tier>``       TIER record
``notice:<customer>:<expiry day>:<days>``  NOTICE record ("105 points expire on 30 August 2026")
=========================================  ==================================================

Perks are :class:`PerkCommand` ``(perk, store)``: ``IssueCoupon`` (key ``redemption:<id>``, code
from :func:`reward_code`, ``store`` = the redeeming store), ``SetTier`` (tags) and
``PublishLoyalty`` (snapshot of LOYALTY.md §5.13; key = customer + digest of the snapshot), the
latter two with ``store=None`` meaning every store the customer is known on.
"""

from connector.loyalty.codes import reward_code
from connector.loyalty.earn import EarnQuote
from connector.loyalty.engine import Outcome, PerkCommand, apply, order_ref, preview
from connector.loyalty.events import (
    BonusGranted,
    CouponUsed,
    EarnLine,
    Event,
    ManualAdjustment,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    Redeem,
    RefundedLine,
    RewardVoided,
    TimePassed,
    events_from_order,
)
from connector.loyalty.ledger import (
    Account,
    Balance,
    Batch,
    Bucket,
    Entry,
    Kind,
    OrderFacts,
    RewardState,
    entry_id_for,
)
from connector.loyalty.program import Program, Rules, load_program
from connector.loyalty.rebuild import RebuildReport, rebuild, verify
from connector.loyalty.snapshot import snapshot

__all__ = [
    "Account",
    "Balance",
    "Batch",
    "BonusGranted",
    "Bucket",
    "CouponUsed",
    "EarnLine",
    "EarnQuote",
    "Entry",
    "Event",
    "Kind",
    "ManualAdjustment",
    "OrderCancelled",
    "OrderCompleted",
    "OrderFacts",
    "OrderPaid",
    "OrderRefunded",
    "Outcome",
    "PerkCommand",
    "Program",
    "RebuildReport",
    "Redeem",
    "RefundedLine",
    "RewardState",
    "RewardVoided",
    "Rules",
    "TimePassed",
    "apply",
    "entry_id_for",
    "events_from_order",
    "load_program",
    "order_ref",
    "preview",
    "rebuild",
    "reward_code",
    "snapshot",
    "verify",
]

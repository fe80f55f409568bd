"""The pure loyalty engine: ``(program, account history, event) -> ledger entries + perks``.

No database, network, clock or adapter code is imported here: only the standard library,
pydantic, :mod:`connector.domain` and :mod:`connector.errors`. Every event carries its own time,
so the same inputs give the same entries on any machine, on any day, however often replayed.

Modules: ``program`` (versioned configuration, :func:`load_program`), ``events`` (event values and
:func:`events_from_order`), ``ledger`` (:class:`Entry`, :class:`Account` and its fold), ``engine``
(:func:`apply`, :func:`preview`), ``run``/``handlers`` (what an apply does), ``earn``, ``tiers``,
``snapshot`` (§5.13), ``codes`` (:func:`reward_code`), ``rebuild`` (:func:`verify`), ``localtime``.

Using it (what the persistence layer and the CLI do)
-----------------------------------------------------

1. Load the program once::

       program = load_program(yaml.safe_load(text), source="config/loyalty.yaml",
                              code_secret=os.environ["VINCULO_LOYALTY_SECRET"])

   The YAML is LOYALTY.md §5.15 plus ``timezone`` (default Europe/Madrid), per-currency
   ``earn.rates`` (``earn.rate`` is shorthand for the program currency), ``earn.bonuses`` /
   ``campaigns`` / ``first_order_bonus`` / ``min_order``, ``auto_issue`` and ``versions`` (partial
   overrides with ``effective_from``). ``code_secret`` keys the reward-code hash and never comes
   from the YAML. A bad file raises :class:`~connector.errors.ProgramError` naming the file and the
   key path. ``program.with_version({...})`` appends a version; orders are priced by the version
   in force at their ``placed_at``, and the rate used is stored on the entry.

2. Per customer, rebuild the account from stored entries (or keep it cached)::

       account = Account.from_entries(customer_id, [Entry.from_dict(row) for row in rows])

   ``rows`` in the order they were written (an autoincrement column). ``Entry`` fields:
   entry_id, source_key (UNIQUE), customer_id, kind, points, bucket, effective_at, recorded_at,
   explanation, from_bucket, batch_id, allocations, store, order_ref, rule_version, rate, basis,
   currency, available_at, expires_at, reverses, meta (JSON). ``entry.net`` is its contribution to
   ``pending + available - debt``.

3. Turn store facts into events and apply them::

       for event in events_from_order(order, store="woo:main", observed_at=now):
           outcome = apply(program, account, event)
           # one transaction: INSERT outcome.entries (entry.to_dict()),
           #                  INSERT outcome.perks into the outbox (command.key UNIQUE)

   ``apply`` mutates ``account`` in place (by folding the new entries) and returns
   :class:`Outcome` ``(entries, perks, account, warnings)``. If the transaction fails, drop the
   account and rebuild it from storage. A rejected request raises a
   :class:`~connector.errors.LoyaltyError` (``UnknownReward``, ``InsufficientPoints``,
   ``NoRateForCurrency``, ``UnknownCustomer`` with reference ``redeem-without-email``, ``ProgramError``
   ``reward-secret-missing``, ``LoyaltyError`` ``reward-tier-restricted`` / ``adjust-reason-missing``
   / ``reward-not-voidable``) and leaves the account untouched: nothing to store.
   Replaying an event whose source key is already stored returns an empty Outcome.
   ``TimePassed(at)`` is the 00:00 sweep: releases, expiries, reward expiry, notices, tier checks.
   ``apply_many(program, account, events)`` applies several events of one customer all or
   nothing and publishes the snapshot once, as of the last event that wrote entries (what a sync
   page or a backfill should use: the per-event snapshot is a large share of an event's cost);
   with ``with_snapshot=False`` it leaves the snapshot to the sender, who builds it from the
   stored ledger with :func:`published_snapshot` (same dict) when it sends the publish.

4. CLI building blocks: ``balance`` = :meth:`Account.balance` and :func:`snapshot`; ``history`` =
   ``account.entries`` (each with ``explanation``); ``adjust`` = ``apply(..., ManualAdjustment(...))``;
   ``redeem`` = ``apply(..., Redeem(...))`` (the IssueCoupon perk carries the code);
   ``rebuild`` = :func:`verify` (entries + the stored balance row -> :class:`RebuildReport`).

Source keys (unique per program; ``entry_id`` = ``"e" + blake2b(source_key)``):

==============================================  ================================================
``<store>:order:<id>:earn``                     EARN (``…:bonus:<rule>`` BONUS, released with it)
``<store>:order:<id>:clock``                    SCHEDULE (delivery fixes available_at)
``<store>:order:<id>:refund:<rid>:reverse``     REVERSE (+ ``:debt`` DEBT, ``:shortfall`` SHORTFALL)
``<store>:order:<id>:cancel:reverse``           REVERSE for a cancellation
``batch:<batch_id>:release`` / ``:expire``      RELEASE / EXPIRE (``…:release:settle`` DEBT_SETTLE)
``redemption:<id>:redeem|used|expired|void``    REDEEM / REWARD records
``redemption:<id>:restore`` (``:expire``)       RESTORE (and the re-expiry of expired batches)
``adjust:<key>``; ``<guard key>``               ADJUST; BONUS from BonusGranted
``tier:<customer>:<instant>:<tier>``            TIER record
``notice:<customer>:<expiry day>:<days>``       NOTICE ("105 points expire on 30 August 2026")
==============================================  ================================================

Perks are :class:`PerkCommand` ``(perk, store)``: ``IssueCoupon`` (key ``redemption:<id>``, code
from :func:`reward_code`, ``store`` = the redeeming store), ``SetTier`` (tier tags) and
``PublishLoyalty`` (the §5.13 snapshot; key ``publish:<customer>:<last entry id>``), the last two
with ``store=None`` meaning every store the customer is known on.
"""

from connector.loyalty.codes import reward_code
from connector.loyalty.earn import EarnQuote
from connector.loyalty.engine import Outcome, PerkCommand, apply, apply_many, order_ref, preview
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
from connector.loyalty.snapshot import published_snapshot, snapshot

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
    "apply_many",
    "entry_id_for",
    "events_from_order",
    "load_program",
    "order_ref",
    "preview",
    "published_snapshot",
    "rebuild",
    "reward_code",
    "snapshot",
    "verify",
]

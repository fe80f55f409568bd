"""apply_many: the same ledger as one apply per event, one snapshot per batch, all or nothing."""

from __future__ import annotations

import pytest

from connector.domain import PublishLoyalty, SetTier
from connector.errors import InsufficientPoints
from connector.loyalty import Account, Kind, Redeem, apply_many

from .helpers import completed, default_program, local, paid, run, snapshot_of


def _events() -> list:
    return [
        paid("A", local(2026, 3, 1), "57.87"),  # floor(5 × 57.87) = 289 pending
        completed("A", local(2026, 3, 4)),  # available 00:00 on 4 March + 14 + 1 = 19 March
        paid("B", local(2026, 3, 20), "20.00"),  # the sweep releases A's 289 first; B earns 100
    ]


def test_entries_match_one_apply_per_event_and_one_snapshot_is_published() -> None:
    program = default_program()
    together = Account("c1")
    outcome = apply_many(program, together, _events())

    assert [(e.kind, e.points) for e in outcome.entries] == [
        (Kind.EARN, 289),
        (Kind.SCHEDULE, 0),
        (Kind.RELEASE, 289),
        (Kind.EARN, 100),
    ]
    publishes = [p.perk for p in outcome.perks if isinstance(p.perk, PublishLoyalty)]
    tiers = [p.perk for p in outcome.perks if isinstance(p.perk, SetTier)]
    assert len(publishes) == 1 and len(tiers) == 1  # first entries: bronze tags once
    assert tiers[0].tier == "vinculo-tier-bronze"
    snap = publishes[0].snapshot
    assert (snap["available"], snap["pending"], snap["tier"]) == (289, 100, "bronze")
    assert snap["as_of"] == local(2026, 3, 20).isoformat()
    assert publishes[0].key == f"publish:c1:{outcome.entries[-1].entry_id}"

    one_by_one = Account("c1")
    outcomes = run(program, one_by_one, _events())
    assert together == one_by_one
    assert list(outcome.entries) == [e for o in outcomes for e in o.entries]
    assert snapshot_of(outcomes[-1]) == snap


def test_a_rejected_event_leaves_the_account_as_before_the_batch() -> None:
    program = default_program()
    account = Account("c1")
    events = [*_events(), Redeem(at=local(2026, 3, 21), redemption_id="r1", reward_id="five", store="woo:main", email="customer@example.com")]
    with pytest.raises(InsufficientPoints):  # 500 points asked, 289 spendable
        apply_many(program, account, events)
    assert account == Account("c1")


def test_a_replayed_batch_is_empty() -> None:
    program = default_program()
    account = Account("c1")
    apply_many(program, account, _events()[:2])
    again = apply_many(program, account, _events()[:2])
    assert again.entries == () and again.perks == ()

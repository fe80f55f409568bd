"""Builders for loyalty tests: the §5.15 default program read from LOYALTY.md, and terse events.

The default program is parsed out of the shared LOYALTY.md (never copied into the repo), so the
worked examples run against the very configuration the document works them out with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from connector.domain import Money
from connector.loyalty import (
    Account,
    EarnLine,
    Event,
    Kind,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    Outcome,
    Program,
    RefundedLine,
    apply,
    load_program,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
MADRID = ZoneInfo("Europe/Madrid")
SECRET = "test-secret"
STORE = "woo:main"


@lru_cache(maxsize=1)
def default_program_data() -> dict[str, Any]:
    text = (SHARED / "LOYALTY.md").read_text(encoding="utf-8")
    section = text.split("### 5.15", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, "LOYALTY.md §5.15 has no yaml block"
    data = yaml.safe_load(block.group(1))
    assert isinstance(data, dict)
    return data


def program_data(**overrides: Any) -> dict[str, Any]:
    """The default program with top-level keys of ``program:`` replaced."""
    data = yaml.safe_load(yaml.safe_dump(default_program_data()))
    data["program"].update(overrides)
    return data


def default_program(**overrides: Any) -> Program:
    return load_program(program_data(**overrides), source="LOYALTY.md#5.15", code_secret=SECRET)


def local(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    """A merchant-local (Madrid) wall-clock time as an aware UTC instant."""
    return datetime(y, m, d, hh, mm, tzinfo=MADRID).astimezone(UTC)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def paid(
    order_id: str,
    at: datetime,
    *totals: str,
    store: str = STORE,
    placed_at: datetime | None = None,
    currency: str = "EUR",
    email: str | None = "customer@example.com",
    total: str | None = None,
    lines: Iterable[EarnLine] | None = None,
) -> OrderPaid:
    """An order paid at ``at`` with one line per amount (after discounts, tax excluded)."""
    def money(amount: str) -> Money:
        return Money(Decimal(amount), currency)

    built = tuple(lines) if lines is not None else tuple(
        EarnLine(line_id=f"{order_id}-{i}", subtotal=money(t), total=money(t), tax=money("0"))
        for i, t in enumerate(totals, 1)
    )
    grand = total if total is not None else str(sum((Decimal(t) for t in totals), Decimal(0)))
    return OrderPaid(
        at=at,
        store=store,
        order_id=order_id,
        number=order_id,
        placed_at=placed_at or at,
        currency=currency,
        lines=built,
        total=money(grand),
        shipping=money("0"),
        email=email,
    )


def completed(order_id: str, at: datetime, store: str = STORE) -> OrderCompleted:
    return OrderCompleted(at=at, store=store, order_id=order_id)


def refund_lines(order_id: str, refund_id: str, at: datetime, *lines: tuple[str, str], store: str = STORE) -> OrderRefunded:
    """A refund of whole lines: (line number within the order, amount)."""
    refunded = tuple(RefundedLine(f"{order_id}-{n}", eur(a)) for n, a in lines)
    amount = sum((Decimal(a) for _n, a in lines), Decimal(0))
    return OrderRefunded(at=at, store=store, order_id=order_id, refund_id=refund_id, amount=eur(str(amount)), lines=refunded)


def run(program: Program, account: Account, events: Iterable[Event]) -> list[Outcome]:
    return [apply(program, account, event) for event in events]


def kinds(outcome: Outcome) -> list[tuple[str, int]]:
    return [(e.kind.value, e.points) for e in outcome.entries]


def of_kind(outcome: Outcome, kind: Kind) -> list[Any]:
    return [e for e in outcome.entries if e.kind is kind]


def earn_then_release(
    program: Program, account: Account, order_id: str, basis: str, completed_on: datetime
) -> None:
    """An order paid the day before ``completed_on`` and swept past its release."""
    from datetime import timedelta

    from connector.loyalty import TimePassed

    apply(program, account, paid(order_id, completed_on - timedelta(days=1), basis))
    apply(program, account, completed(order_id, completed_on))
    apply(program, account, TimePassed(at=completed_on + timedelta(days=16)))


def snapshot_of(outcome: Outcome) -> Mapping[str, Any]:
    from connector.domain import PublishLoyalty

    publishes = [p.perk for p in outcome.perks if isinstance(p.perk, PublishLoyalty)]
    assert publishes, "no PublishLoyalty perk in the outcome"
    return publishes[-1].snapshot

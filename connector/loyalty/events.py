"""What can happen to a loyalty account, as frozen values that carry their own time.

The engine never reads the clock: every event says when it happened (``at``, aware, normalised
to UTC), so the same events give the same ledger whenever and however often they are applied.
Order events name the store and the store's order id; the ledger derives its source keys from
them (``<store>:order:<id>:earn``), which is what turns a webhook retry into a no-op.

:func:`events_from_order` reads a store order snapshot and lists the events it implies. Feeding
the same snapshot twice, or a later snapshot of the same order, only adds what is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from connector.domain import Money, Order, OrderStatus, normalise_email, utc
from connector.errors import InvalidValue


def _at(event: object) -> None:
    object.__setattr__(event, "at", utc(event.at, what="event time"))  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class EarnLine:
    """A product line as the earn rule sees it; amounts exclude tax."""

    line_id: str
    subtotal: Money  # before discounts
    total: Money  # after every discount allocated to the line
    tax: Money
    sku: str = ""
    categories: tuple[str, ...] = ()
    quantity: int = 1
    is_gift_card: bool = False


@dataclass(frozen=True, slots=True)
class OrderPaid:
    """The order is paid: points are earned (pending) at the rate in force at ``placed_at``."""

    at: datetime
    store: str
    order_id: str
    number: str
    placed_at: datetime
    currency: str
    lines: tuple[EarnLine, ...]
    total: Money  # grand total paid (tax and shipping included)
    shipping: Money  # shipping charged, tax included
    email: str | None = None
    coupon_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _at(self)
        object.__setattr__(self, "placed_at", utc(self.placed_at, what="placed_at"))
        for money in (self.total, self.shipping):
            if money.currency != self.currency:
                raise InvalidValue(
                    f"order {self.order_id} mixes {money.currency} into a {self.currency} order",
                    reference="currency-mismatch",
                )


@dataclass(frozen=True, slots=True)
class OrderCompleted:
    """Delivered / completed: the return window's clock starts at ``at``."""

    at: datetime
    store: str
    order_id: str

    def __post_init__(self) -> None:
        _at(self)


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """Cancelled: everything the order earned is reversed, as for a full refund."""

    at: datetime
    store: str
    order_id: str

    def __post_init__(self) -> None:
        _at(self)


@dataclass(frozen=True, slots=True)
class RefundedLine:
    line_id: str
    amount: Money  # refunded merchandise amount, tax excluded


@dataclass(frozen=True, slots=True)
class OrderRefunded:
    """One refund. ``lines`` empty means an amount-only refund (pro rata, LOYALTY.md §5.5).

    ``fully_refunded`` says every product line has now been refunded (the translator knows it from
    the snapshot); the engine also works it out from the refunded basis. ``ignore`` is the
    merchant's ``loyalty:ignore`` flag: the refund is recorded with 0 points.
    """

    at: datetime
    store: str
    order_id: str
    refund_id: str
    amount: Money
    lines: tuple[RefundedLine, ...] = ()
    shipping: Money | None = None
    fully_refunded: bool = False
    ignore: bool = False
    reason: str = ""

    def __post_init__(self) -> None:
        _at(self)


@dataclass(frozen=True, slots=True)
class CouponUsed:
    """An order carried this code; if it is one of the customer's reward codes it becomes used."""

    at: datetime
    store: str
    order_id: str
    code: str

    def __post_init__(self) -> None:
        _at(self)


@dataclass(frozen=True, slots=True)
class ManualAdjustment:
    """A merchant's correction; ``key`` makes it idempotent, ``reason`` is mandatory."""

    at: datetime
    key: str
    points: int
    reason: str
    store: str | None = None

    def __post_init__(self) -> None:
        _at(self)


@dataclass(frozen=True, slots=True)
class BonusGranted:
    """A campaign credit (welcome, birthday, referral). ``key`` is the campaign's guard key.

    With ``available_at`` in the future the bonus waits as pending until then.
    """

    at: datetime
    key: str
    points: int
    reason: str
    available_at: datetime | None = None
    store: str | None = None

    def __post_init__(self) -> None:
        _at(self)
        if self.available_at is not None:
            object.__setattr__(self, "available_at", utc(self.available_at, what="available_at"))


@dataclass(frozen=True, slots=True)
class Redeem:
    """The customer spends points on a reward; ``redemption_id`` is the idempotency key."""

    at: datetime
    redemption_id: str
    reward_id: str
    store: str
    email: str | None

    def __post_init__(self) -> None:
        _at(self)


@dataclass(frozen=True, slots=True)
class RewardVoided:
    """The merchant voided an unused reward, or the store refused to create its coupon."""

    at: datetime
    redemption_id: str
    reason: str
    rejected_by_store: bool = False

    def __post_init__(self) -> None:
        _at(self)


@dataclass(frozen=True, slots=True)
class TimePassed:
    """The 00:00 sweep (or any tick): releases, expiries, reward expiry, notices, tiers."""

    at: datetime

    def __post_init__(self) -> None:
        _at(self)


Event = (
    OrderPaid
    | OrderCompleted
    | OrderCancelled
    | OrderRefunded
    | CouponUsed
    | ManualAdjustment
    | BonusGranted
    | Redeem
    | RewardVoided
    | TimePassed
)


# --- translation from a store order snapshot -----------------------------------------------------


def local_order_id(order_id: str, store: str) -> str:
    """The store's own id: ``shopify:eu:5531`` seen from store ``shopify:eu`` is ``5531``."""
    prefix = f"{store}:"
    return order_id[len(prefix):] if order_id.startswith(prefix) else order_id


def events_from_order(order: Order, store: str, observed_at: datetime) -> list[Event]:
    """The events a store order snapshot implies, oldest first.

    Times come from the snapshot (paid, completed, refund dates), never from ``observed_at``,
    so a snapshot read twice gives identical events; ``observed_at`` only stands in for a date
    the store did not report and caps dates a store clock put in the future.
    """
    seen = utc(observed_at, what="observed_at")

    def when(value: datetime | None, fallback: datetime) -> datetime:
        return min(utc(value) if value is not None else fallback, seen)

    oid = local_order_id(order.id, store)
    events: list[Event] = []
    paid = order.paid_at is not None or order.status.is_paid
    paid_at = when(order.paid_at, utc(order.created_at))
    if paid:
        cur = order.currency
        lines = tuple(
            EarnLine(
                line_id=line.line_id,
                subtotal=line.subtotal,
                total=line.total,
                tax=line.total_tax,
                sku=line.sku,
                categories=line.categories,
                quantity=line.quantity,
                is_gift_card=line.is_gift_card,
            )
            for line in order.lines
        )
        if order.shipping_lines:
            shipping = sum(
                (s.total + s.total_tax for s in order.shipping_lines), Money.zero(cur)
            )
        else:
            shipping = order.shipping_total
        events.append(
            OrderPaid(
                at=paid_at,
                store=store,
                order_id=oid,
                number=order.number or oid,
                placed_at=min(utc(order.created_at), paid_at),
                currency=cur,
                lines=lines,
                total=order.total,
                shipping=shipping,
                email=normalise_email(order.email),
                coupon_codes=tuple(c.code for c in order.coupon_lines),
            )
        )
        for coupon in order.coupon_lines:
            events.append(CouponUsed(at=paid_at, store=store, order_id=oid, code=coupon.code.strip().lower()))
        if order.completed_at is not None or order.status is OrderStatus.COMPLETED:
            events.append(
                OrderCompleted(at=when(order.completed_at, utc(order.updated_at)), store=store, order_id=oid)
            )
    refunds = sorted(order.refunds, key=lambda r: (utc(r.created_at), r.id))
    eligible = {line.line_id: line.total.amount for line in order.lines if not line.is_gift_card}
    refunded: dict[str, Decimal] = {}
    refunded_amount = Decimal(0)
    for refund in refunds:
        for rl in refund.lines:
            refunded[rl.line_id] = refunded.get(rl.line_id, Decimal(0)) + rl.amount.amount
        refunded_amount += refund.amount.amount
        full = (bool(eligible) and all(refunded.get(k, Decimal(0)) >= v for k, v in eligible.items())) or (
            refunded_amount >= order.total.amount > 0
        )
        ignore = "loyalty:ignore" in refund.reason.lower()
        events.append(
            OrderRefunded(
                at=when(refund.created_at, utc(order.updated_at)),
                store=store,
                order_id=oid,
                refund_id=refund.id,
                amount=refund.amount,
                lines=tuple(RefundedLine(rl.line_id, rl.amount) for rl in refund.lines),
                shipping=refund.shipping,
                fully_refunded=full,
                ignore=ignore,
                reason=refund.reason,
            )
        )
    if order.status is OrderStatus.CANCELLED:
        events.append(OrderCancelled(at=when(None, utc(order.updated_at)), store=store, order_id=oid))
    return events

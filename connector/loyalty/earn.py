"""How many points an order earns, and the sentence that proves it (LOYALTY.md §5.2).

One function serves the real accrual and the "earn N points with this order" preview, so the
number a customer is promised at checkout is the number they get. Arithmetic is exact decimal and
rounding happens once per order, never per line.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from connector.errors import NoRateForCurrency
from connector.loyalty.events import OrderPaid
from connector.loyalty.program import Program, Rules, TierLevel

_ROUNDING = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "ceil": ROUND_CEILING}
_ONE = Decimal(1)
_ZERO = Decimal(0)
_BASIS_LABEL = {
    "merchandise_after_discounts": "merchandise after discounts",
    "merchandise_before_discounts": "merchandise before discounts",
    "total_excl_shipping": "order total without shipping",
    "total": "order total",
}


def round_points(value: Decimal, rounding: str) -> int:
    return int(value.to_integral_value(rounding=_ROUNDING[rounding]))


def fmt(value: Decimal) -> str:
    """Shortest exact decimal text: 6.0 → '6', 57.870 → '57.87', 1E+2 → '100'."""
    text = format(value.normalize(), "f")
    return text


_CENT = Decimal("0.01")


def money_text(value: Decimal) -> str:
    cents = value.quantize(_CENT)
    return format(cents, "f") if value == cents else fmt(value)


class EarnQuote(NamedTuple):
    """The earn computation for one order, with every figure the ledger stores.

    A named tuple: built for every order paid, and several times cheaper than a frozen
    dataclass of nineteen fields."""

    points: int
    rate: Decimal  # base × tier multiplier × campaign multiplier
    base_rate: Decimal
    tier: str | None
    tier_multiplier: Decimal
    campaign: str | None
    campaign_multiplier: Decimal
    basis: Decimal  # B
    wbasis: Decimal  # B with line multipliers applied (what the rate multiplies)
    total: Decimal  # T
    spend: Decimal  # B in the program currency, for tiers
    currency: str
    basis_kind: str
    rounding: str
    lines: dict[str, tuple[Decimal, Decimal]]
    line_bonuses: tuple[tuple[str, int], ...]
    window_days: int
    rule_version: str
    below_minimum: bool

    def explanation(self, number: str) -> str:
        """'+289 pts: order #1042, 289 = floor(5 × 57.87) — 57.87 EUR merchandise after …'."""
        cur = self.currency
        parts = [f"{fmt(self.base_rate)} pts/{cur} base"]
        if self.tier is not None:
            parts.append(f"{self.tier} ×{fmt(self.tier_multiplier)}")
        if self.campaign is not None:
            parts.append(f"campaign {self.campaign} ×{fmt(self.campaign_multiplier)}")
        weighted = ""
        if self.wbasis != self.basis:
            weighted = f" (weighted {money_text(self.wbasis)} with line bonuses)"
        return (
            f"+{self.points} pts: order #{number}, {self.points} = {self.rounding}"
            f"({fmt(self.rate)} × {money_text(self.wbasis)}) — {money_text(self.basis)} {cur} "
            f"{_BASIS_LABEL[self.basis_kind]}{weighted} × {fmt(self.rate)} pts/{cur} "
            f"({', '.join(parts)})"
        )


def base_rate(rules: Rules, currency: str, order_ref: str) -> Decimal:
    rate = rules.earn.rates.get(currency)
    if rate is None:
        raise NoRateForCurrency(
            f"order {order_ref} is in {currency}, and the program has no earn rate for it "
            f"(rates: {', '.join(sorted(rules.earn.rates))})",
            obj=order_ref,
            hint=f"add `{currency}: <points per 1.00>` under earn.rates, or leave such orders out",
        )
    return rate


def tier_level(rules: Rules, tier: str | None) -> TierLevel | None:
    if rules.tiers is None:
        return None
    return rules.level(tier) or rules.tiers.levels[0]


def quote(program: Program, order: OrderPaid, tier: str | None) -> EarnQuote:
    """Points for ``order`` under the version in force at its ``placed_at``, for ``tier``."""
    rules = program.at(order.placed_at)
    earn = rules.earn
    cur = order.currency
    ref = f"{order.store}:order:{order.order_id}"
    base = base_rate(rules, cur, ref)
    level = tier_level(rules, tier)
    tier_mult = level.multiplier if level is not None else _ONE
    campaign, campaign_mult = None, _ONE
    placed = order.placed_at
    for c in earn.campaigns:
        if c.start <= placed < c.end and (campaign is None or c.multiplier > campaign_mult):
            campaign, campaign_mult = c.id, c.multiplier
    rate = base * tier_mult * campaign_mult

    per_line = earn.basis.startswith("merchandise")
    before = earn.basis == "merchandise_before_discounts"
    basis = _ZERO
    wbasis = _ZERO
    lines: dict[str, tuple[Decimal, Decimal]] = {}
    extra: dict[str, int] = {}
    gift = _ZERO
    multipliers = [b for b in earn.bonuses if b.multiplier != 1]
    extras = [b for b in earn.bonuses if b.extra_points]
    for line in order.lines:
        if line.is_gift_card and not earn.include_gift_cards:
            gift += line.total.amount + line.tax.amount
            continue
        amount = line.subtotal.amount if before else line.total.amount
        mult = _ONE
        for bonus in multipliers:
            if bonus.multiplier > mult and bonus.matches(line.sku, line.categories):
                mult = bonus.multiplier
        for bonus in extras:
            if bonus.matches(line.sku, line.categories):
                extra[bonus.id] = extra.get(bonus.id, 0) + bonus.extra_points * line.quantity
        basis += amount
        wbasis += amount * mult
        if per_line:
            total = line.total.amount
            factor = amount / total if total else _ONE
            lines[line.line_id] = (factor, factor * mult)
    total_paid = order.total.amount
    if not per_line:
        basis = total_paid - gift
        if earn.basis == "total_excl_shipping":
            basis -= order.shipping.amount
        basis = max(basis, _ZERO)
        wbasis = basis + (wbasis - _sum_unweighted(order, earn.include_gift_cards, before))
    below = basis < earn.min_order
    points = 0 if below else round_points(rate * wbasis, earn.rounding)
    home = program.currency
    spend = basis
    if cur != home:
        home_rate = rules.earn.rates[home]
        spend = basis * base / home_rate if base and home_rate else basis
    window = rules.pending.window_days
    if level is not None and level.window_days is not None:
        window = level.window_days
    return EarnQuote(
        points=max(points, 0),
        rate=rate,
        base_rate=base,
        tier=level.name if level is not None else None,
        tier_multiplier=tier_mult,
        campaign=campaign,
        campaign_multiplier=campaign_mult,
        basis=basis,
        wbasis=wbasis,
        total=total_paid,
        spend=spend,
        currency=cur,
        basis_kind=earn.basis,
        rounding=earn.rounding,
        lines=lines,
        line_bonuses=tuple(sorted(extra.items())) if points > 0 else (),
        window_days=window,
        rule_version=rules.label,
        below_minimum=below,
    )


def _sum_unweighted(order: OrderPaid, include_gift_cards: bool, before: bool) -> Decimal:
    return sum(
        (
            (line.subtotal.amount if before else line.total.amount)
            for line in order.lines
            if include_gift_cards or not line.is_gift_card
        ),
        _ZERO,
    )

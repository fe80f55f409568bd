"""Order pricing on the simulator: per-line taxes, discount allocations, taxesIncluded, totals.

Every expected figure is worked out by hand in the comment beside it, from Shopify's rules as the
simulator documents them (pricing.py): allocations per line, tax per line on the price after the
line's allocations, each rounded half-up to the cent, totals summed from the rounded lines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.shopify.adapter import ShopifyAdapter
from adapters.shopify.simulator import ShopifySimulator
from adapters.shopify.simulator.pricing import code_amount, code_percentage, free_shipping
from adapters.shopify.throttle import ShopBucket
from connector.domain import Money
from tests.fixtures.shopify_simulator import post_graphql

ORDER = """query O($id: ID!) { order(id: $id) {
  taxesIncluded
  subtotalPriceSet { shopMoney { amount } }
  totalDiscountsSet { shopMoney { amount } }
  totalTaxSet { shopMoney { amount } }
  totalShippingPriceSet { shopMoney { amount } }
  totalPriceSet { shopMoney { amount } }
  totalRefundedSet { shopMoney { amount } }
  taxLines { title rate ratePercentage priceSet { shopMoney { amount } } }
  lineItems(first: 10) { nodes {
    originalTotalSet { shopMoney { amount } }
    discountedTotalSet { shopMoney { amount } }
    totalDiscountSet { shopMoney { amount } }
    taxLines { title rate priceSet { shopMoney { amount } } }
    discountAllocations { allocatedAmountSet { shopMoney { amount } }
      discountApplication { __typename targetType allocationMethod
        value { ... on PricingPercentageValue { percentage } ... on MoneyV2 { amount } }
        ... on DiscountCodeApplication { code } } }
  } }
  shippingLines(first: 5) { nodes {
    originalPriceSet { shopMoney { amount } }
    discountedPriceSet { shopMoney { amount } }
    taxLines { priceSet { shopMoney { amount } } }
    discountAllocations { allocatedAmountSet { shopMoney { amount } }
      discountApplication { ... on DiscountCodeApplication { code } } }
  } }
  refunds { refundLineItems(first: 5) { nodes { subtotalSet { shopMoney { amount } }
    totalTaxSet { shopMoney { amount } } } } }
} }"""


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def amt(bag: dict[str, Any]) -> str:
    return str(bag["shopMoney"]["amount"])


def read(sim: ShopifySimulator, order_id: int) -> dict[str, Any]:
    status, _, body = post_graphql(sim, ORDER, {"id": f"gid://shopify/Order/{order_id}"})
    assert status == 200 and "errors" not in body, body
    order: dict[str, Any] = body["data"]["order"]
    return order


def adapter_for(sim: ShopifySimulator) -> ShopifyAdapter:
    return ShopifyAdapter(store="eu", shop_domain=sim.shop_domain, access_token=sim.access_token,
                          base_url=sim.url, bucket=ShopBucket())


def test_code_discount_in_a_tax_included_shop(shopify_sim: ShopifySimulator) -> None:
    # 2 × 12.50 with a 10 % code, prices include 21 % IVA:
    #   original 25.00; allocation 25.00 × 0.10 = 2.50; price after discounts 22.50
    #   tax inside it: 22.50 × 21/121 = 3.9049… → 3.90
    #   loyalty basis (after discounts, without tax): 22.50 − 3.90 = 18.60
    o = shopify_sim.create_order(customer_id=None, email="a@example.com",
                                 lines=[("MUG", "Mug", 2, Decimal("12.50"))],
                                 discounts=[code_percentage("WELCOME10", "0.10")])
    d = read(shopify_sim, o.id)
    assert d["taxesIncluded"] is True
    (line,) = d["lineItems"]["nodes"]
    assert amt(line["originalTotalSet"]) == "25.0"
    assert [amt(a["allocatedAmountSet"]) for a in line["discountAllocations"]] == ["2.5"]
    app = line["discountAllocations"][0]["discountApplication"]
    assert app == {"__typename": "DiscountCodeApplication", "targetType": "LINE_ITEM",
                   "allocationMethod": "ACROSS", "value": {"percentage": 10.0}, "code": "WELCOME10"}
    # An order-level code: left out of discountedTotalSet and totalDiscountSet ([schema]).
    assert (amt(line["discountedTotalSet"]), amt(line["totalDiscountSet"])) == ("25.0", "0.0")
    assert line["taxLines"] == [{"title": "IVA", "rate": 0.21,
                                 "priceSet": {"shopMoney": {"amount": "3.9"}}}]
    # Order: subtotal 22.50, discounts 2.50, tax 3.90 (inside), total 22.50.
    assert [amt(d[k]) for k in ("subtotalPriceSet", "totalDiscountsSet", "totalTaxSet", "totalPriceSet")] == [
        "22.5", "2.5", "3.9", "22.5"]
    assert d["taxLines"] == [{"title": "IVA", "rate": 0.21, "ratePercentage": 21.0,
                              "priceSet": {"shopMoney": {"amount": "3.9"}}}]

    mapped = adapter_for(shopify_sim).get_order(f"gid://shopify/Order/{o.id}")
    assert mapped is not None and mapped.prices_include_tax
    (ml,) = mapped.lines
    assert (ml.subtotal, ml.total, ml.total_tax) == (eur("21.10"), eur("18.60"), eur("3.90"))  # 25.00 − 3.90
    assert mapped.merchandise_after_discounts == eur("18.60")
    (coupon,) = mapped.coupon_lines
    assert (coupon.code, coupon.discount, coupon.free_shipping) == ("WELCOME10", eur("2.50"), False)
    assert (mapped.total, mapped.total_tax, mapped.discount_total) == (eur("22.50"), eur("3.90"), eur("2.50"))


def test_amount_code_and_free_shipping_with_tax_on_top(shopify_sim: ShopifySimulator) -> None:
    # Tax added on top (taxesIncluded false), lines 3 × 9.99 = 29.97 and 1 × 15.00, shipping 4.95,
    # a 5.00 code spread across the lines and a free-shipping code:
    #   share of line 1: 5.00 × 29.97 / 44.97 = 3.3322… → 3.33; line 2 takes the rest, 1.67
    #   line 1: 29.97 − 3.33 = 26.64, tax 26.64 × 0.21 = 5.5944 → 5.59
    #   line 2: 15.00 − 1.67 = 13.33, tax 13.33 × 0.21 = 2.7993 → 2.80
    #   shipping: 4.95 allocated to SHIPFREE, nothing left to tax
    #   subtotal 26.64 + 13.33 = 39.97; discounts 5.00 + 4.95 = 9.95; tax 5.59 + 2.80 = 8.39
    #   total 39.97 + 0.00 shipping + 8.39 tax = 48.36
    o = shopify_sim.create_order(
        customer_id=None, email="b@example.com", taxes_included=False, shipping=Decimal("4.95"),
        lines=[("A", "A", 3, Decimal("9.99")), ("B", "B", 1, Decimal("15.00"))],
        discounts=[code_amount("FIVE", "5.00"), free_shipping("SHIPFREE")])
    d = read(shopify_sim, o.id)
    assert d["taxesIncluded"] is False
    lines = d["lineItems"]["nodes"]
    assert [[amt(a["allocatedAmountSet"]) for a in ln["discountAllocations"]] for ln in lines] == [["3.33"], ["1.67"]]
    assert [[amt(t["priceSet"]) for t in ln["taxLines"]] for ln in lines] == [["5.59"], ["2.8"]]
    (ship,) = d["shippingLines"]["nodes"]
    assert (amt(ship["originalPriceSet"]), amt(ship["discountedPriceSet"])) == ("4.95", "0.0")
    assert ship["discountAllocations"] == [{"allocatedAmountSet": {"shopMoney": {"amount": "4.95"}},
                                            "discountApplication": {"code": "SHIPFREE"}}]
    assert ship["taxLines"] == []
    assert [amt(d[k]) for k in ("subtotalPriceSet", "totalDiscountsSet", "totalTaxSet",
                                "totalShippingPriceSet", "totalPriceSet")] == [
        "39.97", "9.95", "8.39", "4.95", "48.36"]

    mapped = adapter_for(shopify_sim).get_order(f"gid://shopify/Order/{o.id}")
    assert mapped is not None and not mapped.prices_include_tax
    assert [(ln.total, ln.total_tax) for ln in mapped.lines] == [(eur("26.64"), eur("5.59")),
                                                                  (eur("13.33"), eur("2.80"))]
    assert (mapped.shipping_lines[0].total, mapped.shipping_lines[0].total_tax) == (eur("0.00"), eur("0"))
    coupons = {c.code: c for c in mapped.coupon_lines}
    assert (coupons["FIVE"].discount, coupons["FIVE"].free_shipping) == (eur("5.00"), False)
    assert (coupons["SHIPFREE"].discount, coupons["SHIPFREE"].free_shipping) == (eur("4.95"), True)
    assert mapped.merchandise_after_discounts == eur("39.97")

    # Refund one of the three A: 26.64 / 3 = 8.88 and 5.59 / 3 = 1.8633… → 1.86; tax is on top,
    # so 10.74 goes back; the refund line's basis stays 8.88.
    shopify_sim.add_refund(o.id, [(o.line_items[0].id, 1)])
    d = read(shopify_sim, o.id)
    (rli,) = d["refunds"][0]["refundLineItems"]["nodes"]
    assert (amt(rli["subtotalSet"]), amt(rli["totalTaxSet"]), amt(d["totalRefundedSet"])) == (
        "8.88", "1.86", "10.74")
    refunded = adapter_for(shopify_sim).get_order(f"gid://shopify/Order/{o.id}")
    assert refunded is not None
    (refund,) = refunded.refunds
    assert (refund.amount, refund.lines[0].amount) == (eur("10.74"), eur("8.88"))


def test_tax_is_rounded_per_line_not_on_the_total(shopify_sim: ShopifySimulator) -> None:
    # Three lines of 0.12, tax on top: 0.12 × 0.21 = 0.0252 → 0.03 each, 0.09 in all.
    # Rounding the order instead would give 0.36 × 0.21 = 0.0756 → 0.08.
    o = shopify_sim.create_order(customer_id=None, email="c@example.com", taxes_included=False,
                                 lines=[(f"S{i}", "Sticker", 1, Decimal("0.12")) for i in range(3)])
    d = read(shopify_sim, o.id)
    assert [amt(t["priceSet"]) for ln in d["lineItems"]["nodes"] for t in ln["taxLines"]] == ["0.03"] * 3
    assert (amt(d["totalTaxSet"]), amt(d["totalPriceSet"])) == ("0.09", "0.45")  # 0.36 + 0.09


def test_seeded_orders_add_up(shopify_sim: ShopifySimulator) -> None:
    """Across a seeded shop (codes, free shipping, refunds), each mapped order's lines and
    shipping, with their tax, make the order's total, and allocations make its discount."""
    shopify_sim.seed(customers=10, orders=120, seed=7)
    orders = [o for p in adapter_for(shopify_sim).pull_orders(None) for o in p.items]
    assert len(orders) >= 110
    assert any(c.free_shipping for o in orders for c in o.coupon_lines)
    assert any(c.discount.amount > 0 and not c.free_shipping for o in orders for c in o.coupon_lines)
    for o in orders:
        lines = sum((ln.total + ln.total_tax for ln in o.lines), Money.zero("EUR"))
        ship = sum((s.total + s.total_tax for s in o.shipping_lines), Money.zero("EUR"))
        assert lines + ship == o.total, o.id
        assert sum((c.discount for c in o.coupon_lines), Money.zero("EUR")) == o.discount_total, o.id
        assert sum((ln.total_tax for ln in o.lines), Money.zero("EUR")) + sum(
            (s.total_tax for s in o.shipping_lines), Money.zero("EUR")) == o.total_tax, o.id

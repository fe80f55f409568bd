"""Order writes: items, coupons, totals, status effects, refunds and notes (NOTES 4.3, 5.1).

Totals follow WooCommerce for a tax-free store: line ``subtotal`` is price x quantity, coupon
discounts are computed in cents and distributed over the lines (``WC_Discounts``), and
``total = lines after discount + shipping + fees``. Refunds never reduce ``total``.
"""

from __future__ import annotations

import random
import string
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from . import coupons as coupon_ops
from . import customers as customer_ops
from . import products as product_ops
from .errors import ApiError, invalid_id, invalid_param
from .meta import Meta, apply_meta
from .shapes import coupon_info
from .shop import Shop
from .store import (
    ORDER_BILLING_KEYS,
    ORDER_SHIPPING_KEYS,
    ORDER_STATUSES,
    Coupon,
    CouponLine,
    FeeLine,
    LineItem,
    Note,
    Order,
    Refund,
    ShippingLine,
)
from .trash import trash
from .values import dec, from_cents, money, php_number, to_cents, truthy

STATUS_LABELS = {
    "pending": "Pending payment", "processing": "Processing", "on-hold": "On hold",
    "completed": "Completed", "cancelled": "Cancelled", "refunded": "Refunded",
    "failed": "Failed", "checkout-draft": "Draft", "trash": "Trash", "auto-draft": "Draft",
}
PAID_STATUSES = ("processing", "completed")
STOCK_STATUSES = ("processing", "completed", "on-hold")
USAGE_STATUSES = ("processing", "completed", "on-hold")
_rng = random.Random()
_Line = TypeVar("_Line", LineItem, ShippingLine, FeeLine)


def get(shop: Shop, order_id: int, status: int = 404) -> Order:
    o = shop.store.orders.get(order_id)
    if o is None:
        raise invalid_id("shop_order", status)
    return o


def _order_key(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "wc_order_" + "".join(rng.choice(alphabet) for _ in range(13))


# ---- items -----------------------------------------------------------------------------------

def _product_for(shop: Shop, entry: dict[str, Any]) -> tuple[int, int, str, str | None, Decimal]:
    """(product_id, variation_id, name, sku, unit price) for a new line item."""
    product_id = int(entry.get("product_id") or 0)
    variation_id = int(entry.get("variation_id") or 0)
    sku = entry.get("sku")
    if not product_id and not variation_id and not sku:
        raise ApiError(400, "woocommerce_rest_required_product_reference",
                       "Product ID or SKU is required.")
    product = None
    if product_id:
        product = shop.store.products.get(product_id)
    elif sku:
        product = product_ops.by_sku(shop, str(sku))
    if product is None:
        if product_id:
            raise ApiError(400, "woocommerce_rest_invalid_product_id",
                           "Product ID provided is not valid.")
        raise ApiError(400, "woocommerce_rest_invalid_product_id",
                       "Product SKU provided is not valid.")
    return product.id, variation_id, product.name, product.sku or "", dec(product.price)


def _existing(lines: list[_Line], entry: dict[str, Any]) -> _Line:
    """The order's own item an update entry names by ``id``; another order's item is refused."""
    line = next((x for x in lines if x.id == int(entry["id"])), None)
    if line is None:
        raise ApiError(400, "woocommerce_rest_invalid_item_id",
                       "Order item ID provided is not associated with order.")
    return line


def _apply_line_items(shop: Shop, o: Order, entries: list[Any]) -> None:
    store = shop.store
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("id"):
            li = _existing(o.line_items, entry)
            if ("quantity" in entry and int(entry["quantity"] or 0) == 0) or (
                    "product_id" in entry and entry["product_id"] is None):
                o.line_items.remove(li)
                continue
            if "quantity" in entry:
                unit = li.subtotal / li.quantity if li.quantity else Decimal(0)
                li.quantity = int(entry["quantity"])
                li.subtotal = (unit * li.quantity).quantize(Decimal("0.01"))
                li.total = li.subtotal
            if "subtotal" in entry:
                li.subtotal = dec(entry["subtotal"])
            if "total" in entry:
                li.total = dec(entry["total"])
            if "name" in entry:
                li.name = str(entry["name"])
            if isinstance(entry.get("meta_data"), list):
                li.meta = apply_meta(li.meta, entry["meta_data"], store.itemmeta_ids)
            continue
        product_id, variation_id, name, sku, price = _product_for(shop, entry)
        qty = int(entry.get("quantity") or 1)
        subtotal = dec(entry["subtotal"]) if "subtotal" in entry else price * qty
        total = dec(entry["total"]) if "total" in entry else subtotal
        if "total" in entry and "subtotal" not in entry:
            subtotal = total
        li = LineItem(id=store.item_ids(), name=str(entry.get("name") or name),
                      product_id=product_id, variation_id=variation_id, quantity=qty,
                      subtotal=subtotal, total=total, sku=sku)
        if isinstance(entry.get("meta_data"), list):
            li.meta = apply_meta([], entry["meta_data"], store.itemmeta_ids)
        o.line_items.append(li)


def _apply_shipping_lines(shop: Shop, o: Order, entries: list[Any]) -> None:
    store = shop.store
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("id"):
            sl = _existing(o.shipping_lines, entry)
            if "method_id" in entry and entry["method_id"] is None:
                o.shipping_lines.remove(sl)
                continue
            if entry.get("method_id"):
                sl.method_id = str(entry["method_id"])
            if "method_title" in entry:
                sl.method_title = str(entry["method_title"] or "")
            if "total" in entry:
                sl.total = dec(entry["total"])
            if isinstance(entry.get("meta_data"), list):
                sl.meta = apply_meta(sl.meta, entry["meta_data"], store.itemmeta_ids)
            continue
        if not entry.get("method_id"):
            raise ApiError(400, "woocommerce_rest_invalid_shipping_item",
                           "Shipping method ID is required.")
        sl = ShippingLine(id=store.item_ids(), method_id=str(entry["method_id"]),
                          method_title=str(entry.get("method_title") or ""),
                          total=dec(entry.get("total")),
                          instance_id=str(entry.get("instance_id") or ""))
        if isinstance(entry.get("meta_data"), list):
            sl.meta = apply_meta([], entry["meta_data"], store.itemmeta_ids)
        o.shipping_lines.append(sl)


def _apply_fee_lines(shop: Shop, o: Order, entries: list[Any]) -> None:
    store = shop.store
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("id"):
            fl = _existing(o.fee_lines, entry)
            if "name" in entry and entry["name"] is None:
                o.fee_lines.remove(fl)
                continue
            if entry.get("name"):
                fl.name = str(entry["name"])
            if "total" in entry:
                fl.total = dec(entry["total"])
            continue
        if not entry.get("name"):
            raise ApiError(400, "woocommerce_rest_invalid_fee_item", "Fee name is required.")
        fl = FeeLine(id=store.item_ids(), name=str(entry["name"]), total=dec(entry.get("total")),
                     tax_status=str(entry.get("tax_status") or "taxable"))
        o.fee_lines.append(fl)


# ---- coupons ---------------------------------------------------------------------------------

def _coupon_error(message: str) -> ApiError:
    return ApiError(400, "woocommerce_rest_invalid_coupon", message)


def _validate_coupon(shop: Shop, o: Order, code: str) -> Coupon:
    c = coupon_ops.find_by_code(shop, code)
    if c is None or c.status != "publish":
        raise _coupon_error(f'Coupon "{code}" does not exist!')
    if c.date_expires is not None and shop.now() > c.date_expires:
        raise _coupon_error("This coupon has expired.")
    if c.usage_limit and c.usage_count >= c.usage_limit:
        raise _coupon_error("Coupon usage limit has been reached.")
    if c.usage_limit_per_user:
        who = _used_by_key(o)
        if who and c.used_by.count(who) >= c.usage_limit_per_user:
            raise _coupon_error("Coupon usage limit has been reached.")
    subtotal = sum((li.subtotal for li in o.line_items), Decimal(0))
    if c.minimum_amount > 0 and subtotal < c.minimum_amount:
        raise _coupon_error(f"The minimum spend for this coupon is €{money(c.minimum_amount)}.")
    if c.maximum_amount > 0 and subtotal > c.maximum_amount:
        raise _coupon_error(f"The maximum spend for this coupon is €{money(c.maximum_amount)}.")
    if c.product_ids and not any(li.product_id in c.product_ids for li in o.line_items):
        raise _coupon_error("Sorry, this coupon is not applicable to selected products.")
    return c


def _replace_coupons(shop: Shop, o: Order, entries: list[Any]) -> None:
    """``coupon_lines`` replaces the whole set; codes already on the order skip validation."""
    codes: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("id"):
            raise ApiError(400, "woocommerce_rest_coupon_item_id_readonly",
                           "Coupon item ID is readonly.")
        if not entry.get("code"):
            raise _coupon_error("Coupon code is required.")
        codes.append(coupon_ops.normalise_code(entry["code"]))
    existing = {cl.code: cl for cl in o.coupon_lines}
    chosen: list[Coupon] = []
    for code in codes:
        if code in existing:
            c = coupon_ops.find_by_code(shop, code)
            if c is not None:
                chosen.append(c)
            continue
        chosen.append(_validate_coupon(shop, o, code))
    store = shop.store
    new_lines: list[CouponLine] = []
    for c in chosen:
        if c.code in existing:
            new_lines.append(existing[c.code])
            continue
        info = coupon_info(c.id, c.code, c.discount_type, php_number(c.amount), c.free_shipping)
        new_lines.append(CouponLine(
            id=store.item_ids(), code=c.code, coupon_id=c.id, discount_type=c.discount_type,
            nominal_amount=c.amount, free_shipping=c.free_shipping,
            meta=[Meta(store.itemmeta_ids(), "coupon_info", info)]))
    o.coupon_lines = new_lines


def _distribute(remaining: list[int], discounts: list[int], remainder: int) -> None:
    """Spread leftover cents one by one over lines that still have room (apply_coupon_remainder)."""
    while remainder > 0:
        moved = False
        for i in range(len(remaining)):
            if remainder <= 0:
                break
            if discounts[i] < remaining[i]:
                discounts[i] += 1
                remainder -= 1
                moved = True
        if not moved:
            break


def _recalculate_discounts(shop: Shop, o: Order) -> None:
    remaining = [to_cents(li.subtotal) for li in o.line_items]
    for cl in o.coupon_lines:
        c = shop.store.coupons.get(cl.coupon_id)
        dtype = c.discount_type if c else cl.discount_type
        amount = c.amount if c else cl.nominal_amount
        applicable = [
            i for i, li in enumerate(o.line_items)
            if (not c or not c.product_ids or li.product_id in c.product_ids)
            and (not c or li.product_id not in c.excluded_product_ids)
        ]
        discounts = [0] * len(remaining)
        if dtype == "percent":
            for i in applicable:
                discounts[i] = int((Decimal(remaining[i]) * amount / 100).to_integral_value(
                    rounding=ROUND_FLOOR))
            base = sum(remaining[i] for i in applicable)
            wanted = int((Decimal(base) * amount / 100).quantize(Decimal(1), ROUND_HALF_UP))
            _distribute_subset(remaining, discounts, applicable, wanted - sum(discounts))
        elif dtype == "fixed_product":
            for i in applicable:
                per_unit = to_cents(amount) * o.line_items[i].quantity
                discounts[i] = min(remaining[i], per_unit)
        else:
            base = sum(remaining[i] for i in applicable)
            wanted = min(to_cents(amount), base)
            if base:
                for i in applicable:
                    discounts[i] = remaining[i] * wanted // base
            _distribute_subset(remaining, discounts, applicable, wanted - sum(discounts))
        for i in range(len(remaining)):
            remaining[i] -= discounts[i]
        cl.discount = from_cents(sum(discounts))
    for li, cents in zip(o.line_items, remaining, strict=True):
        li.total = from_cents(cents)


def _distribute_subset(remaining: list[int], discounts: list[int], idx: list[int],
                       remainder: int) -> None:
    sub_rem = [remaining[i] for i in idx]
    sub_dis = [discounts[i] for i in idx]
    _distribute(sub_rem, sub_dis, remainder)
    for j, i in enumerate(idx):
        discounts[i] = sub_dis[j]


def recalculate(shop: Shop, o: Order, *, coupons_changed: bool = False) -> None:
    if o.coupon_lines or coupons_changed:
        _recalculate_discounts(shop, o)
    o.discount_total = sum((cl.discount for cl in o.coupon_lines), Decimal(0))
    o.shipping_total = sum((s.total for s in o.shipping_lines), Decimal(0))
    fees = sum((f.total for f in o.fee_lines), Decimal(0))
    o.total = sum((li.total for li in o.line_items), Decimal(0)) + o.shipping_total + fees


# ---- status ----------------------------------------------------------------------------------

def _used_by_key(o: Order) -> str:
    return str(o.customer_id) if o.customer_id else o.billing.get("email", "")


def _reduce_stock(shop: Shop, o: Order) -> None:
    if o.stock_reduced:
        return
    for li in o.line_items:
        product_ops.reduce_stock(shop, li.product_id, li.quantity)
        li.meta.append(Meta(shop.store.itemmeta_ids(), "_reduced_stock", str(li.quantity)))
    o.stock_reduced = True


def _transition(shop: Shop, o: Order, new: str) -> None:
    old = o.status
    if new == old:
        return
    o.status = new
    now = shop.now()
    if new in PAID_STATUSES and o.date_paid is None:
        o.date_paid = now
    if new == "completed" and o.date_completed is None:
        o.date_completed = now
    if new in STOCK_STATUSES:
        _reduce_stock(shop, o)
    if new in USAGE_STATUSES and not o.coupon_usage_recorded and o.coupon_lines:
        for cl in o.coupon_lines:
            coupon_ops.change_usage(shop, cl.code, _used_by_key(o), +1)
        o.coupon_usage_recorded = True
    if new == "cancelled" and o.coupon_usage_recorded:
        for cl in o.coupon_lines:
            coupon_ops.change_usage(shop, cl.code, _used_by_key(o), -1)
        o.coupon_usage_recorded = False
    if new in PAID_STATUSES and o.customer_id:
        customer_ops.mark_paying(shop, o.customer_id)
    _system_note(shop, o, f"Order status changed from {STATUS_LABELS.get(old, old)} to "
                          f"{STATUS_LABELS.get(new, new)}.")


def _payment_complete(shop: Shop, o: Order, transaction_id: str = "") -> None:
    if transaction_id:
        o.transaction_id = transaction_id
    if o.status in ("on-hold", "pending", "failed", "cancelled", "checkout-draft"):
        needs_processing = any(
            not (p.virtual or p.downloadable)
            for p in (shop.store.products.get(li.product_id) for li in o.line_items)
            if p is not None
        ) or any(li.product_id not in shop.store.products for li in o.line_items)
        if o.date_paid is None:
            o.date_paid = shop.now()
        _transition(shop, o, "processing" if needs_processing else "completed")


def _check_status(value: Any) -> str:
    status = str(value)
    allowed = [s for s in ORDER_STATUSES if s not in ("trash", "auto-draft")]
    if status not in allowed:
        raise invalid_param("status", "status is not one of " + ", ".join(allowed) + ".",
                            "rest_not_in_enum")
    return status


# ---- create / update / delete ----------------------------------------------------------------

_SCALARS = ("payment_method", "payment_method_title", "transaction_id", "customer_note",
            "customer_ip_address", "customer_user_agent", "currency")


def _apply(shop: Shop, o: Order, data: dict[str, Any], creating: bool) -> None:
    store = shop.store
    if "customer_id" in data:
        cid = int(data["customer_id"] or 0)
        if cid and cid not in store.customers:
            raise ApiError(400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.")
        o.customer_id = cid
    if "parent_id" in data:
        o.parent_id = int(data["parent_id"] or 0)
    for key in _SCALARS:
        if key in data and data[key] is not None:
            setattr(o, key, str(data[key]))
    for key, keys, target in (("billing", ORDER_BILLING_KEYS, o.billing),
                              ("shipping", ORDER_SHIPPING_KEYS, o.shipping)):
        if isinstance(data.get(key), dict):
            for k in keys:
                if k in data[key] and data[key][k] is not None:
                    target[k] = str(data[key][k])
    if creating and o.customer_id and not o.billing.get("email"):
        o.billing["email"] = store.customers[o.customer_id].email
    items_changed = False
    if isinstance(data.get("line_items"), list):
        _apply_line_items(shop, o, data["line_items"])
        items_changed = True
    if isinstance(data.get("shipping_lines"), list):
        _apply_shipping_lines(shop, o, data["shipping_lines"])
        items_changed = True
    if isinstance(data.get("fee_lines"), list):
        _apply_fee_lines(shop, o, data["fee_lines"])
        items_changed = True
    coupons_changed = isinstance(data.get("coupon_lines"), list)
    if coupons_changed:
        _replace_coupons(shop, o, data["coupon_lines"])
    if items_changed or coupons_changed or creating:
        recalculate(shop, o, coupons_changed=coupons_changed)
    if isinstance(data.get("meta_data"), list):
        o.meta = apply_meta(o.meta, data["meta_data"], store.ordermeta_ids)


def create(shop: Shop, data: dict[str, Any]) -> Order:
    store = shop.store
    if data.get("id"):
        raise ApiError(400, "woocommerce_rest_shop_order_exists",
                       "Cannot create existing resource.")
    status = _check_status(data["status"]) if data.get("status") else "pending"
    now = shop.now()
    o = Order(id=0, status="pending", customer_id=0, order_key=_order_key(_rng),
              created=now, modified=now, currency=shop.currency)
    _apply(shop, o, data, creating=True)  # validation errors leave no trace
    o.id = store.post_ids()
    o.number = str(o.id)
    store.orders[o.id] = o
    if status != "pending":
        _transition(shop, o, status)
    if truthy(data.get("set_paid")):
        _payment_complete(shop, o, str(data.get("transaction_id") or ""))
    o.modified = shop.now()
    store.emit("order", "created", o.id)
    return o


def update(shop: Shop, order_id: int, data: dict[str, Any]) -> Order:
    o = get(shop, order_id, status=400)
    status = _check_status(data["status"]) if data.get("status") else None
    _apply(shop, o, data, creating=False)
    if status is not None:
        _transition(shop, o, status)
    if truthy(data.get("set_paid")):
        _payment_complete(shop, o, str(data.get("transaction_id") or ""))
    o.modified = shop.now()
    shop.store.emit("order", "updated", o.id)
    return o


def set_status(shop: Shop, order_id: int, status: str) -> Order:
    return update(shop, order_id, {"status": status})


def delete(shop: Shop, order_id: int, force: bool) -> Order:
    store = shop.store
    o = get(shop, order_id)
    if force:
        del store.orders[o.id]
        for rid in o.refund_ids:
            store.refunds.pop(rid, None)
        for nid in [n.id for n in store.notes.values() if n.order_id == o.id]:
            del store.notes[nid]
        store.touch()
        return o
    trash(shop, o, "order")
    return o


# ---- refunds ---------------------------------------------------------------------------------

def _refund_error(message: str) -> ApiError:
    return ApiError(500, "woocommerce_rest_cannot_create_order_refund", message)


def refunded_total(shop: Shop, o: Order) -> Decimal:
    return sum((shop.store.refunds[r].amount for r in o.refund_ids if r in shop.store.refunds),
               Decimal(0))


def create_refund(shop: Shop, order_id: int, data: dict[str, Any]) -> Refund:
    store = shop.store
    o = store.orders.get(order_id)
    if o is None:
        raise ApiError(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")
    amount = dec(data.get("amount"))
    if amount < 0:
        raise ApiError(400, "woocommerce_rest_invalid_order_refund",
                       "Refund amount must be greater than zero.")
    refund_id = store.post_ids()  # the refund row exists before the checks run
    if amount > o.total - refunded_total(shop, o):
        raise _refund_error("Invalid refund amount.")
    api_refund = truthy(data.get("api_refund", True))
    if api_refund and o.payment_method not in shop.refund_gateways:
        known = ("bacs", "cheque", "cod")
        if o.payment_method in known:
            raise _refund_error("The payment gateway for this order does not support automatic "
                                "refunds.")
        raise _refund_error("The payment gateway for this order does not exist.")
    r = Refund(id=refund_id, order_id=o.id, amount=amount.quantize(Decimal("0.01")),
               reason=str(data.get("reason") or ""), refunded_by=shop.api_user_id,
               refunded_payment=api_refund, created=shop.now())
    if isinstance(data.get("meta_data"), list):
        r.meta = apply_meta([], data["meta_data"], store.ordermeta_ids)
    store.refunds[r.id] = r
    o.refund_ids.append(r.id)
    if refunded_total(shop, o) >= o.total and o.status != "refunded":
        _transition(shop, o, "refunded")
    o.modified = shop.now()
    store.emit("order", "updated", o.id)
    return r


def order_refund(shop: Shop, order_id: int, refund_id: int) -> Refund:
    if order_id not in shop.store.orders:
        raise ApiError(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")
    r = shop.store.refunds.get(refund_id)
    if r is None or r.order_id != order_id:
        raise ApiError(404, "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.")
    return r


def delete_refund(shop: Shop, order_id: int, refund_id: int) -> Refund:
    r = order_refund(shop, order_id, refund_id)
    o = shop.store.orders[order_id]
    del shop.store.refunds[r.id]
    o.refund_ids.remove(r.id)
    o.modified = shop.now()
    shop.store.emit("order", "updated", o.id)
    return r


# ---- notes -----------------------------------------------------------------------------------

def _system_note(shop: Shop, o: Order, text: str) -> None:
    if o.id:
        n = Note(id=shop.store.comment_ids(), order_id=o.id, note=text, customer_note=False,
                 author="WooCommerce", created=shop.now())
        shop.store.notes[n.id] = n


def add_note(shop: Shop, order_id: int, data: dict[str, Any]) -> Note:
    o = shop.store.orders.get(order_id)
    if o is None:
        raise ApiError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
    text = data.get("note")
    if not text:
        raise ApiError(400, "woocommerce_rest_invalid_order_note", "Order note is required.")
    by_user = truthy(data.get("added_by_user"))
    n = Note(id=shop.store.comment_ids(), order_id=o.id, note=str(text),
             customer_note=truthy(data.get("customer_note")),
             author="admin" if by_user else "WooCommerce", created=shop.now())
    shop.store.notes[n.id] = n
    shop.store.touch()
    return n


def order_note(shop: Shop, order_id: int, note_id: int) -> Note:
    if order_id not in shop.store.orders:
        raise ApiError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
    n = shop.store.notes.get(note_id)
    if n is None or n.order_id != order_id:
        raise ApiError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
    return n


def delete_note(shop: Shop, order_id: int, note_id: int, force: bool) -> Note:
    n = order_note(shop, order_id, note_id)
    if not force:
        raise ApiError(501, "woocommerce_rest_trash_not_supported",
                       "Webhooks do not support trashing.")
    del shop.store.notes[n.id]
    shop.store.touch()
    return n

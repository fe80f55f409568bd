"""REST v3 representations, field for field and in the recorded key order (NOTES section 4).

The same functions build webhook payloads, which are rendered at delivery time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .meta import item_meta_list, meta_list
from .store import (
    CUSTOMER_BILLING_KEYS,
    CUSTOMER_SHIPPING_KEYS,
    ORDER_BILLING_KEYS,
    ORDER_SHIPPING_KEYS,
    Coupon,
    Customer,
    Note,
    Order,
    Product,
    Refund,
    Store,
    Webhook,
)
from .values import SiteTime, money, php_number, raw_decimal

ITEM_ALLOW = ["GET", "POST", "PUT", "PATCH", "DELETE"]
SUB_ITEM_ALLOW = ["GET", "DELETE"]
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF", "JPY": "¥"}


@dataclass(frozen=True)
class Ctx:
    home: str  # e.g. http://127.0.0.1:8081 (no trailing slash)
    site: SiteTime

    @property
    def api(self) -> str:
        return f"{self.home}/wp-json/wc/v3"


def _self_links(ctx: Ctx, path: str, collection: str, allow: list[str]) -> dict[str, Any]:
    return {
        "self": [{"href": f"{ctx.api}/{path}", "targetHints": {"allow": list(allow)}}],
        "collection": [{"href": f"{ctx.api}/{collection}"}],
    }


def _dates(ctx: Ctx, name: str, ts: int | None) -> dict[str, str | None]:
    return {name: ctx.site.local(ts), f"{name}_gmt": ctx.site.gmt(ts)}


def avatar_url(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?s=96&d=mm&r=g"


def customer(ctx: Ctx, c: Customer) -> dict[str, Any]:
    out: dict[str, Any] = {"id": c.id}
    out.update(_dates(ctx, "date_created", c.created))
    out.update(_dates(ctx, "date_modified", c.modified))
    out.update({
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "role": c.role,
        "username": c.username,
        "billing": {k: c.billing.get(k, "") for k in CUSTOMER_BILLING_KEYS},
        "shipping": {k: c.shipping.get(k, "") for k in CUSTOMER_SHIPPING_KEYS},
        "is_paying_customer": c.is_paying_customer,
        "avatar_url": avatar_url(c.email),
        "meta_data": meta_list(c.meta),
        "_links": _self_links(ctx, f"customers/{c.id}", "customers", ITEM_ALLOW),
    })
    return out


def coupon(ctx: Ctx, c: Coupon) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "code": c.code,
        "amount": money(c.amount, 2),
        "status": c.status,
    }
    out.update(_dates(ctx, "date_created", c.created))
    out.update(_dates(ctx, "date_modified", c.modified))
    out.update({"discount_type": c.discount_type, "description": c.description})
    out.update(_dates(ctx, "date_expires", c.date_expires))
    out.update({
        "usage_count": c.usage_count,
        "individual_use": c.individual_use,
        "product_ids": list(c.product_ids),
        "excluded_product_ids": list(c.excluded_product_ids),
        "usage_limit": c.usage_limit or None,
        "usage_limit_per_user": c.usage_limit_per_user or None,
        "limit_usage_to_x_items": c.limit_usage_to_x_items or None,
        "free_shipping": c.free_shipping,
        "product_categories": list(c.product_categories),
        "excluded_product_categories": list(c.excluded_product_categories),
        "exclude_sale_items": c.exclude_sale_items,
        "minimum_amount": money(c.minimum_amount, 2),
        "maximum_amount": money(c.maximum_amount, 2),
        "email_restrictions": list(c.email_restrictions),
        "used_by": list(c.used_by),
        "meta_data": meta_list(c.meta),
        "_links": _self_links(ctx, f"coupons/{c.id}", "coupons", ITEM_ALLOW),
    })
    return out


def product(ctx: Ctx, p: Product) -> dict[str, Any]:
    price = p.price
    in_stock = not p.manage_stock or (p.stock_quantity or 0) > 0
    out: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "slug": p.slug,
        "permalink": f"{ctx.home}/product/{p.slug}/",
    }
    out.update(_dates(ctx, "date_created", p.created))
    out.update(_dates(ctx, "date_modified", p.modified))
    out.update({
        "type": p.type,
        "status": p.status,
        "featured": False,
        "catalog_visibility": "visible",
        "description": p.description,
        "short_description": p.short_description,
        "sku": p.sku,
        "price": price,
        "regular_price": p.regular_price,
        "sale_price": p.sale_price,
        "date_on_sale_from": None,
        "date_on_sale_from_gmt": None,
        "date_on_sale_to": None,
        "date_on_sale_to_gmt": None,
        "on_sale": bool(p.sale_price),
        "purchasable": price != "",
        "total_sales": p.total_sales,
        "virtual": p.virtual,
        "downloadable": p.downloadable,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "external_url": "",
        "button_text": "",
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": p.manage_stock,
        "stock_quantity": p.stock_quantity if p.manage_stock else None,
        "backorders": "no",
        "backorders_allowed": False,
        "backordered": False,
        "low_stock_amount": None,
        "sold_individually": False,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_required": not p.virtual,
        "shipping_taxable": not p.virtual,
        "shipping_class": "",
        "shipping_class_id": 0,
        "reviews_allowed": True,
        "average_rating": "0",
        "rating_count": 0,
        "upsell_ids": [],
        "cross_sell_ids": [],
        "parent_id": 0,
        "purchase_note": "",
        "categories": [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}],
        "brands": [],
        "tags": [],
        "images": [],
        "attributes": [],
        "default_attributes": [],
        "variations": [],
        "grouped_products": [],
        "menu_order": 0,
        "price_html": (
            '<span class="woocommerce-Price-amount amount"><bdi><span class="'
            f'woocommerce-Price-currencySymbol">&euro;</span>{price}</bdi></span>'
            if price else ""
        ),
        "related_ids": [],
        "meta_data": meta_list(p.meta),
        "stock_status": "instock" if in_stock else "outofstock",
        "has_options": False,
        "post_password": "",
        "global_unique_id": "",
        "permalink_template": f"{ctx.home}/product/%pagename%/",
        "generated_slug": p.slug,
        "_links": _self_links(ctx, f"products/{p.id}", "products", ITEM_ALLOW),
    })
    return out


def coupon_info(line_coupon_id: int, code: str, discount_type: str, amount: Any,
                free_shipping: bool) -> str:
    """The ``coupon_info`` item meta: a JSON array, type null when it is the default fixed_cart."""
    parts: list[Any] = [line_coupon_id, code, None if discount_type == "fixed_cart" else discount_type,
                        amount]
    if free_shipping:
        parts.append(True)
    return json.dumps(parts, separators=(",", ":"))


def order(ctx: Ctx, store: Store, o: Order, dp: int = 2) -> dict[str, Any]:
    dates = ctx.site
    line_items = []
    for li in o.line_items:
        price = float(li.total / li.quantity) if li.quantity else 0.0
        line_items.append({
            "id": li.id,
            "name": li.name,
            "product_id": li.product_id,
            "variation_id": li.variation_id,
            "quantity": li.quantity,
            "tax_class": li.tax_class,
            "subtotal": money(li.subtotal, dp),
            "subtotal_tax": money(li.subtotal * 0, dp),
            "total": money(li.total, dp),
            "total_tax": money(li.total * 0, dp),
            "taxes": [],
            "meta_data": item_meta_list(li.meta),
            "sku": li.sku,
            "price": price,
            "image": {"id": "", "src": ""},
            "parent_name": None,
        })
    shipping_lines = [{
        "id": s.id,
        "method_title": s.method_title,
        "method_id": s.method_id,
        "instance_id": s.instance_id,
        "total": money(s.total, dp),
        "total_tax": money(s.total * 0, dp),
        "taxes": [],
        "tax_status": s.tax_status,
        "meta_data": item_meta_list(s.meta),
    } for s in o.shipping_lines]
    fee_lines = [{
        "id": f.id,
        "name": f.name,
        "tax_class": f.tax_class,
        "tax_status": f.tax_status,
        "total": money(f.total, dp),
        "total_tax": money(f.total * 0, dp),
        "taxes": [],
        "meta_data": item_meta_list(f.meta),
    } for f in o.fee_lines]
    coupon_lines = [{
        "id": c.id,
        "code": c.code,
        "discount": raw_decimal(c.discount),
        "discount_tax": "0",
        "meta_data": item_meta_list(c.meta),
        "discount_type": c.discount_type,
        "nominal_amount": php_number(c.nominal_amount),
        "free_shipping": c.free_shipping,
    } for c in o.coupon_lines]
    refunds = []
    for rid in sorted(o.refund_ids, reverse=True):
        r = store.refunds.get(rid)
        if r is not None:
            refunds.append({"id": r.id, "reason": r.reason, "total": "-" + money(r.amount, dp)})
    paid = o.status in ("processing", "completed", "refunded") or o.date_paid is not None
    needs_payment = o.status in ("pending", "failed") and o.total > 0
    zero = money(o.total * 0, dp)
    links = _self_links(ctx, f"orders/{o.id}", "orders", ITEM_ALLOW)
    links["email_templates"] = [{"embeddable": True,
                                 "href": f"{ctx.api}/orders/{o.id}/actions/email_templates"}]
    if o.customer_id:
        links["customer"] = [{"href": f"{ctx.api}/customers/{o.customer_id}"}]
    if o.parent_id:
        links["up"] = [{"href": f"{ctx.api}/orders/{o.parent_id}"}]
    return {
        "id": o.id,
        "parent_id": o.parent_id,
        "status": o.status,
        "currency": o.currency,
        "version": o.version,
        "prices_include_tax": False,
        "date_created": dates.local(o.created),
        "date_modified": dates.local(o.modified),
        "discount_total": money(o.discount_total, dp),
        "discount_tax": zero,
        "shipping_total": money(o.shipping_total, dp),
        "shipping_tax": zero,
        "cart_tax": zero,
        "total": money(o.total, dp),
        "total_tax": zero,
        "customer_id": o.customer_id,
        "order_key": o.order_key,
        "billing": {k: o.billing.get(k, "") for k in ORDER_BILLING_KEYS},
        "shipping": {k: o.shipping.get(k, "") for k in ORDER_SHIPPING_KEYS},
        "payment_method": o.payment_method,
        "payment_method_title": o.payment_method_title,
        "transaction_id": o.transaction_id,
        "customer_ip_address": o.customer_ip_address,
        "customer_user_agent": o.customer_user_agent,
        "created_via": o.created_via,
        "customer_note": o.customer_note,
        "date_completed": dates.local(o.date_completed),
        "date_paid": dates.local(o.date_paid),
        "cart_hash": "",
        "number": o.number or str(o.id),
        "meta_data": meta_list(o.meta),
        "line_items": line_items,
        "tax_lines": [],
        "shipping_lines": shipping_lines,
        "fee_lines": fee_lines,
        "coupon_lines": coupon_lines,
        "refunds": refunds,
        "payment_url": f"{ctx.home}/checkout/order-pay/{o.id}/?pay_for_order=true&key={o.order_key}",
        "is_editable": o.status in ("pending", "on-hold", "auto-draft", "checkout-draft"),
        "needs_payment": needs_payment and not paid,
        "needs_processing": any(_needs_shipping(store, li.product_id) for li in o.line_items),
        "date_created_gmt": dates.gmt(o.created),
        "date_modified_gmt": dates.gmt(o.modified),
        "date_completed_gmt": dates.gmt(o.date_completed),
        "date_paid_gmt": dates.gmt(o.date_paid),
        "currency_symbol": CURRENCY_SYMBOLS.get(o.currency, o.currency),
        "_links": links,
    }


def _needs_shipping(store: Store, product_id: int) -> bool:
    p = store.products.get(product_id)
    return True if p is None else not (p.virtual or p.downloadable)


def refund(ctx: Ctx, r: Refund, dp: int = 2) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.id}
    out.update(_dates(ctx, "date_created", r.created))
    out.update({
        "amount": money(r.amount, dp),
        "reason": r.reason,
        "refunded_by": r.refunded_by,
        "refunded_payment": r.refunded_payment,
        "meta_data": meta_list(r.meta),
        "line_items": [],
        "shipping_lines": [],
        "tax_lines": [],
        "fee_lines": [],
        "_links": {
            "self": [{"href": f"{ctx.api}/orders/{r.order_id}/refunds/{r.id}",
                      "targetHints": {"allow": list(SUB_ITEM_ALLOW)}}],
            "collection": [{"href": f"{ctx.api}/orders/{r.order_id}/refunds"}],
            "up": [{"href": f"{ctx.api}/orders/{r.order_id}"}],
        },
    })
    return out


def note(ctx: Ctx, n: Note) -> dict[str, Any]:
    out: dict[str, Any] = {"id": n.id, "author": n.author}
    out.update(_dates(ctx, "date_created", n.created))
    out.update({
        "note": n.note,
        "customer_note": n.customer_note,
        "_links": {
            "self": [{"href": f"{ctx.api}/orders/{n.order_id}/notes/{n.id}",
                      "targetHints": {"allow": list(SUB_ITEM_ALLOW)}}],
            "collection": [{"href": f"{ctx.api}/orders/{n.order_id}/notes"}],
            "up": [{"href": f"{ctx.api}/orders/{n.order_id}"}],
        },
    })
    return out


WEBHOOK_HOOKS: dict[str, list[str]] = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer",
                         "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}


def webhook_hooks(topic: str) -> list[str]:
    if topic.startswith("action."):
        return [topic[len("action."):]]
    return list(WEBHOOK_HOOKS.get(topic, []))


def webhook(ctx: Ctx, w: Webhook) -> dict[str, Any]:
    resource, _, event = w.topic.partition(".")
    out: dict[str, Any] = {
        "id": w.id,
        "name": w.name,
        "status": w.status,
        "topic": w.topic,
        "resource": resource,
        "event": event,
        "hooks": webhook_hooks(w.topic),
        "delivery_url": w.delivery_url,
    }
    out.update(_dates(ctx, "date_created", w.created))
    out.update(_dates(ctx, "date_modified", w.modified))
    out["_links"] = _self_links(ctx, f"webhooks/{w.id}", "webhooks", ITEM_ALLOW)
    return out

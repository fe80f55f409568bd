"""Coupon writes, code normalisation and usage counting (NOTES 4.5, 6.3, 6.4)."""

from __future__ import annotations

import html
from typing import Any

from .errors import ApiError, invalid_id, invalid_param, missing_params
from .meta import apply_meta
from .shop import Shop
from .store import Coupon
from .trash import trash
from .values import dec, is_rfc3339

DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")


def normalise_code(code: Any) -> str:
    """``woocommerce_coupon_code`` filters: decode entities, trim, lower-case."""
    return html.unescape(str(code or "")).strip().lower()


def get(shop: Shop, coupon_id: int, status: int = 404) -> Coupon:
    c = shop.store.coupons.get(coupon_id)
    if c is None:
        raise invalid_id("shop_coupon", status)
    return c


def find_by_code(shop: Shop, code: str) -> Coupon | None:
    cid = shop.store.code_index.get(normalise_code(code))
    return shop.store.coupons.get(cid) if cid is not None else None


def _int_or_none(value: Any) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    return int(value)


def _apply(shop: Shop, c: Coupon, data: dict[str, Any]) -> None:
    if "discount_type" in data:
        if data["discount_type"] not in DISCOUNT_TYPES:
            raise invalid_param("discount_type",
                                "discount_type is not one of " + ", ".join(DISCOUNT_TYPES) + ".",
                                "rest_not_in_enum")
        c.discount_type = str(data["discount_type"])
    if "amount" in data:
        c.amount = dec(data["amount"])
    if "description" in data:
        c.description = str(data["description"] or "")
    if "date_expires" in data or "date_expires_gmt" in data:
        gmt = "date_expires_gmt" in data and "date_expires" not in data
        value = data.get("date_expires_gmt" if gmt else "date_expires")
        if value in (None, ""):
            c.date_expires = None
        else:
            if not is_rfc3339(str(value)):
                name = "date_expires_gmt" if gmt else "date_expires"
                raise invalid_param(name, "Invalid date.", "rest_invalid_date")
            c.date_expires = shop.site.parse_input(str(value), gmt=gmt)
    for key in ("individual_use", "free_shipping", "exclude_sale_items"):
        if key in data:
            setattr(c, key, bool(data[key]))
    for key in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items"):
        if key in data:
            setattr(c, key, _int_or_none(data[key]))
    for key in ("product_ids", "excluded_product_ids", "product_categories",
                "excluded_product_categories"):
        if key in data:
            setattr(c, key, [int(x) for x in data[key] or []])
    for key in ("minimum_amount", "maximum_amount"):
        if key in data:
            setattr(c, key, dec(data[key]))
    if "email_restrictions" in data:
        c.email_restrictions = [str(e).strip().lower() for e in data["email_restrictions"] or []]
    if isinstance(data.get("meta_data"), list):
        c.meta = apply_meta(c.meta, data["meta_data"], shop.store.postmeta_ids)


def create(shop: Shop, data: dict[str, Any]) -> Coupon:
    store = shop.store
    if data.get("id"):
        raise ApiError(400, "woocommerce_rest_shop_coupon_exists",
                       "Cannot create existing resource.")
    if "code" not in data:
        raise missing_params("code")
    code = normalise_code(data["code"])
    if not code:
        raise ApiError(400, "woocommerce_rest_empty_coupon_code",
                       "The coupon code cannot be empty.")
    if code in store.code_index:
        raise ApiError(400, "woocommerce_rest_coupon_code_already_exists",
                       "The coupon code already exists")
    now = shop.now()
    c = Coupon(id=store.post_ids(), code=code, created=now, modified=now)
    _apply(shop, c, data)
    store.coupons[c.id] = c
    store.code_index[code] = c.id
    store.emit("coupon", "created", c.id)
    return c


def update(shop: Shop, coupon_id: int, data: dict[str, Any]) -> Coupon:
    store = shop.store
    c = get(shop, coupon_id, status=400)
    if "code" in data:
        code = normalise_code(data["code"])
        if not code:
            raise ApiError(400, "woocommerce_rest_empty_coupon_code",
                           "The coupon code cannot be empty.")
        owner = store.code_index.get(code)
        if owner is not None and owner != c.id:
            raise ApiError(400, "woocommerce_rest_coupon_code_already_exists",
                           "The coupon code already exists")
        if code != c.code:
            store.code_index.pop(c.code, None)
            c.code = code
            store.code_index[code] = c.id
    _apply(shop, c, data)
    c.modified = shop.now()
    store.emit("coupon", "updated", c.id)
    return c


def delete(shop: Shop, coupon_id: int, force: bool) -> Coupon:
    store = shop.store
    c = get(shop, coupon_id)
    if force:
        del store.coupons[c.id]
        if store.code_index.get(c.code) == c.id:
            del store.code_index[c.code]
        store.touch()
        return c
    trash(shop, c, "coupon")
    return c


def change_usage(shop: Shop, code: str, used_by: str, delta: int) -> None:
    """Usage lives in coupon meta; writing it does not bump the coupon's date_modified."""
    c = find_by_code(shop, code)
    if c is None:
        return
    if delta > 0:
        c.usage_count += 1
        c.used_by.append(used_by)
    elif c.usage_count > 0:
        c.usage_count -= 1
        if used_by in c.used_by:
            c.used_by.remove(used_by)
    shop.store.touch()

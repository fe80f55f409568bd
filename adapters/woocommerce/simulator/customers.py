"""Customer writes with WordPress/WooCommerce registration rules (NOTES 4.2, 5.1, 5.3)."""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError, missing_params
from .meta import Meta, apply_meta
from .shop import Shop
from .store import CUSTOMER_BILLING_KEYS, CUSTOMER_SHIPPING_KEYS, Customer

ROLES = ("all", "administrator", "editor", "author", "contributor", "subscriber", "customer",
         "shop_manager")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _not_found() -> ApiError:
    return ApiError(404, "wc_user_invalid_id", "Invalid user ID.")


def get(shop: Shop, customer_id: int) -> Customer:
    c = shop.store.customers.get(customer_id)
    if c is None:
        raise _not_found()
    return c


def _email_taken(email: str) -> ApiError:
    return ApiError(
        400,
        "registration-error-email-exists",
        f"An account is already registered with {email}. Please log in or use a different email "
        "address.",
    )


def _derive_username(shop: Shop, email: str) -> str:
    base = re.sub(r"[^a-z0-9._\-@]", "", email.split("@")[0].lower()) or "customer"
    name, n = base, 1
    while name in shop.store.username_index:
        n += 1
        name = f"{base}-{n}"
    return name


def _merge_address(target: dict[str, str], data: Any, keys: tuple[str, ...]) -> None:
    if isinstance(data, dict):
        for k in keys:
            if k in data and data[k] is not None:
                target[k] = str(data[k])


def create(shop: Shop, data: dict[str, Any], *, role: str = "customer") -> Customer:
    store = shop.store
    if data.get("id"):
        raise ApiError(400, "woocommerce_rest_customer_exists",
                       "Cannot create existing resource.")
    email = str(data.get("email") or "").strip()
    if "email" not in data:
        raise missing_params("email")
    if not _EMAIL.match(email):
        raise ApiError(400, "registration-error-invalid-email",
                       "Please provide a valid email address.")
    if email.lower() in store.email_index:
        raise _email_taken(email)
    username = str(data.get("username") or "").strip()
    if username:
        if username.lower() in store.username_index:
            raise ApiError(400, "registration-error-username-exists",
                           "An account is already registered with that username. Please choose "
                           "another.")
    else:
        username = _derive_username(shop, email)
    now = shop.now()
    c = Customer(id=store.user_ids(), email=email, username=username, role=role,
                 created=now, modified=now)
    c.first_name = str(data.get("first_name") or "")
    c.last_name = str(data.get("last_name") or "")
    _merge_address(c.billing, data.get("billing"), CUSTOMER_BILLING_KEYS)
    _merge_address(c.shipping, data.get("shipping"), CUSTOMER_SHIPPING_KEYS)
    c.meta = [Meta(store.usermeta_ids(), "default_password_nag", "1")]
    if isinstance(data.get("meta_data"), list):
        c.meta = apply_meta(c.meta, data["meta_data"], store.usermeta_ids)
    store.customers[c.id] = c
    store.email_index[email.lower()] = c.id
    store.username_index[username.lower()] = c.id
    store.emit("customer", "created", c.id)
    return c


def update(shop: Shop, customer_id: int, data: dict[str, Any]) -> Customer:
    store = shop.store
    c = get(shop, customer_id)
    if "email" in data and data["email"] is not None:
        email = str(data["email"]).strip()
        other = store.email_index.get(email.lower())
        if not _EMAIL.match(email) or (other is not None and other != c.id):
            raise ApiError(400, "woocommerce_rest_customer_invalid_email",
                           "Email address is invalid.")
        if email != c.email:
            store.email_index.pop(c.email.lower(), None)
            c.email = email
            store.email_index[email.lower()] = c.id
    if data.get("username") and str(data["username"]) != c.username:
        raise ApiError(400, "woocommerce_rest_customer_invalid_argument",
                       "Username isn't editable.")
    for key in ("first_name", "last_name"):
        if key in data and data[key] is not None:
            setattr(c, key, str(data[key]))
    _merge_address(c.billing, data.get("billing"), CUSTOMER_BILLING_KEYS)
    _merge_address(c.shipping, data.get("shipping"), CUSTOMER_SHIPPING_KEYS)
    if isinstance(data.get("meta_data"), list):
        c.meta = apply_meta(c.meta, data["meta_data"], store.usermeta_ids)
    c.modified = shop.now()
    store.emit("customer", "updated", c.id)
    return c


def delete(shop: Shop, customer_id: int, force: bool) -> Customer:
    c = get(shop, customer_id)
    if not force:
        raise ApiError(501, "woocommerce_rest_trash_not_supported",
                       "Customers do not support trashing.")
    store = shop.store
    del store.customers[c.id]
    store.email_index.pop(c.email.lower(), None)
    store.username_index.pop(c.username.lower(), None)
    store.emit("customer", "deleted", c.id)
    return c


def mark_paying(shop: Shop, customer_id: int) -> None:
    """First paid order flips ``is_paying_customer`` and re-saves the customer."""
    c = shop.store.customers.get(customer_id)
    if c is not None and not c.is_paying_customer:
        c.is_paying_customer = True
        c.modified = shop.now()
        shop.store.emit("customer", "updated", c.id)

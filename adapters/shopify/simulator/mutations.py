"""Mutations Vínculo uses, with Shopify's validation and userErrors (NOTES §5).

Every mutation is atomic: with userErrors nothing is written and the resource is null.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError

from .formats import parse_dt, parse_gid
from .metafield_types import METAFIELD_TYPES
from .store import Customer, Discount, Metafield, MetafieldDefinition, Store, WebhookSubscription
from .views import (
    Context,
    customer_view,
    definition_view,
    discount_node_view,
    fulfillment_view,
    metafield_view,
    order_view,
    resolve_namespace,
    webhook_view,
)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_TAGS = 250
MAX_NOTE = 5000
MAX_METAFIELDS = 25


def _err(field: list[str] | None, message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        e["code"] = code
    e.update({"extraInfo": None, "elementIndex": None})
    e.update(extra)
    return e


def normalize_email(raw: str) -> str:
    return re.sub(r"\s+", "", raw).lower()


def normalize_tags(raw: list[str] | str | None) -> list[str]:
    """Split on commas, trim, collapse case-insensitive duplicates to the first spelling."""
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    out: dict[str, str] = {}
    for item in items:
        for t in str(item).split(","):
            t = t.strip()
            if t and t.lower() not in out:
                out[t.lower()] = t
    return sorted(out.values(), key=str.lower)


# -- customers -----------------------------------------------------------------------------

def _customer_errors(store: Store, data: dict[str, Any], prefix: list[str],
                     existing: Customer | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Validate CustomerInput-like data; return (errors, normalised changes)."""
    errors: list[dict[str, Any]] = []
    changes: dict[str, Any] = {}
    if "email" in data:
        raw = data["email"]
        email = normalize_email(raw) if raw else None
        if email:
            if len(email) > 255:
                errors.append(_err(prefix + ["email"], "Email is too long (maximum is 255 characters)"))
            if len(email) > 255 or not EMAIL_RE.match(email):
                errors.append(_err(prefix + ["email"], "Email is invalid"))
            else:
                other = store.customer_by_email(email)
                if other is not None and other is not existing:
                    errors.append(_err(prefix + ["email"], "Email has already been taken"))
        changes["email"] = email
    if "phone" in data:
        phone = (data["phone"] or "").strip() or None
        if phone:
            phone = re.sub(r"[\s().-]", "", phone)
            if not PHONE_RE.match(phone):
                errors.append(_err(prefix + ["phone"], "Phone is invalid"))
            else:
                other = store.customer_by_phone(phone)
                if other is not None and other is not existing:
                    errors.append(_err(prefix + ["phone"], "Phone has already been taken"))
        changes["phone"] = phone
    for src, dst in (("firstName", "first_name"), ("lastName", "last_name"), ("locale", "locale")):
        if src in data:
            changes[dst] = data[src] or None
    if "note" in data:
        if data["note"] is not None and len(data["note"]) > MAX_NOTE:
            errors.append(_err(prefix + ["note"], "Note is too long (maximum is 5000 characters)"))
        changes["note"] = data["note"]
    if "tags" in data:
        tags = normalize_tags(data["tags"])
        if len(tags) > MAX_TAGS:
            errors.append(_err(prefix + ["tags"], "Tags cannot be more than 250"))
        changes["tags"] = tags
    if "taxExempt" in data:
        if data["taxExempt"] is None:
            errors.append(_err(prefix + ["taxExempt"], "Tax exempt is of unexpected type NilClass"))
        else:
            changes["tax_exempt"] = bool(data["taxExempt"])
    if "taxExemptions" in data:
        changes["tax_exemptions"] = list(data["taxExemptions"] or [])
    for i, mf in enumerate(data.get("metafields") or []):
        t = mf.get("type")
        if t is not None and t not in METAFIELD_TYPES:
            errors.append(_err(prefix + ["metafields", str(i), "type"],
                               "Type must be one of the following: " + ", ".join(METAFIELD_TYPES) + "."))
    result = {**_current(existing), **changes}
    if not errors and not (result.get("email") or result.get("phone") or result.get("first_name")
                           or result.get("last_name")):
        errors.append(_err(prefix[:1] or None,
                           "A name, phone number, or email address must be present"))
    return errors, changes


def _current(c: Customer | None) -> dict[str, Any]:
    if c is None:
        return {}
    return {"email": c.email, "phone": c.phone, "first_name": c.first_name, "last_name": c.last_name}


def _apply_customer_metafields(store: Store, c: Customer, items: list[dict[str, Any]]) -> None:
    for mf in items:
        _upsert_metafield(store, "customer", c.id, mf, mf.get("type") or "single_line_text_field",
                          str(mf.get("value", "")))


def _strip_userror(errors: list[dict[str, Any]], with_code: bool) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        d = {"field": e["field"], "message": e["message"]}
        if with_code:
            d["code"] = e.get("code")
        out.append(d)
    return out


def customer_create(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    store = ctx.store
    data = args["input"]
    with store.lock:
        errors, changes = _customer_errors(store, data, [], None)
        if errors:
            return {"customer": None, "userErrors": _strip_userror(errors, False)}
        c = store.add_customer(emit=False, **{k: v for k, v in changes.items() if k != "tags"},
                               tags=changes.get("tags"))
        _apply_customer_metafields(store, c, data.get("metafields") or [])
    store.emit("customers/create", c)
    return {"customer": customer_view(store, c), "userErrors": []}


def customer_update(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    store = ctx.store
    data = args["input"]
    parsed = parse_gid(data.get("id"))
    with store.lock:
        c = store.customers.get(parsed[1]) if parsed and parsed[0] == "Customer" else None
        if c is None:
            return {"customer": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}
        errors, changes = _customer_errors(store, data, [], c)
        if errors:
            return {"customer": None, "userErrors": _strip_userror(errors, False)}
        store.update_customer(c.id, emit=False, **changes)
        _apply_customer_metafields(store, c, data.get("metafields") or [])
    store.emit("customers/update", c)
    return {"customer": customer_view(store, c), "userErrors": []}


def customer_set(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Upsert by identifier (NOTES §5.1, ``2026-04__customers__customer-set-parity.json``)."""
    store = ctx.store
    data = dict(args["input"])
    ident = args.get("identifier")

    def fail(field: list[str], msg: str, code: str | None = None) -> dict[str, Any]:
        return {"customer": None, "userErrors": [{"field": field, "message": msg, "code": code}]}

    with store.lock:
        target: Customer | None = None
        if ident:
            if data.get("id"):
                return fail(["input"], "The id field is not allowed if identifier is provided.",
                            "ID_NOT_ALLOWED")
            if ident.get("id"):
                p = parse_gid(ident["id"])
                target = store.customers.get(p[1]) if p and p[0] == "Customer" else None
                if target is None:
                    return fail(["input"], "Resource matching the identifier was not found.", "NOT_FOUND")
            elif ident.get("email") is not None:
                if not data.get("email"):
                    return fail(["input"], "The input field corresponding to the identifier is required.")
                if normalize_email(data["email"]) != normalize_email(ident["email"]):
                    return fail(["input"], "The identifier value does not match the value of the "
                                "corresponding field in the input.")
                target = store.customer_by_email(normalize_email(ident["email"]))
            elif ident.get("phone") is not None:
                if not data.get("phone"):
                    return fail(["input"], "The input field corresponding to the identifier is required.")
                if data["phone"] != ident["phone"]:
                    return fail(["input"], "The identifier value does not match the value of the "
                                "corresponding field in the input.")
                target = store.customer_by_phone(ident["phone"])
        elif data.get("id"):
            p = parse_gid(data["id"])
            target = store.customers.get(p[1]) if p and p[0] == "Customer" else None
            if target is None:
                return fail(["input"], "Resource matching the identifier was not found.", "NOT_FOUND")
        data.pop("id", None)
        errors, changes = _customer_errors(store, data, ["input"], target)
        if errors:
            return {"customer": None, "userErrors": [
                {"field": e["field"], "message": e["message"], "code": e.get("code")} for e in errors]}
        if target is None:
            c = store.add_customer(emit=False, **{k: v for k, v in changes.items() if k != "tags"},
                                   tags=changes.get("tags"))
            topic = "customers/create"
        else:
            c = store.update_customer(target.id, emit=False, **changes)
            topic = "customers/update"
        _apply_customer_metafields(store, c, data.get("metafields") or [])
    store.emit(topic, c)
    return {"customer": customer_view(store, c), "userErrors": []}


# -- tags ------------------------------------------------------------------------------------

def _taggable(store: Store, value: str) -> Any:
    p = parse_gid(value)
    if p is None:
        return None
    if p[0] == "Customer":
        return store.customers.get(p[1])
    if p[0] == "Order":
        return store.orders.get(p[1])
    return None


def tags_change(ctx: Context, args: dict[str, Any], add: bool) -> dict[str, Any]:
    store = ctx.store
    with store.lock:
        obj = _taggable(store, args["id"])
        if obj is None:
            return {"node": None, "userErrors": [{"field": ["id"], "message": "Resource not found"}]}
        incoming = normalize_tags(args["tags"])
        if add:
            current = {t.lower(): t for t in obj.tags}
            for t in incoming:
                current.setdefault(t.lower(), t)
            new = sorted(current.values(), key=str.lower)
            if len(new) > MAX_TAGS:
                return {"node": None, "userErrors": [{"field": ["tags"],
                                                      "message": "Tags cannot be more than 250"}]}
        else:
            drop = {t.lower() for t in incoming}
            new = [t for t in obj.tags if t.lower() not in drop]
        is_customer = isinstance(obj, Customer)
        if is_customer:
            store.update_customer(obj.id, tags=new)
            view = customer_view(store, obj)
        else:
            store.update_order(obj.id, tags=new)
            view = order_view(store, obj)
    return {"node": view, "userErrors": []}


# -- metafields ------------------------------------------------------------------------------

def _digest(m: Metafield) -> str:
    raw = f"{m.id}:{m.value}:{m.updated_at.timestamp()}:{m.type}".encode()
    return hashlib.sha1(raw).hexdigest()


def _owner(store: Store, owner_id: str) -> tuple[str, int] | None:
    p = parse_gid(owner_id)
    if p is None:
        return None
    kind, num = p
    table = {"Customer": store.customers, "Order": store.orders,
             "DiscountCodeNode": store.discounts}.get(kind)
    if kind == "Shop" and num == store.shop_id:
        return "shop", num
    if table is None or num not in table:
        return None
    return {"Customer": "customer", "Order": "order", "DiscountCodeNode": "discount"}[kind], num


def coerce_metafield_value(type_: str, value: str, currency: str) -> tuple[str | None, str | None]:
    """(stored value, error message) following ``…metafieldsSet-value-type-fidelity.json``."""
    v = value
    if type_ == "boolean":
        t = v.strip().lower()
        if t in ("t", "true", "1"):
            return "true", None
        if t in ("f", "false", "0"):
            return "false", None
        return None, "Value must be true or false."
    if type_ == "number_integer":
        if not re.fullmatch(r"-?\d+(\.0+)?", v.strip()):
            return None, "Value must be an integer."
        return str(int(Decimal(v.strip()))), None
    if type_ == "number_decimal":
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            return None, "Value must be a decimal."
        d = d.quantize(Decimal("1e-9"), rounding=ROUND_DOWN) if d.as_tuple().exponent < -9 else d  # type: ignore[operator]
        return format(d.normalize() if d == d.to_integral() else d, "f"), None
    if type_ == "money":
        try:
            obj = json.loads(v)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or "amount" not in obj or "currency_code" not in obj:
            return None, ("Value must be a stringified JSON object with amount (numeric) and "
                          "currency_code (string matching the shop's currency) fields.")
        if not obj["currency_code"]:
            return None, "Value must have a currency code."
        try:
            amt = Decimal(str(obj["amount"]))
        except InvalidOperation:
            return None, "Value must have a numeric amount."
        if isinstance(obj["amount"], bool) or abs(amt) > Decimal("1e18"):
            return None, ("Value must be within +/-1000000000000000000."
                          if not isinstance(obj["amount"], bool) else "Value must have a numeric amount.")
        if not re.fullmatch(r"[A-Z]{3}", str(obj["currency_code"])) or obj["currency_code"] == "ZZZ":
            return None, f"Value contains an invalid currency, {obj['currency_code']}."
        return json.dumps({"amount": str(obj["amount"]), "currency_code": obj["currency_code"]},
                          separators=(",", ":")), None
    if type_ == "url":
        m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", v)
        if not m:
            return None, ("Value cannot have an empty scheme (protocol), must include one of the "
                          'following URL schemes: ["http", "https", "mailto", "sms", "tel"].\'')
        if m.group(1).lower() not in ("http", "https", "mailto", "sms", "tel"):
            return None, "Value must be one of the following URL schemes: http, https, mailto, sms, tel."
        return v, None
    if type_ == "date_time":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)?", v.strip()):
            return None, ("Value must be in \u201cYYYY-MM-DDTHH:MM:SS\u201d format. For example: "
                          "2022-06-01T15:30:00")
        return v.strip(), None
    if type_ == "json":
        if not v.strip():
            return None, "Value can't be blank."
        try:
            json.loads(v)
        except ValueError:
            return None, "Value must be valid JSON."
        return v, None
    return v, None


def _upsert_metafield(store: Store, owner_type: str, owner_id: int, mf: dict[str, Any],
                      type_: str, value: str) -> Metafield:
    ns = resolve_namespace(store, mf.get("namespace") or f"app--{store.app_id}")
    bucket = store.owner_metafields(owner_type, owner_id)
    now = store.now()
    m = bucket.get((ns, mf["key"]))
    if m is None:
        m = Metafield(store.next_id(), owner_type, owner_id, ns, mf["key"], type_, value, now, now)
        bucket[(ns, mf["key"])] = m
    else:
        m.type, m.value, m.updated_at = type_, value, now
    m.digest = _digest(m)
    return m


def metafields_set(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    store = ctx.store
    items = args["metafields"]

    def fail(errors: list[dict[str, Any]], metafields: Any) -> dict[str, Any]:
        return {"metafields": metafields, "userErrors": [
            {"field": e["field"], "message": e["message"], "code": e["code"], "elementIndex": None}
            for e in errors]}

    if len(items) > MAX_METAFIELDS:
        return fail([_err(["metafields"], "Exceeded the maximum metafields input limit of 25.",
                          "LESS_THAN_OR_EQUAL_TO")], None)
    with store.lock:
        errors: list[dict[str, Any]] = []
        planned: list[tuple[tuple[str, int], dict[str, Any], str, str]] = []
        for i, mf in enumerate(items):
            base = ["metafields", str(i)]
            owner = _owner(store, mf["ownerId"])
            if owner is None:
                errors.append(_err(base + ["ownerId"], "Owner does not exist.", "INVALID_VALUE"))
                continue
            ns = resolve_namespace(store, mf.get("namespace") or f"app--{store.app_id}")
            existing = store.owner_metafields(*owner).get((ns, mf["key"]))
            definition = next((d for d in store.metafield_definitions.values()
                               if d.namespace == ns and d.key == mf["key"]
                               and d.owner_type.lower() == owner[0]), None)
            type_ = mf.get("type") or (definition.type if definition else None) or (
                existing.type if existing else None)
            if not type_:
                errors.append(_err(base + ["type"], "Type can't be blank", "BLANK"))
                continue
            if type_ not in METAFIELD_TYPES:
                errors.append(_err(base + ["type"], "Type must be one of the following: "
                                   + ", ".join(METAFIELD_TYPES) + ".", "INVALID_TYPE"))
                continue
            if "compareDigest" in mf and mf["compareDigest"] is not None:
                current = existing.digest if existing else None
                if mf["compareDigest"] != current:
                    errors.append(_err(base, "Invalid `compareDigest` value.", "INVALID_COMPARE_DIGEST"))
                    continue
            value, problem = coerce_metafield_value(type_, str(mf.get("value", "")), store.currency)
            if problem is not None or value is None:
                errors.append(_err(base + ["value"], problem or "Value is invalid.", "INVALID_VALUE"))
                continue
            planned.append((owner, mf, type_, value))
        if errors:
            return fail(errors, [])
        written = []
        for (otype, oid), mf, type_, value in planned:
            written.append(_upsert_metafield(store, otype, oid, mf, type_, value))
            if otype == "customer":
                store.update_customer(oid)
    return {"metafields": [metafield_view(m) for m in written], "userErrors": []}


def metafield_definition_create(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    store = ctx.store
    d = args["definition"]
    ns = resolve_namespace(store, d.get("namespace") or f"app--{store.app_id}")
    with store.lock:
        for existing in store.metafield_definitions.values():
            if (existing.namespace, existing.key, existing.owner_type) == (ns, d["key"], d["ownerType"]):
                return {"createdDefinition": None, "userErrors": [{
                    "field": ["definition", "key"], "code": "TAKEN",
                    "message": "Key is in use for " + d["ownerType"].lower()
                    + " metafields on the 'namespace' namespace.".replace("namespace'", ns + "'", 1)}]}
        if d["type"] not in METAFIELD_TYPES:
            return {"createdDefinition": None, "userErrors": [{
                "field": ["definition", "type"], "code": "INCLUSION",
                "message": "Type must be one of the following: " + ", ".join(METAFIELD_TYPES) + "."}]}
        md = MetafieldDefinition(store.next_id(), ns, d["key"], d["name"], d["ownerType"], d["type"],
                                 d.get("description"), dict(d.get("access") or {}))
        store.metafield_definitions[md.id] = md
    return {"createdDefinition": definition_view(md), "userErrors": []}


# -- fulfillments ----------------------------------------------------------------------------

def fulfillment_create(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    store = ctx.store
    data = args["fulfillment"]
    groups = data.get("lineItemsByFulfillmentOrder") or []

    def fail(field: list[str], msg: str) -> dict[str, Any]:
        return {"fulfillment": None, "userErrors": [{"field": field, "message": msg}]}

    if len(groups) != 1:
        return fail(["fulfillment", "lineItemsByFulfillmentOrder"],
                    "Fulfillment orders must belong to the same order.")
    fo = parse_gid(groups[0]["fulfillmentOrderId"])
    with store.lock:
        o = store.orders.get(fo[1]) if fo and fo[0] == "FulfillmentOrder" else None
        if o is None:
            return fail(["fulfillment"], "Fulfillment order does not exist.")
        remaining = {li.id: li.quantity - o.refunded_quantity(li.id) - o.fulfilled_quantity(li.id)
                     for li in o.line_items}
        wanted = groups[0].get("fulfillmentOrderLineItems")
        if wanted is None:
            lines = [(lid, q) for lid, q in remaining.items() if q > 0]
        else:
            lines = []
            for item in wanted:
                p = parse_gid(item["id"])
                lid = p[1] if p else -1
                if lid not in remaining:
                    return fail(["fulfillment"], "Invalid fulfillment order line item id.")
                if item["quantity"] > remaining[lid] or item["quantity"] <= 0:
                    return fail(["fulfillment"], "Invalid fulfillment order line item quantity requested.")
                lines.append((lid, item["quantity"]))
        if not lines:
            return fail(["fulfillment"], "Fulfillment order is not in an fulfillable state.")
        tracking = data.get("trackingInfo") or {}
        number = tracking.get("number") or ((tracking.get("numbers") or [None])[0])
        url = tracking.get("url") or ((tracking.get("urls") or [None])[0])
        f = store.add_fulfillment(o.id, lines, tracking_company=tracking.get("company"),
                                  tracking_number=number, tracking_url=url)
    return {"fulfillment": fulfillment_view(store, o, f), "userErrors": []}


# -- discounts -------------------------------------------------------------------------------

def _discount_errors(store: Store, d: dict[str, Any], arg: str, kind: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []

    def add(field: str, msg: str, code: str) -> None:
        errors.append({"field": [arg, field], "message": msg, "code": code, "extraInfo": None})

    code = d.get("code")
    if code is None:
        add("code", "Code can't be blank", "BLANK")
    elif code == "":
        add("code", "Code is too short (minimum is 1 character)", "TOO_SHORT")
    elif "\n" in code or "\r" in code:
        add("code", "Code cannot contain newline characters.", "INVALID")
    elif len(code) > 255:
        add("code", "Code is too long (maximum is 255 characters)", "TOO_LONG")
    elif store.discount_by_code(code) is not None:
        add("code", "Code must be unique. Please try a different code.", "TAKEN")
    if not d.get("title"):
        add("title", "Title can't be blank", "BLANK")
    if d.get("startsAt") is None:
        add("startsAt", "Starts at can't be blank", "BLANK")
    starts, ends = parse_dt(d.get("startsAt")), parse_dt(d.get("endsAt"))
    if starts is not None and ends is not None and ends <= starts:
        add("endsAt", "Ends at needs to be after starts_at", "INVALID")
    if d.get("context") is not None and d.get("customerSelection") is not None:
        add("context", "Only one of context or customerSelection can be provided.", "INVALID")
    if kind == "basic":
        value = ((d.get("customerGets") or {}).get("value")) or {}
        if "percentage" in value and value["percentage"] is not None:
            p = value["percentage"]
            if p < 0 or p > 1:
                errors.append({"field": [arg, "customerGets", "value", "percentage"],
                               "message": "Value must be between 0.0 and 1.0",
                               "code": "VALUE_OUTSIDE_RANGE", "extraInfo": None})
        amount = (value.get("discountAmount") or {}).get("amount")
        if amount is not None and Decimal(str(amount)) < 0:
            errors.append({"field": [arg, "customerGets", "value", "discountAmount", "amount"],
                           "message": "Value must be less than or equal to 0",
                           "code": "LESS_THAN_OR_EQUAL_TO", "extraInfo": None})
    if kind == "free_shipping" and (d.get("combinesWith") or {}).get("shippingDiscounts"):
        add("combinesWith", "The combinesWith settings are not valid for the discount class.",
            "INVALID_COMBINES_WITH_FOR_DISCOUNT_CLASS")
    for i, cid in enumerate(((d.get("context") or {}).get("customers") or {}).get("add") or []):
        p = parse_gid(cid)
        if p is None or p[0] != "Customer" or p[1] not in store.customers:
            errors.append({"field": [arg, "context", "customers", "add", str(i)],
                           "message": "Customer does not exist", "code": "INVALID",
                           "extraInfo": None})
    return errors


def _customer_ids(d: dict[str, Any]) -> list[int] | None:
    ctx = d.get("context")
    if ctx is None and d.get("customerSelection") is not None:
        sel = d["customerSelection"]
        if sel.get("all"):
            return None
        ids = ((sel.get("customers") or {}).get("add")) or []
    elif ctx is None or ctx.get("all"):
        return None
    else:
        ids = ((ctx.get("customers") or {}).get("add")) or []
    out = []
    for g in ids:
        p = parse_gid(g)
        if p:
            out.append(p[1])
    return out


def discount_create(ctx: Context, args: dict[str, Any], kind: str) -> dict[str, Any]:
    store = ctx.store
    arg = "basicCodeDiscount" if kind == "basic" else "freeShippingCodeDiscount"
    d = args[arg]
    with store.lock:
        errors = _discount_errors(store, d, arg, kind)
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors}
        now = store.now()
        mr = d.get("minimumRequirement") or {}
        value = ((d.get("customerGets") or {}).get("value")) or {}
        amount = (value.get("discountAmount") or {}).get("amount")
        dest = d.get("destination") or {"all": True}
        disc = Discount(
            id=store.next_id(), code_id=store.next_id(), kind=kind, title=d["title"],
            code=d["code"], starts_at=_whole(parse_dt(d["startsAt"])) or now,
            ends_at=_whole(parse_dt(d.get("endsAt"))), created_at=now, updated_at=now,
            usage_limit=d.get("usageLimit"),
            applies_once_per_customer=bool(d.get("appliesOncePerCustomer")),
            percentage=value.get("percentage"),
            amount=Decimal(str(amount)) if amount is not None else None,
            applies_on_each_item=bool((value.get("discountAmount") or {}).get("appliesOnEachItem")),
            customer_ids=_customer_ids(d), combines_with=dict(d.get("combinesWith") or {}),
            minimum_subtotal=Decimal(str(mr["subtotal"]["greaterThanOrEqualToSubtotal"]))
            if mr.get("subtotal") else None,
            minimum_quantity=int(mr["quantity"]["greaterThanOrEqualToQuantity"])
            if mr.get("quantity") else None,
            destination_all=bool(dest.get("all")),
            countries=list(((dest.get("countries") or {}).get("add")) or []),
            recurring_cycle_limit=d.get("recurringCycleLimit") or 1,
        )
        store.discounts[disc.id] = disc
        store.touched("discounts")
    return {"codeDiscountNode": discount_node_view(store, disc), "userErrors": []}


def _whole(d: datetime | None) -> datetime | None:
    return d.replace(microsecond=0) if d is not None else None


# -- webhooks --------------------------------------------------------------------------------

def webhook_subscription_create(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    store = ctx.store
    sub = args["webhookSubscription"]
    uri = sub.get("uri") or sub.get("callbackUrl")
    if not uri:
        return {"webhookSubscription": None, "userErrors": [
            {"field": ["webhookSubscription", "callbackUrl"], "message": "Address can't be blank"}]}
    if not re.match(r"^(https?://|pubsub://|arn:aws:events:)", uri):
        return {"webhookSubscription": None, "userErrors": [
            {"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}]}
    with store.lock:
        for w in store.webhooks.values():
            if w.topic == args["topic"] and w.uri == uri:
                return {"webhookSubscription": None, "userErrors": [
                    {"field": ["webhookSubscription", "callbackUrl"],
                     "message": "Address for this topic has already been taken"}]}
        now = store.now()
        w = WebhookSubscription(store.next_id(), args["topic"], uri, sub.get("format") or "JSON",
                                now, now, sub.get("filter"), list(sub.get("includeFields") or []))
        store.webhooks[w.id] = w
    return {"webhookSubscription": webhook_view(w, ctx.api_version), "userErrors": []}


def require_gid(value: str, kind: str) -> int:
    p = parse_gid(value)
    if p is None or p[0] != kind:
        raise GraphQLError(f"Invalid id: {value}", extensions={"code": "RESOURCE_NOT_FOUND"})
    return p[1]


def mutation_root(ctx: Context, bulk: Any) -> dict[str, Any]:
    def wrap(fn: Any, *extra: Any) -> Any:
        return lambda _info, args: fn(ctx, args, *extra)

    return {
        "customerCreate": wrap(customer_create),
        "customerUpdate": wrap(customer_update),
        "customerSet": wrap(customer_set),
        "tagsAdd": wrap(tags_change, True),
        "tagsRemove": wrap(tags_change, False),
        "metafieldsSet": wrap(metafields_set),
        "metafieldDefinitionCreate": wrap(metafield_definition_create),
        "fulfillmentCreate": wrap(fulfillment_create),
        "discountCodeBasicCreate": wrap(discount_create, "basic"),
        "discountCodeFreeShippingCreate": wrap(discount_create, "free_shipping"),
        "webhookSubscriptionCreate": wrap(webhook_subscription_create),
        "bulkOperationRunQuery": lambda _i, a: bulk.run_query(ctx, a),
        "bulkOperationCancel": lambda _i, a: bulk.cancel(ctx, a),
    }


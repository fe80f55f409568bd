"""Which side wins when a customer field differs between the ERP and a store.

The golden record keeps, per field, the value, the side it came from and when. Each field
belongs to a class with its own policy (configurable): the ERP owns legal and billing data,
the store owns marketing consent (the customer gave it there), and otherwise the newest change
wins. Equal values never count as a change, which is what stops ping-pong between two sides.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from connector.domain import Address, Customer

Side = Literal["erp", "store"]
Policy = Literal["erp", "store", "newest"]

FIELDS = ("email", "first_name", "last_name", "phone", "billing", "shipping", "accepts_marketing")
FIELD_CLASS = {"billing": "billing", "accepts_marketing": "marketing"}


def _value(customer: Customer, name: str) -> Any:
    if name == "email":
        return customer.email_key  # case and spaces are not a change of address
    value = getattr(customer, name)
    if isinstance(value, Address):
        return None if value.is_empty() else asdict(value)
    if value == "":
        return None
    return value


def merge(
    golden: dict[str, Any],
    incoming: Customer,
    *,
    side: Side,
    source: str,
    at: datetime,
    policies: dict[str, Policy],
) -> tuple[dict[str, Any], list[str]]:
    """Fold one side's view into the golden fields; returns the new fields and what changed."""
    fields: dict[str, Any] = dict(golden)
    changed: list[str] = []
    for name in FIELDS:
        new = _value(incoming, name)
        current = fields.get(name)
        if new is None:
            continue  # a side that does not know a value never erases it
        if current is not None and current["value"] == new:
            continue
        if current is not None and not _wins(current, side, at, policies[FIELD_CLASS.get(name, "default")]):
            continue
        fields[name] = {"value": new, "side": side, "source": source, "at": at.isoformat()}
        changed.append(name)
    return fields, changed


def _wins(current: dict[str, Any], side: Side, at: datetime, policy: Policy) -> bool:
    if policy == "newest" or current["side"] == side:
        return bool(at.isoformat() >= current["at"])
    return policy == side


def to_customer(fields: dict[str, Any], *, id: str, is_guest: bool = False) -> Customer:
    """The golden view as a domain customer, for writing to the other side."""

    def val(name: str) -> Any:
        entry = fields.get(name)
        return None if entry is None else entry["value"]

    def addr(name: str) -> Address:
        raw = val(name)
        return Address(**raw) if raw else Address()

    return Customer(
        id=id,
        email=val("email"),
        first_name=val("first_name") or "",
        last_name=val("last_name") or "",
        phone=val("phone") or "",
        billing=addr("billing"),
        shipping=addr("shipping"),
        is_guest=is_guest,
        accepts_marketing=val("accepts_marketing"),
    )

"""Scalar parsing for hand-made files: strict, with errors a person at the ERP can act on.

Files are written by exports someone configured years ago, or by hand in a spreadsheet, so
every refusal names the column and says what the value should look like. Nothing here guesses:
a time without a zone, a float-looking amount that is not a number, or "2,5" as a quantity are
refused rather than interpreted, because a wrong guess would silently misplace points or money.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from connector.domain import Money, check_currency, to_decimal
from connector.errors import InvalidValue, MissingField

PLATFORM: Final = "files"

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE: Final = frozenset({"1", "true", "yes", "y"})
_FALSE: Final = frozenset({"0", "false", "no", "n"})
_ZONE_EXAMPLE: Final = "2026-11-24T10:15:00+01:00 or 2026-11-24T09:15:00Z"


def required(value: str | None, column: str, *, reference: str | None = None, hint: str | None = None) -> str:
    """A non-blank value, trimmed; blank is a named missing field."""
    text = (value or "").strip()
    if not text:
        raise MissingField(
            f"`{column}` is empty",
            reference=reference or "field-missing",
            hint=hint or f"fill in `{column}` on this row",
        )
    return text


def email(value: str | None, column: str = "email") -> str:
    """A plausible address (one @, a dot in the domain): identity depends on it."""
    text = required(
        value,
        column,
        reference="customer-email-missing",
        hint="every customer needs an e-mail: it is how Vínculo recognises them in the stores",
    )
    if not _EMAIL.match(text):
        raise InvalidValue(
            f"`{column}` {text!r} is not an e-mail address",
            reference="email-invalid",
            hint="write one address such as ana@example.com",
        )
    return text


def aware_utc(value: str | None, column: str) -> datetime:
    """ISO 8601 with an explicit zone, normalised to UTC; a bare local time is refused."""
    text = required(value, column)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(
            f"`{column}` {text!r} is not an ISO 8601 date-time",
            reference="date-invalid",
            hint=f"write it as {_ZONE_EXAMPLE}",
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidValue(
            f"`{column}` {text!r} has no time zone",
            reference="date-without-zone",
            hint=f"add the offset the ERP's clock uses, e.g. {_ZONE_EXAMPLE}",
        )
    return parsed.astimezone(UTC)


def optional_aware_utc(value: str | None, column: str) -> datetime | None:
    return aware_utc(value, column) if (value or "").strip() else None


def flag(value: str | None, column: str) -> bool | None:
    """yes/no style flags; blank means "not said", which differs from no."""
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue(
        f"`{column}` {value!r} is not a yes/no value",
        reference="flag-invalid",
        hint="use true/false, yes/no or 1/0, or leave it empty",
    )


def country(value: str | None, column: str = "country") -> str:
    text = (value or "").strip().upper()
    if text and not re.fullmatch(r"[A-Z]{2}", text):
        raise InvalidValue(
            f"`{column}` {value!r} is not a two-letter country code",
            reference="country-invalid",
            hint="use ISO 3166-1 alpha-2 codes such as ES, PT, DE",
        )
    return text


def currency(value: object, column: str = "currency") -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MissingField(
            f"`{column}` is missing",
            reference="currency-missing",
            hint="give every record its ISO 4217 currency, e.g. EUR",
        )
    return check_currency(value.strip() if isinstance(value, str) else value)


def money(value: object, currency_code: str, column: str, *, default: Decimal | None = None) -> Money:
    """An exact, non-negative amount; JSON numbers arrive as Decimal, never float."""
    if value is None or value == "":
        if default is None:
            raise MissingField(f"`{column}` is missing", reference="amount-missing")
        return Money(default, currency_code)
    amount = to_decimal(value, what=f"`{column}`")
    if amount < 0:
        raise InvalidValue(
            f"`{column}` is negative ({amount})",
            reference="amount-negative",
            hint="amounts are positive; returns belong in a refund, not a negative sale",
        )
    return Money(amount, currency_code)


def quantity(value: object, column: str = "quantity") -> int:
    """A whole number; negative quantities are left to the domain's named error."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if value is None:
        raise MissingField(f"`{column}` is missing", reference="quantity-missing")
    raise InvalidValue(
        f"`{column}` {value!r} is not a whole number",
        reference="quantity-invalid",
        hint="quantities are whole units such as 1 or 3",
    )
